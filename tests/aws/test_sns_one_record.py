"""A direct SNS event with one record (what Lambda hands a subscribed function) is run without the record loop: it
must answer as the general asynchronous path (``LambdaHandler._async``) answers the same messages — None, or
RetryRequested naming the same failures — for a success, a retryable failure, a non-retryable one with and without a
dead-letter destination, and it runs as the Lambda request id. Events come from the adapter's own SNS encoder."""

from __future__ import annotations

import pytest

from portafunc import App, Message, NonRetryableError
from portafunc.context import current
from portafunc_aws import outcome, runtime
from portafunc_aws.codecs import queue as messages
from portafunc_aws.codecs import topic
from portafunc_aws.lambda_context import LambdaContext


def _app() -> tuple[App, list[str]]:
    app = App("sns-one")
    ids: list[str] = []

    @app.topic("events")
    def plain(msg: Message) -> None:
        inv = current()
        assert inv is not None
        ids.append(inv.invocation_id)
        what = msg.json().get("fail")
        if what == "retry":
            raise RuntimeError("boom")
        if what == "drop":
            raise NonRetryableError("bad event")

    @app.topic("events", dead_letter="memory://sns-one-dlq")
    def lettered(msg: Message) -> None:
        if msg.json().get("fail") == "drop":
            raise NonRetryableError("bad event")

    return app, ids


def _answer(call):
    try:
        return "returned", call()
    except outcome.RetryRequested as exc:
        return "retry", [(r.message_id, r.outcome, r.error) for r in exc.failures]


@pytest.mark.parametrize("function", ["plain", "lettered"])
@pytest.mark.parametrize("payload", [b'{}', b'{"fail": "retry"}', b'{"fail": "drop"}', b'not json'])
def test_one_record_answers_as_the_general_path(function, payload):
    app, _ = _app()
    handler = runtime.bind(app, function)
    event = messages.encode_messages([Message("n-1", payload)], "sns")
    ctx = LambdaContext()
    fast = _answer(lambda: handler(event, ctx))
    general = _answer(lambda: handler._async(app.function(function), topic.decode_sns(event), ctx))
    assert fast == general


def test_one_record_runs_as_the_lambda_request_and_two_records_as_their_own():
    app, ids = _app()
    handler = runtime.bind(app, "plain")
    ctx = LambdaContext()
    handler(messages.encode_messages([Message("n-1", b"{}")], "sns"), ctx)
    assert ids == [ctx.aws_request_id]
    ids.clear()
    two = messages.encode_messages([Message("n-1", b"{}"), Message("n-2", b'{"fail": "retry"}')], "sns")
    with pytest.raises(outcome.RetryRequested) as raised:
        handler(two, ctx)
    assert [r.message_id for r in raised.value.failures] == ["n-2"]
    assert len(ids) == 2 and ctx.aws_request_id not in ids and ids[0] != ids[1]


def _outcome(call, *args):
    """What a Lambda invocation ends in: its answer, RetryRequested's failures, or the refusal's type and text."""
    try:
        return "returned", call(*args)
    except outcome.RetryRequested as exc:
        return "retry", [(r.message_id, r.outcome, r.error) for r in exc.failures]
    except Exception as exc:  # noqa: BLE001 - a refused event: the same error either way
        return "raised", type(exc).__name__, str(exc)


def test_a_queue_or_topic_functions_lane_answers_as_the_general_dispatch_on_every_case():
    """A function bound to a queue or topic takes its SQS and one-record SNS events past the general dispatch
    (``LambdaHandler.__call__``); every SNS sample and mutation, every SQS record and mutation (one per batch), and
    events that are not theirs, answer as ``_dispatch`` answers them, with the same messages handed to the handler."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent))
    import codec_golden

    app = App("lane")
    seen: list[object] = []

    @app.topic("events")
    def on_event(msg: Message) -> None:
        seen.append((msg.id, msg.data, msg.attributes, msg.published_at, msg.source, msg.delivery_attempt))
        if msg.data == b"aGk=":
            raise RuntimeError("retry me")

    @app.queue("orders")
    def work(msg: Message) -> None:
        on_event(msg)

    events = [*codec_golden.sns_cases(), *({"Records": [rec]} for rec in codec_golden.sqs_cases()),
              {"Records": []}, {"Records": [1]}, {"Records": "x"}, {"requestContext": {}, "Records": []}]
    events += [codec_golden._sns_put(e, "MessageAttributes", {}) for e in codec_golden.sns_cases()]
    # shaped like an HTTP API request too: the general dispatch refuses them, and so must the lane
    usual = [codec_golden._sns_put(codec_golden.sns_cases()[1], "MessageAttributes", {}),
             codec_golden.load_fixture("sqs/powertools-sqsEvent.json")]
    events += [{**e, "version": "2.0", "rawPath": "/x"} for e in usual]
    events += [{**e, "httpMethod": "GET", "requestContext": {}} for e in usual]
    ctx = LambdaContext()
    for function in ("on_event", "work"):
        handler = runtime.bind(app, function)
        assert handler.message_spec is app.function(function)
        for event in events:
            lane = _outcome(handler, event, ctx), list(seen)
            seen.clear()
            general = _outcome(handler._dispatch, event, ctx), list(seen)
            seen.clear()
            assert lane == general, event
    assert runtime.bind(app).message_spec is None
