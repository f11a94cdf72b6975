"""boto3 clients for the backends, built once per container, per (service, region) and per socket-timeout tier.

botocore's own retries are off (one attempt per call): :func:`.errors.call` retries transient failures with backoff
until the binding's ``?timeout=``, which botocore cannot do (it counts attempts, it has no deadline). Endpoints come
from boto3's own configuration (``AWS_ENDPOINT_URL``, ``AWS_ENDPOINT_URL_SNS``, ``AWS_ENDPOINT_URL_SQS``, ...).

**Why tiers.** Retrying until the deadline is not enough to keep it: one request to a server that accepts the
connection and never answers waits for the socket timeouts, and botocore fixes those when a client is built
(``Config(connect_timeout=, read_timeout=)``). It has no documented per-request timeout: recent versions read an
undocumented ``read_timeout`` from the request context (reads only, not connects), and the boto3 of the Lambda
runtime, which functions use, may predate it. So every attempt runs on a client whose connect and read timeouts
together fit in the time the call has left: the largest of :data:`TIERS` that fits. :func:`client` returns a
:class:`Client` standing for all tiers of a service and region, and each operation call picks its tier when it is
made, from the deadline :func:`until` set — so a retry with less time left runs on a smaller tier. Calls made
outside a deadline (table set-up, presigned URLs) use the largest tier, the settings these clients always had.
Event handlers registered through ``client.meta.events`` apply to every tier, those built later included.

**The bound.** An attempt's socket waits end within its tier's connect + read timeouts when the peer goes silent
(never accepts, or never answers), so within the time left when the attempt started. The exception is an attempt
started with less than the smallest tier (0.25 s) left — the retry loop starts none with less than ``LAST_ATTEMPT``
(0.1 s) — so a call that meets a silent peer gives up at most 0.15 s of socket time after its deadline, plus its
own CPU time (building, signing, parsing): 0.5 s is the bound stated to users. Socket timeouts bound each wait, not
their sum: a peer that answers part of a response and then stalls, or trickles it, can hold a request for longer.

**The cost.** Nine tiers bound the clients per service and region, and a tier is built only when a call first
needs it. All come from one boto3 session, which caches the service models and the credentials: the first client
of a container costs what it always did (a few hundred ms), another tier a few ms and ~150 KB. A tier keeps its own
connection pool, so the first call on a tier opens a connection. Building a client takes time from the deadline
too, so after building one the tier is chosen again with the time then left.

**Long polls.** SQS ``WaitTimeSeconds`` is a wait asked for, not a hang: such a request runs on the tier that fits
the time left after the wait, with the wait added to its read timeout (the wait, 0-20 s, is then part of the
tier's key: a consumer that always polls alike adds a client or two). A retry left with less time than its wait
polls for less.
"""

from __future__ import annotations

import os
import threading
import time
from bisect import bisect_right
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Callable, Iterator, Protocol, TypeVar

T = TypeVar("T")


class Caller(Protocol):
    """:class:`portafunc.data.calls.Caller` as used here (not imported: messaging-only deployments leave it out)."""

    timeout: float

    def __call__(self, fn: Callable[[], T], key: str = "", *, once: bool = False) -> T: ...

# (connect, read) socket timeouts in seconds; an attempt runs on the largest tier whose sum fits in its time left
TIERS: tuple[tuple[float, float], ...] = (
    (0.1, 0.15),
    (0.15, 0.35),
    (0.25, 0.75),
    (0.5, 1.5),
    (1.0, 3.0),
    (2.0, 6.0),
    (2.0, 14.0),
    (2.0, 22.0),  # an SQS long poll of 20 s fits
    (5.0, 30.0),  # no deadline, or one this far off
)
_BUDGETS = [connect + read for connect, read in TIERS]

_session: Any = None
_clients: dict[tuple[str, str | None, tuple[float, float]], Any] = {}
_hooks: dict[tuple[str, str | None], list[tuple[str, tuple[Any, ...], dict[str, Any]]]] = {}  # see _Events
_lock = threading.Lock()
_deadline: ContextVar[float | None] = ContextVar("portafunc_aws_deadline", default=None)


