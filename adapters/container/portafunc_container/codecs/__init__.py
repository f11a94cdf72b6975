"""Which native shape is this request, and the codec of each trigger family.

Every native event of the container target is an HTTP request (its JSON form, :mod:`.fields`). A request carrying a
CloudEvent is an event: its ``type`` says which family (storage, schedule, else a message); a Pub/Sub push envelope
is a message; a Cloud Scheduler POST is a schedule tick; anything else is a plain HTTP request. The server itself
does not guess: it knows the function from the path a platform pushes to (``/_portafunc/functions/NAME``) and asks
that family's codec.
"""

from __future__ import annotations

import json
from typing import Any

from portafunc.errors import EventDecodeError
from portafunc.events import Event, HttpRequest, Message, ScheduleEvent, StorageEvent

from . import cloudevents, http, queue, schedule, storage
from .fields import HTTP_EXPECTED, body_of, headers_of, is_request

EVENT_PATH = "/_portafunc/functions/"  # + function name: where every platform pushes a function's events
HEALTH_PATH = "/_portafunc/health"
RESERVED_PREFIX = "/_portafunc/"
VARIANTS = {"http": ["http"], "message": list(queue.VARIANTS), "storage": list(storage.VARIANTS),
            "schedule": list(schedule.VARIANTS)}
ACCEPTED = ("an HTTP request in its JSON form " + HTTP_EXPECTED + "; events are such requests carrying a "
            "CloudEvent (binary or structured mode), a Pub/Sub push envelope or a Cloud Scheduler POST")


def decode(native: Any) -> list[Event]:
    if not is_request(native):
        raise EventDecodeError("a container event is an HTTP request in its JSON form", expected=ACCEPTED)
    if schedule.is_scheduler(native):
        return [schedule.decode(native)]
    headers = headers_of(native.get("headers"))
    if cloudevents.mode(headers) is not None:
        events: list[Event] = []
        for ce in cloudevents.decode(native):
            if storage.is_storage_type(ce.type):
                events.append(storage.from_cloudevent(ce, native))
            elif ce.type in schedule.TYPES:
                events.append(schedule.from_cloudevent(ce, native))
            else:
                events.append(queue.from_cloudevent(ce, native))
        return events
    if (headers.get("content-type") or "").startswith("application/json") and native.get("method") == "POST":
        try:
            doc = json.loads(body_of(native, "request"))
        except ValueError:
            doc = None
        if isinstance(doc, dict) and queue.is_push_envelope(doc):
            return [queue.from_envelope(doc, native)]
    return [http.decode_request(native)]


def encode(event: Event, variant: str | None = None) -> Any:
    if isinstance(event, HttpRequest):
        if variant not in (None, "", "http"):
            raise EventDecodeError(f"unknown http variant {variant!r}", expected="http")
        return http.encode_request(event)
    if isinstance(event, Message):
        return queue.encode(event, variant)
    if isinstance(event, StorageEvent):
        return storage.encode(event, variant)
    if isinstance(event, ScheduleEvent):
        return schedule.encode(event, variant)
    raise EventDecodeError(f"cannot encode {type(event).__name__}", expected="http, message, storage or schedule")
