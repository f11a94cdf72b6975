"""The ``gcp`` target (found via ``portafunc.targets``): wires the codecs, the trigger table, the invoke harness, the
contract-test driver and the packager together."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from portafunc.app import App, FunctionSpec
from portafunc.errors import EventDecodeError
from portafunc.events import HttpRequest, Message, ScheduleEvent
from portafunc.targets import Driver, NativeKind, NativeTrigger, PackageRequest, PackageResult, Target as _Target

from . import codecs, triggers
from .triggers import check_trigger


class Target(_Target):
    name = "gcp"
    trigger_table = triggers
    codec_table = codecs
    distribution = "portafunc-gcp"

    def native_trigger(self, spec: FunctionSpec) -> NativeTrigger:
        return check_trigger(spec)

    def native_kind(self, native: Any) -> NativeKind | None:
        """The event as the function's service reads it. Every function is served over HTTP: an HTTP function's
        service takes any request that is no event, a schedule function's one that is no other event too (a manual
        run), and an event function's a Pub/Sub push or background event posted as it comes from the broker."""
        from .codecs import legacy, pubsub, storage

        if not isinstance(native, Mapping):
            return None  # the harness takes one event, a JSON object
        try:
            event = self.decode(native)[0]
        except Exception:  # noqa: BLE001 - unreadable: invoke reports it in the service's words
            return None
        if "specversion" in native:
            form = "CloudEvent"
        elif legacy.is_legacy(native):
            form = "background event"
        elif pubsub.is_push_envelope(native):
            return NativeKind("a Pub/Sub push message", _MESSAGE)
        elif storage.is_object_data(native):
            return NativeKind("a Cloud Storage object notification", _STORAGE)
        elif isinstance(event, HttpRequest):
            return _request_kind(event)
        elif isinstance(event, ScheduleEvent):
            return NativeKind("a Cloud Scheduler request", frozenset({"schedule"}))
        else:
            form = "CloudEvent"  # binary or structured mode
        if isinstance(event, Message):
            return NativeKind(f"a Pub/Sub {form}", _MESSAGE)
        return NativeKind(f"a Cloud Storage {form}", _STORAGE)

    def invoke(self, app: App, function: str, native: Any) -> Any:
        from .harness import harness_for

        return harness_for(app).send(function, native)

    def driver(self) -> Driver:
        from .driver import GcpDriver

        return GcpDriver()

    def package(self, request: PackageRequest) -> PackageResult:
        from .package import package

        return package(self, request)

    def deployed_trigger(self, spec: FunctionSpec, deployment: Any) -> NativeTrigger | None:
        """What the configuration changes of ``spec``'s native trigger (None: :meth:`native_trigger`'s): an HTTP
        function in the per-route layout (``[targets.gcp] http = "per-route"``) is a function of its own, not a
        route of the app's one service; a consumer's topic, queue or bucket may already exist."""
        if spec.kind == "http":
            from .deploy.script import options

            if deployment is None or options(deployment)["http"] != "per-route":
                return None
            return NativeTrigger("HTTP function of its own (per-route layout)", check_trigger(spec).detail)
        from .deploy.existing import deployed_trigger

        return deployed_trigger(spec, deployment)

    def deployment_warnings(self, app: App, deployment: Any) -> list[str]:
        """What deploy.sh does to resources the configuration names as existing (``portafunc inspect`` and
        ``package`` show them): it grants on them, so the operator needs rights where they live."""
        from .deploy.existing import warnings

        return warnings(app, deployment)

    def check_deployment(self, deployment: Any) -> list[str]:
        """What this target refuses in the configuration: unknown or bad ``[targets.gcp]`` options, an
        ``[existing.*] gcp`` URL of the wrong form for its kind."""
        from portafunc.packaging.build import PackagingError

        from .deploy.existing import check
        from .deploy.script import options

        problems = check(deployment)
        try:
            options(deployment)
        except PackagingError as exc:
            problems.append(str(exc))
        return problems

    def check_app(self, app: App, deployment: Any) -> list[str]:
        """What ``deploy.sh`` cannot deploy (``portafunc inspect`` and the frame ask before the build): two
        functions, or a function and the app's HTTP service, whose Cloud Run service names collide once cleaned and
        cut to 63 characters after ``<app>[-<stage>]-``; in the one-service HTTP layout, routes that mix
        ``auth='anonymous'`` and ``auth='function'`` (one IAM policy) or set one variable to different values (one
        environment)."""
        from portafunc.app import HttpTrigger
        from portafunc.packaging.build import PackagingError

        from .deploy.script import _merge_http, http_access, options, service_name_problems

        try:
            layout = options(deployment)["http"]
        except PackagingError:
            return []  # check_deployment says why
        prefix = f"{app.name}-{deployment.stage}" if deployment.stage else app.name
        problems = service_name_problems(app, layout, prefix)
        http = [spec for spec in app if isinstance(spec.trigger, HttpTrigger)]
        if layout == "service" and http:
            for check in (lambda: http_access(app),
                          lambda: _merge_http([deployment.functions[spec.name] for spec in http])):
                try:
                    check()
                except PackagingError as exc:
                    problems.append(str(exc))
        return problems


_MESSAGE = frozenset({"queue", "topic"})
_STORAGE = frozenset({"storage"})


def _request_kind(req: HttpRequest) -> NativeKind:
    """A plain HTTP request: an HTTP function's, and an event function's when its JSON body is the event a Pub/Sub
    push or a background event posts (its served entry reads that body); a schedule function's when it carries no
    other event (:func:`.codecs.schedule.refuse_other_event`, as the entry asks)."""
    from .codecs import decode, legacy, pubsub, schedule

    try:
        body = json.loads(req.body) if req.body else None
    except (ValueError, RecursionError):
        body = None
    if pubsub.is_push_envelope(body):
        return NativeKind("a Pub/Sub push message", _MESSAGE | {"http"})
    if legacy.is_legacy(body):
        try:
            carried = decode(body)[0]
        except Exception:  # noqa: BLE001 - not one the entry can read either: a request like any other
            carried = None
        if isinstance(carried, Message):
            return NativeKind("a Pub/Sub background event", _MESSAGE | {"http"})
        if carried is not None and not isinstance(carried, HttpRequest):
            return NativeKind("a Cloud Storage background event", _STORAGE | {"http"})
    try:
        schedule.refuse_other_event(req.headers, body)
    except EventDecodeError:
        return NativeKind("an HTTP request", frozenset({"http"}))
    return NativeKind("an HTTP request", frozenset({"http", "schedule"}))
