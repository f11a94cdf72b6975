"""A user's app as a type checker sees it: must check clean under mypy --strict and pyright (strict).

Never imported by the tests: tests/typing/test_typing.py hands it to the checkers, like a user's CI would.
"""

from __future__ import annotations

from pydantic import BaseModel
from enum import Enum
from typing import Annotated, Any

from typing_extensions import assert_type, reveal_type

import portafunc
from portafunc import (App, FormData, Header, HttpError, HttpRequest, HttpResponse, Message, Path, Query,
                       ScheduleEvent, StorageEvent, UploadedFile)

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


@app.http("GET", "/where")
def where(req: HttpRequest) -> str:
    assert_type(req.headers.get("host"), str | None)
    assert_type(req.url, str)
    assert_type(req.base_url + "/orders/acme", str)
    return req.headers.get("x-forwarded-proto", "http").split(",")[0]  # a str default gives a str


@app.schedule("rate(5 minutes)")
def nightly(evt: ScheduleEvent) -> None:
    assert_type(evt.time.isoformat(), str)


@app.storage("uploads", events=["created"], prefix="in/")
def on_upload(evt: StorageEvent) -> int | None:
    return evt.size


class Status(str, Enum):
    open = "open"
    shipped = "shipped"


@app.http("GET", "/shops/{shop}/orders", content_types=["application/json"])
def list_orders(req: HttpRequest, shop: Annotated[str, Path(description="the shop")], limit: int = 10,
                status: Status | None = None, x_tenant: Annotated[str, Header()] = "public",
                sort: Annotated[str, Query(alias="sort-by")] = "id") -> list[Order]:
    return [Order(id=f"{x_tenant}-{shop}-{sort}-{status}", total=float(limit))]


@app.http("POST", "/shops/{shop}/orders", response_model=Order)
def add_order(shop: str, order: Order) -> tuple[Order, int]:
    return order, 201


@app.http("POST", "/uploads")
def upload(req: HttpRequest) -> dict[str, Any]:
    form = req.form()
    assert_type(form, FormData)
    assert_type(form.get("title"), str | None)
    assert_type(form.get_all("tag"), list[str])
    doc = form.file("doc")
    assert_type(doc, UploadedFile | None)
    return {"title": form["title"], "size": doc.size if doc else 0, "name": doc.filename if doc else None}


@app.http("GET", "/links/{code}", responses={301: "redirect to the target", 404: "no such link", 200: Order,
                                             503: "try again later"})
def follow(code: str) -> HttpResponse:
    if code == "busy":
        raise HttpError(503, "the store is busy", headers={"Retry-After": "5"})
    if code != "o-1":
        raise HttpError(404, f"no link {code!r}", title="No such link")
    error = HttpError(409, "taken")
    assert_type(error.status, int)
    assert_type(error.headers, dict[str, str])
    return HttpResponse(301, {"Location": "https://example.com"})


# Handles made at module level, passed to the decorators and to uses=.
jobs, news, images, counts = portafunc.queue("jobs"), portafunc.topic("news"), portafunc.bucket("images"), \
    portafunc.kv("counts", model=Order)


@app.queue(jobs, dead_letter=portafunc.queue("jobs-failed"), uses=[images, counts, news])
def resize(msg: Message[Order]) -> None:
    assert_type(images.get(msg.body.id), bytes)
    assert_type(jobs.send({"id": msg.body.id}), str)
    news.publish({"resized": msg.body.id})
    counts.put(msg.body.id, msg.body)


@app.storage(images)
def stored(evt: StorageEvent) -> None:
    assert_type(evt.key, str)


# The decorators hand back the function itself: same parameters, same return type.
reveal_type(fulfil)
reveal_type(create_order)
assert_type(list_orders(HttpRequest("GET", "/shops/s/orders"), "s"), list[Order])
assert_type(on_upload(StorageEvent("uploads", "in/a.txt")), int | None)
assert_type(create_order(HttpRequest("POST", "/orders/acme"), Order(id="o-1", total=1.0)), HttpResponse)
fulfil(Message(id="m-1", data=b'{"id": "o-1", "total": 1}'))
