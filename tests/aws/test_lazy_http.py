"""The AWS HTTP codecs build lazy requests (HttpRequest.lazy) for well-formed events; it gives exactly what the field-by-field
decoder gives, over every fixture sample and every mutation codec_golden.py makes (plus cookie and header cases),
and a malformed event still takes the field-by-field path and its EventDecodeError."""

from __future__ import annotations

import copy
import json
from typing import Annotated, Any, Callable

import pytest

from portafunc import App, Header, HttpRequest
from portafunc.errors import EventDecodeError
from portafunc_aws.lambda_context import LambdaContext
from portafunc_aws.runtime import bind
from portafunc_aws.codecs import http

import codec_golden
from aws_test_support import load_fixture


def describe(req: Any) -> Any:
    if req is None or isinstance(req, http.HttpFields):
        return req
    """Everything a request carries, repeated and ordered header items included (to_dict lower-cases names)."""
    return [req.method, req.path, req.query, req.headers.items(), req.body, req.path_params, req.client_ip,
            req.raw_query, req.cookies, req.to_dict(context=True), req.native]


def fields_of(req: Any) -> Any:
    """The HttpFields a lazy request reads its fields with; None for a request built with every field."""
    return getattr(req, "_fields", None)


def outcome(fn: Callable[[], Any]) -> Any:
    try:
        return ["ok", describe(fn())]
    except EventDecodeError as exc:
        return ["error", str(exc)]
    except UnicodeError as exc:
        return ["unicode", type(exc).__name__]
    except ValueError as exc:  # InvalidHeader: a cookie that would split a header
        return ["value", str(exc)]


def extra_cases() -> list[tuple[dict[str, Any], str]]:
    base = load_fixture("http-apigw-v2/sam-HttpApi.json")
    out = []
    for headers, cookies in [({"Cookie": "z=9", "x": "y"}, ["a=1", "b=2"]), ({"COOKIE": "z=9"}, ["a=1"]),
                             ({"x": "y"}, []), (None, ["a=1"]), ({}, ["a=\n1"]), ({"x": "y"}, ["a=1", 5]),
                             ({"x": "y"}, ("a=1",)), ({"x": None}, None), ({"x": "a\r\nb"}, None),
                             ({"X-A": "1", "x-a": "2", "x-b": "3", "X-B": "4"}, None), ({"a\nb": "1", "c": "2"}, None),
                             ({"Cookie": "z=9"}, None), ({"x": "y", 5: "z"}, None)]:
        event = copy.deepcopy(base)
        event["headers"] = headers
        if cookies is None:
            event.pop("cookies", None)
        else:
            event["cookies"] = cookies
        out.append((event, "apigw-v2"))
    for body, b64 in [("aGk=", True), ("not base64!", True), ("é", False), ("x" * 100, False), (None, True)]:
        event = copy.deepcopy(base)
        event["body"], event["isBase64Encoded"] = body, b64
        out.append((event, "apigw-v2"))
    for stage, raw_path in [("prod", "/prod/a"), ("prod", "/prod"), ("prod", "/production"), ("$default", "/a%2Fb")]:
        event = copy.deepcopy(base)
        event["requestContext"]["stage"], event["rawPath"] = stage, raw_path
        out.append((event, "apigw-v2"))
    out += v1_alb_cases()
    return out