@contextmanager
def until(deadline: float) -> Iterator[None]:
    """Operations called in this block (in this thread or task) run on tiers that fit before ``deadline``
    (``time.monotonic()``)."""
    token = _deadline.set(deadline)
    try:
        yield
    finally:
        _deadline.reset(token)


class WithDeadline:
    """A data backend's :class:`~portafunc.data.calls.Caller` whose calls also set the deadline (:func:`until`) that
    their operations' tiers are chosen by."""

    __slots__ = ("caller",)

    def __init__(self, caller: Caller) -> None:
        self.caller = caller

    def __call__(self, fn: Callable[[], T], key: str = "", *, once: bool = False) -> T:
        with until(time.monotonic() + self.caller.timeout):
            return self.caller(fn, key, once=once)


def tier(seconds_left: float | None) -> tuple[float, float]:
    """The (connect, read) timeouts of the largest tier that fits in ``seconds_left`` (the smallest if none does;
    the largest without a deadline)."""
    if seconds_left is None:
        return TIERS[-1]
    return TIERS[max(0, bisect_right(_BUDGETS, seconds_left) - 1)]


class Client:
    """A service's boto3 client in one region, in every tier: ``client.send_message(...)`` runs on the tier that
    fits the deadline in effect at the time of the call (see the module's doc)."""

    __slots__ = ("service", "region")

    def __init__(self, service: str, region: str | None) -> None:
        self.service = service
        self.region = region

    def __repr__(self) -> str:
        return f"Client({self.service!r}, {self.region!r})"

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        if name == "meta":
            return _Meta(self.service, self.region)
        if name in ("exceptions", "waiter_names"):  # not operations: any tier has the same
            return getattr(built(self.service, self.region, None), name)
        service, region = self.service, self.region

        def operation(*args: Any, **kwargs: Any) -> Any:
            wait = kwargs.get("WaitTimeSeconds")
            if not isinstance(wait, int) or wait <= 0:
                return getattr(for_now(service, region)[0], name)(*args, **kwargs)
            found, kwargs["WaitTimeSeconds"] = for_now(service, region, wait)
            return getattr(found, name)(*args, **kwargs)

        operation.__name__ = name
        return operation


class _Meta:
    """``client.meta`` of every tier: ``events`` registers a handler on each tier's client (those built later too);
    the rest is read from the largest tier's."""

    __slots__ = ("service", "region")

    def __init__(self, service: str, region: str | None) -> None:
        self.service = service
        self.region = region

    @property
    def events(self) -> _Events:
        return _Events(self.service, self.region)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(built(self.service, self.region, None).meta, name)


class _Events:
    """Event handlers for every tier of a service and region, kept to be registered on tiers built later."""

    __slots__ = ("service", "region")

    def __init__(self, service: str, region: str | None) -> None:
        self.service = service
        self.region = region

    def _apply(self, method: str, *args: Any, **kwargs: Any) -> None:
        with _lock:
            _hooks.setdefault((self.service, self.region), []).append((method, args, kwargs))
            tiers = {id(c): c for (service, region, _), c in _clients.items()
                     if service == self.service and region == self.region}
        for found in tiers.values():
            getattr(found.meta.events, method)(*args, **kwargs)

    def register(self, *args: Any, **kwargs: Any) -> None:
        self._apply("register", *args, **kwargs)

    def register_first(self, *args: Any, **kwargs: Any) -> None:
        self._apply("register_first", *args, **kwargs)

    def register_last(self, *args: Any, **kwargs: Any) -> None:
        self._apply("register_last", *args, **kwargs)

    def unregister(self, *args: Any, **kwargs: Any) -> None:
        self._apply("unregister", *args, **kwargs)


def client(service: str, region: str | None) -> Any:
    """The client of ``service`` in ``region`` (None: boto3's own configuration says which); boto3 is imported when
    an operation is first called."""
    return Client(service, region)


