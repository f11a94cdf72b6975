"""Small shared helpers for the GCP codecs: strict field access that fails with EventDecodeError, never KeyError."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping  # isinstance against it is several times cheaper than typing's alias
from typing import Any

from portafunc.errors import EventDecodeError


def need_map(value: Any, what: str, expected: str) -> Mapping[str, Any]:
    if value.__class__ is dict:  # what JSON gives: no ABC check
        return value
    if not isinstance(value, Mapping):
        raise EventDecodeError(f"{what} is {type(value).__name__}, not a JSON object", expected=expected)
    return value


def opt_str(obj: Mapping[str, Any], *names: str, what: str) -> str | None:
    """The first present of ``names`` as a string (numbers accepted, as Pub/Sub ids sometimes are)."""
    for name in names:
        value = obj.get(name)
        if value.__class__ is str and value:
            return value
        if value is None or value == "":
            continue
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise EventDecodeError(f"{what}.{name} is {type(value).__name__}", expected=f"{name} as a string")
        return str(value)
    return None


def b64decode(text: Any, what: str) -> bytes:
    if text is None or text == "":
        return b""
    if not isinstance(text, str):
        raise EventDecodeError(f"{what} is {type(text).__name__}, not base64 text", expected="base64 text")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise EventDecodeError(f"{what} is not valid base64: {exc}", expected="base64 text") from exc


def b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def str_map(value: Any, what: str) -> dict[str, str]:
    if value is None:
        return {}
    if value.__class__ is dict:  # names and values text, as JSON gives them: taken as they are
        for k, v in value.items():
            if k.__class__ is not str or v.__class__ is not str:
                break
        else:
            return dict(value)
    obj = need_map(value, what, f"{what} as an object of strings")
    out: dict[str, str] = {}
    for k, v in obj.items():
        if not isinstance(v, (str, int, float)) or isinstance(v, bool):
            raise EventDecodeError(f"{what}[{k!r}] is {type(v).__name__}", expected=f"{what} values as strings")
        out[str(k)] = str(v)
    return out