def v1_alb_cases() -> list[tuple[dict[str, Any], str]]:
    """REST API and ALB samples with each field mutated (type and value) the ways the field-by-field decoder
    converts or refuses."""
    changes: list[tuple[str, Any]] = [
        ("multiValueHeaders", None), ("multiValueHeaders", []), ("multiValueHeaders", {"a": "x"}),
        ("multiValueHeaders", {"a": ["x", 5]}), ("multiValueHeaders", {"a": ("x",)}), ("multiValueHeaders", {5: ["x"]}),
        ("multiValueHeaders", {"a": []}), ("multiValueHeaders", {"X-Forwarded-For": ["1.2.3.4, 5.6.7.8", "9.9.9.9"]}),
        ("headers", None), ("headers", {"x": 5}), ("headers", {"X-Forwarded-For": "1.2.3.4, 5.6.7.8"}),
        ("headers", {5: "x"}), ("headers", []),
        ("multiValueQueryStringParameters", None), ("multiValueQueryStringParameters", {"a%20b": ["c+d", "%41"]}),
        ("multiValueQueryStringParameters", {"a": "x"}), ("multiValueQueryStringParameters", {"a": [1]}),
        ("queryStringParameters", None), ("queryStringParameters", {"q": "a+b%2B"}), ("queryStringParameters", {"q": 1}),
        ("requestContext", None), ("requestContext", []), ("requestContext", {"identity": None}),
        ("requestContext", {"identity": []}), ("requestContext", {"identity": {"sourceIp": 5}}),
        ("requestContext", {"identity": {"sourceIp": "198.51.100.1"}}), ("requestContext", {"elb": {}}),
        ("httpMethod", None), ("httpMethod", 5), ("httpMethod", "post"), ("path", "/a%20b/%2F"), ("path", None),
        ("path", ""), ("body", None), ("body", ""), ("body", 5), ("body", "é"), ("body", "lone \ud800"),
        ("body", "x" * 50), ("isBase64Encoded", True), ("pathParameters", None), ("pathParameters", []),
        ("pathParameters", {"id": 5}), ("pathParameters", {"id": "a b"})]
    out = []
    for name, variant in (("http-apigw-v1/sam-AwsProxy.json", "apigw-v1"), ("http-alb/sam-ALBRequest.json", "alb"),
                          ("http-alb/powertools-albMultiValueHeadersEvent.json", "alb-multi")):
        base = load_fixture(name)
        for key, value in changes:
            event = copy.deepcopy(base)
            event[key] = value
            if variant == "alb-multi" and key in ("headers", "queryStringParameters"):
                event.pop("multiValueHeaders" if key == "headers" else "multiValueQueryStringParameters", None)
            if variant == "alb" and key.startswith("multiValue"):
                continue
            out.append((event, variant))
            body = copy.deepcopy(event)
            body["body"], body["isBase64Encoded"] = "aGk=", True
            out.append((body, variant))
    return out


CASES = codec_golden.http_cases() + extra_cases()


@pytest.mark.parametrize("case", range(len(CASES)))
def test_lazy_decoding_gives_what_the_field_by_field_decoder_gives(case):
    event, variant = CASES[case]
    lazy = outcome(lambda: http.decode_request(event, variant)[0])
    if variant in ("apigw-v2", "function-url"):
        fields = outcome(lambda: http._decode_v2_fields(event, variant))
    else:
        fields = outcome(lambda: http._decode_v1_alb(event, variant))
    assert lazy == fields


@pytest.mark.parametrize("case", range(len(CASES)))
def test_the_header_values_are_what_the_headers_give(case):
    """``header_values`` (what typed header parameters read, no Headers built) gives, for every name the event holds
    (asked for in lower case), the cookie header and a missing name, what the field-by-field decoder's headers
    give."""
    event, variant = CASES[case]
    if variant not in ("apigw-v2", "function-url"):
        return
    try:
        req = http.decode_request(event, variant)[0]
        eager = http._decode_v2_fields(event, variant).headers
    except (EventDecodeError, ValueError, UnicodeError):
        return
    names = tuple(sorted({str(n).lower() for n in (event.get("headers") or {})} | {"cookie", "x-missing"}))
    found = fields_of(req).header_values(event, names) if fields_of(req) is not None else None
    if found is not None:
        assert found == [eager.get(name) for name in names], (names, found, eager)


def test_the_header_values_are_read_from_what_lambda_sends():
    """The fixture samples (mixed-case names and cookies included) and an all-lower-case map are read directly, so
    the comparison above covers both ways; a map holding something other than text is not."""
    names = ("cookie", "x-a", "header1", "user-agent")
    for name in ("http-apigw-v2/sam-HttpApi.json", "http-function-url/powertools-lambdaFunctionUrlEvent.json"):
        event = load_fixture(name)
        assert fields_of(http.decode_request(event)[0]).header_values(event, names) is not None
    event = load_fixture("http-apigw-v2/sam-HttpApi.json")
    event["headers"], event["cookies"] = {"x-a": "1", "x-b": "2"}, None
    assert http._V2["apigw-v2"].header_values(event, names) == [None, "1", None, None]
    for headers in ({"x": 5}, {5: "x"}, {"x": None}, []):
        event["headers"] = headers
        assert http._V2["apigw-v2"].header_values(event, names) is None
    event["headers"] = {"A\nb": "1", "c": "2", "X-A": "3"}  # text: read directly, as the headers give it
    assert http._V2["apigw-v2"].header_values(event, names + ("a\nb",)) == [None, "3", None, None, "1"]


