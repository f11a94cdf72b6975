"""What the local runner prints: one human-readable line per invocation on stderr, and who is still in flight."""

from __future__ import annotations

import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from threading import current_thread, get_ident
from typing import Any, TextIO, cast


class LineStream:
    """A text stream that writes whole lines only: what a thread writes waits in that thread's own buffer until a
    newline, and then goes to the wrapped stream in one write, flushed, under a lock the other streams of the
    process share. A handler's ``print`` (its text, the separators and the newline are separate writes) and a line
    the runner writes from another thread never end up on one line of the terminal.

    Everything else (``encoding``, ``isatty()``, ``fileno()``, ``buffer``, ...) is the wrapped stream's."""

    def __init__(self, wrapped: TextIO, lock: threading.RLock) -> None:
        self.wrapped = wrapped
        self._lock = lock
        self._pending: dict[int, tuple[threading.Thread, list[str]]] = {}  # by thread ident: the line begun

    def write(self, text: str) -> int:
        if text.__class__ is not str and not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        cut = text.rfind("\n") + 1
        ident = get_ident()
        begun = self._pending.get(ident)
        if begun is not None and begun[0] is not current_thread():  # its thread ended; this one got its ident
            dead = begun[0]
            self._end_lines(lambda thread: thread is dead)
            begun = None
        if not cut:  # no newline: the thread's line goes on
            if text:
                (begun or self._begin(ident))[1].append(text)
            return len(text)
        if begun is not None:
            del self._pending[ident]
            head = "".join(begun[1]) + text[:cut]
        else:
            head = text if cut == len(text) else text[:cut]
        if cut < len(text):
            self._begin(ident)[1].append(text[cut:])
        with self._lock:
            self.wrapped.write(head)
            self.wrapped.flush()
        return len(text)

    def _begin(self, ident: int) -> tuple[threading.Thread, list[str]]:
        if len(self._pending) >= 8:  # threads come and go (one per request): end the lines dead ones left
            self._end_lines(lambda thread: not thread.is_alive())
        begun = self._pending[ident] = (current_thread(), [])
        return begun

    def _end_lines(self, which: Callable[[threading.Thread], bool]) -> None:
        """End the unfinished lines of the threads ``which`` picks, each on a line of its own."""
        with self._lock:
            for ident, begun in list(self._pending.items()):
                if which(begun[0]) and self._pending.pop(ident, None) is begun:
                    self.wrapped.write("".join(begun[1]) + "\n")
            self.wrapped.flush()

    def writelines(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        """Write the calling thread's unfinished line as it is (``print(..., end="", flush=True)``), then flush."""
        with self._lock:
            begun = self._pending.pop(get_ident(), None)
            if begun is not None:  # (a line a dead thread left under this ident is ended instead)
                self.wrapped.write("".join(begun[1]) + ("" if begun[0] is current_thread() else "\n"))
            self.wrapped.flush()

    def end_all(self) -> None:
        """End every thread's unfinished line (each on a line of its own) and flush."""
        self._end_lines(lambda thread: True)

    def __getattr__(self, name: str) -> Any:
        if name == "wrapped":  # not set yet (a copy being made): no recursion
            raise AttributeError(name)
        return getattr(self.wrapped, name)


@contextmanager
def whole_lines() -> Iterator[None]:
    """``sys.stdout`` and ``sys.stderr`` write whole lines (:class:`LineStream`, one lock for both) for the duration;
    the lines left unfinished are written at the end."""
    if isinstance(sys.stdout, LineStream) or isinstance(sys.stderr, LineStream):
        yield  # already installed: the outer block restores
        return
    lock = threading.RLock()
    saved = sys.stdout, sys.stderr
    ours = tuple(LineStream(stream, lock) if stream is not None else None for stream in saved)
    sys.stdout, sys.stderr = cast("tuple[TextIO, TextIO]", ours)
    try:
        yield
    finally:
        now: tuple[object, object] = (sys.stdout, sys.stderr)
        if now[0] is ours[0]:  # (unless the app replaced it meanwhile)
            sys.stdout = saved[0]
        if now[1] is ours[1]:
            sys.stderr = saved[1]
        for stream in ours:
            if stream is not None:
                try:
                    stream.end_all()
                except (OSError, ValueError):  # the reader went away, or the stream was closed
                    pass


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
