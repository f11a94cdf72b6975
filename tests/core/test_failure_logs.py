"""What a failing message logs, and what it costs to build: type, message and a traceback summary on every failure;
the full traceback the first time a failure happens at a place in a process, and every time at DEBUG; nothing built
when the level drops the line."""

from __future__ import annotations

import json
from typing import Any

import pytest

from portafunc import App, Message, logs
from portafunc import invoke
from portafunc.invoke import invoke_batch


def _app() -> App:
    app = App("failing")

    @app.queue("work")
    def work(msg: Message) -> None:
        if msg.data == b"other":
            raise ValueError("another place")
        raise KeyError("total")  # the place every other failure happens

    return app


def _failures(err: str) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    return [line for line in lines if line.get("message", "").startswith("handler failed")]


@pytest.fixture(autouse=True)
def fresh_places(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(invoke, "_full_traceback_logged", set())  # as in a new process (a cold start)


def test_full_traceback_on_first_occurrence_then_a_summary(monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(logs, "_threshold", 20)  # INFO, the default
    spec = _app().function("work")
    batch = invoke_batch(spec, [Message(id=f"m-{i}", data=b"{}") for i in range(3)] + [Message(id="o", data=b"other")])
    assert batch.failed_ids == ["m-0", "m-1", "m-2", "o"]
    first, second, third, other = _failures(capsys.readouterr().err)
    for line in (first, second, third):
        assert line["error_type"] == "KeyError" and line["error"] == "'total'"
    assert first["traceback"].startswith("Traceback (most recent call last)")
    assert 'raise KeyError("total")' in first["traceback"]
    for line in (second, third):
        summary = line["traceback"]
        assert summary.startswith("(repeat;") and "Traceback (most recent" not in summary
        assert "test_failure_logs.py:" in summary and "in work" in summary  # where it failed: file, line, function
    assert other["traceback"].startswith("Traceback (most recent call last)")  # another place: its own first time


def test_every_failure_carries_the_full_traceback_at_debug(monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(logs, "_threshold", 10)
    spec = _app().function("work")
    invoke_batch(spec, [Message(id=f"m-{i}", data=b"{}") for i in range(3)])
    lines = _failures(capsys.readouterr().err)
    assert len(lines) == 3
    assert all(line["traceback"].startswith("Traceback (most recent call last)") for line in lines)


def test_nothing_is_formatted_when_the_level_drops_the_line(monkeypatch: pytest.MonkeyPatch,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(logs, "_threshold", 40)  # PORTAFUNC_LOG_LEVEL=ERROR

    def no_traceback(exc: BaseException) -> str:
        raise AssertionError("the traceback was built for a line that is not written")

    monkeypatch.setattr(invoke, "_traceback", no_traceback)
    batch = invoke_batch(_app().function("work"), [Message(id="m-1", data=b"{}")])
    assert batch.failed_ids == ["m-1"]
    assert _failures(capsys.readouterr().err) == []
