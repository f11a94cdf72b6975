"""OpenTelemetry spans and metrics through every target's real entry point (the contract kit's drivers: the Lambda
handler, the generated Azure FunctionApp, functions-framework's Flask app), recorded by the OpenTelemetry SDK's
in-memory span exporter and metric reader.

A request carrying a ``traceparent`` is a SERVER span under the caller's span; what its handler sends is a PRODUCER
span under it, and the message carries that span as ``traceparent``; the consuming handler's CONSUMER span is that
producer span's child — one trace. Failures mark the span as an error with the exception recorded.
"""

from __future__ import annotations

import pytest
from otel_support import Recorded, hex_ids, recording

import portafunc
from portafunc import App, HttpRequest, HttpResponse, Message, NonRetryableError
from portafunc.context import Invocation

CALLER = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"  # the W3C specification's example
TRACE_ID, CALLER_SPAN = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"


@pytest.fixture
def telemetry():
    with recording() as recorded:
        yield recorded


def _app(seen: list[Invocation]) -> App:
    app = App("otel")

    @app.http("POST", "/orders/{id}", uses=[portafunc.sends("orders")])
    def create(req: HttpRequest) -> HttpResponse:
        portafunc.queue("orders").send({"id": req.path_params["id"]})
        return HttpResponse.json({"id": req.path_params["id"]}, status=201)

    @app.http("GET", "/broken")
    def broken(req: HttpRequest) -> HttpResponse:
        raise ValueError("database unreachable")

    @app.queue("orders", dead_letter="orders-failed")
    def fulfil(msg: Message) -> None:
        invocation = portafunc.current_invocation()
        assert invocation is not None
        seen.append(invocation)
        body = msg.json()
        if body.get("poison"):
            raise NonRetryableError("cannot be fulfilled")
        if body.get("fail"):
            raise RuntimeError("warehouse down")

    @app.schedule("rate(1 hour)")
    def nightly(evt: object) -> None:
        pass

    return app


def test_a_request_its_message_and_the_consumer_are_one_trace(cloud, telemetry: Recorded) -> None:
    seen: list[Invocation] = []
    app = _app(seen)
    answer = cloud.http(app, "POST", "/orders/o-7", headers={"traceparent": CALLER, "host": "shop.example.com",
                                                                "user-agent": "curl/8.5"})
    assert answer.status == 201

    server = telemetry.span("SERVER")
    trace_id, server_id, parent = hex_ids(server)
    assert (trace_id, parent) == (TRACE_ID, CALLER_SPAN)  # the caller's span is the parent
    assert server.name == "POST /orders/{id}"
    attributes = dict(server.attributes or {})
    assert {k: attributes[k] for k in ("http.request.method", "url.path", "http.route", "http.response.status_code",
                                       "server.address", "user_agent.original", "faas.trigger", "faas.name")} == {
        "http.request.method": "POST", "url.path": "/orders/o-7", "http.route": "/orders/{id}",
        "http.response.status_code": 201, "server.address": "shop.example.com", "user_agent.original": "curl/8.5",
        "faas.trigger": "http", "faas.name": "create"}
    # the provider of a function target; a container runs on several providers' platforms, so it names none
    assert attributes.get("cloud.provider") == (None if cloud.name == "container" else cloud.name)
    assert attributes["faas.invocation_id"] and isinstance(attributes["faas.coldstart"], bool)

    producer = telemetry.span("PRODUCER")
    _, producer_id, producer_parent = hex_ids(producer)
    assert producer_parent == server_id and producer.name == "send orders"
    assert producer.attributes["messaging.destination.name"] == "orders"
    assert producer.attributes["messaging.operation.type"] == "send"

    [sent] = portafunc.queue("orders").receive()
    assert sent.attributes["traceparent"] == f"00-{TRACE_ID}-{producer_id}-01"  # the producer span is the parent
    assert sent.attributes["correlation_id"] == CALLER

    assert cloud.enqueue(app, "orders", [sent]).ok
    consumer = telemetry.span("CONSUMER")
    assert hex_ids(consumer)[0] == TRACE_ID and hex_ids(consumer)[2] == producer_id
    assert consumer.name == "process orders"
    assert consumer.attributes["messaging.operation.type"] == "process"
    assert consumer.attributes["faas.trigger"] == "pubsub"
    assert consumer.attributes.get("cloud.provider") == (None if cloud.name == "container" else cloud.name)
    assert consumer.status.is_ok
    [invocation] = seen  # log lines and what the consumer sends name its span
    assert (invocation.trace.trace_id, invocation.trace.span_id) == hex_ids(consumer)[:2]


