"""The exact versions Cloud Build will install: resolved at package time, written as ``name==version`` pins.

Cloud Functions always builds the source remotely (``pip install -r requirements.txt`` on Google's image). With open
ranges each build could resolve different versions than the last one, or than the tests saw; pinning the complete
set (dependencies of dependencies included) makes every remote build install the same thing. The resolution runs
``pip install --dry-run --report`` for the runtime's platform (manylinux x86_64, CPython of ``--python``), so the
pins are the ones that exist for the cloud, not for this machine.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

from portafunc.packaging.build import PackagingError

PLATFORMS = ("manylinux2014_x86_64", "manylinux_2_28_x86_64", "manylinux_2_17_x86_64")


def lock(requirements: list[str], python: str, progress: object = None, options: list[str] | None = None) -> list[str]:
    """``requirements`` (ranges) → every package to install with its exact version, sorted by name; ``options`` are
    the user's honoured pip options (constraints, indexes), so the lock resolves against what they name."""
    reqs = [r for r in requirements if r.strip()]
    if not reqs:
        return []
    if callable(progress):
        progress(f"locking {len(reqs)} requirement(s) for manylinux x86_64 / CPython {python}")
    with tempfile.TemporaryDirectory(prefix="portafunc-lock-") as tmp:
        report = Path(tmp) / "report.json"
        cmd = [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet", "--no-input",
               "--disable-pip-version-check", "--report", str(report), "--only-binary=:all:", "--python-version",
               python, "--implementation", "cp"]
        for tag in PLATFORMS:
            cmd += ["--platform", tag]
        proc = subprocess.run([*cmd, *(options or []), *reqs], capture_output=True, text=True)
        if proc.returncode != 0 or not report.is_file():
            tail = "\n".join(line for line in proc.stderr.strip().splitlines()[-6:] if "is ignored" not in line)
            raise PackagingError(f"could not resolve exact versions for CPython {python} on manylinux x86_64 "
                                 f"({', '.join(reqs)}):\n{tail}")
        installs = json.loads(report.read_text())["install"]
    pins = {item["metadata"]["name"].lower().replace("_", "-"): item["metadata"]["version"] for item in installs}
    return [f"{name}=={pins[name]}" for name in sorted(pins)]


__all__ = ["lock"]
