"""What a handler answers with a status of its own, through every target's real entry point and ``portafunc run``'s
server, with the same assertions:

* ``-> tuple[Model, Literal[201]]`` and ``-> tuple[Model, int]`` make ``Model`` the response model, as ``-> Model``
  does: the result is validated and serialised as the model (fields outside it are not sent), sent with the
  returned status, and a result that does not match is the same 500 as for ``-> Model``; the OpenAPI document says
  the same;
* a status that is not an ``int`` from 100 to 599 (``(value, 99)``, ``HttpResponse(-1)``, ``HttpResponse(200.5)``,
  ``HttpResponse("201")``, ``(value, True)``) is the function's failure: a 500 problem, the reason logged (never the
  result's values); an ``IntEnum`` status (``HTTPStatus.CREATED``) is its int.
"""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any, Literal

import pytest
from pydantic import BaseModel
from runner_driver import contract_fixtures

from portafunc import App, HttpRequest, HttpResponse
from portafunc.targets import available
from portafunc.testing import Cloud

FRONTS = sorted(available()) + ["run"]  # every installed target's entry point, and portafunc run

runner_driver, front = contract_fixtures(FRONTS)

SECRET = "s3cr3t-value"


class Book(BaseModel):
    isbn: str


class StoredBook(Book):
    supplier_cost: float = 3.0
    secret: str = SECRET


def books_app() -> App:
    app = App("status-models")

    @app.http("GET", "/plain")
    def plain(req: HttpRequest) -> Book:
        return StoredBook(isbn="1")

    @app.http("POST", "/literal")
    def literal(req: HttpRequest) -> tuple[Book, Literal[201]]:
        return StoredBook(isbn="1"), 201

    @app.http("POST", "/int")
    def any_status(req: HttpRequest) -> tuple[Book, int]:
        return StoredBook(isbn="2"), 202

    @app.http("POST", "/dict")
    def from_dict(req: HttpRequest) -> tuple[Book, Literal[200, 201]]:
        return {"isbn": "3", "secret": SECRET}, 201  # type: ignore[return-value]  # validated into Book

    @app.http("GET", "/list")
    def many(req: HttpRequest) -> tuple[list[Book], Literal[203]]:
        return [StoredBook(isbn="4"), StoredBook(isbn="5")], 203

    @app.http("POST", "/mismatch")
    def mismatch(req: HttpRequest) -> tuple[Book, Literal[201]]:
        return {"nope": SECRET}, 201  # type: ignore[return-value]

    @app.http("GET", "/plain-mismatch")
    def plain_mismatch(req: HttpRequest) -> Book:
        return {"nope": SECRET}  # type: ignore[return-value]

    @app.http("GET", "/typed/{isbn}")
    def typed(isbn: str, limit: int = 1) -> tuple[Book, Literal[201]]:  # the generated request plan's lane
        return StoredBook(isbn=isbn), 201

    @app.http("GET", "/bare")
    def bare(req: HttpRequest) -> tuple[Book, Literal[201]]:
        return StoredBook(isbn="6")  # type: ignore[return-value]  # no status: validated all the same, 200

    return app


@pytest.fixture(scope="module")
def app() -> App:
    return books_app()


def _json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def test_a_tuple_annotation_makes_its_model_the_response_model(front: Cloud, app: App) -> None:
    plain = front.http(app, "GET", "/plain")
    assert (plain.status, plain.json_body()) == (200, {"isbn": "1"})
    for path, status, isbn in (("/literal", 201, "1"), ("/int", 202, "2"), ("/dict", 201, "3")):
        resp = front.http(app, "POST", path)
        assert (resp.status, resp.json_body()) == (status, {"isbn": isbn}), (path, resp.body)
        assert SECRET.encode() not in resp.body and b"supplier_cost" not in resp.body
    listed = front.http(app, "GET", "/list")
    assert (listed.status, listed.json_body()) == (203, [{"isbn": "4"}, {"isbn": "5"}])
    typed = front.http(app, "GET", "/typed/7")
    assert (typed.status, typed.json_body()) == (201, {"isbn": "7"})
    bare = front.http(app, "GET", "/bare")
    assert (bare.status, bare.json_body()) == (200, {"isbn": "6"})


