"""One trace from an HTTP request through an Azure Storage Queue on Azurite to the consuming function, exported by
the OpenTelemetry SDK over OTLP/HTTP to a receiver started by the test: the request (the generated FunctionApp's HTTP
function), the PRODUCER span of the send to Azurite, and the CONSUMER span of the queue function fed the received
message as the Functions host hands it over (``MessageText`` as stored, with its id, dequeue count and times)."""

from __future__ import annotations

from typing import Any

import pytest
from azure.storage.queue import QueueClient
from otel_support import CALLER, exporting, one_trace

import portafunc
from portafunc import App, HttpRequest, HttpResponse, Message
from portafunc.targets import get_target
from portafunc.testing import Cloud

pytestmark = pytest.mark.emulator


def _app(seen: list[Any]) -> App:
    app = App("shop")

    @app.http("POST", "/orders", uses=[portafunc.sends("orders")])
    def create(req: HttpRequest) -> HttpResponse:
        portafunc.queue("orders").send({"id": "o-1"})
        return HttpResponse(status=202)

    @app.queue("orders")
    def fulfil(msg: Message) -> None:
        seen.append(msg.json())

    return app


def test_a_request_through_a_storage_queue_is_one_trace(storage_env: str, unique: str,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    name = f"orders-{unique}"
    client = QueueClient.from_connection_string(storage_env, name)
    client.create_queue()
    monkeypatch.setenv("PORTAFUNC_QUEUE_ORDERS", f"azqueue://devstoreaccount1/{name}")
    seen: list[Any] = []
    app = _app(seen)
    with exporting("shop-azure") as (receiver, tracer_provider, meter_provider):
        assert Cloud("azure").http(app, "POST", "/orders", headers={"traceparent": CALLER}).status == 202
        [received] = list(client.receive_messages(max_messages=1, visibility_timeout=30))
        assert received.inserted_on is not None and received.expires_on is not None
        native = {"Id": received.id, "DequeueCount": received.dequeue_count, "PopReceipt": received.pop_receipt,
                  "InsertionTime": received.inserted_on.isoformat(),
                  "ExpirationTime": received.expires_on.isoformat(), "MessageText": received.content}
        assert not get_target("azure").invoke(app, "fulfil", native)["failed"]
        client.delete_message(received)
        assert tracer_provider.force_flush() and meter_provider.force_flush()
        server, producer, consumer = one_trace(receiver, "shop-azure")
        assert {"faas.invocations", "faas.invoke_duration"} <= receiver.metric_names()
    assert seen == [{"id": "o-1"}]
    assert producer["attributes"]["messaging.system"] == "azure_storage_queue"
    assert consumer["attributes"]["messaging.system"] == "azure_storage_queue"
    assert server["attributes"]["cloud.provider"] == "azure"
