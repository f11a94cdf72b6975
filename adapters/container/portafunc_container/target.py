"""The ``container`` target: wires the codecs, trigger table, runtime, driver and packager; nothing else."""

from __future__ import annotations

from typing import Any

from portafunc.app import App, FunctionSpec
from portafunc.events import Message
from portafunc.targets import Driver, NativeKind, NativeTrigger, PackageRequest, PackageResult, Target as _Target
from portafunc.targets import receivers

from . import codecs, triggers


class Target(_Target):
    name = triggers.NAME
    trigger_table = triggers
    codec_table = codecs
    distribution = "portafunc-container"

    def uncarried(self, kind: str, variant: str | None = None) -> frozenset[str]:
        if kind == "http":
            return frozenset({"headers.repeated"})  # a WSGI server joins repeated request headers with commas
        if kind == "message" and variant in (None, "", "cloudevent", "cloudevent-structured"):
            return frozenset({"delivery_attempt"})  # CloudEvents push formats carry no delivery count
        return frozenset()

    def native_kind(self, native: Any) -> NativeKind | None:
        """The request as the service reads it: an event function's when it carries an event of its family (a
        CloudEvent, a Pub/Sub push, a Cloud Scheduler POST), an HTTP function's otherwise."""
        from .codecs import cloudevents, queue, schedule

        try:
            events = self.decode(native)
            carried = cloudevents.decode(native) if cloudevents.is_cloudevent(native) else []
        except Exception:  # noqa: BLE001 - unreadable: invoke reports it in the service's words
            return None
        if not events:
            return None
        kinds = receivers(events)
        if schedule.is_scheduler(native):
            return NativeKind("a Cloud Scheduler request", kinds)
        if carried:
            ce_type = carried[0].type
            if ce_type == queue.PUBSUB_TYPE:
                return NativeKind("a Pub/Sub CloudEvent", kinds)
            return NativeKind(f"a CloudEvent of type {ce_type}", kinds)
        if isinstance(events[0], Message):
            return NativeKind("a Pub/Sub push message", kinds)
        try:  # a push envelope the message codec reads, sent without a JSON content type
            queue.decode(native)
        except Exception:  # noqa: BLE001 - no message in it: a plain request
            return NativeKind("an HTTP request", kinds)
        return NativeKind("a Pub/Sub push message", kinds | {"queue", "topic"})

    def native_trigger(self, spec: FunctionSpec) -> NativeTrigger:
        return triggers.native_trigger(spec)

    def invoke(self, app: App, function: str, native: Any) -> Any:
        from .driver import invoke

        return invoke(app, function, native)

    def driver(self) -> Driver:
        from .driver import ContainerDriver

        return ContainerDriver()

    def package(self, request: PackageRequest) -> PackageResult:
        from .package import package

        return package(self, request)

    def name_rules(self) -> dict[str, Any]:
        return triggers.name_rules()

    def check_deployment(self, deployment: Any) -> list[str]:
        """What the packager refuses in the configuration: unknown or bad ``[targets.container]`` options."""
        from portafunc.packaging.build import PackagingError

        from .package import _options

        try:
            _options(deployment)
        except PackagingError as exc:
            return [str(exc)]
        return []
