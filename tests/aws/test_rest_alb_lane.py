"""The Lambda handler reads the usual REST API (payload 1.0) or ALB event, single- or multi-value, in one pass
(``http.rest_alb_request``) and sends it straight to the direct lane. That reading must give exactly what the general
path gives (``detect``, ``decode_request``, ``matched_route``, then ``_dispatch``) or decline, for well-formed events
and every malformed one: each golden case and mutation of ``test_lazy_http`` plus systematic mutations of every
field these events carry (removed, None, each wrong type, and the values that matter: escapes, stage prefixes,
base64 bodies, repeated headers and query values, cookies, non-ASCII text), read both ways field by field and
answered both ways by a real app.
"""

from __future__ import annotations

import copy
import json
from typing import Any, Callable

import pytest

from portafunc import App, HttpRequest
from portafunc.errors import EventDecodeError
from portafunc_aws.codecs import http
from portafunc_aws.lambda_context import LambdaContext
from portafunc_aws.runtime import _sns_delivery, bind

from aws_test_support import answer, counted_dispatch, load_fixture
from test_lazy_http import CASES
from typed_apps import order_app

V1 = ("http-apigw-v1/sam-AwsProxy.json", "http-apigw-v1/powertools-apiGatewayProxyEvent.json")
ALB, ALB_MULTI = "http-alb/sam-ALBRequest.json", "http-alb/powertools-albMultiValueHeadersEvent.json"
UNMATCHED = ("alb", "alb-multi", "function-url")  # no platform router names their route: no template
WRONG: list[Any] = [None, 5, 1.5, True, "x", [], ["x"], {}, b"x"]  # every field set to each of these, and removed


def typed_v1() -> dict[str, Any]:
    """A REST API request to the typed route ``/orders/{id}``, as API Gateway sends it on a named stage."""
    event = load_fixture(V1[0])
    event.update({"resource": "/orders/{id}", "path": "/orders/42", "httpMethod": "GET", "body": None,
                  "isBase64Encoded": False, "pathParameters": {"id": "42"},
                  "queryStringParameters": {"limit": "5"}, "multiValueQueryStringParameters": {"limit": ["5"]},
                  "headers": {"Header1": "value1", "X-Tenant": "acme"},
                  "multiValueHeaders": {"Header1": ["value1"], "X-Tenant": ["acme"]}})
    event["requestContext"].update({"resourcePath": "/orders/{id}", "httpMethod": "GET", "stage": "prod",
                                    "path": "/prod/orders/42"})
    return event


def typed_alb(multi: bool) -> dict[str, Any]:
    """An ALB request to the typed route, single- or multi-value."""
    event = load_fixture(ALB_MULTI if multi else ALB)
    event.update({"httpMethod": "GET", "path": "/orders/42", "body": "", "isBase64Encoded": False})
    if multi:
        event["multiValueQueryStringParameters"] = {"limit": ["5"]}
        event["multiValueHeaders"] = dict(event["multiValueHeaders"], **{"x-tenant": ["acme"]})
    else:
        event["queryStringParameters"] = {"limit": "5"}
        event["headers"] = dict(event["headers"], **{"x-tenant": "acme"})
    return event


def bases() -> list[dict[str, Any]]:
    return [load_fixture(V1[0]), load_fixture(V1[1]), typed_v1(), load_fixture(ALB), load_fixture(ALB_MULTI),
            typed_alb(False), typed_alb(True)]


