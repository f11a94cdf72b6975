"""Logging set-up is once per process (as in a cloud): these helpers give each test a fresh process's state."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from portafunc import invoke, logs, logsetup


@contextmanager
def fresh_logging() -> Iterator[logging.Logger]:
    """Root logger, portafunc's level and the set-up flags as a new process has them; restored afterwards."""
    root = logging.getLogger()
    saved = (list(root.handlers), root.level, logs._threshold, invoke._logging_pending, logsetup._installed)
    root.handlers = [h for h in root.handlers if type(h).__module__.startswith("_pytest")]
    root.setLevel(logging.WARNING)
    invoke._logging_pending, logsetup._installed = True, None
    logs._threshold = 20  # INFO, the default (another test may have set PORTAFUNC_LOG_LEVEL for the process)
    try:
        yield root
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
        logs._threshold, invoke._logging_pending, logsetup._installed = saved[2], saved[3], saved[4]


def json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


VARYING_TIMES = ("ts", "timestamp", "time")  # the line's time, as each cloud's shape names it


def without_varying(line: dict[str, Any]) -> dict[str, Any]:
    """``line`` less what differs from one run to the next in whichever cloud's shape an earlier test installed: its
    time and its trace ids (``trace_id``/``span_id``, ``logging.googleapis.com/trace``, ...)."""
    for key in [k for k in line if k in VARYING_TIMES or "trace" in k.lower() or "span" in k.lower()]:
        del line[key]
    return line


def level_of(line: dict[str, Any]) -> Any:
    """A line's level in any cloud's shape: ``level`` (AWS, Azure, plain JSON) or ``severity`` (Google Cloud)."""
    return line.get("level", line.get("severity"))
