"""HEAD answers at the pipeline (portafunc.invoke.head_answer): a new response with GET's status and headers, the
Content-Length of GET's body, and no body; the response a handler returned is left as it was. The same answers
through every front door: tests/contract/test_head_answers.py."""

from __future__ import annotations

from typing import Any

from portafunc import HttpResponse
from portafunc.events import Headers
from portafunc.invoke import head_answer
from portafunc.streaming import StreamedResponse


def test_a_head_answer_is_a_new_response_with_gets_length() -> None:
    kept = HttpResponse(200, {"Content-Type": "text/plain", "Content-Length": "999"}, b"twelve bytes")
    head = head_answer(kept)
    assert head is not kept and (head.status, head.body) == (200, b"")
    assert head.headers.get_all("content-length") == ["12"] and head.headers["content-type"] == "text/plain"
    assert kept.body == b"twelve bytes" and kept.headers["content-length"] == "999"  # unchanged
    for no_length in (HttpResponse(204), HttpResponse(304, body=b"x"), HttpResponse(200)):
        assert "content-length" not in head_answer(no_length).headers
    given = head_answer(HttpResponse(200, {"Content-Length": "42"}))  # a mounted app's own answer to HEAD
    assert given.headers["content-length"] == "42"


def test_a_streamed_answer_to_head_is_produced_to_its_end_and_states_no_length() -> None:
    closed: list[bool] = []
    produced: list[bytes] = []

    def rest() -> Any:
        for piece in (b"b", b"c"):
            produced.append(piece)
            yield piece

    streamed = StreamedResponse(200, Headers([("Content-Type", "text/plain")]), b"a", rest(),
                                lambda: closed.append(True))
    head = head_answer(streamed)
    assert (head.status, head.body, head.streamed) == (200, b"", False) and "content-length" not in head.headers
    assert produced == [b"b", b"c"] and closed == [True]
