"""The resource model: declarations, what they imply, the run-time check, and the configuration file."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

import portafunc
from portafunc import App, BindingError, HttpRequest, Message, NonRetryableError, RegistrationError
from portafunc.config import ConfigError, load_config
from portafunc.invoke import Outcome, handle_http, invoke_message
from portafunc.messaging import reset
from portafunc.messaging.memory import broker
from portafunc.resources import name_conflicts, publishes, reads, sends

sys.path.insert(0, str(Path(__file__).parent / "resource_fixtures"))
import notify  # noqa: E402


@pytest.fixture(autouse=True)
def _memory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORTAFUNC_DEFAULT_BINDING", "memory://")
    broker().reset()
    reset()


def _request(method: str = "POST", path: str = "/orders") -> HttpRequest:
    return HttpRequest(method, path, body=b"{}")


def test_publishing_from_a_helper_module_without_declaring_it_is_a_binding_error_naming_the_fix() -> None:
    """Before the model, the binding came from scanning the handler's own source: a helper module's publish had no
    binding in the cloud but worked locally. Now it fails the same way everywhere, naming the declaration."""
    app = App("shop")
    raised: list[BaseException] = []

    @app.http("POST", "/orders")
    def create(req: HttpRequest) -> str:
        try:
            notify.announce("o-1")
        except BindingError as exc:
            raised.append(exc)
            raise
        return "ok"

    assert handle_http(app, _request()).status == 500
    [err] = raised
    assert "function 'create' reaches topic 'order-events' but does not declare it" in str(err)
    assert "add uses=[publishes('order-events')] to its decorator (@app.http(...))" in str(err)


def test_a_declared_helper_publish_is_delivered_and_in_the_model() -> None:
    app = App("shop")

    @app.http("POST", "/orders", uses=[publishes("order-events")])
    def create(req: HttpRequest) -> str:
        notify.announce("o-1")
        return "ok"

    sub = broker().subscribe("order-events", "audit")
    assert handle_http(app, _request()).status == 200
    assert [m.data for m in sub.receive(10)] == [b'{"id":"o-1"}']
    model = app.resources()
    events = model.resource("topic", "order-events")
    assert events is not None and events.origin == "uses"
    assert model.functions["create"].bindings() == {"PORTAFUNC_TOPIC_ORDER_EVENTS": ("topic", "order-events")}


def test_outside_a_handler_any_name_resolves() -> None:
    assert portafunc.topic("anything").publish({}) is not None


def test_dead_letter_is_one_queue_everywhere_and_readable() -> None:
    app = App("work")

    @app.queue("work", dead_letter="work-failed")
    def work(msg: Message) -> None:
        raise NonRetryableError("cannot ever succeed")

    model = app.resources()
    dlq = model.resource("queue", "work-failed")
    assert dlq is not None and dlq.origin == "dead_letter"
    assert model.resource("topic", "work-failed") is None
    queue, grant = model.resource("queue", "work"), model.functions["work"].grant("queue", "work-failed")
    assert queue is not None and queue.options["dead_letter"] == "work-failed"
    assert grant is not None and grant.access == ("send",)

    result = invoke_message(app.function("work"), Message("m-1", b'{"a":1}'))
    assert result.outcome is Outcome.DEAD_LETTERED
    [dead] = broker().queue("work-failed").peek()
    assert dead.data == b'{"a":1}' and dead.attributes["portafunc_original_id"] == "m-1"


def test_idempotency_implies_the_store_and_its_grant() -> None:
    app = App("pay")

    @app.http("POST", "/pay", idempotent=True)
    def pay(req: HttpRequest) -> str:
        return "ok"

    @app.queue("charges", idempotency_key="id")
    def charge(msg: Message) -> None: ...

    @app.http("GET", "/health")
    def health(req: HttpRequest) -> str:
        return "ok"

    model = app.resources()
    store = model.resource("idempotency", "idempotency")
    assert store is not None and store.binding == "PORTAFUNC_IDEMPOTENCY_STORE"
    assert store.options["ttl_seconds"] == 86400
    assert [name for name, _ in model.users("idempotency", "idempotency")] == ["pay", "charge"]
    assert model.functions["health"].grants == []


def test_uses_is_checked_at_decoration_time() -> None:
    app = App("x")
    with pytest.raises(RegistrationError, match="^function 'a_route': uses= takes publishes"):
        @app.http("GET", "/a", uses=["order-events"])  # type: ignore[list-item]
        def a_route(req: HttpRequest) -> None:
            pass
    with pytest.raises(RegistrationError, match="^function 'named': uses= takes publishes.* not 'orders'"):
        app.queue("q", uses=["orders"], name="named")(lambda msg: None)  # type: ignore[list-item]
    assert list(app) == []
    with pytest.raises(RegistrationError, match="exactly one of bucket"):
        reads()
    with pytest.raises(RegistrationError, match="must be letters"):
        sends("bad name")
    with pytest.raises(RegistrationError, match="another queue"):
        app.queue("loop", dead_letter="loop")


def test_names_that_mangle_to_one_binding_are_refused() -> None:
    app = App("x")

    @app.http("POST", "/a", uses=[publishes("order-events"), publishes("order.events")])
    def a(req: HttpRequest) -> str:
        return ""

    with pytest.raises(RegistrationError, match="'order-events' and 'order.events' would share one binding"):
        app.resources()


def test_name_conflicts_after_a_targets_mangling() -> None:
    app = App("x")

    @app.http("GET", "/a")
    def get_order(req: HttpRequest) -> str:
        return ""

    @app.http("GET", "/b")
    def getOrder(req: HttpRequest) -> str:  # noqa: N802
        return ""

    rules = {"function": lambda n: "".join(p[:1].upper() + p[1:] for p in n.split("_"))}
    assert name_conflicts(app.resources(), "aws", rules) == [
        "aws: functions 'get_order' and 'getOrder' both become 'GetOrder'; rename one of them"]


# -- configuration -----------------------------------------------------------------------------------------------

AWKWARD_TOML = """
memory = 256
timeout = 20
tags = { team = "shop" }
env = { LOG_LEVEL = "INFO" }

