"""``portafunc`` as a user runs it: the real command line in a fresh interpreter, for the suites that check its
output (inspect, package)."""

from __future__ import annotations

import subprocess
import sys


def portafunc_cli(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "portafunc.cli", *args], capture_output=True, text=True,
                          timeout=timeout)


def refused(done: subprocess.CompletedProcess[str]) -> str:
    """The one error line of a refused ``portafunc invoke``, after checking that nothing ran (the test apps print
    ``ran NAME``), nothing was bound and nothing was answered."""
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert done.stdout == ""
    assert "ran " not in done.stderr  # no function ran
    assert "portafunc invoke:" not in done.stderr  # refused before anything was bound
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    return lines[0]
