"""Schedules fire on time; ``--trigger`` builds the event a schedule or storage function would get, and puts the
object a sample storage event names into the bucket when that bucket is local."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timezone
from typing import Callable
from urllib.parse import urlsplit

from ..app import FunctionSpec, ScheduleTrigger, StorageTrigger
from ..context import new_id
from ..errors import PortafuncError
from ..events import ScheduleEvent, StorageEvent
from ..invoke import invoke_event
from ..schedule import next_fire_times
from .console import InFlight, invocation_line

Clock = Callable[[], datetime]

SAMPLE_BODY = b"sample text"  # the 11 bytes the sample storage event states
LOCAL_SCHEMES = ("memory", "file")  # buckets of this machine: the runner may write the sample object there
STORED_AFTER = ("created", "metadata_updated")  # event kinds after which the object exists in the bucket


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def run_event(spec: FunctionSpec, event: ScheduleEvent | StorageEvent, source: str, in_flight: InFlight) -> bool:
    """Invoke once, print the invocation line; True when the function succeeded."""
    in_flight.begin(spec.name)
    started = time.perf_counter()
    try:
        result = invoke_event(spec, event, target="local")
    finally:
        in_flight.end(spec.name)
    ok = not result.must_redeliver and result.outcome.value == "success"
    invocation_line(source, spec.name, result.outcome.value, time.perf_counter() - started,
                    "" if ok else f"({result.error})")
    return ok


class TriggerRefused(PortafuncError):
    """``--trigger`` named a function that cannot be fired by hand."""


def manual_event(spec: FunctionSpec, now: datetime) -> tuple[ScheduleEvent | StorageEvent, str]:
    """The event ``portafunc run --trigger NAME`` fires, and how to describe its source."""
    trig = spec.trigger
    if isinstance(trig, ScheduleTrigger):
        return ScheduleEvent(time=now, id=new_id()), f"schedule {trig.schedule.expression} (manual)"
    if isinstance(trig, StorageTrigger):
        key = f"{trig.prefix}sample{trig.suffix or '.txt'}"
        event = StorageEvent(bucket=trig.bucket, key=key, kind=trig.events[0], size=len(SAMPLE_BODY),
                             etag="0123456789abcdef", time=now, id=new_id())
        return event, f"storage {trig.bucket} {trig.events[0]} {key} (sample)"
    if trig.kind in ("queue", "topic"):
        name = getattr(trig, "queue", None) or getattr(trig, "topic", None)
        call = f'portafunc.{trig.kind}("{name}").{"send" if trig.kind == "queue" else "publish"}(...)'
        raise TriggerRefused(f"{spec.name} is a {trig.kind} function: it runs when a message arrives; publish one "
                             f"instead (e.g. {call} from an HTTP function while `portafunc run` is serving)")
    raise TriggerRefused(f"{spec.name} is an HTTP function: start `portafunc run` and send it a request "
                         f"({trig.describe()})")


def place_sample(event: StorageEvent) -> str | None:
    """Make the object a sample storage event names exist, so ``evt.read()`` finds it as in the cloud; the line to
    print, None when the event kind leaves no object.

    Only a local bucket (memory://, file://) is written to; an object already there is kept and the event describes
    it. A bucket bound elsewhere (a cloud) is never written to by a manual trigger: the line says the object must
    exist there.
    """
    if event.kind not in STORED_AFTER:
        return None
    from ..data import bucket
    from ..data.binding import resolve_url

    url, variable = resolve_url("bucket", event.bucket)
    if urlsplit(url).scheme not in LOCAL_SCHEMES:
        return (f"bucket {event.bucket} is bound to {url} ({variable}), not a local bucket: nothing written there; "
                f"evt.read() finds the sample object {event.key} only if it exists there")
    target = bucket(event.bucket)
    if target.exists(event.key):
        info = target.stat(event.key)
        event.size, event.etag = info.size, info.etag
        return f"sample object {event.key} ({info.size} bytes) already in bucket {event.bucket} ({url}): kept"
    event.etag = target.put(event.key, SAMPLE_BODY, content_type="text/plain; charset=utf-8")
    event.size = len(SAMPLE_BODY)
    return f"sample object {event.key} ({len(SAMPLE_BODY)} bytes) written to bucket {event.bucket} ({url})"


class Scheduler(threading.Thread):
    """Fires each schedule function at its next instant (UTC), computed by the same evaluator the tests trust."""

    def __init__(self, specs: list[FunctionSpec], in_flight: InFlight, stop: threading.Event,
                 clock: Clock = utc_now) -> None:
        super().__init__(name="portafunc-scheduler", daemon=True)
        self.specs = [s for s in specs if isinstance(s.trigger, ScheduleTrigger)]
        self.in_flight = in_flight
        self.stop = stop
        self.clock = clock
        self.next_fire: dict[str, datetime] = {}
        now = clock()
        for spec in self.specs:
            self.next_fire[spec.name] = self._after(spec, now)

    @staticmethod
    def _after(spec: FunctionSpec, now: datetime) -> datetime:
        trig = spec.trigger
        assert isinstance(trig, ScheduleTrigger)
        (when,) = next_fire_times(trig.schedule.expression, None, now, 1)
        return when

    def run(self) -> None:
        if not self.specs:
            return
        by_name = {s.name: s for s in self.specs}
        while not self.stop.is_set():
            now = self.clock()
            due = [name for name, when in self.next_fire.items() if when <= now]
            for name in due:
                spec = by_name[name]
                fired_at = self.next_fire[name]
                self.next_fire[name] = self._after(spec, fired_at)
                event = ScheduleEvent(time=fired_at, past_due=(now - fired_at).total_seconds() > 1, id=new_id())
                trig = spec.trigger
                assert isinstance(trig, ScheduleTrigger)
                threading.Thread(target=run_event, name=f"portafunc-{name}", daemon=True,
                                 args=(spec, event, f"schedule {trig.schedule.expression}", self.in_flight)).start()
            wait = min(self.next_fire.values()) - self.clock()
            self.stop.wait(max(0.01, min(wait.total_seconds(), 1.0)))
