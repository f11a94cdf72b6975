"""Auto-detecting decode and variant-aware encode for every native GCP event shape portafunc accepts."""

from __future__ import annotations

import json
from collections.abc import Mapping  # isinstance against it is several times cheaper than typing's alias
from typing import Any, Callable

from portafunc.errors import EventDecodeError
from portafunc.events import Event, HttpRequest, Message, ScheduleEvent, StorageEvent

# absolute imports: "from . import" would ask the package for each name first, and the package loads this module
# for those names (see its __getattr__)
import portafunc_gcp.codecs.legacy as legacy
import portafunc_gcp.codecs.pubsub as pubsub
import portafunc_gcp.codecs.schedule as schedule
import portafunc_gcp.codecs.storage as storage

from . import http

ACCEPTED = ("a structured CloudEvent (google.cloud.pubsub.topic.v1.messagePublished or "
            "google.cloud.storage.object.v1.finalized|deleted|archived|metadataUpdated), a Pub/Sub push envelope "
            '{"message": ..., "subscription": ...}, a bare StorageObjectData (binary-mode CloudEvent body), a legacy '
            'background event {"data", "context"} (google.pubsub.topic.publish, google.storage.object.*), or an HTTP '
            'request {"method", "path", "query_string", "headers", "body"} (Cloud Scheduler jobs included)')

VARIANTS = {
    "http": ["request"],
    "message": ["cloudevent", "push"],
    "storage": ["cloudevent"],
    "schedule": ["scheduler-http"],
}
# Accepted by encode but not listed: lossy on purpose (legacy events carry no ordering key or delivery attempt).
EXTRA_VARIANTS = {"message": ["legacy"], "storage": ["legacy", "binary"]}


def decode(native: Any) -> list[Event]:
    if isinstance(native, list):
        return [e for item in native for e in decode(item)]
    if not isinstance(native, Mapping):
        raise EventDecodeError(f"a GCP event is a JSON object, got {type(native).__name__}", expected=ACCEPTED)
    if "specversion" in native:
        return [decode_cloudevent(native)]
    if legacy.is_legacy(native):
        return [decode_cloudevent(legacy.to_cloudevent(native), raw=native)]
    if pubsub.is_push_envelope(native):
        return [pubsub.decode_envelope(native)]
    if storage.is_object_data(native):
        return [storage.decode_object(native, native=native)]
    if http.is_http(native):
        return [decode_http(native)]
    raise EventDecodeError(f"unrecognised GCP event with keys {sorted(native)[:8]}", expected=ACCEPTED)


def decode_http(native: Any) -> Event:
    """An HTTP request: a Cloud Scheduler job, a binary-mode CloudEvent (ce-* headers), a structured-mode CloudEvent
    (the whole event as an ``application/cloudevents+json`` body, as functions-framework reads it), or plain HTTP."""
    req = http.decode_request(native)
    if schedule.is_scheduler(req.headers):
        return schedule.schedule_from_headers(req.headers, native)
    if req.headers.get("ce-specversion") and req.headers.get("ce-type"):
        return decode_cloudevent(binary_to_structured(req.headers, req.body), raw=native)
    if is_structured(req.headers.get("content-type")):
        try:
            ce = json.loads(req.body)
        except (ValueError, RecursionError) as exc:
            raise EventDecodeError(f"structured-mode CloudEvent body is not JSON: {type(exc).__name__}",
                                   expected="the CloudEvent as a JSON object") from None
        if not isinstance(ce, Mapping) or "specversion" not in ce:
            raise EventDecodeError("structured-mode CloudEvent body is not a CloudEvent object",
                                   expected='{"specversion": "1.0", "type": ..., "id": ..., "data": ...}')
        return decode_cloudevent(ce, raw=native)
    return req


def is_structured(content_type: str | None) -> bool:
    """``application/cloudevents+json`` (parameters aside): one CloudEvent as the body; a batch is not one event."""
    return (content_type or "").partition(";")[0].strip().lower() == "application/cloudevents+json"


