"""Sample app for the local runner's end-to-end tests. Every side effect is appended to $RUNNER_LOG (one JSON line)."""

from __future__ import annotations

import json
import os
import time

import portafunc
from portafunc import App, HttpRequest, HttpResponse, Message, ScheduleEvent, StorageEvent
from pydantic import BaseModel

from helpers import VERSION

app = App("sample")


def record(**fields: object) -> None:
    with open(os.environ["RUNNER_LOG"], "a", encoding="utf-8") as fh:
        fh.write(json.dumps(fields) + "\n")


class Item(BaseModel):
    name: str
    qty: int


@app.http("GET", "/echo/{name}")
def echo(req: HttpRequest) -> HttpResponse:
    resp = HttpResponse.json({
        "name": req.path_params["name"], "path": req.path, "query": req.query,
        "x_multi": req.headers.get_all("x-multi"), "client_ip": req.client_ip, "cookies": req.cookies,
    })
    resp.headers.add("X-Multi-Out", "one")
    resp.headers.add("X-Multi-Out", "two")
    resp.set_cookie("a", "1", path="/").set_cookie("b", "2", httponly=True)
    return resp


@app.http("POST", "/items")
def create_item(req: HttpRequest, item: Item) -> HttpResponse:
    return HttpResponse.json({"name": item.name, "qty": item.qty}, status=201)


@app.http("PUT", "/blob")
def blob(req: HttpRequest) -> HttpResponse:
    return HttpResponse(200, {"Content-Type": "application/octet-stream"}, bytes(reversed(req.body)))


@app.http("GET", "/version")
def version(req: HttpRequest) -> str:
    return VERSION


@app.http("GET", "/slow")
def slow(req: HttpRequest) -> str:
    record(event="slow-start")
    time.sleep(float(req.query_one("s", "10") or 10))
    return "done"


@app.http("POST", "/send/flaky", uses=[portafunc.sends("flaky")])
def send_flaky(req: HttpRequest) -> HttpResponse:
    portafunc.queue("flaky").send(req.json())
    return HttpResponse(202)


@app.http("POST", "/send/doomed", uses=[portafunc.sends("doomed")])
def send_doomed(req: HttpRequest) -> HttpResponse:
    portafunc.queue("doomed").send(req.json())
    return HttpResponse(202)


@app.http("POST", "/send/parked", uses=[portafunc.sends("parked")])
def send_parked(req: HttpRequest) -> HttpResponse:
    """Nobody consumes 'parked': what is sent stays queued (the shutdown summary must report it)."""
    portafunc.queue("parked").send(req.json())
    return HttpResponse(202)


@app.http("POST", "/publish/news", uses=[portafunc.publishes("news")])
def publish_news(req: HttpRequest) -> HttpResponse:
    portafunc.topic("news").publish(req.json(), attributes={"kind": "news"})
    return HttpResponse(202)


@app.queue("flaky", batch_size=1, max_attempts=3)
def flaky(msg: Message) -> None:
    record(function="flaky", id=msg.body["id"], attempt=msg.delivery_attempt)
    if msg.delivery_attempt == 1:
        raise RuntimeError("first delivery always fails")


@app.queue("doomed", max_attempts=2)
def doomed(msg: Message) -> None:
    record(function="doomed", id=msg.body["id"], attempt=msg.delivery_attempt)
    raise RuntimeError("this consumer always fails")


@app.topic("news")
def reader_a(msg: Message) -> None:
    record(function="reader_a", body=msg.body, attributes=msg.attributes)


@app.topic("news")
def reader_b(msg: Message) -> None:
    record(function="reader_b", body=msg.body, attributes=msg.attributes)


@app.schedule(cron="0 3 * * *")
def nightly(evt: ScheduleEvent) -> None:
    record(function="nightly", time=evt.time.isoformat())


@app.schedule("rate(1 minute)")
def broken_job(evt: ScheduleEvent) -> None:
    raise RuntimeError("the job is broken")


@app.storage("uploads", events=["created"], prefix="in/")
def on_upload(evt: StorageEvent) -> None:
    record(function="on_upload", bucket=evt.bucket, key=evt.key, kind=evt.kind)


@app.storage("incoming", events=["created"])
def on_incoming(evt: StorageEvent) -> None:
    record(function="on_incoming", key=evt.key, size=evt.size, data=evt.read().decode())


@app.storage("incoming", events=["deleted"])
def on_removed(evt: StorageEvent) -> None:
    record(function="on_removed", key=evt.key, exists=portafunc.bucket("incoming").exists(evt.key))
