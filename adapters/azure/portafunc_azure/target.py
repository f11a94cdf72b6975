"""The Azure target: codecs, trigger table, invoke and the contract-test driver (found via ``portafunc.targets``)."""

from __future__ import annotations

from typing import Any, Mapping

from portafunc.app import App, FunctionSpec, HttpTrigger, QueueTrigger, ScheduleTrigger, StorageTrigger, TopicTrigger
from portafunc.errors import EventDecodeError, UnsupportedTrigger
from portafunc.events import Event, HttpRequest, Message, ScheduleEvent, StorageEvent
from portafunc.targets import Driver, NativeTrigger, PackageRequest, PackageResult
from portafunc.targets import Target as BaseTarget

from . import codec_eventgrid, codec_http, codec_queue, codec_timer, naming

ACCEPTED = ("an Event Grid event or array (Event Grid or CloudEvents schema, incl. Microsoft.Storage.Blob* events), "
            "a Storage Queue message {Id, DequeueCount, MessageText (base64)}, a TimerInfo {ScheduleStatus, "
            "IsPastDue}, or a func.HttpRequest JSON form {method, url, headers, params, route_params, body}")

VARIANTS = {
    "http": ["host"],
    "message": ["queue", "eventgrid", "cloudevents"],
    "storage": ["eventgrid", "cloudevents"],
    "schedule": ["timer"],
}


def check_trigger(spec: FunctionSpec) -> NativeTrigger:
    """What ``spec`` becomes on Azure, or :class:`UnsupportedTrigger` saying what to use instead."""
    trig = spec.trigger
    if isinstance(trig, HttpTrigger):
        return NativeTrigger("HTTP trigger", f"{','.join(naming.http_methods(spec))} "
                             f"/{naming.route_template(trig.route)}, auth {trig.auth}")
    if isinstance(trig, QueueTrigger):
        if trig.ordered:
            raise UnsupportedTrigger(spec.name, trig.describe(), "azure",
                                     "Azure Storage Queues do not keep order and the queue trigger runs messages "
                                     "in parallel", "an unordered queue (ordered=False), or a topic with an "
                                     "idempotent handler")
        if trig.batch_size > 32:
            raise UnsupportedTrigger(spec.name, trig.describe(), "azure",
                                     f"the Storage Queue trigger fetches at most 32 messages at a time "
                                     f"(host.json queues.batchSize), not {trig.batch_size}", "batch_size=32 or less")
        return NativeTrigger("Storage Queue trigger",
                             f"queue {naming.queue_name(trig.queue)}, connection {naming.STORAGE_CONNECTION}, "
                             f"poison queue {naming.poison_queue_name(naming.queue_name(trig.queue))} after "
                             f"{trig.max_attempts} attempts")
    if isinstance(trig, TopicTrigger):
        return NativeTrigger("Event Grid trigger", f"subscription to topic {trig.topic} (Event Grid or "
                             f"CloudEvents schema), max {trig.max_attempts} delivery attempts")
    if isinstance(trig, ScheduleTrigger):
        return NativeTrigger("Timer trigger", f"NCRONTAB {trig.schedule.azure} (UTC)")
    if isinstance(trig, StorageTrigger):
        bad = [e for e in trig.events if e not in codec_eventgrid.KIND_TO_TYPE]
        if bad:
            raise UnsupportedTrigger(spec.name, trig.describe(), "azure",
                                     f"Blob Storage publishes no Event Grid event for {', '.join(bad)}",
                                     "events created, deleted or archived")
        types = ", ".join(codec_eventgrid.KIND_TO_TYPE[e] for e in trig.events)
        flt = f"subject begins with /blobServices/default/containers/{trig.bucket}/blobs/{trig.prefix}"
        if trig.suffix:
            flt += f", ends with {trig.suffix}"
        return NativeTrigger("Event Grid trigger", f"Blob Storage events {types}; {flt}")
    raise UnsupportedTrigger(spec.name, str(trig), "azure", "unknown trigger", "http, topic, queue, schedule, storage")


