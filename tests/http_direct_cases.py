"""What the direct-lane tests of every cloud feed both lanes: handler results (the usual ones the encoders build and
every other kind the general path builds), an app whose functions return them, in each shape that sends a request
down the general path (CORS, middleware, exception handlers; typed and async handlers; 404/405; HEAD), and the
requests sent to it, as neutral requests each test turns into its cloud's native request."""

from __future__ import annotations

import copy
from typing import Any

from portafunc import App, BadRequest, Cors, HttpRequest, HttpResponse
from portafunc.events import Headers

VALUES: list[Any] = [
    {"a": 1}, {}, [], [1, "é", None, True, 1.5], {"nested": {"x": ["\u2603"]}}, {"lone": "\ud800"}, "text", "",
    "é ☃", "lone \udc00", None, {"nan": float("nan")}, [float("inf")], {"t": object()}, b"bytes", bytearray(b"x"),
    ({"a": 1}, 201), ("created", 201), HttpResponse(202, {"X-A": "1"}, b"ok"), HttpResponse.json([1]),
    HttpResponse(200, {"Content-Type": "image/png"}, b"\x89PNG"), HttpResponse(200, {"Content-Type": "text/html"}, b"<p>"),
    HttpResponse(200, {"Content-Type": "text/html; charset=latin-1"}, b"\xe9"),
    HttpResponse(200, [("Content-Type", "text/plain"), ("X-A", "1"), ("x-a", "2")], b"two"),
    HttpResponse(201).set_cookie("s", "1"), 7, 1.5, True, (1, 2, 3),
]
"""Handler results: the usual ones first, then every other kind (the encoders must give None or the same answer)."""

USUAL = [{"a": 1}, [1], "text", "", None]
"""Results every direct encoder builds itself."""

NOT_DIRECT = [b"x", ({"a": 1}, 201), HttpResponse(200), 7]
"""Results every direct encoder leaves to the general path."""

KINDS = ["plain", "cors", "middleware", "handlers"]


def build_app(kind: str) -> App:
    app = App("direct-" + kind, cors=Cors(["https://shop.example"]) if kind == "cors" else None)

    if kind == "middleware":
        @app.middleware
        def mw(event: Any, call_next: Any) -> Any:
            resp = call_next(event)
            resp.headers.add("X-Mw", "1")
            return resp

    if kind == "handlers":
        @app.exception_handler(KeyError)
        def on_key(req: HttpRequest, exc: Exception) -> HttpResponse:
            return HttpResponse.json({"missing": str(exc)}, status=404)

    @app.http("GET", "/hello/{name}")
    def hello(req: HttpRequest) -> dict:
        return {"message": "hello " + req.path_params["name"], "q": req.query, "h": req.headers.get("x-a")}

    @app.http(["GET", "POST"], "/value/{which}")
    def value(req: HttpRequest) -> Any:
        which = req.path_params["which"]
        if which == "raise":
            raise RuntimeError("boom")
        if which == "bad":
            raise BadRequest("no", status=422)
        if which == "key":
            raise KeyError("k")
        if which == "echo":
            return req.json()
        return copy.deepcopy(VALUES[int(which)])  # a response object of its own per call

    @app.http("GET", "/typed/{n}")
    def typed(n: int, limit: int = 3) -> dict:
        return {"n": n, "limit": limit}

    @app.http("GET", "/async")
    async def slow(req: HttpRequest) -> dict:
        return {"async": True}

    @app.http("DELETE", "/files/{path+}")
    def remove(req: HttpRequest) -> None:
        return None

    return app


def requests() -> list[HttpRequest]:
    out = [
        HttpRequest("GET", "/hello/ada", query={"q": ["1", "2"]}, headers={"X-A": "b", "Origin": "https://shop.example"}),
        HttpRequest("HEAD", "/hello/ada"),
        HttpRequest("GET", "/hello/ada/more"),
        HttpRequest("PUT", "/hello/ada"),
        HttpRequest("OPTIONS", "/hello/ada", headers={"Origin": "https://shop.example",
                                                     "Access-Control-Request-Method": "GET"}),
        HttpRequest("GET", "/typed/5", query={"limit": ["2"]}),
        HttpRequest("GET", "/typed/x"),
        HttpRequest("GET", "/async"),
        HttpRequest("DELETE", "/files/a/b"),
        HttpRequest("POST", "/value/echo", headers={"Content-Type": "application/json"}, body=b'{"a": [1, 2]}'),
        HttpRequest("POST", "/value/echo", body=b'{"a": NaN}'),
        HttpRequest("GET", "/nowhere"),
    ]
    for which in ["raise", "bad", "key", *map(str, range(len(VALUES)))]:
        out.append(HttpRequest("GET", f"/value/{which}"))
    return out


def run(fn: Any) -> tuple[str, Any]:
    """``("ok", result)`` or ``("raises", exception type)``: two lanes must agree on either."""
    try:
        return "ok", fn()
    except Exception as exc:  # noqa: BLE001 - compared by type
        return "raises", type(exc)


def assert_encodes_as_general(encode: Any, general: Any, value: Any, answer: Any) -> None:
    """A direct encoder gives None (not a value it encodes) or what ``general`` gives for the same value: the same
    answer, or the same exception type."""
    direct = run(lambda: encode(copy.copy(value)))
    expected = run(lambda: general(copy.copy(value)))
    if direct == ("ok", None):
        return  # the pipeline builds the HttpResponse as before
    if direct[0] == "ok":
        assert answer(direct[1]) == answer(expected[1])
    else:
        assert direct == expected


def assert_takes_the_usual_results(encode: Any) -> None:
    """Every direct encoder builds the usual results itself and leaves the others to the general path."""
    assert all(encode(v) is not None for v in USUAL)
    assert all(encode(v) is None for v in NOT_DIRECT)


def header_splitting_app() -> App:
    """An app whose handler assigns a header carrying CR LF after construction, which portafunc never checked: the
    direct lane must still refuse it as the general path does."""
    app = App("direct-headers")

    @app.http("GET", "/split")
    def split(req: HttpRequest) -> HttpResponse:
        resp = HttpResponse(200, body=b"x")
        resp.headers = Headers([("X-Bad", "a\r\nSet-Cookie: evil=1")])
        return resp

    return app
