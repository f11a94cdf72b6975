"""EventBridge events: one envelope for schedules (:mod:`.schedule`), S3 object events (:mod:`.storage`) and any
other source (a :class:`~portafunc.events.Message` of its ``detail``)."""

from __future__ import annotations

import json
from collections.abc import Mapping

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

from portafunc.events import Message, ScheduleEvent, StorageEvent, parse_time

from .fields import obj, opt_obj, opt_text, text
from .schedule import decode_schedule, is_schedule

EB_EXPECTED = 'an EventBridge event: {"id", "detail-type", "source", "time", "detail"}'


def is_eventbridge(native: Any) -> bool:
    return isinstance(native, Mapping) and "detail-type" in native and "source" in native and "detail" in native


def decode_eventbridge(native: Any) -> StorageEvent | ScheduleEvent | Message[Any]:
    """S3 object events → StorageEvent; scheduled events → ScheduleEvent; anything else → a Message of its detail."""
    event = obj(native, "EventBridge event", EB_EXPECTED)
    what = "EventBridge event"
    detail_type = text(event, "detail-type", what, EB_EXPECTED)
    source = text(event, "source", what, EB_EXPECTED)
    when = parse_time(event.get("time"))
    event_id = opt_text(event, "id", what)
    if is_schedule(source, detail_type):
        return decode_schedule(native, when, event_id)
    detail = opt_obj(event.get("detail"), f"{what}.detail", "an object")
    if source == "aws.s3" and "object" in detail:
        from .storage import storage_from_eventbridge

        return storage_from_eventbridge(native, detail, detail_type, when, event_id)
    data = json.dumps(detail, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return Message(id=event_id or "", data=data, attributes={"source": source, "detail-type": detail_type},
                   published_at=when, source=source, native=native)
