"""Object-storage events pushed to the service as CloudEvents.

* Cloud Storage through Eventarc (Cloud Run): ``google.cloud.storage.object.v1.{finalized,deleted,archived,
  metadataUpdated}``, data the object resource (``size`` a decimal string, ``name`` the plain key).
* Blob Storage through an Event Grid subscription in the CloudEvents schema (Container Apps):
  ``Microsoft.Storage.BlobCreated`` / ``BlobDeleted`` / ``BlobTierChanged``, subject
  ``/blobServices/default/containers/C/blobs/KEY``, data ``{contentLength, eTag, url, ...}``.
* portafunc's own ``io.portafunc.storage.<kind>`` (any other source, e.g. on Knative): data the neutral JSON form.
"""

from __future__ import annotations

import json
from typing import Any, Mapping
from urllib.parse import quote

from portafunc.errors import EventDecodeError
from portafunc.events import STORAGE_EVENT_KINDS, StorageEvent, format_time, parse_time

from . import cloudevents
from .fields import headers_of, need_map

GCS_TYPES = {"google.cloud.storage.object.v1.finalized": "created", "google.cloud.storage.object.v1.deleted":
             "deleted", "google.cloud.storage.object.v1.archived": "archived",
             "google.cloud.storage.object.v1.metadataUpdated": "metadata_updated"}
BLOB_TYPES = {"Microsoft.Storage.BlobCreated": "created", "Microsoft.Storage.BlobDeleted": "deleted"}
NEUTRAL_PREFIX = "io.portafunc.storage."
KINDS = ("created", "deleted", "archived", "metadata_updated")
EXPECTED = ("a storage CloudEvent: google.cloud.storage.object.v1.*, Microsoft.Storage.Blob* or "
            "io.portafunc.storage.<kind>")
_BLOB_SUBJECT = "/blobServices/default/containers/"


def decode(request: Mapping[str, Any]) -> list[StorageEvent]:
    if cloudevents.mode(headers_of(request.get("headers"))) is None:
        raise EventDecodeError("the request is not a CloudEvent", expected=EXPECTED)
    return [from_cloudevent(ce, request) for ce in cloudevents.decode(request)]


def is_storage_type(ce_type: str) -> bool:
    return ce_type in GCS_TYPES or ce_type in BLOB_TYPES or ce_type.startswith(NEUTRAL_PREFIX)


def from_cloudevent(ce: cloudevents.CloudEvent, native: Any = None) -> StorageEvent:
    attrs = ce.attributes
    when = parse_time(attrs.get("time"))
    if ce.type in GCS_TYPES:
        obj = need_map(ce.json(), "storage object data", EXPECTED)
        bucket, key = obj.get("bucket"), obj.get("name")
        if not isinstance(bucket, str) or not bucket or not isinstance(key, str) or not key:
            raise EventDecodeError("storage object data lacks bucket or name", expected=EXPECTED)
        return StorageEvent(bucket=bucket, key=key, kind=GCS_TYPES[ce.type], size=_int(obj.get("size")),
                            etag=_str(obj.get("etag")), time=when, id=attrs["id"], native=native)
    if ce.type in BLOB_TYPES:
        data = need_map(ce.json(), "blob event data", EXPECTED)
        # Event Grid's own schema writes the subject with a leading '/', its CloudEvents schema without one
        subject = "/" + attrs.get("subject", "").lstrip("/")
        if not subject.startswith(_BLOB_SUBJECT) or "/blobs/" not in subject:
            raise EventDecodeError(f"blob event subject {subject[:80]!r} names no container and blob",
                                   expected=f"{_BLOB_SUBJECT}CONTAINER/blobs/KEY")
        container, _, key = subject[len(_BLOB_SUBJECT):].partition("/blobs/")
        return StorageEvent(bucket=container, key=key, kind=BLOB_TYPES[ce.type],
                            size=_int(data.get("contentLength")), etag=_str(data.get("eTag")), time=when,
                            id=attrs["id"], native=native)
    if ce.type.startswith(NEUTRAL_PREFIX):
        kind = ce.type[len(NEUTRAL_PREFIX):]
        data = need_map(ce.json(), "storage event data", EXPECTED)
        if kind not in STORAGE_EVENT_KINDS or not isinstance(data.get("bucket"), str) \
                or not isinstance(data.get("key"), str):
            raise EventDecodeError(f"storage event {ce.type!r} lacks a known kind, bucket or key", expected=EXPECTED)
        return StorageEvent(bucket=data["bucket"], key=data["key"], kind=kind, size=_int(data.get("size")),
                            etag=_str(data.get("etag")), time=when, id=attrs["id"], native=native)
    raise EventDecodeError(f"CloudEvent type {ce.type!r} is not a storage event", expected=EXPECTED)


