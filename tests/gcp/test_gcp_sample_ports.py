"""``portafunc package --target gcp`` of the ported samples (examples/shortener, examples/manifests), checked as the
shop is: the zip holds the vendored core and adapter as bytecode, the app under ``app/`` and a lock of what Cloud
Build installs; ``deploy.sh`` runs on a fresh project and again without creating anything, and every gcloud command
it runs parses in the real CLI (tests/gcp/gcloud_replay.py); the zip alone, installed into a fresh venv from its own
requirements.txt, is served by ``functions-framework`` and answers a request or event per trigger."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zipfile
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from .conftest import REPO
from .gcloud_replay import GCLOUD, FakeGoogle, Recorder

PY = f"{sys.version_info.major}.{sys.version_info.minor}"
EXAMPLES = REPO / "examples"


@pytest.fixture(scope="module", params=["manifests", "shortener"])
def built(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp(f"gcp-{request.param}")
    proc = subprocess.run([sys.executable, "-m", "portafunc.cli", "package", "--target", "gcp",
                           str(EXAMPLES / request.param), "--out", str(out), "--python", PY], capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    dist = out / "gcp"
    return {"name": request.param, "dir": dist, "zip": dist / f"{request.param}-gcp.zip", "stdout": proc.stdout}


def test_the_zip_holds_the_app_the_vendored_core_and_a_lock(built):
    zf = zipfile.ZipFile(built["zip"])
    names = zf.namelist()
    assert {"main.py", "requirements.txt", "app/main.py", "portafunc/__init__.pyc", "portafunc_gcp/runtime.pyc",
            "portafunc/data/binding.pyc", "portafunc/messaging/binding.pyc"} <= set(names)
    assert not any(n.startswith(("portafunc/", "portafunc_gcp/")) and n.endswith(".py") for n in names)
    pins = [line for line in zf.read("requirements.txt").decode().splitlines() if line and not line.startswith("#")]
    assert pins and all(re.fullmatch(r"[a-z0-9][a-z0-9.-]*==[^\s,<>=!~;]+", pin) for pin in pins), pins
    installed = {pin.split("==")[0] for pin in pins}
    assert not any(name.startswith("portafunc") for name in installed), "portafunc is vendored, never fetched"
    if built["name"] == "shortener":
        assert {"functions-framework", "pydantic", "google-cloud-firestore"} <= installed
        assert "google-cloud-storage" not in installed
    else:
        assert {"functions-framework", "google-cloud-storage"} <= installed
        assert "pydantic" not in installed and "google-cloud-firestore" not in installed


@pytest.fixture(scope="module")
def deployed(built, tmp_path_factory) -> dict[str, Any]:
    script = built["dir"] / "deploy.sh"
    assert subprocess.run(["bash", "-n", str(script)], capture_output=True).returncode == 0
    recorder = Recorder(tmp_path_factory.mktemp(f"rec-{built['name']}"))
    first, second = recorder.run(script), recorder.run(script)
    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr
    return {"first": first, "second": second, "project": recorder.project}


def test_deploy_sh_sets_up_a_fresh_project_once(built, deployed):
    calls, project = deployed["first"].calls, deployed["project"]
    again = [c for c in deployed["second"].calls if "create" in c[:4]]
    assert again == [], f"the second run created again: {again}"
    deploys = {c[2]: c for c in calls if c[:2] == ["functions", "deploy"]}
    envs: dict[str, Any] = {}
    for name, call in deploys.items():
        import yaml

        path = next(a for a in call if a.startswith("--env-vars-file=")).split("=", 1)[1]
        envs[name] = yaml.safe_load(Path(path).read_text())
    if built["name"] == "shortener":
        assert sorted(deploys) == ["shortener-http"]
        assert "--allow-unauthenticated" in deploys["shortener-http"]
        assert envs["shortener-http"]["PORTAFUNC_KV_LINKS"] == f"firestore://{project}/portafunc-kv-links"
        assert any(c[:3] == ["firestore", "databases", "create"] for c in calls)
    else:
        assert sorted(deploys) == ["manifests-cleanup", "manifests-write-manifest"]
        upload = deploys["manifests-write-manifest"]
        assert "--trigger-event-filters=type=google.cloud.storage.object.v1.finalized" in upload
        assert f"--trigger-event-filters=bucket={project}-uploads" in upload
        assert envs["manifests-cleanup"]["PORTAFUNC_BUCKET_MANIFESTS"] == f"gs://{project}-manifests"
        assert "PORTAFUNC_BUCKET_UPLOADS" not in envs["manifests-cleanup"]
        jobs = [c for c in calls if c[:4] == ["scheduler", "jobs", "create", "http"]]
        assert len(jobs) == 1 and "--schedule=0 3 * * *" in jobs[0] and "--time-zone=UTC" in jobs[0]
        made = {c[3] for c in calls if c[:3] == ["storage", "buckets", "create"]}
        assert made == {f"gs://{project}-uploads", f"gs://{project}-manifests"}


@pytest.mark.skipif(GCLOUD is None, reason="the Google Cloud SDK (gcloud) is not installed")
def test_every_gcloud_command_parses_in_the_real_cli(deployed, tmp_path):
    unique: list[list[str]] = []
    for call in deployed["first"].calls:
        if call not in unique:
            unique.append(call)
    with FakeGoogle() as google:
        replays = google.replay_all(unique, tmp_path / "gcloud", workers=2)
    assert [(" ".join(r.argv), r.stderr.strip().splitlines()[-3:]) for r in replays if not r.parsed] == []
    assert [" ".join(r.argv) for r in replays if not r.requests] == [], "each command reached the API"


# -- boot proof --------------------------------------------------------------------------------------------------

def _send(url: str, body: bytes, headers: dict[str, str], method: str = "POST") -> tuple[int, dict[str, str], bytes]:
    req = urllib.request.Request(url, data=body if method not in ("GET", "HEAD") else None, headers=headers,
                                 method=method)

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any) -> None:
            return None  # the redirect is the answer under test

    try:
        with urllib.request.build_opener(NoRedirect).open(req, timeout=30) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def _binary_ce(ce: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    headers = {f"ce-{k}": str(v) for k, v in ce.items() if k not in ("data", "datacontenttype")}
    headers["Content-Type"] = "application/json"
    return json.dumps(ce["data"]).encode(), headers


def test_the_zip_alone_serves_every_function_in_a_fresh_venv(built, tmp_path, serve, monkeypatch):
    from portafunc.events import ScheduleEvent, StorageEvent
    from portafunc.targets import get_target

    target = get_target("gcp")
    site = tmp_path / "site"
    zipfile.ZipFile(built["zip"]).extractall(site)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    pip = subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "--disable-pip-version-check", "-r",
                          str(site / "requirements.txt")], capture_output=True, text=True, timeout=600)
    assert pip.returncode == 0, pip.stderr[-2000:]
    data = tmp_path / "data"
    env = {"PORTAFUNC_KV_LINKS": "memory://", "PORTAFUNC_BUCKET_UPLOADS": f"file://{data}/uploads",
           "PORTAFUNC_BUCKET_MANIFESTS": f"file://{data}/manifests", "PYTHONPATH": "", "PYTHONNOUSERSITE": "1"}
    if built["name"] == "shortener":
        api = serve(site, "_portafunc_http", "http", env, python_bin=venv / "bin").url
        status, _, body = _send(api + "links", b'{"url": "https://example.com/a", "code": "ex-a"}',
                                {"Content-Type": "application/json"})
        assert status == 201 and json.loads(body)["short_url"].endswith("/ex-a"), body
        status, headers, _ = _send(api + "ex-a", b"", {}, method="GET")
        assert status == 301 and headers["Location"] == "https://example.com/a"
        status, headers, body = _send(api + "ex-b", b"", {}, method="GET")
        assert status == 404 and headers["Content-Type"] == "application/problem+json"
        status, _, body = _send(api + "docs/openapi.json", b"", {}, method="GET")
        assert status == 200 and sorted(json.loads(body)["paths"]) == ["/links", "/{code}"]
        return
    import portafunc

    upload = serve(site, "write_manifest", "cloudevent", env, python_bin=venv / "bin")
    cleanup = serve(site, "cleanup", "http", env, python_bin=venv / "bin")
    monkeypatch.setenv("PORTAFUNC_BUCKET_UPLOADS", env["PORTAFUNC_BUCKET_UPLOADS"])  # the same directory as theirs
    portafunc.bucket("uploads").put("in/a.csv", b"a,b\n", content_type="text/csv")
    event = target.encode(StorageEvent("uploads", "in/a.csv", size=4, etag="e1"))
    assert _send(upload.url, *_binary_ce(event))[0] == 200
    manifest = json.loads((data / "manifests" / "in" / "a.csv.json").read_text())
    assert manifest["size"] == 4 and manifest["content_type"] == "text/csv"
    later = target.encode(ScheduleEvent(datetime.now(timezone.utc) + timedelta(days=8), id="s-1"))
    assert _send(cleanup.url, b"", dict(later["headers"]))[0] == 200
    time.sleep(0.3)
    assert not (data / "manifests" / "in" / "a.csv.json").exists()
    assert "cleanup: 1 manifest(s) older than" in cleanup.log.read_text(errors="replace")
