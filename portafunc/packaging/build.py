"""Building blocks every target's packager uses: copy sources, vendor portafunc, fetch platform wheels, compile
bytecode, write a reproducible zip.

Reproducible means: same inputs, same bytes — entries sorted, timestamps fixed (1980-01-01, the zip epoch),
permissions normalised, ``.pyc`` written in unchecked-hash mode (no source mtime inside), no build-time paths.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable

from ..app import App
from ..errors import PortafuncError, UnsupportedTrigger

if TYPE_CHECKING:
    from ..targets import Target

ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
_SKIP_DIRS = {"__pycache__", ".git", ".venv", "venv", "dist", "build", ".pytest_cache", ".hypothesis", "node_modules",
              ".tools", ".mypy_cache", ".ruff_cache", "tests"}
_SKIP_SUFFIXES = (".pyc", ".pyo", ".egg-info")
CACHE_DIR = Path(os.environ.get("PORTAFUNC_CACHE_DIR", Path.home() / ".cache" / "portafunc"))

Progress = Callable[[str], None]


class PackagingError(PortafuncError):
    """The artifact cannot be built; the message says which input is at fault."""


def _say(progress: Progress | None, message: str) -> None:
    if progress is not None:
        progress(message)


def trigger_check(app: App, target: Target) -> list[tuple[str, str]]:
    """(function, native trigger) for every function; raises the first UnsupportedTrigger (exit code 2)."""
    rows = []
    for spec in app:
        native = target.native_trigger(spec)
        rows.append((spec.name, str(native)))
    return rows


def copy_project(project_dir: Path, dest: Path) -> list[Path]:
    """Copy the user's sources (not tests, venvs, caches or earlier builds) into ``dest``; returns copied files."""
    copied: list[Path] = []
    project_dir = project_dir.resolve()
    for root, dirs, files in os.walk(project_dir):
        dirs[:] = sorted(d for d in dirs if d not in _SKIP_DIRS and not d.endswith(_SKIP_SUFFIXES)
                         and not d.startswith("."))
        for name in sorted(files):
            if name.endswith(_SKIP_SUFFIXES) or name.startswith("."):
                continue
            src = Path(root) / name
            rel = src.relative_to(project_dir)
            target = dest / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, target)
            copied.append(target)
    return copied


def vendor_portafunc(dest: Path, adapter_module: str, adapter_dist: str | None = None) -> None:
    """Copy the installed ``portafunc`` core and one adapter package into ``dest`` with minimal dist-info.

    The dist-info carries the entry points (``portafunc.targets``/``portafunc.backends``), so plugin discovery works
    inside the artifact exactly as in a pip install — and the artifact never needs portafunc published on an index.
    """
    from importlib import import_module
    from importlib.metadata import distribution

    for module_name, dist_name in (("portafunc", "portafunc"),
                                   (adapter_module, adapter_dist or adapter_module.replace("_", "-"))):
        module = import_module(module_name)
        src = Path(module.__file__ or "").resolve().parent
        _copy_tree(src, dest / module_name)
        dist = distribution(dist_name)
        info = dest / f"{dist_name.replace('-', '_')}-{dist.version}.dist-info"
        info.mkdir(parents=True, exist_ok=True)
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist_name}\nVersion: {dist.version}\n")
        entry_points = dist.read_text("entry_points.txt") or ""
        # The pytest plugin entry point is for developers' machines, not deployed functions.
        lines, skip = [], False
        for line in entry_points.splitlines():
            if line.startswith("["):
                skip = line.strip() in ("[pytest11]", "[console_scripts]")
            if not skip:
                lines.append(line)
        (info / "entry_points.txt").write_text("\n".join(lines).strip() + "\n")
        (info / "top_level.txt").write_text(module_name + "\n")
        (info / "RECORD").write_text("")


def _copy_tree(src: Path, dest: Path) -> None:
    for root, dirs, files in os.walk(src):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in sorted(files):
            if name.endswith((".pyc", ".pyo")):
                continue
            path = Path(root) / name
            out = dest / path.relative_to(src)
            out.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, out)


