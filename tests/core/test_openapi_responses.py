"""``responses=`` on ``@app.http`` (and a router's): each documented status in the OpenAPI document, a described
error as problem+json with the document's problem schema, a model as its JSON schema; bad entries are refused when
the route is registered."""

from __future__ import annotations

import json
from typing import Any

import pytest
from openapi_spec_validator import validate
from pydantic import BaseModel

from portafunc import App, HttpRequest, HttpResponse, RegistrationError, Router


class Link(BaseModel):
    code: str
    url: str


def _document(app: App) -> dict[str, Any]:
    doc = app.openapi()
    validate(json.loads(json.dumps(doc)))
    return doc


def shortener() -> App:
    app = App("links")

    @app.http("GET", "/{code}", responses={301: "redirect to the target", 404: "no such link"})
    def follow(code: str) -> HttpResponse:
        return HttpResponse(301, {"Location": f"https://example.com/{code}"})

    @app.http("POST", "/links", responses={201: Link, 409: "code taken"})
    def create(link: Link) -> tuple[Link, int]:
        return link, 201

    @app.http("GET", "/links/{code}", responses={200: "the link", 404: "no such link"})
    def get(code: str) -> Link:
        return Link(code=code, url="https://example.com")

    return app


PROBLEM = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}


def test_described_statuses_and_models_are_responses() -> None:
    doc = _document(shortener())
    follow = doc["paths"]["/{code}"]["get"]["responses"]
    assert follow["301"] == {"description": "redirect to the target"}
    assert follow["404"] == {"description": "no such link", "content": PROBLEM}
    assert follow["400"] == {"$ref": "#/components/responses/BadRequest"}  # the pipeline's own answers stay
    assert "default" in follow  # an HttpResponse: the status is chosen at run time
    create = doc["paths"]["/links"]["post"]["responses"]
    assert create["201"] == {"description": "Created",
                             "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Link"}}}}
    assert create["409"] == {"description": "code taken", "content": PROBLEM}
    assert list(create) == sorted(create)
    assert doc["components"]["schemas"]["Problem"]["required"] == ["type", "title", "status"]


def test_a_description_of_the_success_status_keeps_its_body_and_head_has_none() -> None:
    doc = _document(shortener())
    get = doc["paths"]["/links/{code}"]
    assert get["get"]["responses"]["200"] == {
        "description": "the link", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Link"}}}}
    assert get["head"]["responses"]["404"] == {"description": "no such link"}
    assert get["head"]["responses"]["200"] == {"description": "the link"}


def test_a_documented_error_alone_brings_the_problem_schema() -> None:
    app = App("plain")

    @app.http("DELETE", "/things", responses={403: "not yours", 503: "try again later"})
    def remove(req: HttpRequest) -> None:
        return None

    doc = _document(app)
    responses = doc["paths"]["/things"]["delete"]["responses"]
    assert responses == {"204": {"description": "No Content"}, "403": {"description": "not yours", "content": PROBLEM},
                         "503": {"description": "try again later", "content": PROBLEM}}
    assert list(doc["components"]["schemas"]) == ["Problem"] and "responses" not in doc["components"]


def test_a_user_model_named_problem_keeps_its_name() -> None:
    class Problem(BaseModel):
        why: str

    app = App("named")

    @app.http("GET", "/x", responses={404: "none", 410: Problem})
    def x(req: HttpRequest) -> dict:
        return {}

    doc = _document(app)
    responses = doc["paths"]["/x"]["get"]["responses"]
    assert responses["404"]["content"]["application/problem+json"]["schema"] == {
        "$ref": "#/components/schemas/PortafuncProblem"}
    assert responses["410"] == {"description": "Gone",
                                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}


def test_a_router_s_responses_follow_it_into_the_app() -> None:
    router = Router()

    @router.http("GET", "/links", responses={200: list[Link], 429: "slow down"})
    def links(req: HttpRequest) -> HttpResponse:
        return HttpResponse.json([])

    app = App("routed")
    app.include_router(router, prefix="/v1")
    responses = _document(app)["paths"]["/v1/links"]["get"]["responses"]
    assert responses["200"]["content"]["application/json"]["schema"] == {
        "type": "array", "items": {"$ref": "#/components/schemas/Link"}}
    assert responses["429"] == {"description": "slow down", "content": PROBLEM}


@pytest.mark.parametrize(("responses", "match"), [
    ({99: "x"}, "not an HTTP status"), ({600: "x"}, "not an HTTP status"), ({"404": "x"}, "not an HTTP status"),
    ({True: "x"}, "not an HTTP status"), ({404: ""}, "empty description"), ({404: None}, "description"),
    ({404: 3}, "description"), ({404: dict}, "description"), ([404], "must be a dict"),
])
def test_bad_entries_are_refused_at_registration(responses: Any, match: str) -> None:
    for registry in (App("bad"), Router()):
        with pytest.raises(RegistrationError, match=match):
            registry.http("GET", "/x", responses=responses)
