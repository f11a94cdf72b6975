"""Reload on code change: a small supervisor process restarts the serving child when a ``.py`` file changes.

A fresh process (rather than re-importing in place) is the only reload that is always correct: module state, the
memory broker and half-registered decorators all start clean, exactly as on a cold start.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Sequence

from .bindings import python_files
from .console import say, stamp

CHILD_ENV = "PORTAFUNC_RUN_CHILD"
POLL_SECONDS = float(os.environ.get("PORTAFUNC_RUN_POLL", "0.5"))


def snapshot(root: Path) -> dict[Path, float]:
    out: dict[Path, float] = {}
    for path in python_files(root):
        try:
            out[path] = path.stat().st_mtime_ns
        except OSError:
            continue
    return out


def changed(before: dict[Path, float], after: dict[Path, float]) -> list[Path]:
    return sorted(p for p in set(before) | set(after) if before.get(p) != after.get(p))


def supervise(project: Path, child_argv: Sequence[str]) -> int:
    """Run the child; restart it when the project's code changes; forward Ctrl-C and return the child's status."""
    stop = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    env = dict(os.environ, **{CHILD_ENV: "1"})
    files = snapshot(project)
    say(f"reload: on, watching {len(files)} .py file(s) under {project} (--no-reload to turn off)")
    first = True
    while True:
        # Its own session, so a terminal's Ctrl-C reaches only us and the child gets exactly one SIGINT from us.
        child = subprocess.Popen(list(child_argv), env=env, start_new_session=True)
        reported = False
        while True:
            if stop.wait(POLL_SECONDS):
                return _stop_child(child, signal.SIGINT)
            code = child.poll()
            now = snapshot(project)
            diff = changed(files, now)
            files = now
            if diff:
                names = ", ".join(str(p.relative_to(project)) for p in diff[:3]) + (" ..." if len(diff) > 3 else "")
                say(f"{stamp()} reload: {names} changed; restarting")
                if code is None:
                    _stop_child(child, signal.SIGTERM)
                break
            if code is not None:
                if first:
                    return code  # it never came up (bad app, port taken): nothing to wait for
                if not reported:
                    say(f"{stamp()} reload: the app exited with status {code}; waiting for a code change")
                    reported = True
        first = False


def _stop_child(child: subprocess.Popen[bytes], signum: int) -> int:
    if child.poll() is None:
        child.send_signal(signum)
        try:
            return child.wait(timeout=15)
        except subprocess.TimeoutExpired:
            child.kill()
            return child.wait()
    return 0  # it had already exited (a failed reload): stopping now is a clean stop


def child_argv(argv_tail: Sequence[str]) -> list[str]:
    return [sys.executable, "-m", "portafunc.cli", "run", *argv_tail]
