"""A mounted app's lane on Azure (``portafunc_azure.codecs.mount``) against the general path
(``handle_http_direct``), on the same ``func.HttpRequest`` objects through the generated ``function_app.py``
(indexed by ``azure.functions`` as the worker indexes it): two loads of it, the lane off in one. The answers must be
the same ``func.HttpResponse`` (status, headers in order, body, mimetype, charset), the same log lines written, and
the lane must have answered every request it should."""

from __future__ import annotations

from typing import Any, Iterator

import azure.functions as func
import pytest
from mounted_apps import asgi_failing, failing, load_mounted, splitting

from portafunc import App, HttpRequest

mounted = load_mounted("portafunc_test_mounted_azure_lane")


def broken_stream(environ: Any, start_response: Any) -> Any:
    start_response("200 OK", [("Content-Type", "text/plain")])  # no length: a body sent in pieces

    def pieces() -> Any:
        yield b"first,"
        raise RuntimeError("the stream broke")
    return pieces()


async def asgi_broken_stream(scope: Any, receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        raise RuntimeError("no lifespan")
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"first,", "more_body": True})
    raise RuntimeError("the ASGI stream broke")


def build_app() -> App:
    app = App("azure-mount-lane")
    app.mount("/flask", mounted.flask_app)
    app.mount("/fastapi", mounted.api)
    app.mount("/failing", failing)
    app.mount("/asgi-failing", asgi_failing)
    app.mount("/splitting", splitting)
    app.mount("/broken-stream", broken_stream)
    app.mount("/asgi-broken-stream", asgi_broken_stream)

    @app.http("GET", "/native")
    def native(req: HttpRequest) -> str:
        return "native"

    return app


@pytest.fixture(scope="module")
def fronts() -> Iterator[tuple[dict[str, Any], dict[str, Any], list[Any]]]:
    """({function name: callable} with the lane, the same without it, the lane's answers)."""
    from portafunc_azure.deploy.function_app import load_function_app

    app = build_app()
    answered: list[Any] = []
    out = []
    for lane_on in (True, False):
        _, functions, runtime = load_function_app(app)
        lane = runtime._mount_lane = __import__("portafunc_azure.runtime", fromlist=["_mount_lane"])._mount_lane(app)
        assert lane is not None
        if lane_on:
            def spy(name: str, req: Any, native: Any, lane: Any = lane) -> Any:
                answer = lane(name, req, native)
                answered.append(answer)
                return answer

            runtime._mount_lane = spy
        else:
            runtime._mount_lane = None
        out.append({name: f.get_user_function() for name, f in functions.items()})
    yield out[0], out[1], answered


BINARY = bytes(range(256))
TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
CASES: list[tuple[str, str, str, dict[str, Any]]] = []
for prefix in ("/flask", "/fastapi"):
    CASES += [
        ("GET", prefix, "/echo/x?q=1&q=a%26b%3Dc&q=%C3%BC%20%2B&e=", {"x-multi": "a,b", "host": "api.example"}),
        ("GET", prefix, "/echo/%C3%A9%20%C3%BC", {"user-agent": "é", "x-forwarded-for": "10.0.0.1, 203.0.113.9:5100"}),
        ("POST", prefix, "/bytes", {"content-type": "application/octet-stream", "_body": BINARY}),
        ("POST", prefix, "/bytes", {"_body": BINARY * 4096}),
        ("POST", prefix, "/bytes", {}),
        ("GET", prefix, "/binary", {}),
        ("HEAD", prefix, "/binary", {}),
        ("GET", prefix, "/cookies", {}),
        ("DELETE", prefix, "/empty", {}),
        ("GET", prefix, "/nowhere", {}),
        ("GET", prefix, "", {"host": "api.example"}),
        ("GET", prefix, "/", {"x-forwarded-proto": "http"}),
        ("GET", prefix, "/stream", {}),
    ]
CASES += [("GET", "/failing", "/x", {}), ("GET", "/asgi-failing", "/x", {}), ("GET", "/splitting", "/x", {}),
          ("GET", "/broken-stream", "/x", {}), ("GET", "/asgi-broken-stream", "/x", {})]


def _request(method: str, prefix: str, rest: str, headers: dict[str, Any]) -> func.HttpRequest:
    headers = dict(headers)
    body = headers.pop("_body", b"")
    headers.setdefault("host", "shop.azurewebsites.net")
    headers["traceparent"] = TRACEPARENT
    path = rest.partition("?")[0]
    return func.HttpRequest(method=method, url=f"https://shop.azurewebsites.net{prefix}{rest}", headers=headers,
                            params={}, route_params={"path": path.lstrip("/")}, body=body)


def _body(resp: func.HttpResponse) -> Any:
    """The body; a problem's without its invocation id (a new one per invocation: the host gives none here)."""
    body = resp.get_body()
    if resp.mimetype == "application/problem+json":
        import json

        doc = json.loads(body)
        assert doc.pop("invocation_id")
        return doc
    return body


def _function(prefix: str) -> str:
    return "mount_" + prefix.strip("/").replace("-", "_")


@pytest.mark.parametrize(("method", "prefix", "rest", "headers"), CASES,
                         ids=[f"{m} {p}{r} {i}" for i, (m, p, r, _) in enumerate(CASES)])
def test_the_lane_answers_as_the_general_path(fronts: tuple[dict[str, Any], dict[str, Any], list[Any]],
                                              caplog: pytest.LogCaptureFixture, method: str, prefix: str, rest: str,
                                              headers: dict[str, Any]) -> None:
    lane, general, answered = fronts
    before = len(answered)
    outs, logs = [], []
    for functions in (lane, general):
        caplog.clear()
        resp = functions[_function(prefix)](_request(method, prefix, rest, headers))
        outs.append((resp.status_code, list(resp.headers.items()), _body(resp), resp.mimetype, resp.charset))
        logs.append([(r.levelname, r.getMessage(), getattr(r, "status", None), getattr(r, "error", None))
                     for r in caplog.records])
    assert outs[0] == outs[1]
    assert logs[0] == logs[1]
    if method == "HEAD":
        assert answered[before:] == [None]
    else:
        assert len(answered) == before + 1 and answered[-1] is not None  # the lane answered it


def test_a_route_the_lane_does_not_serve_takes_the_general_path(fronts: tuple[dict[str, Any], dict[str, Any],
                                                                               list[Any]]) -> None:
    lane, _, answered = fronts
    before = len(answered)
    resp = lane["native"](func.HttpRequest(method="GET", url="https://shop.azurewebsites.net/native",
                                           headers={}, params={}, route_params={}, body=b""))
    assert resp.get_body() == b"native" and answered[before:] == [None]


@pytest.mark.parametrize("prefix", ["/flask", "/fastapi"])
def test_the_body_limit_answers_as_the_general_path(fronts: tuple[dict[str, Any], dict[str, Any], list[Any]],
                                                    monkeypatch: pytest.MonkeyPatch, prefix: str) -> None:
    import portafunc.invoke

    monkeypatch.setattr(portafunc.invoke, "MAX_BODY_BYTES", 100)
    lane, general, answered = fronts
    before = len(answered)
    outs = []
    for functions in (lane, general):
        resp = functions[_function(prefix)](_request("POST", prefix, "/bytes", {"_body": b"x" * 101}))
        outs.append((resp.status_code, list(resp.headers.items()), resp.get_body()))
    assert outs[0] == outs[1] and outs[0][0] == 413
    assert len(answered) == before + 1 and answered[-1] is not None
