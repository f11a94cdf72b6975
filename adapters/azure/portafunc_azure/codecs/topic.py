"""Event Grid codec: events in the Event Grid schema and the CloudEvents 1.0 schema ⇄ neutral.

* Event Grid schema: ``id``, ``topic``, ``subject``, ``eventType``, ``eventTime``, ``data``, ``dataVersion``,
  ``metadataVersion``.
* CloudEvents schema: ``specversion``, ``id``, ``source``, ``type``, ``time``, ``subject``, ``data`` or
  ``data_base64``.

Blob events (``Microsoft.Storage.BlobCreated`` / ``BlobDeleted`` / ``BlobTierChanged``) become a
:class:`StorageEvent`: the container and blob name come from the subject
(``/blobServices/default/containers/C/blobs/NAME``; CloudEvents drop the leading ``/``), else from ``data.url``.
Every other event becomes a :class:`Message`; a portafunc envelope in ``data`` (see :mod:`.envelope`) restores
attributes and ordering key. A foreign event (not published by portafunc) gets its type and subject as the attributes
``type`` and ``subject`` so a handler can tell events apart.

CloudEvents: extension attributes (``traceparent``, ``tracestate``, any other) become message attributes, and
``data`` whose ``datacontenttype`` is not JSON (``text/plain``, ``text/xml``, ...) is that text itself, not a JSON
string (the JSON format's rule; without a ``datacontenttype`` the data is JSON). Encoding does the reverse: a message
goes out as a CloudEvent any consumer reads (attributes as extension attributes, text as text, other bytes as
``data_base64``); the envelope is used only where a CloudEvent has no place for what the message carries (an ordering
key, an attribute name that is not a valid extension name).
"""

from __future__ import annotations

import base64
from collections.abc import Mapping  # isinstance against it is several times cheaper than typing's alias
from typing import Any, Callable

from portafunc.errors import EventDecodeError
from portafunc.events import Message, StorageEvent, format_time

from . import envelope
from .grid_lane import PORTAFUNC_TYPE as PORTAFUNC_TYPE, VALIDATION_TYPE as VALIDATION_TYPE, event_lane as event_lane
from .storage import BLOB_TYPES, DEFAULT_ARM, decode_blob
CE_CONTEXT = frozenset({"specversion", "id", "source", "type", "time", "subject", "datacontenttype", "dataschema",
                        "data", "data_base64"})
EVENTGRID_EXPECTED = ("an Event Grid event {id, eventType, subject, eventTime, data, dataVersion} or a CloudEvent "
                      "{specversion, id, source, type, data | data_base64}, or an array of them")


def is_cloudevent(native: Mapping[str, Any]) -> bool:
    return "specversion" in native


def is_eventgrid_event(native: Any) -> bool:
    return isinstance(native, Mapping) and ("eventType" in native or "specversion" in native)


def event_type(native: Mapping[str, Any]) -> str:
    value = native.get("type") if is_cloudevent(native) else native.get("eventType")
    return value if isinstance(value, str) else ""


def decode_event(native: Any, *, delivery_attempt: int = 1, as_message: bool = False) -> Message[Any] | StorageEvent:
    """One event (either schema) → a neutral Message or StorageEvent."""
    if not isinstance(native, Mapping):
        raise EventDecodeError(f"Event Grid event is {type(native).__name__}", expected=EVENTGRID_EXPECTED)
    cloud = is_cloudevent(native)
    etype = event_type(native)
    if not etype:
        raise EventDecodeError("Event Grid event has no " + ("type" if cloud else "eventType"),
                               expected=EVENTGRID_EXPECTED)
    if etype == VALIDATION_TYPE:
        raise EventDecodeError("this is the Event Grid subscription validation handshake, not an event; the "
                               "Functions host (or portafunc_azure.inbound.webhook for plain HTTP) answers it",
                               expected=EVENTGRID_EXPECTED)
    event_id = native.get("id")
    if not isinstance(event_id, str) or not event_id:
        raise EventDecodeError("Event Grid event has no id", expected=EVENTGRID_EXPECTED)
    when = envelope.parse_time_safe(native.get("time") if cloud else native.get("eventTime"))
    source = native.get("source") if cloud else native.get("topic")
    subject = native.get("subject")
    if etype in BLOB_TYPES and not as_message:
        return decode_blob(native, etype, event_id, when, subject)
    data = native.get("data")
    if cloud and native.get("data_base64") is not None:
        raw = native["data_base64"]
        if not isinstance(raw, str):
            raise EventDecodeError("CloudEvent data_base64 is not a string", expected="base64 text")
        attributes: dict[str, str] = {}
        key: str | None = None
        try:
            payload = base64.b64decode(raw, validate=True)
        except ValueError as exc:
            raise EventDecodeError("CloudEvent data_base64 is not valid base64", expected="base64 text") from exc
    elif cloud and isinstance(data, str) and not is_json_type(native.get("datacontenttype")):
        payload, attributes, key = _text_bytes(data), {}, None
    else:
        payload, attributes, key = envelope.from_json_value(data)
    if etype != PORTAFUNC_TYPE and not envelope.is_envelope(data):
        attributes = {"type": etype}
        if isinstance(subject, str) and subject:
            attributes["subject"] = subject
    if cloud:
        extensions = {k: _extension_text(v) for k, v in native.items() if k not in CE_CONTEXT}
        if extensions:
            attributes = {**extensions, **attributes}
    return Message(id=event_id, data=payload, attributes=attributes, ordering_key=key,
                   delivery_attempt=max(1, int(delivery_attempt)), published_at=when,
                   source=source if isinstance(source, str) else None, native=native)


