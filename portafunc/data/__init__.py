"""Buckets and key-value tables: ``portafunc.bucket("uploads").get(key)``, ``portafunc.kv("orders").put(...)``.

The same calls work on every cloud; the binding (``PORTAFUNC_BUCKET_<NAME>``, ``PORTAFUNC_KV_<NAME>``) says where the
data lives. See :mod:`.binding` for the URL schemes and :mod:`.errors` for the typed errors.
"""

from __future__ import annotations

from ..handles import open_early
from .base import ABSENT, ObjectInfo, ObjectStore, TableStore
from .bucket import Bucket
from .errors import DataError, DataUnavailable, KeyNotFound, UnsupportedOperation, VersionConflict
from .kv import KV, Entry

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from .binding import register_backend, reset


def bucket(name: str) -> Bucket:
    """The bucket bound to ``name`` by ``PORTAFUNC_BUCKET_<NAME>``: opened now when it can be, else on first use
    (a module-level bucket imports where nothing is bound; see :mod:`portafunc.handles`)."""
    _check_name("bucket", name)
    open_early("bucket", name, _open)
    return Bucket(name)


def kv(name: str, model: Any = None) -> KV:
    """The key-value table bound to ``name`` by ``PORTAFUNC_KV_<NAME>``; with ``model`` (a pydantic model class)
    values are validated into it on ``put`` and read back as instances. Bound as :func:`bucket` is."""
    _check_name("kv", name)
    open_early("kv", name, _open)
    return KV(name, None, model)


def _check_name(kind: str, name: Any) -> None:
    if name.__class__ is not str or not name:
        raise TypeError(f"portafunc.{kind}() takes the {kind}'s logical name, a non-empty string, not {name!r}")


def _open(kind: str, name: str) -> Any:
    from .binding import open_binding

    return open_binding(kind, name)  # type: ignore[arg-type]


def __getattr__(name: str) -> Any:
    """The binding's functions, loaded with it on first use (a module-level handle loads no binding)."""
    if name in ("open_binding", "register_backend", "reset"):
        from . import binding

        return getattr(binding, name)
    raise AttributeError(f"module 'portafunc.data' has no attribute {name!r}")


__all__ = ["ABSENT", "KV", "Bucket", "DataError", "DataUnavailable", "Entry", "KeyNotFound", "ObjectInfo",
           "ObjectStore", "TableStore", "UnsupportedOperation", "VersionConflict", "bucket", "kv",
           "register_backend", "reset"]