def binary_to_structured(headers: Any, body: bytes) -> dict[str, Any]:
    """A binary-mode CloudEvent (attributes in ce-* headers, data in the body) → structured dict."""
    ce: dict[str, Any] = {}
    for name, value in headers.items():
        if name.lower().startswith("ce-"):
            ce[name[3:].lower()] = value
    ctype = headers.get("content-type") or ""
    if body:
        if "json" in ctype or not ctype:
            try:
                ce["data"] = json.loads(body)
            except ValueError as exc:
                raise EventDecodeError(f"CloudEvent body is not JSON: {exc}", expected="a JSON body") from exc
        else:
            ce["data"] = body
    return ce


_IN_CE = object()


def decode_cloudevent(ce: Mapping[str, Any], raw: Any = None, data: Any = _IN_CE) -> Event:
    """A CloudEvent (its attributes, with ``data`` among them or given apart, as functions-framework holds it)."""
    ce_type = ce.get("type")
    if ce_type == pubsub.PUBLISHED and data.__class__ is dict:  # the usual event, as Eventarc delivers it
        source = ce.get("source")
        message = pubsub.decode_published(data, source if source.__class__ is str else _s(source),
                                          raw if raw is not None else ce)
        if message is not None:
            return message
    if not isinstance(ce_type, str):
        raise EventDecodeError("CloudEvent has no type", expected=ACCEPTED)
    if data is _IN_CE:
        data = ce.get("data")
    if isinstance(data, (bytes, bytearray)):
        try:
            data = json.loads(data)
        except ValueError as exc:
            raise EventDecodeError(f"CloudEvent {ce_type} data is not JSON", expected="JSON data") from exc
    native = raw if raw is not None else ce
    if ce_type == pubsub.PUBLISHED:
        if data is None:
            raise EventDecodeError("messagePublished CloudEvent has no data", expected=pubsub.ENVELOPE_EXPECTED)
        source = _s(ce.get("source"))
        return pubsub.decode_published(data, source, native) or \
            pubsub.decode_envelope(data, fallback_id=_s(ce.get("id")), fallback_time=ce.get("time"), source=source,
                                   raw=native)
    if ce_type.startswith(storage.CE_PREFIX):
        return storage.decode_object(data, storage.kind_of(ce_type), event_id=_s(ce.get("id")),
                                           time=ce.get("time"), native=native)
    raise EventDecodeError(f"CloudEvent type {ce_type!r} is not one portafunc handles", expected=ACCEPTED)


def _s(value: Any) -> str | None:
    return value if isinstance(value, str) else None


# Each neutral event's kind, tested in this order, and its encoder per variant (the first of VARIANTS[kind] when
# none is asked for; the EXTRA_VARIANTS are lossy on purpose).
_KINDS: tuple[tuple[type[Event], str], ...] = (
    (HttpRequest, "http"), (Message, "message"), (StorageEvent, "storage"), (ScheduleEvent, "schedule"))
_ENCODERS: dict[tuple[str, str], Callable[[Any], Any]] = {
    ("http", "request"): http.encode_request,
    ("message", "cloudevent"): pubsub.encode_cloudevent,
    ("message", "push"): pubsub.encode_envelope,
    ("message", "legacy"): legacy.encode_message,
    ("storage", "cloudevent"): storage.encode_cloudevent,
    ("storage", "legacy"): legacy.encode_storage,
    ("storage", "binary"): storage.object_data,
    ("schedule", "scheduler-http"): schedule.encode_schedule,
}


def encode(event: Event, variant: str | None = None) -> Any:
    """A neutral event → its native form in ``variant`` (see :data:`VARIANTS`)."""
    for kind_class, kind in _KINDS:
        if isinstance(event, kind_class):
            return _ENCODERS[kind, _check(variant, kind)](event)
    raise EventDecodeError(f"cannot encode {type(event).__name__}", expected="http, message, storage or schedule")


def _check(variant: str | None, kind: str) -> str:
    allowed = VARIANTS[kind] + EXTRA_VARIANTS.get(kind, [])
    if variant is None or variant == "":
        return VARIANTS[kind][0]
    if variant not in allowed:
        raise EventDecodeError(f"unknown gcp {kind} variant {variant!r}", expected=", ".join(allowed))
    return variant
