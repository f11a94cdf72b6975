"""Small helpers to read native events defensively: every shape problem becomes an EventDecodeError."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

from portafunc.errors import EventDecodeError

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
        if type(r) is not dict:
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
