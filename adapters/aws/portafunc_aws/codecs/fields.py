"""Small helpers to read native events defensively: every shape problem becomes an EventDecodeError."""

from __future__ import annotations

import base64
import binascii
import time
from datetime import datetime, timedelta, timezone
from collections.abc import Mapping

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

from portafunc.errors import EventDecodeError

if TYPE_CHECKING:
    from portafunc.events import Message

BODY_ENCODING_ATTR = "portafunc-body-encoding"
"""Message attribute marking a base64 body: SQS and SNS bodies are text, so binary payloads travel base64-encoded."""


def obj(value: Any, what: str, expected: str) -> Mapping[str, Any]:
    if type(value) is dict:  # the common case, without the ABC instance check
        return value
    if not isinstance(value, Mapping):
        raise EventDecodeError(f"{what} is {type(value).__name__}, not a JSON object", expected=expected)
    return value


def opt_obj(value: Any, what: str, expected: str) -> Mapping[str, Any]:
    """A JSON object that AWS may also send as null or leave out."""
    if value is None:
        return {}
    return obj(value, what, expected)


def text(container: Mapping[str, Any], key: str, what: str, expected: str, *, default: str | None = None) -> str:
    value = container.get(key, default)
    if value is None:
        raise EventDecodeError(f"{what} has no {key!r}", expected=expected)
    if not isinstance(value, str):
        raise EventDecodeError(f"{what}.{key} is {type(value).__name__}, not a string", expected=expected)
    return value


def opt_text(container: Mapping[str, Any], key: str, what: str) -> str | None:
    value = container.get(key)
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str):
        raise EventDecodeError(f"{what}.{key} is {type(value).__name__}, not a string", expected=f"{key} as text")
    return value


def records(native: Any, what: str) -> list[Mapping[str, Any]]:
    recs = native.get("Records") if type(native) is dict or isinstance(native, Mapping) else None
    if not isinstance(recs, list) or not recs:
        raise EventDecodeError(f"{what} has no Records", expected='{"Records": [...]} with at least one record')
    for r in recs:
        if r.__class__ is not dict:  # as Lambda sends them (the attribute costs less than calling type)
            return [obj(r, f"{what} record {i}", "a JSON object per record") for i, r in enumerate(recs)]
    return list(recs)


def b64decode(value: str, what: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise EventDecodeError(f"{what} is not valid base64", expected="base64 text") from exc


def b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def body_as_text(data: bytes) -> tuple[str, bool]:
    """(text, is_base64): UTF-8 text travels as is, anything else base64-encoded."""
    try:
        return data.decode("utf-8"), False
    except UnicodeDecodeError:
        return b64encode(data), True


def new_id() -> str:
    """A random UUID string (encoders only; ``uuid`` is imported on first use, not on the cold-start path)."""
    import uuid

    return str(uuid.uuid4())


# -- SQS and SNS bodies: text, binary payloads base64-encoded with BODY_ENCODING_ATTR --------------------------

def message_payload(message: str, attributes: dict[str, str], what: str, *names: Any) -> bytes:
    """A message's bytes: base64-decoded when portafunc's encoding attribute says so (the attribute is removed),
    else its UTF-8 text. ``what`` names the field in an error, formatted with ``names`` only when one is raised, so
    the usual message pays for no label."""
    if attributes.pop(BODY_ENCODING_ATTR, None) == "base64":
        return b64decode(message, what.format(*names))
    try:
        return message.encode("utf-8")
    except UnicodeEncodeError as exc:  # a lone surrogate: SQS and SNS only carry valid Unicode
        raise EventDecodeError(f"{what.format(*names)} is not valid Unicode ({exc.reason} at {exc.start})",
                               expected="message text of valid Unicode characters") from exc


def message_text(msg: Message[Any]) -> tuple[str, dict[str, str]]:
    body, is_b64 = body_as_text(msg.data)
    attributes = dict(msg.attributes)
    if is_b64:
        attributes[BODY_ENCODING_ATTR] = "base64"
    return body, attributes


def region_of(arn: str) -> str:
    parts = arn.split(":")
    return parts[3] if len(parts) > 5 and parts[3] else "us-east-1"


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_ONE_MS = timedelta(milliseconds=1)


def epoch_ms(value: datetime | None) -> int:
    """Epoch milliseconds in integer arithmetic: ``timestamp() * 1000`` is a float and lands 1 ms early for some
    instants."""
    if value is None:
        return time.time_ns() // 1_000_000
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return (value - _EPOCH) // _ONE_MS


def iso_ms(value: datetime | None) -> str:
    ms = epoch_ms(value)
    dt = _EPOCH + timedelta(milliseconds=ms)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"
