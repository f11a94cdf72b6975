"""The example shop: an HTTP API (a router with CORS, typed parameters, JWT auth and Swagger UI at /docs), a topic
fan-out, a work queue, a schedule and an upload trigger; orders are kept in a key-value table and uploaded PNGs get a
thumbnail in a second bucket.

The same file deploys unchanged to AWS, Azure and Google Cloud (see README.md).
"""

from __future__ import annotations

import portafunc
from orders_api import Order, api
from portafunc import App, Cors, Message, ScheduleEvent, StorageEvent
from thumbnails import NotAThumbnailableImage, thumbnail

# The storefront at https://shop.example calls the API from the browser; Swagger UI is served at /docs.
app = App("shop", cors=Cors(allow_origins=["https://shop.example"], allow_headers=["Content-Type", "Authorization"]),
          docs_route="/docs")
app.include_router(api)
thumbnails = portafunc.bucket("thumbnails")


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


@app.storage("uploads", events=["created"], uses=[thumbnails])
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
    thumbnails.put(evt.key, small, content_type="image/png")
    print(f"thumbnail thumbnails/{evt.key} ({len(small)} bytes)")
