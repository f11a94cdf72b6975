"""The invocation context: who is running, for which invocation, so logs and user code can correlate."""

from __future__ import annotations

import contextvars
import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, TypeAlias

    Slot: TypeAlias = "Invocation | tuple[Any, ...] | list[Any] | None"

_current: contextvars.ContextVar[Slot] = contextvars.ContextVar(
    "portafunc_invocation", default=None)
"""An Invocation, or a deferred one: a ``(build, *args)`` tuple the pipeline stores per message so that messages
nobody asks about (no log line, no ``current()`` call) never pay for building the Invocation and its ids; or a
``[build, *args]`` list a batch stores once and rewrites per message (setting a context variable costs as much as
the rest of the pipeline's share of a message)."""


class Invocation:
    """Facts about the running invocation; ``native_context`` is the cloud's own context object, if any."""

    __slots__ = ("invocation_id", "function", "trigger", "correlation_id", "target", "native_context", "spec", "trace")

    def __init__(self, invocation_id: str, function: str, trigger: str, correlation_id: str, target: str = "local",
                 native_context: Any = None, spec: Any = None, trace: Any = None) -> None:
        self.invocation_id = invocation_id
        self.function = function
        self.trigger = trigger
        self.correlation_id = correlation_id
        self.target = target
        self.native_context = native_context
        self.spec = spec  # the FunctionSpec running: bindings check what it declared (portafunc.resources)
        self.trace = trace  # its portafunc.tracing.TraceContext: trace id, this invocation's span id, the caller's

    def __repr__(self) -> str:
        return f"Invocation({self.function!r}, {self.trigger}, id={self.invocation_id})"


_ids: list[str] = []
_IDS_PER_READ = 64


def new_id() -> str:
    """32 random hex digits. The random bytes are read 64 ids at a time: one ``urandom`` call costs about as much as
    running a message, and most invocations take one id. A forked child starts with none of its parent's."""
    try:
        return _ids.pop()
    except IndexError:
        raw = os.urandom(16 * _IDS_PER_READ).hex()
        _ids.extend([raw[i:i + 32] for i in range(0, len(raw), 32)])
        return _ids.pop()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_ids.clear)


def current() -> Invocation | None:
    """The invocation running in this thread/task, or ``None`` outside a handler."""
    value: Any = _current.get()
    if value.__class__ is tuple:  # deferred by the pipeline: built on first use, then kept for this invocation
        built: Invocation = value[0](*value[1:])
    elif value.__class__ is list:  # a batch's: [build, *args, what was current before the batch]
        if value[2] is None:  # between two messages (the next record being read)
            return _around(value)
        build = value[0]
        if build.__class__ is Invocation:  # a failing message's, built for its lines and kept in the batch's list
            return build
        built = build(*value[1:-1])
    else:
        return value  # type: ignore[no-any-return]
    _current.set(built)  # the pipeline's reset(token) still restores what was there before the invocation; a batch
    return built  # puts its list back before its next message


def _around(batch: list[Any]) -> Invocation | None:
    """What was current when ``batch`` was entered (its last item), built once if it was deferred itself."""
    outer: Any = batch[-1]
    if outer.__class__ is list and outer[2] is None:
        return _around(outer)
    if outer.__class__ is list and outer[0].__class__ is Invocation:
        return outer[0]
    if outer.__class__ is tuple:
        outer = batch[-1] = outer[0](*outer[1:])
    elif outer.__class__ is list:
        outer = batch[-1] = outer[0](*outer[1:-1])
    return outer  # type: ignore[no-any-return]


def current_spec() -> Any:
    """The FunctionSpec of the running invocation (None outside a handler), without building a deferred Invocation:
    the pipeline's deferred tuples and lists carry the spec as their first argument."""
    value: Any = _current.get()
    if value is None:
        return None
    if value.__class__ is tuple:
        return value[1]
    if value.__class__ is list:
        if value[2] is None:
            outer = _around(value)
            return None if outer is None else outer.spec
        return value[1]
    return value.spec


def enter(invocation: Invocation) -> contextvars.Token[Slot]:
    return _current.set(invocation)


def leave(token: contextvars.Token[Slot]) -> None:
    _current.reset(token)