def test_a_result_that_does_not_match_the_tuples_model_is_the_500_of_a_plain_annotation(
        front: Cloud, app: App, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    answers = [front.http(app, "POST", "/mismatch"), front.http(app, "GET", "/plain-mismatch")]
    for resp in answers:
        assert resp.status == 500 and resp.headers.get("content-type") == "application/problem+json"
        assert resp.json_body()["title"] == "Internal Server Error" and SECRET.encode() not in resp.body
    logged = "".join(capsys.readouterr())
    errors = [line.get("error") for line in _json_lines(logged)]
    assert errors.count("the handler's result does not match its response model Book: 1 error(s): isbn (missing)") \
        == 2, logged
    assert SECRET not in logged


def test_the_openapi_document_says_what_is_answered() -> None:
    doc = books_app().openapi()
    book = {"$ref": "#/components/schemas/Book"}
    for path, method, status in (("/literal", "post", "201"), ("/dict", "post", "201"), ("/typed/{isbn}", "get", "201")):
        content = doc["paths"][path][method]["responses"][status]["content"]
        assert content == {"application/json": {"schema": book}}, (path, content)
    assert doc["paths"]["/list"]["get"]["responses"]["203"]["content"]["application/json"]["schema"] == \
        {"type": "array", "items": book}
    assert doc["paths"]["/int"]["post"]["responses"]["default"]["content"]["application/json"]["schema"] == book
    assert "secret" not in str(doc["components"]["schemas"]) and "StoredBook" not in doc["components"]["schemas"]


def status_app() -> App:
    app = App("statuses")

    @app.http("GET", "/tuple-99")
    def tuple_99(req: HttpRequest) -> Any:
        return {"card": SECRET}, 99

    @app.http("GET", "/tuple-bool")
    def tuple_bool(req: HttpRequest) -> Any:
        return {"card": SECRET}, True

    @app.http("GET", "/negative")
    def negative(req: HttpRequest) -> HttpResponse:
        return HttpResponse(-1, body=SECRET)

    @app.http("GET", "/float")
    def fractional(req: HttpRequest) -> HttpResponse:
        return HttpResponse(200.5)  # type: ignore[arg-type]

    @app.http("GET", "/text")
    def text(req: HttpRequest) -> HttpResponse:
        return HttpResponse("201")  # type: ignore[arg-type]

    @app.http("GET", "/json-600")
    def json_600(req: HttpRequest) -> HttpResponse:
        return HttpResponse.json({"card": SECRET}, status=600)

    @app.http("POST", "/model-0")
    def model_0(req: HttpRequest) -> tuple[Book, int]:
        return Book(isbn=SECRET), 0

    @app.http("GET", "/enum")
    def enum(req: HttpRequest) -> Any:
        return {"ok": True}, HTTPStatus.CREATED

    @app.http("GET", "/enum-response")
    def enum_response(req: HttpRequest) -> HttpResponse:
        return HttpResponse(HTTPStatus.ACCEPTED, body="queued")

    @app.http("POST", "/enum-model")
    def enum_model(req: HttpRequest) -> tuple[Book, int]:
        return Book(isbn="8"), HTTPStatus.CREATED

    return app


BAD = [("GET", "/tuple-99", "HTTP status 99 is not one a response can carry: it must be 100-599"),
       ("GET", "/tuple-bool", "HTTP status must be an int from 100 to 599, not bool"),
       ("GET", "/negative", "HTTP status -1 is not one a response can carry: it must be 100-599"),
       ("GET", "/float", "HTTP status must be an int from 100 to 599, not float"),
       ("GET", "/text", "HTTP status must be an int from 100 to 599, not str"),
       ("GET", "/json-600", "HTTP status 600 is not one a response can carry: it must be 100-599"),
       ("POST", "/model-0", "HTTP status 0 is not one a response can carry: it must be 100-599")]


@pytest.mark.parametrize(("method", "path", "reason"), BAD, ids=[path for _, path, _ in BAD])
def test_a_status_no_response_can_carry_is_the_functions_500(front: Cloud, method: str, path: str, reason: str,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    resp = front.http(status_app(), method, path)
    assert resp.status == 500 and resp.headers.get("content-type") == "application/problem+json", resp.body
    assert resp.json_body()["detail"] == "the function failed; see the logs for this invocation id"
    logged = "".join(capsys.readouterr())
    failures = [(line.get("error_type"), line.get("error")) for line in _json_lines(logged) if line.get("error")]
    assert failures == [("InvalidStatus", reason)], logged
    assert SECRET not in logged


def test_an_int_enum_status_is_its_int(front: Cloud) -> None:
    app = status_app()
    created = front.http(app, "GET", "/enum")
    assert (created.status, created.json_body()) == (201, {"ok": True})
    accepted = front.http(app, "GET", "/enum-response")
    assert (accepted.status, accepted.body) == (202, b"queued")
    model = front.http(app, "POST", "/enum-model")
    assert (model.status, model.json_body()) == (201, {"isbn": "8"})
