"""Typed handlers and middleware in the direct lane answer exactly as the general path did before either took them.

The reference is the general path with the middleware chain walked per request (``portafunc.middleware.run``, as
before chains were composed): ``handle_http`` then ``encode_response``. The Lambda handler (``bind``), which sends
synchronous typed handlers and synchronous middleware down ``handle_http_direct``, must give the same native answer,
key order included, for typed path, query and header parameters (values that pass, fail, are missing or take their
default), bodies, response models (kept, dropped fields, a returned status, a result that fails it: 500), results
that bypass the model, async handlers and async middleware, middleware that changes the request or response,
answers without calling on, or raises — on every HTTP variant.
"""

from __future__ import annotations

import copy
import json
from typing import Annotated, Any

import pytest
from pydantic import BaseModel

from portafunc import App, BadRequest, Header, HttpRequest, HttpResponse
from portafunc import invoke
from portafunc.invoke import handle_http
from portafunc.middleware import compose, outermost, run
from portafunc_aws import outcome
from portafunc_aws.codecs import http
from portafunc_aws.lambda_context import LambdaContext
from portafunc_aws.runtime import bind

from typed_apps import order_app

VARIANTS = ["apigw-v2", "function-url", "apigw-v1", "alb", "alb-multi"]
JSON = {"Content-Type": "application/json"}


class Order(BaseModel):
    sku: str
    qty: int = 1


def build_app(middleware: str) -> App:
    app = order_app("typed-lane-" + middleware, middleware == "passthrough")

    if middleware == "two":
        @app.middleware
        def outer(event, call_next):
            event.headers.add("x-tenant", "from-mw")  # seen by the typed header parameter (its first value)
            resp = call_next(event)
            resp.headers.add("X-Outer", "1")
            return resp

        @app.middleware(kinds=("http",))
        def inner(event, call_next):
            if event.path.endswith("/999"):
                return {"short": "circuit"}  # answered without the function: a plain result, made a response
            if event.path.endswith("/998"):
                raise BadRequest("refused by middleware", status=403)
            resp = call_next(event)
            resp.headers.add("X-Inner", str(resp.status))
            return resp

    if middleware == "async":
        @app.middleware
        async def timed(event, call_next):
            return await call_next(event)

    @app.http("GET", "/plain/{id}")
    def plain(id: int, tag: list[str] | None = None, x_many: Annotated[list[str], Header()] = []) -> dict:  # noqa: B006
        return {"id": id, "tag": tag, "many": x_many, "none": None, "text": "é"}

    @app.http("GET", "/returns/{what}")
    def returns(what: str) -> Any:
        return {"none": None, "text": "hello", "list": [1, 2], "bytes": b"\x00\x01", "nan": {"x": float("nan")},
                "status": ({"a": 1}, 202)}.get(what, {"what": what})

    @app.http("POST", "/orders")
    def create(order: Order, x_tenant: Annotated[str, Header()] = "public") -> dict:
        return {"sku": order.sku, "qty": order.qty, "tenant": x_tenant}

    @app.http("GET", "/search")
    def search(q: str = "all", x_page: Annotated[int, Header()] = 1) -> dict:  # every parameter has a default
        return {"q": q, "page": x_page}

    @app.http("GET", "/async/{n}")
    async def doubled(n: int) -> dict:
        return {"n": n * 2}

    @app.http("GET", "/hello/{name}")
    def hello(req: HttpRequest) -> dict:
        return {"hello": req.path_params["name"]}

    return app


def requests() -> list[tuple[HttpRequest, str]]:
    orders = "/orders/{id}"
    return [
        (HttpRequest("GET", "/orders/42", query={"limit": ["5"]}, headers={"X-Tenant": "acme"}), orders),
        (HttpRequest("GET", "/orders/42"), orders),
        (HttpRequest("GET", "/orders/42", query={"limit": ["0"]}), orders),
        (HttpRequest("GET", "/orders/42", query={"limit": ["many"]}, headers={"x-tenant": "t"}), orders),
        (HttpRequest("GET", "/orders/x", query={"limit": ["1000"]}), orders),
        (HttpRequest("GET", "/orders/500"), orders),
        (HttpRequest("GET", "/orders/400"), orders),
        (HttpRequest("GET", "/orders/201", query={"limit": ["7"]}), orders),
        (HttpRequest("GET", "/orders/418"), orders),
        (HttpRequest("GET", "/orders/999"), orders),
        (HttpRequest("GET", "/orders/998"), orders),
        (HttpRequest("HEAD", "/orders/42"), orders),
        (HttpRequest("GET", "/plain/3", query={"tag": ["a", "b"]}, headers={"X-Many": "1"}), "/plain/{id}"),
        (HttpRequest("GET", "/plain/3"), "/plain/{id}"),
        *[(HttpRequest("GET", f"/returns/{what}"), "/returns/{what}")
          for what in ("none", "text", "list", "bytes", "nan", "status", "other")],
        (HttpRequest("POST", "/orders", headers=JSON, body=b'{"sku": "s-1", "qty": 2}'), "/orders"),
        (HttpRequest("POST", "/orders", headers=JSON, body=b'{"qty": "two"}'), "/orders"),
        (HttpRequest("POST", "/orders", headers={"Content-Type": "text/plain"}, body=b"x"), "/orders"),
        (HttpRequest("POST", "/orders", headers=JSON, body=b'{"sku": "s", "qty": NaN}'), "/orders"),
        (HttpRequest("GET", "/search"), "/search"),
        (HttpRequest("GET", "/search", query={"q": ["shoes"]}, headers={"X-Page": "2", "Cookie": "a=1"}), "/search"),
        (HttpRequest("GET", "/search", headers={"x-page": "two"}), "/search"),
        (HttpRequest("GET", "/async/21"), "/async/{n}"),
        (HttpRequest("GET", "/hello/ada"), "/hello/{name}"),
        (HttpRequest("PUT", "/hello/ada"), "/hello/{name}"),
    ]


