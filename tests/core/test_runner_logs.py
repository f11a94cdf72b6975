"""``portafunc run`` shows the application's own ``logging`` lines, readable, with the function and invocation they
belong to; the message a request queued runs in the same trace."""

from __future__ import annotations

import re
from pathlib import Path

from test_runner import REPO, start, wait_for

APP = REPO / "tests" / "core" / "runner_fixtures" / "logs" / "main.py"


def test_user_log_lines_appear_readably(tmp_path: Path) -> None:
    runner = start(APP, tmp_path, "--no-reload")
    try:
        status, _, _ = runner.post_json("/pay", {})
        assert status == 200
        paid = wait_for(lambda: re.search(
            r"^\d\d:\d\d:\d\d INFO    shop\.orders: paid order=42 password=\"\[REDACTED\]\" \[pay ([0-9a-f]{8})\]$",
            runner.stderr, re.M), 10, "the handler's log line")
        wait_for(lambda: re.search(r"^\d\d:\d\d:\d\d INFO    shop\.receipts: receipt for 42 sent \[receipt \S+\]$",
                                   runner.stderr, re.M), 10, "the consumer's log line")
        assert paid and "hunter2" not in runner.stderr
    finally:
        assert runner.stop() == 0, runner.stderr