class Target(BaseTarget):
    name = "azure"
    distribution = "portafunc-azure"

    # -- codecs ---------------------------------------------------------------------------------------------------
    def decode(self, native: Any) -> list[Event]:
        from .natives import to_json

        native = to_json(native)
        if isinstance(native, list):
            return list(codec_eventgrid.decode_payload(native))
        if not isinstance(native, Mapping):
            raise EventDecodeError(f"native event is {type(native).__name__}", expected=ACCEPTED)
        if codec_eventgrid.is_eventgrid_event(native):
            return [codec_eventgrid.decode_event(native)]
        if codec_queue.is_queue_message(native):
            return [codec_queue.decode_message(native)]
        if codec_timer.is_timer(native):
            return [codec_timer.decode_timer(native)]
        if "method" in native and "url" in native:
            return [codec_http.request_from_json(native)]
        raise EventDecodeError(f"unknown Azure event with keys {sorted(native)[:8]}", expected=ACCEPTED)

    def encode(self, event: Event, variant: str | None = None) -> Any:
        if isinstance(event, HttpRequest):
            _check_variant(variant, "http")
            return codec_http.request_to_json(event)
        if isinstance(event, Message):
            variant = _check_variant(variant, "message")
            if variant == "queue":
                return codec_queue.encode_message(event)
            return codec_eventgrid.encode_message(event, schema=variant)
        if isinstance(event, StorageEvent):
            variant = _check_variant(variant, "storage")
            return codec_eventgrid.encode_storage(event, schema=variant)
        if isinstance(event, ScheduleEvent):
            _check_variant(variant, "schedule")
            return codec_timer.encode_timer(event)
        raise EventDecodeError(f"cannot encode {type(event).__name__}", expected="a neutral event")

    def variants(self, kind: str) -> list[str]:
        return list(VARIANTS.get(kind, [""]))

    def uncarried(self, kind: str, variant: str | None = None) -> frozenset[str]:
        if kind == "http":
            return frozenset({"headers.repeated"})  # the host joins repeated request headers with ","
        if kind == "message" and (variant or "queue") != "queue":
            return frozenset({"delivery_attempt"})  # func.EventGridEvent has no delivery count
        return frozenset()

    def new_event(self, trigger: str, data: Mapping[str, Any] | None = None) -> Any:
        kind, _, variant = trigger.partition(":")
        if kind == "topic" and not variant:
            trigger = "topic:eventgrid"
        elif kind == "queue" and not variant:
            trigger = "queue:queue"
        return super().new_event(trigger, data)

    # -- triggers -------------------------------------------------------------------------------------------------
    def native_trigger(self, spec: FunctionSpec) -> NativeTrigger:
        return check_trigger(spec)

    # -- running --------------------------------------------------------------------------------------------------
    def invoke(self, app: App, function: str, native: Any) -> Any:
        from .driver import AzureDriver

        return AzureDriver().invoke_native(app, function, native)

    def driver(self) -> Driver:
        from .driver import AzureDriver

        return AzureDriver()

    # -- packaging ------------------------------------------------------------------------------------------------
    def deployment_warnings(self, app: App, deployment: Any) -> list[str]:
        """Where Azure behaves differently from the other targets for this app (``portafunc inspect`` and
        ``package`` show them): host.json holds one queue retry delay for the whole app."""
        from .package import host_json_limits

        return host_json_limits(app)

    def package(self, request: PackageRequest) -> PackageResult:
        from .package import package

        return package(self, request)


def _check_variant(variant: str | None, kind: str) -> str:
    choices = VARIANTS[kind]
    if not variant:
        return choices[0]
    if variant not in choices:
        raise EventDecodeError(f"unknown Azure {kind} variant {variant!r}", expected=", ".join(choices))
    return variant
