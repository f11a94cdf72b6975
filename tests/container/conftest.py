"""The container target under test: the image's server (gunicorn, started here on a free port, the way the image's
CMD starts it) serving tests/container/container_sample.py."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterator

import pytest

import standins
from container_server import SECRET, Server

HERE = Path(__file__).resolve().parent


def _serve(work: Path, **extra_env: str) -> Iterator[Server]:
    """gunicorn with the Dockerfile's arguments serving container_sample.py on a free port of 127.0.0.1, with the
    image's environment (no ``FORWARDED_ALLOW_IPS`` unless ``extra_env`` sets it) plus ``extra_env``."""
    from portafunc_container.deploy.dockerfile import gunicorn_command

    port = standins.free_port()
    log, stderr = work / "handlers.jsonl", work / "gunicorn.log"
    env = {**os.environ, "PORTAFUNC_APP": "container_sample:app", "PORTAFUNC_EVENTS": "secret",
           "PORTAFUNC_EVENTS_SECRET": SECRET, "PORTAFUNC_DEFAULT_BINDING": "memory://",
           "PORTAFUNC_MAX_BODY_BYTES": "65536", "CONTAINER_TEST_LOG": str(log),
           # the sample app, then the code under test (this process's path) ahead of any installed copy
           "PYTHONPATH": os.pathsep.join([str(HERE), *filter(None, [os.environ.get("PYTHONPATH")])])}
    env.pop("FORWARDED_ALLOW_IPS", None)
    env.update(extra_env)
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


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """gunicorn with the Dockerfile's arguments, events authenticated by a shared secret, a 64 KiB body limit."""
    yield from _serve(tmp_path_factory.mktemp("container-server"))


@pytest.fixture(scope="module")
def trusting_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The same server with ``FORWARDED_ALLOW_IPS=*``, as every platform's manifests run it."""
    yield from _serve(tmp_path_factory.mktemp("container-server-trusting"), FORWARDED_ALLOW_IPS="*")


@pytest.fixture(scope="module")
def traced_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Any]]:
    """The image's server (FORWARDED_ALLOW_IPS unset) exporting its spans over OTLP/HTTP as a deployment configures
    it, with the ``OTEL_*`` variables only, to a receiver started here: (server, receiver)."""
    from otel_support import OtlpReceiver

    receiver = OtlpReceiver()
    try:
        for served in _serve(tmp_path_factory.mktemp("container-server-traced"), PORTAFUNC_OTEL="auto",
                             OTEL_TRACES_EXPORTER="otlp_proto_http", OTEL_METRICS_EXPORTER="none",
                             OTEL_LOGS_EXPORTER="none", OTEL_SERVICE_NAME="boxes", OTEL_BSP_SCHEDULE_DELAY="50",
                             OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=f"{receiver.url}/v1/traces"):
            yield served, receiver
    finally:
        receiver.close()
