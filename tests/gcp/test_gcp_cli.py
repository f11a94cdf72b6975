"""`portafunc events decode|new --target gcp` and `portafunc invoke --target gcp` as real subprocesses."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import APPS, fixture_files

PORTAFUNC = [sys.executable, "-m", "portafunc.cli"]


def run(*args: str, stdin: str | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*PORTAFUNC, *args], capture_output=True, text=True, input=stdin, cwd=cwd, timeout=60)


@pytest.mark.parametrize("path", fixture_files(), ids=lambda p: p.name)
def test_events_decode_every_fixture(path: Path):
    out = run("events", "decode", "--target", "gcp", str(path))
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["target"] == "gcp" and len(doc["events"]) == 1
    assert doc["events"][0]["kind"] in ("message", "storage")


def test_events_decode_unknown_shape_exits_2(tmp_path: Path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"hello": "world"}')
    out = run("events", "decode", "--target", "gcp", str(bad))
    assert out.returncode == 2
    assert "expected" in out.stderr and "push envelope" in out.stderr


@pytest.mark.parametrize("trigger,kind", [("http", "http"), ("topic", "message"), ("queue:push", "message"),
                                          ("storage", "storage"), ("schedule", "schedule")])
def test_events_new_then_decode(tmp_path: Path, trigger: str, kind: str):
    out = run("events", "new", "--target", "gcp", trigger)
    assert out.returncode == 0, out.stderr
    native = tmp_path / "native.json"
    native.write_text(out.stdout)
    back = run("events", "decode", "--target", "gcp", str(native))
    assert back.returncode == 0, back.stderr
    assert json.loads(back.stdout)["events"][0]["kind"] == kind


def test_invoke_runs_the_function(tmp_path: Path):
    event = tmp_path / "push.json"
    event.write_text(json.dumps({"subscription": "projects/p/subscriptions/s",
                                 "message": {"data": "aGk=", "messageId": "m-1", "attributes": {"fail": "always"}}}))
    out = run("invoke", "--target", "gcp", "--app", "recorder_app:app", "on_event", "--event", str(event), cwd=APPS)
    assert out.returncode == 1, out.stderr  # the function failed: scripts see it in the exit code
    assert json.loads(out.stdout)["statusCode"] == 500  # fail=always → non-2xx so Pub/Sub would redeliver
    assert "portafunc: the function failed: HTTP 500" in out.stderr


@pytest.mark.parametrize(("trigger", "what"), [("storage", "a Cloud Storage CloudEvent"),
                                               ("queue", "a Pub/Sub CloudEvent")])
def test_invoke_schedule_function_with_another_event_is_refused(tmp_path: Path, trigger: str, what: str):
    made = run("events", "new", "--target", "gcp", trigger)
    assert made.returncode == 0, made.stderr
    event = tmp_path / "event.json"
    event.write_text(made.stdout)
    out = run("invoke", "--target", "gcp", "--app", "recorder_app:app", "tick", "--event", str(event), cwd=APPS)
    assert out.returncode == 2 and out.stdout == "", out.stdout  # refused before the service is called
    assert f"function 'tick' is a schedule function but received {what}" in out.stderr


def test_invoke_schedule_function_with_a_scheduler_tick_runs(tmp_path: Path):
    made = run("events", "new", "--target", "gcp", "schedule")
    event = tmp_path / "tick.json"
    event.write_text(made.stdout)
    out = run("invoke", "--target", "gcp", "--app", "recorder_app:app", "tick", "--event", str(event), cwd=APPS)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["statusCode"] == 200
