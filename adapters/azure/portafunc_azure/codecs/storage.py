"""Blob Storage events (``Microsoft.Storage.Blob*``, delivered by Event Grid in either schema) ⇄ StorageEvent.

The Event Grid envelope itself (ids, times, the two schemas) is read in :mod:`.topic`, which hands blob event types
here; the container and blob name come from the subject (``/blobServices/default/containers/C/blobs/NAME``;
CloudEvents drop the leading ``/``), else from ``data.url``.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Any, Mapping
from urllib.parse import quote, unquote, urlsplit

from portafunc.errors import EventDecodeError
from portafunc.events import StorageEvent, format_time

BLOB_TYPES = {
    "Microsoft.Storage.BlobCreated": "created",
    "Microsoft.Storage.BlobDeleted": "deleted",
    "Microsoft.Storage.BlobTierChanged": "archived",
}
KIND_TO_TYPE = {v: k for k, v in BLOB_TYPES.items()}
KIND_TO_API = {"created": "PutBlob", "deleted": "DeleteBlob", "archived": "SetBlobTier"}
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
    return StorageEvent(bucket=container, key=name, kind=BLOB_TYPES[etype],
                        size=size if isinstance(size, int) and not isinstance(size, bool) and size >= 0 else None,
                        etag=etag if isinstance(etag, str) else None, time=when, id=event_id, native=native)


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
