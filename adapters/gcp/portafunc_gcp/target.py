"""The ``gcp`` target (found via ``portafunc.targets``): wires the codecs, the trigger table, the invoke harness, the
contract-test driver and the packager together."""

from __future__ import annotations

from typing import Any

from portafunc.app import App, FunctionSpec
from portafunc.targets import Driver, NativeTrigger, PackageRequest, PackageResult, Target as _Target

from . import codecs, triggers
from .triggers import check_trigger


class Target(_Target):
    name = "gcp"
    trigger_table = triggers
    codec_table = codecs
    distribution = "portafunc-gcp"

    def native_trigger(self, spec: FunctionSpec) -> NativeTrigger:
        return check_trigger(spec)

    def deployed_trigger(self, spec: FunctionSpec, deployment: Any) -> NativeTrigger | None:
        """An HTTP function in the per-route layout (``[targets.gcp] http = "per-route"``): a function of its own,
        not a route of the app's one service (None: :meth:`native_trigger`'s)."""
        native = check_trigger(spec)
        if spec.kind != "http" or deployment is None:
            return None
        from .deploy.script import options

        if options(deployment)["http"] != "per-route":
            return None
        return NativeTrigger("HTTP function of its own (per-route layout)", native.detail)

    def invoke(self, app: App, function: str, native: Any) -> Any:
        from .harness import harness_for

        return harness_for(app).send(function, native)

    def driver(self) -> Driver:
        from .driver import GcpDriver

        return GcpDriver()

    def package(self, request: PackageRequest) -> PackageResult:
        from .package import package

        return package(self, request)

    def name_rules(self) -> dict[str, Any]:
        """Cloud Run service names of functions (``portafunc inspect`` and the frame check collisions)."""
        from .deploy.script import _service_name

        return {"function": lambda name: _service_name(f"app-{name}")}

    def check_deployment(self, deployment: Any) -> list[str]:
        """What this target refuses in the configuration: unknown or bad ``[targets.gcp]`` options."""
        from portafunc.packaging.build import PackagingError

        from .deploy.script import options

        try:
            options(deployment)
        except PackagingError as exc:
            return [str(exc)]
        return []


