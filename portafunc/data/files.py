"""``file://DIR`` buckets: objects are files under DIR (a key's ``/`` makes directories), for local runs and tests.

Writes are atomic (a temporary file renamed into place), so a reader never sees half an object. The ETag (MD5, as
S3 gives for single-part uploads), content type and metadata are kept in ``DIR/.portafunc/KEY.json``; files put there
by other means get their ETag computed when asked. Keys that would leave DIR (``..``, empty segments, a leading
``/``) or reach the ``.portafunc`` directory are refused.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from datetime import datetime, timezone
from pathlib import Path

from ..plugins import binds
from .base import ObjectInfo, ObjectStore
from .calls import split_options, timeout_of
from .errors import DataUnavailable, KeyNotFound, UnsupportedOperation

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, BinaryIO, Iterator, Mapping

META = ".portafunc"


class FileBucket(ObjectStore):
    def __init__(self, url: str, root: Path) -> None:
        self.url = url
        self.root = root

    def _path(self, key: str) -> Path:
        parts = key.split("/")
        if key.startswith("/") or any(p in ("", ".", "..") for p in parts) or parts[0] == META or "\\" in key:
            raise ValueError(f"{self.url}: key {key!r} cannot be a file under the bucket directory (no leading '/', "
                             f"empty, '.' or '..' segments, backslashes, or {META}/)")
        return self.root.joinpath(*parts)

    def _meta_path(self, key: str) -> Path:
        return self.root.joinpath(META, *key.split("/")).with_name(key.rsplit("/", 1)[-1] + ".json")

    def put(self, key: str, body: Any, content_type: str | None, metadata: Mapping[str, str] | None) -> str:
        path = self._path(key)
        digest = hashlib.md5(usedforsecurity=False)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
            try:
                with os.fdopen(fd, "wb") as out:
                    if isinstance(body, bytes):
                        digest.update(body)
                        out.write(body)
                    else:
                        while chunk := body.read(1 << 20):
                            digest.update(chunk)
                            out.write(chunk)
                os.replace(tmp, path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
            meta = self._meta_path(key)
            meta.parent.mkdir(parents=True, exist_ok=True)
            meta.write_text(json.dumps({"etag": digest.hexdigest(), "content_type": content_type,
                                        "metadata": dict(metadata or {}), "mtime_ns": path.stat().st_mtime_ns}))
        except (IsADirectoryError, NotADirectoryError, FileExistsError) as exc:
            raise UnsupportedOperation(f"{self.url}: key {key!r} clashes with another key as file vs directory "
                                       f"({exc.strerror}); a file:// bucket cannot hold both 'a' and 'a/b'") from None
        except OSError as exc:
            raise DataUnavailable(f"{self.url}: writing {key!r} failed: {exc}") from exc
        return digest.hexdigest()

    def _existing(self, key: str) -> Path:
        path = self._path(key)
        if not path.is_file():
            raise KeyNotFound(self.url, key)
        return path

    def get(self, key: str) -> bytes:
        try:
            return self._existing(key).read_bytes()
        except FileNotFoundError:
            raise KeyNotFound(self.url, key) from None

    def open(self, key: str) -> BinaryIO:
        try:
            return self._existing(key).open("rb")
        except FileNotFoundError:
            raise KeyNotFound(self.url, key) from None

    def _info(self, key: str, path: Path, full: bool) -> ObjectInfo:
        st = path.stat()
        meta: dict[str, Any] = {}
        try:
            meta = json.loads(self._meta_path(key).read_text())
        except (OSError, ValueError):
            pass
        if meta.get("mtime_ns") != st.st_mtime_ns:  # written by something else since: recompute
            meta = {"etag": hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest()}
        updated = datetime.fromtimestamp(st.st_mtime, tz=timezone.utc)
        if not full:
            return ObjectInfo(key, st.st_size, meta["etag"], updated)
        return ObjectInfo(key, st.st_size, meta["etag"], updated,
                          meta.get("content_type") or "application/octet-stream", meta.get("metadata") or {})

    def stat(self, key: str) -> ObjectInfo:
        return self._info(key, self._existing(key), True)

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)
        self._meta_path(key).unlink(missing_ok=True)

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        if not self.root.is_dir():
            return
        found = []
        for dirpath, dirnames, filenames in os.walk(self.root):
            rel = os.path.relpath(dirpath, self.root)
            if rel == ".":
                dirnames[:] = [d for d in dirnames if d != META]
                base = ""
            else:
                base = rel.replace(os.sep, "/") + "/"
            for filename in filenames:
                key = base + filename
                if key.startswith(prefix) and not filename.startswith(".tmp-"):
                    found.append(key)
        for key in sorted(found):
            try:
                yield self._info(key, self._path(key), False)
            except FileNotFoundError:
                continue  # deleted while listing

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def presign(self, key: str, method: str, expires: int) -> str:
        if method != "GET":
            raise UnsupportedOperation(f"{self.url}: a file:// bucket can only give file: URLs to read")
        return self._existing(key).resolve().as_uri()


def factory(kind: str, url: str, name: str) -> FileBucket:
    """``file:///ABSOLUTE/DIR`` or ``file://RELATIVE/DIR`` (to the working directory)."""
    from ..errors import BindingError
    from .binding import env_name

    variable = env_name(kind, name)
    if kind != "bucket":
        raise BindingError(f"{variable}={url!r}: file:// holds buckets only; bind a kv table to memory:// locally")
    rest, options = split_options(url, set(), variable)
    timeout_of(options, url)
    if not rest:
        raise BindingError(f"{variable}={url!r} names no directory; use file:///ABSOLUTE/DIR")
    from urllib.parse import unquote

    return FileBucket(url, Path(unquote(rest)).absolute())


binds(factory, "bucket")
