"""One FastAPI app and one Flask app, unchanged, mounted beside a native route: the contract suite
(tests/contract/test_mount.py) drives them through every cloud's entry point and ``portafunc run``."""

from __future__ import annotations

import sys
import threading
from contextlib import asynccontextmanager
from typing import AsyncIterator, Iterator

from fastapi import BackgroundTasks, FastAPI, Request, Response
from fastapi.responses import StreamingResponse
from flask import Flask, request, url_for
from flask import Response as FlaskResponse

from portafunc import App, HttpRequest

BINARY = bytes(range(256))
events: list[str] = []  # what the apps did: lifespan startups and shutdowns, finished background tasks


@asynccontextmanager
async def lifespan(api: FastAPI) -> AsyncIterator[dict[str, str]]:
    events.append("startup")
    yield {"started": "yes"}
    events.append("shutdown")
    if "pytest" not in sys.modules:  # shown by `portafunc run` (tests/core/test_mount_runner.py), not at pytest's exit
        print("mounted app: lifespan shutdown", file=sys.stderr, flush=True)


api = FastAPI(lifespan=lifespan)


@api.get("/")
async def asgi_index(request: Request) -> dict[str, str]:
    return {"index": request.url.path, "root_path": request.scope["root_path"]}


@api.get("/echo/{name}")
async def asgi_echo(name: str, request: Request) -> dict[str, object]:
    return {
        "name": name,
        "path": request.url.path,
        "query": request.scope["query_string"].decode("ascii"),
        "q": request.query_params.getlist("q"),
        "multi": ", ".join(request.headers.getlist("x-multi")),
        "name_bytes": next((v.hex() for k, v in request.scope["headers"] if k == b"x-name"), None),
        "url": str(request.url_for("asgi_echo", name="n")),
        "state": request.state.started,
        "startups": events.count("startup"),
    }


@api.get("/sync")
def asgi_sync() -> dict[str, bool]:  # a synchronous endpoint: FastAPI runs it in one of anyio's worker threads
    return {"in_a_worker": threading.current_thread() is not threading.main_thread()}


@api.post("/bytes")
async def asgi_bytes(request: Request) -> Response:
    body = await request.body()
    return Response(body[::-1], media_type="application/octet-stream", headers={"x-length": str(len(body))})


@api.api_route("/binary", methods=["GET", "HEAD"])  # FastAPI routes answer HEAD only when asked to
async def asgi_binary() -> Response:
    return Response(BINARY, media_type="image/png")


@api.get("/cookies")
async def asgi_cookies(response: Response) -> dict[str, bool]:
    response.set_cookie("a", "1")
    response.set_cookie("b", "2")
    return {"ok": True}


@api.delete("/empty", status_code=204)
async def asgi_empty() -> Response:
    return Response(status_code=204)


@api.post("/later/{tag}")
async def asgi_later(tag: str, tasks: BackgroundTasks) -> dict[str, str]:
    async def finish() -> None:
        import asyncio

        await asyncio.sleep(0.05)  # still running when the response is complete
        events.append(f"asgi task {tag}")

    tasks.add_task(finish)
    return {"queued": tag}


STREAM_PARTS = [b"first\n", b"second\n", b"third\n"]
GATE_WAIT_SECONDS = 30.0  # how long a stream waits for its gate file before giving up (a failing test's bound)


def gate_open(gate: str | None) -> bool:
    """A stream's gate: the file named by ``?gate=`` exists (none given: always open). A test creates it only
    after the first piece reached it, which a buffering front door can never deliver."""
    import os

    return not gate or os.path.exists(gate)


@api.get("/stream")
async def asgi_stream(gate: str | None = None) -> StreamingResponse:
    async def parts() -> AsyncIterator[bytes]:
        import asyncio
        import time

        yield STREAM_PARTS[0]
        deadline = time.monotonic() + GATE_WAIT_SECONDS
        while not gate_open(gate) and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        for part in STREAM_PARTS[1:]:
            yield part

    return StreamingResponse(parts(), media_type="text/plain", headers={"x-streamed": "yes"})


flask_app = Flask(__name__)


@flask_app.get("/stream")
def wsgi_stream() -> FlaskResponse:
    gate = request.args.get("gate")

    def parts() -> Iterator[bytes]:
        import time

        yield STREAM_PARTS[0]
        deadline = time.monotonic() + GATE_WAIT_SECONDS
        while not gate_open(gate) and time.monotonic() < deadline:
            time.sleep(0.01)
        yield from STREAM_PARTS[1:]

    return FlaskResponse(parts(), mimetype="text/plain", headers={"x-streamed": "yes"})


@flask_app.get("/")
def wsgi_index() -> dict[str, str]:
    return {"index": request.script_root + request.path, "root_path": request.script_root}


@flask_app.get("/echo/<name>")
def wsgi_echo(name: str) -> dict[str, object]:
    return {
        "name": name,
        "path": request.script_root + request.path,  # PATH_INFO is the part after SCRIPT_NAME
        "script_root": request.script_root,
        "query": request.query_string.decode("ascii"),
        "q": request.args.getlist("q"),
        "multi": request.headers.get("x-multi"),
        "name_bytes": request.environ["HTTP_X_NAME"].encode("latin-1").hex() if "HTTP_X_NAME" in request.environ
        else None,  # PEP 3333: the bytes received, read as latin-1
        "url": url_for("wsgi_echo", name="n"),
    }


@flask_app.post("/bytes")
def wsgi_bytes() -> FlaskResponse:
    body = request.get_data()
    return FlaskResponse(body[::-1], mimetype="application/octet-stream", headers={"x-length": str(len(body))})


@flask_app.get("/binary")
def wsgi_binary() -> FlaskResponse:
    return FlaskResponse(BINARY, mimetype="image/png")


@flask_app.get("/cookies")
def wsgi_cookies() -> FlaskResponse:
    resp = FlaskResponse("ok")
    resp.set_cookie("a", "1")
    resp.set_cookie("b", "2")
    return resp


@flask_app.delete("/empty")
def wsgi_empty() -> tuple[str, int]:
    return "", 204


app = App("mounted")
app.mount("/fastapi", api)
app.mount("/flask", flask_app)


@app.http("GET", "/native")
def native(req: HttpRequest) -> str:
    return "native"
