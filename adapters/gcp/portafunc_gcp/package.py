"""``portafunc package --target gcp``: a source zip Cloud Functions Gen2 builds, plus ``deploy.sh``.

Vendoring vs remote build: Gen2 always runs a Cloud Build (Google's Python buildpack) that ``pip install``s
``requirements.txt`` on the runtime's own Linux image, so third-party dependencies — including compiled ones
(grpcio, pydantic-core) — are left to that remote build: it gets the right platform wheels without us guessing, and
the upload stays small. What that build cannot fetch is portafunc itself (it need not be published anywhere), so the
core and ``portafunc_gcp`` are vendored into the zip with their dist-info (entry points keep working), compiled to
``.pyc`` for the target Python. The user's code goes under ``app/`` so a user module named ``main`` never collides
with the generated ``main.py``.

Layout of ``dist/gcp/``::

    <app>-gcp.zip        main.py, requirements.txt, .gcloudignore, portafunc/, portafunc_gcp/, *.dist-info, app/
    main.py, requirements.txt, deploy.sh     (copies for review; deploy.sh deploys the zip's contents)

``requirements.txt`` is a lock: every package Cloud Build installs, with the exact version resolved at package time
for the runtime's platform (see :mod:`.deploy.lock`). ``deploy.sh`` is described in :mod:`.deploy.script`.

HTTP layout: by default every HTTP route is served by one function, ``<app>-http`` (one base URL, routed inside);
``[targets.gcp] http = "per-route"`` in the configuration file deploys one function per HTTP route instead.
"""

from __future__ import annotations

import re
from importlib.metadata import requires
from typing import Any

from portafunc.packaging.closure import runtime_requirements
from portafunc.packaging.build import PackagingError, clean_dir, compile_pyc, copy_project, vendor_portafunc, \
    write_zip
from portafunc.targets import PackageRequest, PackageResult

from .deploy.script import deploy_name, deployed_functions, options, render_deploy
from .deploy.main_py import render_main
from .deploy.lock import lock

_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def _say(request: PackageRequest, message: str) -> None:
    if request.progress is not None:
        request.progress(message)


def _req_name(line: str) -> str:
    match = _NAME.match(line)
    return re.sub(r"[-_.]+", "-", match.group(1)).lower() if match else line.strip().lower()


def requirements(user: list[str]) -> list[str]:
    """The runtime requirements: core + adapter dependencies (minus portafunc itself, vendored) and the user's lines;
    a package the user names keeps the user's pin."""
    ours: dict[str, str] = {}
    for dist in ("portafunc", "portafunc-gcp"):
        for line in requires(dist) or []:
            if "extra ==" in line:
                continue
            name = _req_name(line)
            if name.startswith("portafunc"):
                continue
            ours[name] = line.split(";")[0].strip()
    theirs = {_req_name(line): line for line in user if not _req_name(line).startswith("portafunc")}
    merged = {**ours, **theirs}
    return [merged[k] for k in sorted(merged)]


def deployment_of(request: PackageRequest) -> Any:
    """The resource model to deploy: what the frame computed, else the app's with the project's configuration."""
    dep = getattr(request, "deployment", None)
    if dep is None:
        from portafunc.config import load_config

        dep = request.app.resources(load_config(request.project_dir, getattr(request, "stage", None)))
    return dep


def package(target: Any, request: PackageRequest, layout: str | None = None) -> PackageResult:
    app, rows = request.checked_app(target)
    deployment = deployment_of(request)
    layout = layout or options(deployment)["http"]
    prefix = f"{app.name}-{deployment.stage}" if deployment.stage else app.name
    deployed_functions(app, layout, prefix)  # name collisions after Cloud Run's mangling stop the build here
    ref = request.app_ref
    out = request.out_dir
    out.mkdir(parents=True, exist_ok=True)
    stage = clean_dir(out / "build")
    _say(request, "copying your code into app/")
    copy_project(request.project_dir, stage / "app")
    _say(request, "vendoring portafunc and portafunc_gcp")
    vendor_portafunc(stage, "portafunc_gcp", "portafunc-gcp")
    main_py = render_main(app, ref, root="app")
    needed = runtime_requirements(app, request.project_dir, request.requirements)  # pydantic for a typed app
    pins = lock(requirements(request.requirements + needed), request.python, request.progress)
    (stage / "main.py").write_text(main_py, encoding="utf-8")
    (stage / "requirements.txt").write_text(
        "# Installed by Cloud Functions' remote build (Cloud Build); portafunc itself is vendored in this zip.\n"
        f"# Locked at package time for CPython {request.python} on manylinux x86_64: exact versions only.\n"
        + "\n".join(pins) + "\n", encoding="utf-8")
    (stage / ".gcloudignore").write_text("# everything in this folder is the function's source\n", encoding="utf-8")
    compile_pyc(stage, request.python, request.progress)
    zip_path = out / f"{app.name}-gcp.zip"
    _say(request, f"writing {zip_path.name}")
    size, count, digest = write_zip(stage, zip_path)
    manifests = []
    for name, text in (("main.py", main_py), ("requirements.txt", (stage / "requirements.txt").read_text()),
                       ("deploy.sh", render_deploy(app, zip_path.name, request.python, layout=layout,
                                                    deployment=deployment))):
        path = out / name
        path.write_text(text, encoding="utf-8")
        manifests.append(path)
    (out / "deploy.sh").chmod(0o755)
    if not any(p.name == "main.py" for p in stage.iterdir()):
        raise PackagingError("main.py was not written")  # pragma: no cover - defensive
    return PackageResult(target="gcp", artifact=zip_path, manifest_files=manifests, functions=rows, size=size,
                         file_count=count, sha256=digest)


__all__ = ["deploy_name", "package", "render_deploy", "requirements"]
