"""The HTTP front door: a stdlib threading server that turns each request into a neutral HttpRequest.

It stays on ``http.server`` (docs/design.md says why) and does itself what a kept server would: the body limit is
checked against ``Content-Length`` (or the chunk sizes) *before* any body byte is read (413), every read has a
timeout and the whole body a deadline (408), a body shorter than announced is never dispatched (400), and a
response header that would split the response, or a status no status line can carry, is never written (500).
"""

from __future__ import annotations

import os
import socket
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

from ..app import App
from ..cors import decorate_refusal
from ..errors import InvalidHeader, reduce_exception
from ..events import Headers, HttpFields, HttpRequest, HttpResponse, check_headers, decode_path, origin
from ..invoke import handle_http, match_request
from ..kit.http_json import header_text
from .console import InFlight, invocation_line

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..streaming import StreamedResponse

_NO_BODY_STATUSES = {204, 304}

READ_TIMEOUT = 10.0
_LINGER_SECONDS = 2.0
_CHUNK_LINE_MAX = 1024


def body_limit(target: str | None) -> int:
    """The smaller of ``target``'s front-door limit (``Target.http_body_limit()``; without ``--target`` the
    strictest installed target's, so what works locally fits every target) and the pipeline's own
    (``PORTAFUNC_MAX_BODY_BYTES``, default 10 MiB), which applies on every target too: exactly what the deployed
    function would accept, refused here before a byte of the body is read."""
    from .. import invoke
    from ..targets import available, get_target

    names = [target] if target else sorted(available())
    limits = [limit for limit in (get_target(name).http_body_limit() for name in names) if limit]
    return min([*limits, invoke.MAX_BODY_BYTES])


def read_timeout() -> float:
    """Seconds a client may stay silent while sending a request, and the most its whole body may take."""
    return float(os.environ.get("PORTAFUNC_RUN_READ_TIMEOUT") or READ_TIMEOUT)


def _ascii_query(text: str) -> str:
    """The query string as the client sent it; bytes outside printable ASCII (which ``http.server`` decoded as
    latin-1) percent-encoded, so the text is ASCII and its escapes decode to the bytes that were sent."""
    if text.isascii() and text.isprintable() and " " not in text:
        return text
    from urllib.parse import quote_from_bytes

    return quote_from_bytes(text.encode("latin-1"), safe="".join(chr(c) for c in range(0x21, 0x7F)))


class _Refused(Exception):
    """The request cannot be dispatched; answered with ``status`` and the connection closed."""

    __reduce__ = reduce_exception  # copy and pickle without calling __init__ again

    def __init__(self, status: int, title: str, detail: str) -> None:
        super().__init__(detail)
        self.response = HttpResponse.problem(status, title, detail)


