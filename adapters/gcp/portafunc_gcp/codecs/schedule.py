"""Schedules on GCP: a Cloud Scheduler HTTP job POSTs to the function with ``X-CloudScheduler`` headers (the HTTP JSON
form of :mod:`.http`); a Scheduler → Pub/Sub job arrives as a message and is read by :mod:`.pubsub`."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from portafunc.events import Headers, ScheduleEvent, format_time, parse_time

def is_scheduler(headers: Headers) -> bool:
    return (headers.get("x-cloudscheduler") or "").lower() == "true"


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
