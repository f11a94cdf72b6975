"""Building blocks every target's packager uses: copy sources, vendor portafunc, fetch platform wheels, compile
bytecode, write a reproducible zip.

Reproducible means: same inputs, same bytes — entries sorted, timestamps fixed (1980-01-01, the zip epoch),
permissions normalised, ``.pyc`` written in unchecked-hash mode (no source mtime inside), no build-time paths.
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Collection, Iterable, Iterator, Mapping

from ..app import App
from ..errors import PortafuncError, UnsupportedTrigger

if TYPE_CHECKING:
    from ..targets import Target

ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
CACHE_DIR = Path(os.environ.get("PORTAFUNC_CACHE_DIR", Path.home() / ".cache" / "portafunc"))

Progress = Callable[[str], None]


# Swagger UI (portafunc/_swagger_ui, about 490 KB compressed) is vendored only for an app with a docs route.
_SWAGGER_UI = "_swagger_ui"
_vendor_swagger_ui: contextvars.ContextVar[bool] = contextvars.ContextVar("portafunc_vendor_swagger_ui",
                                                                          default=True)


@contextlib.contextmanager
def vendoring_for(app: App) -> Iterator[None]:
    """While packaging ``app``: ``vendor_portafunc`` leaves out the Swagger UI files unless the app serves a docs
    route (``App(docs_route=...)``), so other apps' artifacts do not carry them."""
    token = _vendor_swagger_ui.set(getattr(app, "docs_route", None) is not None)
    try:
        yield
    finally:
        _vendor_swagger_ui.reset(token)


class PackagingError(PortafuncError):
    """The artifact cannot be built; the message says which input is at fault."""


def _say(progress: Progress | None, message: str) -> None:
    if progress is not None:
        progress(message)


def trigger_check(app: App, target: Target, deployment: Any = None) -> list[tuple[str, str]]:
    """(function, native trigger) for every function; raises the first UnsupportedTrigger (exit code 2)."""
    return [(spec.name, str(native_trigger(target, spec, deployment))) for spec in app]


def native_trigger(target: Target, spec: Any, deployment: Any = None) -> Any:
    """What ``spec``'s trigger becomes on ``target`` in this deployment: a target may describe it differently when
    the configuration changes what is built (``deployed_trigger(spec, deployment)``, e.g. an existing queue)."""
    deployed = getattr(target, "deployed_trigger", None)
    found = deployed(spec, deployment) if callable(deployed) and deployment is not None else None
    return found if found is not None else target.native_trigger(spec)


DEFAULT_EXCLUDES = (
    # hidden files and directories (.env, .git/, .venv/, credential folders, editor and tool state)
    ".*",
    # secrets and local settings
    "local.settings.json", "*.env", "*.pem", "*.key", "*.p12", "*.pfx", "id_rsa*", "credentials",
    "credentials.json", "service-account*.json",
    # development files and build output
    "tests/", "dist/", "build/", "venv/", "node_modules/", "__pycache__/", "*.pyc", "*.pyo", "*.egg-info/",
    "*.ipynb",
)
"""Kept out of every artifact, before ``.portafuncignore`` and ``exclude =`` of the configuration file (whose
``!pattern`` lines bring a file back). Patterns are gitignore-like: ``name/`` is a directory anywhere, ``*.pem`` a
file name anywhere, ``conf/local.json`` a path from the project root."""


def ignore_patterns(project_dir: Path) -> list[str]:
    """The defaults, then ``.portafuncignore`` lines, then ``exclude`` of the configuration file."""
    patterns = list(DEFAULT_EXCLUDES)
    ignore_file = project_dir / ".portafuncignore"
    if ignore_file.is_file():
        for line in ignore_file.read_text(encoding="utf-8").splitlines():
            line = line.strip()
            if line and not line.startswith("#"):
                patterns.append(line)
    from ..config import find

    _, table = find(project_dir)
    patterns.extend(p for p in table.get("exclude", []) if isinstance(p, str))
    return patterns


