"""Cloud Storage object events ↔ neutral :class:`~portafunc.events.StorageEvent`.

Eventarc delivers ``google.cloud.storage.object.v1.{finalized,deleted,archived,metadataUpdated}`` CloudEvents whose
data is the object resource (StorageObjectData JSON: ``size`` and ``generation`` are strings, ``name`` is the plain
object name — never URL-encoded, unlike S3 keys).
"""

from __future__ import annotations

from collections.abc import Mapping  # isinstance against it is several times cheaper than typing's alias
from typing import Any
from urllib.parse import quote

from portafunc.errors import EventDecodeError
from portafunc.events import StorageEvent, format_time, parse_time

from .fields import need_map, opt_str

STORAGE_SERVICE = "storage.googleapis.com"
CE_PREFIX = "google.cloud.storage.object.v1."
CE_TO_KIND = {
    "google.cloud.storage.object.v1.finalized": "created",
    "google.cloud.storage.object.v1.deleted": "deleted",
    "google.cloud.storage.object.v1.archived": "archived",
    "google.cloud.storage.object.v1.metadataUpdated": "metadata_updated",
}
KIND_TO_CE = {v: k for k, v in CE_TO_KIND.items()}
OBJECT_EXPECTED = 'StorageObjectData {"bucket": ..., "name": ..., "size": "N", "etag": ...}'


def is_object_data(native: Any) -> bool:
    """A bare StorageObjectData body (binary-mode CloudEvent, whose type travels in the ce-type header)."""
    return isinstance(native, Mapping) and "bucket" in native and "name" in native \
        and (native.get("kind") == "storage#object" or "generation" in native or "metageneration" in native)


def decode_object(data: Any, kind: str = "created", *, event_id: str | None = None, time: Any = None,
                  native: Any = None) -> StorageEvent:
    obj = need_map(data, "storage event data", OBJECT_EXPECTED)
    bucket = opt_str(obj, "bucket", what="data")
    name = opt_str(obj, "name", what="data")
    if not bucket or name is None:
        raise EventDecodeError("storage object data lacks bucket or name", expected=OBJECT_EXPECTED)
    size_text = opt_str(obj, "size", what="data")
    try:
        size = None if size_text is None else int(size_text)
    except ValueError as exc:
        raise EventDecodeError(f"storage object size {size_text!r} is not a number",
                               expected="size as a decimal string") from exc
    return StorageEvent(bucket=bucket, key=name, kind=kind, size=size, etag=opt_str(obj, "etag", what="data"),
                        time=parse_time(time or obj.get("updated") or obj.get("timeCreated")),
                        id=event_id, native=native)


def kind_of(ce_type: str) -> str:
    kind = CE_TO_KIND.get(ce_type)
    if kind is None:
        raise EventDecodeError(f"unknown Cloud Storage event type {ce_type!r}",
                               expected=", ".join(CE_TO_KIND))
    return kind


def object_data(event: StorageEvent, generation: str = "1700000000000000") -> dict[str, Any]:
    """The StorageObjectData JSON Cloud Storage writes for an object."""
    when = format_time(event.time) or "2026-01-01T00:00:00.000Z"
    quoted = quote(event.key, safe="")
    data: dict[str, Any] = {
        "kind": "storage#object",
        "id": f"{event.bucket}/{event.key}/{generation}",
        "selfLink": f"https://www.googleapis.com/storage/v1/b/{event.bucket}/o/{quoted}",
        "name": event.key,
        "bucket": event.bucket,
        "generation": generation,
        "metageneration": "1",
        "contentType": "application/octet-stream",
        "timeCreated": when,
        "updated": when,
        "storageClass": "STANDARD",
        "timeStorageClassUpdated": when,
        "mediaLink": f"https://storage.googleapis.com/download/storage/v1/b/{event.bucket}/o/{quoted}"
                     f"?generation={generation}&alt=media",
    }
    if event.size is not None:
        data["size"] = str(event.size)
    if event.etag is not None:
        data["etag"] = event.etag
    return data


def encode_cloudevent(event: StorageEvent) -> dict[str, Any]:
    """Neutral → structured Cloud Storage CloudEvent."""
    if event.kind not in KIND_TO_CE:
        raise EventDecodeError(f"storage event kind {event.kind!r} has no Cloud Storage equivalent",
                               expected=", ".join(KIND_TO_CE))
    ce: dict[str, Any] = {
        "specversion": "1.0",
        "id": event.id or "7631145714375969",
        "source": f"//{STORAGE_SERVICE}/projects/_/buckets/{event.bucket}",
        "subject": f"objects/{event.key}",
        "type": KIND_TO_CE[event.kind],
        "datacontenttype": "application/json",
        "time": format_time(event.time) or "2026-01-01T00:00:00.000Z",
        "data": object_data(event),
    }
    return ce