def test_a_typed_header_parameter_reads_the_first_of_names_that_differ_in_case_only():
    app = App("header-case")

    @app.http("GET", "/h")
    def read(x_a: Annotated[str, Header()] = "none", cookie: Annotated[str, Header()] = "none") -> dict:
        return {"x_a": x_a, "cookie": cookie}

    handler = bind(app)
    for headers, cookies, expected in [({"X-A": "1", "x-a": "2"}, None, {"x_a": "1", "cookie": "none"}),
                                       ({"x-a": "2", "X-A": "1"}, None, {"x_a": "2", "cookie": "none"}),
                                       ({"Cookie": "z=9", "X-a": "3"}, ["a=1", "b=2"], {"x_a": "3", "cookie": "a=1; b=2"}),
                                       ({"Cookie": "z=9"}, None, {"x_a": "none", "cookie": "z=9"})]:
        event = http.encode_request(HttpRequest("GET", "/h"), "apigw-v2")
        event["headers"] = headers
        if cookies:
            event["cookies"] = cookies
        answer = handler(event, LambdaContext(aws_request_id="r-1"))
        assert answer["statusCode"] == 200 and json.loads(answer["body"]) == expected, (headers, answer)


def test_well_formed_events_are_decoded_lazily():
    """The fixture samples of HTTP API and Function URL (what Lambda sends) take the lazy path, so the comparison
    above covers it."""
    lazy = [outcome(lambda e=e, v=v: fields_of(http.decode_request(e, v)[0])) for e, v in CASES
            if v in ("apigw-v2", "function-url")]
    assert lazy.count(["ok", http._V2["apigw-v2"]]) >= 40
    others = [outcome(lambda e=e, v=v: fields_of(http.decode_request(e, v)[0])) for e, v in CASES
              if v not in ("apigw-v2", "function-url")]
    assert others.count(["ok", http._V1]) >= 30 and others.count(["ok", http._ALB]) >= 20
    assert others.count(["ok", http._ALB_MULTI]) >= 20
    for name in ("http-apigw-v2/sam-HttpApi.json", "http-function-url/powertools-lambdaFunctionUrlEvent.json"):
        assert fields_of(http.decode_request(load_fixture(name))[0]) in http._V2.values()


@pytest.mark.parametrize("change", [("headers", []), ("cookies", "a=1"), ("cookies", ["a=1", 2]), ("rawPath", 5),
                                    ("body", 5), ("requestContext", None)])
def test_a_malformed_event_is_still_refused(change):
    event = load_fixture("http-apigw-v2/sam-HttpApi.json")
    event[change[0]] = change[1]
    with pytest.raises(EventDecodeError):
        http.decode_request(event, "apigw-v2")


@pytest.mark.parametrize("name, key, value", [
    ("http-apigw-v2/sam-HttpApi.json", "headers", {"x": 5}),
    ("http-function-url/powertools-lambdaFunctionUrlEvent.json", "headers", {"x": None}),
    ("http-apigw-v1/sam-AwsProxy.json", "multiValueHeaders", {"x": ["a", 5]}),
    ("http-apigw-v1/sam-AwsProxy.json", "multiValueHeaders", {"x": "a"}),
    ("http-alb/sam-ALBRequest.json", "headers", {"x-forwarded-for": 5}),
    ("http-alb/powertools-albMultiValueHeadersEvent.json", "multiValueHeaders", {"x": [["a"]]})])
def test_a_malformed_header_map_is_refused_when_first_read(name, key, value):
    """Header maps are checked on first read: the same EventDecodeError as the field-by-field decoder's, from
    ``req.headers`` (and everything reading it: to_dict, cookies, the ALB client IP), never a wrong value."""
    event = load_fixture(name)
    event[key] = value
    variant = http.detect(event)
    with pytest.raises(EventDecodeError) as eager:
        http._decode_v2_fields(event, variant) if variant in ("apigw-v2", "function-url") else \
            http._decode_v1_alb(event, variant)
    req = http.decode_request(event)[0]
    for read in (lambda: req.headers, lambda: req.to_dict(), lambda: req.cookies):
        with pytest.raises(EventDecodeError) as lazy:
            read()
        assert str(lazy.value) == str(eager.value)
    if variant.startswith("alb"):
        with pytest.raises(EventDecodeError):
            req.client_ip  # noqa: B018


def test_a_malformed_header_map_is_a_500_for_a_handler_that_reads_it_and_never_a_wrong_value():
    app = App("malformed-headers")

    @app.http("GET", "/reads")
    def reads(req: HttpRequest) -> dict:
        return {"agent": req.headers.get("user-agent")}

    @app.http("GET", "/ignores")
    def ignores(req: HttpRequest) -> dict:
        return {"ok": True}

    handler = bind(app)
    for path in ("/reads", "/ignores"):
        event = http.encode_request(HttpRequest("GET", path), "apigw-v2")
        event["headers"] = {"user-agent": 5}
        answer = handler(event, LambdaContext(aws_request_id="r-1"))
        if path == "/reads":
            assert answer["statusCode"] == 500 and "agent" not in answer["body"]
        else:
            assert answer["statusCode"] == 200, answer
