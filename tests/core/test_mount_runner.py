"""``app.mount`` through ``portafunc run``'s real HTTP server: the same FastAPI and Flask apps the contract suite
drives on the clouds' entry points (tests/apps/mounted), over a socket."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator

import pytest

from stream_support import read_stream
from test_runner import Runner, start

APP = Path(__file__).resolve().parents[1] / "apps" / "mounted"
BINARY = bytes(range(256))
BOTH = pytest.mark.parametrize("prefix", ["/fastapi", "/flask"])


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runner]:
    runner = start(APP, tmp_path_factory.mktemp("mounted"), "--no-reload")
    yield runner
    assert runner.stop() == 0, runner.stderr


@BOTH
def test_path_query_and_prefix_reach_the_app(served: Runner, prefix: str) -> None:
    status, _, body = served.request("GET", f"{prefix}/echo/%C3%A9%20x?q=1&q=a%26b&q=%C3%BC+")
    assert status == 200, body
    doc = json.loads(body)
    assert (doc["name"], doc["path"]) == ("é x", f"{prefix}/echo/é x")
    assert doc["q"] == ["1", "a&b", "ü "]
    assert doc["url"].endswith(f"{prefix}/echo/n")


@BOTH
def test_binary_bodies_cookies_head_and_empty(served: Runner, prefix: str) -> None:
    status, headers, body = served.request("POST", f"{prefix}/bytes", BINARY,
                                           {"Content-Type": "application/octet-stream"})
    assert (status, body) == (200, BINARY[::-1])
    status, headers, body = served.request("GET", f"{prefix}/cookies")
    assert status == 200 and [c.split(";")[0] for c in headers.get_all("Set-Cookie")] == ["a=1", "b=2"]
    status, headers, body = served.request("HEAD", f"{prefix}/binary")
    assert (status, body, headers["Content-Type"]) == (200, b"", "image/png")
    status, _, body = served.request("DELETE", f"{prefix}/empty")
    assert (status, body) == (204, b"")


def test_lifespan_state_and_native_routes(served: Runner) -> None:
    for _ in range(2):
        doc = json.loads(served.request("GET", "/fastapi/echo/x")[2])
    assert doc["state"] == "yes" and doc["startups"] == 1
    assert served.request("GET", "/native")[2] == b"native"
    assert served.request("GET", "/nowhere")[0] == 404


def test_lifespan_shutdown_runs_when_the_runner_stops_after_a_sync_endpoint(tmp_path: Path) -> None:
    runner = start(APP, tmp_path, "--no-reload")
    try:
        assert runner.request("GET", "/fastapi/echo/x")[0] == 200
        assert json.loads(runner.request("GET", "/fastapi/sync")[2]) == {"in_a_worker": True}
    finally:
        assert runner.stop() == 0, runner.stderr
    assert "mounted app: lifespan shutdown" in runner.stderr


@BOTH
@pytest.mark.parametrize("raw", ["a=1&q=x&b=&a=2", "q=a+b&q=a%20b&q=%2f%26", "flag&q=%C3%A9&q="])
def test_the_query_string_reaches_the_app_as_sent(served: Runner, prefix: str, raw: str) -> None:
    """Key order across keys, '+' against '%20', lowercase escapes, empty values and bare keys: byte for byte."""
    status, _, body = served.request("GET", f"{prefix}/echo/x?{raw}")
    assert status == 200, body
    assert json.loads(body)["query"] == raw


@BOTH
def test_a_streamed_body_reaches_the_client_piece_by_piece(served: Runner, prefix: str, tmp_path: Path) -> None:
    before_gate, body = read_stream(served.port, f"{prefix}/stream", tmp_path / "gate")
    assert b"second" not in before_gate  # the first piece was sent while the app was still producing
    assert body == b"first\nsecond\nthird\n"


@BOTH
def test_the_prefix_itself_reaches_the_app(served: Runner, prefix: str) -> None:
    status, _, body = served.request("GET", f"{prefix}/")
    assert status == 200 and json.loads(body) == {"index": f"{prefix}/", "root_path": prefix}