def native_event(req: HttpRequest, template: str, variant: str) -> dict[str, Any]:
    event = http.encode_request(req, variant, request_id="r-1")
    if variant == "apigw-v2":
        event["routeKey"] = event["requestContext"]["routeKey"] = f"{req.method} {template}"
    if variant == "apigw-v1":
        event["resource"] = template
    return event


def reference_answer(app: App, event: dict[str, Any], function: str | None,
                     monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The general path as it was: handle_http, the middleware chain walked per request, then encode_response."""
    with monkeypatch.context() as patch:
        patch.setattr(invoke, "_http_chain", lambda spec, target: False)
        req, variant = http.decode_request(event)
        resp = handle_http(app, req, function=function, target="aws", invocation_id="r-1",
                           route_template=None if function else http.matched_route(event))
        return outcome.encode_response(resp, variant)


@pytest.mark.parametrize("middleware", ["none", "passthrough", "two", "async"])
@pytest.mark.parametrize("variant", VARIANTS)
def test_the_lambda_handler_answers_typed_routes_as_the_general_path(middleware, variant, monkeypatch):
    app = build_app(middleware)
    handler = bind(app)
    context = LambdaContext(aws_request_id="r-1")
    for req, template in requests():
        event = native_event(req, template, variant)
        direct = handler(copy.deepcopy(event), context)
        reference = reference_answer(app, copy.deepcopy(event), None, monkeypatch)
        assert direct == reference, (middleware, req, direct, reference)
        assert json.dumps(direct) == json.dumps(reference)  # key order included


@pytest.mark.parametrize("variant", ["apigw-v2", "alb-multi"])
def test_one_function_per_lambda_answers_typed_routes_as_the_general_path(variant, monkeypatch):
    app = build_app("two")
    context = LambdaContext(aws_request_id="r-1")
    for function in ("get_order", "plain", "create"):
        handler = bind(app, function)
        for req, template in requests():
            event = native_event(req, template, variant)
            assert handler(copy.deepcopy(event), context) == reference_answer(app, copy.deepcopy(event), function,
                                                                              monkeypatch)


def test_the_answers_are_what_the_route_declares():
    """Not only equal to the reference: the typed lane's answers are the right ones."""
    handler = bind(build_app("passthrough"))
    context = LambdaContext(aws_request_id="r-1")
    event = native_event(requests()[0][0], "/orders/{id}", "apigw-v2")
    answer = handler(event, context)
    assert answer["statusCode"] == 200 and answer["headers"] == {"content-type": "application/json"}
    assert answer["body"] == '{"id":42,"limit":5,"tenant":"acme"}'
    bad = handler(native_event(requests()[3][0], "/orders/{id}", "apigw-v2"), context)
    assert bad["statusCode"] == 400 and bad["headers"]["content-type"] == "application/problem+json"
    assert {e["loc"][0] for e in json.loads(bad["body"])["errors"]} == {"limit"}
    failed = handler(native_event(HttpRequest("GET", "/orders/400"), "/orders/{id}", "apigw-v2"), context)
    assert failed["statusCode"] == 500


def test_middleware_added_after_the_first_request_is_run():
    app = build_app("none")
    handler = bind(app)
    context = LambdaContext(aws_request_id="r-1")
    event = native_event(HttpRequest("GET", "/orders/42"), "/orders/{id}", "apigw-v2")
    assert "x-late" not in handler(copy.deepcopy(event), context)["headers"]

    @app.middleware
    def late(event, call_next):
        resp = call_next(event)
        resp.headers.add("X-Late", "1")
        return resp

    assert handler(copy.deepcopy(event), context)["headers"]["x-late"] == "1"
    app._middleware.clear()
    assert "x-late" not in handler(copy.deepcopy(event), context)["headers"]


# -- compose: what run gives ------------------------------------------------------------------------------------

def test_a_composed_chain_gives_what_running_the_chain_gives():
    from portafunc.middleware import Middleware

    def add(tag):
        def mw(event, call_next):
            return [f"{tag}>", *call_next([*event, tag]), f"<{tag}"]
        return Middleware(mw, None)

    def stop(event, call_next):
        return ["stopped", *event]

    def core(event):
        return ["core", *event]

    chains = [[], [add("a")], [add("a"), add("b")], [add("a"), Middleware(stop, None), add("c")]]
    for chain in chains:
        composed = compose(chain, core)
        assert composed is not None
        pair = outermost(chain, core)  # the same chain as the outermost middleware and its call_next
        assert (pair is None) == (not chain)
        for _ in range(2):  # built once, run again and again
            assert composed(["e"]) == run(chain, ["e"], core, True)
            if pair is not None:
                assert pair[0](["e"], pair[1]) == run(chain, ["e"], core, True)


def test_a_chain_with_an_async_middleware_is_not_composed():
    from portafunc.middleware import Middleware

    async def later(event, call_next):
        return await call_next(event)

    assert compose([Middleware(later, None)], lambda e: e) is None
    assert outermost([Middleware(later, None)], lambda e: e) is None


@pytest.mark.parametrize("middleware", ["none", "passthrough", "two"])
def test_synchronous_typed_routes_and_middleware_take_the_direct_lane(middleware, monkeypatch):
    """What the tests above compare is the direct lane itself, not a fall-back to the general path."""
    general: list[str] = []
    real = invoke.invoke_http
    monkeypatch.setattr(invoke, "invoke_http", lambda spec, *a, **k: general.append(spec.name) or real(spec, *a, **k))
    handler = bind(build_app(middleware))
    context = LambdaContext(aws_request_id="r-1")
    for req, template in requests():
        if req.method != "HEAD":  # HEAD takes handle_http's steps, as for a plain handler
            handler(native_event(req, template, "apigw-v2"), context)
    assert set(general) == {"doubled"}  # only the async handler


# -- the shortcuts the lane's answers take, each against the code it stands for ----------------------------------

@pytest.mark.parametrize("variant", VARIANTS + ["other"])
def test_a_json_answer_is_encoded_as_any_response_is(variant):
    """encode_response's shortcut for a JSON response gives what its general encoding gives, key order included."""
    from portafunc.events import json_response

    for status in (200, 201, 204, 299, 404, 500, 599):
        for body in (b'{"a":1}', b"", "é ☃".encode(), b"\xff\xfe", b"[1,2]"):
            built = HttpResponse(status, None, body)
            built.headers._items.append(("Content-Type", "application/json"))
            general = outcome._encode_any(built, variant)
            for resp in (built, json_response(status, body)):
                answer = outcome.encode_response(resp, variant)
                assert answer == general and json.dumps(answer) == json.dumps(general), (status, body)
    for other in (HttpResponse(200, {"Content-Type": "application/json", "X-A": "1"}, b"{}"),
                  HttpResponse(200, {"content-type": "application/json"}, b"{}"), HttpResponse.text("x")):
        assert outcome.encode_response(other, variant) == outcome._encode_any(other, variant)


def test_json_response_is_the_response_the_constructor_builds():
    from portafunc.events import json_response

    for status, body in ((200, b"{}"), (201, "é".encode()), (500, b"")):
        built = HttpResponse(status, None, body)
        built.headers._items.append(("Content-Type", "application/json"))
        fast = json_response(status, body)
        assert (fast.status, fast.headers._items, fast.headers._sendable, fast.body, fast.streamed) == \
            (built.status, built.headers._items, built.headers._sendable, built.body, built.streamed)
        assert HttpResponse.json({"a": 1}, status).headers._items == [("Content-Type", "application/json")]


def test_the_query_map_is_parse_qsl_grouped():
    import random
    from urllib.parse import parse_qsl

    strings = ["limit=5", "a=1&a=2&b", "&&a=&=b&c==d&", "x", "=", "a=1;b=2", "é=ü&ü", "a+b=c+d", "a%20b=%zz&c=%41",
               "a=b=c", "a&a=&a=1"]
    rng = random.Random(7)
    strings += ["".join(rng.choice("ab=&;+%20é ") for _ in range(rng.randrange(1, 12))) for _ in range(2000)]
    for raw in strings:
        expected: dict[str, list[str]] = {}
        for name, value in parse_qsl(raw, keep_blank_values=True):
            expected.setdefault(name, []).append(value)
        assert http._query_map(raw) == expected, raw
        assert list(http._query_map(raw)) == list(expected), raw


def test_a_router_middleware_added_or_removed_after_the_first_request_is_seen():
    from portafunc import Router

    app, router = App("routed"), Router()

    @router.http("GET", "/orders/{id}")
    def get_order(id: int) -> dict:
        return {"id": id}

    app.include_router(router, prefix="/v1")
    handler = bind(app)
    context = LambdaContext(aws_request_id="r-1")
    event = native_event(HttpRequest("GET", "/v1/orders/7"), "/v1/orders/{id}", "apigw-v2")
    assert handler(copy.deepcopy(event), context)["body"] == '{"id":7}'

    @router.middleware
    def tag(event, call_next):
        resp = call_next(event)
        resp.headers.add("X-Router", "1")
        return resp

    assert handler(copy.deepcopy(event), context)["headers"]["x-router"] == "1"
    router._middleware[0] = type(router._middleware[0])(lambda event, call_next: {"replaced": True}, None)
    assert handler(copy.deepcopy(event), context)["body"] == '{"replaced":true}'
