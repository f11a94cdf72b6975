"""``portafunc.bucket(name)``: one object-storage API over S3, Azure Blob, Cloud Storage, a directory and memory."""

from __future__ import annotations

from .base import ObjectInfo, ObjectStore

TYPE_CHECKING = False
if TYPE_CHECKING:
    from datetime import timedelta
    from typing import Any, BinaryIO, Iterator, Mapping, TypeAlias

    Data: TypeAlias = "bytes | bytearray | memoryview | str | BinaryIO"

MAX_KEY_BYTES = 1024  # S3 and Cloud Storage: 1024 bytes of UTF-8; Azure allows more
MAX_PRESIGN = 7 * 24 * 3600  # SigV4 and GCS V4 signatures are valid at most 7 days
DEFAULT_PRESIGN = 3600
PRESIGN_METHODS = ("GET", "PUT")


def check_key(key: Any) -> str:
    if not isinstance(key, str) or not key:
        raise ValueError(f"an object key is a non-empty string, not {key!r}")
    if len(key.encode("utf-8", "surrogatepass")) > MAX_KEY_BYTES:
        raise ValueError(f"object key of {len(key.encode('utf-8', 'surrogatepass'))} bytes is longer than "
                         f"{MAX_KEY_BYTES} bytes of UTF-8")
    if "\x00" in key or any(0xD800 <= ord(c) <= 0xDFFF for c in key):
        raise ValueError(f"object key {key!r} holds a NUL or a lone surrogate")
    return key


def seconds(expires: float | timedelta, what: str, limit: float) -> int:
    """``expires`` (seconds or a timedelta) as whole seconds in [1, limit]."""
    value = expires.total_seconds() if hasattr(expires, "total_seconds") else expires
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 1 <= value <= limit:
        raise ValueError(f"{what} must be 1 s to {int(limit)} s (a number of seconds or a timedelta), not {expires!r}")
    return int(value)


class Bucket:
    """A logical bucket, bound by ``PORTAFUNC_BUCKET_<NAME>``. Keys are the decoded keys storage triggers give.

    Without ``store`` the binding is read on every call (its store opened once and cached), so a bucket made at
    module level imports where nothing is bound yet and is held to the running function's ``uses=`` as one made
    inside the handler (see :mod:`portafunc.handles`)."""

    __slots__ = ("name", "_store")
    kind = "bucket"  # what a handle says it is (a trigger or uses= taking it checks)

    def __init__(self, name: str, store: ObjectStore | None = None) -> None:
        self.name = name
        self._store = store

    @property
    def store(self) -> ObjectStore:
        """The backend: the one given, else the one the binding names now."""
        fixed = self._store
        if fixed is not None:
            return fixed
        from .binding import open_binding  # loaded on the first call: a module-level handle loads no binding

        found: ObjectStore = open_binding("bucket", self.name)
        return found

    def __portafunc_use__(self) -> Any:
        """In ``uses=``: the function reads and writes this bucket (``reads(bucket=...)`` grants reading only)."""
        from ..resources import writes

        return writes(bucket=self.name)

    def __repr__(self) -> str:
        return f"portafunc.bucket({self.name!r})"

    def put(self, key: str, data: Data, content_type: str | None = None,
            metadata: Mapping[str, str] | None = None) -> str:
        """Store ``data`` (bytes, str as UTF-8, or a binary file object streamed as it is read); the new ETag."""
        check_key(key)
        _check_write("bucket", self.name)
        if isinstance(data, str):
            body: Any = data.encode("utf-8")
            content_type = content_type or "text/plain; charset=utf-8"
        elif isinstance(data, (bytes, bytearray, memoryview)):
            body = bytes(data)
        elif hasattr(data, "read"):
            body = data
        else:
            raise TypeError(f"bucket {self.name!r}: data must be bytes, str or a binary file object, "
                            f"not {type(data).__name__}")
        if metadata is not None:
            bad = [k for k, v in metadata.items() if not (isinstance(k, str) and k.isascii() and k[:1].isalpha()
                                                          and all(c.isalnum() or c == "_" for c in k)
                                                          and isinstance(v, str) and v.isascii())]
            if bad:
                raise ValueError("metadata keys are a letter then letters, digits or '_' (some stores want identifiers) "
                                 "and values ASCII strings (every cloud carries them as HTTP headers); refused: "
                                 f"{bad}")
            metadata = {k.lower(): v for k, v in metadata.items()}
        return self.store.put(key, body, content_type or "application/octet-stream", metadata)

    def get(self, key: str) -> bytes:
        """The object's bytes; :class:`~portafunc.data.KeyNotFound` when it does not exist."""
        return self.store.get(check_key(key))

    def open(self, key: str) -> BinaryIO:
        """A binary reader that streams the object (for objects too large to hold in memory); close it, or use
        ``with``."""
        return self.store.open(check_key(key))

    def stat(self, key: str) -> ObjectInfo:
        """Size, ETag, update time, content type and metadata of one object."""
        return self.store.stat(check_key(key))

    def delete(self, key: str) -> None:
        """Remove the object; deleting a missing key is not an error."""
        _check_write("bucket", self.name)
        self.store.delete(check_key(key))

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        """The objects whose key starts with ``prefix``, in key order (pages are fetched as you iterate)."""
        if not isinstance(prefix, str):
            raise TypeError(f"prefix must be a string, not {type(prefix).__name__}")
        return self.store.list(prefix)

    def exists(self, key: str) -> bool:
        return self.store.exists(check_key(key))

    def presign(self, key: str, method: str = "GET", expires: float | timedelta = DEFAULT_PRESIGN) -> str:
        """A URL that lets anyone holding it GET (download) or PUT (upload) this one object for ``expires`` seconds
        (at most 7 days), without credentials."""
        method = method.upper() if isinstance(method, str) else method
        if method not in PRESIGN_METHODS:
            raise ValueError(f"presign method {method!r}: use one of {', '.join(PRESIGN_METHODS)}")
        return self.store.presign(check_key(key), method, seconds(expires, "presign expires", MAX_PRESIGN))


def _check_write(kind: str, name: str) -> None:
    from .binding import check_write

    check_write(kind, name)  # type: ignore[arg-type]
