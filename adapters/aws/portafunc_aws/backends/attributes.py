"""Neutral attributes ({name: str}) ↔ SNS/SQS message attributes, and the base64 convention for binary bodies.

SNS and SQS refuse a message with more than 10 message attributes. The caller's own attributes come first, then the
marker of a binary body (without it the body cannot be read back); what portafunc added takes the room that is left:
a dead letter's ``portafunc_*`` reason and origin, then the trace attributes of the invocation
(:data:`portafunc.tracing.TRACE_ATTRIBUTES`), in that order. So a message
valid on the broker is valid from inside an invocation too; what did not fit is handed back to the sender, which
carries what it can another way (SQS: ``traceparent`` as the ``AWSTraceHeader`` system attribute) and says once what
it left out (:func:`report_left_out`).
"""

from __future__ import annotations

from typing import Any, Iterable

from portafunc import logs
from portafunc.errors import MessagingError
from portafunc.tracing import TRACE_ATTRIBUTES, added

from ..codecs.fields import BODY_ENCODING_ATTR, body_as_text

MAX_ATTRIBUTES = 10  # SNS and SQS both refuse more


def outgoing_body(data: bytes, attributes: dict[str, str],
                  where: str) -> tuple[str, dict[str, dict[str, Any]], dict[str, str]]:
    """(text body, native attributes, trace attributes left out for want of room). Binary payloads become base64 text
    marked with ``portafunc-body-encoding``. Only the caller's own attributes and that marker count toward the limit
    that makes a message an error."""
    body, is_b64 = body_as_text(data)
    ours = added(attributes)
    attrs = {str(k): str(v) for k, v in attributes.items() if k not in ours}
    if is_b64:
        attrs[BODY_ENCODING_ATTR] = "base64"
    if len(attrs) > MAX_ATTRIBUTES:
        raise MessagingError(f"{where}: {len(attrs)} attributes; SNS and SQS accept at most {MAX_ATTRIBUTES}"
                             + (" (one is used to mark the binary body)" if is_b64 else ""))
    left_out: dict[str, str] = {}
    for name in sorted(ours, key=_rank):
        if len(attrs) < MAX_ATTRIBUTES:
            attrs[name] = str(attributes[name])
        else:
            left_out[name] = str(attributes[name])
    for name, value in attrs.items():
        if value == "":
            raise MessagingError(f"{where}: attribute {name!r} is empty; SNS and SQS refuse empty attribute values")
    return body, {k: {"DataType": "String", "StringValue": v} for k, v in attrs.items()}, left_out


def _rank(name: str) -> int:
    """What portafunc added for the message itself (a dead letter's reason and origin) before the trace."""
    return TRACE_ATTRIBUTES.index(name) + 1 if name in TRACE_ATTRIBUTES else 0


_reported: dict[str, object] = {}


def report_left_out(broker: str, destination: str, names: Iterable[str], carried: str | None = None) -> None:
    """One WARNING per process and broker naming the trace attributes a message went without, and why (a sender
    that fills the attributes fills them on every message: a line per message would drown the log). Names only:
    no attribute values, no payload. ``carried``: how ``traceparent`` went instead, if it did."""
    token = object()
    if _reported.setdefault(broker, token) is not token:  # setdefault is atomic: one line even across threads
        return
    left = list(names)
    what = "trace attribute(s)" if all(name in TRACE_ATTRIBUTES for name in left) else "attribute(s) portafunc adds"
    message = (f"{broker} message sent without the {what} {', '.join(left)}: {broker} accepts at most "
               f"{MAX_ATTRIBUTES} message attributes and the message's own come first")
    if carried:
        message += f"; its traceparent went as {carried}"
    logs.warning(message + f" (said once per process; later {broker} messages may go without them too)",
                 destination=destination, left_out=left)
