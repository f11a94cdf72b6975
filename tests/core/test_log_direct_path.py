"""portafunc's own lines take a direct path when its stderr handler is their only destination; the line written must
be exactly what the ``logging`` tree would write, in every shape, and the tree must be used again as soon as the
application listens too."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stderr
from typing import Any

import pytest

from log_support import fresh_logging, json_lines
from portafunc import App, Message, logsetup
from portafunc.invoke import invoke_batch

app = App("direct")


@app.queue("work")
def work(msg: Message) -> None:
    raise ConnectionError("downstream at postgres://svc:hunter2@db:5432/x unavailable")


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextmanager
def installed(shape: str) -> Iterator[logging.Logger]:
    with fresh_logging() as root:
        logsetup.install(shape)
        # as in a deployed function: portafunc's handler alone (pytest's capture handlers would count as listeners)
        root.handlers = [h for h in root.handlers if isinstance(h, logsetup.StderrHandler)]
        yield root


def _fail_once() -> str:
    err = io.StringIO()
    with redirect_stderr(err):
        invoke_batch(app.function("work"), [Message(id="m-1", data=b"{}", attributes={"traceparent":
                     "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"})], invocation_id="inv")
    return err.getvalue()


def _without_times(line: dict[str, Any]) -> dict[str, Any]:
    # times differ, and each invocation has its own span; the traceback is in full only the first time
    return {k: v for k, v in line.items()
            if k not in ("ts", "timestamp", "time", "traceback", "span_id", "logging.googleapis.com/spanId")}


@pytest.mark.parametrize("shape", ["json", "aws", "gcp"])
def test_the_direct_line_is_the_line_the_logging_tree_writes(shape: str) -> None:
    with installed(shape) as root:
        ours = next(h for h in root.handlers if isinstance(h, logsetup.StderrHandler))
        assert logsetup._sole_listener(logging.getLogger("portafunc"), logging.WARNING) is ours
        direct = json_lines(_fail_once())
        listener = Collect()
        root.addHandler(listener)  # the application listens too: records go through the tree again
        try:
            assert logsetup._sole_listener(logging.getLogger("portafunc"), logging.WARNING) is None
            through_tree = json_lines(_fail_once())
        finally:
            root.removeHandler(listener)
    assert len(direct) == len(through_tree) == 1
    assert list(direct[0]) == list(through_tree[0])  # same keys, same order
    assert _without_times(direct[0]) == _without_times(through_tree[0])
    assert direct[0]["trace_id"] == "0af7651916cd43dd8448eb211c80319c"
    assert "hunter2" not in str(direct[0]) and "hunter2" not in str(listener.records[0].__dict__)
    assert listener.records[0].getMessage() == "handler failed; the message will be redelivered"


def test_a_logger_filter_or_level_set_by_the_application_is_obeyed() -> None:
    with installed("json"):
        own = logging.getLogger("portafunc")
        own.setLevel(logging.ERROR)
        try:
            assert _fail_once() == ""  # the WARNING line is dropped by the application's choice
        finally:
            own.setLevel(logging.NOTSET)
        own.addFilter(lambda record: False)
        try:
            assert logsetup._sole_listener(own, logging.WARNING) is None
            assert _fail_once() == ""
        finally:
            own.filters.clear()
        assert len(json_lines(_fail_once())) == 1
