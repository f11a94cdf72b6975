"""The example shop: an HTTP API, a topic fan-out, a work queue, a schedule and an upload trigger.

The same file deploys unchanged to AWS, Azure and Google Cloud (see README.md).
"""

from __future__ import annotations

import portafunc
from portafunc import App, HttpRequest, HttpResponse, Message, ScheduleEvent, StorageEvent
from pydantic import BaseModel

app = App("shop")


class Order(BaseModel):
    id: str
    total: float


@app.http("POST", "/orders/{shop}", uses=[portafunc.sends("orders"), portafunc.publishes("order-events")])
def create_order(req: HttpRequest, order: Order) -> HttpResponse:
    """Accept an order and hand it to the fulfilment queue; announce it on the order-events topic."""
    portafunc.queue("orders").send(order, attributes={"shop": req.path_params["shop"]})
    portafunc.topic("order-events").publish({"id": order.id}, attributes={"kind": "created"})
    return HttpResponse.json({"shop": req.path_params["shop"], "id": order.id}, status=201)


@app.http(["GET", "HEAD"], "/orders/{shop}/{order_id}")
def get_order(req: HttpRequest) -> HttpResponse:
    return HttpResponse.json({"shop": req.path_params["shop"], "id": req.path_params["order_id"]})


@app.queue("orders", batch_size=10, max_attempts=5)
def fulfil(msg: Message[Order]) -> None:
    """Fulfil one order. An order with a negative total is a bug upstream: retrying cannot fix it."""
    if msg.body.total < 0:
        raise portafunc.NonRetryableError(f"order {msg.body.id} has a negative total")


@app.topic("order-events")
def audit(msg: Message) -> None:
    print(f"audit: {msg.json()} {msg.attributes}")


@app.schedule("rate(5 minutes)")
def nightly(evt: ScheduleEvent) -> None:
    print(f"report at {evt.time.isoformat()}")


@app.storage("uploads", events=["created"])
def on_upload(evt: StorageEvent) -> None:
    print(f"uploaded {evt.bucket}/{evt.key} ({evt.size} bytes)")
