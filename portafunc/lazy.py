"""An attribute built on first read, once per instance even when threads race for it.

The backends' SDK clients are expensive to build (an import, a connection string parsed, credentials looked up) and
thread-safe once built, and a binding must not build one before a handler uses it: a function that never sends
pays nothing. ``functools.cached_property`` builds on first read too, but two threads reading at once both build
(it has no lock since Python 3.12), and a client built twice is a connection pool leaked.
"""

from __future__ import annotations

import threading
from typing import Any, Callable, Generic, TypeVar, overload

T = TypeVar("T")


class built_once(Generic[T]):  # noqa: N801 - used as a decorator, like property
    """Decorates ``build(self)``; the first read of the attribute calls it under a lock of that instance, stores the
    value in the instance's ``__dict__`` (later reads find it there, with no call at all) and returns it. A build that
    raises stores nothing: the next read tries again (a variable set after the failure is then seen)."""

    def __init__(self, build: Callable[[Any], T]) -> None:
        self._build = build
        self._name = build.__name__
        self.__doc__ = build.__doc__

    def __set_name__(self, owner: type, name: str) -> None:
        self._name = name

    @overload
    def __get__(self, instance: None, owner: type | None = None) -> built_once[T]: ...

    @overload
    def __get__(self, instance: object, owner: type | None = None) -> T: ...

    def __get__(self, instance: object | None, owner: type | None = None) -> T | built_once[T]:
        if instance is None:
            return self
        state = instance.__dict__
        # setdefault is atomic: every thread gets the same lock, whichever asks first
        with state.setdefault(f"_{self._name}_lock", threading.Lock()):
            if self._name not in state:
                state[self._name] = self._build(instance)
            value: T = state[self._name]
        return value
