"""Defensive readers of native requests: the JSON form of an HTTP request every container codec starts from.

The JSON form of a request is the core's (:mod:`portafunc.kit.http_json`, read there and re-exported here); a
response is ``{"statusCode", "headers": [[...]], "body", "isBase64Encoded"}``. The server builds the same form from
the WSGI environ, so a saved event file and a live request go through one decoder.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any, Mapping

from portafunc.errors import EventDecodeError
from portafunc.kit import http_json
from portafunc.kit.http_json import body_of, headers_of, is_request, put_body

HTTP_EXPECTED = http_json.EXPECTED

__all__ = ["HTTP_EXPECTED", "b64decode", "b64encode", "body_of", "headers_of", "is_request", "need_map", "put_body",
           "text_field"]


def need_map(value: Any, what: str, expected: str = HTTP_EXPECTED) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise EventDecodeError(f"{what} is a JSON object, got {type(value).__name__}", expected=expected)
    return value


def b64decode(text: Any, what: str) -> bytes:
    if not isinstance(text, str):
        raise EventDecodeError(f"{what} is not base64 text", expected="standard base64")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise EventDecodeError(f"{what} is not valid base64", expected="standard base64") from None


def b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def text_field(value: Any, what: str, expected: str) -> str:
    if not isinstance(value, str) or not value:
        raise EventDecodeError(f"{what} is missing or not a string", expected=expected)
    return value
