"""Key expressions, payload fingerprints, store selection and the pipeline's free fast path (no store needed)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from portafunc import App, idempotency
from portafunc.errors import RegistrationError
from portafunc.events import HttpRequest, Message
from portafunc.idempotency import IdempotencyKeyMissing, IdempotencyStoreError, key_value, parse_key
from portafunc.invoke import Outcome, invoke_http, invoke_message

pytest_plugins = [__name__.rpartition(".")[0] + ".idem_fixtures" if "." in __name__ else "idem_fixtures"]


def msg(data: object, **kw: object) -> Message:
    return Message("m-1", json.dumps(data).encode(), **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize("expr,event,expected", [
    ("id", msg({}), "m-1"),
    ("message.id", msg({}), "m-1"),
    ("body.order_id", msg({"order_id": "A-7"}), "A-7"),
    ("body.order.id", msg({"order": {"id": 42}}), "42"),
    ("body.items.1.sku", msg({"items": [{"sku": "a"}, {"sku": "b"}]}), "b"),
    ("body.customer", msg({"customer": {"b": 1, "a": 2}}), '{"a":2,"b":1}'),
    ("attribute.dedup", msg({}, attributes={"dedup": "d-1"}), "d-1"),
    ("header.Idempotency-Key", HttpRequest("POST", "/", headers={"idempotency-key": " k "}), "k"),
    ("query.token", HttpRequest("POST", "/", query={"token": ["t1"]}), "t1"),
    ("body.ref", HttpRequest("POST", "/", body=b'{"ref": "r"}'), "r"),
])
def test_key_expressions(expr: str, event: object, expected: str) -> None:
    assert key_value(parse_key(expr), event) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize("expr,event,why", [
    ("body.order_id", msg({"other": 1}), "has no 'order_id'"),
    ("body.order_id", Message("m", b"not json"), "not JSON"),
    ("body.order_id", msg({"order_id": None}), "empty"),
    ("body.items.5", msg({"items": [1]}), "has no '5'"),
    ("attribute.dedup", msg({}), "no attribute"),
    ("id", HttpRequest("POST", "/"), "HTTP requests have no 'id'"),
    ("query.token", HttpRequest("POST", "/"), "no query parameter"),
])
def test_missing_keys_are_typed_errors(expr: str, event: object, why: str) -> None:
    with pytest.raises(IdempotencyKeyMissing, match=why):
        key_value(parse_key(expr), event)  # type: ignore[arg-type]


def test_absent_header_is_an_opt_out_not_an_error() -> None:
    assert key_value(parse_key("header.Idempotency-Key"), HttpRequest("POST", "/")) is None


@pytest.mark.parametrize("bad", ["", "  ", "body", "body.", "body..x", "header", "header.a.b", "cookie.x", "idx"])
def test_malformed_expressions_are_registration_errors(bad: str) -> None:
    with pytest.raises(RegistrationError, match="idempotency_key"):
        parse_key(bad)


def test_store_key_is_per_function_and_bounded() -> None:
    assert idempotency.store_key("shop", "charge", "A") == "shop.charge:A"
    long = idempotency.store_key("shop", "charge", "x" * 5000)
    assert len(long) < 200 and long.startswith("shop.charge:sha256:")


def test_fingerprints() -> None:
    a = HttpRequest("POST", "/orders", body=b'{"a":1}')
    assert idempotency.payload_hash(a) == idempotency.payload_hash(HttpRequest("POST", "/orders", body=b'{"a":1}'))
    assert idempotency.payload_hash(a) != idempotency.payload_hash(HttpRequest("PUT", "/orders", body=b'{"a":1}'))
    assert idempotency.payload_hash(a) != idempotency.payload_hash(HttpRequest("POST", "/other", body=b'{"a":1}'))
    assert idempotency.payload_hash(Message("1", b"x")) == idempotency.payload_hash(Message("2", b"x"))
    assert idempotency.payload_hash(Message("1", b"x")) != idempotency.payload_hash(Message("1", b"y"))


def test_store_selection(idem_env: object, monkeypatch: pytest.MonkeyPatch) -> None:
    assert isinstance(idempotency.current_store("local"), idempotency.MemoryStore)  # unset + local → memory
    with pytest.raises(IdempotencyStoreError, match="PORTAFUNC_IDEMPOTENCY_STORE is not set"):
        idempotency.current_store("aws")
    monkeypatch.setenv("PORTAFUNC_IDEMPOTENCY_STORE", "nosuch://x")
    with pytest.raises(IdempotencyStoreError, match="unknown scheme nosuch://"):
        idempotency.current_store("aws")
    monkeypatch.setenv("PORTAFUNC_IDEMPOTENCY_STORE", "not-a-url")
    with pytest.raises(IdempotencyStoreError, match="is not a URL"):
        idempotency.current_store("aws")


def test_unconfigured_store_in_the_cloud_fails_closed(idem_env: object) -> None:
    """No store on a cloud target: the message is retried and the request is a 500 — the handler never runs."""
    app, runs = App("shop"), []

    @app.queue("orders", idempotency_key="id")
    def work(m: Message) -> None:
        runs.append(m.id)

    @app.http("POST", "/pay", idempotent=True)
    def pay(req: HttpRequest) -> str:
        runs.append("pay")
        return "ok"

    result = invoke_message(app.function("work"), msg({}), target="aws")
    assert result.outcome is Outcome.RETRY and "PORTAFUNC_IDEMPOTENCY_STORE" in (result.error or "")
    resp = invoke_http(app.function("pay"), HttpRequest("POST", "/pay", headers={"Idempotency-Key": "1"}),
                       target="aws")
    assert resp.status == 500 and runs == []


def test_functions_without_a_key_never_load_idempotency() -> None:
    """The fast path: one attribute check; the package is not even imported."""
    code = (
        "import sys, json\n"
        "from portafunc import App\n"
        "from portafunc.events import Message, HttpRequest\n"
        "from portafunc.invoke import invoke_message, invoke_http\n"
        "app = App('a')\n"
        "@app.queue('q')\n"
        "def q(m: Message): return 1\n"
        "@app.http('POST', '/x')\n"
        "def h(r: HttpRequest): return 'ok'\n"
        "assert invoke_message(app.function('q'), Message('1', b'{}')).value == 1\n"
        "assert invoke_http(app.function('h'), HttpRequest('POST', '/x')).status == 200\n"
        "print(json.dumps(any(m.startswith('portafunc.idempotency') for m in sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "false"
