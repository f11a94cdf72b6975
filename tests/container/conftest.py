"""The container target under test: the image's server (gunicorn, started here on a free port, the way the image's
CMD starts it) serving tests/container/container_sample.py."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import pytest

import standins
from container_server import SECRET, Server

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """gunicorn with the Dockerfile's arguments, events authenticated by a shared secret, a 64 KiB body limit."""
    from portafunc_container.deploy.dockerfile import gunicorn_command

    work = tmp_path_factory.mktemp("container-server")
    port = standins.free_port()
    log, stderr = work / "handlers.jsonl", work / "gunicorn.log"
    env = {**os.environ, "PORTAFUNC_APP": "container_sample:app", "PORTAFUNC_EVENTS": "secret",
           "PORTAFUNC_EVENTS_SECRET": SECRET, "PORTAFUNC_DEFAULT_BINDING": "memory://",
           "PORTAFUNC_MAX_BODY_BYTES": "65536", "CONTAINER_TEST_LOG": str(log), "PYTHONPATH": str(HERE)}
    argv = [sys.executable, "-m", *gunicorn_command(timeout=30, workers=1, threads=4), "--bind", f"127.0.0.1:{port}"]
    with open(stderr, "wb") as err:
        proc = subprocess.Popen(argv, cwd=HERE, env=env, stdout=err, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while not standins.http_answers(f"http://127.0.0.1:{port}/_portafunc/health"):
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"gunicorn did not start: {stderr.read_text()[-2000:]}")
            time.sleep(0.1)
        yield Server(port, log, stderr)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
