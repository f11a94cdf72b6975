"""Azure adapter test fixtures: fixture samples, the test app, Azurite (npm, project-local) and a recording server."""

from __future__ import annotations

import json
import os
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import standins

from azure_fixtures import FIXTURES, REPO, fixture_files, load_fixture  # noqa: F401 - re-exported for fixtures


@pytest.fixture
def azapp():
    import azapp as module

    module.SEEN.clear()
    return module


@pytest.fixture(scope="session")
def azurite(tmp_path_factory):
    """Azurite's queue service (npm azurite@3.35.0 in .tools/) on a free 127.0.0.1 port; yields a connection string."""
    with standins.azurite(tmp_path_factory.mktemp("azurite"), "queue") as conn:
        yield conn


@pytest.fixture
def storage_env(azurite, monkeypatch):
    """AzureWebJobsStorage pointing at Azurite, and fresh backend caches."""
    from portafunc.messaging import reset

    monkeypatch.setenv("AzureWebJobsStorage", azurite)
    monkeypatch.delenv("PORTAFUNC_AZQUEUE_CONNECTION", raising=False)
    reset()
    yield azurite
    reset()


@pytest.fixture
def unique():
    return uuid.uuid4().hex[:10]


class Recorder:
    """A real HTTP server on 127.0.0.1 that records every request and answers with a configurable status."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.status = 200
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                recorder.requests.append({"method": "POST", "path": self.path, "headers": dict(self.headers.items()),
                                          "body": body})
                payload = b"" if recorder.status == 200 else json.dumps(
                    {"error": {"code": "Unauthorized", "message": "recorded failure"}}).encode()
                self.send_response(recorder.status)
                self.send_header("Content-Length", str(len(payload)))
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):  # quiet
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def recorder():
    rec = Recorder()
    yield rec
    rec.close()


@pytest.fixture(autouse=True)
def _no_ambient_bindings(monkeypatch):
    for name in list(os.environ):
        if name.startswith(("PORTAFUNC_TOPIC_", "PORTAFUNC_QUEUE_", "PORTAFUNC_DEADLETTER_")):
            monkeypatch.delenv(name)
