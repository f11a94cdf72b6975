"""The packaging sequence every packager runs, in one place so the targets cannot drift apart.

A packager opens :class:`ArtifactBuild` and calls the steps it needs, in this order::

    with ArtifactBuild(request, "portafunc_azure", "portafunc-azure") as build:
        build.copy_project(reserved=("function_app.py", "host.json"))   # the user's sources, minus ignores
        site = build.vendor(".python_packages/lib/site-packages")       # core + adapter with .dist-info
        build.install(install_requirements(["portafunc", "portafunc-azure"], request.requirements), site,
                      platform=["manylinux2014_x86_64"])                 # third-party wheels for the target
        build.write({"function_app.py": source})                         # generated files
        artifact = build.zip(f"{app}.zip")                              # .pyc for the target Python, then the zip
        return build.result("azure", artifact, {"deploy.sh": ...}, functions)  # manifests beside the artifact

Choices made once for every target, where the packagers used to differ:

* the staging folder is a temporary directory, never left behind in ``--out``;
* a generated file never silently overwrites a user's file of the same name: :meth:`copy_project` refuses it;
* the user's honoured pip options (``-c``, index, find-links) reach every pip call;
* ``.pyc`` are compiled for the target Python (unchecked hash) just before zipping, so every file is covered;
* the zip is reproducible (sorted entries, fixed times and modes) and the result carries its size, file count,
  sha256 and the seconds the build took.

A container build stops before :meth:`zip` and uses :attr:`stage` as its image context.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Collection, Iterable, Mapping

from portafunc.packaging.build import (PackagingError, Progress, compile_pyc, copy_project, pip_install_target,
                                       requirement_name, users_requirements, vendor_portafunc, write_zip)
from portafunc.targets import PackageRequest, PackageResult


def install_requirements(dists: Iterable[str], user_requirements: list[str], progress: Progress | None = None,
                         *, needed: Iterable[str] = (), leave_out: Iterable[str] = ()) -> list[str]:
    """What pip installs next to the vendored code: the runtime dependencies of ``dists`` (read from their installed
    metadata, so a backend's SDK is never forgotten; extras and portafunc's own distributions left out), what this
    app needs of portafunc's optional ones (``needed``, e.g. pydantic for an app that validates with it), then every
    one of the user's lines (an SDK of another cloud is the user's choice). Both are kept when they name the same
    package, so pip resolves them together and refuses a conflict instead of one silently winning. ``leave_out``
    names packages the platform provides (boto3 on Lambda), dropped unless the user names them."""
    from importlib.metadata import requires

    ours = [r.split(";")[0].strip() for dist in dists for r in (requires(dist) or [])
            if "extra ==" not in r and not requirement_name(r).startswith("portafunc")]
    theirs = users_requirements(user_requirements, progress)
    provided = set(leave_out) - {requirement_name(r) for r in theirs}
    return [r for r in [*ours, *needed] if requirement_name(r) not in provided] + theirs


@dataclass(frozen=True)
class Artifact:
    """A written zip: where, how big, how many files, and its sha256 (the same bytes for the same inputs)."""

    path: Path
    size: int
    file_count: int
    sha256: str


class ArtifactBuild:
    """One artifact being built: a staging folder the steps fill, removed when the ``with`` block ends."""

    def __init__(self, request: PackageRequest, adapter_module: str, adapter_dist: str) -> None:
        self.request = request
        self.adapter_module = adapter_module
        self.adapter_dist = adapter_dist
        self.started = time.perf_counter()
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._stage: Path | None = None
        self._vendored: list[str] = []  # stage-relative folders of the vendored core and adapter

    # -- the folder ---------------------------------------------------------------------------------------------------
    def __enter__(self) -> ArtifactBuild:
        self._tmp = tempfile.TemporaryDirectory(prefix=f"{self.adapter_dist}-")
        self._stage = Path(self._tmp.name) / "stage"
        self._stage.mkdir()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    @property
    def stage(self) -> Path:
        """The staging folder: what ends up in the artifact, relative paths as in the artifact."""
        if self._stage is None:
            raise PackagingError("ArtifactBuild is used outside its `with` block")
        return self._stage

    def say(self, message: str) -> None:
        if self.request.progress is not None:
            self.request.progress(message)

    # -- the steps ----------------------------------------------------------------------------------------------------
    def copy_project(self, into: str = "", *, reserved: Iterable[str] = ()) -> list[Path]:
        """Copy the user's sources into ``into`` (minus the ignore rules). ``reserved`` are the files the packager
        generates at that place: a project file of the same name is refused, never overwritten."""
        project = self.request.project_dir
        for name in reserved:
            if (project / name).exists():
                raise PackagingError(f"{project / name} exists; portafunc writes its own {name}: rename yours")
        self.say(f"copying your code{' into ' + into + '/' if into else ''}")
        return copy_project(project, self.stage / into)

    def vendor(self, into: str = "", *, entries: Iterable[str] | None = None, app: Any = None,
               deployment: Any = None, families: Mapping[str, Collection[str]] | None = None) -> Path:
        """Copy the installed core and adapter into ``into`` with a minimal ``.dist-info`` each, so entry points
        (targets, backends) are found in the artifact as in a pip install. With ``entries`` (the adapter's run-time
        entry modules), ``app`` and ``deployment``, only what the deployed app can import is copied (``families``:
        see :func:`portafunc.packaging.closure.runtime_modules`)."""
        dest = self.stage / into
        dest.mkdir(parents=True, exist_ok=True)
        self.say(f"vendoring portafunc and {self.adapter_dist}")
        vendor_portafunc(dest, self.adapter_module, self.adapter_dist, entries=entries, app=app,
                         deployment=deployment, requirements=self.request.requirements, families=families,
                         project_dir=self.request.project_dir)
        self._vendored += [(Path(into) / name).as_posix() for name in ("portafunc", self.adapter_module)]
        return dest

    def install(self, requirements: list[str], dest: Path, *, platform: list[str] | None = None) -> None:
        """pip-install ``requirements`` into ``dest`` as wheels for the target Python and ``platform``, with the
        user's honoured pip options."""
        pip_install_target(requirements, dest, python=self.request.python, platform=platform, progress=self.say,
                           options=self.request.pip_options)

    def write(self, files: Mapping[str, str]) -> None:
        """Generated text files, relative to the artifact root."""
        for name, text in files.items():
            path = self.stage / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")

    def compile(self) -> bool:
        """``.pyc`` for the target Python; False (sources only) when no such interpreter is here. The vendored core
        and adapter ship as bytecode only (no sources, no docstrings) unless ``[targets.<name>] sources = true``:
        the deployment manifests pin the cloud's Python to the one compiled for."""
        sources = bool(self._target_options().get("sources", False))
        if sources and self._vendored:
            self.say(f"[targets.{self._target_name}] sources = true: portafunc ships its sources beside the .pyc")
        return compile_pyc(self.stage, self.request.python, progress=self.say,
                           bytecode_only=() if sources else self._vendored)

    @property
    def _target_name(self) -> str:
        return self.adapter_module.removeprefix("portafunc_")

    def _target_options(self) -> Mapping[str, Any]:
        """This target's table of the configuration file (``[targets.azure]``), empty when there is none."""
        deployment = self.request.deployment
        config = getattr(deployment, "config", None)
        targets = getattr(config, "targets", None) or {}
        return targets.get(self._target_name, {})

    def zip(self, name: str) -> Artifact:
        """Compile, then write the reproducible zip ``--out/name``."""
        self.compile()
        out = self.request.out_dir
        out.mkdir(parents=True, exist_ok=True)
        self.say(f"writing {name}")
        size, count, digest = write_zip(self.stage, out / name)
        return Artifact(out / name, size, count, digest)

    def result(self, target: str, artifact: Artifact, manifests: Mapping[str, str],
               functions: list[tuple[str, str]]) -> PackageResult:
        """Write ``manifests`` beside the artifact (``*.sh`` executable) and describe the build."""
        out = self.request.out_dir
        out.mkdir(parents=True, exist_ok=True)
        files = []
        for name, text in manifests.items():
            path = out / name
            path.write_text(text, encoding="utf-8")
            if name.endswith(".sh"):
                path.chmod(0o755)
            files.append(path)
        return PackageResult(target=target, artifact=artifact.path, manifest_files=files, functions=functions,
                             size=artifact.size, file_count=artifact.file_count, sha256=artifact.sha256,
                             seconds=time.perf_counter() - self.started)


__all__ = ["Artifact", "ArtifactBuild", "install_requirements"]