[secrets]
DB_PASSWORD = "shop/db-password"
API_KEY = { aws = "ssm:/shop/api-key", gcp = "api-key:latest" }

[functions.work]
timeout = 60
memory = 1024

[stages.prod]
memory = 1024
env = { LOG_LEVEL = "WARNING" }

[stages.prod.functions.work]
concurrency = 20
"""


def _queue_app(visibility_timeout: int = 120) -> App:
    app = App("cfg")

    @app.queue("work", visibility_timeout=visibility_timeout)
    def work(msg: Message) -> None: ...

    @app.http("GET", "/a")
    def api(req: HttpRequest) -> str:
        return ""

    return app


def test_config_layers_app_function_and_stage(tmp_path: Path) -> None:
    (tmp_path / "portafunc.toml").write_text(AWKWARD_TOML)
    base = _queue_app().resources(load_config(tmp_path))
    assert (base.functions["api"].settings.memory, base.functions["api"].settings.timeout) == (256, 20)
    work = base.functions["work"].settings
    assert (work.memory, work.timeout, work.concurrency) == (1024, 60, None)
    assert work.secrets["API_KEY"].ref("aws") == "ssm:/shop/api-key"
    assert work.secrets["API_KEY"].ref("azure") is None
    assert work.secrets["DB_PASSWORD"].ref("azure") == "shop/db-password"

    prod = _queue_app().resources(load_config(tmp_path, "prod"))
    assert prod.stage == "prod"
    api = prod.functions["api"].settings
    assert api.memory == 1024 and api.env == {"LOG_LEVEL": "WARNING", "PORTAFUNC_STAGE": "prod"}
    assert api.tags == {"team": "shop", "portafunc:stage": "prod"}
    assert prod.functions["work"].settings.concurrency == 20


def test_a_functions_own_key_beats_a_stages_app_level_key(tmp_path: Path) -> None:
    """The precedence docs/resources.md states: [stages.S.functions.F], [functions.F], [stages.S], the top level."""
    (tmp_path / "portafunc.toml").write_text(
        'memory = 256\nenv = { A = "app", B = "app" }\n'
        'permissions = { aws = [{ Action = "s3:GetObject" }], azure = [{ role = "reader" }] }\n\n'
        '[functions.work]\nmemory = 512\nenv = { A = "work" }\n\n'
        '[stages.prod]\nmemory = 384\nenv = { A = "prod", B = "prod" }\npermissions = { aws = [{ Action = "s3:PutObject" }] }\n\n'
        '[stages.big.functions.work]\nmemory = 2048\n')
    prod = load_config(tmp_path, "prod")
    work, api = prod.function("work"), prod.function("api")
    assert (work.memory, api.memory) == (512, 384)  # work's own memory, not the stage's app-level one
    assert work.env == {"A": "work", "B": "prod", "PORTAFUNC_STAGE": "prod"}
    assert api.env == {"A": "prod", "B": "prod", "PORTAFUNC_STAGE": "prod"}
    assert api.permissions == {"aws": [{"Action": "s3:PutObject"}]}  # the stage's table replaces the whole table
    big = load_config(tmp_path, "big")
    assert (big.function("work").memory, big.function("api").memory) == (2048, 256)
    assert big.function("api").permissions.keys() == {"aws", "azure"}


def test_config_in_pyproject_and_refusals(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n[tool.portafunc]\nmemory = 2048\n')
    assert _queue_app().resources(load_config(tmp_path)).functions["api"].settings.memory == 2048
    with pytest.raises(ConfigError, match="stage 'qa' is not defined"):
        load_config(tmp_path, "qa")
    (tmp_path / "portafunc.toml").write_text("memroy = 1\n")
    with pytest.raises(ConfigError, match="unknown key 'memroy'"):
        load_config(tmp_path)
    (tmp_path / "portafunc.toml").write_text('[env]\nAWS_REGION = "x"\n')
    with pytest.raises(ConfigError, match="reserved"):
        load_config(tmp_path)
    (tmp_path / "portafunc.toml").write_text('[functions.nope]\nmemory = 256\n')
    with pytest.raises(ConfigError, match=r"\[functions.nope\] names no function"):
        _queue_app().resources(load_config(tmp_path))


def test_a_timeout_longer_than_the_visibility_timeout_is_refused(tmp_path: Path) -> None:
    (tmp_path / "portafunc.toml").write_text("[functions.work]\ntimeout = 300\n")
    with pytest.raises(RegistrationError, match="timeout 300 s exceeds the visibility_timeout 120 s"):
        _queue_app(120).resources(load_config(tmp_path))
    # unset, the app-wide default is lowered to fit the queue instead
    assert _queue_app(10).resources().functions["work"].settings.timeout == 10
