"""examples/shortener through every target's real entry point and ``portafunc run``'s server, with the same
assertions: a link is created, followed (a redirect) and an unknown code is a 404 problem; the browser front end may
call the API; the OpenAPI document is served."""

from __future__ import annotations

from typing import Any

from runner_driver import contract_fixtures

from portafunc import App
from portafunc.targets import available
from portafunc.testing import Cloud

FRONTS = sorted(available()) + ["run"]  # every installed target's entry point, and portafunc run
FRONTEND = "https://links.example"

runner_driver, front = contract_fixtures(FRONTS)


def _create(front: Cloud, app: App, body: dict[str, Any], **headers: str) -> Any:
    resp = front.http(app, "POST", "/links", json=body, headers=dict(headers))
    assert resp.status == 201, resp.body
    return resp.json_body()


def test_a_link_is_created_followed_and_an_unknown_code_is_a_404_problem(front: Cloud, shortener: App) -> None:
    link = _create(front, shortener, {"url": "https://docs.python.org/3/library/secrets.html"},
                   Host="sho.rt", **{"X-Forwarded-Proto": "https"})
    code = link["code"]
    assert len(code) == 7 and link["url"] == "https://docs.python.org/3/library/secrets.html"
    # the host the client called, https as the cloud's front end says (portafunc run has none: http)
    assert link["short_url"] == f"{'http' if front.name == 'run' else 'https'}://sho.rt/{code}"
    followed = front.http(shortener, "GET", f"/{code}")
    assert followed.status == 301 and followed.headers["location"] == link["url"] and followed.body == b""
    head = front.http(shortener, "HEAD", f"/{code}")
    assert head.status == 301 and head.headers["location"] == link["url"]
    unknown = front.http(shortener, "GET", "/no-such-code")
    assert unknown.status == 404 and unknown.headers["content-type"] == "application/problem+json"
    assert unknown.json_body() == {"type": "about:blank", "title": "Not Found", "status": 404,
                                   "detail": "no link 'no-such-code'"}


def test_a_chosen_code_is_kept_and_never_taken_over(front: Cloud, shortener: App) -> None:
    assert _create(front, shortener, {"url": "https://example.com/a", "code": "python"})["code"] == "python"
    taken = front.http(shortener, "POST", "/links", json={"url": "https://example.com/b", "code": "python"})
    assert taken.status == 409 and taken.headers["content-type"] == "application/problem+json"
    assert taken.json_body()["detail"] == "the code 'python' is taken"
    assert front.http(shortener, "GET", "/python").headers["location"] == "https://example.com/a"
    docs = front.http(shortener, "POST", "/links", json={"url": "https://example.com/c", "code": "docs"})
    assert docs.status == 409  # /docs is the API's own page: a link there could never be followed


def test_a_body_that_is_not_a_link_is_a_400_problem(front: Cloud, shortener: App) -> None:
    for body, field in (({"url": "not a url"}, "url"), ({"url": "javascript:alert(1)"}, "url"),
                        ({"url": "https://example.com", "code": "a/b"}, "code"), ({}, "url")):
        resp = front.http(shortener, "POST", "/links", json=body)
        assert resp.status == 400 and resp.headers["content-type"] == "application/problem+json", body
        assert [e["loc"] for e in resp.json_body()["errors"]] == [[field]], body


def test_the_front_end_may_call_the_api_from_its_pages(front: Cloud, shortener: App) -> None:
    preflight = front.http(shortener, "OPTIONS", "/links", headers={
        "Origin": FRONTEND, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"})
    assert preflight.status == 204
    assert preflight.headers["access-control-allow-origin"] == FRONTEND
    assert "POST" in preflight.headers["access-control-allow-methods"]
    assert preflight.headers["access-control-allow-headers"] == "content-type"
    created = front.http(shortener, "POST", "/links", json={"url": "https://example.com/"},
                         headers={"Origin": FRONTEND})
    assert created.status == 201 and created.headers["access-control-allow-origin"] == FRONTEND
    elsewhere = front.http(shortener, "POST", "/links", json={"url": "https://example.com/"},
                           headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in elsewhere.headers


def test_the_openapi_document_and_swagger_ui_are_served(front: Cloud, shortener: App) -> None:
    from openapi_spec_validator import validate

    resp = front.http(shortener, "GET", "/docs/openapi.json")
    assert resp.status == 200
    doc = resp.json_body()
    validate(doc)
    assert sorted(doc["paths"]) == ["/links", "/{code}"]
    created = doc["paths"]["/links"]["post"]["responses"]["201"]["content"]["application/json"]["schema"]
    assert created == {"$ref": "#/components/schemas/Link"}
    assert doc["components"]["schemas"]["NewLink"]["required"] == ["url"]
    assert front.http(shortener, "GET", "/docs").status == 200  # the docs page, not a short code called "docs"
