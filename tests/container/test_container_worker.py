"""The pull worker against a real Storage Queue (Azurite, started by the test) through portafunc-azure's azqueue://
backend — what a worker app behind a KEDA azure-queue scaler does on Container Apps: only the failed message of a
batch comes back, attempts are the queue's dequeue count, the last failed attempt and a non-retryable failure go to
the dead-letter queue with the reason, and nothing is lost."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest

import standins

HERE = Path(__file__).resolve().parent
pytestmark = pytest.mark.emulator


@pytest.fixture(scope="module")
def azurite_queue(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with standins.azurite(tmp_path_factory.mktemp("azurite"), "queue") as conn:
        yield conn


@pytest.fixture
def bound(azurite_queue: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    from azure.storage.queue import QueueServiceClient

    service = QueueServiceClient.from_connection_string(azurite_queue)
    suffix = os.urandom(3).hex()
    for name in ("work", "failed"):
        service.create_queue(f"{name}-{suffix}")
    monkeypatch.setenv("PORTAFUNC_AZQUEUE_CONNECTION", azurite_queue)
    monkeypatch.setenv("PORTAFUNC_QUEUE_WORK", f"azqueue://devstoreaccount1/work-{suffix}")
    monkeypatch.setenv("PORTAFUNC_QUEUE_WORK_FAILED", f"azqueue://devstoreaccount1/failed-{suffix}")
    log = tmp_path / "handlers.jsonl"
    monkeypatch.setenv("CONTAINER_TEST_LOG", str(log))
    monkeypatch.syspath_prepend(str(HERE))
    return log


def test_partial_failure_attempts_and_dead_letters_on_a_storage_queue(bound: Path) -> None:
    import portafunc
    from container_sample import app

    from portafunc_container.worker import Consumer

    queue = portafunc.queue("work")
    for body in ({"ok": 1}, {"fail": 1}, {"bad": 1}):
        queue.send(body, attributes={"source": "test"})
    consumer = Consumer(app.function("work"), retry_delay=lambda attempt: 0.0)  # visible again at once
    first = consumer.poll(wait=5)
    assert len(first["ack"]) == 2 and len(first["retry"]) == 1 and first["dead-letter"] == []
    failing = first["retry"][0]
    second = consumer.poll(wait=5)
    assert second == {"ack": [], "retry": [failing], "dead-letter": []}  # only the failed message came back
    third = consumer.poll(wait=5)  # its third delivery is work's max_attempts
    assert third == {"ack": [], "retry": [], "dead-letter": [failing]}
    assert consumer.poll(wait=0) == {"ack": [], "retry": [], "dead-letter": []}  # the queue is empty now

    seen = [json.loads(line) for line in bound.read_text().splitlines()]
    assert [(e["body"], e["attempt"]) for e in seen if "fail" in e["body"]] == [({"fail": 1}, 1), ({"fail": 1}, 2),
                                                                                ({"fail": 1}, 3)]
    dead = {m.json().get("fail") and "fail" or "bad": m for m in portafunc.queue("work-failed").receive(10, wait=5)}
    assert set(dead) == {"fail", "bad"}
    assert dead["fail"].attributes["portafunc_attempts"] == "3" and dead["fail"].attributes["source"] == "test"
    assert dead["fail"].attributes["portafunc_error"].startswith("RuntimeError")
    assert dead["bad"].attributes["portafunc_error"].startswith("NonRetryableError")


def test_the_worker_refuses_a_queue_function_without_a_dead_letter(tmp_path: Path) -> None:
    (tmp_path / "noletter.py").write_text(
        "from portafunc import App\napp = App('x')\n\n@app.queue('jobs')\ndef jobs(msg):\n    pass\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTAFUNC_DEADLETTER")}
    out = subprocess.run([sys.executable, "-m", "portafunc_container.worker", "--app", "noletter:app", "--once"],
                         cwd=tmp_path, env={**env, "PYTHONPATH": str(tmp_path)}, capture_output=True, text=True)
    assert out.returncode == 2 and "has no dead-letter destination" in out.stderr and "PORTAFUNC_DEADLETTER_JOBS" \
        in out.stderr


def test_fire_runs_a_schedule_function_once(tmp_path: Path) -> None:
    log = tmp_path / "log.jsonl"
    out = subprocess.run([sys.executable, "-m", "portafunc_container.worker", "--app", "container_sample:app",
                          "--fire", "tick"], cwd=HERE,
                         env={**os.environ, "PYTHONPATH": str(HERE), "CONTAINER_TEST_LOG": str(log)},
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert [json.loads(line)["function"] for line in log.read_text().splitlines()] == ["tick"]
