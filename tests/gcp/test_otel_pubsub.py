"""One trace from an HTTP request through the Pub/Sub emulator to the consuming function, exported by the
OpenTelemetry SDK over OTLP/HTTP to a receiver started by the test: the request (functions-framework's Flask app
serving the generated entry), the PRODUCER span of the publish to the emulator, and the CONSUMER span of the function
fed the pulled message as a push subscription delivers it (the raw push envelope)."""

from __future__ import annotations

import base64
import uuid
from typing import Any

import pytest
from otel_support import CALLER, exporting, one_trace

import portafunc
from portafunc import App, HttpRequest, HttpResponse, Message
from portafunc.messaging import reset
from portafunc.targets import get_target
from portafunc.testing import Cloud

pytestmark = pytest.mark.emulator
PROJECT = "portafunc-otel"


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


def test_a_request_through_pubsub_is_one_trace(emulator_env: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from google.cloud import pubsub_v1

    name = f"orders-{uuid.uuid4().hex[:8]}"
    publisher, subscriber = pubsub_v1.PublisherClient(), pubsub_v1.SubscriberClient()
    topic_path = publisher.create_topic(name=f"projects/{PROJECT}/topics/{name}").name
    subscription = subscriber.create_subscription(
        request={"name": f"projects/{PROJECT}/subscriptions/{name}-fulfil", "topic": topic_path}).name
    monkeypatch.setenv("PORTAFUNC_TOPIC_ORDERS", f"pubsub://{topic_path}")
    reset()
    seen: list[Any] = []
    app = _app(seen)
    with exporting("shop-gcp") as (receiver, tracer_provider, meter_provider):
        assert Cloud("gcp").http(app, "POST", "/orders", headers={"traceparent": CALLER}).status == 202
        [pulled] = subscriber.pull(request={"subscription": subscription, "max_messages": 1}, timeout=30
                                   ).received_messages
        message = pulled.message
        push = {"subscription": subscription, "deliveryAttempt": 1,
                "message": {"data": base64.b64encode(message.data).decode(), "messageId": message.message_id,
                            "publishTime": message.publish_time.isoformat(),
                            "attributes": dict(message.attributes)}}
        assert get_target("gcp").invoke(app, "fulfil", push)["statusCode"] == 200
        subscriber.acknowledge(request={"subscription": subscription, "ack_ids": [pulled.ack_id]})
        assert tracer_provider.force_flush() and meter_provider.force_flush()
        server, producer, consumer = one_trace(receiver, "shop-gcp")
        assert {"faas.invocations", "faas.invoke_duration"} <= receiver.metric_names()
    assert seen == [{"id": "o-1"}]
    assert producer["attributes"]["messaging.system"] == consumer["attributes"]["messaging.system"] == "gcp_pubsub"
    assert consumer["attributes"]["messaging.message.id"] == message.message_id
    assert server["attributes"]["cloud.provider"] == "gcp"
