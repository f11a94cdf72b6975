"""Two documented features (docs/events.md, docs/testing.md), on every target through its real entry point:

* a topic or queue handler whose parameter is annotated with a pydantic model (``def fulfil(order: Order)``) gets
  the payload validated as that model; a payload that does not match is a non-retryable failure of that message;
* during a contract test, ``portafunc.queue(name).receive()`` returns what the handlers sent to that queue.
"""

from __future__ import annotations

import portafunc
from portafunc import App, HttpRequest, HttpResponse, Message
from portafunc.context import Invocation
from pydantic import BaseModel


class Order(BaseModel):
    id: str
    total: float


def _model_app(seen: list[object]) -> App:
    app = App("typed-payloads")

    @app.queue("orders")
    def fulfil(order: Order) -> None:
        seen.append(order)

    @app.topic("order-events")
    def audit(order: Order) -> None:
        seen.append(order)

    return app


def test_a_queue_handler_annotated_with_a_model_receives_the_validated_model(cloud) -> None:
    seen: list[object] = []
    result = cloud.enqueue(_model_app(seen), "orders", [{"id": "o-1", "total": "9.5"}, {"id": "o-2"}])
    assert seen == [Order(id="o-1", total=9.5)] and type(seen[0]) is Order  # "9.5" validated into a float
    assert result.failed_ids == [result.ids[1]]  # invalid: non-retryable, reported failed for the broker's DLQ


def test_a_topic_handler_annotated_with_a_model_receives_the_validated_model(cloud) -> None:
    seen: list[object] = []
    assert cloud.publish(_model_app(seen), "order-events", {"id": "o-1", "total": 2}).ok
    assert seen == [Order(id="o-1", total=2.0)] and type(seen[0]) is Order
    assert not cloud.publish(_model_app(seen), "order-events", {"total": 2}).ok
    assert len(seen) == 1


def _sending_app() -> App:
    app = App("senders")

    @app.http("POST", "/orders", uses=[portafunc.sends("orders")])
    def create(req: HttpRequest, order: Order) -> HttpResponse:
        portafunc.queue("orders").send(order, attributes={"source": "api"})
        return HttpResponse.json({"id": order.id}, status=201)

    @app.queue("orders", uses=[portafunc.sends("shipments"), portafunc.publishes("order-events")])
    def fulfil(msg: Message[Order]) -> None:
        portafunc.queue("shipments").send({"order": msg.body.id}, ordering_key=msg.body.id)
        portafunc.topic("order-events").publish({"shipped": msg.body.id}, attributes={"kind": "shipped"})

    return app


TRACE = ("traceparent", "correlation_id")  # what portafunc adds to every message a handler sends


def _own(attributes: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in attributes.items() if k not in TRACE}


def test_queue_receive_shows_what_an_http_handler_sent(cloud) -> None:
    app = _sending_app()
    assert cloud.http(app, "POST", "/orders", json={"id": "o-1", "total": 9.5}).status == 201
    [sent] = portafunc.queue("orders").receive()
    assert sent.json() == {"id": "o-1", "total": 9.5} and _own(sent.attributes) == {"source": "api"}
    assert portafunc.queue("shipments").receive() == []


CALLER = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"  # the W3C specification's example


def test_a_request_trace_continues_through_the_message_to_its_consumer(cloud) -> None:
    """HTTP request with a traceparent → the handler sends → the message carries the same trace id with the
    request's own span as parent → the consuming handler runs in that trace and what it publishes carries it on."""
    app = _sending_app()
    seen: list[Invocation] = []
    fulfil = app.function("fulfil").handler

    def observed(msg: Message[Order]) -> None:
        invocation = portafunc.current_invocation()
        assert invocation is not None
        seen.append(invocation)
        fulfil(msg)

    app.function("fulfil").handler = observed
    answer = cloud.http(app, "POST", "/orders", json={"id": "o-1", "total": 9.5},
                        headers={"traceparent": CALLER, "tracestate": "vendor=1"})
    assert answer.status == 201
    [sent] = portafunc.queue("orders").receive()
    version, trace_id, parent, flags = sent.attributes["traceparent"].split("-")
    assert (version, trace_id, flags) == ("00", "4bf92f3577b34da6a3ce929d0e0e4736", "01")
    assert parent != "00f067aa0ba902b7"  # the HTTP invocation's own span, a child of the caller's
    assert sent.attributes["tracestate"] == "vendor=1" and sent.attributes["correlation_id"] == CALLER

    assert cloud.enqueue(app, "orders", [sent]).ok
    [consumer] = seen
    assert consumer.trace.trace_id == trace_id and consumer.trace.parent_id == parent
    assert consumer.correlation_id == CALLER  # one correlation id from the request to the work it queued
    [shipped] = portafunc.queue("shipments").receive()
    assert shipped.attributes["traceparent"] == f"00-{trace_id}-{consumer.trace.span_id}-01"


def test_queue_receive_shows_what_a_message_handler_sent(cloud) -> None:
    result = cloud.enqueue(_sending_app(), "orders", [{"id": "o-1", "total": 1}, {"id": "o-2", "total": 2}])
    assert result.ok
    sent = portafunc.queue("shipments").receive(10)
    assert [m.json() for m in sent] == [{"order": "o-1"}, {"order": "o-2"}]
    assert [m.ordering_key for m in sent] == ["o-1", "o-2"]


def test_a_queue_subscribed_to_a_topic_shows_what_a_handler_published(cloud) -> None:
    from portafunc.messaging.memory import broker

    broker().subscribe("order-events", "seen-events")  # before the handler publishes: a topic keeps nothing itself
    assert cloud.enqueue(_sending_app(), "orders", [{"id": "o-1", "total": 1}]).ok
    [published] = portafunc.queue("seen-events").receive()
    assert published.json() == {"shipped": "o-1"} and _own(published.attributes) == {"kind": "shipped"}
