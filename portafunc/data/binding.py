"""Bindings of buckets and key-value tables: ``PORTAFUNC_BUCKET_<NAME>`` / ``PORTAFUNC_KV_<NAME>`` hold a URL whose
scheme picks the backend.

``memory`` and ``file`` are built in; the targets' schemes come from the adapters through the ``portafunc.data``
entry point group (``factory(kind, url, name)``), so the core never imports a cloud SDK; a factory refuses the kinds
its scheme does not bind. ``PORTAFUNC_DEFAULT_BINDING=memory://`` binds every unbound name, as it does for messaging.
"""

from __future__ import annotations

import os
import threading

from ..errors import BindingError
from ..messaging.binding import env_name as env_name  # re-exported: the data backends import it from here
from ..plugins import SchemeRegistry
from ..resources import check_access

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Literal

    Kind = Literal["bucket", "kv"]
    Factory = Callable[[str, str, str], Any]

_instances: dict[tuple[str, str, str], Any] = {}
_lock = threading.Lock()


def _memory() -> Factory:
    from .memory import factory

    return factory


def _file() -> Factory:
    from .files import factory

    return factory


_registry = SchemeRegistry("portafunc.data", "backend", {"memory": _memory, "file": _file}, BindingError)


_WORDS = {"bucket": "buckets", "kv": "key-value tables"}


def schemes(kind: Kind | None = None) -> str:
    """The installed schemes, for error messages (the built-in ones and every adapter's); with ``kind``, only
    those that bind it."""
    return ", ".join(f"{s}://" for s in (_registry.schemes() if kind is None else _registry.schemes_for(kind)))


def register_backend(scheme: str, factory: Factory) -> None:
    """Register a bucket/kv backend for a URL scheme (adapters do it through entry points; tests may call it)."""
    _registry.register(scheme, factory)


def resolve_url(kind: Kind, name: str) -> tuple[str, str]:
    """(URL, variable) for a logical bucket or table; a missing binding names the variable to set."""
    variable = env_name(kind, name)
    url = os.environ.get(variable)
    if url:
        return url, variable
    default = os.environ.get("PORTAFUNC_DEFAULT_BINDING")
    if default:
        return (f"{default}{name}" if default.endswith("://") else f"{default.rstrip('/')}/{name}"), variable
    raise BindingError(f"{kind} {name!r} has no binding: set {variable} to a URL of an installed {kind} scheme "
                       f"({schemes(kind)})")


def open_binding(kind: Kind, name: str) -> Any:
    """The (cached) backend store for a logical name.

    Inside a handler the name must be one the function declared (its storage trigger, or
    ``uses=[reads(bucket=...)]`` / ``writes(kv=...)``): anything else is a BindingError naming the declaration to
    add, in ``portafunc run``, in the contract kit and in the cloud alike.
    """
    check_access(kind, name)
    url, variable = resolve_url(kind, name)
    key = (kind, name, url)
    found = _instances.get(key)
    if found is not None:
        return found
    scheme, sep, _ = url.partition("://")
    if not sep or not scheme:
        raise BindingError(f"{variable}={url!r} is not a URL; expected one of the installed {kind} schemes "
                           f"({schemes(kind)})")
    factory = _registry.factory(scheme, variable)
    try:
        store = factory(kind, url, name)
    except BindingError as exc:
        if getattr(factory, "kinds", None) is not None:  # declared (plugins.binds): its refusal says what to use
            raise
        other: Kind = "kv" if kind == "bucket" else "bucket"
        try:  # a backend that declares no kinds: one that takes the other kind is misplaced here
            factory(other, url, name)
        except Exception:  # noqa: BLE001 - any refusal: the first error is the one to report
            raise exc from None
        usable = ", ".join(f"{s}://" for s in _registry.schemes_for(kind) if s != scheme)
        raise BindingError(f"{variable}={url!r}: {scheme}:// binds {_WORDS[other]}, not {_WORDS[kind]}; use one "
                           f"of the installed {kind} schemes ({usable})") from None
    with _lock:
        return _instances.setdefault(key, store)


def check_write(kind: Kind, name: str) -> None:
    """Inside a handler, refuse a write to a bucket or table the function declared for reading only (its storage
    trigger's bucket, or ``reads(...)``): the cloud's grant would refuse it too (read-only IAM role), so it fails
    the same way under ``portafunc run`` and in the contract kit, naming the declaration to change."""
    from ..context import current_spec

    spec = current_spec()
    if spec is None:
        return
    if any(u.kind == kind and u.name == name and "write" in u.access for u in spec.uses):
        return
    helper = f"writes({kind}={name!r})"
    raise BindingError(f"function {spec.name!r} writes to {kind} {name!r} but may only read it: declare "
                       f"uses=[{helper}] on its decorator (@app.{spec.trigger.kind}(...))")


def reset() -> None:
    """Forget opened stores (tests, and the local runner's reload); memory:// contents are kept."""
    with _lock:
        _instances.clear()
