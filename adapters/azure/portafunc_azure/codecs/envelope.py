"""How attributes and ordering keys travel where the broker has no room for them.

Azure Storage Queue messages are a bare string, and an Event Grid event delivered to a function exposes only its
``data``; neither has message attributes. portafunc therefore wraps a payload in a small JSON envelope **only when it
must** (attributes or an ordering key are present, the payload is not JSON, or the payload itself looks like an
envelope), so plain JSON payloads stay plain for any other consumer::

    {"$portafunc": 1, "attributes": {"kind": "created"}, "ordering_key": null, "data": {"id": "o-1"}}
    {"$portafunc": 1, "attributes": {}, "ordering_key": null, "data_base64": "AAEC"}

``data`` is used when the payload is canonical compact JSON (so the bytes round-trip exactly), else ``data_base64``.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from portafunc.errors import EventDecodeError
from portafunc.events import format_time, parse_time

MARKER = "$portafunc"
_NOT_JSON = object()
NOT_JSON = _NOT_JSON  # what canonical_json returns for bytes that are not exactly their compact JSON


def canonical_json(data: bytes) -> Any:
    """The parsed JSON value when ``data`` is exactly its compact serialisation, else a sentinel (``_NOT_JSON``)."""
    if not data:
        return _NOT_JSON
    try:
        value = json.loads(data)
    except ValueError:
        return _NOT_JSON
    if dumps(value) != data:
        return _NOT_JSON
    return value


def dumps(value: Any) -> bytes:
    """Compact JSON as portafunc and the decoders write it (UTF-8, no ASCII escaping). Text holding a lone surrogate
    (a JSON escape such as ``\\ud800``, which the worker's parser reads as one) has no UTF-8 form: that value is
    written with ASCII escapes instead, as it arrived, and reads back the same, as the same message body does on the
    other clouds."""
    try:
        text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
        try:
            return text.encode("utf-8")
        except UnicodeEncodeError:
            return json.dumps(value, separators=(",", ":")).encode("ascii")
    except ValueError as exc:  # NaN/Infinity are fine for json; a circular structure is not possible from JSON
        raise EventDecodeError(f"event data cannot be serialised: {exc}", expected="JSON data") from exc
    except RecursionError:
        raise EventDecodeError("event data is nested too deeply to write",
                               expected="JSON data nested less than a few hundred levels") from None


def is_envelope(value: Any) -> bool:
    return isinstance(value, dict) and value.get(MARKER) == 1


def needs_envelope(data: bytes, attributes: dict[str, str] | None, ordering_key: str | None) -> bool:
    if attributes or ordering_key:
        return True
    value = canonical_json(data)
    return value is _NOT_JSON or is_envelope(value)


def wrap(data: bytes, attributes: dict[str, str] | None, ordering_key: str | None) -> dict[str, Any]:
    env: dict[str, Any] = {MARKER: 1, "attributes": dict(attributes or {}), "ordering_key": ordering_key}
    value = canonical_json(data)
    if value is _NOT_JSON:
        env["data_base64"] = base64.b64encode(data).decode("ascii")
    else:
        env["data"] = value
    return env


def json_value(data: bytes, attributes: dict[str, str] | None, ordering_key: str | None) -> Any:
    """What goes into an Event Grid ``data`` field: the payload itself, or the envelope when needed."""
    if needs_envelope(data, attributes, ordering_key):
        return wrap(data, attributes, ordering_key)
    return canonical_json(data)


def body_bytes(data: bytes, attributes: dict[str, str] | None, ordering_key: str | None) -> bytes:
    """What goes into a Storage Queue message (before the host's base64): the raw payload, or the envelope."""
    if attributes or ordering_key or is_envelope(_loads_or_none(data)):
        return dumps(wrap(data, attributes, ordering_key))
    return data


def unwrap(value: Any) -> tuple[bytes, dict[str, str], str | None]:
    """(payload, attributes, ordering key) from an envelope dict."""
    attrs = value.get("attributes") or {}
    if not isinstance(attrs, dict):
        raise EventDecodeError("portafunc envelope attributes is not an object",
                               expected='{"$portafunc": 1, "attributes": {...}, "data": ...}')
    key = value.get("ordering_key")
    if "data_base64" in value:
        text = value["data_base64"]
        if not isinstance(text, str):
            raise EventDecodeError("portafunc envelope data_base64 is not a string", expected="base64 text")
        try:
            payload = base64.b64decode(text, validate=True)
        except ValueError as exc:
            raise EventDecodeError("portafunc envelope data_base64 is not valid base64",
                                   expected="base64 text") from exc
    elif "data" in value:
        payload = dumps(value["data"])
    else:
        payload = b""
    return payload, {str(k): str(v) for k, v in attrs.items()}, None if key is None else str(key)


def from_json_value(value: Any) -> tuple[bytes, dict[str, str], str | None]:
    """Inverse of :func:`json_value` (an Event Grid ``data`` field → payload, attributes, ordering key)."""
    if is_envelope(value):
        return unwrap(value)
    if value is None:
        return b"", {}, None
    return dumps(value), {}, None


_MARKER_BYTES = b'"' + MARKER.encode() + b'"'


def from_body(body: bytes) -> tuple[bytes, dict[str, str], str | None]:
    """Inverse of :func:`body_bytes` (a Storage Queue message body → payload, attributes, ordering key). Only a
    body holding the marker key is parsed: every other payload reaches the handler untouched, parsed once, there."""
    if _MARKER_BYTES not in body:
        return body, {}, None
    value = _loads_or_none(body)
    if is_envelope(value):
        return unwrap(value)
    return body, {}, None


def _loads_or_none(data: bytes) -> Any:
    if not data or data[:1] not in (b"{", b" ", b"\n", b"\t", b"\r"):
        return None
    try:
        return json.loads(data)
    except (ValueError, RecursionError):  # not JSON, or nested too deep to parse: not an envelope portafunc wrote
        return None


def parse_time_safe(value: Any) -> Any:
    """``portafunc.events.parse_time`` with out-of-range numbers reported as EventDecodeError, not a crash."""
    try:
        return parse_time(value)
    except (OverflowError, ValueError, OSError) as exc:
        if isinstance(exc, EventDecodeError):
            raise
        raise EventDecodeError(f"time {value!r} is out of range", expected="an RFC 3339 timestamp") from exc


def status_time(value: Any) -> str | None:
    """A time the worker read (``datetime`` or text) written back as RFC 3339, None when absent. Here, not with the
    timer codec: the queue and Event Grid conversions need it too, and an artifact without timers ships no timer
    codec."""
    t = parse_time_safe(value) if value else None
    return format_time(t) if t else None
