"""Shape detection: which AWS service sent a native event, and its neutral events."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

from portafunc.errors import EventDecodeError
from portafunc.events import Event

from . import http, messages, storage

EXPECTED = ("an AWS Lambda event: API Gateway REST/HTTP API, ALB or Function URL request; SQS batch; SNS "
            "notification; S3 notification; or EventBridge event (scheduled, S3 object events, custom)")


def shape(native: Any) -> str:
    """``http``, ``sqs``, ``sns``, ``s3`` or ``eventbridge``; EventDecodeError for anything else."""
    if http.detect(native):
        return "http"
    if messages.is_sqs(native):
        return "sqs"
    if messages.is_sns(native):
        return "sns"
    if storage.is_s3(native):
        return "s3"
    if storage.is_eventbridge(native):
        return "eventbridge"
    kind = type(native).__name__
    hint = f" (keys: {', '.join(sorted(map(str, native))[:8])})" if isinstance(native, dict) else f" ({kind})"
    raise EventDecodeError(f"not a known AWS event{hint}", expected=EXPECTED)


def decode(native: Any) -> list[Event]:
    """Every neutral event in ``native``. SQS/SNS messages that carry S3 notifications decode as storage events."""
    kind = shape(native)
    if kind == "http":
        req, _ = http.decode_request(native)
        return [req]
    if kind in ("sqs", "sns"):
        out: list[Event] = []
        for msg in messages.decode_sqs(native) if kind == "sqs" else messages.decode_sns(native):
            s3 = storage.s3_from_message(msg)
            out.extend([msg] if s3 is None else s3)
        return out
    if kind == "s3":
        return list(storage.decode_s3(native))
    return [storage.decode_eventbridge(native)]
