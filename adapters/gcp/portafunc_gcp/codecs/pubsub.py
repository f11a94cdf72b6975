"""Pub/Sub messages ↔ neutral :class:`~portafunc.events.Message`.

Three native carriers hold the same PubsubMessage JSON:

* the push envelope ``{"message": {...}, "subscription": "...", "deliveryAttempt": n}`` a push subscription POSTs
  (the real service sends ``messageId``/``publishTime`` *and* their snake_case twins ``message_id``/``publish_time``;
  the emulator sends neither ``publishTime`` nor the twins);
* the ``google.cloud.pubsub.topic.v1.messagePublished`` CloudEvent (Eventarc), whose ``data`` is that envelope;
* the legacy background event ``google.pubsub.topic.publish`` (handled in :mod:`.legacy`).
"""

from __future__ import annotations

import binascii
import sys
from datetime import datetime
from collections.abc import Mapping  # isinstance against it is several times cheaper than typing's alias
from typing import Any

from portafunc.errors import EventDecodeError
from portafunc.events import Message, format_time, parse_time

from .fields import b64decode, b64encode, need_map, opt_str, str_map

PUBLISHED = "google.cloud.pubsub.topic.v1.messagePublished"
PUBSUB_SERVICE = "pubsub.googleapis.com"
DEFAULT_PROJECT = "portafunc-local"
ENVELOPE_EXPECTED = '{"message": {"data": base64, "messageId": ..., "attributes": {...}}, "subscription": ...}'


def is_push_envelope(native: Any) -> bool:
    if native is None:  # the usual answer in the entry (a CloudEvent request: no body read back), without ABC checks
        return False
    return isinstance(native, Mapping) and isinstance(native.get("message"), Mapping) \
        and "context" not in native and "specversion" not in native


def decode_message(msg: Any, *, fallback_id: str | None = None, fallback_time: Any = None,
                   delivery_attempt: Any = None, source: str | None = None, native: Any = None) -> Message[Any]:
    """One PubsubMessage JSON object → Message (ids and times fall back to the carrier's, as Eventarc fills them)."""
    msg = need_map(msg, "message", ENVELOPE_EXPECTED)
    # A field of the type Pub/Sub sends is taken as it is; anything else goes through opt_str, which reads the
    # snake_case twin, converts a number or refuses the value
    message_id = msg.get("messageId")
    if message_id.__class__ is not str or not message_id:
        message_id = opt_str(msg, "messageId", "message_id", what="message") or fallback_id
        if not message_id:
            raise EventDecodeError("Pub/Sub message has no messageId", expected=ENVELOPE_EXPECTED)
    published = parse_time(msg.get("publishTime") or msg.get("publish_time") or fallback_time)
    attempt = 1
    if delivery_attempt is not None:
        text = str(delivery_attempt) if isinstance(delivery_attempt, (int, str)) else ""
        # ASCII digits only: "²".isdigit() is True but int("²") fails; a bool is an int but no count
        if isinstance(delivery_attempt, bool) or not text or len(text) > 9 or not text.isascii() \
                or not text.isdigit():
            shown = text[:20] if text else type(delivery_attempt).__name__
            raise EventDecodeError(f"deliveryAttempt {shown!r} is not a number",
                                   expected="deliveryAttempt as a positive integer")
        attempt = max(1, int(text))
    return Message(message_id, b64decode(msg.get("data"), "message.data"),
                   str_map(msg.get("attributes"), "message.attributes"),
                   key if (key := msg.get("orderingKey")).__class__ is str and key or key is None
                   and "ordering_key" not in msg else opt_str(msg, "orderingKey", "ordering_key", what="message"),
                   attempt, published, source, native)


