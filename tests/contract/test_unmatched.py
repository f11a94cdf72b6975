"""HEAD, unknown paths and wrong methods are answered the same through every target's real entry point: HEAD as GET
without a body, 404 problem+json for a path no function serves, 405 with ``Allow`` for a method the path does not
serve, and the app's own 404/405 handlers where it has them. On Azure the packaged app's lowest-precedence catch-all
function answers what no other route matches, as the host would route it."""

from __future__ import annotations

from portafunc import App, HttpRequest, HttpResponse


def plain_app() -> App:
    app = App("unmatched")

    @app.http("GET", "/orders/{id}")
    def get_order(req: HttpRequest) -> HttpResponse:
        resp = HttpResponse.json({"id": req.path_params["id"]})
        resp.headers.add("X-Order", req.path_params["id"])
        return resp

    @app.http(["POST", "PUT"], "/orders")
    def save_order(req: HttpRequest) -> dict:
        return {"saved": True}

    return app


def test_head_is_get_without_a_body(cloud) -> None:
    app = plain_app()
    get = cloud.http(app, "GET", "/orders/o-1")
    head = cloud.http(app, "HEAD", "/orders/o-1")
    assert (get.status, head.status, head.body) == (200, 200, b"")
    assert head.headers["content-type"] == get.headers["content-type"] == "application/json"
    assert head.headers["x-order"] == "o-1"


def test_an_unknown_path_is_404_problem_json(cloud) -> None:
    resp = cloud.http(plain_app(), "GET", "/nowhere/at/all")
    assert resp.status == 404 and resp.headers["content-type"] == "application/problem+json"
    assert resp.json_body() == {"type": "about:blank", "title": "Not Found", "status": 404,
                                "detail": "no function serves GET /nowhere/at/all"}
    head = cloud.http(plain_app(), "HEAD", "/nowhere")
    assert (head.status, head.body) == (404, b"")


def test_a_wrong_method_is_405_with_allow(cloud) -> None:
    app = plain_app()
    resp = cloud.http(app, "DELETE", "/orders/o-1")
    assert resp.status == 405 and resp.headers["allow"] == "GET, HEAD"
    assert resp.json_body()["detail"] == "allowed: GET, HEAD"
    other = cloud.http(app, "GET", "/orders")
    assert other.status == 405 and other.headers["allow"] == "POST, PUT"


def test_the_root_path_is_the_apps_too(cloud) -> None:
    assert cloud.http(plain_app(), "GET", "/").status == 404


def test_an_answer_without_a_content_type_carries_none(cloud) -> None:
    """A 204 (a handler returning None), a 304, a redirect and a body the handler gave no type are sent without
    ``Content-Type``, and so are their HEAD answers: no target labels them (Azure's ``func.HttpResponse`` would say
    ``text/plain`` by default)."""
    app = App("untyped")

    @app.http("GET", "/none")
    def none(req: HttpRequest) -> None:
        return None

    @app.http("GET", "/cached")
    def cached(req: HttpRequest) -> HttpResponse:
        return HttpResponse(304, {"ETag": '"v1"'})

    @app.http("GET", "/moved")
    def moved(req: HttpRequest) -> HttpResponse:
        return HttpResponse(302, {"Location": "/none"})

    @app.http("GET", "/raw")
    def raw(req: HttpRequest) -> HttpResponse:
        return HttpResponse(200, {"X-Kind": "raw"}, b"\x00raw")

    for path, status, body in [("/none", 204, b""), ("/cached", 304, b""), ("/moved", 302, b""),
                               ("/raw", 200, b"\x00raw")]:
        for method in ("GET", "HEAD"):
            resp = cloud.http(app, method, path)
            assert (resp.status, resp.body) == (status, body if method == "GET" else b""), (method, path)
            assert "content-type" not in resp.headers, (method, path)
    assert cloud.http(app, "GET", "/cached").headers["etag"] == '"v1"'
    assert cloud.http(app, "HEAD", "/moved").headers["location"] == "/none"
