"""A batch enters the invocation context once and rewrites its message per message; a single message without a
platform id draws its invocation id only when someone asks. What a handler, a log line or a binding sees must be what
one context entry per message gave: its own message's invocation, never a neighbour's, and nothing of the batch
between messages or after it."""

from __future__ import annotations

import contextvars
import json
import logging

from pydantic import BaseModel

from portafunc import App, Message, context
from portafunc.context import current, current_spec
from portafunc.invoke import invoke_batch, invoke_message


class Order(BaseModel):
    total: float


def _messages(n: int) -> list[Message]:
    return [Message(f"m-{i}", b"{}", {"correlation_id": f"c-{i}"} if i % 2 else {}) for i in range(n)]


def test_each_message_of_a_batch_sees_its_own_invocation_whether_or_not_a_neighbour_asked():
    app = App("ctx")
    seen: list[tuple[str, str, str] | None] = []

    @app.queue("orders")
    def work(msg: Message) -> None:
        if msg.id in ("m-0", "m-2", "m-3"):  # some ask, some do not: a built Invocation must not stay for the next
            inv = current()
            assert inv is not None
            seen.append((msg.id, inv.invocation_id, inv.correlation_id))
            assert current() is inv  # built once per message
        assert current_spec() is app.function("work")

    result = invoke_batch(app.function("work"), _messages(5), invocation_id="batch")
    assert result.failed_ids == []
    assert seen == [("m-0", "batch:0", "m-0"), ("m-2", "batch:2", "m-2"), ("m-3", "batch:3", "c-3")]
    assert current() is None and current_spec() is None


def test_between_messages_and_after_the_batch_the_context_is_what_it_was_before():
    app = App("ctx")
    outer_app = App("outer")

    @app.queue("orders")
    def work(msg: Message) -> None:
        current()  # replaces the batch's deferred entry by the Invocation it builds

    @outer_app.queue("jobs")
    def job(msg: Message) -> None:
        pass

    between: list[object] = []

    def records():
        for msg in _messages(3):
            between.append((current(), current_spec()))  # read while the batch asks for its next record
            yield msg

    assert invoke_batch(app.function("work"), records(), invocation_id="b").failed_ids == []
    assert between == [(None, None)] * 3

    # inside another invocation, the batch's between-messages reads give that invocation
    outer = context.Invocation("outer-1", "job", "queue", "outer-1", spec=outer_app.function("job"))
    between.clear()
    token = context.enter(outer)
    try:
        invoke_batch(app.function("work"), records(), invocation_id="b")
        assert current() is outer
    finally:
        context.leave(token)
    assert between == [(outer, outer_app.function("job"))] * 3


def test_a_failing_message_of_a_batch_logs_its_own_ids_and_the_next_one_runs_as_itself(capsys):
    app = App("ctx")
    seen: list[str] = []

    @app.queue("orders")
    def work(msg: Message) -> None:
        if msg.id == "m-1":
            raise RuntimeError("boom")
        inv = current()
        assert inv is not None
        seen.append(inv.invocation_id)

    result = invoke_batch(app.function("work"), _messages(3), invocation_id="batch")
    assert result.failed_ids == ["m-1"]
    assert seen == ["batch:0", "batch:2"]
    err = capsys.readouterr().err
    assert "batch:1" in err and "m-1" in err


def test_a_single_message_draws_an_invocation_id_only_when_asked_and_keeps_it():
    app = App("ctx")
    asked: list[str] = []

    @app.queue("orders")
    def quiet(msg: Message) -> None:
        pass

    @app.queue("jobs")
    def curious(msg: Message) -> None:
        inv = current()
        assert inv is not None
        asked.append(inv.invocation_id)
        asked.append(current().invocation_id)  # type: ignore[union-attr]

    context.new_id()  # a block of ids read ahead: what the quiet message takes is visible
    left = len(context._ids)
    assert invoke_message(app.function("quiet"), Message("m-1", b"{}")).outcome.value == "success"
    assert len(context._ids) == left  # no id drawn for a message nobody asked about
    invoke_message(app.function("curious"), Message("m-2", b"{}"))
    assert len(asked) == 2 and asked[0] == asked[1] and len(asked[0]) == 32
    invoke_message(app.function("curious"), Message("m-3", b"{}"), invocation_id="req-1")
    assert asked[2:] == ["req-1", "req-1"]


def test_a_context_copied_by_a_handler_keeps_the_invocation_it_was_copied_in_once_built():
    app = App("ctx")
    copies: list[tuple[str, contextvars.Context]] = []

    @app.queue("orders")
    def work(msg: Message) -> None:
        current()
        copies.append((msg.id, contextvars.copy_context()))

    invoke_batch(app.function("work"), _messages(3), invocation_id="batch")
    assert [(mid, ctx.run(current).invocation_id) for mid, ctx in copies] == [  # type: ignore[union-attr]
        ("m-0", "batch:0"), ("m-1", "batch:1"), ("m-2", "batch:2")]


def test_a_failing_message_of_a_batch_is_one_invocation_to_every_line_and_reader_of_its_failure(capsys):
    """A failing message's Invocation is built for its failure line and kept for the rest of the failure (a logging
    filter reading ``current()`` while the line is handled, the line's own ids): one invocation, one span, and the
    next message and the code after the batch see theirs, not it."""
    app = App("ctx")
    during: list[tuple[str, str, str]] = []
    after: list[str] = []

    @app.queue("orders")
    def work(msg: Message[Order]) -> None:
        if msg.body.total < 0:
            raise RuntimeError("negative")
        inv = current()
        assert inv is not None
        after.append(inv.invocation_id)

    class Reader(logging.Filter):
        def filter(self, record: logging.LogRecord) -> bool:
            inv = current()
            assert inv is not None and inv.trace is not None
            during.append((inv.invocation_id, inv.correlation_id, inv.trace.span_id))
            return True

    reader = Reader()
    logger = logging.getLogger("portafunc")
    payloads = [b'{"total": 1}', b'{"total": "x"}', b'{"total": -1}', b'{"total": 2}']
    for routed in (False, True):  # the one-pass line, and the line through a logger with a filter
        during.clear()
        after.clear()
        capsys.readouterr()
        if routed:
            logger.addFilter(reader)
        try:
            msgs = [Message(f"m-{i}", data) for i, data in enumerate(payloads)]
            result = invoke_batch(app.function("work"), msgs, invocation_id="batch")
            assert current() is None and current_spec() is None
        finally:
            logger.removeFilter(reader)
        assert result.failed_ids == ["m-1", "m-2"]
        assert after == ["batch:0", "batch:3"]
        lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
        failures = [(line["invocation_id"], line["correlation_id"], line["span_id"]) for line in lines
                    if line.get("message_id") in ("m-1", "m-2")]
        assert [f[:2] for f in failures] == [("batch:1", "m-1"), ("batch:2", "m-2")]
        assert failures[0][2] != failures[1][2]
        if routed:
            assert during == failures