def _too_large(size: int | None, limit: int) -> _Refused:
    """The 413 of a body of ``size`` bytes (announced by Content-Length), or of a chunked body (None) that went past
    the limit before its end, whose size is not known: reading stops there."""
    said = f"{size} bytes" if size is not None else f"more than {limit} bytes"
    return _Refused(413, "Content Too Large", f"request body is {said}; the limit is {limit}")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: LocalHttpServer

    def setup(self) -> None:
        super().setup()
        self.connection.settimeout(self.server.read_timeout)  # every read; the body also gets a deadline

    def parse_request(self) -> bool:
        try:
            return super().parse_request()
        except TimeoutError:  # the request line arrived, its headers did not
            self._refuse(_Refused(408, "Request Timeout", "the request headers did not arrive in time"))
            return False

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """The standard library's own refusals (malformed request line, 414, 431, 501...) as problem+json, not its
        HTML page; the connection is closed, as the standard library does."""
        self.close_connection = True
        title = self.responses.get(code, ("Error",))[0]
        try:
            self._write(HttpResponse.problem(code, title, explain or message), head=self.command == "HEAD")
        except OSError:
            pass  # the client went away

    def handle_expect_100(self) -> bool:
        """Refuse a body over the limit before the client sends it, instead of inviting it with ``100 Continue``."""
        length = self.headers.get("Content-Length")
        if length and length.strip().isdecimal() and int(length) > self.server.max_body:
            refused = _too_large(int(length), self.server.max_body)
            raw_path = self._raw_path()
            decorate_refusal(self.server.app, self.command, decode_path(raw_path) or "/", self.headers.get("Origin"),
                             refused.response, raw_path)
            self._refuse(refused)
            return False
        return super().handle_expect_100()

    def _serve(self) -> None:
        started = time.perf_counter()
        raw_path, raw_query = self._raw_path(), self.path.partition("?")[2]
        try:
            body = self._read_body()
        except _Refused as refused:
            decorate_refusal(self.server.app, self.command, decode_path(raw_path) or "/", self.headers.get("Origin"),
                             refused.response, raw_path)  # the CORS headers every answer carries: a browser reads why
            self._refuse(refused)
            invocation_line(f"{self.command} {self.path}", "(not dispatched)", str(refused.response.status),
                            time.perf_counter() - started)
            return
        path = decode_path(raw_path) or "/"
        raw_query = _ascii_query(raw_query)
        req = HttpRequest(
            method=self.command,
            path=path,
            query={k: list(v) for k, v in parse_qs(raw_query, keep_blank_values=True).items()},
            raw_query=raw_query,
            raw_path=raw_path if "%" in raw_path else None,
            headers=Headers([(name, header_text(value)) for name, value in self.headers.items()]),
            body=body,
            client_ip=self.client_address[0] if self.client_address else None,
        )
        req._fields = self.server.fields  # every field is given: base_url alone is read (from the Host sent)
        app = self.server.app
        spec, _, _ = match_request(app, req)
        name = spec.name if spec is not None else "(no function)"
        self.server.in_flight.begin(name)
        try:
            resp = handle_http(app, req, target="local", stream=True)
        finally:
            self.server.in_flight.end(name)
        invocation_line(f"{self.command} {self.path}", name, str(resp.status), time.perf_counter() - started)
        self._write(resp, head=self.command == "HEAD")

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _serve

    def _raw_path(self) -> str:
        """The request target's path, as sent (still percent-encoded)."""
        raw_path = self.path.partition("?")[0]
        if raw_path.startswith(("http://", "https://")):  # absolute-form request target (proxies)
            raw_path = "/" + raw_path.split("://", 1)[1].partition("/")[2]
        return raw_path

    # -- reading ------------------------------------------------------------------------------------------------
    def _read_body(self) -> bytes:
        limit = self.server.max_body
        deadline = time.monotonic() + self.server.read_timeout
        transfer = (self.headers.get("Transfer-Encoding") or "").lower()
        if transfer:
            if transfer.replace(" ", "") != "chunked":
                raise _Refused(501, "Not Implemented", f"Transfer-Encoding {transfer!r:.40} is not supported")
            if "Content-Length" in self.headers:  # RFC 9112 §6.1: a request smuggling vector, refused
                raise _Refused(400, "Bad Request", "both Transfer-Encoding and Content-Length are set")
            return self._read_chunked(limit, deadline)
        lengths = self.headers.get_all("Content-Length") or []
        if not lengths:
            return b""
        if len({v.strip() for v in lengths}) != 1 or not lengths[0].strip().isdecimal():
            raise _Refused(400, "Bad Request", f"Content-Length {', '.join(lengths)!r:.60} is not one number")
        n = int(lengths[0])
        if n > limit:
            raise _too_large(n, limit)
        return self._read_exact(n, deadline, n)

    def _read_exact(self, n: int, deadline: float, announced: int) -> bytes:
        parts: list[bytes] = []
        left = n
        try:
            while left:
                if time.monotonic() > deadline:
                    raise _Refused(408, "Request Timeout", f"the body did not arrive in {self.server.read_timeout:g}s")
                chunk = self.rfile.read1(min(left, 1 << 16))
                if not chunk:
                    raise _Refused(400, "Bad Request",
                                   f"the body ended after {announced - left} of {announced} announced bytes")
                parts.append(chunk)
                left -= len(chunk)
        except TimeoutError:
            raise _Refused(408, "Request Timeout",
                           f"no body bytes for {self.server.read_timeout:g}s "
                           f"({announced - left} of {announced} received)") from None
        return b"".join(parts)

    def _read_line(self, deadline: float) -> bytes:
        try:
            line = self.rfile.readline(_CHUNK_LINE_MAX + 1)
        except TimeoutError:
            raise _Refused(408, "Request Timeout", "the chunked body stalled") from None
        if time.monotonic() > deadline:
            raise _Refused(408, "Request Timeout", f"the body did not arrive in {self.server.read_timeout:g}s")
        if not line.endswith(b"\n"):
            raise _Refused(400, "Bad Request", "the chunked body ended early or has an over-long line")
        return line

    def _read_chunked(self, limit: int, deadline: float) -> bytes:
        chunks: list[bytes] = []
        total = 0
        while True:
            size_text = self._read_line(deadline).split(b";")[0].strip()
            try:
                size = int(size_text, 16)
            except ValueError:
                raise _Refused(400, "Bad Request", f"malformed chunk size {size_text!r:.40}") from None
            if size < 0:
                raise _Refused(400, "Bad Request", "negative chunk size")
            if size == 0:
                while self._read_line(deadline) not in (b"\r\n", b"\n"):
                    pass  # trailers
                return b"".join(chunks)
            total += size
            if total > limit:  # more chunks may follow: the size is not known, only that it is over the limit
                raise _too_large(None, limit)
            chunks.append(self._read_exact(size, deadline, size))
            if self._read_line(deadline) not in (b"\r\n", b"\n"):
                raise _Refused(400, "Bad Request", "a chunk is longer than its size")

    # -- writing ------------------------------------------------------------------------------------------------
    def _refuse(self, refused: _Refused) -> None:
        """Answer without dispatching, close, and keep reading briefly so the client sees the answer (closing a
        socket with unread input resets the connection, which can discard the response before it is read)."""
        self.close_connection = True
        try:
            self._write(refused.response, head=False)
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_WR)
            self.connection.settimeout(0.2)
            stop = time.monotonic() + _LINGER_SECONDS
            while time.monotonic() < stop and self.connection.recv(1 << 16):
                pass
        except OSError:
            pass  # the client went away: nothing left to tell it

    def _write(self, resp: HttpResponse, *, head: bool) -> None:
        try:
            check_headers(resp.headers._items)  # the handler's own checks ran already; this is the last line
        except InvalidHeader:
            resp = HttpResponse.problem(500, "Internal Server Error", "the function set a header that cannot be sent")
        status = resp.status
        if status.__class__ is not int or not 99 < status < 600:  # set on the response after it was built
            resp = _with_sendable_status(resp)
        streamed = resp.streamed and not head and resp.status not in _NO_BODY_STATUSES
        body = b"" if streamed else resp.body  # (a streamed body not sent is still produced to its end)
        if resp.status in _NO_BODY_STATUSES:
            body = b""
        self.send_response(resp.status)
        for name, value in resp.headers.items():
            if name.lower() in ("content-length", "transfer-encoding", "connection"):
                continue
            self.send_header(name, value)
        if streamed:
            if self.request_version == "HTTP/1.1":
                self.send_header("Transfer-Encoding", "chunked")
            else:  # an HTTP/1.0 client: the body ends when the connection does
                self.close_connection = True
        elif resp.status not in _NO_BODY_STATUSES and not head:
            self.send_header("Content-Length", str(len(body)))
        elif resp.status not in _NO_BODY_STATUSES:
            # HEAD: the length of GET's body, which the pipeline dropped (portafunc.invoke.head_answer), or of this
            # answer's own (a refusal); never 0 for a body that was dropped, which would say GET's is empty (RFC 9110
            # §9.3.2: a HEAD answer may leave it out, and a client reads no body after it either way)
            length = resp.headers.get("content-length") or (str(len(body)) if body else None)
            if length is not None and length.isdecimal():
                self.send_header("Content-Length", length)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if streamed:
            self._write_chunks(resp)  # type: ignore[arg-type]
        elif not head and body:
            self.wfile.write(body)

    def _write_chunks(self, resp: StreamedResponse) -> None:
        """Each piece of a streamed body as soon as the function produced it. A failure mid-body is logged and the
        connection closed without the last chunk, so the client sees the body cut short (never a complete one)."""
        chunked = self.request_version == "HTTP/1.1"
        pieces = resp.chunks()
        try:
            for piece in pieces:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
                self.wfile.flush()
        except OSError:  # the client went away: the producer is told (closing the pieces)
            self.close_connection = True
            pieces.close()
            return
        except Exception as exc:  # noqa: BLE001 - the status is sent: all that is left is to cut the body short
            from ..logs import error

            error("the function failed while its response body was being sent", error_type=type(exc).__name__,
                  error=str(exc))
            self.close_connection = True
            return
        if chunked:
            self.wfile.write(b"0\r\n\r\n")

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's signature
        pass  # every request gets its own invocation line instead

    def log_error(self, format: str, *args: Any) -> None:  # noqa: A002
        pass  # malformed requests are answered with 400 by the stdlib; nothing was invoked


