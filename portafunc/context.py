"""The invocation context: who is running, for which invocation, so logs and user code can correlate."""

from __future__ import annotations

import contextvars
import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_current: contextvars.ContextVar[Invocation | None] = contextvars.ContextVar("portafunc_invocation", default=None)


class Invocation:
    """Facts about the running invocation; ``native_context`` is the cloud's own context object, if any."""

    __slots__ = ("invocation_id", "function", "trigger", "correlation_id", "target", "native_context")

    def __init__(self, invocation_id: str, function: str, trigger: str, correlation_id: str, target: str = "local",
                 native_context: Any = None) -> None:
        self.invocation_id = invocation_id
        self.function = function
        self.trigger = trigger
        self.correlation_id = correlation_id
        self.target = target
        self.native_context = native_context

    def __repr__(self) -> str:
        return f"Invocation({self.function!r}, {self.trigger}, id={self.invocation_id})"


def new_id() -> str:
    return os.urandom(16).hex()


def current() -> Invocation | None:
    """The invocation running in this thread/task, or ``None`` outside a handler."""
    return _current.get()


def enter(invocation: Invocation) -> contextvars.Token[Invocation | None]:
    return _current.set(invocation)


def leave(token: contextvars.Token[Invocation | None]) -> None:
    _current.reset(token)
