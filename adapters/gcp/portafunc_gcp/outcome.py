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
from portafunc.invoke import MessageResult, Outcome

#: The fewest delivery attempts a Pub/Sub dead-letter policy takes (and the most: 100). A queue function allowing
#: fewer moves a message that fails on its ``max_attempts``-th delivery to its dead letter itself
#: (:func:`counting_attempts`); the subscription's policy, at this minimum, is the backstop.
PUBSUB_MIN_ATTEMPTS, PUBSUB_MAX_ATTEMPTS = 5, 100


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


def counting_attempts(spec: Any, run: Callable[[Any, Any, Any], MessageResult | None]
                      ) -> Callable[[Any, Any, Any], MessageResult | None]:
    """``run`` (a :func:`portafunc.invoke.message_runner`) for a queue function whose ``max_attempts`` is below
    Pub/Sub's minimum: a message failing on its ``max_attempts``-th delivery (the push's ``deliveryAttempt``, which
    Pub/Sub sends because the subscription has a dead-letter policy) is moved to the function's dead letter and
    acknowledged, as a dead-letter policy of ``max_attempts`` would move it. When it cannot be moved it stays failed:
    redelivered, and the subscription's own policy (at :data:`PUBSUB_MIN_ATTEMPTS`) takes it. Any other function:
    ``run`` itself."""
    trig = spec.trigger
    max_attempts = getattr(trig, "max_attempts", PUBSUB_MIN_ATTEMPTS)
    if trig.kind != "queue" or max_attempts >= PUBSUB_MIN_ATTEMPTS:
        return run

    def counted(msg: Any, invocation_id: Any, native_context: Any) -> MessageResult | None:
        failure = run(msg, invocation_id, native_context)
        if failure is None or not failure.must_redeliver or msg.delivery_attempt < max_attempts:
            return failure
        return _moved_after_last_attempt(spec, msg, failure, max_attempts)

    return counted


def _moved_after_last_attempt(spec: Any, msg: Any, failure: MessageResult, max_attempts: int) -> MessageResult:
    from portafunc import logs
    from portafunc.invoke import dead_letter_destination
    from portafunc.kit.dead_letter import move_after_last_attempt

    reason = failure.error or failure.outcome.value
    destination = dead_letter_destination(spec)
    if destination is None:
        logs.error("message failed on its last attempt, and the function has no dead-letter destination: it is "
                   "redelivered until the subscription's dead-letter policy takes it", message_id=msg.id,
                   delivery_attempt=msg.delivery_attempt, max_attempts=max_attempts)
        return failure
    try:
        move_after_last_attempt(spec.name, destination, msg, reason)
    except Exception as exc:  # noqa: BLE001 - keep the message rather than lose it
        logs.error("message failed on its last attempt but could not be dead-lettered; it will be redelivered",
                   message_id=msg.id, delivery_attempt=msg.delivery_attempt, max_attempts=max_attempts,
                   dead_letter=destination, error=f"{type(exc).__name__}: {logs.redact(str(exc)[:2000])}")
        return failure
    logs.warning("message failed on its last attempt: moved to the dead-letter destination", message_id=msg.id,
                 delivery_attempt=msg.delivery_attempt, max_attempts=max_attempts, dead_letter=destination,
                 reason=reason)
    return MessageResult(msg.id, Outcome.DEAD_LETTERED, reason)


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
