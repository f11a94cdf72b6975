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
