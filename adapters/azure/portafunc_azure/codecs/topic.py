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
from datetime import datetime
from collections.abc import Mapping  # isinstance against it is several times cheaper than typing's alias
from typing import Any, Callable

from portafunc.errors import EventDecodeError
from portafunc.events import _UNREAD, Message, StorageEvent, format_time

from . import envelope
from .envelope import MARKER
from .storage import BLOB_TYPES, DEFAULT_ARM, decode_blob

PORTAFUNC_TYPE = "io.portafunc.message"
VALIDATION_TYPE = "Microsoft.EventGrid.SubscriptionValidationEvent"
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


class _ParsedMessage(Message[Any]):
    """A message whose JSON payload the worker already parsed (``func.EventGridEvent.get_json()``): ``json()``
    hands over a copy of that value (its own, as a fresh parse is) and the bytes of ``data`` are written only if
    something reads them (a typed model, the dead-letter copy, a log), so the usual handler never pays for
    serialising and re-parsing its payload. ``_value`` holds the parsed value until ``data`` holds bytes (written
    from it, or set), then ``_PENDING``; ``_copy`` holds the copy :func:`event_lane` made while checking the value,
    which the first ``json()`` hands out (then ``_PENDING``)."""

    __slots__ = ("_value", "_copy")
    _value: Any
    _copy: Any
    # made only by event_lane, which sets every slot itself: the class call then only allocates (object.__new__
    # called by name checks the class's bases first, and costs as much again)
    __init__ = object.__init__

    @property
    def data(self) -> bytes:
        value = self._value
        if value is not _PENDING:
            raw: bytes = envelope.dumps(value)
            _DATA.__set__(self, raw)
            self._value = _PENDING  # after the bytes: a reader in another thread finds one or the other
            return raw
        written: bytes = _DATA.__get__(self)
        return written

    @data.setter
    def data(self, value: bytes) -> None:
        _DATA.__set__(self, value)
        self._value = self._copy = _PENDING

    def json(self) -> Any:
        copied = self._copy
        if copied is not _PENDING:  # the lane's copy, handed out once: a later call makes another
            self._copy = _PENDING
            return copied
        value = self._value
        if value is not _PENDING:  # a copy of its own, as a fresh parse is: the bytes stay what was received
            return _checked_copy(value)
        return super().json()


def _checked_copy(value: Any) -> Any:
    """A parsed JSON value's containers copied, its scalars (immutable) shared, in one walk that also checks it can
    be written as the message's UTF-8 bytes (:func:`.envelope.dumps`): UnicodeEncodeError when a text in it, a key
    or a value, holds a lone surrogate (a JSON escape such as ``\\ud800`` reads as one). What a handler changes in
    the copy leaves the worker's value, and so the message's bytes and a later ``json()``, as they arrived."""
    kind = value.__class__
    if kind is dict:
        out: Any = value.copy()  # in C; nested containers replaced below (a value replaced keeps the dict's size)
        pairs: Any = out.items()
    elif kind is list:
        out = value.copy()
        pairs = enumerate(out)
    else:
        if kind is str and not value.isascii():
            value.encode()
        return value
    keyed = kind is dict
    for key, item in pairs:
        if keyed and not key.isascii():  # a key the worker parsed is text
            key.encode()
        kind = item.__class__
        if kind is str:
            if not item.isascii():
                item.encode()
        elif kind is dict or kind is list:
            out[key] = _checked_copy(item)
    return out


_ParsedMessage.__name__ = "Message"  # what it stands for, to code telling events by type(event).__name__ (a
# middleware's trace, a repr); its __qualname__ stays, which pickle and copy look it up by
_DATA = Message.__dict__["data"]  # the slot under Message.data


class _Pending:
    """The marker in ``_value`` once ``data`` holds the bytes: copied and pickled as itself (a copy of a plain
    ``object()`` would be another object, read as the payload)."""

    __slots__ = ()

    def __reduce__(self) -> str:
        return "_PENDING"


_PENDING: Any = _Pending()
_NOT_MESSAGES = frozenset(("", VALIDATION_TYPE))  # event types the lane leaves to the general path, which refuses them
_sdk_event: Any = None  # func.EventGridEvent once its instances are seen to keep each field as the accessors give it
_LAYOUT = ("_EventGridEvent__event_type", "_EventGridEvent__id", "_EventGridEvent__data",
           "_EventGridEvent__event_time")


