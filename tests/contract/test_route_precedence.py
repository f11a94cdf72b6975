"""Overlapping routes answer the same on every front door: the most specific route serves a path, whatever the order
the routes were registered in (a literal segment before a parameter before a greedy parameter, compared from the
left), as API Gateway picks among its per-function routes. The app below registers each group of routes in the
order that a "first registered wins" rule would get wrong; each path must reach the same function through every
target's contract driver, ``portafunc run``'s server, and AWS's front doors that leave routing to the app (the HTTP
API's ``$default`` route, the REST API's ``/{proxy+}``, an ALB, a Function URL). Function names sort the more
specific route first, as the Azure Functions host needs (it tries routes in function-name order)."""

from __future__ import annotations

from typing import Any

import pytest
from runner_driver import contract_fixtures

from portafunc import App, HttpRequest
from portafunc.targets import available
from portafunc.testing import Cloud

FRONTS = sorted(available()) + ["run"]

runner_driver, front = contract_fixtures(FRONTS)

#: (template, function), in the order registered: each less specific route before the more specific ones
ROUTES = [
    ("/orders/{id}", "one"), ("/orders/latest", "latest"),
    ("/files/{path+}", "tree"), ("/files/readme", "readme"), ("/files/{folder}/index", "index"),
    ("/shops/{shop}/{item}", "product"), ("/shops/{shop}/stats", "overview"), ("/shops/main/{item}", "main_product"),
]

#: path → (function, path parameters)
EXPECTED: dict[str, tuple[str, dict[str, str]]] = {
    "/orders/latest": ("latest", {}),
    "/orders/o-7": ("one", {"id": "o-7"}),
    "/files/readme": ("readme", {}),
    "/files/docs/index": ("index", {"folder": "docs"}),
    "/files/readme/index": ("index", {"folder": "readme"}),
    "/files/docs/guide.md": ("tree", {"path": "docs/guide.md"}),
    "/files/a/b/index": ("tree", {"path": "a/b/index"}),
    "/shops/s1/i1": ("product", {"shop": "s1", "item": "i1"}),
    "/shops/s1/stats": ("overview", {"shop": "s1"}),
    "/shops/main/i1": ("main_product", {"item": "i1"}),
    "/shops/main/stats": ("main_product", {"item": "stats"}),  # the leftmost difference decides
    # a literal segment matches only as written, as API Gateway matches it (the Azure Functions host, ignoring case,
    # hands these to the literal route's function, which must not serve them)
    "/orders/LATEST": ("one", {"id": "LATEST"}),
    "/files/README": ("tree", {"path": "README"}),
    "/files/docs/Index": ("tree", {"path": "docs/Index"}),
    "/shops/MAIN/stats": ("overview", {"shop": "MAIN"}),
    "/shops/s1/STATS": ("product", {"shop": "s1", "item": "STATS"}),
}


def precedence_app() -> App:
    app = App("precedence")
    for template, name in ROUTES:
        def handler(req: HttpRequest, name: str = name) -> dict[str, Any]:
            return {"function": name, "params": req.path_params}
        app.http("GET", template, name=name)(handler)
    return app


app = precedence_app()


@pytest.mark.parametrize("path", EXPECTED)
def test_the_most_specific_route_serves_each_path(front: Cloud, path: str) -> None:
    resp = front.http(app, "GET", path)
    assert resp.status == 200, resp.body[:300]
    function, params = EXPECTED[path]
    assert resp.json_body() == {"function": function, "params": params}


def test_head_goes_where_get_goes_and_a_wrong_method_is_405(front: Cloud) -> None:
    head = front.http(app, "HEAD", "/orders/latest")
    assert (head.status, head.body) == (200, b"")
    wrong = front.http(app, "DELETE", "/orders/latest")
    assert wrong.status == 405 and wrong.headers["allow"] == "GET, HEAD"
    assert front.http(app, "GET", "/orders/latest/more").status == 404


@pytest.mark.parametrize("path", ["/Orders/latest", "/ORDERS/o-7", "/Files/readme", "/SHOPS/main/i1"])
def test_a_path_whose_first_literal_differs_in_case_is_served_by_no_route(front: Cloud, path: str) -> None:
    resp = front.http(app, "GET", path)
    assert resp.status == 404, resp.body[:300]
    assert resp.json_body()["detail"] == f"no function serves GET {path}"


@pytest.mark.parametrize("variant", ["apigw-v2", "apigw-v1", "alb", "function-url"])
def test_aws_front_doors_that_leave_routing_to_the_app_agree_with_api_gateways_routes(variant: str) -> None:
    """One Lambda behind the HTTP API's ``$default`` route, the REST API's ``/{proxy+}``, an ALB or a Function URL
    routes with the app's rule; a Lambda per route (API Gateway's choice, ``routeKey``) runs the function API Gateway
    matched. Both give each path to the same function."""
    if "aws" not in available():
        pytest.skip("the aws target is not installed")
    from portafunc_aws import runtime
    from portafunc_aws.codecs import http
    from portafunc_aws.lambda_context import LambdaContext

    router = runtime.bind(app)
    templates = {name: template for template, name in ROUTES}
    for path, (function, params) in EXPECTED.items():
        answer = router(http.encode_request(HttpRequest("GET", path), variant), LambdaContext())
        assert http.decode_response(answer).json_body() == {"function": function, "params": params}, path
        routed = HttpRequest("GET", path)
        routed.path_params = params
        native = http.encode_request(routed, "apigw-v2", route=templates[function])
        answer = runtime.bind(app, function)(native, LambdaContext())
        assert http.decode_response(answer).json_body() == {"function": function, "params": params}, path
