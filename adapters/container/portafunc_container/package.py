"""``portafunc package --target container``: the image's build context and every platform's manifests.

``dist/container/`` gets ``context/`` (Dockerfile, requirements.txt, ``site/`` with portafunc, this adapter and the
adapters whose backends the bindings use, ``app/`` with the project), a reproducible ``.tar.gz`` of that context
(what ``docker build - < FILE`` reads; its sha256 names the image tag), and ``cloudrun/``, ``containerapps/`` and
``knative/``. Built with :class:`portafunc.packaging.steps.ArtifactBuild` up to the zip, which a container does not
have: only the dependencies are installed in the image (``pip`` for the image's own Python), portafunc's
distributions are vendored from this installation, so no index needs them.

``requirements.txt`` lists what the app's functions use, each line once: gunicorn (the server), the client library
of each kind of resource a platform's bindings reach (:func:`used_sdks`: Pub/Sub, Cloud Storage and Firestore through
portafunc-gcp on Cloud Run; Storage Queues, Event Grid, Blob Storage and Tables through portafunc-azure on Container
Apps), what the app needs of portafunc's optional dependencies (pydantic, PyJWT for a ``JwtAuth``) and every one of
the user's lines. What the function targets' own runtimes need (functions-framework, azure-functions, the GCP push
token check's PyJWT) and what only packaging uses (PyYAML) stay out.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import shutil
import tarfile
from importlib.metadata import PackageNotFoundError, requires
from pathlib import Path
from typing import Any

from portafunc.packaging.build import PackagingError, clean_dir, requirement_name, vendor_portafunc
from portafunc.targets import PackageRequest, PackageResult, Target

from .deploy import cloudrun, containerapps, dockerfile, knative

PLATFORMS = {"cloudrun": cloudrun, "containerapps": containerapps, "knative": knative}
SERVER = "gunicorn"  # of portafunc-container's own dependencies, the one the image runs
ARCHITECTURES = {"x86_64": "amd64", "amd64": "amd64", "arm64": "arm64", "aarch64": "arm64"}  # --arch → the image's
_EPOCH = 315532800  # 1980-01-01: fixed times make the context archive reproducible


def backends_needed(deployment: Any, platforms: list[str]) -> list[tuple[str, str]]:
    """(platform, distribution) whose backends the platform's bindings use, when the app binds anything."""
    if not deployment.resources:
        return []
    return [(p, PLATFORMS[p].BACKENDS) for p in platforms if getattr(PLATFORMS[p], "BACKENDS", None)]


def used_sdks(app: Any, deployment: Any, platforms: list[str]) -> set[str]:
    """The client libraries (normalised names) the platforms' bindings reach for this app's functions."""
    used: set[str] = set()
    for platform in platforms:
        sdks = getattr(PLATFORMS[platform], "used_sdks", None)
        if sdks is not None and deployment.resources:
            used |= {requirement_name(r) for r in sdks(app, deployment)}
    return used


def left_out(dists: list[str], keep: set[str]) -> set[str]:
    """The runtime dependencies of ``dists`` (portafunc-container and the vendored adapters) the image does not need:
    all but the server and ``keep`` (the SDKs the bindings reach, what the app needs of portafunc's extras)."""
    names = {requirement_name(r) for dist in dists for r in (requires(dist) or []) if "extra ==" not in r}
    return names - keep - {SERVER} - {n for n in names if n.startswith("portafunc")}


def _options(deployment: Any) -> list[str]:
    table = deployment.config.targets.get("container", {}) if hasattr(deployment.config, "targets") else {}
    unknown = sorted(set(table) - {"platforms"})
    if unknown:
        raise PackagingError(f"[targets.container]: unknown option(s) {', '.join(unknown)}; known: platforms")
    platforms = table.get("platforms", list(PLATFORMS))
    if not isinstance(platforms, list) or not platforms or any(p not in PLATFORMS for p in platforms):
        raise PackagingError(f"[targets.container] platforms = {platforms!r}: a non-empty list of "
                             f"{', '.join(PLATFORMS)}")
    return list(platforms)


