"""Buckets and key-value tables: ``portafunc.bucket("uploads").get(key)``, ``portafunc.kv("orders").put(...)``.

The same calls work on every cloud; the binding (``PORTAFUNC_BUCKET_<NAME>``, ``PORTAFUNC_KV_<NAME>``) says where the
data lives. See :mod:`.binding` for the URL schemes and :mod:`.errors` for the typed errors.
"""

from __future__ import annotations

from .base import ABSENT, ObjectInfo, ObjectStore, TableStore
from .binding import open_binding, register_backend, reset
from .bucket import Bucket
from .errors import DataError, DataUnavailable, KeyNotFound, UnsupportedOperation, VersionConflict
from .kv import KV, Entry

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def bucket(name: str) -> Bucket:
    """The bucket bound to ``name`` by ``PORTAFUNC_BUCKET_<NAME>``."""
    return Bucket(name, open_binding("bucket", name))


def kv(name: str, model: Any = None) -> KV:
    """The key-value table bound to ``name`` by ``PORTAFUNC_KV_<NAME>``; with ``model`` (a pydantic model class)
    values are validated into it on ``put`` and read back as instances."""
    return KV(name, open_binding("kv", name), model)


__all__ = ["ABSENT", "KV", "Bucket", "DataError", "DataUnavailable", "Entry", "KeyNotFound", "ObjectInfo",
           "ObjectStore", "TableStore", "UnsupportedOperation", "VersionConflict", "bucket", "kv",
           "register_backend", "reset"]
