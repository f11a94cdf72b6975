"""A message that failed on its last allowed attempt, moved to its function's dead letter as a broker's redrive
policy would move it.

The runtimes that make this move themselves (AWS with ``PORTAFUNC_MAX_ATTEMPTS_<FUNCTION>``, the Azure queue
trigger, the container target's pull worker and counted pushes) send the same message with the same attributes, so
a dead letter reads alike whichever target filled it. Each runtime decides what happens when the dead letter does not
take the message (retried, or the platform's own poison queue): it is never lost.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from ..events import Message
    from ..tracing import Stamped


def last_attempt_attributes(function: str, msg: Message[Any], reason: str) -> Stamped:
    """``msg``'s own attributes and why it was dead-lettered: ``portafunc_error`` (``reason``, at most 900
    characters), ``portafunc_original_id``, ``portafunc_function`` and ``portafunc_attempts`` (its delivery count),
    marked as portafunc's (:func:`portafunc.tracing.add`), as the core marks those of a non-retryable message, so a
    broker that caps the count of attributes keeps the message's own first."""
    from ..tracing import add

    return add(msg.attributes, {"portafunc_error": reason[:900], "portafunc_original_id": msg.id,
                                "portafunc_function": function, "portafunc_attempts": str(msg.delivery_attempt)})


def move_after_last_attempt(function: str, destination: str, msg: Message[Any], reason: str) -> None:
    """Send ``msg`` to ``destination`` (a logical queue or a binding URL, as ``dead_letter=`` names it) with
    :func:`last_attempt_attributes`. Raises what the send raises: the caller keeps the message then."""
    from ..messaging import queue_or_topic

    queue_or_topic(destination).move(msg, last_attempt_attributes(function, msg, reason))
