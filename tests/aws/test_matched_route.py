"""API Gateway tells the function which route it matched (``routeKey`` in HTTP API events, ``resource`` in REST API
events, per the real samples in tests/fixtures/events): one Lambda serving a whole app runs that route's function
without searching the app's routes."""

from __future__ import annotations

import json

from aws_test_support import load_fixture
from portafunc import App, HttpRequest
from portafunc_aws import runtime
from portafunc_aws.codecs import http
from portafunc_aws.lambda_context import LambdaContext


def _app() -> App:
    app = App("matched")

    @app.http("GET", "/orders/{id}")
    def by_id(req: HttpRequest) -> dict[str, str]:
        return {"fn": "by_id", "id": req.path_params["id"]}

    @app.http("GET", "/orders/new")
    def new(req: HttpRequest) -> dict[str, str]:
        return {"fn": "new"}

    return app


def _v2(route_key: str, path: str) -> dict:
    ev = load_fixture("http-apigw-v2/sam-HttpApi.json")
    ev.update({"routeKey": route_key, "rawPath": path, "rawQueryString": "", "body": None,
               "isBase64Encoded": False})
    ev["requestContext"]["http"].update({"method": "GET", "path": path})
    ev["requestContext"]["routeKey"] = route_key
    return ev


def _v1(resource: str, path: str) -> dict:
    ev = load_fixture("http-apigw-v1/sam-AwsProxy.json")
    ev.update({"resource": resource, "path": path, "httpMethod": "GET", "body": None, "isBase64Encoded": False,
               "queryStringParameters": None, "multiValueQueryStringParameters": None})
    return ev


def test_matched_route_read_from_both_api_gateway_payloads() -> None:
    assert http.matched_route(_v2("GET /orders/{id}", "/orders/7")) == "/orders/{id}"
    assert http.matched_route(_v2("$default", "/orders/7")) is None
    assert http.matched_route(_v1("/orders/{id}", "/orders/7")) == "/orders/{id}"
    assert http.matched_route(load_fixture("http-alb/" + _first("http-alb"))) is None


def _first(folder: str) -> str:
    from aws_test_support import FIXTURES

    return sorted(p.name for p in (FIXTURES / folder).iterdir())[0]


def test_the_route_api_gateway_matched_is_the_one_that_runs() -> None:
    handler = runtime.bind(_app())
    for event in (_v2("GET /orders/new", "/orders/new"), _v1("/orders/new", "/orders/new")):
        out = handler(event, LambdaContext())
        assert out["statusCode"] == 200 and json.loads(out["body"]) == {"fn": "new"}
    out = handler(_v2("GET /orders/{id}", "/orders/7"), LambdaContext())
    assert json.loads(out["body"]) == {"fn": "by_id", "id": "7"}
    # $default (a catch-all stage route): the app's own matching, which picks what API Gateway's per-route matching
    # picks, the most specific route, though /orders/{id} was registered first.
    out = handler(_v2("$default", "/orders/new"), LambdaContext())
    assert json.loads(out["body"]) == {"fn": "new"}
    out = handler(_v2("$default", "/orders/7"), LambdaContext())
    assert json.loads(out["body"]) == {"fn": "by_id", "id": "7"}
