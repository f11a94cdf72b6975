"""One trace from an HTTP request through SNS and SQS on moto (server mode) to the consuming function, exported by
the OpenTelemetry SDK over OTLP/HTTP to a receiver started by the test: the request's SERVER span, the PRODUCER span of
the SNS publish, and the CONSUMER span of the function fed the SQS message as Lambda's event source mapping does."""

from __future__ import annotations

from typing import Any

import pytest
from otel_support import CALLER, exporting, one_trace
from test_moto_e2e import event_source_mapping, receive_all

import portafunc
from portafunc import App, HttpRequest, HttpResponse, Message
from portafunc.testing import Cloud
from portafunc_aws import runtime

pytestmark = pytest.mark.emulator


def _app(seen: list[Any]) -> App:
    app = App("shop")

    @app.http("POST", "/orders", uses=[portafunc.publishes("orders")])
    def create(req: HttpRequest) -> HttpResponse:
        portafunc.topic("orders").publish({"id": "o-1"})
        return HttpResponse(status=202)

    @app.topic("orders")
    def fulfil(msg: Message) -> None:
        seen.append(msg.json())

    return app


def test_a_request_through_sns_and_sqs_is_one_trace(boto: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    topic_arn = boto.sns.create_topic(Name="orders")["TopicArn"]
    url, arn = boto.queue("orders-fulfil")
    boto.sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=arn)  # SNS envelopes, as the packager sets up
    monkeypatch.setenv("PORTAFUNC_TOPIC_ORDERS", f"sns://{topic_arn}")
    seen: list[Any] = []
    app = _app(seen)
    with exporting("shop-aws") as (receiver, tracer_provider, meter_provider):
        assert Cloud("aws").http(app, "POST", "/orders", headers={"traceparent": CALLER}).status == 202
        received = receive_all(boto, url, 1)
        assert event_source_mapping(boto, runtime.bind(app, "fulfil"), url, arn, received) == []
        assert tracer_provider.force_flush() and meter_provider.force_flush()
        server, producer, consumer = one_trace(receiver, "shop-aws")
        assert {"faas.invocations", "faas.invoke_duration", "portafunc.batch.size"} <= receiver.metric_names()
    assert seen == [{"id": "o-1"}]
    assert producer["attributes"]["messaging.system"] == "aws.sns"
    assert consumer["attributes"]["messaging.system"] == "aws.sns"
    assert server["attributes"]["cloud.region"] == consumer["attributes"]["cloud.region"] == "us-east-1"


def test_a_full_sqs_message_carries_the_producer_span_as_aws_trace_header(boto: Any,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """Ten attributes of the handler's own leave no room for ``traceparent``: the PRODUCER span goes as SQS's
    ``AWSTraceHeader`` system attribute, and the CONSUMER span is still its child."""
    url, arn = boto.queue("orders-full")
    monkeypatch.setenv("PORTAFUNC_QUEUE_WORK", "sqs://" + url.split("://", 1)[1])
    own = {f"attr{i}": str(i) for i in range(10)}
    app = App("shop")

    @app.http("POST", "/orders", uses=[portafunc.sends("work")])
    def create(req: HttpRequest) -> HttpResponse:
        portafunc.queue("work").send({"id": "o-1"}, attributes=own)
        return HttpResponse(status=202)

    @app.queue("work")
    def fulfil(msg: Message) -> None:
        pass

    with exporting("shop-aws") as (receiver, tracer_provider, meter_provider):
        assert Cloud("aws").http(app, "POST", "/orders", headers={"traceparent": CALLER}).status == 202
        [received] = receive_all(boto, url, 1)
        assert event_source_mapping(boto, runtime.bind(app, "fulfil"), url, arn, [received]) == []
        assert tracer_provider.force_flush() and meter_provider.force_flush()
        _, producer, _ = one_trace(receiver, "shop-aws")
    assert {k: v["StringValue"] for k, v in received["MessageAttributes"].items()} == own
    trace_id = producer["trace_id"]
    assert received["Attributes"]["AWSTraceHeader"] == \
        f"Root=1-{trace_id[:8]}-{trace_id[8:]};Parent={producer['span_id']};Sampled=1"
