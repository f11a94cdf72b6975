"""``HttpError``: what it refuses when made, what it answers, what it logs, and that ``BadRequest`` (one of them)
behaves as before."""

from __future__ import annotations

import copy
import json
import pickle
from typing import Any

import pytest

from portafunc import App, BadRequest, HttpError, HttpRequest, HttpResponse, Message, NonRetryableError, PortafuncError
from portafunc.events import Headers
from portafunc.invoke import Outcome, handle_http, invoke_batch


def _request(method: str = "GET", path: str = "/", **headers: str) -> HttpRequest:
    return HttpRequest(method=method, path=path, headers=Headers(headers), body=b"")


def _lines(err: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in err.splitlines() if line.startswith("{")]


@pytest.mark.parametrize(("status", "title"), [(400, "Bad Request"), (404, "Not Found"), (409, "Conflict"),
                                               (429, "Too Many Requests"), (503, "Service Unavailable"),
                                               (499, "Client Error"), (599, "Server Error")])
def test_the_title_is_the_status_s_reason_phrase(status: int, title: str) -> None:
    exc = HttpError(status, "why")
    assert (exc.status, exc.title, exc.detail, exc.headers, str(exc)) == (status, title, "why", {}, "why")
    assert isinstance(exc, PortafuncError) and not isinstance(exc, NonRetryableError)
    assert HttpError(status, "why", title="Mine").title == "Mine"


@pytest.mark.parametrize("status", [100, 200, 301, 304, 399, 600, 1000, -1])
def test_a_status_outside_400_599_is_refused(status: int) -> None:
    with pytest.raises(ValueError, match="400-599"):
        HttpError(status, "x")


@pytest.mark.parametrize("status", ["404", 404.0, True, None])
def test_a_status_that_is_not_an_int_is_refused(status: Any) -> None:
    with pytest.raises(TypeError, match="int"):
        HttpError(status, "x")


def test_an_http_status_member_is_its_int() -> None:
    from http import HTTPStatus

    exc = HttpError(HTTPStatus.NOT_FOUND, "x")
    assert exc.status == 404 and type(exc.status) is int and exc.title == "Not Found"


@pytest.mark.parametrize(("headers", "error"), [
    ({"Bad Name": "x"}, ValueError), ({"": "x"}, ValueError), ({"X-A": "a\r\nSet-Cookie: s=1"}, ValueError),
    ({"X-A": "a\x00"}, ValueError), ({"Content-Type": "text/plain"}, ValueError), ({"content-length": "3"}, ValueError),
    ({"X-A": 5}, TypeError), ({5: "x"}, TypeError),
])
def test_headers_that_cannot_be_sent_are_refused_when_made(headers: Any, error: type[Exception]) -> None:
    with pytest.raises(error):
        HttpError(400, "x", headers=headers)


def test_copies_and_pickles_keep_everything() -> None:
    exc = HttpError(503, "busy", title="Busy", headers={"Retry-After": "5"})
    for again in (copy.copy(exc), copy.deepcopy(exc), pickle.loads(pickle.dumps(exc))):
        assert type(again) is HttpError
        assert (again.status, again.title, again.detail, again.headers) == (503, "Busy", "busy", {"Retry-After": "5"})
    bad = pickle.loads(pickle.dumps(BadRequest("no", status=415, title="Unsupported Media Type")))
    assert (bad.status, bad.title, bad.detail, bad.headers) == (415, "Unsupported Media Type", "no", {})


def test_bad_request_is_an_http_error_with_its_old_defaults() -> None:
    exc = BadRequest("malformed")
    assert isinstance(exc, HttpError) and isinstance(exc, NonRetryableError)
    assert (exc.status, exc.title, exc.detail, exc.headers) == (400, "Bad Request", "malformed", {})
    assert BadRequest("x", status=409).title == "Bad Request"  # as before: its title does not follow the status
    assert BadRequest.status == 400


def _app() -> App:
    app = App("errors")

    @app.http("GET", "/fail/{status}")
    def fail(status: int) -> dict:
        raise HttpError(status, f"failed with {status}", headers={"X-Reason": "test"})

    @app.http("GET", "/rejected")
    def rejected(req: HttpRequest) -> dict:
        raise BadRequest("gone", status=503)

    return app


def test_a_4xx_is_logged_as_a_rejected_request_and_a_5xx_as_a_failure(capsys: pytest.CaptureFixture[str]) -> None:
    app = _app()
    capsys.readouterr()
    conflict = handle_http(app, _request(path="/fail/409"))
    assert conflict.status == 409 and conflict.headers["x-reason"] == "test"
    lines = _lines(capsys.readouterr().err)
    assert [line["level"] for line in lines] == ["INFO"] and lines[0]["message"] == "request rejected"
    assert lines[0]["status"] == 409
    busy = handle_http(app, _request(path="/fail/503"))
    assert busy.status == 503 and busy.json_body()["title"] == "Service Unavailable"
    assert "invocation_id" not in busy.json_body()
    (line,) = _lines(capsys.readouterr().err)
    assert (line["level"], line["message"], line["status"], line["error_type"]) == \
        ("ERROR", "handler failed", 503, "HttpError")
    assert "in fail" in line["traceback"]
    # BadRequest keeps its old outcome whatever its status: a rejected request
    assert handle_http(app, _request(path="/rejected")).status == 503
    assert [line["level"] for line in _lines(capsys.readouterr().err)] == ["INFO"]


def test_an_exception_handler_for_http_error_answers_it() -> None:
    app = _app()

    @app.exception_handler(HttpError)
    def mine(req: HttpRequest, exc: HttpError) -> HttpResponse:
        return HttpResponse.json({"error": exc.detail, "status": exc.status}, status=exc.status)

    resp = handle_http(app, _request(path="/fail/404"))
    assert resp.status == 404 and resp.json_body() == {"error": "failed with 404", "status": 404}


def test_in_a_message_function_it_is_retried_and_bad_request_is_not() -> None:
    app = App("messages")

    @app.queue("work")
    def work(msg: Message) -> None:
        if msg.data == b"bad":
            raise BadRequest("never")
        raise HttpError(503, "later")

    spec = app.function("work")
    results = invoke_batch(spec, [Message(id="m-1", data=b"later"), Message(id="m-2", data=b"bad")]).results
    assert [r.outcome for r in results] == [Outcome.RETRY, Outcome.REJECTED]
