"""``portafunc package --target azure`` of the ported samples (examples/shortener, examples/manifests), checked as the
shop is: the ARM template passes the structural check (portafunc_azure.deploy.arm_check) and creates and binds every
resource of the app's model, the generated ``function_app.py`` indexes with the real ``azure-functions`` (each
Event Grid function has its subscription), host.json validates against the published schema, deploy.sh parses, and
the artifact alone, unzipped and run by a fresh venv as the Python worker runs it, indexes and answers each
trigger."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import venv
import zipfile
from typing import Any

import pytest
from azure_fixtures import REPO

from portafunc import App
from portafunc_azure import triggers
from portafunc_azure.deploy import arm_check, infra
from portafunc_azure.deploy.function_app import load_function_app

PY = f"{sys.version_info.major}.{sys.version_info.minor}"
EXAMPLES = REPO / "examples"
SCHEMAS = REPO / "tests" / "fixtures" / "schemas"


def _load(name: str) -> App:
    """The example's App, imported under a name of its own (every example's module is ``main``)."""
    spec = importlib.util.spec_from_file_location(f"portafunc_example_{name}_azure", EXAMPLES / name / "main.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    app: App = module.app
    return app


@pytest.fixture(scope="module", params=["manifests", "shortener"])
def built(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp(f"azure-{request.param}")
    proc = subprocess.run([sys.executable, "-m", "portafunc.cli", "package", "--target", "azure",
                           str(EXAMPLES / request.param), "--python", PY, "--out", str(out)], capture_output=True,
                          text=True, timeout=600, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    dist = out / "azure"
    return {"name": request.param, "app": _load(request.param), "dist": dist, "stdout": proc.stdout,
            "template": json.loads((dist / "azuredeploy.json").read_text())}


def _resources(template: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [r for r in template["resources"] if r["type"] == kind]


def _names(template: dict[str, Any], kind: str) -> set[str]:
    return {arm_check.resource_key(r)[1][-1] for r in _resources(template, kind)}


def _settings(template: dict[str, Any]) -> dict[str, str]:
    (site,) = _resources(template, "Microsoft.Web/sites")
    return {s["name"]: s["value"] for s in site["properties"]["siteConfig"]["appSettings"]}


def test_the_template_is_sound_and_creates_and_binds_every_resource(built):
    template = built["template"]
    assert arm_check.check(template, infra.API) == []
    settings = _settings(template)
    containers = _names(template, "Microsoft.Storage/storageAccounts/blobServices/containers")
    tables = _names(template, "Microsoft.Storage/storageAccounts/tableServices/tables")
    for res in built["app"].resources().to_dict()["resources"]:
        if res["kind"] == "bucket":
            assert triggers.queue_name(res["name"]) in containers and "azblob://" in settings[res["binding"]]
        elif res["kind"] == "kv":
            assert infra.kv_table(res["name"]) in tables and "aztable://" in settings[res["binding"]]
        else:
            raise AssertionError(f"unexpected resource {res}")
    example = json.loads((built["dist"] / "local.settings.json.example").read_text())["Values"]
    assert {k for k in example if k.startswith("PORTAFUNC_")} == {k for k in settings if k.startswith("PORTAFUNC_")}


def test_the_generated_function_app_indexes_and_every_event_function_is_subscribed(built):
    _, functions, _ = load_function_app(built["app"])  # the real azure-functions indexing of the generated file
    bindings = {name: [json.loads(b) for b in fn.get_raw_bindings()] for name, fn in functions.items()}
    template = built["template"]
    subscriptions = {arm_check.parse(s["properties"]["destination"]["properties"]["resourceId"][1:-1]).args[-1]: s
                     for s in _resources(template, "Microsoft.EventGrid/systemTopics/eventSubscriptions")}
    event_functions = {n for n, bs in bindings.items() if any(b["type"] == "eventGridTrigger" for b in bs)}
    assert set(subscriptions) == event_functions
    if built["name"] == "shortener":
        assert sorted(bindings) == ["create_link", "portafunc_docs", "portafunc_docs_files", "redirect",
                                    "zz_portafunc_unmatched"]
        assert bindings["redirect"][0]["route"] == "{code}"
        assert bindings["redirect"][0]["methods"] == ["GET", "HEAD", "OPTIONS"]
        assert bindings["create_link"][0]["methods"] == ["POST", "OPTIONS"]
        assert not subscriptions and not _resources(template, "Microsoft.EventGrid/systemTopics")
    else:
        assert sorted(bindings) == ["cleanup", "write_manifest"]
        assert bindings["cleanup"][0]["type"] == "timerTrigger" and bindings["cleanup"][0]["schedule"] == "0 0 3 * * *"
        subscription = subscriptions["write_manifest"]["properties"]
        assert subscription["filter"]["includedEventTypes"] == ["Microsoft.Storage.BlobCreated"]
        assert subscription["filter"]["subjectBeginsWith"] == "/blobServices/default/containers/uploads/blobs/"


def test_host_json_validates_and_deploy_sh_parses(built):
    import jsonschema

    schema = json.loads((SCHEMAS / "azure-functions-host.schema.json").read_text())
    jsonschema.validate(json.loads((built["dist"] / "host.json").read_text()), schema)
    assert subprocess.run(["bash", "-n", str(built["dist"] / "deploy.sh")]).returncode == 0


BOOT = r'''
import json, os, sys
from datetime import datetime, timedelta, timezone
root = os.getcwd()
sys.path[:0] = [root, os.path.join(root, ".python_packages", "lib", "site-packages")]
for name in os.environ.get("BIND", "").split():
    os.environ[name] = "memory://"
import function_app
from portafunc.events import HttpRequest, ScheduleEvent, StorageEvent
from portafunc_azure import codecs
from portafunc_azure.codecs import natives
functions = {f.get_function_name(): f for f in function_app.app.get_functions()}

def call(name, native):
    result = functions[name].get_user_function()(native)
    return None if result is None else natives.response_datum_to_json(result)

def http(method, path, body=b"", **params):
    headers = {"content-type": "application/json"} if body else {}
    return natives.to_func_http(codecs.encode(HttpRequest(method, path, headers=headers, body=body,
                                                          path_params=params)))

out = {}
if "create_link" in functions:
    out["created"] = call("create_link", http("POST", "/links", b'{"url": "https://example.com/", "code": "ex1"}'))
    out["followed"] = call("redirect", http("GET", "/ex1", code="ex1"))
    out["unknown"] = call("redirect", http("GET", "/nope", code="nope"))
else:
    import portafunc
    portafunc.bucket("uploads").put("in/a.txt", b"hello")
    now = datetime.now(timezone.utc)
    call("write_manifest", natives.to_func_eventgrid(codecs.encode(StorageEvent("uploads", "in/a.txt", size=5))))
    out["manifest"] = json.loads(portafunc.bucket("manifests").get("in/a.txt.json"))
    call("cleanup", natives.to_func_timer(codecs.encode(ScheduleEvent(now + timedelta(days=8)))))
    out["left"] = [o.key for o in portafunc.bucket("manifests").list()]
module_files = [m.__file__ for n, m in list(sys.modules.items()) if n != "__main__" and getattr(m, "__file__", None)]
out["foreign_paths"] = sorted({os.path.dirname(f) for f in module_files
                               if f and not f.startswith(root) and not f.startswith(sys.base_prefix)})
sys.stdout.write("\n@@BOOT@@" + json.dumps(out) + "\n")
'''


def test_the_artifact_alone_boots_in_a_fresh_venv(built, tmp_path):
    (artifact,) = built["dist"].glob("*.zip")
    app_dir = tmp_path / "wwwroot"
    zipfile.ZipFile(artifact).extractall(app_dir)
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=False, clear=True).create(env_dir)
    bind = " ".join(r["binding"] for r in built["app"].resources().to_dict()["resources"])
    proc = subprocess.run([str(env_dir / "bin" / "python"), "-I", "-c", BOOT], cwd=app_dir, capture_output=True,
                          text=True, timeout=120, env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "BIND": bind})
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout.split("@@BOOT@@", 1)[1])
    assert report.pop("foreign_paths") == [], "imported code from outside the artifact and the stdlib"
    if built["name"] == "shortener":
        assert report["created"]["status_code"] == 201, (report, proc.stderr[-3000:])
        assert json.loads(report["created"]["body"])["code"] == "ex1"
        assert report["followed"]["status_code"] == 301 and report["followed"]["headers"]["location"] == \
            "https://example.com/"
        assert report["unknown"]["status_code"] == 404
    else:
        assert report["manifest"]["size"] == 5 and report["manifest"]["key"] == "in/a.txt"
        assert report["left"] == []
