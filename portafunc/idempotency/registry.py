"""Which store to use: ``PORTAFUNC_IDEMPOTENCY_STORE`` holds a URL whose scheme picks the implementation.

``memory://`` is built in; the targets' stores come from the adapters through the ``portafunc.idempotency`` entry
point group (factory(url) -> store), so the core never imports a cloud SDK. Unset: the memory store for the local target (the runner, tests), and an error anywhere else — a
per-container memory store would silently let duplicates through in the cloud.
"""

from __future__ import annotations

import os
import threading

from ..plugins import SchemeRegistry
from .errors import IdempotencyStoreError
from .store import IdempotencyStore

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Callable

    StoreFactory = Callable[[str], IdempotencyStore]

ENV = "PORTAFUNC_IDEMPOTENCY_STORE"

_stores: dict[str, IdempotencyStore] = {}
_lock = threading.Lock()


def _memory() -> StoreFactory:
    from .memory import MemoryStore

    return MemoryStore


_registry = SchemeRegistry("portafunc.idempotency", "store", {"memory": _memory}, IdempotencyStoreError)


def _examples() -> str:
    return "a URL of an installed store scheme (" + ", ".join(f"{s}://" for s in _registry.schemes()) + ")"


def register_store(scheme: str, factory: StoreFactory) -> None:
    """Register a store factory for a URL scheme (adapters do it through entry points; tests may call it)."""
    _registry.register(scheme, factory)


def open_store(url: str) -> IdempotencyStore:
    """The (cached) store for ``url``."""
    with _lock:
        found = _stores.get(url)
    if found is not None:
        return found
    scheme, sep, _ = url.partition("://")
    if not sep or not scheme:
        raise IdempotencyStoreError(f"{ENV}={url!r} is not a URL; expected {_examples()}")
    store = _registry.factory(scheme, ENV)(url)
    with _lock:
        return _stores.setdefault(url, store)


def current_store(target: str = "local") -> IdempotencyStore:
    """The store configured by the environment (see the module docstring for the unset case)."""
    url = os.environ.get(ENV, "").strip()
    if not url:
        if target != "local":
            raise IdempotencyStoreError(f"a function declares idempotency but {ENV} is not set; set it to "
                                        f"{_examples()} (memory:// only suppresses duplicates within one process)")
        url = "memory://"
    return open_store(url)


def reset() -> None:
    """Forget opened stores (tests, and the local runner's reload)."""
    with _lock:
        _stores.clear()
