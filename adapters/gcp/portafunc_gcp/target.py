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


