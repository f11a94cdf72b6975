"""``portafunc package --target aws|azure|gcp``: check the app against the target, then let the target build.

The frame (discovery, trigger checks, progress, summary, exit codes) is shared; each adapter's ``Target.package``
does the cloud-specific part with the helpers in :mod:`.build`.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from ..errors import PortafuncError, UnsupportedTrigger
from ..targets import PackageRequest, PackageResult


def build_package(target_name: str, app_ref: str | None, *, project_dir: str | Path | None = None,
          out: str | Path = "dist", python: str | None = None, arch: str = "x86_64",
          progress: Any = None) -> PackageResult:
    """Build the artifact for one target; raises UnsupportedTrigger / PortafuncError on bad input.

    (Not named ``build``: that is the helpers submodule, whose import would shadow the function on the package.)
    """
    from ..loader import load_app
    from ..targets import get_target
    from .build import read_requirements, trigger_check

    target = get_target(target_name)
    app, project, ref = load_app(app_ref, project_dir)
    functions = trigger_check(app, target)
    py = python or f"{sys.version_info.major}.{sys.version_info.minor}"
    if py not in ("3.10", "3.11", "3.12", "3.13"):
        raise PortafuncError(f"--python {py}: supported versions are 3.10, 3.11, 3.12 and 3.13")
    request = PackageRequest(app_ref=ref, project_dir=project, out_dir=Path(out).resolve() / target.name,
                             python=py, arch=arch, requirements=read_requirements(project), progress=progress,
                             app=app, functions=functions)
    started = time.perf_counter()
    result = target.package(request)
    result.seconds = time.perf_counter() - started
    return result


def package_cli(args: Any) -> int:
    def progress(message: str) -> None:
        print(f"  … {message}", file=sys.stderr, flush=True)

    try:
        result = build_package(args.target, args.app or args.path, project_dir=args.path if args.app else None,
                       out=args.out, python=args.python, arch=args.arch, progress=progress)
    except UnsupportedTrigger as exc:
        print(f"portafunc: cannot package for {exc.target}: {exc}", file=sys.stderr)
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
    return 0
