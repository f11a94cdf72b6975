"""``portafunc package --target azure`` and the boot proof: the artifact alone, unzipped in a fresh directory and run
by a fresh venv (no site-packages of ours), indexes with ``app.get_functions()`` and runs every function."""

from __future__ import annotations

import json
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest
from azure_fixtures import REPO

PY = f"{sys.version_info.major}.{sys.version_info.minor}"
HERE = Path(__file__).resolve().parent


def _package(out: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "portafunc.cli", "package", "--target", "azure", "examples/shop",
                           "--python", PY, "--out", str(out)], cwd=REPO, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("dist")
    proc = _package(out)
    assert proc.returncode == 0, proc.stderr
    return out / "azure", proc.stdout


def test_summary_and_manifests(built):
    dist, stdout = built
    assert "packaged 10 function(s) for azure" in stdout and "sha256" in stdout
    host = json.loads((dist / "host.json").read_text())
    assert host["extensionBundle"]["id"] == "Microsoft.Azure.Functions.ExtensionBundle"
    assert host["extensions"]["queues"]["maxDequeueCount"] == 5  # fulfil: max_attempts=5
    assert host["extensions"]["http"]["routePrefix"] == ""
    reqs = (dist / "requirements.txt").read_text()
    assert "azure-functions==" in reqs and "pydantic==" in reqs and "portafunc" not in reqs.split("\n", 1)[1]
    assert "boto3" not in reqs and "google" not in reqs
    settings = json.loads((dist / "local.settings.json.example").read_text())["Values"]
    assert settings["FUNCTIONS_WORKER_RUNTIME"] == "python"
    assert settings["PORTAFUNC_QUEUE_ORDERS"] == "azqueue://devstoreaccount1/orders?create=1"
    assert settings["PORTAFUNC_TOPIC_ORDER_EVENTS"].startswith("eventgrid://")
    (artifact,) = dist.glob("*.zip")
    names = set(zipfile.ZipFile(artifact).namelist())
    assert {"function_app.py", "host.json", "requirements.txt", "local.settings.json.example", "main.py"} <= names
    site = ".python_packages/lib/site-packages/"
    for pkg in ("portafunc/__init__.pyc", "portafunc_azure/runtime.pyc", "azure/functions/__init__.py",
                "azure/storage/queue/__init__.py", "azure/eventgrid/__init__.py", "pydantic_core/__init__.py",
                "azure/storage/blob/__init__.py", "azure/data/tables/__init__.py"):  # the shop's bucket and table
        assert site + pkg in names, pkg
    assert any(n.startswith(site + "portafunc_azure-") and n.endswith("entry_points.txt") for n in names)
    assert any(n.endswith(f".cpython-{PY.replace('.', '')}.pyc") for n in names)
    assert not any("/boto3/" in n or "/google/" in n or "functions_framework" in n for n in names)


def test_a_users_requirement_is_never_dropped_for_belonging_to_another_cloud():
    from portafunc_azure.package import dependencies

    said: list[str] = []
    deps = dependencies(["boto3==1.35.0", "google-cloud-vision", "portafunc-aws", "requests>=2"], said.append)
    names = [d.split("=")[0].split(">")[0].split("<")[0].strip() for d in deps]
    assert {"boto3", "google-cloud-vision", "requests"} <= set(names)  # the user's choice, shipped
    assert "boto3==1.35.0" in deps
    assert not any(n.startswith("portafunc") for n in names)  # vendored from this installation instead
    assert any("portafunc-aws" in line for line in said)
    # every SDK a backend of the adapter imports comes from the adapter's own metadata
    assert {"azure-functions", "azure-storage-queue", "azure-eventgrid", "azure-storage-blob",
            "azure-data-tables"} <= set(names)


