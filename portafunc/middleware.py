"""Middleware: functions ``mw(event, call_next)`` wrapping each invocation — an HTTP request, each message of a batch,
a schedule or storage event — in registration order (the app's first, then a router's), loaded only by apps that
register one.

A sync middleware gets a sync ``call_next``; an ``async def`` middleware awaits it. They nest freely with sync and
async handlers: the chain runs on the per-thread event loop the pipeline keeps, and a sync middleware placed inside an
async one runs in a worker thread so that the loop is never entered twice.
"""

from __future__ import annotations

from .errors import RegistrationError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Iterable


KINDS = ("http", "queue", "topic", "schedule", "storage")
_CO_COROUTINE = 0x80


class Middleware:
    __slots__ = ("fn", "kinds", "is_async")

    def __init__(self, fn: Callable[..., Any], kinds: frozenset[str] | None) -> None:
        code = getattr(fn, "__code__", None)
        if code is None or code.co_argcount < 2:
            raise RegistrationError(f"middleware {getattr(fn, '__name__', fn)!r} must be a function "
                                    "taking (event, call_next)")
        self.fn = fn
        self.kinds = kinds
        self.is_async = bool(code.co_flags & _CO_COROUTINE)


def check_kinds(kinds: Iterable[str] | None) -> frozenset[str] | None:
    if kinds is None:
        return None
    if isinstance(kinds, str):
        kinds = (kinds,)
    chosen = frozenset(kinds)
    bad = sorted(chosen - set(KINDS))
    if not chosen or bad:
        raise RegistrationError(f"middleware kinds {bad or list(chosen)} unknown; use some of {', '.join(KINDS)}")
    return chosen


def run(chain: list[Middleware], event: Any, core: Callable[[Any], Any], core_in_loop: bool) -> Any:
    """Run ``event`` through ``chain`` to ``core``. ``core_in_loop``: ``core`` never runs an event loop itself (a
    sync handler), so it may be called from inside an async middleware; else it runs there in a worker thread."""
    return _sync(chain, 0, event, core, core_in_loop)


def compose(chain: list[Middleware], core: Callable[[Any], Any]) -> Callable[[Any], Any] | None:
    """The chain around ``core`` as one callable, when every middleware in it is synchronous (else None: :func:`run`
    it). Built once and kept by the caller, it gives what :func:`run` gives, without walking the chain per event: a
    pass-through middleware then costs its own call and its ``call_next``'s."""
    if not chain:
        return core
    pair = outermost(chain, core)
    return None if pair is None else _link(*pair)


def outermost(chain: list[Middleware], core: Callable[[Any], Any]) -> tuple[Callable[[Any, Any], Any],
                                                                              Callable[[Any], Any]] | None:
    """:func:`compose` as the outermost middleware and the ``call_next`` it gets: ``fn(event, call_next)`` gives what
    the composed callable gives, one call less per event. None for an empty chain or one with ``async``
    middleware."""
    if not chain:
        return None
    for mw in chain:
        if mw.is_async:
            return None
    call = core
    for mw in reversed(chain[1:]):
        call = _link(mw.fn, call)
    return chain[0].fn, call


def _link(fn: Callable[[Any, Any], Any], call_next: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def through(event: Any) -> Any:
        return fn(event, call_next)

    return through


def _sync(chain: list[Middleware], i: int, event: Any, core: Callable[[Any], Any], safe: bool) -> Any:
    if i == len(chain):
        return core(event)
    mw = chain[i]
    if mw.is_async:
        from .invoke import _run_async

        return _run_async(mw.fn(event, lambda e: _async(chain, i + 1, e, core, safe)))
    return mw.fn(event, lambda e: _sync(chain, i + 1, e, core, safe))


async def _async(chain: list[Middleware], i: int, event: Any, core: Callable[[Any], Any], safe: bool) -> Any:
    if i == len(chain):
        if safe:
            return core(event)
        import asyncio

        return await asyncio.to_thread(core, event)
    mw = chain[i]
    if mw.is_async:
        return await mw.fn(event, lambda e: _async(chain, i + 1, e, core, safe))
    import asyncio

    loop = asyncio.get_running_loop()

    def call_next(e: Any) -> Any:  # from the worker thread: run the rest of the chain on the loop, wait for it
        return asyncio.run_coroutine_threadsafe(_async(chain, i + 1, e, core, safe), loop).result()

    return await asyncio.to_thread(mw.fn, event, call_next)
