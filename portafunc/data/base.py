"""What a bucket or key-value backend implements; the public facades (:mod:`.bucket`, :mod:`.kv`) sit on top.

Backends deal in bytes and JSON text only; validation of keys, values, TTLs and presign expiries happens once in the
facades, so every backend sees the same, already checked, input and the semantics cannot drift between clouds.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from datetime import datetime
    from typing import BinaryIO, Iterator, Mapping, TypeAlias

    Body: TypeAlias = "bytes | BinaryIO"

#: ``if_version=ABSENT``: write only if the key does not exist (create, never overwrite).
ABSENT = "absent"


def rewind_point(body: object) -> int | None:
    """Where a retried upload of ``body`` must start again: its position now, or None for bytes (always whole) and
    for a stream that cannot seek (sent once, never retried: a retry would send a truncated object)."""
    if isinstance(body, bytes):
        return None
    try:
        return int(body.tell()) if body.seekable() else None  # type: ignore[attr-defined]
    except (AttributeError, OSError):
        return None


class ObjectInfo:
    """One object of a bucket. ``content_type`` and ``metadata`` are filled by ``stat()``, None in listings."""

    __slots__ = ("key", "size", "etag", "updated", "content_type", "metadata")

    def __init__(self, key: str, size: int, etag: str, updated: datetime | None,
                 content_type: str | None = None, metadata: Mapping[str, str] | None = None) -> None:
        self.key = key
        self.size = size
        self.etag = etag
        self.updated = updated
        self.content_type = content_type
        self.metadata = None if metadata is None else dict(metadata)

    def __repr__(self) -> str:
        return f"ObjectInfo({self.key!r}, size={self.size}, etag={self.etag!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ObjectInfo):
            return NotImplemented
        return (self.key, self.size, self.etag) == (other.key, other.size, other.etag)


class ObjectStore:
    """A bucket backend. ``url`` names it in errors."""

    url = ""

    def put(self, key: str, body: Body, content_type: str | None, metadata: Mapping[str, str] | None) -> str:
        """Store ``body`` under ``key`` (replacing it); the new ETag."""
        raise NotImplementedError

    def get(self, key: str) -> bytes:
        """The object's bytes; KeyNotFound when missing."""
        raise NotImplementedError

    def open(self, key: str) -> BinaryIO:
        """A reader that streams the object; KeyNotFound (at open) when missing."""
        raise NotImplementedError

    def stat(self, key: str) -> ObjectInfo:
        """The object's size, ETag, update time, content type and metadata; KeyNotFound when missing."""
        raise NotImplementedError

    def delete(self, key: str) -> None:
        """Remove the object; a missing key is not an error (deleting twice is fine)."""
        raise NotImplementedError

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        """The objects whose key starts with ``prefix``, in key order, fetched page by page."""
        raise NotImplementedError

    def exists(self, key: str) -> bool:
        raise NotImplementedError

    def presign(self, key: str, method: str, expires: int) -> str:
        """A URL that lets its holder ``method`` (GET or PUT) the object for ``expires`` seconds, without credentials."""
        raise NotImplementedError


class TableStore:
    """A key-value backend. Values arrive as JSON text; versions are opaque strings the backend chooses."""

    url = ""

    def get(self, key: str) -> tuple[str, str]:
        """(JSON text, version); KeyNotFound when missing or expired."""
        raise NotImplementedError

    def put(self, key: str, text: str, expires_at: float | None, if_version: str | None) -> str:
        """Write ``text``; with ``if_version`` only if the key is at that version (``ABSENT``: does not exist, or has
        expired), else VersionConflict. ``expires_at`` is epoch seconds (None: kept). The new version."""
        raise NotImplementedError

    def delete(self, key: str, if_version: str | None) -> None:
        """Remove the key; missing is fine unless ``if_version`` is given (then VersionConflict)."""
        raise NotImplementedError

    def keys(self, prefix: str) -> Iterator[str]:
        """The live keys starting with ``prefix`` (order: whatever the backend gives)."""
        raise NotImplementedError
