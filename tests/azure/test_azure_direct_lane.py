"""Azure's direct lane (``handle_http_direct`` + ``outcome.direct_encoder``) answers exactly as the general path
(``handle_http`` then ``outcome.http_response``): the same ``func.HttpResponse`` (status, headers, mimetype, charset,
body) and the same answer the worker's own ``HttpResponseConverter`` sends the host, for every handler result and
for every app shape that sends a request down the general path. Requests are ``func.HttpRequest`` objects built by
the worker's ``HttpRequestConverter``; the functions are those of the generated ``function_app.py``."""

from __future__ import annotations

import json
from typing import Any

import pytest
from http_direct_cases import (
    KINDS,
    VALUES,
    assert_encodes_as_general,
    assert_takes_the_usual_results,
    build_app,
    header_splitting_app,
    requests,
)

from portafunc import HttpRequest, HttpResponse, context
from portafunc.invoke import handle_http, to_response
from portafunc_azure import outcome
from portafunc_azure.codecs import natives
from portafunc_azure.codecs.http import request_from_func, request_to_json, response_from_json
from portafunc_azure.deploy.function_app import load_function_app
from portafunc_azure.triggers import function_name


def answer(resp: Any) -> tuple[Any, ...]:
    """Everything a ``func.HttpResponse`` carries, then what the worker's converter sends the host for it."""
    fields = (resp.status_code, list(resp.headers.items()), resp.mimetype, resp.charset, resp.get_body())
    return fields, json.dumps(natives.response_datum_to_json(resp))  # the converter edits the headers: read last


@pytest.fixture
def encode():
    return outcome.direct_encoder()


@pytest.fixture(autouse=True)
def fixed_invocation_id(monkeypatch):
    """A 500's body names the invocation: one id for both lanes."""
    monkeypatch.setattr(context, "new_id", lambda: "inv-1")


@pytest.mark.parametrize("index", range(len(VALUES)))
def test_the_direct_encoder_gives_http_response_of_to_response(encode, index):
    assert_encodes_as_general(encode, lambda v: outcome.http_response(to_response(v)), VALUES[index], answer)


def test_the_direct_encoder_takes_the_usual_results(encode):
    assert_takes_the_usual_results(encode)


def test_a_content_type_as_mimetype_reaches_the_host_as_the_header_did():
    """The general path passes a lone content type as ``mimetype=``; the host gets the header it got before."""
    for ctype in ("application/json", "text/plain; charset=utf-8", "text/html", "text/html; charset=latin-1",
                  "TEXT/plain", "image/png", "text/plain; charset=utf-8; format=flowed", ""):
        resp = HttpResponse(200, {"Content-Type": ctype}, b"x")
        wire = natives.response_datum_to_json(outcome.http_response(resp))
        assert wire["headers"] == {"content-type": ctype}


def test_an_answer_without_a_content_type_reaches_the_host_with_an_empty_one():
    """``func.HttpResponse`` defaults its mimetype to ``text/plain``, which the worker's converter sends as the
    Content-Type of a response that sets none. Such a response is built with an empty mimetype instead: the
    converter sends ``content-type: ""``, which the host (a ``RawScriptResult``: the worker asks for no content
    negotiation) writes as ASP.NET Core's ``HttpResponse.ContentType = ""``, and that sends no Content-Type. The
    driver reads what the worker sends as the host answers it."""
    untyped = [HttpResponse(204), HttpResponse(304, {"ETag": '"v1"'}), HttpResponse(302, {"Location": "/x"}),
               HttpResponse(200, [("X-A", "1"), ("x-a", "2")], b"x")]
    sent = [natives.response_datum_to_json(outcome.http_response(resp)) for resp in untyped]
    sent.append(natives.response_datum_to_json(outcome.direct_encoder()(None)))
    sent.append(natives.response_datum_to_json(natives.to_func_response({"status_code": 204, "headers": {}})))
    for wire in sent:
        assert wire["headers"]["content-type"] == "", wire
        assert "content-type" not in response_from_json(wire).headers
    typed = natives.response_datum_to_json(outcome.http_response(HttpResponse.text("x", status=201)))
    assert response_from_json(typed).headers["content-type"] == "text/plain; charset=utf-8"


# -- the whole pipeline, both ways ---------------------------------------------------------------------------------

def func_request(req: HttpRequest, app: Any) -> Any:
    """The ``func.HttpRequest`` the worker builds for ``req``, with the route parameters the host matched."""
    native = request_to_json(req)
    spec, params, _ = app.route("GET" if req.method in ("HEAD", "OPTIONS") else req.method, req.path)
    native["route_params"] = params or {}
    return natives.to_func_http(native)


def general_answer(app: Any, name: str, freq: Any) -> Any:
    """What the generated function answers through the general path: handle_http, then http_response. A request
    the app does not route to the function (a path its route does not match as written; an ``OPTIONS`` for a
    function that does not serve it, which the host hands it only for its route's CORS preflights) is routed by the
    app's rule."""
    req = request_from_func(freq)
    trig = app.function(name).trigger
    if trig.route.match(req.path) is None or req.method == "OPTIONS" and "OPTIONS" not in trig.methods:
        req.path_params = {}
        return outcome.http_response(handle_http(app, req, target="azure", native_context=freq))
    return outcome.http_response(handle_http(app, req, function=name, target="azure", native_context=freq))


@pytest.mark.parametrize("kind", KINDS)
def test_the_generated_functions_answer_as_the_general_path(kind):
    app = build_app(kind)
    _, functions, _ = load_function_app(app)
    for spec in app.http_functions():
        function = functions[function_name(spec.name)].get_user_function()
        for req in requests():
            direct = function(func_request(req, app))
            general = general_answer(app, spec.name, func_request(req, app))
            assert answer(direct) == answer(general), (spec.name, req.method, req.path)


def test_the_lane_is_taken_for_a_plain_handler(monkeypatch):
    """The usual result of a plain handler never builds an HttpResponse (else this lane would measure nothing)."""
    app = build_app("plain")
    _, functions, _ = load_function_app(app)
    built: list[Any] = []
    monkeypatch.setattr(HttpResponse, "json", classmethod(lambda cls, *a, **k: built.append(a)))
    resp = functions["hello"].get_user_function()(func_request(HttpRequest("GET", "/hello/ada"), app))
    assert resp.status_code == 200 and json.loads(resp.get_body())["message"] == "hello ada" and not built


def test_a_handler_assigning_its_own_headers_is_still_checked():
    app = header_splitting_app()
    _, functions, _ = load_function_app(app)
    freq = func_request(HttpRequest("GET", "/split"), app)
    direct = functions["split"].get_user_function()(freq)
    assert direct.status_code == 500 and "evil" not in json.dumps(natives.response_datum_to_json(direct)["headers"])
    assert answer(functions["split"].get_user_function()(freq)) == answer(general_answer(app, "split", freq))
