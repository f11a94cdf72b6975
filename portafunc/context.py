"""The invocation context: who is running, for which invocation, so logs and user code can correlate."""

from __future__ import annotations

import contextvars
import os
from dataclasses import dataclass, field
from typing import Any

_current: contextvars.ContextVar[Invocation | None] = contextvars.ContextVar("portafunc_invocation", default=None)


@dataclass
class Invocation:
    """Facts about the running invocation; ``native_context`` is the cloud's own context object, if any."""

    invocation_id: str
    function: str
    trigger: str
    correlation_id: str
    target: str = "local"
    native_context: Any = field(default=None, repr=False)


def new_id() -> str:
    return os.urandom(16).hex()


def current() -> Invocation | None:
    """The invocation running in this thread/task, or ``None`` outside a handler."""
    return _current.get()


def enter(invocation: Invocation) -> contextvars.Token[Invocation | None]:
    return _current.set(invocation)


def leave(token: contextvars.Token[Invocation | None]) -> None:
    _current.reset(token)
