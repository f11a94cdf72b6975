"""The app the container tests serve: one function per trigger family. Every handler appends what it saw to the
file named by ``CONTAINER_TEST_LOG`` (the server under test is another process)."""

from __future__ import annotations

import json
import os
from typing import Any

from portafunc import App, HttpRequest, Message, NonRetryableError, ScheduleEvent, StorageEvent

app = App("boxes")


def _log(**entry: Any) -> None:
    path = os.environ.get("CONTAINER_TEST_LOG")
    if path:
        with open(path, "a", encoding="utf-8") as f:
            f.write(json.dumps(entry) + "\n")


@app.http("GET", "/hello/{name}")
def hello(req: HttpRequest) -> dict[str, Any]:
    return {"hello": req.path_params["name"], "q": req.query.get("q", []), "ip": req.client_ip}


@app.http("GET", "/where")
def where(req: HttpRequest) -> dict[str, Any]:
    return {"url": req.url, "base": req.base_url}


@app.http("POST", "/echo")
def echo(req: HttpRequest) -> dict[str, Any]:
    return {"bytes": len(req.body)}


def header_bytes_wsgi(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    """A mounted WSGI app answering with the bytes its environ holds for ``X-Name`` (PEP 3333: read as latin-1)."""
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [environ.get("HTTP_X_NAME", "").encode("latin-1").hex().encode()]


async def header_bytes_asgi(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """A mounted ASGI app answering with the bytes its scope holds for ``x-name``."""
    if scope["type"] != "http":
        return
    value = next((v for k, v in scope["headers"] if k == b"x-name"), b"")
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": value.hex().encode()})


def seen_wsgi(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    """A mounted WSGI app answering with the scheme, server and client its environ holds."""
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps({"scheme": environ["wsgi.url_scheme"], "server": [environ["SERVER_NAME"],
                                                                          int(environ["SERVER_PORT"])],
                        "client": environ.get("REMOTE_ADDR")}).encode()]


async def seen_asgi(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """A mounted ASGI app answering with the scheme, server and client its scope holds."""
    if scope["type"] != "http":
        return
    client = scope["client"]
    seen = {"scheme": scope["scheme"], "server": list(scope["server"]), "client": client[0] if client else None}
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": json.dumps(seen).encode()})


app.mount("/wsgi-header", header_bytes_wsgi)
app.mount("/asgi-header", header_bytes_asgi)
app.mount("/wsgi-seen", seen_wsgi)
app.mount("/asgi-seen", seen_asgi)


@app.queue("work", max_attempts=3, dead_letter="work-failed")
def work(msg: Message) -> None:
    body = msg.json()
    _log(function="work", id=msg.id, body=body, attributes=msg.attributes, attempt=msg.delivery_attempt)
    if body.get("bad"):
        raise NonRetryableError("this message can never succeed")
    if body.get("fail"):
        raise RuntimeError("try again")


@app.topic("news", max_attempts=5, dead_letter="news-failed")
def news(msg: Message) -> None:
    _log(function="news", id=msg.id, data=msg.text, attributes=msg.attributes, ordering_key=msg.ordering_key)


@app.storage("uploads", events=["created", "deleted"], prefix="in/")
def upload(evt: StorageEvent) -> None:
    _log(function="upload", bucket=evt.bucket, key=evt.key, kind=evt.kind, size=evt.size)


@app.schedule("rate(5 minutes)")
def tick(evt: ScheduleEvent) -> None:
    _log(function="tick", time=evt.time.isoformat())