def event_lane(run: Callable[[Message[Any], str | None, Any], Any], local: Any, finish: Callable[[Any], Any],
               general: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """The Event Grid entry of one topic function: ``lane(event)`` reads a ``func.EventGridEvent`` (Event Grid
    schema) into a Message without writing it back to JSON and runs it with ``run(msg, None, event)`` (the function's
    :func:`portafunc.invoke.message_runner`); a success is kept as ``local.last`` (the message id) and answers None,
    a failure goes to ``finish(failure)``. Anything else (a ``func.CloudEvent``, an envelope, a validation event, a
    field of another type) goes to ``general(event)`` untouched, which decodes it with :func:`decode_event`.

    The worker's own class keeps each field in an attribute its accessor returns as it is; once that is seen
    (:func:`_learn_layout`), its fields are read there, without an accessor's frame each, and the message is built
    in place: its attributes and source are read from the event when first asked for (``Message.deferred``). One
    function per topic function, called by the generated entry itself: no frame between the worker and the runner
    but this one."""

    def lane(event: Any) -> Any:
        if event.__class__ is _sdk_event:
            etype, event_id = event._EventGridEvent__event_type, event._EventGridEvent__id
            data, when = event._EventGridEvent__data, event._EventGridEvent__event_time
        elif _sdk_event is None and _learn_layout(event):
            return lane(event)
        elif hasattr(event, "specversion"):
            return general(event)
        else:
            etype, event_id, data, when = event.event_type, event.id, event.get_json(), event.event_time
        if etype.__class__ is not str or etype in _NOT_MESSAGES or event_id.__class__ is not str or not event_id \
                or data is None or (data.__class__ is dict and MARKER in data) \
                or when is not None and (when.__class__ is not datetime and not isinstance(when, datetime)
                                         or when.tzinfo is None):
            return general(event)  # text as the worker gives it (a str subclass, never seen, goes there too)
        try:
            if data.__class__ is dict:  # _checked_copy's walk of an object, here without its frame
                copied = data.copy()
                for key in copied:  # keys and a subscript each: about 30 ns less than items()' pairs on 2 keys
                    if not key.isascii():
                        key.encode()
                    item = copied[key]
                    kind = item.__class__
                    if kind is str:
                        if not item.isascii():
                            item.encode()
                    elif kind is dict or kind is list:
                        copied[key] = _checked_copy(item)  # a nested value walked there (same dict size)
            else:
                copied = _checked_copy(data)
        except (UnicodeEncodeError, AttributeError, RecursionError):
            # text that cannot be the message's bytes (refused there as malformed, without running the function), a
            # key that is not text, or nesting deeper than can be walked: the general path says what it makes of it
            return general(event)
        msg: Any = _ParsedMessage()  # Message.deferred's fields, set here: no frame per field group
        msg.id = event_id
        msg._value = data
        msg._copy = copied
        msg.native = event
        msg._attributes = msg._ordering_key = msg._delivery_attempt = msg._source = _UNREAD
        msg._published = when
        msg._body = None
        msg._has_body = False
        msg._rest = _rest_of_event
        failure = run(msg, None, event)
        if failure is None:  # a success
            local.last = event_id
            return None
        return finish(failure)

    return lane


def _as_is(value: Any, *ignored: Any) -> Any:
    return value


def _nothing(event: Any) -> None:
    return None


message_from_func: Callable[[Any], Message[Any] | None] = event_lane(_as_is, None, _as_is, _nothing)
message_from_func.__doc__ = """A ``func.EventGridEvent`` (Event Grid schema) → the Message :func:`event_lane` runs,
None for what it leaves to the general path: the lane with a runner that hands the message back."""


def _learn_layout(event: Any) -> bool:
    """Whether ``event`` is the worker's ``func.EventGridEvent``, keeping its fields where its accessors read them
    (then remembered: later events of that class are read there). Anything else is read through its accessors."""
    global _sdk_event
    cls = event.__class__
    if cls.__name__ != "EventGridEvent" or not cls.__module__.startswith("azure.functions") \
            or hasattr(event, "specversion"):
        return False
    fields = getattr(event, "__dict__", None)
    if fields is None or any(name not in fields for name in _LAYOUT):
        return False
    if fields[_LAYOUT[0]] is not event.event_type or fields[_LAYOUT[1]] is not event.id \
            or fields[_LAYOUT[2]] is not event.get_json() or fields[_LAYOUT[3]] is not event.event_time:
        return False
    _sdk_event = cls
    return True


def _rest_of_event(event: Any) -> tuple[Any, ...]:
    """The other fields of a message :func:`event_lane` made, read from the worker's object."""
    etype, topic = event.event_type, event.topic
    if etype == PORTAFUNC_TYPE:
        attributes: dict[str, str] = {}
    else:
        attributes = {"type": etype}
        subject = event.subject
        if isinstance(subject, str) and subject:
            attributes["subject"] = subject
    return attributes, None, 1, event.event_time, topic if isinstance(topic, str) else None


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
