"""The direct lane (``handle_http_direct`` + ``outcome.direct_encoder``) answers exactly as the general path
(``handle_http`` then ``encode_response``): the same native answer for every HTTP variant, for plain handlers and
for every feature that sends a request down the general path (CORS, HEAD, middleware, exception handlers, auth,
typed parameters, async, errors, 404/405, one function per Lambda)."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from portafunc import App, HttpRequest, HttpResponse
from portafunc.invoke import handle_http, to_response
from portafunc_aws import outcome
from portafunc_aws.codecs import http
from portafunc_aws.lambda_context import LambdaContext
from portafunc_aws.runtime import bind

from http_direct_cases import KINDS, VALUES, build_app, header_splitting_app, run

VARIANTS = ["apigw-v2", "function-url", "apigw-v1", "alb", "alb-multi"]

@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("index", range(len(VALUES)))
def test_the_direct_encoder_gives_encode_response_of_to_response(variant, index):
    value = VALUES[index]
    direct = run(lambda: outcome.DIRECT[variant](copy.copy(value)))
    general = run(lambda: outcome.encode_response(to_response(copy.copy(value)), variant))
    if direct == ("ok", None):
        return  # not a value it encodes: the pipeline builds the HttpResponse as before
    assert direct == general
    if direct[0] == "ok":
        assert list(direct[1]) == list(general[1])  # the same keys in the same order


def test_the_direct_encoder_takes_the_usual_results():
    for variant in VARIANTS:
        encode = outcome.DIRECT[variant]
        assert all(encode(v) is not None for v in ({"a": 1}, [1], "text", None))
        assert all(encode(v) is None for v in (b"x", ({"a": 1}, 201), HttpResponse(200), 7))


# -- the whole pipeline, both ways ---------------------------------------------------------------------------------

def requests() -> list[tuple[HttpRequest, str | None]]:
    out: list[tuple[HttpRequest, str | None]] = [
        (HttpRequest("GET", "/hello/ada", query={"q": ["1", "2"]}, headers={"X-A": "b", "Origin": "https://shop.example"}),
         "/hello/{name}"),
        (HttpRequest("HEAD", "/hello/ada"), "/hello/{name}"),
        (HttpRequest("GET", "/hello/ada"), None),
        (HttpRequest("GET", "/hello/ada/more"), None),
        (HttpRequest("PUT", "/hello/ada"), "/hello/{name}"),
        (HttpRequest("OPTIONS", "/hello/ada", headers={"Origin": "https://shop.example",
                                                      "Access-Control-Request-Method": "GET"}), None),
        (HttpRequest("GET", "/typed/5", query={"limit": ["2"]}), "/typed/{n}"),
        (HttpRequest("GET", "/typed/x"), "/typed/{n}"),
        (HttpRequest("GET", "/async"), "/async"),
        (HttpRequest("DELETE", "/files/a/b"), "/files/{path+}"),
        (HttpRequest("POST", "/value/echo", headers={"Content-Type": "application/json"}, body=b'{"a": [1, 2]}'),
         "/value/{which}"),
        (HttpRequest("POST", "/value/echo", body=b'{"a": NaN}'), "/value/{which}"),
        (HttpRequest("GET", "/nowhere"), None),
    ]
    for which in ["raise", "bad", "key", *map(str, range(len(VALUES)))]:
        out.append((HttpRequest("GET", f"/value/{which}"), "/value/{which}"))
    return out


def native_event(req: HttpRequest, template: str | None, variant: str) -> dict[str, Any]:
    event = http.encode_request(req, variant, request_id="r-1")
    if template is not None and variant == "apigw-v2":
        event["routeKey"] = event["requestContext"]["routeKey"] = f"{req.method} {template}"
    if template is not None and variant == "apigw-v1":
        event["resource"] = template
    return event


def general_answer(app: App, event: dict[str, Any], function: str | None) -> dict[str, Any]:
    """What the Lambda handler answered before the direct lane: handle_http, then encode_response."""
    req, variant = http.decode_request(event)
    resp = handle_http(app, req, function=function, target="aws", invocation_id="r-1",
                       route_template=None if function else http.matched_route(event))
    return outcome.encode_response(resp, variant)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("variant", VARIANTS)
def test_the_lambda_handler_answers_as_the_general_path(kind, variant):
    app = build_app(kind)
    handler = bind(app)
    context = LambdaContext(aws_request_id="r-1")
    for req, template in requests():
        event = native_event(req, template, variant)
        direct = handler(copy.deepcopy(event), context)
        general = general_answer(app, copy.deepcopy(event), None)
        assert direct == general, (req, template)
        assert list(direct) == list(general)
        assert json.dumps(direct) == json.dumps(general)


@pytest.mark.parametrize("variant", VARIANTS)
def test_one_function_per_lambda_answers_as_the_general_path(variant):
    app = build_app("plain")
    context = LambdaContext(aws_request_id="r-1")
    for function in ("hello", "value", "typed", "remove"):
        handler = bind(app, function)
        for req, template in requests():
            event = native_event(req, template, variant)
            assert handler(copy.deepcopy(event), context) == general_answer(app, copy.deepcopy(event), function)


def test_a_handler_assigning_its_own_headers_is_still_checked():
    app = header_splitting_app()
    event = native_event(HttpRequest("GET", "/split"), "/split", "apigw-v2")
    answer = bind(app)(event, LambdaContext(aws_request_id="r-1"))
    assert answer["statusCode"] == 500 and "evil" not in json.dumps(answer["headers"])
    assert answer == general_answer(app, event, None)