def image_arch(arch: str, platforms: list[str]) -> str:
    """The image's architecture (``amd64``, ``arm64``) for ``--arch``, refused when a platform cannot run it."""
    image = ARCHITECTURES.get(arch)
    if image is None:
        raise PackagingError(f"--arch {arch}: the image is built for x86_64 (amd64) or arm64")
    refusing = [p for p in platforms if image not in PLATFORMS[p].ARCHITECTURES]
    if refusing:
        why = "; ".join(f"{PLATFORMS[p].TITLE} runs {' and '.join('linux/' + a for a in PLATFORMS[p].ARCHITECTURES)}"
                        " images only" for p in refusing)
        keep = [p for p in platforms if p not in refusing] \
            or [p for p in PLATFORMS if image in PLATFORMS[p].ARCHITECTURES]
        listed = ", ".join(f'"{p}"' for p in keep)
        raise PackagingError(f"--arch {arch}: {why}. Leave {' and '.join(refusing)} out with [targets.container] "
                             f"platforms = [{listed}], or build for --arch x86_64")
    return image


def package(target: Target, request: PackageRequest) -> PackageResult:
    from portafunc.packaging.closure import runtime_requirements
    from portafunc.packaging.steps import Artifact, ArtifactBuild, install_requirements

    app, functions = request.checked_app(target)
    deployment = request.resources()
    platforms = _options(deployment)
    arch = image_arch(request.arch, platforms)
    out = clean_dir(request.out_dir)
    with ArtifactBuild(request, "portafunc_container", "portafunc-container") as build:
        build.copy_project("app")
        site = build.vendor("site")
        adapters: list[str] = []
        for platform, dist in backends_needed(deployment, platforms):
            try:
                requires(dist)
            except PackageNotFoundError:
                raise PackagingError(f"the {platform} manifests bind this app's resources through {dist}'s "
                                     f"backends, which is not installed: install it, or leave {platform} out with "
                                     "[targets.container] platforms = [...]") from None
            if dist not in adapters:
                build.say(f"vendoring {dist} (the {platform} bindings use its backends)")
                vendor_portafunc(site, dist.replace("-", "_"), dist)
                adapters.append(dist)
        needed = runtime_requirements(app, request.project_dir, request.requirements)
        keep = used_sdks(app, deployment, platforms) | {requirement_name(r) for r in needed}
        dists = ["portafunc", "portafunc-container", *adapters]
        # each line once: an adapter's PyJWT and the one a JwtAuth needs are the same line
        requirements = list(dict.fromkeys(install_requirements(dists, request.requirements, build.say,
                                                               needed=needed, leave_out=left_out(dists[1:], keep))))
        _, timeout = _settings(deployment)
        build.write({"requirements.txt": "\n".join(requirements) + "\n",
                     "Dockerfile": dockerfile.render(app_name=app.name, app_ref=request.app_ref,
                                                     python=request.python, timeout=timeout + 30, arch=arch),
                     ".dockerignore": "**/__pycache__\n**/*.pyc\n"})
        # the image compiles its own .pyc (for the image's Python); the context ships sources only
        shutil.copytree(build.stage, out / "context")
        archive = out / f"{app.name}-container-context.tar.gz"
        build.say(f"writing {archive.name}")
        size, count, digest = write_tar(build.stage, archive)
        image = f"{app.name.lower()}:{digest[:12]}"
        manifests: dict[str, str] = {}
        for platform in platforms:
            build.say(f"writing {platform} manifests")
            (out / platform).mkdir()
            manifests.update({f"{platform}/{name}": text
                              for name, text in PLATFORMS[platform].render(app, deployment, image, arch).items()})
        return build.result(target.name, Artifact(archive, size, count, digest), manifests, functions)


def _settings(deployment: Any) -> tuple[int, int]:
    from .deploy.common import settings

    return settings(deployment)


def write_tar(src: Path, path: Path) -> tuple[int, int, str]:
    """A reproducible gzip'd tar of ``src``: sorted entries, fixed times, owners and modes."""
    buffer = io.BytesIO()
    files = sorted(p for p in src.rglob("*") if p.is_file())
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for file in files:
            info = tarfile.TarInfo(file.relative_to(src).as_posix())
            data = file.read_bytes()
            info.size, info.mtime, info.mode, info.uid, info.gid = len(data), _EPOCH, 0o644, 0, 0
            tar.addfile(info, io.BytesIO(data))
    raw = io.BytesIO()
    with gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, compresslevel=9) as gz:
        gz.write(buffer.getvalue())
    path.write_bytes(raw.getvalue())
    return path.stat().st_size, len(files), hashlib.sha256(raw.getvalue()).hexdigest()
