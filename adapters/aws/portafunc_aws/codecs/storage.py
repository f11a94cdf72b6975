"""S3 notifications (direct, inside SQS or SNS bodies, via EventBridge), both ways.

S3 URL-encodes object keys in its notifications the way HTML forms do (``+`` is a space, ``%XX`` escapes); the
neutral ``key`` is always decoded. EventBridge delivers keys as they are, so no decoding there.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any
from urllib.parse import quote_plus, unquote_plus

from portafunc.errors import EventDecodeError
from portafunc.events import Message, StorageEvent, format_time, parse_time

from .fields import new_id, obj, opt_text, records, text

S3_EXPECTED = 'an S3 notification: {"Records": [{"eventSource": "aws:s3", "eventName", "s3": {...}}]}'
VARIANTS = ["s3", "s3-sqs", "eventbridge"]

# S3 event types → neutral kinds (docs/events.md, "Storage event kinds"). Exact names first; then families whose
# members all mean the same; anything else is "other".
_S3_KIND = {
    "ObjectRestore:Post": "restore_started",  # a restore request was accepted: the object is still archived
    "ObjectRestore:Completed": "restored",  # a temporary copy is readable until its expiry
    "ObjectRestore:Delete": "restore_expired",  # the temporary copy expired; the archived object remains
    "Replication:OperationFailedReplication": "replication_failed",
    "Replication:OperationMissedThreshold": "replication_delayed",
    "Replication:OperationReplicatedAfterThreshold": "replicated",
    "LifecycleTransition": "archived",
    "IntelligentTiering": "archived",  # moved to an archive access tier
}
_S3_FAMILY_KIND = {"ObjectCreated": "created", "ObjectRemoved": "deleted", "LifecycleExpiration": "deleted",
                   "ObjectTagging": "metadata_updated", "ObjectAcl": "metadata_updated"}
_KIND_S3 = {"created": "ObjectCreated:Put", "deleted": "ObjectRemoved:Delete", "archived": "LifecycleTransition",
            "metadata_updated": "ObjectTagging:Put", **{kind: name for name, kind in _S3_KIND.items()
                                                        if kind not in ("archived",)}}
# EventBridge detail types of S3 events → neutral kinds ("Async Copy Completion" and any other: "other").
_EB_KIND = {"Object Created": "created", "Object Deleted": "deleted", "Object Storage Class Changed": "archived",
            "Object Access Tier Changed": "archived", "Object Tags Added": "metadata_updated",
            "Object Tags Deleted": "metadata_updated", "Object ACL Updated": "metadata_updated",
            "Object Restore Initiated": "restore_started", "Object Restore Completed": "restored",
            "Object Restore Expired": "restore_expired"}
_KIND_EB = {"created": "Object Created", "deleted": "Object Deleted", "archived": "Object Storage Class Changed",
            "metadata_updated": "Object Tags Added", "restore_started": "Object Restore Initiated",
            "restored": "Object Restore Completed", "restore_expired": "Object Restore Expired"}


def s3_kind(event_name: str) -> str:
    """The neutral kind of an S3 ``eventName`` (with or without the ``s3:`` prefix of notification configs)."""
    name = event_name[3:] if event_name.startswith("s3:") else event_name
    kind = _S3_KIND.get(name)
    if kind is None:
        kind = _S3_FAMILY_KIND.get(name.partition(":")[0], "other")
    return kind


def eventbridge_kind(detail_type: str) -> str:
    return _EB_KIND.get(detail_type, "other")


def is_s3(native: Any) -> bool:
    recs = native.get("Records") if isinstance(native, Mapping) else None
    return bool(isinstance(recs, list) and recs and isinstance(recs[0], Mapping)
                and recs[0].get("eventSource") == "aws:s3")


def is_s3_test_event(native: Any) -> bool:
    """The ``s3:TestEvent`` S3 sends once when a notification is configured: nothing to handle."""
    return isinstance(native, Mapping) and native.get("Event") == "s3:TestEvent"


def decode_s3(native: Any) -> list[StorageEvent]:
    if not is_s3(native):
        raise EventDecodeError("not an S3 notification", expected=S3_EXPECTED)
    out = []
    for i, rec in enumerate(records(native, "S3 notification")):
        what = f"S3 record {i}"
        if rec.get("eventSource") != "aws:s3":
            raise EventDecodeError(f"{what} has eventSource {rec.get('eventSource')!r}", expected=S3_EXPECTED)
        s3 = obj(rec.get("s3"), f"{what}.s3", S3_EXPECTED)
        bucket = obj(s3.get("bucket"), f"{what}.s3.bucket", '{"name": ...}')
        obj_ = obj(s3.get("object"), f"{what}.s3.object", '{"key": ..., "size": ...}')
        size = obj_.get("size")
        if size is not None and (not isinstance(size, int) or isinstance(size, bool)):
            raise EventDecodeError(f"{what}.s3.object.size is not an integer", expected="size in bytes")
        out.append(StorageEvent(
            bucket=text(bucket, "name", f"{what}.s3.bucket", "the bucket name"),
            key=unquote_plus(text(obj_, "key", f"{what}.s3.object", "the object key")),
            kind=s3_kind(text(rec, "eventName", what, "eventName such as ObjectCreated:Put")),
            size=size, etag=opt_text(obj_, "eTag", what), time=parse_time(rec.get("eventTime")),
            id=opt_text(obj_, "sequencer", what), native=rec))
    return out


def s3_from_message(msg: Message[Any]) -> list[StorageEvent] | None:
    """The S3 notifications carried by a queue message (S3 → SQS, or S3 → SNS → SQS); [] for the S3 test event."""
    if not msg.data.lstrip().startswith(b"{"):
        return None
    try:
        doc = json.loads(msg.data)
    except ValueError:
        return None
    if is_s3_test_event(doc):
        return []
    if is_s3(doc):
        return decode_s3(doc)
    from .eventbridge import decode_eventbridge, is_eventbridge

    if is_eventbridge(doc) and doc.get("source") == "aws.s3":
        return [decode_eventbridge(doc)]  # type: ignore[list-item]
    return None


# -- EventBridge (S3 object events) --------------------------------------------------------------------------------

def storage_from_eventbridge(event: Mapping[str, Any], detail: Mapping[str, Any], detail_type: str,
                             when: datetime | None, event_id: str | None) -> StorageEvent:
    """An S3 object event delivered by EventBridge (``source: aws.s3``, ``detail.object``)."""
    what = "EventBridge event"
    bucket = obj(detail.get("bucket"), f"{what}.detail.bucket", '{"name": ...}')
    obj_ = obj(detail.get("object"), f"{what}.detail.object", '{"key": ...}')
    size = obj_.get("size")
    if size is not None and (not isinstance(size, int) or isinstance(size, bool)):
        raise EventDecodeError(f"{what}.detail.object.size is not an integer", expected="size in bytes")
    return StorageEvent(bucket=text(bucket, "name", f"{what}.detail.bucket", "the bucket name"),
                        key=text(obj_, "key", f"{what}.detail.object", "the object key"),
                        kind=eventbridge_kind(detail_type),
                        size=size, etag=opt_text(obj_, "etag", what), time=when, id=event_id, native=event)


# -- encode ------------------------------------------------------------------------------------------------------

def s3_record(evt: StorageEvent, region: str = "us-east-1") -> dict[str, Any]:
    obj_: dict[str, Any] = {"key": quote_plus(evt.key, safe="/")}
    if evt.size is not None:
        obj_["size"] = evt.size
    if evt.etag is not None:
        obj_["eTag"] = evt.etag
    obj_["sequencer"] = evt.id or "0A1B2C3D4E5F678901"
    return {
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": region,
        "eventTime": _time(evt), "eventName": _KIND_S3.get(evt.kind, evt.kind),
        "userIdentity": {"principalId": "AWS:AIDAEXAMPLE"},
        "requestParameters": {"sourceIPAddress": "203.0.113.10"},
        "responseElements": {"x-amz-request-id": "C3D13FE58DE4C810",
                             "x-amz-id-2": "FMyUVURIY8/IgAtTv8xRjskZQpcIZ9KG4V5Wp6S7S/JRWeUWerMUE5JgHvANOjpD"},
        "s3": {"s3SchemaVersion": "1.0", "configurationId": "portafunc",
               "bucket": {"name": evt.bucket, "ownerIdentity": {"principalId": "A3NL1KOZZKExample"},
                          "arn": f"arn:aws:s3:::{evt.bucket}"},
               "object": obj_},
    }


def _time(evt: StorageEvent) -> str:
    return format_time(evt.time) or "2026-01-01T00:00:00.000Z"


def encode_storage(evt: StorageEvent, variant: str | None = None) -> dict[str, Any]:
    variant = variant or "s3"
    if variant == "s3":
        return {"Records": [s3_record(evt)]}
    if variant == "s3-sqs":
        from .queue import sqs_record

        body = json.dumps({"Records": [s3_record(evt)]}, separators=(",", ":"))
        msg = Message(id=new_id(), data=body.encode("utf-8"), published_at=evt.time)
        return {"Records": [sqs_record(msg)]}
    if variant == "eventbridge":
        obj_: dict[str, Any] = {"key": evt.key}
        if evt.size is not None:
            obj_["size"] = evt.size
        if evt.etag is not None:
            obj_["etag"] = evt.etag
        obj_["sequencer"] = "00617F08299329D189"
        return {
            "version": "0", "id": evt.id or new_id(), "detail-type": _KIND_EB.get(evt.kind, evt.kind),
            "source": "aws.s3", "account": "123456789012", "time": format_time(evt.time) or "2026-01-01T00:00:00Z",
            "region": "us-east-1", "resources": [f"arn:aws:s3:::{evt.bucket}"],
            "detail": {"version": "0", "bucket": {"name": evt.bucket}, "object": obj_,
                       "request-id": "N4N7GDK58NMKJ12R", "requester": "123456789012",
                       "source-ip-address": "203.0.113.10", "reason": "PutObject"},
        }
    raise EventDecodeError(f"unknown aws storage variant {variant!r}", expected=", ".join(VARIANTS))
