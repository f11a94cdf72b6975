"""Defensive readers of native requests: the JSON form of an HTTP request every container codec starts from.

The JSON form mirrors the wire: ``{"method", "path" (percent-encoded, as on the request line), "query_string"
(raw), "headers": [[name, value], ...] (repeated names kept), "body", "isBase64Encoded"}``; a response is
``{"statusCode", "headers": [[...]], "body", "isBase64Encoded"}``. The server builds the same form from the WSGI
environ, so a saved event file and a live request go through one decoder.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any, Mapping

from portafunc.errors import EventDecodeError
from portafunc.events import Headers

HTTP_EXPECTED = ('{"method": "POST", "path": "/", "query_string": "", "headers": [["name", "value"]], "body": "", '
                 '"isBase64Encoded": false}')


def need_map(value: Any, what: str, expected: str = HTTP_EXPECTED) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise EventDecodeError(f"{what} is a JSON object, got {type(value).__name__}", expected=expected)
    return value


def is_request(native: Any) -> bool:
    return isinstance(native, Mapping) and isinstance(native.get("method"), str) and isinstance(native.get("path"), str)


def headers_of(value: Any) -> Headers:
    if value is None:
        return Headers()
    if isinstance(value, Mapping):
        return Headers({str(k): str(v) for k, v in value.items()})
    if isinstance(value, list) and all(isinstance(p, (list, tuple)) and len(p) == 2 for p in value):
        return Headers([(str(k), str(v)) for k, v in value])
    raise EventDecodeError("headers must be a list of [name, value] pairs or an object", expected=HTTP_EXPECTED)


def body_of(native: Mapping[str, Any], what: str) -> bytes:
    body = native.get("body")
    if body is None:
        return b""
    if not isinstance(body, str):
        raise EventDecodeError(f"{what} body is {type(body).__name__}, not a string", expected=HTTP_EXPECTED)
    if native.get("isBase64Encoded"):
        return b64decode(body, f"{what} body")
    return body.encode("utf-8")


def put_body(body: bytes, out: dict[str, Any]) -> dict[str, Any]:
    try:
        out["body"], out["isBase64Encoded"] = body.decode("utf-8"), False
    except UnicodeDecodeError:
        out["body"], out["isBase64Encoded"] = base64.b64encode(body).decode("ascii"), True
    return out


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
