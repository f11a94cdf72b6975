"""Messages (queue and topic functions) as pushed to the service, and as the pull worker receives them.

Push formats decoded (one message per request):

* a CloudEvent of portafunc's own type ``io.portafunc.message`` (binary or structured): data
  ``{"data_base64", "attributes"}``, so attributes of any name travel; ``partitionkey`` (the CloudEvents
  partitioning extension) is the ordering key. What a Knative broker or an Event Grid topic delivers.
* the Pub/Sub push envelope (``{"message": {...}, "subscription": ..., "deliveryAttempt": N}``, plain JSON): a push
  subscription to the service on Cloud Run, with exact attempts and a dead-letter topic.
* the Eventarc ``google.cloud.pubsub.topic.v1.messagePublished`` CloudEvent, whose data is that envelope.
* any other CloudEvent: its data is the message, its extension attributes the message attributes, unless its type
  is another trigger family's (a storage event, a schedule tick): that is refused, never run nor dead-lettered.
"""

from __future__ import annotations

import json
from typing import Any, Mapping

from portafunc.errors import EventDecodeError
from portafunc.events import Message, format_time, parse_time

from . import cloudevents, schedule, storage
from .fields import b64decode, b64encode, body_of, headers_of, need_map, put_body

MESSAGE_TYPE = "io.portafunc.message"
PUBSUB_TYPE = "google.cloud.pubsub.topic.v1.messagePublished"
EXPECTED = ("a CloudEvent (io.portafunc.message, a Pub/Sub messagePublished event or a type of no other trigger "
            "family), or a Pub/Sub push envelope {\"message\": {\"data\", \"messageId\", \"attributes\"}, "
            "\"subscription\"}")
SUBSCRIPTION = "projects/portafunc-local/subscriptions/portafunc-push"
_STORAGE_PREFIXES = ("google.cloud.storage.", "Microsoft.Storage.Blob")  # any event of those sources, known kind or not


def is_push_envelope(doc: Any) -> bool:
    return isinstance(doc, Mapping) and isinstance(doc.get("message"), Mapping) and "subscription" in doc


def decode(request: Mapping[str, Any]) -> list[Message[Any]]:
    """The message(s) one push request carries (a CloudEvents batch may carry several)."""
    if cloudevents.mode(headers_of(request.get("headers"))) is not None:
        return [from_cloudevent(ce, request) for ce in cloudevents.decode(request)]
    body = body_of(request, "push request")
    try:
        doc = json.loads(body) if body else None
    except ValueError:
        doc = None
    if isinstance(doc, Mapping) and is_push_envelope(doc):
        return [from_envelope(doc, request)]
    raise EventDecodeError("the request carries no message", expected=EXPECTED)


def other_family(ce_type: str) -> str | None:
    """The trigger family a CloudEvent type recognisably belongs to when that is not a message, else None."""
    if storage.is_storage_type(ce_type) or ce_type.startswith(_STORAGE_PREFIXES):
        return "storage event"
    if ce_type in schedule.TYPES:
        return "schedule tick"
    return None


def from_cloudevent(ce: cloudevents.CloudEvent, native: Any = None) -> Message[Any]:
    attrs = ce.attributes
    family = other_family(ce.type)
    if family is not None:
        raise EventDecodeError(f"CloudEvent type {ce.type!r} is a {family}, not a message", expected=EXPECTED)
    if ce.type == PUBSUB_TYPE:
        msg = from_envelope(need_map(ce.json(), "messagePublished data", EXPECTED), native)
        msg.source = attrs.get("source") or msg.source
        return msg
    if ce.type == MESSAGE_TYPE:
        data = need_map(ce.json(), f"{MESSAGE_TYPE} data", '{"data_base64": "...", "attributes": {}}')
        attributes = data.get("attributes") or {}
        if not isinstance(attributes, Mapping) or not all(isinstance(v, str) for v in attributes.values()):
            raise EventDecodeError("message attributes must map names to strings", expected=EXPECTED)
        payload = b64decode(data.get("data_base64", ""), "message data_base64")
        attributes = dict(attributes)
    else:
        payload, attributes = ce.data, {k: v for k, v in ce.extensions().items() if k != "partitionkey"}
    return Message(id=attrs["id"], data=payload, attributes=attributes, ordering_key=attrs.get("partitionkey"),
                   published_at=parse_time(attrs.get("time")), source=attrs.get("source"), native=native)


