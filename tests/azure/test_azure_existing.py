"""Resources the configuration names as already existing on Azure (``[existing.KIND.NAME] azure = URL``): the app
setting is that URL (in the template and in local.settings.json.example), the template creates nothing for them and
assigns no role on them, ``inspect`` and ``package`` say what the operator grants instead, and what the template
cannot bind (a malformed URL, a credential no setting carries, a trigger on the existing resource) is refused."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from portafunc import App, HttpRequest, Message, publishes, reads, sends, writes
from portafunc.config import load_config
from portafunc.packaging.build import PackagingError
from portafunc_azure.deploy import arm_check, infra
from portafunc_azure.package import local_settings
from portafunc_azure.target import Target
from cli_run import portafunc_cli

PY = f"{sys.version_info.major}.{sys.version_info.minor}"
QUEUE = "azqueue://partnerstore/outbox?connection=PARTNER_STORAGE"
TOPIC = "eventgrid://partner-events.westeurope-1.eventgrid.azure.net/api/events?key_env=PARTNER_EVENTS_KEY"
BUCKET = "azblob://partnerstore/archive?connection=PARTNER_STORAGE"
KV = "aztable://partnerstore/prices?connection=PARTNER_STORAGE"
STORE = "aztable://records?connection=PARTNER_STORAGE"
SECRETS = '[secrets]\nPARTNER_STORAGE = "partner-storage"\nPARTNER_EVENTS_KEY = "partner-events-key"\n'
CONFIG = SECRETS + f"""
[existing.queue.outbox]
azure = "{QUEUE}"
[existing.topic.partner-events]
azure = "{TOPIC}"
[existing.bucket.archive]
azure = "{BUCKET}"
[existing.kv.prices]
azure = "{KV}"
[existing.idempotency.idempotency]
azure = "{STORE}"
"""
MAIN = '''from portafunc import App, HttpRequest, publishes, reads, sends, writes

app = App("partner")


@app.http("POST", "/forward", idempotent=True,
          uses=[publishes("partner-events"), sends("outbox"), writes(bucket="archive"), reads(kv="prices")])
def forward(req: HttpRequest) -> str:
    return "ok"
'''


def _app() -> App:
    app = App("partner")

    @app.http("POST", "/forward", idempotent=True,
              uses=[publishes("partner-events"), sends("outbox"), writes(bucket="archive"), reads(kv="prices")])
    def forward(req: HttpRequest) -> str:
        return "ok"

    return app


def _model(tmp_path: Path, config: str, app: App | None = None) -> Any:
    (tmp_path / "portafunc.toml").write_text(config)
    return (app or _app()).resources(load_config(tmp_path))


def _settings(template: dict[str, Any]) -> dict[str, str]:
    (site,) = [r for r in template["resources"] if r["type"] == "Microsoft.Web/sites"]
    return {s["name"]: s["value"] for s in site["properties"]["siteConfig"]["appSettings"]}


def _names(template: dict[str, Any], kind: str) -> set[str]:
    return {arm_check.resource_key(r)[1][-1] for r in template["resources"] if r["type"] == kind}


CREATED = {  # kind → (the binding, what the template would create for it: (resource type, name))
    "queue": ("PORTAFUNC_QUEUE_OUTBOX", QUEUE, ("Microsoft.Storage/storageAccounts/queueServices/queues", "outbox")),
    "topic": ("PORTAFUNC_TOPIC_PARTNER_EVENTS", TOPIC, ("Microsoft.EventGrid/topics", "<topicNames>[partner-events]")),
    "bucket": ("PORTAFUNC_BUCKET_ARCHIVE", BUCKET,
               ("Microsoft.Storage/storageAccounts/blobServices/containers", "archive")),
    "kv": ("PORTAFUNC_KV_PRICES", KV, ("Microsoft.Storage/storageAccounts/tableServices/tables", "kvprices")),
    "idempotency": ("PORTAFUNC_IDEMPOTENCY_STORE", STORE,
                    ("Microsoft.Storage/storageAccounts/tableServices/tables", infra.IDEMPOTENCY_TABLE)),
}


@pytest.mark.parametrize("kind", sorted(CREATED))
def test_an_existing_resource_is_bound_to_its_url_and_not_created(tmp_path: Path, kind: str) -> None:
    setting, url, (rtype, name) = CREATED[kind]
    app = _app()
    assert name in _names(infra.template(app, PY, _model(tmp_path, SECRETS, app)), rtype)  # created by default
    model = _model(tmp_path, CONFIG, app)
    assert Target().check_deployment(model) == []
    template = infra.template(app, PY, model)
    assert arm_check.check(template, infra.API) == []
    assert name not in _names(template, rtype)
    settings = _settings(template)
    assert settings[setting] == url
    assert local_settings(app, model)["Values"][setting] == url
    if kind == "topic":  # no key of a topic the template does not create: the URL's key_env is a Key Vault reference
        assert "PORTAFUNC_EVENTGRID_KEY_PARTNER_EVENTS" not in settings
        assert not _names(template, "Microsoft.KeyVault/vaults/secrets")
        assert "'partner-events-key')]" in settings["PARTNER_EVENTS_KEY"]
    assert "'partner-storage')]" in settings["PARTNER_STORAGE"]


def test_no_role_is_assigned_on_an_existing_resource(tmp_path: Path) -> None:
    """The template's roles stay on what it creates (its storage account and vault); nothing names the partner's."""
    app = _app()
    template = infra.template(app, PY, _model(tmp_path, CONFIG, app))
    scopes = {r["scope"] for r in template["resources"] if r["type"] == "Microsoft.Authorization/roleAssignments"}
    assert scopes == {"[format('Microsoft.Storage/storageAccounts/{0}', variables('storageAccountName'))]",
                      "[format('Microsoft.KeyVault/vaults/{0}', variables('keyVaultName'))]"}
    assert "partnerstore" not in json.dumps([r for r in template["resources"]
                                             if r["type"] != "Microsoft.Web/sites"])


def test_an_entry_for_another_target_changes_nothing_on_azure(tmp_path: Path) -> None:
    app = _app()
    plain = _model(tmp_path, SECRETS, app)
    expected = (infra.template(app, PY, plain), local_settings(app, plain))
    aws_only = _model(tmp_path, SECRETS + '[existing.queue.outbox]\naws = "sqs://arn:aws:sqs:eu-west-1:1:outbox"\n',
                      app)
    assert Target().check_deployment(aws_only) == [] and Target().deployment_warnings(app, aws_only) == []
    assert (infra.template(app, PY, aws_only), local_settings(app, aws_only)) == expected


def test_the_warnings_say_what_the_operator_grants(tmp_path: Path) -> None:
    app = _app()
    warnings = Target().deployment_warnings(app, _model(tmp_path, CONFIG, app))
    assert len(warnings) == 5
    assert (f"queue outbox already exists at {QUEUE}: the template neither creates it nor assigns any role on it; "
            "PARTNER_STORAGE must hold a connection string of storage account partnerstore (with a SAS: add "
            "permissions)") in warnings
    assert any(w.startswith("bucket archive already exists") and w.endswith(
        "(with a SAS: read, list, write, create, delete permissions)") for w in warnings)
    assert any(w.startswith("topic partner-events already exists") and w.endswith(
        "PARTNER_EVENTS_KEY must hold an access key of the Event Grid topic "
        "partner-events.westeurope-1.eventgrid.azure.net") for w in warnings)


def _consumers() -> App:
    app = App("partner")
    app.queue("outbox", name="drain")(lambda msg: None)
    app.topic("partner-events", name="listen")(lambda msg: None)
    app.storage("archive", name="archived")(lambda event: None)
    return app


@pytest.mark.parametrize("kind, entry, reason", [
    ("queue", QUEUE, "function 'drain' consumes it, but the Storage Queue trigger reads a queue of the app's own "
                     "storage account"),
    ("topic", TOPIC, "'listen' subscribe to it, but the template creates Event Grid subscriptions only on the topics "
                     "it creates"),
    ("bucket", BUCKET, "'archived' trigger on its blob events, but the template subscribes only to the events of the "
                       "storage account it creates"),
])
def test_a_trigger_on_an_existing_resource_is_refused(tmp_path: Path, kind: str, entry: str, reason: str) -> None:
    name = {"queue": "outbox", "topic": "partner-events", "bucket": "archive"}[kind]
    app = _consumers()
    model = _model(tmp_path, SECRETS + f'[existing.{kind}.{name}]\nazure = "{entry}"\n', app)
    (problem,) = Target().check_deployment(model)
    assert problem.startswith(f"azure: existing {kind} {name!r} ({entry}): ") and reason in problem
    with pytest.raises(PackagingError, match="azure refuses this deployment"):
        infra.template(app, PY, model)


@pytest.mark.parametrize("kind, url, reason", [
    ("queue", "sqs://arn:aws:sqs:eu-west-1:1:outbox", "is not a azqueue:// URL; on Azure give azqueue://ACCOUNT/QUEUE"),
    ("queue", "azqueue://partnerstore?connection=PARTNER_STORAGE", "is not azqueue://ACCOUNT/QUEUE"),
    ("queue", "azqueue://partnerstore/Out_Box?connection=PARTNER_STORAGE", "is not a Storage queue name"),
    ("topic", "eventgrid://partner.westeurope-1.eventgrid.azure.net/api/events?key_env=PARTNER_EVENTS_KEY&tls=0",
     "tls=0 is for local stand-ins"),
    ("topic", "azqueue://partnerstore/outbox?connection=PARTNER_STORAGE", "is not a eventgrid:// URL"),
    ("bucket", "azblob://partnerstore/Archive?connection=PARTNER_STORAGE", "expected azblob://ACCOUNT/CONTAINER"),
    ("kv", "aztable://partnerstore/prices-2024?connection=PARTNER_STORAGE", "expected aztable://ACCOUNT/TABLE"),
    ("idempotency", "aztable://1records?connection=PARTNER_STORAGE", "a table name is 3-63 letters and digits"),
    ("queue", "azqueue://partnerstore/outbox", "name the variable holding a connection string of storage account "
                                               "partnerstore (?connection=VAR)"),
    ("topic", TOPIC.split("?")[0], "name the variable holding an access key of the topic (?key_env=VAR)"),
    ("kv", "aztable://partnerstore/prices?connection=ELSEWHERE", "ELSEWHERE is not set by the configuration file"),
])
def test_what_the_template_cannot_bind_is_refused(tmp_path: Path, kind: str, url: str, reason: str) -> None:
    name = {"queue": "outbox", "topic": "partner-events", "bucket": "archive", "kv": "prices",
            "idempotency": "idempotency"}[kind]
    model = _model(tmp_path, SECRETS + f'[existing.{kind}.{name}]\nazure = "{url}"\n')
    (problem,) = Target().check_deployment(model)
    assert problem.startswith(f"azure: existing {kind} {name!r}") and reason in problem, problem


def _project(tmp_path: Path, config: str = CONFIG) -> Path:
    tmp_path.mkdir(exist_ok=True)
    (tmp_path / "main.py").write_text(MAIN)
    (tmp_path / "portafunc.toml").write_text(config)
    return tmp_path


def test_inspect_says_what_the_operator_grants(tmp_path: Path) -> None:
    out = portafunc_cli("inspect", str(_project(tmp_path)), "--target", "azure")
    assert out.returncode == 0, out.stdout + out.stderr
    assert (f"\nazure differs: queue outbox already exists at {QUEUE}: the template neither creates it nor assigns "
            "any role on it; PARTNER_STORAGE must hold a connection string of storage account partnerstore") \
        in out.stdout


def test_inspect_and_package_refuse_what_the_template_cannot_bind(tmp_path: Path) -> None:
    project = _project(tmp_path, SECRETS + '[existing.queue.outbox]\nazure = "azqueue://partnerstore/outbox"\n')
    out = portafunc_cli("inspect", str(project), "--target", "azure")
    assert out.returncode == 2 and "azure REFUSES this deployment" in out.stdout
    out = portafunc_cli("package", "--target", "azure", "--python", PY, "--out", str(tmp_path / "dist"), str(project))
    assert out.returncode != 0 and "name the variable holding a connection string" in out.stderr
    assert not (tmp_path / "dist").exists()


def test_package_writes_the_urls_and_warns(tmp_path: Path) -> None:
    out = portafunc_cli("package", "--target", "azure", "--python", PY, "--out", str(tmp_path / "dist"),
               str(_project(tmp_path / "project")))
    assert out.returncode == 0, out.stderr
    dist = tmp_path / "dist" / "azure"
    template = json.loads((dist / "azuredeploy.json").read_text())
    assert _settings(template)["PORTAFUNC_QUEUE_OUTBOX"] == QUEUE and "outbox" not in \
        _names(template, "Microsoft.Storage/storageAccounts/queueServices/queues")
    example = json.loads((dist / "local.settings.json.example").read_text())["Values"]
    assert example["PORTAFUNC_TOPIC_PARTNER_EVENTS"] == TOPIC and example["PORTAFUNC_KV_PRICES"] == KV
    assert f"portafunc: warning: azure differs: queue outbox already exists at {QUEUE}" in out.stderr


def test_a_queue_function_keeps_its_poison_queue_when_another_queue_exists(tmp_path: Path) -> None:
    """Only the existing queue is left out: a consumed queue of the app's own is still created with its poison
    queue, and a send to the existing one is bound to its URL."""
    app = App("relay")

    @app.queue("inbox", name="relay", uses=[sends("outbox")])
    def relay(msg: Message) -> None: ...

    model = _model(tmp_path, SECRETS + f'[existing.queue.outbox]\nazure = "{QUEUE}"\n', app)
    template = infra.template(app, PY, model)
    assert _names(template, "Microsoft.Storage/storageAccounts/queueServices/queues") == {"inbox", "inbox-poison"}
    assert _settings(template)["PORTAFUNC_QUEUE_OUTBOX"] == QUEUE
    assert arm_check.check(template, infra.API) == []
