"""``raise HttpError(status, detail)`` through every target's real entry point and ``portafunc run``'s server, with
the same assertions: the problem+json answer with the status, its reason phrase as the title, the detail and the
error's headers, whether a handler, a typed handler or a middleware raised it."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel
from runner_driver import contract_fixtures

from portafunc import App, BadRequest, HttpError, HttpRequest
from portafunc.targets import available
from portafunc.testing import Cloud

FRONTS = sorted(available()) + ["run"]  # every installed target's entry point, and portafunc run

runner_driver, front = contract_fixtures(FRONTS)


class Link(BaseModel):
    code: str
    url: str


def errors_app() -> App:
    app = App("http-errors")
    taken = {"abc"}

    @app.middleware(kinds=("http",))
    def closed(req: Any, call_next: Any) -> Any:
        if req.headers.get("x-closed"):
            raise HttpError(403, "the shortener is closed", title="Closed")
        return call_next(req)

    @app.http("POST", "/links", responses={201: Link, 409: "code taken", 503: "try again later"})
    def create(link: Link) -> tuple[Link, int]:
        if link.code in taken:
            raise HttpError(409, f"the code {link.code!r} is taken")
        if link.code == "busy":
            raise HttpError(503, "the store is busy", headers={"Retry-After": "5"})
        return link, 201

    @app.http("GET", "/old/{code}")
    def old(req: HttpRequest) -> dict:
        raise BadRequest("gone for good", status=410)

    return app


@pytest.fixture(scope="module")
def app() -> App:
    return errors_app()


def _problem(resp: Any) -> dict[str, Any]:
    assert resp.headers.get("content-type") == "application/problem+json", resp.headers
    body: dict[str, Any] = resp.json_body()
    return body


def test_a_4xx_http_error_is_a_problem_with_its_reason_phrase(front: Cloud, app: App) -> None:
    resp = front.http(app, "POST", "/links", json={"code": "abc", "url": "https://example.com"})
    assert resp.status == 409
    assert _problem(resp) == {"type": "about:blank", "title": "Conflict", "status": 409,
                              "detail": "the code 'abc' is taken"}


def test_a_5xx_http_error_keeps_its_status_and_headers(front: Cloud, app: App) -> None:
    resp = front.http(app, "POST", "/links", json={"code": "busy", "url": "https://example.com"})
    assert resp.status == 503
    assert resp.headers.get("retry-after") == "5"
    assert _problem(resp) == {"type": "about:blank", "title": "Service Unavailable", "status": 503,
                              "detail": "the store is busy"}


def test_middleware_may_raise_one_and_bad_request_is_unchanged(front: Cloud, app: App) -> None:
    closed = front.http(app, "POST", "/links", json={"code": "new", "url": "https://example.com"},
                        headers={"X-Closed": "1"})
    assert closed.status == 403
    assert _problem(closed) == {"type": "about:blank", "title": "Closed", "status": 403,
                                "detail": "the shortener is closed"}
    old = front.http(app, "GET", "/old/x")
    assert old.status == 410
    assert _problem(old) == {"type": "about:blank", "title": "Bad Request", "status": 410, "detail": "gone for good"}
    made = front.http(app, "POST", "/links", json={"code": "new", "url": "https://example.com"})
    assert made.status == 201 and made.json_body() == {"code": "new", "url": "https://example.com"}
