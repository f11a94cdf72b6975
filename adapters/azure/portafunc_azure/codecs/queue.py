"""Storage Queue codec: a queue message as the Functions host delivers it ⇄ neutral :class:`Message`.

The Functions host reads the message text from the queue and, with the default ``messageEncoding: base64``
(extension bundle 3+/4), base64-decodes it before handing the bytes to the worker; ``func.QueueMessage.get_body()``
is therefore the *decoded* payload, and the trigger metadata carries ``Id``, ``DequeueCount``, ``InsertionTime``,
``ExpirationTime``, ``NextVisibleTime`` and ``PopReceipt``. portafunc's queue backend writes base64 for that reason.

The JSON form (``events decode/new``, ``invoke``) holds that metadata and the stored text, still base64::

    {"Id": "...", "DequeueCount": 1, "InsertionTime": "...", "ExpirationTime": "...", "NextVisibleTime": "...",
     "PopReceipt": "...", "MessageText": "<base64, as stored in the queue>"}

``DequeueCount`` is the delivery attempt; attributes and ordering key come from the portafunc envelope, if any.
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime, timedelta
from collections.abc import Mapping  # isinstance against it is several times cheaper than typing's alias
from typing import Any

from portafunc.errors import EventDecodeError
from portafunc.events import Message, format_time

from . import envelope

_MARKER_BYTES = envelope._MARKER_BYTES
QUEUE_EXPECTED = ('a Storage Queue message {"Id", "DequeueCount", "InsertionTime", "PopReceipt", "MessageText" '
                  '(base64)}')


def is_queue_message(native: Any) -> bool:
    return isinstance(native, Mapping) and "MessageText" in native and "Id" in native


def decode_body(body: bytes, *, message_id: str, dequeue_count: Any, insertion_time: Any,
                native: Any = None) -> Message[Any]:
    """A queue message's bytes and metadata → Message; anything malformed → EventDecodeError, never another error
    (the runtime then moves just this message to the poison queue)."""
    if dequeue_count.__class__ is int and 0 < dequeue_count < 2 ** 31 and insertion_time.__class__ is datetime \
            and insertion_time.tzinfo is not None and body.__class__ is bytes and _MARKER_BYTES not in body:
        # What the worker hands over for a message portafunc did not wrap: taken as it is, as the general path
        # below reads it (a count in range, an aware time, the body itself as the payload)
        return Message(message_id, body, {}, None, dequeue_count, insertion_time, None, native)
    return decode_body_fully(body, message_id=message_id, dequeue_count=dequeue_count,
                             insertion_time=insertion_time, native=native)


def decode_body_fully(body: bytes, *, message_id: str, dequeue_count: Any, insertion_time: Any,
                      native: Any = None) -> Message[Any]:
    """:func:`decode_body` field by field, for any metadata and body."""
    payload, attributes, key = envelope.from_body(body)
    return Message(message_id, payload, attributes, key, _dequeue_count(dequeue_count),
                   envelope.parse_time_safe(insertion_time), None, native)


def _dequeue_count(value: Any) -> int:
    """``DequeueCount`` as the delivery attempt: a whole number (1 when absent); ``Infinity``, ``1.5``, ``true``,
    ``"²"`` or a 5,000-digit string are malformed."""
    if value is None:
        return 1
    if isinstance(value, bool):
        count = None
    elif isinstance(value, int):
        count = value
    elif isinstance(value, float):
        count = int(value) if value.is_integer() else None  # NaN and ±inf are not integers
    elif isinstance(value, str) and value.strip().isascii() and value.strip().isdigit() and len(value) < 19:
        count = int(value)
    else:
        count = None
    if count is None:
        raise EventDecodeError(f"DequeueCount {_short(value)} is not a whole number", expected="an integer")
    return max(1, min(count, 2 ** 31 - 1))


def _short(value: Any) -> str:
    text = repr(value) if not isinstance(value, (dict, list)) else type(value).__name__
    return text if len(text) <= 40 else text[:40] + "…"


def decode_message(native: Mapping[str, Any]) -> Message[Any]:
    if not is_queue_message(native):
        raise EventDecodeError("not a Storage Queue message", expected=QUEUE_EXPECTED)
    message_id = native.get("Id")
    text = native.get("MessageText")
    if not isinstance(message_id, str) or not message_id or not isinstance(text, str):
        raise EventDecodeError("Storage Queue message has no Id or MessageText", expected=QUEUE_EXPECTED)
    try:
        body = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise EventDecodeError("Storage Queue MessageText is not base64; the Functions host (messageEncoding "
                               "base64) would move it to the poison queue", expected="base64 message text") from exc
    return decode_body(body, message_id=message_id, dequeue_count=native.get("DequeueCount"),
                       insertion_time=native.get("InsertionTime"), native=native)


def encode_message(msg: Message[Any]) -> dict[str, Any]:
    import uuid  # here, not at the top: uuid loads platform (~3 ms), and only encoding needs it

    body = envelope.body_bytes(msg.data, msg.attributes, msg.ordering_key)
    out: dict[str, Any] = {"Id": msg.id or str(uuid.uuid4()), "DequeueCount": msg.delivery_attempt}
    if msg.published_at is not None:
        out["InsertionTime"] = format_time(msg.published_at)
        out["ExpirationTime"] = format_time(msg.published_at + timedelta(days=7))
        out["NextVisibleTime"] = format_time(msg.published_at + timedelta(minutes=10))
    out["PopReceipt"] = base64.b64encode(uuid.uuid5(uuid.NAMESPACE_URL, out["Id"]).bytes[:8]).decode("ascii")
    out["MessageText"] = base64.b64encode(body).decode("ascii")
    return out
