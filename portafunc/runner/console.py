"""What the local runner prints: one human-readable line per invocation on stderr, and who is still in flight."""

from __future__ import annotations

import sys
import threading
import time
from collections import Counter
from datetime import datetime


def say(text: str) -> None:
    """One line on stderr, flushed at once so it interleaves sensibly with the app's own output. Credentials are
    masked first: request lines carry query strings (``?sig=``, ``?code=``, ``?access_token=``) and error lines may
    quote connection strings."""
    from ..logs import scrub_text

    sys.stderr.write(scrub_text(text) + "\n")
    sys.stderr.flush()


def stamp() -> str:
    return datetime.now().strftime("%H:%M:%S")


def duration(seconds: float) -> str:
    ms = seconds * 1000
    if ms < 1000:
        return f"{ms:.1f}ms"
    return f"{seconds:.2f}s"


def invocation_line(source: str, function: str, outcome: str, seconds: float, detail: str = "") -> None:
    """``12:00:01 POST /orders/acme -> create_order 201 3.1ms`` — the one line each invocation gets."""
    say(f"{stamp()} {source} -> {function} {outcome} {duration(seconds)}" + (f" {detail}" if detail else ""))


class InFlight:
    """Counts running invocations per function, so shutdown can wait for them and report the ones left."""

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._running: Counter[str] = Counter()

    def begin(self, function: str, count: int = 1) -> None:
        with self._lock:
            self._running[function] += count

    def end(self, function: str, count: int = 1) -> None:
        with self._lock:
            self._running[function] -= count
            if self._running[function] <= 0:
                del self._running[function]
            self._lock.notify_all()

    def wait_idle(self, timeout: float) -> dict[str, int]:
        """Wait up to ``timeout`` seconds for every invocation to finish; return what is still running."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while self._running:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._lock.wait(remaining)
            return dict(self._running)
