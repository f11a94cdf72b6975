"""The one outcome → native mapping of the container target: what the service answers a push, and what the pull
worker does with a received message.

Push (Pub/Sub push, Eventarc, Event Grid, Knative): a 2xx acknowledges, anything else makes the platform redeliver
(up to its attempts, then its dead letter). So a message that succeeded or was dead-lettered by the pipeline is
``204``; a retryable failure, a non-retryable one with no dead-letter destination, and a message skipped in an
ordered batch are ``500`` (problem+json naming only the message id, never the payload); an undecodable delivery is
``400`` (also redelivered, then dead-lettered by the platform: never silently dropped).
"""

from __future__ import annotations

from typing import Any

from portafunc import logs
from portafunc.events import HttpResponse, Message
from portafunc.invoke import MessageResult, Outcome, dead_letter_destination

ACK = "ack"
RETRY = "retry"
DEAD_LETTER = "dead-letter"


def push_answer(results: list[MessageResult]) -> HttpResponse:
    """One push request's answer for the results of the message(s) it carried."""
    failed = [r for r in results if r.must_redeliver]
    if not failed:
        return HttpResponse(204)
    return HttpResponse.problem(500, "Delivery failed", f"{len(failed)} of {len(results)} event(s) failed and will "
                                f"be redelivered: {', '.join(r.message_id for r in failed)[:300]}")


def undecodable(detail: str) -> HttpResponse:
    return HttpResponse.problem(400, "Not a delivery this function accepts", detail[:500])


def pull_action(result: MessageResult, attempt: int, max_attempts: int) -> str:
    """For the pull worker: ack (done or dead-lettered by the pipeline), retry (make it visible again), or move it
    to the dead letter now (a failure on the last allowed attempt, as a broker's redrive would)."""
    if not result.must_redeliver:
        return ACK
    return DEAD_LETTER if attempt >= max_attempts else RETRY


def after_last_attempt(spec: Any, messages: list[Message[Any]], results: list[MessageResult]) -> list[MessageResult]:
    """Messages that failed on their ``max_attempts``-th delivery are moved to the function's dead letter and
    acknowledged, as a broker's redrive would (a push that says how many times it delivered — Pub/Sub's
    ``deliveryAttempt`` — and the pull worker); the rest keep their result."""
    max_attempts = getattr(spec.trigger, "max_attempts", 0)
    destination = dead_letter_destination(spec)
    out = []
    for msg, result in zip(messages, results, strict=True):
        if result.must_redeliver and destination and msg.delivery_attempt >= max_attempts \
                and move_to_dead_letter(spec.name, destination, msg, result.error or result.outcome.value):
            result = MessageResult(msg.id, Outcome.DEAD_LETTERED, result.error)
        out.append(result)
    return out


def move_to_dead_letter(function: str, destination: str, msg: Message[Any], reason: str) -> bool:
    """Forward a message that used its last attempt, with why in its attributes; False (it stays to be retried,
    never lost) when the dead letter cannot take it."""
    from portafunc.kit.dead_letter import move_after_last_attempt

    try:
        move_after_last_attempt(function, destination, msg, reason)
    except Exception as exc:  # noqa: BLE001 - keep the message rather than lose it
        logs.error("message could not be dead-lettered after its last attempt; it stays to be retried",
                   message_id=msg.id, dead_letter=destination, error=repr(exc)[:300])
        return False
    logs.warning("message dead-lettered after its last attempt", message_id=msg.id, attempts=msg.delivery_attempt,
                 dead_letter=destination)
    return True
