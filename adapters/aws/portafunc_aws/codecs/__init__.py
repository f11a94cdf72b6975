"""Shape detection: which AWS service sent a native event, and its neutral events.

Only the HTTP codec is imported with this module: the message and storage codecs load when an event needs them, so
an HTTP-only function's cold start does not pay for them.
"""

from __future__ import annotations

from collections.abc import Mapping

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

from portafunc.errors import EventDecodeError
from portafunc.events import Event

from . import http

EXPECTED = ("an AWS Lambda event: API Gateway REST/HTTP API, ALB or Function URL request; SQS batch; SNS "
            "notification; S3 notification; or EventBridge event (scheduled, S3 object events, custom)")


def detect(native: Any) -> tuple[str, str | None]:
    """(kind, HTTP variant): kind is ``http``, ``sqs``, ``sns``, ``s3`` or ``eventbridge``, the variant is set for
    ``http`` only (``apigw-v2``, ``function-url``, ...). EventDecodeError for anything else.

    One pass over the event, so the entry does not detect the HTTP variant a second time when decoding.
    """
    variant = http.detect(native)
    if variant is not None:
        return "http", variant
    if type(native) is dict or isinstance(native, Mapping):
        recs = native.get("Records")
        if isinstance(recs, list) and recs and (recs[0].__class__ is dict or isinstance(recs[0], Mapping)):
            first = recs[0]
            source = first.get("eventSource")
            if source == "aws:sqs":
                return "sqs", None
            if first.get("EventSource") == "aws:sns":
                return "sns", None
            if source == "aws:s3":
                return "s3", None
        if "detail-type" in native and "source" in native and "detail" in native:
            return "eventbridge", None
    refused = http.refusal(native)
    if refused is not None:
        raise refused
    kind = type(native).__name__
    hint = f" (keys: {', '.join(sorted(map(str, native))[:8])})" if isinstance(native, dict) else f" ({kind})"
    raise EventDecodeError(f"not a known AWS event{hint}", expected=EXPECTED)


def shape(native: Any) -> str:
    """``http``, ``sqs``, ``sns``, ``s3`` or ``eventbridge``; EventDecodeError for anything else."""
    return detect(native)[0]


def decode(native: Any) -> list[Event]:
    """Every neutral event in ``native``. SQS/SNS messages that carry S3 notifications decode as storage events."""
    kind, variant = detect(native)
    if kind == "http":
        return [http.decode_complete(native, variant)]
    from . import queue, storage, topic

    if kind in ("sqs", "sns"):
        out: list[Event] = []
        for msg in queue.decode_sqs(native) if kind == "sqs" else topic.decode_sns(native):
            s3 = storage.s3_from_message(msg)
            out.extend([msg] if s3 is None else s3)
        return out
    if kind == "s3":
        return list(storage.decode_s3(native))
    from .eventbridge import decode_eventbridge

    return [decode_eventbridge(native)]
