"""Bindings: logical names → backend URLs, from the environment.

``portafunc.topic("order-events")`` reads ``PORTAFUNC_TOPIC_ORDER_EVENTS`` (a URL such as ``memory://``). The
scheme picks a backend: ``memory`` is built in; the others are found through the ``portafunc.backends`` entry point
group that each adapter registers, so the core never imports a cloud SDK.
"""

from __future__ import annotations

import os
import threading
from typing import Any, Callable, Literal

from ..caches import keep
from ..errors import BindingError
from ..handles import binding_variable
from ..plugins import SchemeRegistry
from ..resources import check_access

Kind = Literal["topic", "queue"]
BackendFactory = Callable[[Kind, str, str], Any]

_instances: dict[tuple[str, str], Any] = {}
_lock = threading.Lock()


def env_name(kind: str, name: str) -> str:
    """``PORTAFUNC_<KIND>_<NAME>`` with the name upper-cased and every non-alphanumeric as ``_`` (remembered: the
    same few names are asked for on every send and every dead-lettered message)."""
    found = _env_names.get((kind, name))
    if found is None:
        found = keep(_env_names, (kind, name), binding_variable(kind, name), 4096)
    return found


_env_names: dict[tuple[str, str], str] = {}


def _memory() -> BackendFactory:
    from .memory import memory_backend

    return memory_backend


_registry = SchemeRegistry("portafunc.backends", "backend", {"memory": _memory}, BindingError)


def register_backend(scheme: str, factory: BackendFactory) -> None:
    """Register a backend for a URL scheme (adapters do this through entry points; tests may call it)."""
    _registry.register(scheme, factory)


def resolve_url(kind: Kind, name: str) -> tuple[str, str]:
    """(URL, variable name) for a logical resource; a missing binding names the variable to set."""
    variable = env_name(kind, name)
    url = os.environ.get(variable)
    if not url:
        default = os.environ.get("PORTAFUNC_DEFAULT_BINDING")
        if default:  # e.g. memory:// for tests and the local runner: every unbound name gets its own resource
            return f"{default.rstrip('/')}/{name}" if not default.endswith("://") else f"{default}{name}", variable
        raise BindingError(f"{kind} {name!r} has no binding: set {variable} to a URL of an installed {kind} scheme ("
                           + ", ".join(f"{s}://" for s in _registry.schemes_for(kind)) + ")")
    return url, variable


def open_backend(kind: Kind, name: str, url: str | None = None) -> Any:
    """The (cached) backend instance for a logical name, or for an explicit URL.

    Inside a handler a logical name must be one the function declared (its trigger, ``dead_letter=``, or
    ``uses=``): anything else is a BindingError naming the declaration to add, wherever the code runs.
    """
    variable = env_name(kind, name)
    if url is None:
        check_access(kind, name)
        url, variable = resolve_url(kind, name)
    key = (kind, f"{name}\0{url}")
    with _lock:
        inst = _instances.get(key)
        if inst is not None:
            return inst
    scheme, sep, _ = url.partition("://")
    if not sep or not scheme:
        raise BindingError(f"{variable}={url!r} is not a URL; expected scheme://…")
    inst = _registry.factory(scheme, variable)(kind, url, name)
    from .traced import traced

    inst = traced(inst, scheme)  # what a handler sends carries its trace context and correlation id
    with _lock:
        return _instances.setdefault(key, inst)


def reset() -> None:
    """Forget cached backends (tests, and the local runner's reload)."""
    with _lock:
        _instances.clear()
