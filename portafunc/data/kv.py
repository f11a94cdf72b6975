"""``portafunc.kv(name, model=None)``: one key-value API over DynamoDB, Azure Table, Firestore and memory.

Values are stored as JSON text, so every backend holds the same bytes and a value written on one cloud reads back
equal on another. With ``model=`` (a pydantic model class) values are validated on the way in and out.
"""

from __future__ import annotations

import json
import time

from .base import ABSENT, TableStore

TYPE_CHECKING = False
if TYPE_CHECKING:
    from datetime import timedelta
    from typing import Any, Iterator

MAX_KEY_BYTES = 1024
MAX_TTL = 10 * 365 * 24 * 3600
#: The most UTF-8 bytes of JSON one value may take: what every backend stores (the smallest item limit among them,
#: 400 KB, less the key and the bookkeeping attributes; the others take more). Checked before writing, on every
#: backend, memory:// too, so what works locally fits every target, and a value too large is the caller's error
#: (ValueError, never retried into a dead letter as an outage).
MAX_VALUE_BYTES = 400_000


def check_key(key: Any) -> str:
    if not isinstance(key, str) or not key:
        raise ValueError(f"a key is a non-empty string, not {key!r}")
    if len(key.encode("utf-8", "surrogatepass")) > MAX_KEY_BYTES or "\x00" in key \
            or any(0xD800 <= ord(c) <= 0xDFFF for c in key):
        raise ValueError(f"key {key[:40]!r}…: at most {MAX_KEY_BYTES} bytes of UTF-8, no NUL, no lone surrogate")
    return key


def check_version(version: Any) -> str | None:
    if version is None or (isinstance(version, str) and version):
        return version
    raise ValueError(f"if_version is a version string from entry()/put() or ABSENT, not {version!r}")


class Entry:
    """A value with the version to pass as ``if_version=`` for a write that must not lose a concurrent one."""

    __slots__ = ("key", "value", "version")

    def __init__(self, key: str, value: Any, version: str) -> None:
        self.key = key
        self.value = value
        self.version = version

    def __repr__(self) -> str:
        return f"Entry({self.key!r}, version={self.version!r})"


class KV:
    """A logical key-value table, bound by ``PORTAFUNC_KV_<NAME>``."""

    __slots__ = ("name", "_store", "model", "_validate")
    kind = "kv"  # what a handle says it is (a trigger or uses= taking it checks)

    def __init__(self, name: str, store: TableStore | None = None, model: Any = None) -> None:
        self.name = name
        self._store = store
        self.model = model
        self._validate = None if model is None else model.model_validate_json

    @property
    def store(self) -> TableStore:
        """The backend: the one given, else the one the binding names now (read on every call, as
        :class:`~portafunc.data.Bucket` does)."""
        fixed = self._store
        if fixed is not None:
            return fixed
        from .binding import open_binding  # loaded on the first call: a module-level handle loads no binding

        found: TableStore = open_binding("kv", self.name)
        return found

    def __portafunc_use__(self) -> Any:
        """In ``uses=``: the function reads and writes this table (``reads(kv=...)`` grants reading only)."""
        from ..resources import writes

        return writes(kv=self.name)

    def __repr__(self) -> str:
        return f"portafunc.kv({self.name!r}" + (f", model={self.model.__name__})" if self.model else ")")

    def get(self, key: str) -> Any:
        """The value (a model instance with ``model=``); :class:`~portafunc.data.KeyNotFound` when missing/expired."""
        return self._decode(self.store.get(check_key(key))[0])

    def entry(self, key: str) -> Entry:
        """The value and its version, for a later ``put(..., if_version=entry.version)``."""
        text, version = self.store.get(check_key(key))
        return Entry(key, self._decode(text), version)

    def put(self, key: str, value: Any, ttl: float | timedelta | None = None, if_version: str | None = None) -> str:
        """Store ``value`` (JSON-able, or a pydantic model); kept ``ttl`` seconds if given. With ``if_version``
        only if the key is still at that version (``ABSENT``: only if it does not exist), else
        :class:`~portafunc.data.VersionConflict`. Returns the new version."""
        check_key(key)
        _check_write("kv", self.name)
        expires_at = None
        if ttl is not None:
            from .bucket import seconds

            expires_at = time.time() + seconds(ttl, "ttl", MAX_TTL)
        text = self._encode(value)
        if len(text) > MAX_VALUE_BYTES // 4:  # shorter, it is within the limit whatever its characters
            size = len(text.encode("utf-8", "surrogatepass"))
            if size > MAX_VALUE_BYTES:
                raise ValueError(f"kv {self.name!r}, key {key[:40]!r}: the value is {size:,} bytes of JSON; an entry "
                                 f"holds at most {MAX_VALUE_BYTES:,} on every target: keep large data in a bucket and "
                                 "store its key here")
        return self.store.put(key, text, expires_at, check_version(if_version))

    def delete(self, key: str, if_version: str | None = None) -> None:
        """Remove the key (a missing key is fine); with ``if_version`` only if it is still at that version."""
        if if_version == ABSENT:
            raise ValueError("delete(if_version=ABSENT) can never succeed; pass a version or None")
        _check_write("kv", self.name)
        self.store.delete(check_key(key), check_version(if_version))

    def keys(self, prefix: str = "") -> Iterator[str]:
        """The live keys starting with ``prefix`` (in no guaranteed order: DynamoDB scans)."""
        if not isinstance(prefix, str):
            raise TypeError(f"prefix must be a string, not {type(prefix).__name__}")
        return self.store.keys(prefix)

    def _encode(self, value: Any) -> str:
        if self.model is not None:
            if not isinstance(value, self.model):
                value = self._checked(self.model.model_validate, value, "put")
            return str(value.model_dump_json())
        dump = getattr(value, "model_dump_json", None)
        if dump is not None:  # a pydantic model given to an untyped table
            return str(dump())
        try:
            return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        except (TypeError, ValueError) as exc:  # an unknown type, or NaN/infinity (not JSON): same class kept
            raise type(exc)(f"kv {self.name!r}: value is not JSON-able ({exc}); store dicts, lists, strings, "
                            "finite numbers, booleans, None or pydantic models") from None

    def _decode(self, text: str) -> Any:
        if self._validate is not None:
            return self._checked(self._validate, text, "get")
        return json.loads(text)

    def _checked(self, validate: Any, value: Any, action: str) -> Any:
        """``validate(value)``; a pydantic ValidationError becomes the typed PayloadValidationError."""
        from pydantic import ValidationError

        from ..errors import PayloadValidationError

        try:
            return validate(value)
        except ValidationError as exc:
            errors = [dict(e) for e in exc.errors(include_url=False, include_context=False, include_input=False)]
            raise PayloadValidationError(f"kv {self.name!r}: {action}: value is not a valid {self.model.__name__}: "
                                         f"{len(errors)} error(s)", errors) from None


def _check_write(kind: str, name: str) -> None:
    from .binding import check_write

    check_write(kind, name)  # type: ignore[arg-type]
