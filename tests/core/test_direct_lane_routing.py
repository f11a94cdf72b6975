"""The direct lane matches a platform's template of one route ending in its parameter (``/orders/{id}``) itself,
from ``RouteTable.last_segment``; it must find the function and path parameters ``App`` routing finds, for every
method, path and template a platform may hand over (templates it does not know, paths the template does not match,
methods the route does not serve, several routes on one template), before and after a registration."""

from __future__ import annotations

import json
from typing import Any

from portafunc import App, HttpRequest
from portafunc.invoke import handle_http, handle_http_direct

TEMPLATES = ["/orders/{id}", "/orders/latest", "/orders/{id}/items", "/orders", "/files/{path+}", "/a/{x}/{y}", "/shared/{id}",
             "/{name}", "/nope/{id}", None]
PATHS = ["/orders/42", "/orders/latest", "/orders/", "/orders/4/2", "/orders", "/orders/42/items", "/files/a/b", "/a/1/2", "/shared/7",
         "/shared/", "/x", "/", "/orders/%20", "/ORDERS/1", "/orders/42?x", "//orders/1"]
METHODS = ["GET", "POST", "PUT", "DELETE", "OPTIONS"]


def build_app() -> App:
    app = App("direct-routing")

    def answer(name: str) -> Any:
        def handler(req: HttpRequest) -> dict:
            return {"function": name, "params": req.path_params}
        handler.__name__ = name
        return handler

    app.http("GET", "/orders/{id}")(answer("get_order"))
    app.http(["GET", "POST"], "/orders/{id}/items")(answer("items"))
    app.http("POST", "/orders")(answer("create"))
    app.http("GET", "/files/{path+}")(answer("files"))
    app.http("GET", "/a/{x}/{y}")(answer("two"))
    app.http("GET", "/shared/{id}")(answer("shared_get"))
    app.http("DELETE", "/shared/{id}")(answer("shared_delete"))
    app.http(["GET", "PUT"], "/{name}")(answer("top"))
    app.http("GET", "/orders/latest")(answer("latest"))  # more specific than /orders/{id}, registered after it
    return app


def encode(value: Any) -> Any:
    return None  # every result goes through to_response: the two paths' HttpResponses are compared


def outcome(resp: Any) -> Any:
    return [resp.status, resp.headers.items(), json.loads(resp.body) if resp.body else None]


def compare(app: App) -> int:
    matched = 0
    for template in TEMPLATES:
        for path in PATHS:
            for method in METHODS:
                direct = handle_http_direct(app, HttpRequest(method, path), encode, None, "local", "i-1", None,
                                            template)
                general = handle_http(app, HttpRequest(method, path), target="local", invocation_id="i-1",
                                      route_template=template)
                assert outcome(direct) == outcome(general), (template, path, method)
                matched += direct.status == 200
    return matched


def test_the_direct_lane_routes_a_platform_template_as_app_routing_does():
    app = build_app()
    assert compare(app) > 50
    assert set(app._routes.last_segment) == {"/orders/{id}", "/{name}"}  # one route, a last-segment parameter
    # without a platform template the most specific route serves the path; with one, the platform's choice stands
    for template, expected in [(None, "latest"), ("/orders/latest", "latest"), ("/orders/{id}", "get_order")]:
        resp = handle_http_direct(app, HttpRequest("GET", "/orders/latest"), encode, None, "local", "i-1", None,
                                  template)
        assert json.loads(resp.body)["function"] == expected, template


def test_a_registration_after_the_first_request_is_seen():
    app = build_app()
    compare(app)

    @app.http("POST", "/orders/{id}")
    def replace_order(req: HttpRequest) -> dict:
        return {"function": "replace_order"}

    assert compare(app) > 50
    assert "/orders/{id}" not in app._routes.last_segment  # two routes on it now: App routing decides
    resp = handle_http_direct(app, HttpRequest("POST", "/orders/9"), encode, None, "local", "i-1", None,
                              "/orders/{id}")
    assert json.loads(resp.body) == {"function": "replace_order"}
