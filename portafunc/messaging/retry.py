"""Retry a broker call with exponential backoff and full jitter until a deadline — the one rule every backend follows.

A send is retried only for *transient* failures (the backend says which: a refused or dropped connection, a timeout,
408/429/5xx); anything else passes through at once. Retries stop at the binding's ``?timeout=`` seconds (default 30)
counted from the start of the call, and the call then fails with a clear :class:`~portafunc.errors.MessagingError`
instead of hanging on, so a publisher never blocks for ever and never reports a message as sent that was not.

Backends' SDK retry policies are switched off for these calls: they have retry counts but no overall deadline.
"""

from __future__ import annotations

import random
import time
from typing import Callable, Mapping, TypeVar

from ..errors import BindingError, reduce_exception

T = TypeVar("T")

DEFAULT_TIMEOUT = 30.0
LAST_ATTEMPT = 0.1  # seconds: no attempt is started with less time than this left
TRANSIENT_HTTP_STATUS = frozenset({408, 429, 500, 502, 503, 504})


class GaveUp(Exception):
    """The deadline (or the retry count) ran out while a transient failure persisted; ``last`` is that failure."""

    __reduce__ = reduce_exception  # copy and pickle without calling __init__ again

    def __init__(self, last: BaseException, attempts: int, waited: float) -> None:
        super().__init__(f"gave up after {attempts} attempt(s) over {waited:.1f} s of retries with backoff (the "
                         f"binding's ?timeout=); last error {type(last).__name__}: {first_line(last)}")
        self.last = last
        self.attempts = attempts
        self.waited = waited


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else ""


def call_until(deadline: float, fn: Callable[[float], T], transient: Callable[[BaseException], bool], *,
               retries: int | None = None, base: float = 0.1, cap: float = 5.0) -> T:
    """Call ``fn(seconds_left)`` until it succeeds.

    A transient failure is retried after sleeping a random time in [0, min(cap, base * 2**attempt)], cut short so
    that the last attempt starts just before ``deadline`` (a ``time.monotonic()`` value). Gives up with
    :class:`GaveUp` once less than ``LAST_ATTEMPT`` seconds are left, or after ``retries`` retries.
    """
    started = time.monotonic()
    attempt = 0
    while True:
        attempt += 1
        try:
            return fn(max(LAST_ATTEMPT, deadline - time.monotonic()))
        except Exception as exc:  # noqa: BLE001 - classified just below
            if not transient(exc):
                raise
            left = deadline - time.monotonic()
            if left <= LAST_ATTEMPT or (retries is not None and attempt > retries):
                raise GaveUp(exc, attempt, time.monotonic() - started) from exc
            delay = random.uniform(0.0, min(cap, base * 2 ** attempt))  # noqa: S311 - jitter, not crypto
            time.sleep(min(delay, left - LAST_ATTEMPT))


CONNECT_SHARE = 0.25  # of an attempt's time left, for connecting (at most CONNECT_CAP); the rest is for the answer
CONNECT_CAP = 2.0


def socket_timeouts(seconds_left: float, cap: float | None = None) -> tuple[float, float]:
    """(connect, read) socket timeouts for one attempt whose sum fits in ``seconds_left`` (and ``cap``), so that a
    peer that goes silent while connecting or while answering ends the attempt by the deadline, not after it."""
    budget = seconds_left if cap is None else min(cap, seconds_left)
    connect = min(CONNECT_CAP, budget * CONNECT_SHARE)
    return connect, budget - connect


def timeout_option(options: Mapping[str, str], url: str, default: float = DEFAULT_TIMEOUT) -> float:
    """The binding's ``?timeout=`` in seconds: a positive finite number, else a BindingError naming the URL."""
    raw = options.get("timeout")
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise BindingError(f"{url}: option timeout={raw!r} is not a number of seconds") from None
    if not 0 < value < float("inf"):
        raise BindingError(f"{url}: option timeout={raw!r} must be a positive number of seconds")
    return value
