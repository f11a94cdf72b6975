"""App for the local runner's bad-HTTP-input tests. Every dispatched request is appended to $RUNNER_LOG."""

from __future__ import annotations

import json
import os

from portafunc import App, HttpRequest, HttpResponse

app = App("httpin")


def record(**fields: object) -> None:
    with open(os.environ["RUNNER_LOG"], "a", encoding="utf-8") as fh:
        fh.write(json.dumps(fields) + "\n")


@app.http("POST", "/size")
def size(req: HttpRequest) -> dict[str, int]:
    record(fn="size", size=len(req.body))
    return {"size": len(req.body)}


@app.http("POST", "/parse")
def parse(req: HttpRequest) -> dict[str, str]:
    return {"type": type(req.json()).__name__}


@app.http("GET", "/header")
def header(req: HttpRequest) -> HttpResponse:
    return HttpResponse(200, {"X-Echo": req.query_one("v") or ""}, b"ok")


@app.http("GET", "/status")
def status(req: HttpRequest) -> HttpResponse:
    resp = HttpResponse(200, body=b"built fine")
    resp.status = int(req.query_one("code") or "200")  # set after it was built: no check there
    return resp


@app.http("GET", "/page")
def page(req: HttpRequest) -> HttpResponse:
    return HttpResponse.text("a page of twenty-six bytes")
