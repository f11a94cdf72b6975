"""A test app whose handlers write what they saw as JSON lines to $GCP_TEST_RECORD, so a test can check the exact
data, attributes and delivery attempts a function received through the real functions-framework server."""

from __future__ import annotations

import base64
import json
import os

import portafunc
from portafunc import App, HttpRequest, HttpResponse, Message, ScheduleEvent, StorageEvent

app = App("gcp-recorder")


def record(**fields: object) -> None:
    path = os.environ.get("GCP_TEST_RECORD")
    if path:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(fields) + "\n")


def _seen(msg: Message) -> dict:
    return {"id": msg.id, "data_b64": base64.b64encode(msg.data).decode(), "attributes": msg.attributes,
            "ordering_key": msg.ordering_key, "attempt": msg.delivery_attempt,
            "published_at": msg.published_at.isoformat() if msg.published_at else None}


@app.topic("events", max_attempts=5)
def on_event(msg: Message) -> None:
    """fail=always: retryable failure every time; fail=once: fails on the first delivery only."""
    record(fn="on_event", **_seen(msg))
    mode = msg.attributes.get("fail")
    if mode == "always":
        raise RuntimeError("handler failure requested by the test")
    if mode == "once":
        marker = os.environ["GCP_TEST_RECORD"] + f".{msg.id}.failed-once"
        if not os.path.exists(marker):
            open(marker, "w").close()
            raise RuntimeError("first delivery fails")


@app.queue("work", max_attempts=5)
def work(msg: Message) -> None:
    """bad=yes: a non-retryable failure (dead-lettered by the core if a destination is bound, else by Pub/Sub)."""
    record(fn="work", **_seen(msg))
    if msg.attributes.get("bad") == "yes":
        raise portafunc.NonRetryableError("this message can never succeed")


@app.http(["POST", "GET"], "/echo/{name}")
def echo(req: HttpRequest) -> HttpResponse:
    record(fn="echo", path=req.path, name=req.path_params.get("name"), query=req.query,
           body_b64=base64.b64encode(req.body).decode(), cookies=req.cookies)
    resp = HttpResponse(status=200, headers={"Content-Type": "application/octet-stream",
                                             "X-Name": req.path_params["name"]}, body=req.body[::-1])
    resp.set_cookie("a", "1", path="/")
    resp.set_cookie("b", "2", httponly=True)
    return resp


@app.storage("uploads", events=["created", "deleted"], prefix="in/")
def on_upload(evt: StorageEvent) -> None:
    record(fn="on_upload", bucket=evt.bucket, key=evt.key, kind=evt.kind, size=evt.size, etag=evt.etag)
    if evt.key.endswith(".fail"):
        raise RuntimeError("storage handler failure")


@app.schedule("rate(5 minutes)")
def tick(evt: ScheduleEvent) -> None:
    record(fn="tick", time=evt.time.isoformat())
