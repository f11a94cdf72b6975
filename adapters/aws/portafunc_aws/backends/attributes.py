"""Neutral attributes ({name: str}) ↔ SNS/SQS message attributes, and the base64 convention for binary bodies."""

from __future__ import annotations

from typing import Any

from portafunc.errors import MessagingError

from ..codecs.fields import BODY_ENCODING_ATTR, body_as_text

MAX_ATTRIBUTES = 10  # SNS and SQS both refuse more


def outgoing_body(data: bytes, attributes: dict[str, str], where: str) -> tuple[str, dict[str, dict[str, Any]]]:
    """(text body, native attributes). Binary payloads become base64 text marked with ``portafunc-body-encoding``."""
    body, is_b64 = body_as_text(data)
    attrs = {str(k): str(v) for k, v in attributes.items()}
    if is_b64:
        attrs[BODY_ENCODING_ATTR] = "base64"
    if len(attrs) > MAX_ATTRIBUTES:
        raise MessagingError(f"{where}: {len(attrs)} attributes; SNS and SQS accept at most {MAX_ATTRIBUTES}"
                             + (" (one is used to mark the binary body)" if is_b64 else ""))
    for name, value in attrs.items():
        if value == "":
            raise MessagingError(f"{where}: attribute {name!r} is empty; SNS and SQS refuse empty attribute values")
    return body, {k: {"DataType": "String", "StringValue": v} for k, v in attrs.items()}