def test_boot_from_the_artifact_in_a_fresh_venv(built, tmp_path):
    dist, _ = built
    (artifact,) = dist.glob("*.zip")
    app_dir = tmp_path / "wwwroot"
    zipfile.ZipFile(artifact).extractall(app_dir)
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=False, clear=True).create(env_dir)
    python = env_dir / "bin" / "python"
    proc = subprocess.run([str(python), "-I", str(HERE / "boot_check.py")], cwd=app_dir, capture_output=True,
                          text=True, timeout=120, env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout.split("@@BOOT@@", 1)[1])
    for mod, path in report["modules"].items():
        assert path and path.startswith(str(app_dir)), (mod, path)
    assert report["foreign_paths"] == [], "imported code from outside the artifact and the stdlib"
    b = report["bindings"]
    assert sorted(b) == ["audit", "cancel_order", "create_order", "fulfil", "get_order", "list_orders", "nightly",
                         "on_upload", "portafunc_docs", "portafunc_docs_files", "zz_portafunc_unmatched"]
    # the shop has a CORS policy: a route's first function also takes its OPTIONS preflights (docs/http.md)
    assert b["create_order"][0] == {"direction": "IN", "type": "httpTrigger", "name": "req",
                                    "methods": ["POST", "OPTIONS"], "authLevel": "ANONYMOUS", "route": "orders/{shop}"}
    assert b["create_order"][1] == {"direction": "OUT", "type": "http", "name": "$return"}
    assert b["get_order"][0]["methods"] == ["GET", "HEAD", "OPTIONS"]
    assert b["get_order"][0]["route"] == "orders/{shop}/{order_id}"
    assert b["cancel_order"][0]["methods"] == ["DELETE"] and b["cancel_order"][0]["authLevel"] == "ANONYMOUS"
    assert b["fulfil"] == [{"direction": "IN", "type": "queueTrigger", "name": "msg", "queueName": "orders",
                            "connection": "AzureWebJobsStorage"}]
    assert b["audit"] == b["on_upload"] == [{"direction": "IN", "type": "eventGridTrigger", "name": "event"}]
    assert b["nightly"][0]["type"] == "timerTrigger" and b["nightly"][0]["schedule"] == "0 */5 * * * *"
    calls = report["calls"]
    created = calls["create_order"]["http"]
    assert created["status_code"] == 201 and json.loads(created["body"]) == {"shop": "acme", "id": "o-1"}
    assert calls["create_order_invalid"]["http"]["status_code"] == 400
    assert json.loads(calls["get_order"]["http"]["body"]) == {"shop": "acme", "id": "o-1"}
    assert calls["fulfil"] == {"returned": None}
    assert "could not be poisoned" in calls["fulfil_retry"]["raised"]  # no storage here: the host would poison it
    assert calls["audit"] == calls["audit_cloudevent"] == {"returned": None}
    assert calls["nightly"] == calls["on_upload"] == {"returned": None}
    # the docs route from the artifact: the document built there, Swagger UI's files packaged with portafunc
    assert calls["docs_openapi"]["http"]["status_code"] == 200
    assert sorted(json.loads(calls["docs_openapi"]["http"]["body"])["paths"]) == ["/orders/{shop}",
                                                                                 "/orders/{shop}/{order_id}"]
    assert calls["docs_script"]["http"]["status_code"] == 200
    unmatched = calls["unmatched"]["http"]
    assert unmatched["status_code"] == 404 and json.loads(unmatched["body"])["title"] == "Not Found"
    assert report["queue_depth"] == 1  # create_order sent the order to the (memory-bound) orders queue
    assert "audit: {'id': 'o-1'} {'kind': 'created'}" in proc.stdout
    assert "uploaded uploads/photos/cat 1.png (42 bytes)" in proc.stdout


def test_two_builds_give_identical_bytes(built, tmp_path):
    dist, _ = built
    proc = _package(tmp_path)
    assert proc.returncode == 0, proc.stderr
    (first,) = dist.glob("*.zip")
    (second,) = (tmp_path / "azure").glob("*.zip")
    assert first.read_bytes() == second.read_bytes()


def test_unsupported_trigger_stops_the_build(tmp_path):
    project = tmp_path / "proj"
    project.mkdir()
    (project / "main.py").write_text("from portafunc import App\napp = App('fifo')\n\n"
                                     "@app.queue('jobs', ordered=True)\ndef run(msg):\n    pass\n")
    proc = subprocess.run([sys.executable, "-m", "portafunc.cli", "package", "--target", "azure", str(project),
                           "--out", str(tmp_path / "dist")], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "'run'" in proc.stderr and "azure" in proc.stderr and "instead" in proc.stderr