# the values that matter, per field, beside the wrong types of WRONG
VALUES: list[tuple[str, Any]] = [
    ("httpMethod", "get"), ("httpMethod", "POST"), ("httpMethod", "HEAD"), ("httpMethod", "DELETE"),
    ("httpMethod", "ö"),
    ("path", "/orders/a%2Fb"), ("path", "/orders/%34%32"), ("path", "/a%20b/%2F"), ("path", "/caf%C3%A9"),
    ("path", "/café"), ("path", ""), ("path", "/"), ("path", "/orders/42/"), ("path", "/prod/orders/42"),
    ("path", "/orders/%zz"), ("path", "/orders/%"), ("path", "/my/path"), ("path", "orders/42"),
    ("resource", "/orders/{id}"), ("resource", "/{proxy+}"), ("resource", "/my/path"), ("resource", "orders"),
    ("resource", "/nope/{x}"),
    ("headers", {"X-Forwarded-For": "1.2.3.4, 5.6.7.8", "Cookie": "a=1; b=2", "X-Tenant": "t"}),
    ("headers", {"x-tenant": "ü", "Cookie": "é=ö"}), ("headers", {"X-A": "1", "x-a": "2"}), ("headers", {"x": None}),
    ("headers", {"x": 5}), ("headers", {5: "x"}), ("headers", {"x": "a\r\nb"}),
    ("headers", {"X-Amz-Sns-Message-Type": "Notification"}), ("headers", {"x-amz-sns-message-type": "Notification"}),
    ("multiValueHeaders", {"Cookie": ["a=1", "b=2"], "X-Forwarded-For": ["1.2.3.4, 5.6.7.8", "9.9.9.9"]}),
    ("multiValueHeaders", {"x-tenant": ["a", "b"], "X-Tenant": ["c"]}), ("multiValueHeaders", {"a": []}),
    ("multiValueHeaders", {"a": ["x", 5]}), ("multiValueHeaders", {"a": "x"}), ("multiValueHeaders", {5: ["x"]}),
    ("multiValueHeaders", {"a": ("x",)}), ("multiValueHeaders", {"x-amz-sns-message-type": ["Notification"]}),
    ("multiValueHeaders", {"cookie": ["é=ü"], "x": ["ö"]}),
    ("queryStringParameters", {"limit": "5", "q": "a+b%2B"}), ("queryStringParameters", {"a%20b": "c+d"}),
    ("queryStringParameters", {"é": "ü"}), ("queryStringParameters", {"q": 1}), ("queryStringParameters", {5: "x"}),
    ("queryStringParameters", {"limit": "0"}),
    ("multiValueQueryStringParameters", {"limit": ["5", "6"], "a%20b": ["c+d", "%41"]}),
    ("multiValueQueryStringParameters", {"é": ["ü", "%C3%A9"]}), ("multiValueQueryStringParameters", {"a": []}),
    ("multiValueQueryStringParameters", {"a": [1]}), ("multiValueQueryStringParameters", {"a": "x"}),
    ("multiValueQueryStringParameters", {5: ["x"]}), ("multiValueQueryStringParameters", {"a": ("x",)}),
    ("pathParameters", {"id": "7"}), ("pathParameters", {"id": 5}), ("pathParameters", {"id": "a b"}),
    ("pathParameters", {"proxy": "x/y"}),
    ("body", "aGk="), ("body", "not base64!"), ("body", "{}"), ("body", "é"), ("body", "lone \ud800"),
    ("body", "x" * 100), ("body", ""), ("isBase64Encoded", False), ("isBase64Encoded", "yes"),
    # what other events carry: an HTTP API event, an authorizer input, a route key
    ("rawPath", "/orders/42"), ("version", "2.0"), ("version", "1.0"), ("methodArn", "arn:aws:execute-api:x"),
    ("type", "REQUEST"), ("routeKey", "GET /orders/{id}"), ("routeKey", "$default"), ("routeArn", "arn:x"),
]

# requestContext's fields: a load balancer's mark, an authorizer's or WebSocket's, the client's identity, the stage
CONTEXT: list[tuple[str, Any]] = [
    ("elb", {}), ("elb", None), ("eventType", "CONNECT"), ("connectionId", "c-1"), ("identity", None),
    ("identity", []), ("identity", {}), ("identity", {"sourceIp": 5}), ("identity", {"sourceIp": None}),
    ("identity", {"sourceIp": "198.51.100.1"}), ("identity", {"sourceIp": "2001:db8::1"}), ("stage", "prod"),
    ("stage", None), ("stage", 5), ("path", "/prod/orders/42"), ("path", "/base/orders/42"), ("path", None),
    ("domainName", "api.example.com"), ("domainName", None), ("domainName", "x.lambda-url.us-east-1.on.aws"),
    ("http", {"method": "GET"}),
]


