"""Timer trigger codec: the ``TimerInfo`` JSON the host passes (``Schedule``, ``ScheduleStatus``, ``IsPastDue``).

The scheduled instant of this run is ``ScheduleStatus.Next`` (the host hands the status recorded after the previous
run: ``Last`` = previous run, ``Next`` = this one). Without a status (``use_monitor`` off, first run) the current
time, truncated to the second, stands in.
"""

from __future__ import annotations

from datetime import datetime, timezone
from collections.abc import Mapping  # isinstance against it is several times cheaper than typing's alias
from typing import Any

from portafunc.errors import EventDecodeError
from portafunc.events import ScheduleEvent, format_time

from . import envelope

TIMER_EXPECTED = 'a TimerInfo object {"Schedule", "ScheduleStatus": {"Last", "Next", "LastUpdated"}, "IsPastDue"}'
NEVER = "0001-01-01T00:00:00+00:00"


def is_timer(native: Any) -> bool:
    return isinstance(native, Mapping) and ("IsPastDue" in native or "ScheduleStatus" in native)


def decode_timer(native: Mapping[str, Any]) -> ScheduleEvent:
    if not is_timer(native):
        raise EventDecodeError("not a timer trigger object", expected=TIMER_EXPECTED)
    status = native.get("ScheduleStatus") or {}
    if not isinstance(status, Mapping):
        raise EventDecodeError("ScheduleStatus is not an object", expected=TIMER_EXPECTED)
    past_due = native.get("IsPastDue", False)
    if not isinstance(past_due, bool):
        raise EventDecodeError("IsPastDue is not a boolean", expected=TIMER_EXPECTED)
    when = envelope.parse_time_safe(status.get("Next")) if status.get("Next") else None
    if when is None:
        when = datetime.now(timezone.utc).replace(microsecond=0)
    return ScheduleEvent(time=when, past_due=past_due, id=f"timer-{format_time(when)}", native=native)


def encode_timer(evt: ScheduleEvent) -> dict[str, Any]:
    when = format_time(evt.time)
    return {"Schedule": {"AdjustForDST": True},
            "ScheduleStatus": {"Last": NEVER, "Next": when, "LastUpdated": when},
            "IsPastDue": bool(evt.past_due)}


