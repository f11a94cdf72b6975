"""Neutral events <-> the shapes the Azure Functions host delivers: which native shape an event is (:func:`decode`
takes any of them) and which variant to write (:func:`encode`). One module per trigger family: :mod:`.http`,
:mod:`.queue` (Storage Queue), :mod:`.topic` (Event Grid, both schemas), :mod:`.storage` (Blob events, carried by
Event Grid), :mod:`.schedule` (timer); :mod:`.envelope` carries attributes where the broker has none and
:mod:`.natives` builds the ``azure.functions`` objects. Submodules load on first use, so the runtime's cold start
imports only the codec its trigger needs.
"""

from __future__ import annotations

from collections.abc import Mapping  # isinstance against it is several times cheaper than typing's alias
from typing import Any

from portafunc.errors import EventDecodeError
from portafunc.events import Event, HttpRequest, Message, ScheduleEvent, StorageEvent

ACCEPTED = ("an Event Grid event or array (Event Grid or CloudEvents schema, incl. Microsoft.Storage.Blob* events), "
            "a Storage Queue message {Id, DequeueCount, MessageText (base64)}, a TimerInfo {ScheduleStatus, "
            "IsPastDue}, or a func.HttpRequest JSON form {method, url, headers, params, route_params, body}")

VARIANTS = {
    "http": ["host"],
    "message": ["queue", "eventgrid", "cloudevents"],
    "storage": ["eventgrid", "cloudevents"],
    "schedule": ["timer"],
}


def decode(native: Any) -> list[Event]:
    """Any native Azure event (JSON form or ``azure.functions`` object) → neutral events."""
    from . import http, queue, schedule, topic
    from .natives import to_json

    native = to_json(native)
    if isinstance(native, list):
        return list(topic.decode_payload(native))
    if not isinstance(native, Mapping):
        raise EventDecodeError(f"native event is {type(native).__name__}", expected=ACCEPTED)
    if topic.is_eventgrid_event(native):
        return [topic.decode_event(native)]
    if queue.is_queue_message(native):
        return [queue.decode_message(native)]
    if schedule.is_timer(native):
        return [schedule.decode_timer(native)]
    if "method" in native and "url" in native:
        return [http.request_from_json(native)]
    raise EventDecodeError(f"unknown Azure event with keys {sorted(native)[:8]}", expected=ACCEPTED)


def encode(event: Event, variant: str | None = None) -> Any:
    """A neutral event → its native JSON form in ``variant`` (the first of :data:`VARIANTS` by default)."""
    from . import http, queue, schedule, storage, topic

    if isinstance(event, HttpRequest):
        _check_variant(variant, "http")
        return http.request_to_json(event)
    if isinstance(event, Message):
        variant = _check_variant(variant, "message")
        if variant == "queue":
            return queue.encode_message(event)
        return topic.encode_message(event, schema=variant)
    if isinstance(event, StorageEvent):
        variant = _check_variant(variant, "storage")
        return storage.encode_storage(event, schema=variant)
    if isinstance(event, ScheduleEvent):
        _check_variant(variant, "schedule")
        return schedule.encode_timer(event)
    raise EventDecodeError(f"cannot encode {type(event).__name__}", expected="a neutral event")


def _check_variant(variant: str | None, kind: str) -> str:
    choices = VARIANTS[kind]
    if not variant:
        return choices[0]
    if variant not in choices:
        raise EventDecodeError(f"unknown Azure {kind} variant {variant!r}", expected=", ".join(choices))
    return variant
