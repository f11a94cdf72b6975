"""The HTTP front door: a stdlib threading server that turns each request into a neutral HttpRequest."""

from __future__ import annotations

import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

from ..app import App
from ..events import Headers, HttpRequest, HttpResponse, decode_path
from ..invoke import handle_http
from .console import InFlight, invocation_line

_NO_BODY_STATUSES = {204, 304}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: LocalHttpServer

    def _serve(self) -> None:
        started = time.perf_counter()
        raw_path, _, raw_query = self.path.partition("?")
        if raw_path.startswith(("http://", "https://")):  # absolute-form request target (proxies)
            raw_path = "/" + raw_path.split("://", 1)[1].partition("/")[2]
        try:
            body = self._read_body()
        except ValueError as exc:
            self.close_connection = True
            self._write(HttpResponse.problem(400, "Bad Request", str(exc)), head=False)
            return
        path = decode_path(raw_path) or "/"
        req = HttpRequest(
            method=self.command,
            path=path,
            query={k: list(v) for k, v in parse_qs(raw_query, keep_blank_values=True).items()},
            headers=Headers(list(self.headers.items())),
            body=body,
            client_ip=self.client_address[0] if self.client_address else None,
        )
        app = self.server.app
        spec, _, _ = app.route(req.method, req.path)
        name = spec.name if spec is not None else "(no function)"
        self.server.in_flight.begin(name)
        try:
            resp = handle_http(app, req, target="local")
        finally:
            self.server.in_flight.end(name)
        invocation_line(f"{self.command} {self.path}", name, str(resp.status), time.perf_counter() - started)
        self._write(resp, head=self.command == "HEAD")

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _serve

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks: list[bytes] = []
            while True:
                size_line = self.rfile.readline(1024).split(b";")[0].strip()
                try:
                    size = int(size_line, 16)
                except ValueError:
                    raise ValueError(f"malformed chunk size {size_line!r}") from None
                if size == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline(8)
        length = self.headers.get("Content-Length")
        if not length:
            return b""
        try:
            n = int(length)
        except ValueError:
            raise ValueError(f"Content-Length {length!r} is not a number") from None
        if n < 0:
            raise ValueError("Content-Length is negative")
        return self.rfile.read(n)

    def _write(self, resp: HttpResponse, *, head: bool) -> None:
        body = b"" if resp.status in _NO_BODY_STATUSES else resp.body
        self.send_response(resp.status)
        for name, value in resp.headers.items():
            if name.lower() in ("content-length", "transfer-encoding", "connection"):
                continue
            self.send_header(name, value)
        if resp.status not in _NO_BODY_STATUSES:
            self.send_header("Content-Length", str(len(body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if not head and body:
            self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's signature
        pass  # every request gets its own invocation line instead

    def log_error(self, format: str, *args: Any) -> None:  # noqa: A002
        pass  # malformed requests are answered with 400 by the stdlib; nothing was invoked


class LocalHttpServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, host: str, port: int, app: App, in_flight: InFlight) -> None:
        self.app = app
        self.in_flight = in_flight
        super().__init__((host, port), _Handler)