def is_excluded(rel: str, is_dir: bool, patterns: list[str]) -> bool:
    """gitignore-like matching of one project-relative POSIX path; the last matching pattern decides."""
    from fnmatch import fnmatchcase

    name = rel.rsplit("/", 1)[-1]
    excluded = False
    for raw in patterns:
        negate = raw.startswith("!")
        pattern = raw[1:] if negate else raw
        dir_only = pattern.endswith("/")
        pattern = pattern.strip("/")
        if dir_only and not is_dir:
            continue
        hit = fnmatchcase(rel, pattern) if "/" in pattern else fnmatchcase(name, pattern)
        if hit:
            excluded = not negate
    return excluded


def copy_project(project_dir: Path, dest: Path) -> list[Path]:
    """Copy the user's sources into ``dest`` minus :data:`DEFAULT_EXCLUDES`, ``.portafuncignore`` and the
    configuration file's ``exclude``; returns the copied files."""
    copied: list[Path] = []
    project_dir = project_dir.resolve()
    patterns = ignore_patterns(project_dir)
    for root, dirs, files in os.walk(project_dir):
        base = Path(root).relative_to(project_dir).as_posix()
        prefix = "" if base == "." else base + "/"
        dirs[:] = sorted(d for d in dirs if not is_excluded(prefix + d, True, patterns))
        for name in sorted(files):
            if is_excluded(prefix + name, False, patterns):
                continue
            src = Path(root) / name
            target = dest / (prefix + name)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, target)
            copied.append(target)
    return copied


def vendor_portafunc(dest: Path, adapter_module: str, adapter_dist: str | None = None, *,
                     entries: Iterable[str] | None = None, app: App | None = None, deployment: Any = None,
                     requirements: Iterable[str] = (), families: Mapping[str, Collection[str]] | None = None,
                     project_dir: Path | None = None) -> list[str]:
    """Copy the installed ``portafunc`` core and one adapter package into ``dest`` with minimal dist-info.

    The dist-info carries the entry points (``portafunc.targets``/``portafunc.backends``), so plugin discovery works
    inside the artifact exactly as in a pip install — and the artifact never needs portafunc published on an index.
    With ``entries`` (the adapter's run-time entry modules), ``app`` and its ``deployment``, only what the deployed
    app can import is copied (:mod:`portafunc.packaging.closure`; ``families`` and ``project_dir`` as there);
    returns the modules copied (all when None).

    The dist-info is what ``importlib.metadata`` reads at run time: ``METADATA`` (name, version) and
    ``entry_points.txt`` when some entry point is left; no ``RECORD``/``top_level.txt`` (installers' files).
    """
    from importlib import import_module
    from importlib.metadata import distribution

    dists = (("portafunc", "portafunc"), (adapter_module, adapter_dist or adapter_module.replace("_", "-")))
    closure = None
    if entries is not None and app is not None and deployment is not None:
        from .closure import runtime_modules

        plugins: dict[str, list[str]] = {}
        for _, dist_name in dists:
            for ep in distribution(dist_name).entry_points:
                if ep.group != "portafunc.targets":
                    plugins.setdefault(ep.group, []).append(ep.value.partition(":")[0].strip())
        closure = runtime_modules(app, deployment, adapter_module, entries, plugins,
                                  [requirement_name(r) for r in requirements], families=families,
                                  project_dir=project_dir)
    for module_name, dist_name in dists:
        module = import_module(module_name)
        src = Path(module.__file__ or "").resolve().parent
        if closure is None:
            leave_out = () if module_name != "portafunc" or _vendor_swagger_ui.get() else (_SWAGGER_UI,)
            _copy_tree(src, dest / module_name, leave_out)
        else:
            for path in closure.files():
                if path.is_relative_to(src):
                    out = dest / module_name / path.relative_to(src)
                    out.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(path, out)
            if module_name == "portafunc" and "portafunc.docs_ui" in closure.modules:
                _copy_tree(src / _SWAGGER_UI, dest / module_name / _SWAGGER_UI)  # its files, not modules
        dist = distribution(dist_name)
        info = dest / f"{dist_name.replace('-', '_')}-{dist.version}.dist-info"
        info.mkdir(parents=True, exist_ok=True)
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist_name}\nVersion: {dist.version}\n")
        entry_points = dist.read_text("entry_points.txt") or ""
        # The pytest plugin and the command line are for developers' machines, not deployed functions; a plugin
        # whose module was left out (its feature unused) is not advertised.
        lines, skip = [], False
        for line in entry_points.splitlines():
            if line.startswith("["):
                skip = line.strip() in ("[pytest11]", "[console_scripts]")
            elif closure is not None and "=" in line and not skip:
                target_module = line.partition("=")[2].partition(":")[0].strip()
                if target_module not in closure.modules and not line.startswith("["):
                    continue
            if not skip:
                lines.append(line)
        advertised = _without_empty_groups(lines)
        if advertised.strip():
            (info / "entry_points.txt").write_text(advertised)
    return sorted(closure.modules) if closure is not None else []


