"""The app the AWS adapter tests run: one function per trigger, recording what each handler saw in SEEN."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

import portafunc
from portafunc import App, HttpRequest, HttpResponse, Message, ScheduleEvent, StorageEvent

app = App("awstest")
SEEN: list[tuple[str, Any]] = []


class Order(BaseModel):
    id: str
    total: float


@app.http(["GET", "POST"], "/items/{item_id}")
def item(req: HttpRequest) -> HttpResponse:
    resp = HttpResponse.json({
        "method": req.method, "path": req.path, "item_id": req.path_params.get("item_id"),
        "query": req.query, "cookies": req.cookies, "body": req.body.decode("utf-8", "replace"),
        "x_multi": req.headers.get_all("x-multi"),
    })
    resp.headers.add("X-Repeated", "one")
    resp.headers.add("X-Repeated", "two")
    resp.set_cookie("session", "abc", path="/", httponly=True)
    resp.set_cookie("theme", "dark")
    return resp


@app.http("GET", "/binary")
def binary(req: HttpRequest) -> HttpResponse:
    return HttpResponse(200, headers={"Content-Type": "image/png"}, body=b"\x89PNG\r\n\x1a\n\x00\xff")


@app.http("POST", "/orders", uses=[portafunc.sends("work"), portafunc.publishes("events")])
def create_order(req: HttpRequest, order: Order) -> HttpResponse:
    portafunc.queue("work").send(order, attributes={"source": "http"})
    portafunc.topic("events").publish({"id": order.id}, attributes={"kind": "created"})
    return HttpResponse.json({"id": order.id}, status=201)


def _record(function: str, msg: Message[Any]) -> None:
    SEEN.append((function, {"id": msg.id, "data": msg.data, "attributes": dict(msg.attributes),
                            "attempt": msg.delivery_attempt, "ordering_key": msg.ordering_key}))
    if msg.data.startswith(b"{") and msg.json().get("fail"):
        raise RuntimeError(f"told to fail: {msg.id}")


@app.queue("work", max_attempts=3)
def work(msg: Message) -> None:
    _record("work", msg)


@app.queue("ordered", ordered=True)
def ordered(msg: Message) -> None:
    _record("ordered", msg)


@app.queue("typed")
def typed(msg: Message[Order]) -> None:
    SEEN.append(("typed", msg.body))


@app.topic("events", name="audit_a")
def audit_a(msg: Message) -> None:
    _record("audit_a", msg)


@app.topic("events", name="audit_b")
def audit_b(msg: Message) -> None:
    _record("audit_b", msg)


@app.storage("uploads", events=["created", "deleted"])
def on_upload(evt: StorageEvent) -> None:
    SEEN.append(("on_upload", (evt.bucket, evt.key, evt.kind, evt.size)))
    if evt.key.startswith("fail"):
        raise RuntimeError("told to fail")


@app.schedule("rate(5 minutes)")
def tick(evt: ScheduleEvent) -> None:
    SEEN.append(("tick", evt.time))
    if evt.time.year == 1999:
        raise RuntimeError("told to fail")