def for_now(service: str, region: str | None, wait: int = 0) -> tuple[Any, int]:
    """(boto3 client, wait) for a request made now: the tier that fits the deadline in effect, if any. A request
    that waits ``wait`` seconds on purpose (a long poll) gets the tier that fits the time left after the wait, with
    the wait added to its read timeout; the wait is cut when the time left is shorter (a late retry)."""
    deadline = _deadline.get()
    if deadline is None:
        return built(service, region, None), wait
    while True:
        left = deadline - time.monotonic()
        wait = min(wait, max(0, int(left - _BUDGETS[0])))
        connect, read = tier(left - wait)
        timeouts = (connect, read + wait)
        found = _clients.get((service, region, timeouts))
        if found is not None:
            return found, wait
        built(service, region, timeouts)  # then choose again: building it took some of the time left


def built(service: str, region: str | None, timeouts: tuple[float, float] | None) -> Any:
    """The boto3 client of one tier (the largest for None), built on first use."""
    key = (service, region, timeouts or TIERS[-1])
    found = _clients.get(key)
    if found is not None:
        return found
    with _lock:
        found = _clients.get(key)
        if found is None:
            found = _clients[key] = _new(service, region, key[2])
    return found


def _new(service: str, region: str | None, timeouts: tuple[float, float]) -> Any:
    global _session
    import boto3
    from botocore.config import Config

    if _session is None:
        _session = boto3.session.Session()
    # S3: SigV4 everywhere. Without it the SDK presigns with SigV2 in us-east-1, which buckets made since June 2020
    # refuse (API calls are SigV4 either way).
    config = Config(retries={"mode": "standard", "total_max_attempts": 1}, connect_timeout=timeouts[0],
                    read_timeout=timeouts[1], user_agent_extra="portafunc",
                    signature_version="s3v4" if service == "s3" else None)
    built = _session.client(service, region_name=region, config=config)
    if service == "s3":
        built.meta.events.register_last("before-call.s3", _expect_only_with_room)
    for method, args, kwargs in _hooks.get((service, region), ()):
        getattr(built.meta.events, method)(*args, **kwargs)
    return built


EXPECT_WAIT = 1.0  # seconds botocore waits for "100 Continue" before it sends an upload's body anyway


def _expect_only_with_room(params: Any, context: Any, **_: Any) -> None:
    """S3 uploads ask for ``Expect: 100-continue``, and botocore then waits up to a second for the go-ahead, outside
    any socket timeout. An upload whose tier leaves no second to spare before the deadline goes without it: the body
    is sent at once (a refusal then comes after the body rather than before)."""
    headers = params.get("headers")
    deadline = _deadline.get()
    if not headers or "Expect" not in headers or deadline is None:
        return
    config = context["client_config"]
    if config.connect_timeout + config.read_timeout + EXPECT_WAIT > deadline - time.monotonic():
        del headers["Expect"]


def split_options(url: str, allowed: set[str], name: str) -> tuple[str, dict[str, str]]:
    """``scheme://REST?k=v`` → (REST, {k: v}); an option not in ``allowed`` is a BindingError naming it."""
    from urllib.parse import parse_qs

    from portafunc.errors import BindingError

    rest = url.split("://", 1)[1]
    rest, _, query = rest.partition("?")
    options = {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise BindingError(f"{name!r}: {url!r} has unknown option(s) {unknown}; known: {sorted(allowed)}")
    return rest, options


def max_retries() -> int | None:
    """``PORTAFUNC_AWS_MAX_ATTEMPTS`` (attempts per call, optional) as a retry count; None = the deadline alone."""
    raw = os.environ.get("PORTAFUNC_AWS_MAX_ATTEMPTS")
    if not raw:
        return None
    try:
        return max(0, int(raw) - 1)
    except ValueError:
        from portafunc.errors import BindingError

        raise BindingError(f"PORTAFUNC_AWS_MAX_ATTEMPTS={raw!r} is not a whole number of attempts") from None


def reset() -> None:
    """Forget the clients, their session and their event handlers (tests that change endpoints or credentials)."""
    global _session
    with _lock:
        _clients.clear()
        _hooks.clear()
        _session = None