def _without_empty_groups(lines: list[str]) -> str:
    """``entry_points.txt`` text without the ``[group]`` headers left with no entry."""
    out: list[str] = []
    for line in lines:
        if line.startswith("[") and out and out[-1].startswith("["):
            out[-1] = line  # the previous group had no entry
        elif line.strip() or (out and not out[-1].startswith("[")):
            out.append(line)
    if out and out[-1].startswith("["):
        out.pop()
    return "\n".join(out).strip() + "\n"


def _copy_tree(src: Path, dest: Path, leave_out: tuple[str, ...] = ()) -> None:
    for root, dirs, files in os.walk(src):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__" and not (root == str(src) and d in leave_out))
        for name in sorted(files):
            if name.endswith((".pyc", ".pyo")):
                continue
            path = Path(root) / name
            out = dest / path.relative_to(src)
            out.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, out)


def pip_install_target(requirements: Iterable[str], dest: Path, *, python: str, platform: list[str] | None = None,
                       implementation: str = "cp", progress: Progress | None = None,
                       options: Iterable[str] = ()) -> None:
    """Install ``requirements`` into ``dest`` as the target platform needs them.

    With ``platform`` (e.g. ``["manylinux2014_x86_64"]``) only binary wheels for that platform and ``python`` are
    accepted, so a compiled dependency (pydantic-core) is the cloud's build, not this machine's. The index is always
    asked which versions to use (``options``: the requirement file's ``-c``, ``--index-url``, ``--extra-index-url``,
    ``--find-links`` lines); wheels already downloaded under ``~/.cache/portafunc`` are reused, never preferred. A
    requirement published only as an sdist is built into a wheel here when it is pure Python (``py3-none-any``).
    """
    reqs = sorted({r.strip() for r in requirements if r.strip() and not r.strip().startswith("#")})
    if not reqs:
        return
    wheel_dir = CACHE_DIR / "wheels" / f"{implementation}{python}-{'-'.join(platform or ['native'])}"
    wheel_dir.mkdir(parents=True, exist_ok=True)
    common = ["--disable-pip-version-check", "--no-input", "-q"]
    target_args: list[str] = []
    if platform:
        target_args += ["--only-binary=:all:", "--python-version", python, "--implementation", implementation]
        for tag in platform:
            target_args += ["--platform", tag]
    import tempfile

    with tempfile.TemporaryDirectory(prefix="portafunc-reqs-") as tmp:
        req_file = Path(tmp) / "requirements.txt"
        req_file.write_text("\n".join([*options, *reqs]) + "\n", encoding="utf-8")
        resolved = Path(tmp) / "resolved"  # exactly this build's wheels: the index's answer, from the cache if there
        resolved.mkdir()
        _say(progress, f"resolving {len(reqs)} requirement(s) for {platform or 'this platform'} / Python {python} "
                       "(asking the index)")
        download = [sys.executable, "-m", "pip", "download", *common, *target_args, "-d", str(resolved),
                    "--find-links", str(wheel_dir), "-r", str(req_file)]
        built: set[str] = set()
        while True:
            proc = subprocess.run(download, capture_output=True, text=True)
            if proc.returncode == 0:
                break
            missing = _missing_distribution(proc.stderr)
            if not platform or missing is None or missing in built:
                raise PackagingError(_explain_pip_failure(proc.stderr, reqs, platform, python))
            built.add(missing)
            _build_pure_wheel(missing, wheel_dir, Path(tmp), [*options], progress, proc.stderr, platform, python)
        for wheel in resolved.iterdir():
            if not (wheel_dir / wheel.name).exists():
                shutil.copyfile(wheel, wheel_dir / wheel.name)
        _say(progress, "installing wheels into the artifact")
        install_file = Path(tmp) / "install.txt"
        install_file.write_text("\n".join(reqs) + "\n", encoding="utf-8")
        install = [sys.executable, "-m", "pip", "install", *common, *target_args, "--no-index", "--find-links",
                   str(resolved), "--target", str(dest), "--no-compile", "--upgrade", "-r", str(install_file)]
        proc = subprocess.run(install, capture_output=True, text=True)
        if proc.returncode != 0:
            raise PackagingError(_explain_pip_failure(proc.stderr, reqs, platform, python))
    # pip --target leaves absolute paths and install times in RECORD/INSTALLER/direct_url: drop them.
    for extra in dest.glob("*.dist-info"):
        for name in ("RECORD", "INSTALLER", "direct_url.json", "REQUESTED"):
            (extra / name).unlink(missing_ok=True)
    shutil.rmtree(dest / "bin", ignore_errors=True)


