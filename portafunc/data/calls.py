"""One backend call under the messaging deadline rule: transient failures retried with backoff until ``?timeout=``.

A backend passes its own ``transient`` test (refused or dropped connections, timeouts, throttling, 5xx) and
``translate`` (its SDK's failures → the typed errors of :mod:`.errors`); whatever is still failing when the
deadline passes becomes :class:`~.errors.DataUnavailable` naming the resource and the last error.
"""

from __future__ import annotations

import time

from ..messaging.retry import GaveUp, call_until, timeout_option
from .errors import DataError, DataUnavailable

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Callable, Mapping, TypeVar

    T = TypeVar("T")


class Caller:
    """Runs calls for one binding with its timeout and its backend's failure classification."""

    __slots__ = ("resource", "timeout", "transient", "translate", "retries")

    def __init__(self, resource: str, timeout: float, transient: Callable[[BaseException], bool],
                 translate: Callable[[BaseException, str], DataError], retries: int | None = None) -> None:
        self.resource = resource
        self.timeout = timeout
        self.transient = transient
        self.translate = translate  # (exception, key) -> typed error
        self.retries = retries

    def __call__(self, fn: Callable[[], T], key: str = "", *, once: bool = False) -> T:
        """``fn()`` under the deadline rule; ``once``: never retried (e.g. an upload from a stream that cannot be
        rewound, which a retry would send from the middle)."""
        return self.timed(lambda _left: fn(), key, once=once)

    def timed(self, fn: Callable[[float], T], key: str = "", *, once: bool = False) -> T:
        """As calling the Caller, with ``fn(seconds_left)``: the time each attempt has, for a backend whose SDK
        takes a timeout per request (retries alone do not stop a request that hangs)."""
        try:
            return call_until(time.monotonic() + self.timeout, fn, self.transient, retries=0 if once else self.retries)
        except GaveUp as exc:
            raise DataUnavailable(f"{self.translate(exc.last, key)}; {exc}") from exc.last
        except DataError:
            raise
        except Exception as exc:  # noqa: BLE001 - the backend's translate decides what it means
            raise self.translate(exc, key) from exc


def split_options(url: str, allowed: set[str], variable: str) -> tuple[str, dict[str, str]]:
    """``scheme://REST?k=v`` → (REST, {k: v}); an option not in ``allowed`` (always: ``timeout``) is refused."""
    from urllib.parse import parse_qs

    from ..errors import BindingError

    rest = url.split("://", 1)[1]
    rest, _, query = rest.partition("?")
    options = {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}
    unknown = sorted(set(options) - allowed - {"timeout"})
    if unknown:
        raise BindingError(f"{variable}={url!r} has unknown option(s) {unknown}; known: "
                           f"{sorted(allowed | {'timeout'})}")
    return rest, options


def timeout_of(options: Mapping[str, str], url: str) -> float:
    """The binding's ``?timeout=`` seconds (default 30), checked as messaging checks it."""
    return timeout_option(options, url)
