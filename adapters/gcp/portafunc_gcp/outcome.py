"""The one outcome → GCP mapping. Pub/Sub push and Eventarc redeliver on any non-2xx answer, so:

* a message the broker must see failed (retryable error, non-retryable with no dead-letter destination, skipped)
  → HTTP 500 (Pub/Sub redelivers it and, after ``max_attempts``, dead-letters it);
* a non-retryable failure forwarded to the dead-letter destination, or a success → 2xx (acked);
* an event that cannot be decoded → 400 (a nack too: the dead-letter policy ends it, never silently lost);
* HTTP functions answer with the neutral response itself (:func:`.codecs.http.to_flask`); what a plain handler
  usually returns is answered without one (:func:`direct_encoder`).

From a ``cloud_event`` target the status is raised as a werkzeug HTTP exception, which functions-framework answers
with that status; from an ``http`` target (Cloud Scheduler jobs) it is returned.
"""

from __future__ import annotations

from typing import Any, Callable

from portafunc.events import HttpResponse, encode_payload
from portafunc.invoke import MessageResult


_TITLES = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden"}


def http_error(status: int, text: str) -> Exception:
    """The werkzeug exception functions-framework turns into an HTTP ``status`` answer: a 4xx is a problem+json
    document whose detail is ``text`` (as every other refusal portafunc answers; werkzeug's own is an HTML page). ``text``
    is made UTF-8-safe first: it may quote an event's value (a message id decoded from JSON can hold a lone
    surrogate), and such a text turned the answer into a crash of Flask's own."""
    if not text.isascii():
        text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    if status not in _TITLES:  # functions-framework answers a 500 itself, as a crash (its text, its crash header)
        from werkzeug.exceptions import InternalServerError

        return InternalServerError(text)
    return http_answer(HttpResponse.problem(status, _TITLES[status], text))


def http_answer(resp: HttpResponse) -> Exception:
    """``resp`` (a refusal or failure: 4xx or 5xx) as the werkzeug exception of its status, answered with exactly
    that response: raised from where only an exception reaches functions-framework."""
    from werkzeug.exceptions import BadRequest, Forbidden, InternalServerError, Unauthorized

    from .codecs.http import to_flask

    kind = {400: BadRequest, 401: Unauthorized, 403: Forbidden}.get(resp.status, InternalServerError)
    detail = resp.body.decode("utf-8", "replace")
    return kind(detail, response=to_flask(resp))


def schedule_answer(result: MessageResult) -> HttpResponse:
    """What Cloud Scheduler sees: 500 has it retry per the job's retry config, 200 completes the run."""
    if result.outcome.value == "retry":
        return HttpResponse.problem(500, "Schedule run failed", result.error)
    return HttpResponse(status=200, body=b"OK", headers={"Content-Type": "text/plain; charset=utf-8"})


def message_failed(result: MessageResult, message_id: str) -> Exception | None:
    """The 500 that makes Pub/Sub redeliver ``message_id``, or None when it is acked."""
    if result.must_redeliver:
        return http_error(500, f"message {message_id} failed ({result.outcome.value}): {result.error}")
    return None


def event_failed(result: MessageResult, kind: str) -> Exception | None:
    """The 500 that makes Eventarc redeliver a storage or schedule event, or None when it is acked."""
    if result.outcome.value == "retry":
        return http_error(500, f"{kind} event failed: {result.error}")
    return None


def direct_encoder() -> Callable[[Any], Any]:
    """``encode(value)`` for :func:`portafunc.invoke.handle_http_direct`: the Flask response
    :func:`.codecs.http.to_flask` gives for ``to_response(value)``, built straight from a handler's usual results (a
    dict or list → JSON 200, a str → text 200, None → 204); None for any other value. It raises what building that
    HttpResponse raises (a non-finite number, a lone surrogate in text), so the pipeline answers such a result as it
    always does. Built on the first request (Flask is functions-framework's, loaded by then)."""
    from flask import Response

    def encode(value: Any) -> Any:
        kind = value.__class__
        if kind is dict or kind is list:
            return Response(encode_payload(value)[0], status=200, content_type="application/json")
        if kind is str:
            return Response(value.encode("utf-8"), status=200, content_type="text/plain; charset=utf-8")
        if value is None:
            out = Response(b"", status=204)
            out.headers.remove("Content-Type")  # Flask's text/html default: a response without a body has none
            return out
        return None

    return encode
