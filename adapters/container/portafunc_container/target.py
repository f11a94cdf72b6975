"""The ``container`` target: wires the codecs, trigger table, runtime, driver and packager; nothing else."""

from __future__ import annotations

from typing import Any

from portafunc.app import App, FunctionSpec
from portafunc.targets import Driver, NativeTrigger, PackageRequest, PackageResult, Target as _Target

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