def decode_published(data: Any, source: str | None, raw: Any) -> Message[Any] | None:
    """A push envelope (a messagePublished CloudEvent's data) as Pub/Sub writes it, read at once: a text id, base64
    data, a publish time, text attributes, an ordering key of text or none, no delivery attempt. None for anything
    else, which :func:`decode_envelope` reads field by field (and refuses or converts); for what it takes, the
    message equals :func:`decode_envelope`'s."""
    if data.__class__ is not dict or "deliveryAttempt" in data or "delivery_attempt" in data:
        return None
    msg = data.get("message")
    if msg.__class__ is not dict:
        return None
    message_id, text, stamp = msg.get("messageId"), msg.get("data"), msg.get("publishTime")
    attributes, key = msg.get("attributes"), msg.get("orderingKey")
    if message_id.__class__ is not str or not message_id or text.__class__ is not str or stamp.__class__ is not str \
            or not stamp or not (key.__class__ is str and key or key is None and "ordering_key" not in msg):
        return None
    if attributes is None:
        attributes = {}
    elif attributes.__class__ is dict:
        for name, value in attributes.items():
            if name.__class__ is not str or value.__class__ is not str:
                return None
        attributes = dict(attributes)
    else:
        return None
    if not _STRICT_B64:
        return None  # before Python 3.11: no strict base64, and fromisoformat reads no "Z"
    try:
        payload = _a2b_base64(text, strict_mode=True)  # called as is: a partial with a keyword builds a dict per call
        # parse_time's own reading of the stamp Pub/Sub writes (a "T" after the date, a "Z"), without its frame; the
        # stamp is not empty, and one too short for a date is read by the field-by-field decoder (IndexError)
        published = _fromisoformat(stamp) if stamp[10] == "T" and stamp[-1] == "Z" else parse_time(stamp)
    except (ValueError, IndexError, EventDecodeError):  # binascii.Error is a ValueError: as the field-by-field
        return None  # decoder says it
    if source is None:
        subscription = data.get("subscription")
        source = subscription if subscription.__class__ is str else None
    # Message(message_id, payload, attributes, key, 1, published, source, native), its slots set here: a class
    # call with eight arguments costs as much as the rest of this function
    made: Any = _new_message(Message)
    made.id = message_id
    made.data = payload
    made._attributes = attributes
    made._ordering_key = key
    made._delivery_attempt = 1
    made._published = published
    made._source = source
    made.native = raw if raw is not None else data
    made._body = made._rest = None
    made._has_body = False
    message: Message[Any] = made
    return message


_new_message = object.__new__
_fromisoformat = datetime.fromisoformat


# Canonical base64 (alphabet characters, then at most two "=" ending a full quantum), as b64decode reads it:
# binascii.Error for anything else, even what the validating decoder accepts (it then reads that). Python 3.11 on.
_STRICT_B64 = sys.version_info >= (3, 11)
_a2b_base64: Any = binascii.a2b_base64  # its strict_mode keyword is new in 3.11


def decode_envelope(native: Any, *, fallback_id: str | None = None, fallback_time: Any = None,
                    source: str | None = None, raw: Any = None) -> Message[Any]:
    """A push envelope (or a messagePublished CloudEvent's data) → Message."""
    env = need_map(native, "push envelope", ENVELOPE_EXPECTED)
    if "message" not in env:
        raise EventDecodeError("Pub/Sub push envelope has no 'message'", expected=ENVELOPE_EXPECTED)
    subscription = env.get("subscription")
    return decode_message(env["message"], fallback_id=fallback_id, fallback_time=fallback_time,
                          delivery_attempt=env.get("deliveryAttempt", env.get("delivery_attempt")),
                          source=source or (subscription if isinstance(subscription, str) else None),
                          native=raw if raw is not None else native)


def message_json(msg: Message[Any]) -> dict[str, Any]:
    """The PubsubMessage JSON the push service writes (camelCase plus the snake_case twins it also sends)."""
    out: dict[str, Any] = {}
    if msg.attributes:
        out["attributes"] = dict(msg.attributes)
    out["data"] = b64encode(msg.data)
    out["messageId"] = msg.id
    out["message_id"] = msg.id
    if msg.published_at is not None:
        out["publishTime"] = format_time(msg.published_at)
        out["publish_time"] = out["publishTime"]
    if msg.ordering_key:
        out["orderingKey"] = msg.ordering_key
    return out


def encode_envelope(msg: Message[Any], *, project: str = DEFAULT_PROJECT, subscription: str = "portafunc-sub"
                    ) -> dict[str, Any]:
    """Neutral → push envelope, as a push subscription POSTs it (``deliveryAttempt`` only after the first)."""
    env: dict[str, Any] = {"message": message_json(msg),
                           "subscription": f"projects/{project}/subscriptions/{subscription}"}
    if msg.delivery_attempt and msg.delivery_attempt > 1:
        env["deliveryAttempt"] = msg.delivery_attempt
    return env


def encode_cloudevent(msg: Message[Any], *, project: str = DEFAULT_PROJECT, topic: str = "portafunc-topic",
                      subscription: str = "portafunc-sub") -> dict[str, Any]:
    """Neutral → structured ``messagePublished`` CloudEvent, as Eventarc delivers it to a Gen2 function."""
    ce: dict[str, Any] = {
        "specversion": "1.0",
        "id": msg.id,
        "source": f"//{PUBSUB_SERVICE}/projects/{project}/topics/{topic}",
        "type": PUBLISHED,
        "datacontenttype": "application/json",
        "data": encode_envelope(msg, project=project, subscription=subscription),
    }
    if msg.published_at is not None:
        ce["time"] = format_time(msg.published_at)
    return ce


def topic_of(source: str | None) -> str | None:
    """``//pubsub.googleapis.com/projects/P/topics/T`` → ``projects/P/topics/T``."""
    if source and source.startswith(f"//{PUBSUB_SERVICE}/"):
        return source[len(PUBSUB_SERVICE) + 3:]
    return None


def published_or(msg: Message[Any], default: datetime) -> datetime:
    return msg.published_at or default
