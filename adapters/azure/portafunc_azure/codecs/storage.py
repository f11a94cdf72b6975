"""Blob Storage events (``Microsoft.Storage.Blob*``, delivered by Event Grid in either schema) ⇄ StorageEvent.

The Event Grid envelope itself (ids, times, the two schemas) is read in :mod:`.topic`, which hands blob event types
here; the container and blob name come from the subject (``/blobServices/default/containers/C/blobs/NAME``;
CloudEvents drop the leading ``/``), else from ``data.url``.

``BlobTierChanged`` is named by the tier the blob moved to (``data.accessTier``, with ``previousTier`` beside it):
to Archive it is ``archived`` (offline until rehydrated); from Archive to an online tier (Hot, Cool, Cold) it is
``restored`` (readable again: the rehydration completed); between online tiers, or without a tier named (events from
before the field existed), it is ``other``, since nothing a storage function registers for happened.
"""

from __future__ import annotations

from datetime import datetime, timezone
from collections.abc import Mapping  # isinstance against it is several times cheaper than typing's alias
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from portafunc.errors import EventDecodeError
from portafunc.events import StorageEvent, format_time

TIER_CHANGED = "Microsoft.Storage.BlobTierChanged"
BLOB_TYPES = {
    "Microsoft.Storage.BlobCreated": "created",
    "Microsoft.Storage.BlobDeleted": "deleted",
    TIER_CHANGED: "archived",  # when the new tier is Archive: see tier_kind()
}
#: The Blob event a registered kind subscribes to (the runtime then keeps only the kinds the function asked for).
KIND_TO_TYPE = {"created": "Microsoft.Storage.BlobCreated", "deleted": "Microsoft.Storage.BlobDeleted",
                "archived": TIER_CHANGED}
#: What encode writes per kind: (event type, api, new tier, previous tier).
_ENCODED = {"created": ("Microsoft.Storage.BlobCreated", "PutBlob", None, None),
            "deleted": ("Microsoft.Storage.BlobDeleted", "DeleteBlob", None, None),
            "archived": (TIER_CHANGED, "SetBlobTier", "Archive", "Hot"),
            "restored": (TIER_CHANGED, "SetBlobTier", "Hot", "Archive")}
DEFAULT_ACCOUNT = "portafuncstorage"
DEFAULT_ARM = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/portafunc/providers"


def decode_blob(native: Mapping[str, Any], etype: str, event_id: str, when: datetime | None,
                subject: Any) -> StorageEvent:
    """A Blob Storage event (either schema) → StorageEvent; the blob is named by the subject, else ``data.url``."""
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
    kind = tier_kind(data) if etype == TIER_CHANGED else BLOB_TYPES[etype]
    return StorageEvent(bucket=container, key=name, kind=kind,
                        size=size if isinstance(size, int) and not isinstance(size, bool) and size >= 0 else None,
                        etag=etag if isinstance(etag, str) else None, time=when, id=event_id, native=native)


def tier_kind(data: Mapping[str, Any]) -> str:
    """The neutral kind of a tier change, by the tier the blob moved to."""
    tier, previous = data.get("accessTier"), data.get("previousTier")
    tier = tier.lower() if isinstance(tier, str) else ""
    if tier == "archive":
        return "archived"
    if tier and isinstance(previous, str) and previous.lower() == "archive":
        return "restored"
    return "other"


def encode_storage(evt: StorageEvent, schema: str = "eventgrid", account: str = DEFAULT_ACCOUNT) -> dict[str, Any]:
    """A neutral storage event → the Blob Storage system event Event Grid delivers."""
    encoded = _ENCODED.get(evt.kind)
    if encoded is None:
        raise EventDecodeError(f"storage event kind {evt.kind!r} has no Azure Blob Storage event",
                               expected=", ".join(_ENCODED))
    etype, api, tier, previous = encoded
    import uuid  # here, not at the top: uuid loads platform (~3 ms), and only encoding needs it

    event_id = evt.id or str(uuid.uuid4())
    when = evt.time or datetime.now(timezone.utc)
    data: dict[str, Any] = {"api": api, "clientRequestId": str(uuid.uuid4()),
                            "requestId": str(uuid.uuid4()), "contentType": "application/octet-stream"}
    if evt.etag is not None:
        data["eTag"] = evt.etag
    if evt.size is not None:
        data["contentLength"] = evt.size
    data.update({"blobType": "BlockBlob",
                 "url": f"https://{account}.blob.core.windows.net/{evt.bucket}/{quote(evt.key, safe='/')}",
                 "sequencer": "0000000000000000000000000000000000000000000000000",
                 "storageDiagnostics": {"batchId": str(uuid.uuid4())}})
    if tier is not None:
        data["accessTier"], data["previousTier"] = tier, previous
    topic = f"{DEFAULT_ARM}/Microsoft.Storage/storageAccounts/{account}"
    subject = f"/blobServices/default/containers/{evt.bucket}/blobs/{evt.key}"
    if schema == "cloudevents":
        return {"specversion": "1.0", "type": etype, "source": topic, "id": event_id, "time": format_time(when),
                "subject": subject.lstrip("/"), "dataschema": "#", "data": data}
    return {"topic": topic, "subject": subject, "eventType": etype, "eventTime": format_time(when), "id": event_id,
            "data": data, "dataVersion": "", "metadataVersion": "1"}
