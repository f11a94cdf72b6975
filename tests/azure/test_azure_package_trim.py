"""An HTTP-only app's Azure artifact: portafunc's modules as bytecode without sources, no build-time modules
(command line, runner, packagers) and no queue/timer/storage-only modules, and it still boots — unzipped in a fresh venv (no site-packages of ours), the
worker's sys.path, ``function_app`` indexed with the real ``azure.functions`` from the artifact, the function
called with an ``azure.functions.HttpRequest``."""

from __future__ import annotations

import json
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

from azure_fixtures import REPO

PY = f"{sys.version_info.major}.{sys.version_info.minor}"
HELLO = ("from portafunc import App, HttpRequest\n\napp = App('hello')\n\n\n"
         "@app.http('GET', '/hello/{name}')\ndef hello(req: HttpRequest) -> dict:\n"
         "    return {'message': 'hello ' + req.path_params['name']}\n")
BOOT = r"""
import json, os, sys
root = os.getcwd()
sys.path[:0] = [root, os.path.join(root, ".python_packages", "lib", "site-packages")]
import azure.functions as func
import function_app
functions = {f.get_function_name(): f for f in function_app.app.get_functions()}
req = func.HttpRequest("GET", "http://localhost/hello/ada", headers={}, route_params={"name": "ada"}, body=b"")
resp = functions["hello"].get_user_function()(req)
print(json.dumps({"functions": sorted(functions), "status": resp.status_code, "body": resp.get_body().decode(),
                  "loaded": sorted(m for m in sys.modules if m.startswith("portafunc"))}))
"""


def _packaged(tmp_path: Path, source: str) -> tuple[Path, Path, list[str]]:
    """``source`` as an app's main.py, packaged for Azure: (the unzipped artifact, a fresh venv's python with no
    site-packages of ours, portafunc's files in the artifact)."""
    project = tmp_path / "project"
    project.mkdir()
    (project / "main.py").write_text(source)
    out = tmp_path / "dist"
    done = subprocess.run([sys.executable, "-m", "portafunc.cli", "package", "--target", "azure", str(project),
                           "--python", PY, "--out", str(out)], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    (artifact,) = (out / "azure").glob("*.zip")
    site = ".python_packages/lib/site-packages/"
    names = zipfile.ZipFile(artifact).namelist()
    ours = [n[len(site):] for n in names if n.startswith((site + "portafunc/", site + "portafunc_azure/"))]
    app_dir = tmp_path / "wwwroot"
    zipfile.ZipFile(artifact).extractall(app_dir)
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=False, clear=True).create(env_dir)
    return app_dir, env_dir / "bin" / "python", ours


def test_http_only_artifact_is_bytecode_and_boots(tmp_path: Path) -> None:
    app_dir, python, ours = _packaged(tmp_path, HELLO)
    assert ours and not any(n.endswith(".py") for n in ours), ours
    for left_out in ("portafunc/runner/", "portafunc/packaging/", "portafunc/cli", "portafunc/testing/",
                     "portafunc_azure/backends/storage_queue", "portafunc_azure/codecs/schedule",
                     "portafunc/kit/storage_filter"):  # build-time modules; other families' modules
        assert not any(n.startswith(left_out) for n in ours), left_out

    proc = subprocess.run([str(python), "-I", "-c", BOOT], cwd=app_dir, capture_output=True,
                          text=True, timeout=120, env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert "hello" in report["functions"]
    assert report["status"] == 200 and json.loads(report["body"]) == {"message": "hello ada"}


EVENTS_APP = ("from portafunc import App, Message, StorageEvent\n\napp = App('events')\nSEEN = []\n\n\n"
              "@app.storage('uploads', events=['created', 'deleted'])\ndef on_upload(evt: StorageEvent) -> None:\n"
              "    SEEN.append(['storage', evt.kind, evt.key])\n\n\n"
              "@app.topic('news')\ndef on_news(msg: Message) -> None:\n"
              "    SEEN.append(['topic', msg.id, msg.text])\n")
EVENTS_BOOT = r"""
import json, os, sys
root = os.getcwd()
sys.path[:0] = [root, os.path.join(root, ".python_packages", "lib", "site-packages")]
from azure.functions.eventgrid import EventGridEventInConverter
from azure.functions.meta import Datum
import function_app
import main
functions = {f.get_function_name(): f.get_user_function() for f in function_app.app.get_functions()}
events = json.loads(sys.argv[1])
for name, event in events:
    functions[name](EventGridEventInConverter.decode(Datum(json.dumps(event), "json"), trigger_metadata={}))
print(json.dumps({"seen": main.SEEN, "loaded": sorted(m for m in sys.modules if m.startswith("portafunc"))}))
"""


def test_events_artifact_without_timers_or_queues_reads_every_event_schema(tmp_path: Path) -> None:
    """An app of blob and topic functions only ships no timer codec and no queue backend; the worker still hands
    its functions Event Grid-schema and CloudEvents-schema events (which the worker turns into ``func.EventGridEvent``
    and ``func.CloudEvent``), and each is read without reaching a module the artifact left out."""
    from azure_fixtures import load_fixture

    app_dir, python, ours = _packaged(tmp_path, EVENTS_APP)
    assert not any(n.startswith("portafunc_azure/codecs/schedule") for n in ours)
    blob = load_fixture("blob/docs-eventgrid-BlobCreated.json")[0]
    blob_cloud = {**load_fixture("blob/docs-cloudevent-BlobTierChanged.json"), "specversion": "1.0",
                  "type": "Microsoft.Storage.BlobCreated"}
    news = {"specversion": "1.0", "id": "n-1", "source": "/news", "type": "com.example.news",
            "datacontenttype": "text/plain", "data": "hello"}
    events = [["on_upload", blob], ["on_upload", blob_cloud], ["on_news", news]]
    proc = subprocess.run([str(python), "-I", "-c", EVENTS_BOOT, json.dumps(events)], cwd=app_dir,
                          capture_output=True, text=True, timeout=120,
                          env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["seen"] == [["storage", "created", blob["subject"].rpartition("/blobs/")[2]],
                              ["storage", "created", "Auto.jpg"], ["topic", "n-1", "hello"]]
    assert "portafunc_azure.codecs.schedule" not in report["loaded"]