def _missing_distribution(stderr: str) -> str | None:
    for line in stderr.splitlines():
        if "No matching distribution found for" in line:
            return line.split("for", 1)[1].strip()
    return None


def _build_pure_wheel(requirement: str, wheel_dir: Path, tmp: Path, options: list[str], progress: Progress | None,
                      stderr: str, platform: list[str], python: str) -> None:
    """Build ``requirement`` from its sdist; keep the wheel only if it is pure Python (runs on any platform)."""
    _say(progress, f"{requirement}: no wheel for {', '.join(platform)}; building it from its sdist")
    out = tmp / "built"
    out.mkdir(exist_ok=True)
    opts_file = tmp / "options.txt"
    opts_file.write_text("\n".join([*options, requirement]) + "\n", encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--disable-pip-version-check", "--no-input", "-q",
                           "--no-deps", "--no-binary", ":all:", "-w", str(out), "-r", str(opts_file)],
                          capture_output=True, text=True)
    wheels = list(out.glob("*.whl"))
    if proc.returncode != 0 or not wheels:
        raise PackagingError(_explain_pip_failure(stderr, [requirement], platform, python))
    for wheel in wheels:
        if not wheel.name.endswith("-none-any.whl"):
            raise PackagingError(f"dependency {requirement!r} has no wheel for {', '.join(platform)} / CPython "
                                 f"{python} and its sdist builds a platform-specific wheel ({wheel.name}) here, "
                                 "which would not run in the cloud; pin a version that publishes a wheel")
        shutil.move(str(wheel), wheel_dir / wheel.name)


def _explain_pip_failure(stderr: str, reqs: list[str], platform: list[str] | None, python: str) -> str:
    missing = ""
    for line in stderr.splitlines():
        if "No matching distribution found for" in line:
            missing = line.split("for", 1)[1].strip()
            break
        if "Could not find a version that satisfies the requirement" in line:
            missing = line.split("requirement", 1)[1].split("(")[0].strip()
    where = f"{', '.join(platform)} / CPython {python}" if platform else f"Python {python}"
    if missing:
        return (f"dependency {missing!r} has no compatible wheel for {where}; pin a version that publishes one "
                "or drop it")
    tail = "\n".join(stderr.strip().splitlines()[-5:])
    return f"resolving dependencies for {where} failed ({', '.join(reqs)}):\n{tail}"


def _candidates(version: str) -> list[str]:
    """Interpreters that may be ``version``: on PATH, installed by pyenv, installed by uv."""
    import glob

    found = [c for c in (shutil.which(f"python{version}"),) if c]
    pyenv_root = os.environ.get("PYENV_ROOT") or str(Path.home() / ".pyenv")
    found += sorted(glob.glob(f"{pyenv_root}/versions/{version}.*/bin/python{version}"), reverse=True)
    uv_dirs = [os.environ.get("UV_PYTHON_INSTALL_DIR") or "", str(Path.home() / ".local/share/uv/python")]
    for uv_dir in filter(None, uv_dirs):
        found += sorted(glob.glob(f"{uv_dir}/cpython-{version}.*/bin/python{version}"), reverse=True)
    uv = shutil.which("uv")
    if uv:
        try:
            proc = subprocess.run([uv, "python", "find", version], capture_output=True, text=True, timeout=20)
            if proc.returncode == 0 and proc.stdout.strip():
                found.append(proc.stdout.strip())
        except (OSError, subprocess.TimeoutExpired):
            pass
    return list(dict.fromkeys(found))


