"""What a kept HTTP server would cost ``portafunc run``: start-up to first answer, and the import alone.

Each round starts ``portafunc run --no-reload`` on tests/core/runner_fixtures/sample in a fresh interpreter and times
from ``Popen`` to the first HTTP answer; a second contender is the same command with werkzeug's server module
imported first (``-c "import werkzeug.serving; ..."``), which is the least a werkzeug-based runner would add. The
import cost is measured the same way (fresh interpreters, alternating). Medians of ``--rounds`` (default 15).

    python benchmarks/runner_startup.py [--rounds N]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "tests" / "core" / "runner_fixtures" / "sample"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _first_answer(pre_import: str) -> float:
    port = _free_port()
    code = f"{pre_import}import sys; from portafunc.cli import main; sys.exit(main())"
    env = dict(os.environ, RUNNER_LOG=os.devnull)
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", code, "run", str(SAMPLE), "--port", str(port), "--no-reload"],
                            cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/echo/x", timeout=1).read()
                return time.perf_counter() - started
            except (urllib.error.URLError, ConnectionError):
                if proc.poll() is not None:
                    raise RuntimeError("portafunc run exited") from None
                time.sleep(0.002)
    finally:
        proc.terminate()
        proc.wait()


def _import(modules: str) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", f"import {modules}"], check=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=15)
    rounds = parser.parse_args().rounds
    runs: dict[str, list[float]] = {"run (http.server)": [], "run + import werkzeug.serving": [],
                                    "import portafunc.runner": [], "import portafunc.runner, werkzeug.serving": []}
    for _ in range(rounds):  # alternate, so drift on a shared machine hits both alike
        runs["run (http.server)"].append(_first_answer(""))
        runs["run + import werkzeug.serving"].append(_first_answer("import werkzeug.serving; "))
        runs["import portafunc.runner"].append(_import("portafunc.runner"))
        runs["import portafunc.runner, werkzeug.serving"].append(_import("portafunc.runner, werkzeug.serving"))
    for name, values in runs.items():
        print(f"{name:45} median {statistics.median(values) * 1000:7.1f} ms  "
              f"(min {min(values) * 1000:.1f}, {len(values)} rounds)")


if __name__ == "__main__":
    main()
