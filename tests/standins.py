"""Starting the local cloud stand-ins the tests talk to (on free 127.0.0.1 ports, stopped afterwards).

A stand-in that cannot start fails the test with what is missing; nothing is skipped.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def moto_server(log_dir: Path) -> Iterator[str]:
    """moto in server mode; yields its endpoint URL (``http://127.0.0.1:PORT``)."""
    try:
        import moto.server  # noqa: F401
    except ImportError as exc:
        pytest.fail(f"moto[server] is not installed ({exc}); pip install 'moto[server]'", pytrace=False)
    port = free_port()
    log = log_dir / "moto.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                                stdout=out, stderr=subprocess.STDOUT)
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1).read()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"moto server did not start on {endpoint}: {log.read_text()[-2000:]}", pytrace=False)
            time.sleep(0.1)
    try:
        yield endpoint
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