def lane_cases() -> list[dict[str, Any]]:
    out = []
    for base in bases():
        out.append(copy.deepcopy(base))
        names = sorted({*base, "resource", "pathParameters", "headers", "multiValueHeaders", "queryStringParameters",
                        "multiValueQueryStringParameters", "body", "isBase64Encoded"})
        for key in names:
            gone = copy.deepcopy(base)
            gone.pop(key, None)
            out.append(gone)
            for value in WRONG:
                event = copy.deepcopy(base)
                event[key] = copy.deepcopy(value)
                out.append(event)
        for key, value in VALUES:
            event = copy.deepcopy(base)
            event[key] = value
            out.append(event)
            if key in ("path", "body", "headers", "multiValueHeaders"):  # with a base64 body, and escaped too
                coded = copy.deepcopy(event)
                coded["body"], coded["isBase64Encoded"] = "aGk=", True
                out.append(coded)
            if key in ("headers", "queryStringParameters") and "multiValue" + key[0].upper() + key[1:] in event:
                single = copy.deepcopy(event)  # the single-value map alone (an ALB target group's default)
                del single["multiValue" + key[0].upper() + key[1:]]
                out.append(single)
        for key, value in CONTEXT:
            event = copy.deepcopy(base)
            event["requestContext"][key] = value
            out.append(event)
            gone = copy.deepcopy(base)
            gone["requestContext"].pop(key, None)
            out.append(gone)
        for mode in ("multiValueHeaders", "multiValueQueryStringParameters"):  # an ALB's mode told by a key alone
            event = copy.deepcopy(base)
            event[mode] = None
            out.append(event)
        for change in ({"version": "2.0", "rawPath": "/orders/42"}, {"version": "2.0", "rawPath": 5},
                       {"routeKey": None, "resource": "/orders/{id}"}, {"routeKey": 5, "resource": 5},
                       {"type": "REQUEST", "methodArn": "arn:x"}):  # what detect and matched_route read first
            out.append(dict(copy.deepcopy(base), **change))
    return out


EVENTS = [event for event, _ in CASES] + lane_cases()


def read(fn: Callable[[], Any]) -> Any:
    try:
        return ["ok", fn()]
    except (EventDecodeError, ValueError) as exc:  # UnicodeError and InvalidHeader are ValueErrors
        return refused(exc)


def refused(exc: Exception) -> Any:
    if isinstance(exc, UnicodeError):
        return ["unicode", type(exc).__name__]
    return ["error" if isinstance(exc, EventDecodeError) else "value", str(exc)]


def fields(req: HttpRequest) -> list[Any]:
    """Every field of a request, each read on its own (a field the lane reads differently fails alone)."""
    return [read(lambda: req.method), read(lambda: req.path), read(lambda: req.raw_path),
            read(lambda: req._raw_path), read(lambda: req.query), read(lambda: req.headers.items()),
            read(lambda: req.body), read(lambda: req.text if req.body.isascii() else None),
            read(lambda: req.path_params), read(lambda: req.client_ip), read(lambda: req.cookies),
            read(lambda: req.raw_query), read(lambda: req.base_url), read(lambda: req.to_dict(context=True)),
            req.native, req._fields, req.principal]


def general_reading(event: Any) -> Any:
    """What the general path reads from ``event``: its variant, request (or refusal) and the template it routes by."""
    try:
        variant = http.detect(event)
    except EventDecodeError as exc:
        return ["error", str(exc)]
    if variant is None:
        return None
    try:
        req = http.decode_request(event, variant)[0]
    except (EventDecodeError, ValueError) as exc:  # UnicodeError and InvalidHeader are ValueErrors
        return [variant, refused(exc)]
    return [variant, ["ok", fields(req)], None if variant in UNMATCHED else http.matched_route(event)]


