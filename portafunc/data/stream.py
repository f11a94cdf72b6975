"""A binary reader over any "read up to n bytes" function: what ``Bucket.open`` returns on every backend."""

from __future__ import annotations

import io

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Callable


class ChunkReader(io.RawIOBase):
    """``read``/``readinto``/iteration/``with`` over ``read_some(n)`` (a stream that returns b"" at the end)."""

    def __init__(self, read_some: Callable[[int], bytes], close: Callable[[], None] | None = None) -> None:
        self._read_some = read_some
        self._close = close
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        view = memoryview(buffer).cast("B")
        if not self._pending:
            self._pending = self._read_some(max(len(view), 65536))
        n = min(len(view), len(self._pending))
        view[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n

    def close(self) -> None:
        if not self.closed and self._close is not None:
            self._close()
        super().close()


def reader(read_some: Callable[[int], bytes], close: Callable[[], None] | None = None) -> io.BufferedReader:
    """A buffered binary reader (``read()``, ``read(n)``, ``readline()``, ``for line in``, ``with``)."""
    return io.BufferedReader(ChunkReader(read_some, close), buffer_size=256 * 1024)
