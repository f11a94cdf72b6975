"""Scheduled events: EventBridge rules (``source: aws.events``, ``detail-type: Scheduled Event``) and EventBridge
Scheduler (``source: aws.scheduler``), both ways."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

from portafunc.errors import EventDecodeError
from portafunc.events import ScheduleEvent, format_time

from .fields import new_id


def is_schedule(source: str, detail_type: str) -> bool:
    return source == "aws.events" and detail_type == "Scheduled Event" or source == "aws.scheduler"


def decode_schedule(event: Mapping[str, Any], when: datetime | None, event_id: str | None) -> ScheduleEvent:
    if when is None:
        raise EventDecodeError("scheduled event has no time", expected="time as RFC 3339")
    return ScheduleEvent(time=when, id=event_id, native=event)


def encode_schedule(evt: ScheduleEvent, rule: str = "portafunc-schedule") -> dict[str, Any]:
    return {
        "version": "0", "id": evt.id or new_id(), "detail-type": "Scheduled Event",
        "source": "aws.events", "account": "123456789012", "time": _second_time(evt),
        "region": "us-east-1", "resources": [f"arn:aws:events:us-east-1:123456789012:rule/{rule}"], "detail": {},
    }


def _second_time(evt: ScheduleEvent) -> str:
    """EventBridge reports whole seconds; a fraction (never sent by AWS) is kept rather than dropped."""
    return format_time(evt.time) or ""