def _as_is(value: Any, *ignored: Any) -> Any:
    return value


def _nothing(event: Any) -> None:
    return None


message_from_func: Callable[[Any], Message[Any] | None] = event_lane(_as_is, None, _as_is, _nothing)
message_from_func.__doc__ = """A ``func.EventGridEvent`` (Event Grid schema) → the Message :func:`event_lane` runs,
None for what it leaves to the general path: the lane with a runner that hands the message back."""


def is_json_type(content_type: Any) -> bool:
    """Whether a ``datacontenttype`` says JSON (absent: JSON, as the CloudEvents JSON format reads ``data``)."""
    if not isinstance(content_type, str) or not content_type.strip():
        return True
    media = content_type.partition(";")[0].strip().lower()
    return media in ("application/json", "text/json") or media.endswith("+json")


def _text_bytes(text: str) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise EventDecodeError("CloudEvent data holds text that is not valid Unicode (a lone surrogate)",
                               expected="data as valid Unicode text") from exc


def _extension_text(value: Any) -> str:
    """An extension attribute's value as message attribute text (CloudEvents' canonical string forms)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return envelope.dumps(value).decode("utf-8")


def decode_payload(native: Any, *, delivery_attempt: int = 1) -> list[Message[Any] | StorageEvent]:
    """A delivery body: one event or an array of events (either schema)."""
    if isinstance(native, list):
        if not native:
            raise EventDecodeError("Event Grid delivery is an empty array", expected=EVENTGRID_EXPECTED)
        return [decode_event(e, delivery_attempt=delivery_attempt) for e in native]
    return [decode_event(native, delivery_attempt=delivery_attempt)]


# -- encoding ----------------------------------------------------------------------------------------------------

def encode_message(msg: Message[Any], schema: str = "eventgrid", topic: str | None = None) -> dict[str, Any]:
    """A neutral message → the event portafunc publishes (and Event Grid delivers) in ``schema``."""
    source = msg.source or topic or f"{DEFAULT_ARM}/Microsoft.EventGrid/topics/portafunc"
    if schema == "cloudevents":
        out: dict[str, Any] = {"specversion": "1.0", "id": msg.id, "source": source, "type": PORTAFUNC_TYPE,
                               "subject": "portafunc/message"}
        if msg.published_at is not None:
            out["time"] = format_time(msg.published_at)
        if msg.ordering_key or not all(_is_extension_name(name) for name in msg.attributes):
            out["datacontenttype"] = "application/json"
            out["data"] = envelope.json_value(msg.data, msg.attributes, msg.ordering_key)
            return out
        out.update(msg.attributes)
        value = envelope.canonical_json(msg.data)
        if value is not envelope.NOT_JSON and not envelope.is_envelope(value):
            out["datacontenttype"], out["data"] = "application/json", value
            return out
        try:
            text = msg.data.decode("utf-8")
        except UnicodeDecodeError:
            out["datacontenttype"] = "application/octet-stream"
            out["data_base64"] = base64.b64encode(msg.data).decode("ascii")
            return out
        out["datacontenttype"], out["data"] = "text/plain; charset=utf-8", text
        return out
    data = envelope.json_value(msg.data, msg.attributes, msg.ordering_key)
    out = {"id": msg.id, "topic": source, "subject": "portafunc/message", "eventType": PORTAFUNC_TYPE}
    if msg.published_at is not None:
        out["eventTime"] = format_time(msg.published_at)
    out.update({"data": data, "dataVersion": "1.0", "metadataVersion": "1"})
    return out


def _is_extension_name(name: str) -> bool:
    """A CloudEvents extension attribute name: lower-case ASCII letters and digits, at most 20 of them, and not a
    context attribute of the spec."""
    return 0 < len(name) <= 20 and name.isascii() and name.isalnum() and name == name.lower() \
        and name not in CE_CONTEXT