def find_python(version: str) -> str | None:
    """An interpreter that really runs as exactly ``version`` (``3.12``) on this machine, or None.

    Looked for on PATH, under pyenv (``$PYENV_ROOT/versions``) and uv (``uv python find``, its install directory).
    ``python3.12`` on PATH may be a pyenv shim that fails to run, so each candidate is asked for its version.
    """
    if f"{sys.version_info.major}.{sys.version_info.minor}" == version:
        return sys.executable
    for candidate in _candidates(version):
        try:
            proc = subprocess.run([candidate, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                                  capture_output=True, text=True, timeout=20)
        except (OSError, subprocess.TimeoutExpired):
            continue
        if proc.returncode == 0 and proc.stdout.strip() == version:
            return candidate
    return None


DEFAULT_PYTHON = "3.12"


def choose_python(requested: str | None, target: str, progress: Progress | None = None) -> str:
    """The target Python: ``requested`` (``--python`` or the configuration's ``python``), else 3.12. Refuses an
    unsupported version; warns when the cloud has deprecated it or when no interpreter of it is here (no ``.pyc``)."""
    from datetime import date

    from ..config import SUPPORTED_PYTHONS
    from ..targets import get_target

    version = requested or DEFAULT_PYTHON
    if version not in SUPPORTED_PYTHONS:
        raise PackagingError(f"--python {version}: supported versions are {', '.join(SUPPORTED_PYTHONS)}")
    support = get_target(target).python_support()
    ends = support.get(version)
    if ends and date.fromisoformat(ends) <= date.today():
        _say(progress, f"WARNING: {target} deprecated Python {version} on {ends}: no more security patches, and "
                       f"function creation and updates will be blocked; use --python "
                       f"{max(v for v in SUPPORTED_PYTHONS if v in support)}")
    if find_python(version) is None:
        here = [v for v in SUPPORTED_PYTHONS if v != version and find_python(v)]
        _say(progress, f"WARNING: no python{version} found here (PATH, pyenv, uv): the artifact ships without .pyc, "
                       "so every cold start compiles its imports (about twice as slow); install it (uv python install "
                       f"{version}) or package for a version found here ({', '.join(here) or 'none'})")
    return version


# Run by the target Python: each ``.py`` under the given folders becomes ``name.pyc`` beside it (no source, no
# ``__pycache__``), compiled from its syntax tree with module/class/function docstrings removed (asserts kept: not
# ``optimize=2``), in unchecked-hash form so the bytes depend on the source only. PYTHONNODEBUGRANGES (set by the
# caller) leaves out the column tables that only point carets under a source line, which such files do not have.
_BYTECODE_ONLY = r"""
import ast, importlib.util, marshal, pathlib, sys
root = pathlib.Path(sys.argv[1])
failed = []
for top in sys.argv[2:]:
    for path in sorted((root / top).rglob("*.py")):
        source = path.read_bytes()
        try:
            tree = ast.parse(source, str(path))
        except (SyntaxError, ValueError):
            failed.append(str(path.relative_to(root)))
            continue
        for node in ast.walk(tree):
            body = getattr(node, "body", None)
            if (isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and body
                    and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
                    and isinstance(body[0].value.value, str)):
                if len(body) == 1:
                    body[0] = ast.copy_location(ast.Pass(), body[0])
                else:
                    del body[0]
        code = compile(tree, path.relative_to(root).as_posix(), "exec", dont_inherit=True)
        header = importlib.util.MAGIC_NUMBER + (1).to_bytes(4, "little") + importlib.util.source_hash(source)
        path.with_suffix(".pyc").write_bytes(header + marshal.dumps(code))
        path.unlink()
print("\n".join(failed))
"""


def compile_pyc(dest: Path, python: str, progress: Progress | None = None, *,
                bytecode_only: Iterable[str] = ()) -> bool:
    """Write ``__pycache__/*.cpython-XY.pyc`` for the target Python (unchecked-hash: reproducible, no stat).

    The top-level folders named in ``bytecode_only`` (portafunc's own vendored packages) ship as bytecode without
    their sources: ``module.pyc`` in place of ``module.py``, docstrings and column tables left out. Their
    tracebacks show file and line, not the source line. Everything else keeps its sources beside the cache.

    Bytecode is version specific, so it is compiled by an interpreter of the target version; without one on this
    machine the artifact ships sources only (still correct, slower first import) and this returns False.
    """
    interpreter = find_python(python)
    if interpreter is None:
        _say(progress, f"no python{python} on this machine: shipping sources without .pyc")
        return False
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    tops = [top for top in bytecode_only if (dest / top).is_dir()]
    if tops:
        _say(progress, f"compiling {', '.join(tops)} to bytecode without sources or docstrings for Python {python}")
        proc = subprocess.run([interpreter, "-c", _BYTECODE_ONLY, str(dest), *tops], capture_output=True, text=True,
                              env={**env, "PYTHONNODEBUGRANGES": "1"})
        if proc.returncode != 0:
            raise PackagingError(f"compiling {', '.join(tops)} for Python {python} failed: "
                                 f"{proc.stderr.strip()[-300:]}")
        for kept in filter(None, proc.stdout.splitlines()):
            _say(progress, f"{kept} does not compile for Python {python}: shipped as source")
    _say(progress, f"compiling .pyc for Python {python}")
    code = ("import compileall, sys, py_compile;"
            "ok = compileall.compile_dir(sys.argv[1], quiet=2, workers=1, "
            "invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH, ddir='');"
            "sys.exit(0 if ok else 1)")
    proc = subprocess.run([interpreter, "-c", code, str(dest)], capture_output=True, text=True, env=env)
    # compileall exits 1 when one vendored file does not compile for the target (e.g. py2-only test data): that
    # file ships as source and the rest as bytecode. Anything else (the interpreter did not run) is a failure.
    if proc.returncode not in (0, 1) or not any(dest.rglob("*.pyc")):
        _say(progress, f"compiling .pyc failed ({proc.stderr.strip()[-200:]}): shipping sources")
        return False
    return True


def write_zip(src: Path, zip_path: Path) -> tuple[int, int, str]:
    """A reproducible zip of ``src``: sorted entries, fixed times and modes. Returns (size, file count, sha256)."""
    zip_path.parent.mkdir(parents=True, exist_ok=True)
    files = sorted(p for p in src.rglob("*") if p.is_file())
    tmp = zip_path.with_suffix(".zip.tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for path in files:
            rel = path.relative_to(src).as_posix()
            info = zipfile.ZipInfo(rel, date_time=ZIP_EPOCH)
            mode = 0o755 if os.access(path, os.X_OK) and path.suffix in ("", ".sh") else 0o644
            info.external_attr = (0o100000 | mode) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3
            zf.writestr(info, path.read_bytes(), compresslevel=9)
    os.replace(tmp, zip_path)
    digest = hashlib.sha256(zip_path.read_bytes()).hexdigest()
    return zip_path.stat().st_size, len(files), digest


def clean_dir(path: Path) -> Path:
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


_ALLOWED_OPTIONS = {"-c": "-c", "--constraint": "-c", "-i": "--index-url", "--index-url": "--index-url",
                    "--extra-index-url": "--extra-index-url", "-f": "--find-links", "--find-links": "--find-links",
                    "--trusted-host": "--trusted-host", "--pre": "--pre", "--prefer-binary": "--prefer-binary",
                    "--require-hashes": "--require-hashes"}
_REFUSED_OPTIONS = {
    "-e": "an editable install points at a directory on this machine: put the code in the project, or build a wheel",
    "--editable": "an editable install points at a directory on this machine: put the code in the project, or "
                  "build a wheel",
    "--no-binary": "the artifact needs binary wheels for the cloud's platform; a source build here would be this "
                   "machine's",
    "--no-index": "the index is asked for every build; put the wheels in a --find-links directory instead",
}


def _requirement_lines(path: Path, seen: set[Path]) -> list[tuple[Path, int, str]]:
    """(file, line number, line) of ``path`` with ``-r`` files expanded, comments and continuations handled."""
    path = path.resolve()
    if path in seen:
        raise PackagingError(f"{path}: included twice by -r (a loop)")
    seen.add(path)
    if not path.is_file():
        raise PackagingError(f"requirements file {path} does not exist")
    out: list[tuple[Path, int, str]] = []
    pending = ""
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.split(" #", 1)[0].strip() if not raw.lstrip().startswith("#") else ""
        if line.endswith("\\"):
            pending += line[:-1].rstrip() + " "
            continue
        line, pending = (pending + line).strip(), ""
        if not line:
            continue
        flag, _, value = line.partition(" ") if line.startswith("-") else ("", "", "")
        if "=" in flag and flag.startswith("--"):
            flag, _, value = flag.partition("=")
        if flag in ("-r", "--requirement"):
            out.extend(_requirement_lines(path.parent / value.strip(), seen))
        else:
            out.append((path, number, line))
    return out


def _parse_requirements(project_dir: Path) -> tuple[list[str], list[str]]:
    req = project_dir / "requirements.txt"
    if not req.is_file():
        return [], []
    requirements: list[str] = []
    options: list[str] = []
    for path, number, line in _requirement_lines(req, set()):
        if not line.startswith("-"):
            requirements.append(line)
            continue
        flag, sep, value = line.partition("=") if line.startswith("--") and "=" in line.split(" ")[0] \
            else line.partition(" ")
        value = value.strip()
        where = f"{path.name} line {number}"
        if flag in _REFUSED_OPTIONS:
            raise PackagingError(f"{where}: {line!r} cannot be honoured: {_REFUSED_OPTIONS[flag]}")
        if flag not in _ALLOWED_OPTIONS:
            raise PackagingError(f"{where}: option {flag!r} is not supported in a deploy build (supported: -r, "
                                 "-c, --index-url, --extra-index-url, --find-links, --trusted-host, --pre, "
                                 "--prefer-binary, --require-hashes)")
        canonical = _ALLOWED_OPTIONS[flag]
        if canonical in ("-c", "--find-links") and value and "://" not in value:
            value = str((path.parent / value).resolve())
            if canonical == "-c" and not Path(value).is_file():
                raise PackagingError(f"{where}: constraints file {value} does not exist")
        options.append(f"{canonical} {value}".strip())
    return requirements, options


_OWN = re.compile(r"^portafunc([-_.][a-z0-9]+)?$", re.IGNORECASE)  # the core and any target's distribution


def requirement_name(requirement: str) -> str:
    """The normalised distribution name of a requirement line (``Google_Cloud-Vision>=3`` → ``google-cloud-vision``)."""
    return re.split(r"[\s<>=!~;\[@]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-").replace(".", "-")


#: What an app's features need at run time beyond the core (the ``portafunc[jwt]`` extra): shipped with the artifact
#: when the app uses the feature and the user's requirements do not name the distribution already.
JWT_REQUIREMENT = "PyJWT[crypto]>=2.8"


def with_app_extras(app: Any, requirements: list[str]) -> list[str]:
    """``requirements`` plus PyJWT when an HTTP function of ``app`` verifies bearer tokens (``JwtAuth``)."""
    from ..auth import JwtAuth

    uses_jwt = any(isinstance(getattr(spec.trigger, "auth", None), JwtAuth) for spec in app)
    if uses_jwt and not any(requirement_name(r) == "pyjwt" for r in requirements):
        return [*requirements, JWT_REQUIREMENT]
    return requirements


def users_requirements(requirements: list[str], progress: Progress | None = None) -> list[str]:
    """What a packager installs of the user's lines: all of them — an SDK of another cloud is the user's choice —
    except portafunc's own distributions, which are vendored from this installation."""
    out = []
    for req in requirements:
        name = requirement_name(req)
        if _OWN.match(name):
            _say(progress, f"leaving out {req}: portafunc and its adapter are vendored from this installation")
            continue
        out.append(req)
    return out


def read_requirements(project_dir: Path) -> list[str]:
    """The user's requirement lines from ``requirements.txt``, ``-r`` files included; an option line that cannot
    be honoured is refused by name (PackagingError), never dropped."""
    return _parse_requirements(project_dir)[0]


def read_pip_options(project_dir: Path) -> list[str]:
    """The honoured option lines (``-c FILE`` with absolute paths, index and find-links options) for pip."""
    return _parse_requirements(project_dir)[1]


__all__ = ["DEFAULT_EXCLUDES", "PackagingError", "UnsupportedTrigger", "choose_python", "clean_dir", "compile_pyc",
           "copy_project", "find_python", "ignore_patterns", "is_excluded", "pip_install_target", "read_pip_options",
           "read_requirements", "requirement_name", "native_trigger", "trigger_check", "users_requirements", "vendor_portafunc",
           "vendoring_for", "write_zip"]
