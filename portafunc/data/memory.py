"""``memory://NAME`` buckets and tables: in-process, shared by every ``bucket()``/``kv()`` bound to the same URL.

For tests, the contract kit and ``portafunc run``: the same semantics as the cloud backends (missing keys, versions,
TTL, prefix listing), checked by the same contract suite. Nothing survives the process.
"""

from __future__ import annotations

import hashlib
import io
import threading
import time
from datetime import datetime, timezone

from ..plugins import binds
from .base import ABSENT, ObjectInfo, ObjectStore, TableStore
from .calls import split_options, timeout_of
from .errors import KeyNotFound, UnsupportedOperation, VersionConflict

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, BinaryIO, Iterator, Mapping

_buckets: dict[str, dict[str, tuple[bytes, ObjectInfo]]] = {}
_tables: dict[str, dict[str, tuple[str, str, float | None]]] = {}
_lock = threading.Lock()
_counter = [0]


def _next_version() -> str:
    _counter[0] += 1
    return str(_counter[0])


def read_body(body: Any) -> bytes:
    return body if isinstance(body, bytes) else bytes(body.read())


def etag_of(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()  # what S3 gives for a single-part upload


class MemoryBucket(ObjectStore):
    def __init__(self, url: str, space: str) -> None:
        self.url = url
        with _lock:
            self._objects = _buckets.setdefault(space, {})

    def put(self, key: str, body: Any, content_type: str | None, metadata: Mapping[str, str] | None) -> str:
        data = read_body(body)
        info = ObjectInfo(key, len(data), etag_of(data), datetime.now(timezone.utc), content_type, metadata or {})
        with _lock:
            self._objects[key] = (data, info)
        return info.etag

    def _find(self, key: str) -> tuple[bytes, ObjectInfo]:
        found = self._objects.get(key)
        if found is None:
            raise KeyNotFound(self.url, key)
        return found

    def get(self, key: str) -> bytes:
        return self._find(key)[0]

    def open(self, key: str) -> BinaryIO:
        return io.BytesIO(self._find(key)[0])

    def stat(self, key: str) -> ObjectInfo:
        info = self._find(key)[1]
        return ObjectInfo(info.key, info.size, info.etag, info.updated, info.content_type, info.metadata)

    def delete(self, key: str) -> None:
        with _lock:
            self._objects.pop(key, None)

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        with _lock:
            found = sorted((k, v[1]) for k, v in self._objects.items() if k.startswith(prefix))
        for _, info in found:
            yield ObjectInfo(info.key, info.size, info.etag, info.updated)

    def exists(self, key: str) -> bool:
        return key in self._objects

    def presign(self, key: str, method: str, expires: int) -> str:
        raise UnsupportedOperation(f"{self.url}: an in-memory bucket has no URL to presign; bind the bucket to "
                                   "a target's bucket scheme (or file:// for local GET links)")


class MemoryTable(TableStore):
    def __init__(self, url: str, space: str) -> None:
        self.url = url
        with _lock:
            self._items = _tables.setdefault(space, {})

    def _live(self, key: str, now: float) -> tuple[str, str, float | None] | None:
        found = self._items.get(key)
        if found is None or (found[2] is not None and found[2] <= now):
            return None
        return found

    def get(self, key: str) -> tuple[str, str]:
        found = self._live(key, time.time())
        if found is None:
            raise KeyNotFound(self.url, key)
        return found[0], found[1]

    def put(self, key: str, text: str, expires_at: float | None, if_version: str | None) -> str:
        with _lock:
            if if_version is not None:
                found = self._live(key, time.time())
                current = ABSENT if found is None else found[1]
                if current != if_version:
                    raise VersionConflict(self.url, key, if_version)
            version = _next_version()
            self._items[key] = (text, version, expires_at)
        return version

    def delete(self, key: str, if_version: str | None) -> None:
        with _lock:
            if if_version is not None:
                found = self._live(key, time.time())
                if found is None or found[1] != if_version:
                    raise VersionConflict(self.url, key, if_version)
            self._items.pop(key, None)

    def keys(self, prefix: str) -> Iterator[str]:
        now = time.time()
        with _lock:
            found = sorted(k for k in self._items if k.startswith(prefix) and self._live(k, now) is not None)
        return iter(found)


def factory(kind: str, url: str, name: str) -> ObjectStore | TableStore:
    """``memory://`` (one space per logical name) or ``memory://SPACE`` (shared by every name bound to it)."""
    from .binding import env_name

    rest, options = split_options(url, set(), env_name(kind, name))
    timeout_of(options, url)
    space = rest.strip("/") or name
    return MemoryBucket(url, space) if kind == "bucket" else MemoryTable(url, space)


binds(factory, "bucket", "kv")


def reset() -> None:
    """Drop every in-memory object and item (between tests)."""
    with _lock:
        for objects in _buckets.values():
            objects.clear()
        for items in _tables.values():
            items.clear()