def pip_install_target(requirements: Iterable[str], dest: Path, *, python: str, platform: list[str] | None = None,
                       implementation: str = "cp", progress: Progress | None = None) -> None:
    """Install ``requirements`` into ``dest`` as the target platform needs them.

    With ``platform`` (e.g. ``["manylinux2014_x86_64"]``) only binary wheels for that platform and ``python`` are
    accepted, so a compiled dependency (pydantic-core) is the cloud's build, not this machine's. Wheels are cached
    under ``~/.cache/portafunc`` so a second build does not download again.
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
    _say(progress, f"resolving {len(reqs)} requirement(s) for {platform or 'this platform'} / Python {python}")
    # Warm builds resolve from the wheel cache alone; only a miss asks the index.
    offline = [sys.executable, "-m", "pip", "download", *common, *target_args, "-d", str(wheel_dir),
               "--no-index", "--find-links", str(wheel_dir), *reqs]
    proc = subprocess.run(offline, capture_output=True, text=True)
    if proc.returncode != 0:
        _say(progress, "downloading wheels")
        download = [sys.executable, "-m", "pip", "download", *common, *target_args, "-d", str(wheel_dir),
                    "--find-links", str(wheel_dir), *reqs]
        proc = subprocess.run(download, capture_output=True, text=True)
    if proc.returncode != 0:
        raise PackagingError(_explain_pip_failure(proc.stderr, reqs, platform, python))
    _say(progress, "installing wheels into the artifact")
    install = [sys.executable, "-m", "pip", "install", *common, *target_args, "--no-index", "--find-links",
               str(wheel_dir), "--target", str(dest), "--no-compile", "--upgrade", *reqs]
    proc = subprocess.run(install, capture_output=True, text=True)
    if proc.returncode != 0:
        raise PackagingError(_explain_pip_failure(proc.stderr, reqs, platform, python))
    # pip --target leaves absolute paths and install times in RECORD/INSTALLER/direct_url: drop them.
    for extra in dest.glob("*.dist-info"):
        for name in ("RECORD", "INSTALLER", "direct_url.json", "REQUESTED"):
            (extra / name).unlink(missing_ok=True)
    shutil.rmtree(dest / "bin", ignore_errors=True)


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


def find_python(version: str) -> str | None:
    """An interpreter that really runs as exactly ``version`` (``3.12``) on this machine, or None.

    ``python3.12`` on PATH may be a pyenv shim that fails to run, so each candidate is asked for its version.
    """
    if f"{sys.version_info.major}.{sys.version_info.minor}" == version:
        return sys.executable
    candidate = shutil.which(f"python{version}")
    if candidate is None:
        return None
    try:
        proc = subprocess.run([candidate, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                              capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return candidate if proc.returncode == 0 and proc.stdout.strip() == version else None


def compile_pyc(dest: Path, python: str, progress: Progress | None = None) -> bool:
    """Write ``__pycache__/*.cpython-XY.pyc`` for the target Python (unchecked-hash: reproducible, no stat).

    Bytecode is version specific, so it is compiled by an interpreter of the target version; without one on this
    machine the artifact ships sources only (still correct, slower first import) and this returns False.
    """
    interpreter = find_python(python)
    if interpreter is None:
        _say(progress, f"no python{python} on this machine: shipping sources without .pyc")
        return False
    _say(progress, f"compiling .pyc for Python {python}")
    code = ("import compileall, sys, py_compile;"
            "ok = compileall.compile_dir(sys.argv[1], quiet=2, workers=1, "
            "invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH, ddir='');"
            "sys.exit(0 if ok else 1)")
    proc = subprocess.run([interpreter, "-c", code, str(dest)], capture_output=True, text=True,
                          env={**os.environ, "PYTHONHASHSEED": "0"})
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


def read_requirements(project_dir: Path) -> list[str]:
    """The user's ``requirements.txt`` lines (comments and options dropped)."""
    req = project_dir / "requirements.txt"
    if not req.is_file():
        return []
    out = []
    for line in req.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            out.append(line)
    return out


__all__ = ["PackagingError", "UnsupportedTrigger", "clean_dir", "compile_pyc", "copy_project", "find_python",
           "pip_install_target", "read_requirements", "trigger_check", "vendor_portafunc", "write_zip"]
