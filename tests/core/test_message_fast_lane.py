"""One message's fast lane in ``invoke_message`` (a plain handler, no middleware, OpenTelemetry or DEBUG timing) must
give exactly what the general single-message pipeline gives: the same outcome, error, value and invocation seen by
the handler, on success, on each kind of failure, and for typed payloads that validate or not."""

from __future__ import annotations

import pydantic
import pytest

from portafunc import App, Message, NonRetryableError
from portafunc import invoke
from portafunc.context import current
from portafunc.invoke import _direct, _run_message, invoke_message


class Order(pydantic.BaseModel):
    id: str
    total: float


def _app() -> tuple[App, list[tuple[str, str, str]]]:
    app = App("fast-lane")
    seen: list[tuple[str, str, str]] = []

    @app.queue("orders")
    def plain(msg: Message) -> object:
        inv = current()
        seen.append((inv.invocation_id, inv.function, inv.correlation_id))
        body = msg.json()
        if body.get("fail") == "retry":
            raise RuntimeError("boom")
        if body.get("fail") == "drop":
            raise NonRetryableError("bad order")
        return body.get("value")

    @app.queue("typed")
    def typed(msg: Message[Order]) -> float:
        seen.append((current().invocation_id, current().function, current().correlation_id))
        return msg.body.total

    return app, seen


def _describe(result: invoke.MessageResult) -> tuple[object, ...]:
    return result.message_id, result.outcome, result.error, result.value


PAYLOADS = [b'{"value": 3}', b'{}', b'{"fail": "retry"}', b'{"fail": "drop"}', b'not json']
TYPED = [b'{"id": "o-1", "total": 2.5}', b'{"id": "o-1"}', b'[]', b'not json']


@pytest.mark.parametrize(("function", "payload"), [("plain", p) for p in PAYLOADS] + [("typed", p) for p in TYPED])
def test_the_fast_lane_gives_the_general_pipelines_outcome(function, payload):
    app, seen = _app()
    spec = app.function(function)
    fast = invoke_message(spec, Message("m-1", payload), target="local", invocation_id="inv-1")
    fast_seen = list(seen)
    seen.clear()
    general = _run_message(spec, Message("m-1", payload), "inv-1", None, "local", None, _direct(spec))
    assert _describe(fast) == _describe(general)
    assert fast_seen == seen and (not seen or seen == [("inv-1", function, "m-1")])


def test_the_fast_lane_is_taken_for_a_plain_handler_and_left_for_middleware():
    app, _ = _app()
    spec = app.function("plain")
    calls = []
    real = invoke._run_message

    def counting(*args):
        calls.append(args[0])
        return real(*args)

    invoke._run_message = counting
    try:
        invoke_message(spec, Message("m-1", b"{}"))
        assert calls == []  # the plain handler ran inline
        order = []

        @app.middleware
        def outer(event, call_next):
            order.append("mw")
            return call_next(event)

        result = invoke_message(spec, Message("m-2", b'{"value": 1}'))
        assert calls == [spec] and order == ["mw"] and result.value == 1  # middleware added later is honoured
    finally:
        invoke._run_message = real


def test_a_handler_replaced_after_the_first_message_is_the_one_called():
    app, _ = _app()
    spec = app.function("plain")
    assert invoke_message(spec, Message("m-1", b'{"value": 1}')).value == 1
    spec.handler = lambda msg: "replaced"
    assert invoke_message(spec, Message("m-2", b'{"value": 1}')).value == "replaced"
