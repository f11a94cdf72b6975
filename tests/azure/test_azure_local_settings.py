"""The documented local workflow: ``cp local.settings.json.example local.settings.json`` then ``func start`` against
Azurite.

* The example sets every app setting the ARM template sets (the bindings, the configuration file's ``env`` for the
  packaged stage, each ``secrets`` entry as a placeholder to fill in), from the same list (:func:`infra.bindings`).
* Azurite starts empty while the template creates the app's queues, tables and containers: with the example's values,
  a fresh Azurite (queue, blob and table services) serves the first kv, bucket, queue and idempotency call.
"""

from __future__ import annotations

import json
import sys
import time

import pytest
import standins

import portafunc
from portafunc import App
from portafunc.config import load_config
from portafunc_azure.deploy import infra
from portafunc_azure.package import local_settings

PY = f"{sys.version_info.major}.{sys.version_info.minor}"
ALWAYS = {"FUNCTIONS_WORKER_RUNTIME", "AzureWebJobsFeatureFlags", "AzureWebJobsStorage"}

TOML = """
env = { LOG_LEVEL = "INFO", GREETING = "[hello]" }

[secrets]
PAYMENT_API_KEY = "todo/payment-api-key"

[functions.t]
secrets = { DB_PASSWORD = { aws = "ssm:/todo/db-password", azure = "db-password", gcp = "db-password" } }

[stages.dev]
env = { LOG_LEVEL = "DEBUG" }
"""


def _app() -> App:
    app = App("todo")
    app.http("GET", "/t", uses=[portafunc.reads(kv="todos"), portafunc.writes(bucket="files"),
                                portafunc.sends(queue="work")], idempotent=True, name="t")(lambda req: None)
    app.queue("work", name="work")(lambda msg: None)
    return app


def _template_settings(template: dict) -> dict[str, str]:
    (site,) = [r for r in template["resources"] if r["type"] == "Microsoft.Web/sites"]
    return {s["name"]: s["value"] for s in site["properties"]["siteConfig"]["appSettings"]}


@pytest.mark.parametrize("stage", [None, "dev"])
def test_the_example_sets_every_app_setting_the_template_sets(tmp_path, stage):
    (tmp_path / "portafunc.toml").write_text(TOML)
    app = _app()
    dep = app.resources(load_config(tmp_path, stage))
    example = local_settings(app, dep)["Values"]
    deployed = _template_settings(infra.template(app, PY, dep))
    assert set(example) - ALWAYS == set(deployed) - {"AzureWebJobsStorage"}
    assert example["LOG_LEVEL"] == ("DEBUG" if stage == "dev" else "INFO") == deployed["LOG_LEVEL"]
    assert example["GREETING"] == "[hello]" and deployed["GREETING"] == "[[hello]"  # ARM's escape of a leading [
    for variable, secret in (("PAYMENT_API_KEY", "todo-payment-api-key"), ("DB_PASSWORD", "db-password")):
        assert f"'{secret}')]" in deployed[variable]
        assert secret in example[variable] and example[variable].startswith("<")  # a placeholder, never a value


@pytest.fixture(scope="module")
def fresh_azurite(tmp_path_factory):
    """Azurite's queue, blob and table services, as ``func start``'s UseDevelopmentStorage=true reaches them: one
    connection string for the three."""
    logs = tmp_path_factory.mktemp("azurite-local")
    with standins.azurite(logs, "queue") as queue, standins.azurite(logs, "blob") as blob, \
            standins.azurite(logs, "table") as table:
        endpoints = [part for conn in (queue, blob, table) for part in conn.split(";") if "Endpoint=" in part
                     and not part.startswith("DefaultEndpoints")]
        yield ";".join(queue.split(";")[:3] + endpoints) + ";"


def test_the_example_works_against_a_fresh_azurite(fresh_azurite, monkeypatch):
    """Nothing is created beforehand: the example's values alone make the first call of each kind work."""
    from portafunc.data.binding import reset as reset_data
    from portafunc.idempotency.registry import open_store
    from portafunc.messaging import reset as reset_messaging

    app = _app()
    values = local_settings(app)["Values"]
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AzureWebJobsStorage", fresh_azurite)  # what UseDevelopmentStorage=true means, on our ports
    for name in ("PORTAFUNC_AZQUEUE_CONNECTION", "PORTAFUNC_AZTABLE_CONNECTION", "PORTAFUNC_AZBLOB_CONNECTION"):
        monkeypatch.delenv(name, raising=False)
    reset_data()
    reset_messaging()
    try:
        portafunc.kv("todos").put("first", {"done": False})
        assert portafunc.kv("todos").get("first") == {"done": False}
        portafunc.bucket("files").put("a.txt", b"hello")
        assert portafunc.bucket("files").get("a.txt") == b"hello"
        portafunc.queue("work").send({"n": 1})
        assert [json.loads(m.data) for m in portafunc.queue("work").receive(wait=2)] == [{"n": 1}]
        store = open_store(values["PORTAFUNC_IDEMPOTENCY_STORE"])
        assert store.put_in_progress("k1", "h", time.time() + 60) is True
    finally:
        reset_data()
        reset_messaging()


