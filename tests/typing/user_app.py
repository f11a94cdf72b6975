"""A user's app as a type checker sees it: must check clean under mypy --strict and pyright (strict).

Never imported by the tests: tests/typing/test_typing.py hands it to the checkers, like a user's CI would.
"""

from __future__ import annotations

from pydantic import BaseModel
from typing import Any

from typing_extensions import assert_type, reveal_type

import portafunc
from portafunc import App, HttpRequest, HttpResponse, Message, ScheduleEvent, StorageEvent

app = App("typed")


class Order(BaseModel):
    id: str
    total: float


@app.queue("orders", batch_size=5, dead_letter="orders-dead", idempotency_key="body.id")
def fulfil(msg: Message[Order]) -> None:
    assert_type(msg.body, Order)  # the model, not Any
    assert_type(msg.body.total, float)
    assert_type(msg.attributes, dict[str, str])
    assert_type(msg.delivery_attempt, int)
    reveal_type(msg.body)


@app.topic("order-events", max_attempts=3)
def audit(msg: Message) -> None:  # a bare Message is Message[Any]: body is the parsed JSON
    assert_type(msg, Message[Any])
    portafunc.topic("audit-log").publish({"seen": msg.id}, attributes={"kind": "audit"})


@app.http("POST", "/orders/{shop}", auth="function")
def create_order(req: HttpRequest, order: Order) -> HttpResponse:
    portafunc.queue("orders").send(order)
    resp = HttpResponse.json({"shop": req.path_params["shop"], "id": order.id}, status=201)
    return resp.set_cookie("last-order", order.id, max_age=3600, samesite="Strict")


@app.schedule("rate(5 minutes)")
def nightly(evt: ScheduleEvent) -> None:
    assert_type(evt.time.isoformat(), str)


@app.storage("uploads", events=["created"], prefix="in/")
def on_upload(evt: StorageEvent) -> int | None:
    return evt.size


# The decorators hand back the function itself: same parameters, same return type.
reveal_type(fulfil)
reveal_type(create_order)
assert_type(on_upload(StorageEvent("uploads", "in/a.txt")), int | None)
assert_type(create_order(HttpRequest("POST", "/orders/acme"), Order(id="o-1", total=1.0)), HttpResponse)
fulfil(Message(id="m-1", data=b'{"id": "o-1", "total": 1}'))
