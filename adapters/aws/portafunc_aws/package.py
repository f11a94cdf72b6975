"""``portafunc package --target aws``: a Lambda zip with vendored dependencies, and a SAM ``template.yaml``.

The zip holds the user's project, the portafunc core and this adapter (with dist-info, so entry points work), and the
dependencies as ``manylinux2014`` wheels for the chosen CPython and architecture, with ``.pyc`` for that Python when
an interpreter of that version is available here. boto3/botocore are left to the Lambda runtime unless the user's
requirements pin them. Every requirement of the user's goes in, whichever cloud it is for: only portafunc's own
distributions are chosen per target (the core and this adapter are vendored; the other adapters are left out).
"""

from __future__ import annotations

import tempfile
import time
from importlib.metadata import requires
from pathlib import Path

from portafunc.packaging.closure import runtime_requirements
from portafunc.packaging.build import (Progress, clean_dir, compile_pyc, copy_project, pip_install_target,
                                       requirement_name, users_requirements, vendor_portafunc, write_zip)
from portafunc.targets import PackageRequest, PackageResult, Target

from .deploy.sam import build_template, to_yaml

RUNTIME_PROVIDED = {"boto3", "botocore", "s3transfer", "jmespath"}
RUNTIME_ENTRIES = ["portafunc_aws.runtime"]  # what Lambda imports: the handler every function is set to
_EVENTS = ("queue", "topic", "storage", "schedule")  # the runtime loads these families' codecs together
#: Modules the runtime imports only for events of some trigger families (after checking that the function serves
#: such events): an app without a function of those families ships without them.
FAMILY_MODULES = {
    "portafunc_aws.codecs.queue": _EVENTS, "portafunc_aws.codecs.topic": _EVENTS,
    "portafunc_aws.codecs.storage": _EVENTS, "portafunc_aws.codecs.eventbridge": _EVENTS,
    "portafunc_aws.codecs.schedule": _EVENTS, "portafunc.kit.records": _EVENTS,
    "portafunc.kit.storage_filter": _EVENTS,
    "portafunc.kit.dead_letter": ("queue", "topic"),  # a message that failed its last attempt of an SQS delivery
    "portafunc_aws.inbound": ("topic",),  # SNS HTTP(S) deliveries go to topic functions only
}
VENDORED = ("portafunc", "portafunc_aws")


def dependencies(user_requirements: list[str], say: Progress | None = None, needed: list[str] | None = None
                 ) -> list[str]:
    """What pip installs into the artifact: the core's runtime deps, what this app needs of portafunc's optional
    ones (``needed``: pydantic for an app that validates with it), and every one of the user's (portafunc's own are
    vendored instead); boto3 and its companions are left to the Lambda runtime unless the user names them."""
    core = [r for r in (requires("portafunc") or []) if "extra ==" not in r] + list(needed or [])
    out = core + users_requirements(user_requirements, say)
    named = {requirement_name(r) for r in user_requirements}
    return [r for r in out if requirement_name(r) not in RUNTIME_PROVIDED or requirement_name(r) in named]


def package(request: PackageRequest) -> PackageResult:
    say = request.progress or (lambda message: None)
    started = time.perf_counter()
    app, functions = request.checked_app(_target())
    deployment = request.resources()
    project, ref = request.project_dir, request.app_ref
    arch = "arm64" if request.arch in ("arm64", "aarch64") else "x86_64"
    out_dir = request.out_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    zip_name = f"{app.name}-lambda-py{request.python}-{arch}.zip"
    with tempfile.TemporaryDirectory(prefix="portafunc-aws-") as tmp:
        stage = clean_dir(Path(tmp) / "stage")
        say("copying project sources")
        copy_project(project, stage)
        say("vendoring portafunc and portafunc-aws")
        vendor_portafunc(stage, "portafunc_aws", "portafunc-aws", entries=RUNTIME_ENTRIES, app=app,
                         deployment=deployment, requirements=request.requirements, families=FAMILY_MODULES,
                         project_dir=project)
        platform = "manylinux2014_aarch64" if arch == "arm64" else "manylinux2014_x86_64"
        needed = runtime_requirements(app, project, request.requirements)
        pip_install_target(dependencies(request.requirements, say, needed), stage, python=request.python,
                           platform=[platform], progress=say, options=request.pip_options)
        sources = bool(deployment.config.targets.get("aws", {}).get("sources", False))
        if sources:
            say("[targets.aws] sources = true: portafunc ships its sources beside the .pyc")
        compile_pyc(stage, request.python, progress=say, bytecode_only=() if sources else VENDORED)
        say(f"writing {zip_name}")
        size, count, digest = write_zip(stage, out_dir / zip_name)
    template = out_dir / "template.yaml"
    say("writing template.yaml")
    template.write_text(to_yaml(build_template(app, app_ref=ref, code_uri=zip_name, python=request.python,
                                               arch=arch, deployment=deployment)) + "\n", encoding="utf-8")
    return PackageResult(target="aws", artifact=out_dir / zip_name, manifest_files=[template], functions=functions,
                         size=size, file_count=count, sha256=digest, seconds=time.perf_counter() - started)


def _target() -> Target:
    from portafunc.targets import get_target

    return get_target("aws")
