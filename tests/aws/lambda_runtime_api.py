"""A minimal Lambda Runtime API on 127.0.0.1, for booting artifacts under the real ``awslambdaric`` client.

Implements the documented protocol (https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html):
``GET /2018-06-01/runtime/invocation/next`` (blocks until an event is queued; Lambda-Runtime-* headers),
``POST /2018-06-01/runtime/invocation/{id}/response``, ``POST .../{id}/error`` and ``POST /2018-06-01/runtime/init/error``.
"""

from __future__ import annotations

import json
import queue
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PREFIX = "/2018-06-01/runtime"


class RuntimeApi:
    def __init__(self, function_name: str = "portafunc-test") -> None:
        self.function_name = function_name
        self.pending: queue.Queue[tuple[str, bytes]] = queue.Queue()
        self.results: dict[str, tuple[str, Any]] = {}
        self.init_errors: list[Any] = []
        self.polled = threading.Event()  # set when the runtime first asks for an invocation: its init phase is over
        self._done = threading.Condition()
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _reply(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
                self.send_response(status)
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:  # noqa: N802
                if self.path != f"{PREFIX}/invocation/next":
                    self._reply(404)
                    return
                api.polled.set()
                request_id, body = api.pending.get()
                self._reply(200, body, {
                    "Content-Type": "application/json",
                    "Lambda-Runtime-Aws-Request-Id": request_id,
                    "Lambda-Runtime-Deadline-Ms": str(int(time.time() * 1000) + 30000),
                    "Lambda-Runtime-Invoked-Function-Arn":
                        f"arn:aws:lambda:us-east-1:123456789012:function:{api.function_name}",
                    "Lambda-Runtime-Trace-Id": f"Root=1-{uuid.uuid4().hex[:8]}-{uuid.uuid4().hex[:24]};Sampled=0",
                })

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                payload = json.loads(raw) if raw else None
                parts = self.path[len(PREFIX):].strip("/").split("/")
                if parts == ["init", "error"]:
                    api.init_errors.append(payload)
                elif len(parts) == 3 and parts[0] == "invocation" and parts[2] in ("response", "error"):
                    with api._done:
                        api.results[parts[1]] = (parts[2], payload)
                        api._done.notify_all()
                else:
                    self._reply(404)
                    return
                self._reply(202, b'{"status":"OK"}', {"Content-Type": "application/json"})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.handle_error = lambda request, client_address: None  # type: ignore[method-assign] # killed runtimes
        self.address = f"127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def invoke(self, event: Any, timeout: float = 60.0) -> tuple[str, Any]:
        """Queue one invocation and wait for the runtime's ``response`` or ``error``."""
        request_id = str(uuid.uuid4())
        self.pending.put((request_id, json.dumps(event).encode()))
        deadline = time.monotonic() + timeout
        with self._done:
            while request_id not in self.results:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self.init_errors:
                    raise TimeoutError(f"no answer for {request_id}; init errors: {self.init_errors}")
                self._done.wait(min(remaining, 0.5))
            return self.results[request_id]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