@pytest.mark.parametrize("case", range(len(EVENTS)))
def test_the_one_pass_reading_gives_what_the_general_reading_gives_or_declines(case):
    event = EVENTS[case]
    if event.__class__ is not dict:
        return
    general = general_reading(copy.deepcopy(event))
    try:
        found = http.rest_alb_request(event)
    except (EventDecodeError, UnicodeError) as exc:  # a body that is no base64 or no text: refused as the general path
        assert general is not None and general[0] in ("apigw-v1", "alb", "alb-multi")
        assert general[1] == refused(exc)
        return
    if found is not None:
        req, template, variant = found
        assert general == [variant, ["ok", fields(req)], template]
    routed = http.rest_alb_request(event, True)  # SNS HTTP(S) deliveries routed: one is declined, as the handler
    if _sns_delivery(event) or found is None:  # offers it to the topic functions; any other event read the same
        assert routed is None
    else:
        assert routed is not None and [fields(routed[0]), *routed[1:]] == [fields(found[0]), *found[1:]]


def taken(event: Any) -> bool:
    try:
        return http.rest_alb_request(event) is not None
    except (EventDecodeError, UnicodeError):
        return True


def test_the_usual_events_are_read_in_one_pass():
    """The lane is taken, not declined, for what API Gateway and an ALB send (a stage, a body, escapes, cookies,
    repeated values, non-ASCII text), so the comparison above covers it."""
    usual = [event for event in EVENTS if event.__class__ is dict and "httpMethod" in event]
    assert sum(taken(event) for event in usual) > 600
    for base in bases():
        assert taken(base)
        for change in ({"path": "/a%20b"}, {"body": "é"}, {"body": "aGk=", "isBase64Encoded": True},
                       {"pathParameters": None}, {"headers": {"Cookie": "a=1"}}, {"queryStringParameters": None}):
            assert taken(dict(copy.deepcopy(base), **change)), change
    assert http.rest_alb_request(typed_v1())[1:] == ("/orders/{id}", "apigw-v1")
    assert http.rest_alb_request(typed_alb(False))[1:] == (None, "alb")
    assert http.rest_alb_request(typed_alb(True))[1:] == (None, "alb-multi")


def build_app(middleware: bool) -> App:
    app = order_app("rest-alb-lane", middleware)

    @app.http(["GET", "POST"], "/my/path")
    def my_path(req: HttpRequest) -> dict:
        return {"path": req.path, "raw_path": req.raw_path, "query": req.query, "headers": req.headers.to_multi(),
                "body": req.text, "ip": req.client_ip, "cookies": req.cookies, "params": req.path_params}

    @app.http(["GET", "POST", "DELETE"], "/files/{name}")
    def files(req: HttpRequest) -> dict:
        return {"params": req.path_params, "raw_path": req.raw_path, "base": req.base_url}

    @app.http("GET", "/{rest+}")
    def anything(rest: str) -> dict:
        return {"rest": rest}

    return app


def answered(events: list[Any]) -> list[Any]:
    """The events with the answers' routes in them: each path also sent to the echo and file routes."""
    out = list(events)
    for base in bases():
        for path in ("/my/path", "/files/a%2Fb", "/files/caf%C3%A9", "/files/x", "/prod/files/x", "/orders/500",
                     "/orders/400", "/orders/201", "/orders/418", "/orders/202", "/orders/7", "/orders/x", "/nope/"):
            for resource in ("/{proxy+}", "/files/{name}", "/orders/{id}", "/my/path"):
                event = copy.deepcopy(base)
                event["path"] = path
                if "elb" not in event["requestContext"]:
                    event["resource"] = resource
                    event["pathParameters"] = {"name": "x"} if "{name}" in resource else None
                out.append(event)
    return out


ANSWERED = answered(EVENTS)


@pytest.mark.parametrize("middleware", [False, True])
@pytest.mark.parametrize("function", [None, "get_order", "files"])
@pytest.mark.parametrize("topic", [False, True])
def test_the_lambda_handler_answers_as_the_general_path(middleware, function, topic):
    app = build_app(middleware)
    if topic:  # SNS HTTP(S) deliveries routed: the lane checks for one first
        @app.topic("orders")
        def on_order(msg):
            pass
    lane, general = bind(app, function), bind(app, function)
    assert lane.rest_alb_lane
    general.api_v2_lane = general.rest_alb_lane = False
    context = LambdaContext(aws_request_id="r-1")
    for event in ANSWERED:
        assert answer(lane, event, context) == answer(general, event, context), event