def test_without_the_option_a_missing_table_or_container_still_says_so(fresh_azurite, monkeypatch):
    """Creation on first use is the binding's choice (``?create=1``, as the example writes it): a deployed app's
    bindings never carry it, so a wrong or missing resource there is reported, not silently created."""
    from portafunc.data import DataUnavailable
    from portafunc.data.binding import reset as reset_data

    monkeypatch.setenv("AzureWebJobsStorage", fresh_azurite)
    monkeypatch.setenv("PORTAFUNC_KV_GHOST", "aztable://devstoreaccount1/kvghost")
    monkeypatch.setenv("PORTAFUNC_BUCKET_GHOST", "azblob://devstoreaccount1/ghost")
    reset_data()
    try:
        with pytest.raises(DataUnavailable, match="does not exist.*create=1"):
            portafunc.kv("ghost").get("k")
        with pytest.raises(DataUnavailable, match="does not exist.*create=1"):
            portafunc.bucket("ghost").get("k")
    finally:
        reset_data()


def _consumer_app() -> App:
    """A queue function consuming ``incoming``, which nothing in the app sends to (another program does), beside
    the app that sends to ``work``."""
    app = _app()
    app.queue("incoming", name="take")(lambda msg: None)
    return app


def _queues(conn: str) -> set[str]:
    from azure.storage.queue import QueueServiceClient

    return {q.name for q in QueueServiceClient.from_connection_string(conn).list_queues()}


def _load_as_the_worker_does(app: App, tmp_path, monkeypatch) -> None:
    """function_app.py as ``portafunc package`` writes it, imported from its folder as the Python worker indexes it
    when ``func start`` begins (before the host's queue listeners start)."""
    import importlib.util

    from portafunc_azure import runtime
    from portafunc_azure.deploy.function_app import generate_function_app

    ref = f"portafunc-inmemory:{app.name}:{id(app)}"
    runtime.register_app(ref, app)
    entry = tmp_path / "function_app.py"
    entry.write_text(generate_function_app(app, ref), encoding="utf-8")
    spec = importlib.util.spec_from_file_location("function_app", entry)
    assert spec is not None and spec.loader is not None
    monkeypatch.delitem(sys.modules, "function_app", raising=False)
    spec.loader.exec_module(importlib.util.module_from_spec(spec))


def _fresh_account(azurite: str) -> str:
    """A connection string of Azurite with no queue in it (the module's Azurite is shared by its tests)."""
    from azure.storage.queue import QueueServiceClient

    service = QueueServiceClient.from_connection_string(azurite)
    for queue in list(service.list_queues()):
        service.delete_queue(queue.name)
    return azurite


def test_the_queues_the_triggers_listen_on_exist_once_the_worker_has_loaded_the_functions(fresh_azurite, tmp_path,
                                                                                          monkeypatch):
    """``func start`` with the example's settings against an empty Azurite: the host's queue trigger on
    ``incoming`` listens on a queue that exists, and another program can put messages there, though the app never
    sends to it. The ARM template declares the same queues (and their poison queues) for the deployed app."""
    from azure.storage.queue import QueueClient

    from portafunc.messaging import reset as reset_messaging

    app = _consumer_app()
    conn = _fresh_account(fresh_azurite)
    for name, value in local_settings(app)["Values"].items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AzureWebJobsStorage", conn)
    monkeypatch.delenv("PORTAFUNC_AZQUEUE_CONNECTION", raising=False)
    reset_messaging()
    assert _queues(conn) == set()

    _load_as_the_worker_does(app, tmp_path, monkeypatch)

    assert _queues(conn) == {"incoming", "work"}  # both trigger queues; poison queues are made on first use
    QueueClient.from_connection_string(conn, "incoming").send_message("from another program")
    declared = {r["name"].split("'")[-2] for r in infra.template(app, PY)["resources"]
                if r["type"] == "Microsoft.Storage/storageAccounts/queueServices/queues"}
    assert {"incoming", "incoming-poison", "work", "work-poison"} <= declared


def test_a_deployed_apps_settings_create_no_queue(fresh_azurite, tmp_path, monkeypatch):
    """The template's bindings carry no ``?create=1``: loading the functions creates nothing (nor imports the
    Storage SDK to find out); a missing queue stays the deployment's to report."""
    app = _consumer_app()
    conn = _fresh_account(fresh_azurite)
    monkeypatch.setenv("AzureWebJobsStorage", conn)
    for name in ("PORTAFUNC_QUEUE_INCOMING", "PORTAFUNC_QUEUE_WORK"):
        queue = name.rsplit("_", 1)[-1].lower()
        monkeypatch.setenv(name, f"azqueue://devstoreaccount1/{queue}")
    monkeypatch.delitem(sys.modules, "portafunc_azure.backends.storage_queue", raising=False)

    _load_as_the_worker_does(app, tmp_path, monkeypatch)

    assert "portafunc_azure.backends.storage_queue" not in sys.modules
    assert _queues(conn) == set()


def test_a_queue_that_cannot_be_created_is_logged_and_the_functions_still_load(tmp_path, monkeypatch, capsys):
    """Azurite not started: the worker still indexes the functions (the host reports the storage account itself);
    the log says which queue is missing."""
    import standins

    app = _consumer_app()
    port = standins.free_port()
    monkeypatch.setenv("AzureWebJobsStorage", standins.azurite_connection_string("queue", port))
    monkeypatch.setenv("PORTAFUNC_QUEUE_INCOMING", "azqueue://devstoreaccount1/incoming?create=1&timeout=1&retries=0")
    monkeypatch.delenv("PORTAFUNC_QUEUE_WORK", raising=False)

    _load_as_the_worker_does(app, tmp_path, monkeypatch)

    err = capsys.readouterr().err
    assert "could not create the queue a queue trigger listens on" in err and '"queue": "incoming"' in err
