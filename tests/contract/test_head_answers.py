"""HEAD through every target's real entry point and ``portafunc run``'s server: the GET answer's status and
headers, no body, and the ``Content-Length`` of the body GET sends (RFC 9110 §9.3.2 lets a HEAD answer carry it,
§8.6 then requires exactly GET's length), read from what each front door hands its platform.

What the platform in front does with that header is its own: gunicorn (functions-framework's server, and the
container image's) and werkzeug send it as given on a HEAD answer; API Gateway and Lambda function URLs build their
own response from the Lambda answer (a Content-Length in it has been reported to come out as
``x-amzn-Remapped-Content-Length``), and the Azure Functions host writes the worker's headers onto ASP.NET Core's
response; neither was checked against a deployed service here.

The container target is left out: the answer form its driver reads carries no Content-Length (its server writes
one from the body); ``tests/container/test_container_server.py`` checks the HEAD answer its service sends."""

from __future__ import annotations

from typing import Any

import pytest
from runner_driver import contract_fixtures

from portafunc import App, HttpRequest, HttpResponse
from portafunc.targets import available
from portafunc.testing import Cloud

FRONTS = sorted(set(available()) - {"container"}) + ["run"]

runner_driver, front = contract_fixtures(FRONTS)

KEPT = HttpResponse(200, {"Content-Type": "text/plain; charset=utf-8", "X-Kept": "1"}, b"the same answer each time")


def head_app() -> App:
    app = App("heads")

    @app.http("GET", "/orders/{id}")
    def order(req: HttpRequest) -> dict[str, Any]:
        return {"id": req.path_params["id"], "lines": ["a", "b", "c"]}

    @app.http("GET", "/text")
    def text(req: HttpRequest) -> str:
        return "plain text, é"

    @app.http("GET", "/binary")
    def binary(req: HttpRequest) -> bytes:
        return bytes(range(256)) * 3

    @app.http("GET", "/made")
    def made(req: HttpRequest) -> HttpResponse:
        return HttpResponse(203, {"Content-Type": "application/xml", "X-Made": "yes"}, b"<made/>")

    @app.http("GET", "/kept")
    def kept(req: HttpRequest) -> HttpResponse:
        return KEPT  # one response object, returned to every request

    @app.http("GET", "/nothing")
    def nothing(req: HttpRequest) -> None:
        return None

    @app.http("POST", "/orders")
    def create(req: HttpRequest) -> dict[str, Any]:
        return {}

    return app


@pytest.fixture(scope="module")
def app() -> App:
    return head_app()


def _native_headers(native: Any) -> dict[str, str]:
    """The headers of a front door's native answer, by lower-case name: a Lambda proxy answer's ``headers`` or
    ``multiValueHeaders``, Azure's headers dict, functions-framework's and portafunc run's header pairs."""
    out: dict[str, str] = {}
    for field in ("headers", "multiValueHeaders"):
        found = native.get(field) or {}
        pairs = found.items() if isinstance(found, dict) else found
        for name, value in pairs:
            out[name.lower()] = value[0] if isinstance(value, list) else value
    return out


def _exchange(front: Cloud, app: App, method: str, path: str) -> tuple[HttpResponse, dict[str, str]]:
    resp = front.http(app, method, path)
    return resp, _native_headers(front.exchanges[-1].native_response)


@pytest.mark.parametrize("path", ["/orders/o-1", "/text", "/binary", "/made", "/kept", "/nowhere"])
def test_a_head_answer_carries_the_length_of_the_get_body(front: Cloud, app: App, path: str) -> None:
    get, get_native = _exchange(front, app, "GET", path)
    head, head_native = _exchange(front, app, "HEAD", path)
    assert (head.status, head.body) == (get.status, b"") and get.body
    assert head_native.get("content-length") == str(len(get.body)), (head_native, len(get.body))
    if "content-length" in get_native:  # where the front door writes GET's itself (gunicorn, portafunc run)
        assert head_native["content-length"] == get_native["content-length"]
    assert head.headers.get("content-type") == get.headers.get("content-type")


def test_a_response_the_handler_keeps_is_not_changed_by_a_head_answer(front: Cloud, app: App) -> None:
    assert front.http(app, "HEAD", "/kept").body == b""
    again = front.http(app, "GET", "/kept")
    assert (again.status, again.body) == (200, b"the same answer each time")
    assert again.headers.get("x-kept") == "1"
    assert KEPT.body == b"the same answer each time" and "content-length" not in KEPT.headers


def test_a_head_answer_without_a_body_on_get_states_no_length(front: Cloud, app: App) -> None:
    get, _ = _exchange(front, app, "GET", "/nothing")
    head, head_native = _exchange(front, app, "HEAD", "/nothing")
    assert (get.status, head.status, head.body) == (204, 204, b"")
    assert "content-length" not in head_native, head_native


def test_a_405_head_answer_carries_its_length(front: Cloud, app: App) -> None:
    """HEAD on a path served with POST only: the 405 problem GET would get, its length said, no body."""
    get, _ = _exchange(front, app, "GET", "/orders")
    head, head_native = _exchange(front, app, "HEAD", "/orders")
    assert (get.status, head.status, head.body) == (405, 405, b"")
    assert head_native.get("content-length") == str(len(get.body)) and head.headers.get("allow") == "POST"