def test_the_usual_answers_are_encoded_in_the_handler_as_encode_response_encodes_them():
    """A response model's answer and a problem (404, 405, 422, 500) are the usual JSON response the handler encodes
    itself: the same answer as the general path, statusDescription and the header mode included."""
    app = build_app(True)
    lane, general = bind(app), bind(app)
    general.api_v2_lane = general.rest_alb_lane = False
    context = LambdaContext(aws_request_id="r-1")
    for base in (typed_v1(), typed_alb(False), typed_alb(True)):
        for path, method in (("/orders/42", "GET"), ("/orders/500", "GET"), ("/orders/x", "GET"),
                             ("/orders/42", "DELETE"), ("/nope/", "POST"), ("/orders/418", "GET")):
            event = dict(copy.deepcopy(base), path=path, httpMethod=method)
            got = answer(lane, event, context)
            assert got == answer(general, event, context)
            native = json.loads(got[1])
            alb = "elb" in event["requestContext"]
            single = alb and "multiValueHeaders" not in event and "multiValueQueryStringParameters" not in event
            assert ("statusDescription" in native) == alb
            assert ("headers" in native, "multiValueHeaders" in native) == (single, not single)


def test_a_handler_that_must_see_other_events_first_does_not_take_the_lane(monkeypatch):
    app = build_app(False)

    @app.topic("orders")
    def on_order(msg):  # an app with topic functions routes SNS HTTP(S) deliveries before HTTP
        pass

    handler = bind(app)
    general = counted_dispatch(handler, monkeypatch)
    for base, headers in ((typed_v1(), "headers"), (typed_v1(), "multiValueHeaders"), (typed_alb(False), "headers"),
                          (typed_alb(True), "multiValueHeaders")):
        before = len(general)
        event = copy.deepcopy(base)
        event.pop("headers", None)
        event[headers] = {"x-amz-sns-message-type": "Notification" if headers == "headers" else ["Notification"]}
        handler(copy.deepcopy(event), LambdaContext(aws_request_id="r-1"))
        assert len(general) == before + 1  # a delivery's header: the general path, which offers it to the topics
        handler(copy.deepcopy(base), LambdaContext(aws_request_id="r-1"))
        assert len(general) == before + 1  # any other request: the lane
    assert not bind(app, "on_order").rest_alb_lane
    monkeypatch.setenv("PORTAFUNC_ROUTER", "unmatched")
    router = bind(build_app(False))
    assert not router.rest_alb_lane and not router.api_v2_lane  # the $default router answers only unmatched requests


def test_the_lambda_handler_takes_the_lane_for_the_usual_event(monkeypatch):
    """The answers compared above come from the lane itself: a well-formed event never reaches _dispatch."""
    handler = bind(build_app(True))
    monkeypatch.setattr(handler, "_dispatch", lambda event, context: pytest.fail("read by the general path"))
    for event in (typed_v1(), typed_alb(False), typed_alb(True)):
        answer = handler(event, LambdaContext(aws_request_id="r-1"))
        assert answer["statusCode"] == 200 and answer["body"] == '{"id":42,"limit":5,"tenant":"acme"}'
    for event in map(load_fixture, (*V1, ALB, ALB_MULTI)):
        assert handler(event, LambdaContext(aws_request_id="r-1"))["statusCode"] in (200, 404, 405)


def test_the_one_pass_request_holds_what_httprequest_lazy_builds():
    """The usual request without a body is built by the one-pass reading itself (HttpRequest.lazy written out):
    every slot holds what ``HttpRequest.lazy`` puts there, so a slot added to the class cannot be left unset."""
    for event in (typed_v1(), typed_alb(False), typed_alb(True), dict(typed_v1(), path="/a%2Fb")):
        found = http.rest_alb_request(dict(event, body=None))
        assert found is not None
        req, _, variant = found
        want = HttpRequest.lazy(event["httpMethod"], req.path, req.native, req._fields, raw_path=req._raw_path)
        slots = [name for cls in HttpRequest.__mro__ for name in getattr(cls, "__slots__", ())]
        assert slots and {name: getattr(req, name) for name in slots} == {name: getattr(want, name) for name in slots}