def from_envelope(doc: Mapping[str, Any], native: Any = None) -> Message[Any]:
    msg = need_map(doc.get("message"), "push envelope message", EXPECTED)
    message_id = msg.get("messageId") or msg.get("message_id")
    if not isinstance(message_id, str) or not message_id:
        raise EventDecodeError("push envelope message lacks messageId", expected=EXPECTED)
    attributes = msg.get("attributes") or {}
    if not isinstance(attributes, Mapping) or not all(isinstance(v, str) for v in attributes.values()):
        raise EventDecodeError("message attributes must map names to strings", expected=EXPECTED)
    attempt = doc.get("deliveryAttempt", 1)
    if not isinstance(attempt, int) or isinstance(attempt, bool) or attempt < 1:
        raise EventDecodeError("deliveryAttempt must be a positive integer", expected=EXPECTED)
    ordering = msg.get("orderingKey") or None
    subscription = doc.get("subscription")
    return Message(id=message_id, data=b64decode(msg.get("data", ""), "message data"), attributes=dict(attributes),
                   ordering_key=ordering if isinstance(ordering, str) else None, delivery_attempt=attempt,
                   published_at=parse_time(msg.get("publishTime") or msg.get("publish_time")),
                   source=subscription if isinstance(subscription, str) else None, native=native)


def to_cloudevent(msg: Message[Any]) -> cloudevents.CloudEvent:
    attributes = {"specversion": "1.0", "id": msg.id, "source": msg.source or "//portafunc/messages",
                  "type": MESSAGE_TYPE, "datacontenttype": "application/json"}
    published = format_time(msg.published_at)
    if published:
        attributes["time"] = published
    if msg.ordering_key:
        attributes["partitionkey"] = msg.ordering_key
    data = {"data_base64": b64encode(msg.data), "attributes": dict(msg.attributes)}
    return cloudevents.CloudEvent(attributes, json.dumps(data, separators=(",", ":")).encode("utf-8"))


def envelope(msg: Message[Any]) -> dict[str, Any]:
    """The Pub/Sub push envelope for ``msg`` (``deliveryAttempt`` is present when a dead-letter policy is set)."""
    body: dict[str, Any] = {"data": b64encode(msg.data), "messageId": msg.id, "message_id": msg.id,
                            "publishTime": format_time(msg.published_at) or "2026-01-01T00:00:00.000Z"}
    if msg.attributes:
        body["attributes"] = dict(msg.attributes)
    if msg.ordering_key:
        body["orderingKey"] = msg.ordering_key
    return {"message": body, "subscription": msg.source or SUBSCRIPTION, "deliveryAttempt": msg.delivery_attempt}


def encode(msg: Message[Any], variant: str | None, path: str = "/") -> dict[str, Any]:
    if variant in (None, "", "cloudevent"):
        return cloudevents.binary(to_cloudevent(msg), path)
    if variant == "cloudevent-structured":
        return cloudevents.structured(to_cloudevent(msg), path)
    if variant == "pubsub-push":
        body = json.dumps(envelope(msg), separators=(",", ":")).encode("utf-8")
        return put_body(body, {"method": "POST", "path": path, "query_string": "",
                               "headers": [["Content-Type", "application/json"],
                                           ["User-Agent", "APIs-Google; (+https://developers.google.com/webmasters/APIs-Google.html)"]]})
    raise EventDecodeError(f"unknown message variant {variant!r}", expected=", ".join(VARIANTS))


VARIANTS = ("cloudevent", "cloudevent-structured", "pubsub-push")
