"""``portafunc package --target aws|azure|gcp``: check the app against the target, then let the target build.

The frame (discovery, trigger checks, progress, summary, exit codes) is shared; each adapter's ``Target.package``
does the cloud-specific part with the helpers in :mod:`.build`.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from ..errors import UnsupportedTrigger
from ..targets import PackageRequest, PackageResult


def build_package(target_name: str, app_ref: str | None, *, project_dir: str | Path | None = None,
                  out: str | Path = "dist", python: str | None = None, arch: str = "x86_64",
                  progress: Any = None, stage: str | None = None) -> PackageResult:
    """Build the artifact for one target; raises UnsupportedTrigger / PortafuncError on bad input.

    The app is imported with the configuration file's app-wide ``env`` for ``stage`` (:func:`..config.deployed_env`),
    as the deployed functions import it. Everything the target would refuse is found before anything is built: a
    handler whose annotations do not resolve, the resource model and the configuration file
    (``app.resources(load_config(project, stage))``), unsupported triggers, the target's own checks (name
    collisions after its mangling, limits, secret references), the Python version and the requirement lines.
    (Not named ``build``: that is the helpers submodule, whose import would shadow the function on the package.)
    """
    from ..config import deployed_env, load_config
    from ..loader import load_app, resolve_ref
    from ..targets import get_target
    from .build import (PackagingError, choose_python, read_pip_options, read_requirements, trigger_check,
                        vendoring_for, with_app_extras)
    from .inspection import check_call_plans, target_problems, target_warnings

    target = get_target(target_name)
    config = load_config(resolve_ref(app_ref, project_dir)[0], stage)
    with deployed_env(config) as env:  # the app computes at import what the deployed functions compute
        note = env.note()
        if note and progress is not None:
            progress(note)
        app, project, ref = load_app(app_ref, project_dir)
        check_call_plans(app)
        deployment = app.resources(config)
        functions = trigger_check(app, target, deployment)
        problems = target_problems(target, deployment, app)
    if problems:
        raise PackagingError(f"{target.name} refuses this deployment:\n  - " + "\n  - ".join(problems))
    py = choose_python(python or config.python, target.name, progress)
    request = PackageRequest(app_ref=ref, project_dir=project, out_dir=Path(out).resolve() / target.name,
                             python=py, arch=arch, requirements=with_app_extras(app, read_requirements(project)),
                             progress=progress,
                             app=app, functions=functions, stage=stage, deployment=deployment,
                             pip_options=read_pip_options(project))
    started = time.perf_counter()
    with vendoring_for(app):
        result = target.package(request)
    result.seconds = time.perf_counter() - started
    result.warnings = target_warnings(target, app, deployment)
    return result


def package_cli(args: Any) -> int:
    def progress(message: str) -> None:
        print(f"  … {message}", file=sys.stderr, flush=True)

    from .build import PackagingError

    try:
        result = build_package(args.target, args.app or args.path, project_dir=args.path if args.app else None,
                               out=args.out, python=args.python, arch=args.arch, progress=progress,
                               stage=getattr(args, "stage", None))
    except UnsupportedTrigger as exc:
        print(f"portafunc: cannot package for {exc.target}: {exc}", file=sys.stderr)
        return 2
    except PackagingError as exc:
        print(f"portafunc: cannot package: {exc}", file=sys.stderr)
        return 2
    print(f"packaged {len(result.functions)} function(s) for {result.target} in {result.seconds:.1f}s")
    width = max((len(name) for name, _ in result.functions), default=8)
    for name, native in result.functions:
        print(f"  {name:<{width}}  {native}")
    print(f"artifact  {result.artifact}")
    for manifest in result.manifest_files:
        print(f"manifest  {manifest}")
    print(f"size      {result.size:,} bytes, {result.file_count} files")
    print(f"sha256    {result.sha256}")
    for warning in result.warnings:  # last, where they are seen: the deployment will not do what the app declares
        print(f"portafunc: warning: {result.target} differs: {warning}", file=sys.stderr)
    return 0
