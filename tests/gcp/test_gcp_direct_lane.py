"""GCP's direct lane (``handle_http_direct`` + ``outcome.direct_encoder``) answers exactly as the general path
(``handle_http`` then ``codecs.http.to_flask``): the same status, headers in the same order, and body, for every
handler result and for every app shape that sends a request down the general path. Both lanes run in
functions-framework's real Flask app (``create_app`` + its WSGI test client): the generated ``main.py`` for the direct
lane, and a reference module with the entry's former code for the general path."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from http_direct_cases import (
    KINDS,
    VALUES,
    assert_encodes_as_general,
    assert_takes_the_usual_results,
    build_app,
    requests,
)

from portafunc import App, HttpRequest, HttpResponse, context
from portafunc.events import Headers
from portafunc.invoke import to_response
from portafunc.streaming import StreamedResponse
from portafunc_gcp import outcome
from portafunc_gcp.codecs import http
from portafunc_gcp.deploy.main_py import HTTP_SERVICE
from portafunc_gcp.harness import Harness

REFERENCE = '''
import functions_framework

from portafunc.invoke import handle_http, head_answer, not_found
from portafunc_gcp.codecs import http
from portafunc_gcp.runtime import Entry

entry = Entry({ref!r})


@functions_framework.http
def {service}(request):
    resp = handle_http(entry.app, http.from_flask(request), target="gcp",
                       invocation_id=request.headers.get("Function-Execution-Id"), native_context=request, stream=True)
    return http.to_flask(resp)


def named(name, request):
    req = http.from_flask(request)
    if entry.app.function(name).trigger.route.match(req.path) is None:
        resp = not_found(req)
        if req.method == "HEAD":
            resp = head_answer(resp)
    else:
        resp = handle_http(entry.app, req, function=name, target="gcp",
                           invocation_id=request.headers.get("Function-Execution-Id"), native_context=request,
                           stream=True)
    return http.to_flask(resp)
'''


def reference_module(app: App, harness: Harness, folder: Path) -> Path:
    """The entry as it was before the direct lane: handle_http, then to_flask, for the service and each function."""
    ref = harness.source.read_text().split("_PortafuncEntry(", 1)[1].split(")", 1)[0].strip().split(",")[0]
    source = REFERENCE.format(ref=eval(ref), service=HTTP_SERVICE)  # noqa: S307 - the generated file's literal
    for spec in app.http_functions():
        source += f"\n\n@functions_framework.http\ndef {spec.name}(request):\n    return named({spec.name!r}, request)\n"
    path = folder / f"reference_{harness.source.stem}.py"
    path.write_text(source, encoding="utf-8")
    return path


def answer(resp: Any) -> tuple[Any, ...]:
    return resp.status_code, list(resp.headers.items()), resp.get_data()


def send(client: Any, req: HttpRequest) -> Any:
    pairs = [(k, v) for k, vs in req.query.items() for v in vs]
    return client.open(path=req.path, method=req.method, query_string=pairs,
                       headers=[*req.headers.items(), ("Function-Execution-Id", "exec-1")], data=req.body)


@pytest.fixture(autouse=True)
def fixed_invocation_id(monkeypatch):
    monkeypatch.setattr(context, "new_id", lambda: "inv-1")


@pytest.fixture
def encode():
    import flask

    with flask.Flask(__name__).test_request_context():
        yield outcome.direct_encoder()


@pytest.mark.parametrize("index", range(len(VALUES)))
def test_the_direct_encoder_gives_to_flask_of_to_response(encode, index):
    assert_encodes_as_general(encode, lambda v: http.to_flask(to_response(v)), VALUES[index], answer)


def test_the_direct_encoder_takes_the_usual_results(encode):
    assert_takes_the_usual_results(encode)


def test_a_lone_content_type_is_sent_as_the_header_by_header_build_sends_it():
    """to_flask gives a response whose only header is its Content-Type to Flask's constructor: the same headers as
    replacing Flask's default one by one, Content-Type now first."""
    import flask

    for ctype in ("application/json", "text/plain; charset=utf-8", "text/html", "image/png", ""):
        resp = HttpResponse(200, {"Content-Type": ctype}, b"body")
        by_header = flask.Response(resp.body, status=200)
        by_header.headers.remove("Content-Type")
        by_header.headers.add("Content-Type", ctype)
        sent = http.to_flask(resp)
        assert sorted(sent.headers.items()) == sorted(by_header.headers.items())
        assert sent.status == by_header.status and sent.get_data() == by_header.get_data()
    split = HttpResponse(200, body=b"x")
    split.headers = Headers([("Content-Type", "a\nb")])  # assigned, so never checked by portafunc
    refused = http.to_flask(split)
    assert refused.status_code == 500 and refused.headers["Content-Type"] == "application/problem+json"


# -- the whole entry, both ways ------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", KINDS)
def test_the_entry_answers_as_the_general_path(kind, tmp_path):
    import functions_framework

    app = build_app(kind)
    harness = Harness(app)
    reference = reference_module(app, harness, tmp_path)
    for function in [HTTP_SERVICE, *(spec.name for spec in app.http_functions())]:
        direct = harness.client(function)
        general = functions_framework.create_app(target=function, source=str(reference)).test_client()
        for req in requests():
            assert answer(send(direct, req)) == answer(send(general, req)), (function, req.method, req.path)


def test_the_lane_is_taken_for_a_plain_handler(monkeypatch):
    """The usual result of a plain handler never builds an HttpResponse (else this lane would measure nothing)."""
    app = build_app("plain")
    client = Harness(app).client(HTTP_SERVICE)
    built: list[Any] = []
    monkeypatch.setattr(HttpResponse, "json", classmethod(lambda cls, *a, **k: built.append(a)))
    resp = send(client, HttpRequest("GET", "/hello/ada"))
    assert resp.status_code == 200 and json.loads(resp.get_data())["message"] == "hello ada" and not built


def test_a_plain_handler_streaming_its_body_is_still_sent_in_chunks():
    """The direct lane passes ``stream`` on: a streamed body is handed to the server unread, with no Content-Length."""
    app = App("direct-stream")
    produced: list[str] = []

    def rest():
        produced.append("second")
        yield b"second"

    @app.http("GET", "/stream")
    def stream(req: HttpRequest) -> HttpResponse:
        return StreamedResponse(200, Headers([("Content-Type", "text/plain")]), b"first", rest(), lambda: None)

    client = Harness(app).client(HTTP_SERVICE)
    resp = client.get("/stream", buffered=False)
    assert resp.is_streamed and "Content-Length" not in resp.headers and produced == []
    assert resp.get_data() == b"firstsecond" and produced == ["second"]
