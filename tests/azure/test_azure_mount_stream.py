"""A mounted app that sends its body in pieces, served through the generated ``function_app.py`` (indexed by
``azure.functions`` as the worker indexes it, called with a real ``func.HttpRequest``): Azure gets the buffered
fallback, the whole body in one ``func.HttpResponse``. The generated code never imports a worker web extension
(``azurefunctions.extensions.*``): importing one would switch every HTTP function of the app to the extension's
request and response types (docs/design.md, "Azure HTTP streams")."""

from __future__ import annotations

import sys
from typing import Any

import azure.functions as func

from portafunc import App
from portafunc_azure.deploy.function_app import generate_function_app, load_function_app


async def pieces_asgi(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        return
    await receive()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/event-stream"), (b"x-app", b"1")]})
    for piece in (b"data: one\n\n", b"data: two\n\n"):
        await send({"type": "http.response.body", "body": piece, "more_body": True})
    await send({"type": "http.response.body", "body": b"data: end\n\n", "more_body": False})


def pieces_wsgi(environ: dict[str, Any], start_response: Any) -> Any:
    start_response("200 OK", [("Content-Type", "text/plain")])  # no Content-Length: a streamed body elsewhere

    def body() -> Any:
        yield b"one,"
        yield b"two,"
        yield b"end"
    return body()


def _mount_function(app: App) -> Any:
    _, functions, _ = load_function_app(app)
    return next(f.get_user_function() for name, f in functions.items() if "mount" in name)


def _get(path: str) -> Any:
    return func.HttpRequest(method="GET", url=f"https://shop.azurewebsites.net{path}",
                            headers={"host": "shop.azurewebsites.net"}, params={},
                            route_params={"path": path.lstrip("/")}, body=b"")


def test_an_asgi_body_sent_in_pieces_is_answered_whole() -> None:
    app = App("az-stream-asgi")
    app.mount("/events", pieces_asgi)
    resp = _mount_function(app)(_get("/events/feed"))
    assert isinstance(resp, func.HttpResponse)
    assert resp.status_code == 200
    assert resp.get_body() == b"data: one\n\ndata: two\n\ndata: end\n\n"
    assert resp.headers["content-type"] == "text/event-stream" and resp.headers["x-app"] == "1"
    assert "transfer-encoding" not in resp.headers


def test_a_wsgi_iterable_without_a_length_is_answered_whole() -> None:
    app = App("az-stream-wsgi")
    app.mount("/flask", pieces_wsgi)
    resp = _mount_function(app)(_get("/flask/x"))
    assert resp.status_code == 200 and resp.get_body() == b"one,two,end"


def test_the_generated_function_app_does_not_turn_on_the_worker_http_streams_extension() -> None:
    app = App("az-stream-ext")
    app.mount("/events", pieces_asgi)

    @app.http("GET", "/plain")
    def plain(req: Any) -> dict[str, bool]:
        return {"ok": True}

    source = generate_function_app(app, "m:app")
    assert "azurefunctions" not in source and "fastapi" not in source.lower()
    load_function_app(app)
    assert not [m for m in sys.modules if m.startswith("azurefunctions.extensions")]
