"""The Lambda handler reads the usual HTTP API (payload 2.0) or Function URL event in one pass
(``http.api_v2_request``) and sends it straight to the direct lane. That reading must give exactly what the general path gives (``detect``,
``decode_request``, ``matched_route``, then ``_dispatch``) or decline, for well-formed events and every malformed
one: each golden case and mutation of ``test_lazy_http`` plus mutations of the fields only this reading checks
(version, routeArn, elb, domainName, stage, routeKey, resource), read both ways and answered both ways by a real app.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from portafunc import App, HttpRequest
from portafunc.errors import EventDecodeError
from portafunc_aws.codecs import http
from portafunc_aws.lambda_context import LambdaContext
from portafunc_aws.runtime import bind

from aws_test_support import answer, counted_dispatch, load_fixture
from test_lazy_http import CASES, outcome
from typed_apps import order_app

BASE = "http-apigw-v2/sam-HttpApi.json"


def lane_cases() -> list[dict[str, Any]]:
    """Mutations of what only the one-pass reading checks, on the sample event and on a request to a typed route."""
    typed = load_fixture(BASE)
    typed.update({"routeKey": "GET /orders/{id}", "rawPath": "/orders/42", "rawQueryString": "limit=5"})
    typed["headers"] = {"Header1": "value1", "x-tenant": "acme"}
    typed["body"], typed["isBase64Encoded"] = None, False
    typed["requestContext"]["http"]["method"] = "GET"
    out = []
    top: list[tuple[str, Any]] = [
        ("version", "1.0"), ("version", None), ("version", 2), ("routeArn", "arn:aws:execute-api:x"),
        ("routeArn", None), ("routeKey", "$default"), ("routeKey", "GET"), ("routeKey", "GET orders"),
        ("routeKey", None), ("routeKey", 5), ("routeKey", ["GET /x"]), ("resource", "/orders/{id}"),
        ("httpMethod", "POST"), ("rawPath", "/orders/a%2Fb"), ("rawPath", ""), ("rawPath", "/orders/42/"),
        ("rawQueryString", ""), ("rawQueryString", "limit=0"), ("rawQueryString", "limit=%35&limit=6"),
        ("cookies", ["a=1", "b=2"]), ("cookies", ["a=\r1"]), ("cookies", [None]), ("cookies", ()),
        ("body", "hello"), ("body", "é"), ("body", 5), ("body", b"x"), ("isBase64Encoded", True),
        ("headers", {"X-Tenant": "a", "x-tenant": "b"}), ("headers", {"x-tenant": 5}), ("headers", "x"),
    ]
    context: list[tuple[str, Any]] = [
        ("elb", {}), ("domainName", "abc.lambda-url.us-east-1.on.aws"), ("domainName", None), ("domainName", 5),
        ("domainName", "x.execute-api.example.com"), ("stage", "prod"), ("stage", None), ("stage", 5),
        ("stage", "orders"), ("stage", "$default"), ("http", None), ("http", []), ("eventType", "CONNECT"),
    ]
    http_fields: list[tuple[str, Any]] = [("method", "get"), ("method", None), ("method", 5), ("sourceIp", None),
                                          ("sourceIp", 5), ("sourceIp", "203.0.113.1")]
    for base in (load_fixture(BASE), typed):
        out.append(copy.deepcopy(base))
        for key, value in top:
            event = copy.deepcopy(base)
            event[key] = value
            out.append(event)
            gone = copy.deepcopy(base)
            gone.pop(key, None)
            out.append(gone)
        for routed in ({"routeKey": None, "resource": "/orders/{id}"}, {"routeKey": 5, "resource": 5}):
            event = copy.deepcopy(base)
            event.update(routed)
            out.append(event)
            gone = copy.deepcopy(event)
            del gone["routeKey"]
            out.append(gone)
        for key, value in context:
            event = copy.deepcopy(base)
            event["requestContext"][key] = value
            out.append(event)
        for key, value in http_fields:
            event = copy.deepcopy(base)
            event["requestContext"]["http"][key] = value
            out.append(event)
    return out


EVENTS = [event for event, _ in CASES] + lane_cases()


def general_reading(event: Any) -> Any:
    """What the general path reads from ``event``: its variant, request (or refusal) and matched template."""
    try:
        variant = http.detect(event)
    except EventDecodeError as exc:
        return ["error", str(exc)]
    if variant is None:
        return None
    return [variant, outcome(lambda: http.decode_request(event, variant)[0]), http.matched_route(event)]


@pytest.mark.parametrize("case", range(len(EVENTS)))
def test_the_one_pass_reading_gives_what_the_general_reading_gives_or_declines(case):
    event = EVENTS[case]
    if event.__class__ is not dict:
        return
    general = general_reading(copy.deepcopy(event))
    try:
        found = http.api_v2_request(event)
    except EventDecodeError as exc:  # a body that is no base64: refused as decode_request refuses it
        assert general[0] in ("apigw-v2", "function-url") and general[1] == ["error", str(exc)]
        return
    except UnicodeError as exc:  # text that cannot be encoded: what the Lambda handler says of it
        assert general[0] in ("apigw-v2", "function-url") and general[1] == ["unicode", type(exc).__name__]
        return
    if found is not None:
        req, template, variant = found
        assert general == [variant, outcome(lambda: req), template if variant == "apigw-v2" else general[2]]
        if variant == "function-url":  # a Function URL has no platform router: the handler routes by path
            assert template is None


def test_the_usual_events_are_read_in_one_pass():
    """The lane is taken, not declined, for what API Gateway sends (cookies, a stage, a body, escapes)."""
    def taken(event: Any) -> bool:
        try:
            return http.api_v2_request(event) is not None
        except (EventDecodeError, UnicodeError):
            return True

    assert sum(taken(event) for event in EVENTS if event.__class__ is dict) > 100
    base = load_fixture(BASE)
    for change in ({}, {"cookies": ["a=1"]}, {"body": "{}", "isBase64Encoded": False}, {"body": "é", "isBase64Encoded": False},
                   {"rawPath": "/my/a%20b"}, {"routeKey": "GET /orders/{id}"}, {"headers": {}}):
        event = dict(copy.deepcopy(base), **change)
        assert http.api_v2_request(event) is not None, change
    url = load_fixture("http-function-url/powertools-lambdaFunctionUrlEvent.json")
    found = http.api_v2_request(url)
    assert found is not None and found[1:] == (None, "function-url")


def build_app(middleware: bool) -> App:
    app = order_app("api-v2-lane", middleware)

    @app.http(["GET", "POST"], "/my/path")
    def my_path(req: HttpRequest) -> dict:
        return {"path": req.path, "query": req.query, "headers": req.headers.to_multi(), "body": req.text,
                "ip": req.client_ip, "cookies": req.cookies}

    @app.http("GET", "/{rest+}")
    def anything(rest: str) -> dict:
        return {"rest": rest}

    return app


@pytest.mark.parametrize("middleware", [False, True])
@pytest.mark.parametrize("function", [None, "get_order"])
@pytest.mark.parametrize("topic", [False, True])
def test_the_lambda_handler_answers_as_the_general_path(middleware, function, topic):
    app = build_app(middleware)
    if topic:  # SNS HTTP(S) deliveries routed: the lane checks for one first
        @app.topic("orders")
        def on_order(msg):
            pass
    lane, general = bind(app, function), bind(app, function)
    general.api_v2_lane = False
    context = LambdaContext(aws_request_id="r-1")
    for event in EVENTS:
        assert answer(lane, event, context) == answer(general, event, context), event


def test_a_handler_that_must_see_other_events_first_does_not_take_the_lane(monkeypatch):
    app = build_app(False)

    @app.topic("orders")
    def on_order(msg):  # an app with topic functions routes SNS HTTP(S) deliveries before HTTP
        pass

    handler = bind(app)
    general = counted_dispatch(handler, monkeypatch)
    event = load_fixture(BASE)
    event["headers"] = {"x-amz-sns-message-type": "Notification"}
    handler(copy.deepcopy(event), LambdaContext(aws_request_id="r-1"))
    assert len(general) == 1  # a delivery's header: the general path, which offers it to the topic functions
    event["headers"] = {"x-other": "1"}
    handler(copy.deepcopy(event), LambdaContext(aws_request_id="r-1"))
    assert len(general) == 1  # any other request: the lane
    assert not bind(app, "on_order").api_v2_lane
    monkeypatch.setenv("PORTAFUNC_ROUTER", "unmatched")
    assert not bind(build_app(False)).api_v2_lane  # the $default router answers only what API Gateway did not match


QUERIES = ["limit=5", "a=1&a=2&b", "&&a=&=b&c==d&", "x", "=", "a=1;b=2", "é=ü&ü", "a+b=c+d", "a%20b=%zz&c=%41",
           "a=b=c", "a&a=&a=1", "", "limit=5&limit=6", "b=1&limit", "&limit=7"]


@pytest.mark.parametrize("case", range(len(EVENTS)))
def test_the_first_values_are_what_the_query_and_headers_give(case):
    """``first_values`` (what the usual typed signature reads) gives, for query names and header names, what the
    request's query map (first value) and ``header_values`` give, or declines (escapes in the query string, a
    header map the request converts or refuses), for each event the HTTP API decoder builds a lazy request of."""
    event = EVENTS[case]
    try:
        if event.__class__ is not dict or http.detect(event) not in ("apigw-v2", "function-url") \
                or http._lazy_v2(event, "apigw-v2") is None:
            return
    except (EventDecodeError, UnicodeError):
        return
    fields = http._V2["apigw-v2"]
    names = ("limit", "a", "b", "", "c", "x", "é", "parameter1", "nope")
    headers = ("header1", "x-tenant", "cookie", "missing")
    for raw in [event["rawQueryString"], *QUERIES]:
        native = dict(event, rawQueryString=raw)
        found = fields.first_values(native, names, headers)
        if "%" in raw or "+" in raw:
            assert found is None
            continue
        from_headers = fields.header_values(native, headers)
        if from_headers is None:
            assert found is None
            continue
        query = http._query_map(raw) if raw else {}
        assert found == [query[n][0] if n in query else None for n in names] + from_headers, raw
        assert fields.first_values(native, names, ()) == found[:len(names)]
        assert fields.first_values(native, names, headers) == found  # the header map's names seen before


def test_the_lambda_handler_takes_the_lane_for_the_usual_event(monkeypatch):
    """The answers compared above come from the lane itself: a well-formed event never reaches _dispatch."""
    handler = bind(build_app(True))
    monkeypatch.setattr(handler, "_dispatch", lambda event, context: pytest.fail("read by the general path"))
    event = load_fixture(BASE)
    event.update({"routeKey": "GET /orders/{id}", "rawPath": "/orders/42", "rawQueryString": "limit=5",
                  "headers": {"Header1": "value1", "x-tenant": "acme"}, "body": None})
    event["requestContext"]["http"]["method"] = "GET"
    answer = handler(event, LambdaContext(aws_request_id="r-1"))
    assert answer["statusCode"] == 200 and answer["body"] == '{"id":42,"limit":5,"tenant":"acme"}'


def test_the_one_pass_request_holds_what_httprequest_lazy_builds():
    """The usual request without a body is built by the one-pass reading itself (HttpRequest.lazy written out):
    every slot holds what ``HttpRequest.lazy`` puts there, so a slot added to the class cannot be left unset."""
    for event in (load_fixture(BASE), load_fixture("http-function-url/powertools-lambdaFunctionUrlEvent.json")):
        event = dict(event, body=None)
        found = http.api_v2_request(event)
        assert found is not None
        req, _, variant = found
        want = HttpRequest.lazy(event["requestContext"]["http"]["method"], req.path, event, http._V2[variant])
        slots = [name for cls in HttpRequest.__mro__ for name in getattr(cls, "__slots__", ())]
        assert slots and {name: getattr(req, name) for name in slots} == {name: getattr(want, name) for name in slots}
