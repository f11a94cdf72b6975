"""Retries for the ``azqueue://`` and ``eventgrid://`` backends: exponential backoff with full jitter, stopped by a
deadline, plus :class:`BatchError` for a batch that fails part-way.

The SDK's own retry policies are switched off for these calls. The storage policy has a retry count but no overall
deadline, and azure-core never retries a POST that failed to connect. One loop here gives both backends the same
rule as the Pub/Sub backend: transient failures are retried until ``?timeout=`` seconds (default 30) have passed since
the call began, and then the call raises a :class:`~portafunc.errors.MessagingError` that says so.
"""

from __future__ import annotations

import random
import time
from typing import Any, Callable, TypeVar

from portafunc.errors import BindingError, MessagingError

T = TypeVar("T")

LAST_ATTEMPT = 0.1  # seconds: no attempt is started with less time than this left

DEFAULT_TIMEOUT = 30.0
TRANSIENT_STATUS = {408, 429, 500, 502, 503, 504}


class BatchError(MessagingError):
    """A batch send failed part-way. ``accepted`` gives, in input order, the id of each message the broker accepted
    and None for each one it did not."""

    def __init__(self, message: str, accepted: list[str | None]) -> None:
        super().__init__(message)
        self.accepted = accepted


class GaveUp(Exception):
    """The deadline passed while a transient failure persisted; ``last`` is that failure."""

    def __init__(self, last: BaseException, attempts: int, waited: float) -> None:
        super().__init__(f"gave up after {attempts} attempt(s) over {waited:.1f} s of retries with backoff (the "
                         f"binding's ?timeout=); last error {type(last).__name__}: {_first_line(last)}")
        self.last = last
        self.attempts = attempts
        self.waited = waited


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else ""


def transient(exc: BaseException) -> bool:
    """A connection that failed or dropped, a timeout, or a 408/429/5xx answer: worth trying again."""
    from azure.core.exceptions import HttpResponseError, ServiceRequestError, ServiceResponseError

    if isinstance(exc, (ServiceRequestError, ServiceResponseError)):
        return True
    return isinstance(exc, HttpResponseError) and exc.status_code in TRANSIENT_STATUS


def call_until(deadline: float, fn: Callable[[float], T], *, retries: int | None = None, base: float = 0.2,
               cap: float = 5.0) -> T:
    """Call ``fn(seconds_left)``. A transient failure is retried after sleeping a random time in
    [0, min(cap, base * 2**attempt)], cut short so that the last attempt starts just before ``deadline`` (a
    ``time.monotonic()`` value). The loop gives up with :class:`GaveUp` once less than ``LAST_ATTEMPT`` seconds are
    left, or after ``retries`` retries. Other errors pass through unchanged."""
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
            time.sleep(min(delay, left - LAST_ATTEMPT))  # the last attempt starts just before the deadline


def transport_options(seconds_left: float) -> dict[str, Any]:
    """Per-request socket timeouts so that one hung request cannot outlast the deadline by much."""
    return {"connection_timeout": min(10.0, seconds_left), "read_timeout": max(0.5, seconds_left)}


def timeout_option(options: dict[str, str], url: str) -> float:
    raw = options.get("timeout")
    if raw is None:
        return DEFAULT_TIMEOUT
    try:
        value = float(raw)
    except ValueError:
        raise BindingError(f"{url}: option timeout={raw!r} is not a number of seconds") from None
    if not 0 < value < float("inf"):
        raise BindingError(f"{url}: option timeout={raw!r} must be a positive number of seconds")
    return value
