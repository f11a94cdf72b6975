"""Legacy (Gen1 "background") events → CloudEvents, converted exactly the way functions-framework converts them
(``functions_framework/event_conversion.py``: ``background_event_to_cloud_event``), so a function sees the same event
whether it was deployed on Gen1 or Gen2. Re-implemented here on plain dicts because the framework's version needs a
Flask request; tests/gcp check both agree.
"""

from __future__ import annotations

import re
from collections.abc import Mapping  # isinstance against it is several times cheaper than typing's alias
from typing import Any

from portafunc.errors import EventDecodeError
from portafunc.events import Message, StorageEvent, format_time

from .fields import need_map
from .pubsub import PUBSUB_SERVICE, DEFAULT_PROJECT, message_json
from .storage import KIND_TO_CE, STORAGE_SERVICE, object_data

BACKGROUND_TO_CE = {
    "google.pubsub.topic.publish": "google.cloud.pubsub.topic.v1.messagePublished",
    "providers/cloud.pubsub/eventTypes/topic.publish": "google.cloud.pubsub.topic.v1.messagePublished",
    "google.storage.object.finalize": "google.cloud.storage.object.v1.finalized",
    "google.storage.object.delete": "google.cloud.storage.object.v1.deleted",
    "google.storage.object.archive": "google.cloud.storage.object.v1.archived",
    "google.storage.object.metadataUpdate": "google.cloud.storage.object.v1.metadataUpdated",
    "providers/cloud.storage/eventTypes/object.change": "google.cloud.storage.object.v1.finalized",
}
CE_TO_BACKGROUND = {v: k for k, v in BACKGROUND_TO_CE.items() if not k.startswith("providers/")}
_SERVICES = {"providers/cloud.pubsub/": PUBSUB_SERVICE, "providers/cloud.storage/": STORAGE_SERVICE,
             "google.pubsub": PUBSUB_SERVICE, "google.storage": STORAGE_SERVICE}
_STORAGE_RESOURCE = re.compile(r"^(projects/[^/]/buckets/[^/]+)/(objects/.+)$")  # as functions-framework has it
_PUBSUB_TYPE = "type.googleapis.com/google.pubsub.v1.PubsubMessage"
LEGACY_EXPECTED = ('{"data": ..., "context": {"eventId", "timestamp", "eventType": "google.pubsub.topic.publish" | '
                   '"google.storage.object.finalize|delete|archive|metadataUpdate", "resource"}}')


def is_legacy(native: Any) -> bool:
    return isinstance(native, Mapping) and (isinstance(native.get("context"), Mapping)
                                            or ("eventType" in native and "data" in native))


def to_cloudevent(native: Any) -> dict[str, Any]:
    """A background event (v1 ``{data, context}`` or the flat v1beta2 form) → the CloudEvent dict."""
    event = need_map(native, "background event", LEGACY_EXPECTED)
    context = event.get("context") or {k: event.get(k, "") for k in ("eventId", "timestamp", "eventType", "resource")}
    context = need_map(context, "context", LEGACY_EXPECTED)
    data = event.get("data", "")
    event_type = context.get("eventType")
    if not isinstance(event_type, str) or event_type not in BACKGROUND_TO_CE:
        raise EventDecodeError(f"legacy event type {event_type!r} has no portafunc equivalent",
                               expected=", ".join(BACKGROUND_TO_CE))
    resource = context.get("resource")
    service = ""
    if isinstance(resource, Mapping):
        service = str(resource.get("service") or "")
        name = resource.get("name")
    else:
        name = resource
    if not isinstance(name, str):
        raise EventDecodeError("legacy event context.resource has no name", expected=LEGACY_EXPECTED)
    if not service:
        service = next((s for prefix, s in _SERVICES.items() if str(event_type).startswith(prefix)), "")
    subject = ""
    if service == STORAGE_SERVICE:
        match = _STORAGE_RESOURCE.fullmatch(name)
        if not match:
            raise EventDecodeError(f"storage resource {name!r} does not match projects/_/buckets/B/objects/NAME",
                                   expected=LEGACY_EXPECTED)
        name, subject = match.group(1), match.group(2)
    data = dict(need_map(data, "data", LEGACY_EXPECTED))
    if service == PUBSUB_SERVICE:
        data.setdefault("messageId", context.get("eventId"))
        data.setdefault("publishTime", context.get("timestamp"))
        data = {"message": data}
    ce: dict[str, Any] = {"id": context.get("eventId"), "time": context.get("timestamp"), "specversion": "1.0",
                          "datacontenttype": "application/json", "type": BACKGROUND_TO_CE[event_type],
                          "source": f"//{service}/{name}", "data": data}
    if subject:
        ce["subject"] = subject
    return ce


def encode_message(msg: Message[Any], *, project: str = DEFAULT_PROJECT, topic: str = "portafunc-topic"
                   ) -> dict[str, Any]:
    """Neutral → ``google.pubsub.topic.publish`` background event (carries no ordering key or delivery attempt)."""
    body = message_json(msg)
    data: dict[str, Any] = {"@type": _PUBSUB_TYPE, "data": body["data"]}
    if msg.attributes:
        data["attributes"] = dict(msg.attributes)
    return {"data": data, "context": {
        "eventId": msg.id, "timestamp": format_time(msg.published_at) or "2026-01-01T00:00:00.000Z",
        "eventType": "google.pubsub.topic.publish",
        "resource": {"service": PUBSUB_SERVICE, "name": f"projects/{project}/topics/{topic}", "type": _PUBSUB_TYPE}}}


def encode_storage(event: StorageEvent) -> dict[str, Any]:
    """Neutral → ``google.storage.object.*`` background event."""
    ce_type = KIND_TO_CE[event.kind]
    return {"data": object_data(event), "context": {
        "eventId": event.id or "7631145714375969", "timestamp": format_time(event.time) or "2026-01-01T00:00:00.000Z",
        "eventType": CE_TO_BACKGROUND[ce_type],
        "resource": {"service": STORAGE_SERVICE, "name": f"projects/_/buckets/{event.bucket}/objects/{event.key}",
                     "type": "storage#object"}}}
