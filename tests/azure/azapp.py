"""A test app exercising every trigger the Azure adapter carries; handlers record what they saw."""

from __future__ import annotations

from portafunc import App, HttpRequest, HttpResponse, Message, NonRetryableError, ScheduleEvent, StorageEvent
from pydantic import BaseModel

app = App("aztest")
SEEN: list[tuple[str, object]] = []


class Order(BaseModel):
    id: str
    total: float


@app.http(["GET", "POST"], "/echo/{name}")
def echo(req: HttpRequest) -> HttpResponse:
    resp = HttpResponse.json({
        "method": req.method, "path": req.path, "params": req.path_params, "query": req.query,
        "headers": req.headers.to_multi(), "cookies": req.cookies, "body_hex": req.body.hex(),
    })
    resp.set_cookie("a", "1", path="/")
    resp.set_cookie("b", "2", httponly=True)
    resp.headers.add("X-Multi", "one")
    resp.headers.add("X-Multi", "two")
    return resp


@app.http("GET", "/files/{path+}", auth="function")
def files(req: HttpRequest) -> HttpResponse:
    return HttpResponse(status=200, headers={"Content-Type": "application/octet-stream"},
                        body=bytes(range(256)) + req.path_params["path"].encode())


@app.http("POST", "/orders")
def create(req: HttpRequest, order: Order) -> HttpResponse:
    return HttpResponse.json({"id": order.id}, status=201)


@app.queue("work", max_attempts=3)
def work(msg: Message[Order]) -> None:
    SEEN.append(("work", msg))
    if msg.body.total < 0:
        raise NonRetryableError("negative total")
    if msg.attributes.get("fail") == "yes":
        raise RuntimeError("transient failure")


@app.topic("events")
def on_event(msg: Message) -> None:
    SEEN.append(("events", msg))
    if msg.attributes.get("fail") == "yes":
        raise RuntimeError("cannot handle now")


@app.storage("uploads", events=["created", "deleted"], prefix="in/")
def on_blob(evt: StorageEvent) -> None:
    SEEN.append(("uploads", evt))
    if evt.key.endswith(".boom"):
        raise RuntimeError("blob handler failed")


@app.schedule(cron="30 2 * * 1")
def weekly(evt: ScheduleEvent) -> None:
    SEEN.append(("weekly", evt))
