"""An app with no HTTP function, indexed for ``portafunc invoke`` and the contract kit, does not make the
azure-functions library log "Auth level is not applied to non http function app" (nor configure the root logger
to print it): the generated ``function_app.py``, which the worker indexes itself, is the same as before, and other
warnings still get through."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from portafunc import App, Message, ScheduleEvent
from portafunc_azure.deploy.function_app import generate_function_app, load_function_app

NOISE = "Auth level is not applied"

APP = """
from portafunc import App, Message

app = App("quiet")

@app.queue("jobs")
def work(msg: Message) -> None:
    print("worked")
"""


def _queue_only() -> App:
    app = App("quiet")

    @app.queue("jobs")
    def work(msg: Message) -> None: ...

    @app.schedule("rate(5 minutes)")
    def tick(evt: ScheduleEvent) -> None: ...

    return app


def test_indexing_a_non_http_app_logs_nothing_and_leaves_the_root_logger_alone(
        caplog: pytest.LogCaptureFixture) -> None:
    root = logging.getLogger()
    handlers = list(root.handlers)
    with caplog.at_level(logging.DEBUG):
        _, functions, _ = load_function_app(_queue_only())
        logging.getLogger("azure.functions").warning("another warning")
    assert sorted(functions) == ["tick", "work"]
    assert [r.getMessage() for r in caplog.records] == ["another warning"]
    assert root.handlers == handlers


def test_the_generated_source_is_untouched() -> None:
    source = generate_function_app(_queue_only(), "main:app")
    assert "_require_auth_level" not in source and "logging" not in source


def test_invoke_of_a_queue_function_prints_no_auth_level_warning(tmp_path: Path) -> None:
    (tmp_path / "main.py").write_text(APP, encoding="utf-8")
    new = subprocess.run([sys.executable, "-m", "portafunc.cli", "events", "new", "--target", "azure", "queue"],
                         capture_output=True, text=True, timeout=120, check=True)
    (tmp_path / "q.json").write_text(new.stdout, encoding="utf-8")
    out = subprocess.run([sys.executable, "-m", "portafunc.cli", "invoke", "work", "--target", "azure", "--event",
                          "q.json", "--app", "main:app"], capture_output=True, text=True, timeout=120, cwd=tmp_path,
                         env={**os.environ, "AzureWebJobsStorage": "UseDevelopmentStorage=true"})
    assert out.returncode == 0, out.stderr
    assert "worked" in out.stderr and NOISE not in out.stderr + out.stdout, out.stderr
