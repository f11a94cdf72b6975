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
from pydantic import BaseModel

from log_support import fresh_logging, json_lines
from portafunc import App, Message, logs, logsetup
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


class _Native:
    def __init__(self, **ids: Any) -> None:
        self.__dict__.update(ids)


class _Text(str):
    """A str subclass: written as text, like a str."""


def _contexts() -> list[Any]:
    from portafunc.context import Invocation
    from portafunc.tracing import TraceContext

    trace = TraceContext("0af7651916cd43dd8448eb211c80319c", None, "b7ad6b7169203331")
    return [None,
            Invocation("inv:0", "work", "queue", "corr", "aws", _Native(aws_request_id="req-1"), None, trace),
            Invocation("inv:1", "work", "queue", "corr", "azure", _Native(invocation_id="az-1"), None, None),
            Invocation("inv:2", "work", "queue", "corr", "aws", _Native(aws_request_id=""), None, trace),
            Invocation("inv:3", "work", "queue", "corr", "local", None, None, trace)]


FIELD_SETS: list[dict[str, Any]] = [
    {},
    {"message_id": "m-1", "delivery_attempt": 2, "error_type": "KeyError", "error": "'total'", "traceback": "t"},
    {"errors": [{"loc": ["id"], "msg": "bad", "type": "int_parsing"}], "attributes": {"k": "v"}, "payload_bytes": 3},
    # every kind of value the JSON encoder writes, and text it must escape
    {"ratio": 0.1, "big": 10 ** 30, "neg": -7, "yes": True, "no": False, "none": None, "nan": float("nan"),
     "tuple": (1, "a"), "empty": {}, "nested": {"a": [1.5, {"b": None}]}, "object": _Native(x=1),
     "quote\"key": 'line\nbreak "quoted" \\ tab\t \x00 ünïcödé ✓ \U0001f600', "subclass": _Text("s")},
    # what redaction changes: secret-looking names (with any value), credentials in text, long text, nested secrets
    {"token": "abc", "password": 5, "authorization": {"x": 1}, "session": None, "error": "auth: Bearer abc.def",
     "url": "postgres://svc:hunter2@db:5432/x", "long": "y" * 9000 + " password=hunter2",
     "nested": {"api_key": "k", "pair": ["password", "p"], "deep": [[["token=abc"]]]}, "raw": b"bytes"},
    # dicts of texts (a message's attributes) are written in one loop; any other dict by the encoder
    {"attributes": {"authorization": "Bearer abc", "url": "postgres://svc:hunter2@db/x", "plain": "ok",
                    "ü\"k": "v\n✓"}, "mixed": {"a": "b", "n": 1}, "numbered": {1: "x"}, "long": {"a": "z" * 9000},
     "empty": {}},
    # a value redacted and encoded ahead (a rejection's remembered validation errors)
    {"errors": logs.Redacted([{"loc": ["items", 0], "msg": "bad ✓ \"x\"", "type": "int_parsing"}]), "n": 1},
    # names with rules of their own: the general builder takes them
    {"message": "clash", "module": "m", "args": 1},
    {"request_id": "mine", "tenant_id": "t-1", "aws_request_id": "x"},
    {"trace_id": "own", "function": "other", "level": "ignored", "timestamp": "no", "ts": 1, "logger": "no"},
    {"requestId": "r", "tenantId": "t", "correlation_id": "c"},
]


@pytest.mark.parametrize("shape", ["json", "aws", "gcp"])
def test_the_one_pass_line_is_the_general_line(shape: str) -> None:
    """:func:`logsetup._plain_line` (the message and fields as logged, redacted while the line is written) gives
    exactly :func:`logsetup._general_line` for them scrubbed and redacted first (ids, renamed fields, late ids, then
    the shape's rules) for every context and field set, or declines."""
    formatter = logsetup.JsonFormatter(shape)
    built = declined = 0
    for ctx in _contexts():
        for fields in FIELD_SETS:
            for level, message in (("WARNING", "failed"), ("ERROR", "failed"), ("ERROR", 'NON-RETRYABLE "quoted" ✓\n'),
                                   ("ERROR", "failed with password=hunter2")):
                general = logsetup._general_line(formatter, "portafunc", level, 1796065226.552,
                                                 logs.scrub_text(message), ctx, logs.redact(dict(fields)))
                for _ in range(2):  # the second time, from the texts, names and heads remembered
                    plain = logsetup._plain_line(shape, "portafunc", level, 1796065226.552, message, ctx, dict(fields))
                    if plain is None:
                        declined += 1
                    else:
                        built += 1
                        assert plain == general, (ctx, fields)
                        assert "hunter2" not in plain
    assert (built, declined) == ((0, 440) if shape == "gcp" else (280, 160))


class Order(BaseModel):
    id: int
    total: float


def _reject_once(spec: Any) -> str:
    err = io.StringIO()
    with redirect_stderr(err):
        invoke_batch(spec, [Message(id="m-1", data=b'{"id": 1}', attributes={"kind": "order", "session": "s-1", "traceparent":
                     "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"})], invocation_id="inv")
    return err.getvalue()


@pytest.mark.parametrize("shape", ["json", "aws"])
def test_a_rejection_line_is_the_same_direct_and_through_the_tree(shape: str,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """A typed rejection's line (its hint and payload fields made once per function or encoded ahead) is the line the
    logging tree writes, for a function whose name looks like a credential: scrubbed alike on both."""
    name = "AKIAIOSFODNN7EXAMPLE"  # the shape of an AWS access key id: scrubbed wherever it is text
    monkeypatch.delenv(f"PORTAFUNC_DEADLETTER_{name}", raising=False)
    rejecting = App("rejecting")

    @rejecting.queue("orders", name=name)
    def orders(msg: Message[Order]) -> None:
        raise AssertionError("never called")

    spec = rejecting.function(name)
    with installed(shape) as root:
        assert logsetup._sole_listener(logging.getLogger("portafunc"), logging.ERROR) is not None
        direct = json_lines(_reject_once(spec))
        listener = Collect()
        root.addHandler(listener)
        try:
            through_tree = json_lines(_reject_once(spec))
        finally:
            root.removeHandler(listener)
    assert len(direct) == len(through_tree) == 1
    assert list(direct[0]) == list(through_tree[0])
    assert _without_times(direct[0]) == _without_times(through_tree[0])
    assert direct[0]["level"] == "ERROR" and direct[0]["errors"] == [{"loc": ["total"], "msg": "Field required",
                                                                      "type": "missing"}]
    assert direct[0]["hint"] == "set dead_letter= on the decorator or PORTAFUNC_DEADLETTER_[REDACTED]"
    assert direct[0]["payload_content_type"] == "application/json (sniffed)"
    assert direct[0]["attributes"]["kind"] == "order" and direct[0]["attributes"]["session"] == "[REDACTED]"
    assert listener.records[0].__dict__["hint"] == direct[0]["hint"]
    monkeypatch.setattr(logs, "_through_logging", None)  # PORTAFUNC_LOGGING=off: portafunc writes the line itself
    written, = json_lines(_reject_once(spec))
    fields = ["message_id", "reason", "errors", "payload_bytes", "payload_content_type", "payload_sha256",
              "attributes", "hint"]
    assert [k for k in written if k in fields] == [k for k in direct[0] if k in fields] == fields
    assert {k: written[k] for k in fields} == {k: direct[0][k] for k in fields}
