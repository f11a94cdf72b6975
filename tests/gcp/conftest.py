"""GCP test set-up: the real Pub/Sub emulator and functions-framework servers, started on free 127.0.0.1 ports."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Iterator

import pytest
import standins

REPO = Path(__file__).resolve().parents[2]
GCP_FIXTURES = (REPO / ".." / "shared" / "fixtures" / "gcp").resolve()
VENV_BIN = Path(sys.executable).parent
APPS = Path(__file__).resolve().parent / "apps"


def fixture_files() -> list[Path]:
    files = sorted(GCP_FIXTURES.glob("*/*.json"))
    return files


free_port = standins.free_port


def wait_http(url: str, *, expect: bytes | None, proc: subprocess.Popen, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}: {_tail(proc)}")
        try:
            with urllib.request.urlopen(url, timeout=1) as resp:
                if expect is None or expect in resp.read():
                    return
        except urllib.error.HTTPError:
            if expect is None:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not answer {url} within {timeout}s: {_tail(proc)}")


def wait_port(port: int, proc: subprocess.Popen, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}: {_tail(proc)}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen on {port} within {timeout}s: {_tail(proc)}")


def _tail(proc: subprocess.Popen) -> str:
    log = getattr(proc, "log_path", None)
    if log and Path(log).exists():
        return Path(log).read_text(errors="replace")[-3000:]
    return ""


def stop(proc: subprocess.Popen) -> None:
    """Stop a process this test session started (its own process group), by id."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)


def start(cmd: list[str], *, log: Path, env: dict[str, str] | None = None, cwd: Path | None = None
          ) -> subprocess.Popen:
    handle = open(log, "wb")
    proc = subprocess.Popen(cmd, stdout=handle, stderr=subprocess.STDOUT, env=env, cwd=cwd,
                            start_new_session=True)
    proc.log_path = str(log)  # type: ignore[attr-defined]
    return proc


@pytest.fixture(scope="session")
def pubsub_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Pub/Sub emulator on a free port; yields ``host:port`` (what PUBSUB_EMULATOR_HOST takes)."""
    with standins.pubsub_emulator(tmp_path_factory.mktemp("emulator")) as host:
        yield host


@pytest.fixture
def emulator_env(pubsub_emulator: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", pubsub_emulator)
    return pubsub_emulator


class FunctionServer:
    """``functions-framework --target T`` serving a generated main.py on 127.0.0.1."""

    def __init__(self, proc: subprocess.Popen, port: int, target: str) -> None:
        self.proc = proc
        self.port = port
        self.target = target
        self.url = f"http://127.0.0.1:{port}/"


@pytest.fixture(scope="session")
def serve(tmp_path_factory: pytest.TempPathFactory):
    """Factory: serve(source_dir, target, signature_type, env) → a FunctionServer; all stopped at session end."""
    started: list[subprocess.Popen] = []
    cli = VENV_BIN / "functions-framework"
    if not cli.exists():
        pytest.fail(f"functions-framework CLI is missing ({cli}); pip install functions-framework")

    def _serve(source_dir: Path, target: str, signature_type: str, env: dict[str, str] | None = None,
               python_bin: Path | None = None) -> FunctionServer:
        port = free_port()
        log = tmp_path_factory.mktemp("ff") / f"{target}.log"
        full_env = dict(os.environ)
        full_env.update(env or {})
        exe = (python_bin / "functions-framework") if python_bin else cli
        proc = start([str(exe), f"--target={target}", f"--signature-type={signature_type}",
                      f"--source={source_dir / 'main.py'}", "--host=127.0.0.1", f"--port={port}"],
                     log=log, env=full_env, cwd=source_dir)
        started.append(proc)
        try:
            wait_port(port, proc, f"functions-framework --target={target}")
        except RuntimeError as exc:
            pytest.fail(str(exc))
        return FunctionServer(proc, port, target)

    yield _serve
    for proc in started:
        stop(proc)
