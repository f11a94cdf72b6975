"""A handler's answer status, at the pipeline (portafunc.events, portafunc.invoke, portafunc.params): a status is an
``int`` from 100 to 599 wherever a handler gives one (``HttpResponse(...)``, ``HttpResponse.json``, ``(result,
status)`` with or without a response model); anything else raises ``InvalidStatus`` where it is given, which the
pipeline answers 500, the reason logged; an ``IntEnum`` is its int. The same answers through every front door:
tests/contract/test_response_status.py."""

from __future__ import annotations

import copy
import pickle
from http import HTTPStatus
from typing import Any

import pytest
from pydantic import BaseModel

from portafunc import App, HttpRequest, HttpResponse
from portafunc.errors import InvalidStatus, PortafuncError
from portafunc.events import checked_status
from portafunc.invoke import handle_http, to_response


class Book(BaseModel):
    isbn: str


@pytest.mark.parametrize("status", [100, 200, 201, 204, 302, 404, 599])
def test_an_int_status_from_100_to_599_is_kept(status: int) -> None:
    assert HttpResponse(status).status == status
    assert HttpResponse.json({}, status=status).status == status
    assert HttpResponse.text("x", status=status).status == status
    assert to_response(({}, status)).status == status


@pytest.mark.parametrize(("status", "reason"), [
    (99, "HTTP status 99 is not one a response can carry: it must be 100-599"),
    (600, "HTTP status 600 is not one a response can carry: it must be 100-599"),
    (-1, "HTTP status -1 is not one a response can carry: it must be 100-599"),
    (0, "HTTP status 0 is not one a response can carry: it must be 100-599"),
    (True, "HTTP status must be an int from 100 to 599, not bool"),
    (200.5, "HTTP status must be an int from 100 to 599, not float"),
    (200.0, "HTTP status must be an int from 100 to 599, not float"),
    ("201", "HTTP status must be an int from 100 to 599, not str"),
    (None, "HTTP status must be an int from 100 to 599, not NoneType"),
])
def test_any_other_status_raises_where_it_is_given(status: Any, reason: str) -> None:
    builders = [lambda: HttpResponse(status), lambda: HttpResponse(status, {"X-A": "1"}, b"x"),
                lambda: HttpResponse.json({"a": 1}, status=status),
                lambda: HttpResponse.json({"a": 1}, status=status, headers={"X-A": "1"}),
                lambda: HttpResponse.text("x", status=status), lambda: checked_status(status)]
    if isinstance(status, int):  # the (result, status) form: a str or float second item is a JSON array's
        builders.append(lambda: to_response(({"a": 1}, status)))
    for build in builders:
        with pytest.raises(InvalidStatus) as caught:
            build()
        assert str(caught.value) == reason
    assert issubclass(InvalidStatus, ValueError) and issubclass(InvalidStatus, PortafuncError)
    copied = copy.copy(InvalidStatus(reason))
    assert str(copied) == str(pickle.loads(pickle.dumps(copied))) == reason


def test_an_int_enum_status_is_its_plain_int() -> None:
    for resp in (HttpResponse(HTTPStatus.CREATED), HttpResponse.json({}, status=HTTPStatus.CREATED),
                 to_response(({}, HTTPStatus.CREATED))):
        assert resp.status == 201 and type(resp.status) is int
    with pytest.raises(InvalidStatus):
        HttpResponse(HTTPStatus.CONTINUE - 1)  # an int after all: 99


def test_the_pipeline_answers_an_invalid_status_500_and_logs_why(capsys: pytest.CaptureFixture[str]) -> None:
    app = App("statuses")

    @app.http("GET", "/bad")
    def bad(req: HttpRequest) -> Any:
        return {"card": "4111111111111111"}, 99

    @app.http("GET", "/typed/{n}")
    def typed(n: int) -> tuple[Book, int]:  # the generated request plan, its result as a tuple
        return Book(isbn="4111111111111111"), n

    capsys.readouterr()
    for path in ("/bad", "/typed/700"):
        resp = handle_http(app, HttpRequest("GET", path))
        assert resp.status == 500 and resp.json_body()["title"] == "Internal Server Error"
    logged = capsys.readouterr().err
    assert logged.count('"error_type": "InvalidStatus"') == 2 and "HTTP status 700 is not one" in logged
    assert "4111" not in logged
    ok = handle_http(app, HttpRequest("GET", "/typed/201"))
    assert (ok.status, ok.json_body()) == (201, {"isbn": "4111111111111111"})
