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
        assert inv is not None
        seen.append((inv.invocation_id, inv.function, inv.correlation_id))
        body = msg.json()
        if body.get("fail") == "retry":
            raise RuntimeError("boom")
        if body.get("fail") == "drop":
            raise NonRetryableError("bad order")
        return body.get("value")

    @app.queue("typed")
    def typed(msg: Message[Order]) -> float:
        inv = current()
        assert inv is not None
        seen.append((inv.invocation_id, inv.function, inv.correlation_id))
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


def _failure_of(result: invoke.MessageResult) -> tuple[object, ...] | None:
    """What invoke_message_failure answers for this invoke_message result: None for a success, else the result."""
    return None if result.outcome is invoke.Outcome.SUCCESS else _describe(result)


@pytest.mark.parametrize("middleware", [False, True])
@pytest.mark.parametrize(("function", "payload"), [("plain", p) for p in PAYLOADS] + [("typed", p) for p in TYPED])
def test_invoke_message_failure_answers_as_invoke_message(function, payload, middleware):
    """A success answers None; a failure the same MessageResult, seen by the handler as the same invocation. With
    middleware the general pipeline runs, and answers the same."""
    app, seen = _app()
    if middleware:
        app.middleware(lambda event, call_next: call_next(event))
    spec = app.function(function)
    failure = invoke.invoke_message_failure(spec, Message("m-1", payload), "local", "inv-1", None)
    lane_seen = list(seen)
    seen.clear()
    want = invoke_message(spec, Message("m-1", payload), target="local", invocation_id="inv-1")
    assert (None if failure is None else _describe(failure)) == _failure_of(want)
    assert lane_seen == seen and (not seen or seen == [("inv-1", function, "m-1")])


def test_invoke_message_failure_draws_an_id_only_when_asked_and_calls_a_replaced_handler():
    app, _ = _app()
    spec = app.function("plain")
    ids = []
    spec.handler = lambda msg: ids.append(current().invocation_id)
    assert invoke.invoke_message_failure(spec, Message("m-1", b"{}"), "local") is None
    assert len(ids) == 1 and ids[0] and ids[0] != "m-1"
    spec.handler = lambda msg: 1 / 0
    failure = invoke.invoke_message_failure(spec, Message("m-2", b"{}"), "local")
    assert failure is not None and failure.outcome is invoke.Outcome.RETRY and failure.error.startswith("Zero")


@pytest.mark.parametrize("middleware", [False, True])
@pytest.mark.parametrize(("function", "payload"), [("plain", p) for p in PAYLOADS] + [("typed", p) for p in TYPED])
def test_a_functions_message_runner_answers_as_invoke_message_failure(function, payload, middleware):
    """The per-function callable gives what invoke_message_failure gives, on its first call (through
    invoke_message_failure) and on later ones (its own lane), the handler seeing the same invocation."""
    app, seen = _app()
    if middleware:
        app.middleware(lambda event, call_next: call_next(event))
    spec = app.function(function)
    run = invoke.message_runner(spec, "local")
    for attempt in range(2):
        seen.clear()
        got = run(Message("m-1", payload), "inv-1", None)
        got_seen = list(seen)
        seen.clear()
        want = invoke.invoke_message_failure(spec, Message("m-1", payload), "local", "inv-1", None)
        assert (None if got is None else _describe(got)) == (None if want is None else _describe(want)), attempt
        assert got_seen == seen and (not seen or seen == [("inv-1", function, "m-1")])


def test_a_functions_message_runner_follows_a_replaced_handler_and_middleware_added_later():
    app, _ = _app()
    spec = app.function("plain")
    run = invoke.message_runner(spec, "local")
    assert run(Message("m-1", b"{}"), None, None) is None
    assert run(Message("m-1", b"{}"), None, None) is None  # the runner's own lane
    ids = []
    spec.handler = lambda msg: ids.append(current().invocation_id) or 1 / 0
    failure = run(Message("m-2", b"{}"), None, None)
    assert failure is not None and failure.error.startswith("Zero") and len(ids) == 1 and ids[0]
    spec.handler = lambda msg: None
    order = []

    @app.middleware
    def outer(event, call_next):
        order.append(event.id)
        raise RuntimeError("refused by middleware")

    for msg_id in ("m-3", "m-4"):
        failure = run(Message(msg_id, b"{}"), None, None)
        assert failure is not None and failure.error == "RuntimeError: refused by middleware"
    assert order == ["m-3", "m-4"]


def test_function_entries_are_made_once_per_name_and_not_kept_when_making_fails():
    """The generated entry files call ``entries[name](event)``: each name's entry is made on its first event and
    reused; a name the app does not have raises each time and leaves nothing behind."""
    made: list[str] = []

    def make(name: str):
        if name == "missing":
            raise LookupError(name)
        made.append(name)
        return lambda event: (name, event)

    entries = invoke.FunctionEntries(make)
    assert entries["a"]("e1") == ("a", "e1") and entries["a"]("e2") == ("a", "e2")
    assert entries["b"]("e3") == ("b", "e3")
    assert made == ["a", "b"]
    for _ in range(2):
        with pytest.raises(LookupError):
            entries["missing"]
    assert sorted(entries) == ["a", "b"]
