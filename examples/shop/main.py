"""The example shop: an HTTP API, a topic fan-out, a work queue, a schedule and an upload trigger; orders are kept in
a key-value table and uploaded PNGs get a thumbnail in a second bucket.

The same file deploys unchanged to AWS, Azure and Google Cloud (see README.md).
"""

from __future__ import annotations

import portafunc
from portafunc import App, HttpRequest, HttpResponse, Message, ScheduleEvent, StorageEvent
from pydantic import BaseModel
from thumbnails import NotAThumbnailableImage, thumbnail

TYPE_CHECKING = False
if TYPE_CHECKING:  # portafunc.data loads on first use, not on every cold start
    from portafunc.data import KV

app = App("shop")


class Order(BaseModel):
    id: str
    total: float


def orders() -> KV:
    """Orders by ``SHOP/ID`` (``PORTAFUNC_KV_ORDERS``: DynamoDB, Azure Table, Firestore, or memory:// locally)."""
    return portafunc.kv("orders", model=Order)


@app.http("POST", "/orders/{shop}", uses=[portafunc.sends("orders"), portafunc.publishes("order-events"),
                                          portafunc.writes(kv="orders")])
def create_order(req: HttpRequest, order: Order) -> HttpResponse:
    """Keep the order, hand it to the fulfilment queue and announce it on the order-events topic."""
    orders().put(f"{req.path_params['shop']}/{order.id}", order)
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


@app.storage("uploads", events=["created"], uses=[portafunc.writes(bucket="thumbnails")])
def on_upload(evt: StorageEvent) -> None:
    """Write a thumbnail of each uploaded PNG to the thumbnails bucket, read as it streams from the uploads bucket."""
    print(f"uploaded {evt.bucket}/{evt.key} ({evt.size} bytes)")
    if not evt.key.lower().endswith(".png"):
        return
    try:
        with evt.open() as image:
            small = thumbnail(image, size=128)
    except portafunc.KeyNotFound:
        print(f"{evt.key} is gone already: no thumbnail")
        return
    except NotAThumbnailableImage as exc:  # retrying the same bytes can never work
        raise portafunc.NonRetryableError(f"{evt.key}: {exc}") from exc
    portafunc.bucket("thumbnails").put(evt.key, small, content_type="image/png")
    print(f"thumbnail thumbnails/{evt.key} ({len(small)} bytes)")
