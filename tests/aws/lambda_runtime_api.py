"""A minimal Lambda Runtime API on 127.0.0.1, for booting artifacts under the real ``awslambdaric`` client.

Implements the documented protocol (https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html):
``GET /2018-06-01/runtime/invocation/next`` (blocks until an event is queued; Lambda-Runtime-* headers),
``POST /2018-06-01/runtime/invocation/{id}/response``, ``POST .../{id}/error`` and ``POST /2018-06-01/runtime/init/error``.
"""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib.metadata import version
from pathlib import Path
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


def runtime_venv(venv: Path, *, boto3: bool) -> str:
    """The Python of a fresh venv at ``venv`` holding what the Lambda Python runtime has: ``awslambdaric`` (the
    version installed for the test suite) and, with ``boto3``, boto3 (nothing of this repository); fails the test
    when PyPI cannot be reached."""
    import pytest

    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True, timeout=120)
    py = str(venv / "bin" / "python")
    wanted = [f"awslambdaric=={version('awslambdaric')}"] + ([f"boto3=={version('boto3')}"] if boto3 else [])
    done = subprocess.run([py, "-m", "pip", "install", "-q", "--disable-pip-version-check", *wanted],
                          capture_output=True, text=True, timeout=900)
    if done.returncode != 0:
        pytest.fail(f"cannot install {' and '.join(wanted)} into a fresh venv: {done.stderr[-2000:]}", pytrace=False)
    return py


def invoke_under_runtime(python: str, task_root: Path, env: dict[str, str], events: Iterable[Any]
                         ) -> tuple[list[tuple[str, Any]], str]:
    """Boot ``portafunc_aws.runtime.handler`` from ``task_root`` under awslambdaric (``env`` its environment,
    ``AWS_LAMBDA_FUNCTION_NAME`` included), hand it ``events`` one by one through a :class:`RuntimeApi`, and stop
    it: each answer as ``(kind, payload)`` and what the process printed."""
    api = RuntimeApi(env["AWS_LAMBDA_FUNCTION_NAME"])
    proc = subprocess.Popen([python, "-m", "awslambdaric", "portafunc_aws.runtime.handler"], cwd=task_root,
                            env={**env, "AWS_LAMBDA_RUNTIME_API": api.address}, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    try:
        answers = [api.invoke(event) for event in events]
    finally:
        proc.kill()
        output = proc.communicate(timeout=10)[0].decode(errors="replace")
        api.close()
    return answers, output


def function_environment(task_root: Path, function_name: str, endpoint: str, variables: dict[str, str]
                         ) -> dict[str, str]:
    """What Lambda sets for a Python function (task root, handler, name, region), test credentials, every AWS
    client pointed at ``endpoint`` (moto), and the function's own ``variables`` from its template."""
    import os

    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LAMBDA_TASK_ROOT": str(task_root),
            "PYTHONPATH": str(task_root), "_HANDLER": "portafunc_aws.runtime.handler",
            "AWS_LAMBDA_FUNCTION_NAME": function_name, "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_ENDPOINT_URL": endpoint,
            **variables}
