"""A deliberately awkward app for the deploy checks: a helper module publishes, a queue has a dead letter, HTTP and
queue functions are idempotent, functions read secrets and have their own memory/timeout, two stages, many routes."""

from __future__ import annotations

import os

import portafunc
from portafunc import App, HttpRequest, HttpResponse, Message, ScheduleEvent, StorageEvent, publishes, sends
from pydantic import BaseModel

from notifications import order_event

app = App("awkward")


class Order(BaseModel):
    id: str
    total: float


@app.http("POST", "/orders", idempotent=True, uses=[sends("work"), publishes("order-events")])
def create_order(req: HttpRequest, order: Order) -> HttpResponse:
    portafunc.queue("work").send(order)
    order_event("created", order.id)
    return HttpResponse.json({"id": order.id}, status=201)


@app.http(["GET", "HEAD"], "/orders/{order_id}")
def get_order(req: HttpRequest) -> HttpResponse:
    return HttpResponse.json({"id": req.path_params["order_id"]})


@app.http("PUT", "/orders/{order_id}", uses=[publishes("order-events")])
def update_order(req: HttpRequest, order: Order) -> HttpResponse:
    order_event("updated", req.path_params["order_id"])
    return HttpResponse.json({"id": req.path_params["order_id"], "total": order.total})


@app.http("DELETE", "/orders/{order_id}", uses=[publishes("order-events")])
def cancel_order(req: HttpRequest) -> HttpResponse:
    order_event("cancelled", req.path_params["order_id"])
    return HttpResponse(204)


@app.http("GET", "/orders/{order_id}/items/{item_id}")
def get_item(req: HttpRequest) -> HttpResponse:
    return HttpResponse.json(dict(req.path_params))


@app.http("GET", "/files/{path+}")
def get_file(req: HttpRequest) -> HttpResponse:
    return HttpResponse.json({"path": req.path_params["path"]})


@app.http("GET", "/health")
def health(req: HttpRequest) -> HttpResponse:
    """Says whether the configured secret reached the function (never its value)."""
    return HttpResponse.json({"ok": True, "secret_set": bool(os.environ.get("PAYMENT_API_KEY")),
                              "stage": os.environ.get("PORTAFUNC_STAGE")})


@app.queue("work", visibility_timeout=180, max_attempts=5, dead_letter="work-failed", idempotency_key="body.id")
def process_work(msg: Message[Order]) -> None:
    if msg.body.total < 0:
        raise portafunc.NonRetryableError(f"order {msg.body.id} has a negative total")


@app.topic("order-events", max_attempts=5)
def audit(msg: Message) -> None:
    print(f"audit {msg.attributes.get('kind')} {msg.json()}")


@app.schedule(cron="0 3 * * *")
def nightly_report(evt: ScheduleEvent) -> None:
    print(f"report at {evt.time.isoformat()}")


@app.storage("uploads", events=["created"], prefix="in/")
def on_upload(evt: StorageEvent) -> None:
    print(f"uploaded {evt.key}")
