"""``portafunc events decode`` and ``portafunc invoke`` on malformed input, run as the real command.

Every malformed input is exit 2 with one line on stderr (never a traceback), and ``invoke`` exits 1 when the function
failed (an HTTP 5xx, any ``batchItemFailures``, a message the host would redeliver), so scripts can rely on it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "events"


def cli(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "portafunc.cli", *args], capture_output=True, text=True,
                          timeout=120, env={**os.environ, **(env or {})}, cwd=cwd, encoding="utf-8",
                          errors="replace")


def one_line_error(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 2, (done.returncode, done.stderr[-2000:])
    assert "Traceback" not in done.stderr, done.stderr[-2000:]
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("portafunc: error: "), done.stderr[-2000:]
    return lines[0]


def _sample(cloud: str, kind: str) -> Any:
    return json.loads(sorted((FIXTURES / cloud / kind).glob("*.json"))[0].read_text(encoding="utf-8"))


def test_azure_dequeue_count_infinity(tmp_path: Path) -> None:
    event = tmp_path / "queue.json"
    event.write_text('{"Id": "m-1", "DequeueCount": Infinity, "InsertionTime": "2026-01-01T00:00:00Z", '
                     '"PopReceipt": "x", "MessageText": "e30="}')
    assert "DequeueCount" in one_line_error(cli("events", "decode", "--target", "azure", str(event)))


def test_gcp_delivery_attempt_superscript_digit(tmp_path: Path) -> None:
    """``"²".isdigit()`` is True, ``int("²")`` raises ValueError."""
    doc = _sample("gcp", "pubsub-push")
    doc["deliveryAttempt"] = "²"
    event = tmp_path / "push.json"
    event.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    assert "deliveryAttempt" in one_line_error(cli("events", "decode", "--target", "gcp", str(event)))


@pytest.mark.parametrize("target", ["aws", "azure", "gcp"])
@pytest.mark.parametrize("depth", [900, 100_000])
def test_deeply_nested_json(target: str, depth: int, tmp_path: Path) -> None:
    """100,000 levels: deeper than json.loads reads; 900 levels: read, but too deep to walk or print."""
    event = tmp_path / "deep.json"
    event.write_text('{"Records": ' + "[" * depth + "]" * depth + "}" if depth < 1000 else "[" * depth + "]" * depth)
    one_line_error(cli("events", "decode", "--target", target, str(event)))


@pytest.mark.parametrize("target", ["aws", "azure", "gcp"])
def test_file_that_is_not_utf8(target: str, tmp_path: Path) -> None:
    event = tmp_path / "latin1.json"
    event.write_bytes(b'{"Records": [{"body": "caf\xe9"}]}')
    assert "not UTF-8" in one_line_error(cli("events", "decode", "--target", target, str(event)))


@pytest.mark.parametrize("target", ["aws", "azure", "gcp"])
@pytest.mark.parametrize(("trigger", "data", "named"), [
    ("queue", {"data": {"job_id": "j1"}}, "'data' (the payload is data_base64"),
    ("http", {"body": "{}"}, "'body' (the payload is body_base64"),
    ("schedule", {"when": "2026-01-01T00:00:00Z"}, "'when'"),
])
def test_events_new_refuses_a_field_the_neutral_form_has_not(target: str, trigger: str, data: dict[str, Any],
                                                              named: str) -> None:
    """A mistyped field would otherwise be dropped in silence: a message made with an empty payload."""
    line = one_line_error(cli("events", "new", "--target", target, trigger, "--data", json.dumps(data)))
    assert f"has no field {named}" in line


def test_lone_surrogate_printed_to_a_strict_utf8_stdout(tmp_path: Path) -> None:
    """JSON can carry ``"\\udcff"``; a strict UTF-8 stdout cannot print it."""
    doc = _sample("gcp", "pubsub-push")
    doc["message"]["attributes"] = {"k": "\udcff"}
    event = tmp_path / "push.json"
    event.write_text(json.dumps(doc), encoding="ascii")
    line = one_line_error(cli("events", "decode", "--target", "gcp", str(event),
                              env={"PYTHONIOENCODING": "utf-8:strict"}))
    assert "not valid Unicode" in line


# -- invoke: the exit code says whether the function failed ---------------------------------------------------------

APP = """
from portafunc import App
from portafunc.events import Message

app = App("exits")

@app.http("GET", "/ok")
def ok(req):
    return {"ok": True}

@app.http("GET", "/boom")
def boom(req):
    raise RuntimeError("boom")

@app.queue("work")
def work(msg: Message) -> None:
    if msg.attributes.get("fail"):
        raise RuntimeError("told to fail")
"""


@pytest.fixture(scope="module")
def app_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("exits")
    (root / "main.py").write_text(APP, encoding="utf-8")
    return root


def _invoke(app_dir: Path, target: str, function: str, trigger: str, data: dict[str, Any]) -> Any:
    new = cli("events", "new", "--target", target, trigger, "--data", json.dumps(data))
    assert new.returncode == 0, new.stderr
    event = app_dir / f"{target}-{function}.json"
    event.write_text(new.stdout, encoding="utf-8")
    return cli("invoke", function, "--target", target, "--event", str(event), "--app", "main:app", cwd=app_dir)


@pytest.mark.parametrize("target", ["aws", "azure", "gcp"])
def test_invoke_exit_codes(target: str, app_dir: Path) -> None:
    ok = _invoke(app_dir, target, "ok", "http", {"method": "GET", "path": "/ok"})
    assert ok.returncode == 0, ok.stderr
    boom = _invoke(app_dir, target, "boom", "http", {"method": "GET", "path": "/boom"})
    assert boom.returncode == 1, boom.stderr
    assert "portafunc: the function failed: HTTP 500" in boom.stderr
    good = _invoke(app_dir, target, "work", "queue", {"id": "m-1", "data_base64": "e30="})
    assert good.returncode == 0, good.stderr
    bad = _invoke(app_dir, target, "work", "queue", {"id": "m-2", "data_base64": "e30=", "attributes": {"fail": "1"}})
    assert bad.returncode == 1, bad.stderr
    assert "portafunc: the function failed:" in bad.stderr
