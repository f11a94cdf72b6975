"""What a backend is told about the trace attributes on a message a handler sends: which of them portafunc added
(:func:`portafunc.tracing.added`) and which the handler set itself, so a backend whose broker caps the number of
attributes can give the handler's own the room first."""

from __future__ import annotations

from typing import Any, Iterable

from portafunc import App, Message
from portafunc.invoke import Outcome, invoke_message
from portafunc.messaging.base import OutgoingMessage, as_outgoing
from portafunc.messaging.traced import traced
from portafunc.tracing import TRACE_ATTRIBUTES, added, outgoing

CALLER = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


class Recorder:
    """A queue backend that keeps the attributes each message reached it with."""

    name = "recorder"

    def __init__(self) -> None:
        self.got: list[dict[str, str]] = []

    def send(self, data: Any, *, attributes: dict[str, str] | None = None, **options: Any) -> str:
        self.got.append(attributes or {})
        return "id"

    def send_batch(self, messages: Iterable[Any]) -> list[str]:
        self.got.extend(as_outgoing(m).attributes for m in messages)
        return ["id"]


def _inside_an_invocation(action: Any) -> None:
    app = App("traced")
    failures: list[BaseException] = []

    @app.queue("in")
    def handler(msg: Message) -> None:
        try:
            action()
        except BaseException as exc:  # the outcome below would only say "failed"
            failures.append(exc)
            raise

    result = invoke_message(app.function("handler"), Message("m-1", b"{}", {"traceparent": CALLER,
                                                                             "tracestate": "vendor=1"}))
    assert result.outcome is Outcome.SUCCESS and not failures, failures


def test_the_trace_attributes_portafunc_adds_are_named_as_added() -> None:
    backend = traced(Recorder())
    mine = {"shop": "acme", "correlation_id": "order-77"}

    def send() -> None:
        backend.send(b"x", attributes={"shop": "acme"})
        backend.send(b"x", attributes=mine)
        backend.send(b"x", attributes={"traceparent": CALLER})
        backend.send_batch([OutgoingMessage(b"x", {"shop": "acme"}), OutgoingMessage(b"x", mine), b"x"])

    _inside_an_invocation(send)
    single, own_id, own_parent, batch_plain, batch_own_id, batch_bare = backend.got
    assert added(single) == ("traceparent", "tracestate", "correlation_id") and single["shop"] == "acme"
    assert added(own_id) == ("traceparent", "tracestate") and own_id["correlation_id"] == "order-77"
    assert added(own_parent) == ("correlation_id",) and own_parent["traceparent"] == CALLER
    assert set(added(batch_plain)) == set(TRACE_ATTRIBUTES) and batch_plain["shop"] == "acme"
    assert "correlation_id" not in added(batch_own_id) and batch_own_id["correlation_id"] == "order-77"
    assert set(added(batch_bare)) == set(TRACE_ATTRIBUTES)


def test_outside_an_invocation_every_attribute_is_the_callers() -> None:
    backend = traced(Recorder())
    backend.send(b"x", attributes={"traceparent": CALLER, "shop": "acme"})
    assert outgoing({"shop": "acme"}) == {"shop": "acme"}
    assert added(backend.got[0]) == () and added(dict(outgoing({"shop": "acme"}) or {})) == ()


def test_a_batch_message_gets_the_same_trace_attributes_as_the_same_message_sent_alone() -> None:
    """A message's own ``traceparent`` keeps its own ``tracestate`` (none added: the invocation's would not belong
    to it), and a correlation id in either spelling is the message's own; batch and single send agree."""
    backend = traced(Recorder())
    cases = [{"traceparent": CALLER}, {"correlation-id": "order-77"}, {"traceparent": CALLER, "tracestate": "mine=2"},
             {"shop": "acme"}]

    def send() -> None:
        for attributes in cases:
            backend.send(b"x", attributes=dict(attributes))
        backend.send_batch([OutgoingMessage(b"x", dict(attributes)) for attributes in cases])

    _inside_an_invocation(send)
    alone, in_batch = backend.got[:len(cases)], backend.got[len(cases):]
    assert in_batch == alone
    assert [added(got) for got in in_batch] == [added(got) for got in alone]
    own_parent, own_hyphen, own_state, plain = in_batch
    assert "tracestate" not in own_parent and added(own_parent) == ("correlation_id",)
    assert "correlation_id" not in own_hyphen and own_hyphen["correlation-id"] == "order-77"
    assert own_state["tracestate"] == "mine=2" and added(own_state) == ("correlation_id",)
    assert added(plain) == ("traceparent", "tracestate", "correlation_id")