def _int(value: Any) -> int | None:
    if value is None:
        return None
    try:
        return int(value) if not isinstance(value, bool) else None
    except (TypeError, ValueError):
        raise EventDecodeError(f"object size {value!r} is not a number", expected="a decimal size") from None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def to_cloudevent(event: StorageEvent, variant: str | None) -> cloudevents.CloudEvent:
    if event.kind not in STORAGE_EVENT_KINDS:  # the neutral form carries any neutral kind
        raise EventDecodeError(f"storage event kind {event.kind!r:.40} is not a neutral kind",
                               expected=", ".join(STORAGE_EVENT_KINDS))
    when = format_time(event.time) or "2026-01-01T00:00:00.000Z"
    attributes = {"specversion": "1.0", "id": event.id or "7631145714375969", "time": when,
                  "datacontenttype": "application/json"}
    if variant == "cloud-storage":
        if event.kind not in GCS_TYPES.values():
            raise EventDecodeError(f"storage event kind {event.kind!r} has no Cloud Storage event",
                                   expected=", ".join(GCS_TYPES.values()))
        ce_type = {v: k for k, v in GCS_TYPES.items()}[event.kind]
        data: dict[str, Any] = {"kind": "storage#object", "bucket": event.bucket, "name": event.key,
                                "generation": "1700000000000000", "metageneration": "1", "timeCreated": when,
                                "updated": when}
        if event.size is not None:
            data["size"] = str(event.size)
        if event.etag is not None:
            data["etag"] = event.etag
        attributes.update(type=ce_type, source=f"//storage.googleapis.com/projects/_/buckets/{event.bucket}",
                          subject=f"objects/{event.key}")
    elif variant == "blob-storage":
        by_kind = {v: k for k, v in BLOB_TYPES.items()}
        if event.kind not in by_kind:
            raise EventDecodeError(f"storage event kind {event.kind!r} has no Blob Storage event",
                                   expected=", ".join(by_kind))
        data = {"api": "PutBlob" if event.kind == "created" else "DeleteBlob", "contentType":
                "application/octet-stream", "blobType": "BlockBlob",
                "url": f"https://account.blob.core.windows.net/{event.bucket}/{quote(event.key)}"}
        if event.size is not None:
            data["contentLength"] = event.size
        if event.etag is not None:
            data["eTag"] = event.etag
        attributes.update(type=by_kind[event.kind], subject=f"{_BLOB_SUBJECT}{event.bucket}/blobs/{event.key}",
                          source="/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/portafunc/"
                                 "providers/Microsoft.Storage/storageAccounts/account")
    elif variant in (None, "", "cloudevent"):
        data = event.to_dict()
        attributes.update(type=f"{NEUTRAL_PREFIX}{event.kind}", source=f"//portafunc/buckets/{event.bucket}",
                          subject=event.key)
    else:
        raise EventDecodeError(f"unknown storage variant {variant!r}", expected=", ".join(VARIANTS))
    return cloudevents.CloudEvent(attributes, json.dumps(data, separators=(",", ":")).encode("utf-8"))


def encode(event: StorageEvent, variant: str | None, path: str = "/") -> dict[str, Any]:
    return cloudevents.binary(to_cloudevent(event, variant), path)


VARIANTS = ("cloudevent", "cloud-storage", "blob-storage")