def test_a_failure_marks_the_span_as_an_error(cloud, telemetry: Recorded) -> None:
    app = _app([])
    assert cloud.http(app, "GET", "/broken").status == 500
    server = telemetry.span("SERVER")
    assert server.status.status_code.name == "ERROR"
    assert server.attributes["http.response.status_code"] == 500
    assert server.attributes["error.type"] == "builtins.ValueError"
    [event] = server.events
    assert event.name == "exception" and event.attributes["exception.type"] == "ValueError"
    assert event.attributes["exception.message"] == "database unreachable"

    assert not cloud.enqueue(app, "orders", [{"fail": True}]).ok
    consumer = telemetry.span("CONSUMER")
    assert consumer.status.status_code.name == "ERROR" and consumer.attributes["portafunc.outcome"] == "retry"
    assert [e.attributes["exception.type"] for e in consumer.events] == ["RuntimeError"]


def test_a_client_error_is_not_a_server_span_error(cloud, telemetry: Recorded) -> None:
    """Semantic conventions: a 4xx is the caller's failure, not the server span's."""
    app = App("strict")

    @app.http("POST", "/pay")
    def pay(req: HttpRequest) -> HttpResponse:
        return HttpResponse.json({"error": "card declined"}, status=402)

    assert cloud.http(app, "POST", "/pay").status == 402
    server = telemetry.span("SERVER")
    assert server.status.status_code.name == "UNSET" and server.attributes["http.response.status_code"] == 402


def test_metrics_count_invocations_errors_durations_and_dead_letters(cloud, telemetry: Recorded) -> None:
    app = _app([])
    delivery = cloud.enqueue(app, "orders", [{"id": "a"}, {"fail": True}, {"poison": True}])
    assert len(delivery.failed_ids) == 1  # the retryable one; the poison one went to the dead-letter queue
    assert len(cloud.dead_letters(app, "fulfil")) == 1

    assert telemetry.total("faas.invocations", **{"faas.name": "fulfil", "faas.trigger": "pubsub"}) == 3
    assert telemetry.total("faas.errors", **{"faas.name": "fulfil"}) == 2
    assert telemetry.total("faas.invoke_duration", **{"faas.name": "fulfil"}) == 3  # one recording per message
    assert telemetry.total("portafunc.messages.dead_lettered", **{"faas.name": "fulfil"}) == 1
    consumers = telemetry.spans("CONSUMER")
    assert sorted(s.attributes["portafunc.outcome"] for s in consumers) == ["dead_lettered", "retry", "success"]
    # the dead letter is sent from inside the failing message's span
    dead = next(s for s in consumers if s.attributes["portafunc.outcome"] == "dead_lettered")
    [forward] = telemetry.spans("PRODUCER")
    assert hex_ids(forward)[2] == hex_ids(dead)[1] and forward.attributes["messaging.destination.name"] == \
        "orders-failed"
    if cloud.name == "aws":  # SQS delivers batches; Pub/Sub push and the Azure queue trigger one message at a time
        [size] = telemetry.metric_points("portafunc.batch.size")
        assert (size.count, size.sum) == (1, 3)


def test_a_schedule_is_a_timer_invocation(cloud, telemetry: Recorded) -> None:
    assert cloud.schedule(_app([]), "nightly").ok
    span = telemetry.span("SERVER")
    assert span.name == "nightly" and span.attributes["faas.trigger"] == "timer"
    assert span.attributes["faas.time"].startswith("2026-01-01T03:00:00")


def test_without_instrumentation_no_span_is_recorded(cloud) -> None:
    with recording() as telemetry:
        pass  # instrumented, then turned off again
    app = _app([])
    assert cloud.http(app, "POST", "/orders/o-1", headers={"traceparent": CALLER}).status == 201
    assert telemetry.spans() == [] and telemetry.metric_points("faas.invocations") == []
    [sent] = portafunc.queue("orders").receive()
    assert sent.attributes["traceparent"].split("-")[1] == TRACE_ID  # trace context still goes through every hop


def test_a_platform_span_around_the_invocation_is_kept(cloud, telemetry: Recorded) -> None:
    """A host that instruments the invocation itself (the ADOT Lambda wrapper, Azure's worker) has a span current
    when portafunc runs: the request's span is its child; a message still continues its producer's trace, with a
    link to the host's span."""
    from opentelemetry import trace

    tracer = trace.get_tracer("host", tracer_provider=telemetry.tracer_provider)
    app = _app([])
    with tracer.start_as_current_span("host invocation") as host:
        assert cloud.http(app, "POST", "/orders/o-1", headers={"traceparent": CALLER}).status == 201
    host_trace, host_span = f"{host.get_span_context().trace_id:032x}", f"{host.get_span_context().span_id:016x}"
    server = telemetry.span("SERVER")
    assert hex_ids(server)[0] == host_trace and hex_ids(server)[2] == host_span

    [sent] = portafunc.queue("orders").receive()
    with tracer.start_as_current_span("host batch") as batch:
        assert cloud.enqueue(app, "orders", [sent]).ok
    consumer = telemetry.span("CONSUMER")
    producer = telemetry.span("PRODUCER")
    assert hex_ids(consumer)[2] == hex_ids(producer)[1]  # the producer stays the parent
    assert [link.context.span_id for link in consumer.links] == [batch.get_span_context().span_id]
