"""Schedules on GCP: a Cloud Scheduler HTTP job POSTs to the function with ``X-CloudScheduler`` headers (the HTTP JSON
form of :mod:`.http`), the only job portafunc deploys. A request that is recognisably another event (a CloudEvent, a
Pub/Sub push, a storage notification) is not a tick: :func:`refuse_other_event` names it."""

from __future__ import annotations

from datetime import datetime, timezone
from collections.abc import Mapping
from typing import Any

from portafunc.errors import EventDecodeError
from portafunc.events import Headers, ScheduleEvent, format_time, parse_time

from . import legacy, pubsub, storage

EXPECTED = "a Cloud Scheduler HTTP job's POST (X-CloudScheduler: true) or a plain POST"

def is_scheduler(headers: Headers) -> bool:
    return (headers.get("x-cloudscheduler") or "").lower() == "true"


def refuse_other_event(headers: Headers, body: Any) -> None:
    """Raise EventDecodeError naming what a request that is not a Cloud Scheduler call recognisably is: a binary
    (``ce-type`` header) or structured CloudEvent, a Pub/Sub push envelope, a background event or a bare Cloud Storage
    object notification. Anything else (a plain POST, e.g. a manual run) passes."""
    ce_type: Any = headers.get("ce-type")
    if ce_type is None and isinstance(body, Mapping) and "specversion" in body:
        ce_type = body.get("type")
        if not isinstance(ce_type, str):
            raise EventDecodeError("a CloudEvent without a type is not a schedule tick", expected=EXPECTED)
    if ce_type is not None:
        raise EventDecodeError(f"CloudEvent type {ce_type!r} is not a schedule tick", expected=EXPECTED)
    if pubsub.is_push_envelope(body):
        raise EventDecodeError("a Pub/Sub push message is not a schedule tick", expected=EXPECTED)
    if legacy.is_legacy(body):
        context = body.get("context")
        kind = (context if isinstance(context, Mapping) else body).get("eventType")
        raise EventDecodeError(f"background event type {kind!r} is not a schedule tick", expected=EXPECTED)
    if storage.is_object_data(body):
        raise EventDecodeError("a Cloud Storage object notification is not a schedule tick", expected=EXPECTED)


def schedule_from_headers(headers: Headers, native: Any = None) -> ScheduleEvent:
    """``X-CloudScheduler-ScheduleTime`` is the scheduled instant (RFC 3339 UTC); a forced run may lack it."""
    when = parse_time(headers.get("x-cloudscheduler-scheduletime")) or datetime.now(timezone.utc)
    job = headers.get("x-cloudscheduler-jobname")
    return ScheduleEvent(time=when, id=f"{job}@{format_time(when)}" if job else None, native=native)


def encode_schedule(event: ScheduleEvent, job: str = "portafunc-schedule") -> dict[str, Any]:
    """Neutral → the POST a Cloud Scheduler HTTP job sends to the function URL."""
    return {
        "method": "POST",
        "path": "/",
        "query_string": "",
        "headers": [["Host", "us-central1-portafunc-local.cloudfunctions.net"],
                    ["User-Agent", "Google-Cloud-Scheduler"],
                    ["Content-Type", "application/octet-stream"],
                    ["X-CloudScheduler", "true"],
                    ["X-CloudScheduler-JobName", job],
                    ["X-CloudScheduler-ScheduleTime", format_time(event.time)]],
        "body": "",
        "isBase64Encoded": False,
    }
