"""Schedule ticks: what each platform's scheduler sends the service, or the one-shot run of a scheduled job.

* Cloud Scheduler HTTP job (Cloud Run): a POST with ``X-CloudScheduler: true`` and
  ``X-CloudScheduler-ScheduleTime`` (the scheduled instant).
* Knative PingSource: a CloudEvent ``dev.knative.sources.ping`` whose ``time`` is the tick.
* portafunc's own ``io.portafunc.schedule`` CloudEvent; on Azure Container Apps a scheduled job runs
  ``python -m portafunc_container.worker --fire FUNCTION`` instead (no request at all).
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any, Mapping

from portafunc.errors import EventDecodeError
from portafunc.events import ScheduleEvent, format_time, parse_time

from . import cloudevents
from .fields import headers_of

PING_TYPE = "dev.knative.sources.ping"
NEUTRAL_TYPE = "io.portafunc.schedule"
TYPES = (PING_TYPE, NEUTRAL_TYPE)
EXPECTED = ("a Cloud Scheduler POST (X-CloudScheduler-ScheduleTime), a PingSource CloudEvent or an "
            "io.portafunc.schedule CloudEvent")


def is_scheduler(request: Mapping[str, Any]) -> bool:
    try:
        return (headers_of(request.get("headers")).get("x-cloudscheduler") or "").lower() == "true"
    except EventDecodeError:
        return False


def decode(request: Mapping[str, Any]) -> ScheduleEvent:
    headers = headers_of(request.get("headers"))
    if is_scheduler(request):
        scheduled = parse_time(headers.get("x-cloudscheduler-scheduletime")) or datetime.now(timezone.utc)
        job = headers.get("x-cloudscheduler-jobname")
        return ScheduleEvent(time=scheduled, id=f"{job}@{format_time(scheduled)}" if job else None, native=request)
    if cloudevents.mode(headers) is not None:
        return from_cloudevent(cloudevents.decode(request)[0], request)
    raise EventDecodeError("the request is not a schedule tick", expected=EXPECTED)


def from_cloudevent(ce: cloudevents.CloudEvent, native: Any = None) -> ScheduleEvent:
    if ce.type not in TYPES:
        raise EventDecodeError(f"CloudEvent type {ce.type!r} is not a schedule tick", expected=EXPECTED)
    when = parse_time(ce.attributes.get("time"))
    if when is None:
        raise EventDecodeError("schedule CloudEvent lacks time", expected=EXPECTED)
    return ScheduleEvent(time=when, id=ce.attributes["id"], native=native)


def encode(event: ScheduleEvent, variant: str | None, path: str = "/") -> dict[str, Any]:
    when = format_time(event.time) or "2026-01-01T00:00:00Z"
    if variant in (None, "", "scheduler"):
        return {"method": "POST", "path": path, "query_string": "", "body": "", "isBase64Encoded": False,
                "headers": [["User-Agent", "Google-Cloud-Scheduler"], ["Content-Type", "application/octet-stream"],
                            ["X-CloudScheduler", "true"], ["X-CloudScheduler-JobName", "portafunc-schedule"],
                            ["X-CloudScheduler-ScheduleTime", when]]}
    if variant in ("ping", "cloudevent"):
        ce_type = PING_TYPE if variant == "ping" else NEUTRAL_TYPE
        attributes = {"specversion": "1.0", "id": event.id or f"tick-{when}", "time": when, "type": ce_type,
                      "source": "/apis/v1/namespaces/default/pingsources/portafunc" if variant == "ping"
                      else "//portafunc/schedule", "datacontenttype": "application/json"}
        data = json.dumps(event.to_dict() if variant == "cloudevent" else {}).encode("utf-8")
        return cloudevents.binary(cloudevents.CloudEvent(attributes, data), path)
    raise EventDecodeError(f"unknown schedule variant {variant!r}", expected=", ".join(VARIANTS))


VARIANTS = ("scheduler", "ping", "cloudevent")
