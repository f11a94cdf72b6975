"""``portafunc`` as a user runs it: the real command line in a fresh interpreter, for the suites that check its
output (inspect, package)."""

from __future__ import annotations

import subprocess
import sys


def portafunc_cli(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "portafunc.cli", *args], capture_output=True, text=True,
                          timeout=timeout)