def _with_sendable_status(resp: HttpResponse) -> HttpResponse:
    """``resp`` with its status as the int a status line carries (an ``IntEnum`` member's); for a status no status
    line can carry (set on the response after it was built: building one with it fails in the function, the
    pipeline's 500), the 500 sent instead, logged with the reason."""
    from ..errors import InvalidStatus
    from ..events import checked_status
    from ..logs import error

    try:
        resp.status = checked_status(resp.status)
        return resp
    except InvalidStatus as exc:
        error("the function's answer has a status that cannot be sent; 500 sent instead", error_type="InvalidStatus",
              error=str(exc))
    if resp.streamed:
        resp.close()  # type: ignore[attr-defined]  # the producer of a body that is not sent
    return HttpResponse.problem(500, "Internal Server Error", "the function set a status that cannot be sent")


class _LocalFields(HttpFields):
    """The base URL of a request ``portafunc run`` read: ``http://`` and the ``Host`` the client sent, else the
    server's own address."""

    __slots__ = ("address",)

    def __init__(self, address: str) -> None:
        self.address = address

    def base_url(self, native: Any, req: HttpRequest) -> str | None:
        return origin("http", req.headers.get("host"), default_host=self.address)


class LocalHttpServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, host: str, port: int, app: App, in_flight: InFlight, target: str | None = None) -> None:
        self.app = app
        self.in_flight = in_flight
        self.max_body = body_limit(target)
        self.read_timeout = read_timeout()
        super().__init__((host, port), _Handler)
        bound_host, bound_port = self.server_address[:2]
        bound = str(bound_host)
        self.fields = _LocalFields(f"[{bound}]:{bound_port}" if ":" in bound else f"{bound}:{bound_port}")
