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
"""

from __future__ import annotations

import base64
import uuid
from datetime import datetime, timezone
from typing import Any, Mapping
from urllib.parse import quote, unquote, urlsplit

from portafunc.errors import EventDecodeError
from portafunc.events import Message, StorageEvent, format_time

from . import envelope

PORTAFUNC_TYPE = "io.portafunc.message"
VALIDATION_TYPE = "Microsoft.EventGrid.SubscriptionValidationEvent"
EVENTGRID_EXPECTED = ("an Event Grid event {id, eventType, subject, eventTime, data, dataVersion} or a CloudEvent "
                      "{specversion, id, source, type, data | data_base64}, or an array of them")
BLOB_TYPES = {
    "Microsoft.Storage.BlobCreated": "created",
    "Microsoft.Storage.BlobDeleted": "deleted",
    "Microsoft.Storage.BlobTierChanged": "archived",
}
KIND_TO_TYPE = {v: k for k, v in BLOB_TYPES.items()}
KIND_TO_API = {"created": "PutBlob", "deleted": "DeleteBlob", "archived": "SetBlobTier"}
DEFAULT_ACCOUNT = "portafuncstorage"
DEFAULT_ARM = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/portafunc/providers"


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
                               "Functions host (or portafunc_azure.webhook for plain HTTP) answers it",
                               expected=EVENTGRID_EXPECTED)
    event_id = native.get("id")
    if not isinstance(event_id, str) or not event_id:
        raise EventDecodeError("Event Grid event has no id", expected=EVENTGRID_EXPECTED)
    when = envelope.parse_time_safe(native.get("time") if cloud else native.get("eventTime"))
    source = native.get("source") if cloud else native.get("topic")
    subject = native.get("subject")
    if etype in BLOB_TYPES and not as_message:
        return _blob_event(native, etype, event_id, when, subject)
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
    else:
        payload, attributes, key = envelope.from_json_value(native.get("data"))
    if etype != PORTAFUNC_TYPE and not envelope.is_envelope(native.get("data")):
        attributes = {"type": etype}
        if isinstance(subject, str) and subject:
            attributes["subject"] = subject
    return Message(id=event_id, data=payload, attributes=attributes, ordering_key=key,
                   delivery_attempt=max(1, int(delivery_attempt)), published_at=when,
                   source=source if isinstance(source, str) else None, native=native)


def decode_payload(native: Any, *, delivery_attempt: int = 1) -> list[Message[Any] | StorageEvent]:
    """A delivery body: one event or an array of events (either schema)."""
    if isinstance(native, list):
        if not native:
            raise EventDecodeError("Event Grid delivery is an empty array", expected=EVENTGRID_EXPECTED)
        return [decode_event(e, delivery_attempt=delivery_attempt) for e in native]
    return [decode_event(native, delivery_attempt=delivery_attempt)]


def _blob_event(native: Mapping[str, Any], etype: str, event_id: str, when: datetime | None,
                subject: Any) -> StorageEvent:
    data = native.get("data") or {}
    if not isinstance(data, Mapping):
        raise EventDecodeError(f"{etype} data is not an object", expected="data {url, contentLength, eTag, ...}")
    container = name = None
    if isinstance(subject, str) and "/containers/" in "/" + subject.lstrip("/"):
        rest = ("/" + subject.lstrip("/")).split("/containers/", 1)[1]
        container, sep, name = rest.partition("/blobs/")
        if not sep:
            container = name = None
    if not container or not name:
        url = data.get("url")
        if isinstance(url, str):
            path = urlsplit(url).path.lstrip("/")
            container, _, encoded = path.partition("/")
            name = unquote(encoded)
    if not container or not name:
        raise EventDecodeError(f"{etype} event names no blob",
                               expected="subject /blobServices/default/containers/C/blobs/NAME or data.url")
    size = data.get("contentLength")
    if isinstance(size, float):
        size = int(size) if size.is_integer() else None
    etag = data.get("eTag")
    return StorageEvent(bucket=container, key=name, kind=BLOB_TYPES[etype],
                        size=size if isinstance(size, int) and not isinstance(size, bool) and size >= 0 else None,
                        etag=etag if isinstance(etag, str) else None, time=when, id=event_id, native=native)


# -- encoding ----------------------------------------------------------------------------------------------------

def encode_message(msg: Message[Any], schema: str = "eventgrid", topic: str | None = None) -> dict[str, Any]:
    """A neutral message → the event portafunc publishes (and Event Grid delivers) in ``schema``."""
    data = envelope.json_value(msg.data, msg.attributes, msg.ordering_key)
    source = msg.source or topic or f"{DEFAULT_ARM}/Microsoft.EventGrid/topics/portafunc"
    if schema == "cloudevents":
        out: dict[str, Any] = {"specversion": "1.0", "id": msg.id, "source": source, "type": PORTAFUNC_TYPE,
                               "subject": "portafunc/message", "datacontenttype": "application/json", "data": data}
        if msg.published_at is not None:
            out["time"] = format_time(msg.published_at)
        return out
    out = {"id": msg.id, "topic": source, "subject": "portafunc/message", "eventType": PORTAFUNC_TYPE}
    if msg.published_at is not None:
        out["eventTime"] = format_time(msg.published_at)
    out.update({"data": data, "dataVersion": "1.0", "metadataVersion": "1"})
    return out


def encode_storage(evt: StorageEvent, schema: str = "eventgrid", account: str = DEFAULT_ACCOUNT) -> dict[str, Any]:
    """A neutral storage event → the Blob Storage system event Event Grid delivers."""
    etype = KIND_TO_TYPE.get(evt.kind)
    if etype is None:
        raise EventDecodeError(f"storage event kind {evt.kind!r} has no Azure Blob Storage event",
                               expected="created, deleted or archived")
    event_id = evt.id or str(uuid.uuid4())
    when = evt.time or datetime.now(timezone.utc)
    data: dict[str, Any] = {"api": KIND_TO_API[evt.kind], "clientRequestId": str(uuid.uuid4()),
                            "requestId": str(uuid.uuid4()), "contentType": "application/octet-stream"}
    if evt.etag is not None:
        data["eTag"] = evt.etag
    if evt.size is not None:
        data["contentLength"] = evt.size
    data.update({"blobType": "BlockBlob",
                 "url": f"https://{account}.blob.core.windows.net/{evt.bucket}/{quote(evt.key, safe='/')}",
                 "sequencer": "0000000000000000000000000000000000000000000000000",
                 "storageDiagnostics": {"batchId": str(uuid.uuid4())}})
    if evt.kind == "archived":
        data["accessTier"] = "Archive"
    topic = f"{DEFAULT_ARM}/Microsoft.Storage/storageAccounts/{account}"
    subject = f"/blobServices/default/containers/{evt.bucket}/blobs/{evt.key}"
    if schema == "cloudevents":
        return {"specversion": "1.0", "type": etype, "source": topic, "id": event_id, "time": format_time(when),
                "subject": subject.lstrip("/"), "dataschema": "#", "data": data}
    return {"topic": topic, "subject": subject, "eventType": etype, "eventTime": format_time(when), "id": event_id,
            "data": data, "dataVersion": "", "metadataVersion": "1"}
