"""A response whose body is still being produced: what a mounted web app's streamed answer becomes.

A front door that can send a body in pieces (``portafunc run``, functions-framework on Google Cloud) asks the
pipeline for it (``handle_http(..., stream=True)``) and writes :meth:`StreamedResponse.chunks` as they come. Every
other front door gets the body whole: the pipeline buffers it before the invocation ends, and reading ``body``
anywhere buffers it too, so code that knows nothing of streaming still sees the complete bytes.
"""

from __future__ import annotations

from .events import Headers, HttpResponse

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Iterator

_BODY: Any = HttpResponse.__dict__["body"]  # the slot HttpResponse keeps its bytes in; ``body`` below wraps it


class StreamedResponse(HttpResponse):
    """Status and headers final, body the ``first`` bytes then whatever ``rest`` yields.

    ``close`` runs once, when the body was read to its end or given up (a client gone, a HEAD request): the
    producer's own cleanup (an ASGI app told the client disconnected, a WSGI iterable's ``close()``).
    """

    __slots__ = ("_rest", "_close")
    streamed = True

    def __init__(self, status: int, headers: Headers, first: bytes, rest: Iterator[bytes],
                 close: Callable[[], None]) -> None:
        self._rest: Iterator[bytes] | None = None
        self._close: Callable[[], None] | None = None
        HttpResponse.__init__(self, status, headers, first)  # checks the headers, like any response
        self._rest = rest
        self._close = close

    @property  # type: ignore[override, unused-ignore]
    def body(self) -> bytes:
        """The whole body, waiting for the rest of it (the buffered fallback)."""
        rest = self._rest
        if rest is not None:
            self._rest = None
            try:
                _BODY.__set__(self, b"".join([_BODY.__get__(self), *rest]))
            finally:
                self.close()
        return _BODY.__get__(self)  # type: ignore[no-any-return, unused-ignore]

    @body.setter
    def body(self, value: bytes) -> None:
        if self._rest is not None:  # the rest is not wanted: stop producing it
            self._rest = None
            self.close()
        _BODY.__set__(self, value)

    @property
    def pending(self) -> bool:
        """True while part of the body has not been produced yet."""
        return self._rest is not None

    def chunks(self) -> Pieces:
        """The body piece by piece, each as soon as it is produced; once only (the body is then empty). Closing the
        iterator early (the client went away) stops the producer."""
        first = _BODY.__get__(self)
        rest = self._rest
        _BODY.__set__(self, b"")
        self._rest = None
        return Pieces(first, rest, self.close)

    def close(self) -> None:
        """Stop producing the body (idempotent)."""
        close, self._close = self._close, None
        if close is not None:
            close()


class Pieces:
    """An iterator over a streamed body whose ``close()`` reaches the producer even before the first piece."""

    __slots__ = ("_first", "_rest", "_close")

    def __init__(self, first: bytes, rest: Iterator[bytes] | None, close: Callable[[], None]) -> None:
        self._first = first
        self._rest = rest
        self._close: Callable[[], None] | None = close

    def __iter__(self) -> Pieces:
        return self

    def __next__(self) -> bytes:
        first = self._first
        if first:
            self._first = b""
            return first
        rest = self._rest
        try:
            if rest is not None:
                for chunk in rest:
                    if chunk:
                        return chunk
        except BaseException:
            self.close()
            raise
        self.close()
        raise StopIteration

    def close(self) -> None:
        self._rest = None
        close, self._close = self._close, None
        if close is not None:
            close()
