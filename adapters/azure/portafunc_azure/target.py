"""The Azure target (found via ``portafunc.targets``): wires the codecs, the trigger table, the driver and the
packager together."""

from __future__ import annotations

from typing import Any, Mapping

from portafunc.app import App, FunctionSpec
from portafunc.events import HttpRequest, ScheduleEvent, StorageEvent
from portafunc.targets import Driver, NativeKind, NativeTrigger, PackageRequest, PackageResult
from portafunc.targets import Target as BaseTarget

from . import codecs, triggers
from .triggers import check_trigger


class Target(BaseTarget):
    name = "azure"
    trigger_table = triggers
    codec_table = codecs
    distribution = "portafunc-azure"

    # -- codecs ---------------------------------------------------------------------------------------------------
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

    def native_kind(self, native: Any) -> NativeKind | None:
        """The event as the Functions host hands it over: a Storage Queue message to a queue function, an Event Grid
        event to a topic function (a blob event too, read as a message) and a blob event to a storage function."""
        from .codecs import natives, queue

        try:
            events = self.decode(native)
            queued = queue.is_queue_message(natives.to_json(native))
        except Exception:  # noqa: BLE001 - unreadable: invoke reports it in the host's words
            return None
        if not events:
            return None
        first = events[0]
        if isinstance(first, HttpRequest):
            return NativeKind("an HTTP request", frozenset({"http"}))
        if isinstance(first, ScheduleEvent):
            return NativeKind("a TimerInfo timer tick", frozenset({"schedule"}))
        if queued:
            return NativeKind("a Storage Queue message", frozenset({"queue"}))
        if all(isinstance(e, StorageEvent) for e in events):
            return NativeKind("an Event Grid blob event", frozenset({"storage", "topic"}))
        blobs = any(isinstance(e, StorageEvent) for e in events)
        return NativeKind("an Event Grid event", frozenset({"storage", "topic"} if blobs else {"topic"}))

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
        ``package`` show them): host.json holds one queue retry delay for the whole app, and an existing resource
        gets no role from the template (the operator grants its credential)."""
        from .deploy import existing
        from .package import host_json_limits

        return host_json_limits(app) + existing.warnings(deployment)

    def name_rules(self) -> dict[str, Any]:
        """The Azure names of functions (the host compares them ignoring case), queues and blob containers (cleaned
        and cut to 63), Event Grid topics and tables: two logical names that become one are refused, never merged."""
        from .deploy.infra import kv_table, topic_resource_name

        return {"function": lambda name: triggers.function_name(name).upper(), "queue": triggers.queue_name,
                "bucket": triggers.queue_name, "topic": topic_resource_name, "kv": kv_table}

    def check_deployment(self, deployment: Any) -> list[str]:
        """What the template cannot build, found before the build: existing resources it cannot bind, settings one
        function app cannot hold (a variable or secret set differently by two functions), a configured ``python``
        Flex Consumption does not run."""
        from portafunc.packaging.build import PackagingError

        from .deploy import existing, infra

        problems = []
        python = deployment.config.python
        if python is not None and python not in infra.PYTHON_ON_FLEX:
            where = deployment.config.source.name if deployment.config.source else "the configuration"
            problems.append(f"python = {python!r} ({where}): Azure Functions (Flex Consumption) supports "
                            f"{', '.join(infra.PYTHON_ON_FLEX)}")
        try:
            infra.app_settings(deployment)
        except PackagingError as exc:
            problems.append(str(exc))
        return problems + existing.problems(deployment)

    def package(self, request: PackageRequest) -> PackageResult:
        from .package import package

        return package(self, request)


