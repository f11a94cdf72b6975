"""SNS and SQS take at most 10 message attributes, on moto (server mode). Inside an invocation a message's own
attributes (and the marker of a binary body) keep their room; portafunc's trace attributes take what is left —
``traceparent``, then ``correlation_id``, then ``tracestate``. On SQS a ``traceparent`` with no room goes as the
``AWSTraceHeader`` system attribute, from which the consumer, fed the received message as Lambda's event source
mapping does, continues the trace; SNS drops what does not fit. Either way one WARNING per process and broker says
what was left out; the limit error counts only the message's own attributes."""

from __future__ import annotations

import json
import logging
from typing import Any, Callable

import pytest
from test_moto_e2e import event_source_mapping, receive_all

import portafunc
from portafunc import App, HttpRequest, HttpResponse, Message
from portafunc.errors import MessagingError
from portafunc.events import Headers
from portafunc.messaging.base import OutgoingMessage
from portafunc_aws import runtime
from portafunc_aws.backends import attributes as aws_attributes
from portafunc_aws.backends import clients
from portafunc_aws.codecs import http
from portafunc_aws.lambda_context import LambdaContext

pytestmark = pytest.mark.emulator

CALLER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER = f"00-{CALLER_TRACE}-00f067aa0ba902b7-01"
STATE = "vendor=opaque"  # the caller's tracestate: inside the invocation, three trace attributes are added
MARKER = "portafunc-body-encoding"
LEFT_OUT = "sent without the trace attribute"


def own(count: int) -> dict[str, str]:
    """``count`` attributes of the handler's own."""
    return {f"attr{i}": f"own value {i}" for i in range(count)}


class Run:
    """An app whose HTTP function runs ``send`` inside a Lambda invocation (whose caller sent ``traceparent`` and
    ``tracestate``), and whose consumers record the invocation and message they were given."""

    def __init__(self) -> None:
        self.send: Callable[[], Any] = lambda: None
        self.producer_span = ""
        self.error = ""
        self.seen: list[tuple[Any, dict[str, str], bytes]] = []
        self.app = app = App("roomy")

        @app.http("POST", "/send", uses=[portafunc.sends("work"), portafunc.publishes("events")])
        def produce(req: HttpRequest) -> HttpResponse:
            invocation = portafunc.current_invocation()
            assert invocation is not None and invocation.trace is not None
            self.producer_span = invocation.trace.span_id
            try:
                self.send()
            except MessagingError as exc:
                self.error = str(exc)
            return HttpResponse(status=202)

        @app.queue("work")
        def work(msg: Message) -> None:
            self.seen.append((portafunc.current_invocation(), dict(msg.attributes), msg.data))

        @app.topic("events", name="audit")
        def audit(msg: Message) -> None:
            self.seen.append((portafunc.current_invocation(), dict(msg.attributes), msg.data))

    def invoke(self, send: Callable[[], Any]) -> None:
        self.send, self.error = send, ""
        request = HttpRequest("POST", "/send", headers=Headers([("traceparent", CALLER), ("tracestate", STATE)]))
        answer = runtime.bind(self.app, "produce")(http.encode_request(request, "apigw-v2"), LambdaContext())
        assert answer["statusCode"] == 202

    def consume(self, boto: Any, function: str, url: str, arn: str, received: list[dict[str, Any]]) -> None:
        self.seen.clear()
        assert event_source_mapping(boto, runtime.bind(self.app, function), url, arn, received) == []
        assert len(self.seen) == len(received)


@pytest.fixture(autouse=True)
def _fresh_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """The once-per-process warnings as a new process has them."""
    monkeypatch.setattr(aws_attributes, "_reported", {})


@pytest.fixture
def queue(boto: Any, monkeypatch: pytest.MonkeyPatch) -> tuple[str, str]:
    url, arn = boto.queue("roomy-work")
    monkeypatch.setenv("PORTAFUNC_QUEUE_WORK", "sqs://" + url.split("://", 1)[1])
    return url, arn


@pytest.fixture
def topic(boto: Any, monkeypatch: pytest.MonkeyPatch) -> tuple[str, str]:
    """An SNS topic and the SQS queue subscribed to it (SNS envelopes, as the packager sets up): (url, arn) of the
    queue."""
    topic_arn = boto.sns.create_topic(Name="roomy-events")["TopicArn"]
    url, arn = boto.queue("roomy-audit")
    boto.sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=arn)
    monkeypatch.setenv("PORTAFUNC_TOPIC_EVENTS", f"sns://{topic_arn}")
    return url, arn


def carried(received: dict[str, Any]) -> dict[str, str]:
    """The message attributes of a message received from SQS."""
    return {k: v["StringValue"] for k, v in received.get("MessageAttributes", {}).items()}


def enveloped(received: dict[str, Any]) -> dict[str, str]:
    """The message attributes SNS put in the envelope of a message it delivered to SQS."""
    return {k: v["Value"] for k, v in json.loads(received["Body"]).get("MessageAttributes", {}).items()}


BINARY = b"\x00\xff\x10raw bytes"  # a body that is no UTF-8 text: sent base64 with the binary-body marker


def sent_binary(run: Run, send: Callable[[bytes, dict[str, str]], Any], boto: Any, url: str,
                read: Callable[[dict[str, Any]], dict[str, str]]) -> dict[str, Any]:
    """BINARY sent inside an invocation with nine attributes of the handler's own: the one message received, whose
    attributes (as ``read`` finds them) are those nine and the binary-body marker."""
    run.invoke(lambda: send(BINARY, own(9)))
    assert run.error == ""
    [received] = receive_all(boto, url, 1)
    assert read(received) == {**own(9), MARKER: "base64"}
    return received


def left_out_warnings(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "portafunc" and r.levelno == logging.WARNING
            and LEFT_OUT in r.getMessage()]


def assert_no_values_logged(record: logging.LogRecord) -> None:
    text = record.getMessage() + repr(getattr(record, "left_out", None)) + repr(getattr(record, "destination", None))
    assert "own value" not in text and CALLER_TRACE not in text and "opaque" not in text


def xray(span: str) -> str:
    return f"Root=1-{CALLER_TRACE[:8]}-{CALLER_TRACE[8:]};Parent={span};Sampled=1"


def continues_trace(invocation: Any, producer_span: str) -> bool:
    return (invocation.trace.trace_id, invocation.trace.parent_id) == (CALLER_TRACE, producer_span)


# -- SQS ------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("count", "added"), [(8, {"portafunc_error", "portafunc_original_id"}), (10, set())])
def test_sqs_dead_letter_copy_keeps_the_messages_own_attributes_first(
        boto: Any, monkeypatch: pytest.MonkeyPatch, count: int, added: set[str]) -> None:
    """A non-retryable message with many attributes of its own still goes to its dead-letter queue at once: the
    ``portafunc_*`` reason and origin take the room its own attributes leave (the reason first), instead of making
    the copy one SQS refuses, which left the message to be retried until the broker's redrive."""
    url, arn = boto.queue(f"roomy-in-{count}")
    dead_url, _ = boto.queue(f"roomy-dead-{count}")
    monkeypatch.setenv("PORTAFUNC_QUEUE_IN", "sqs://" + url.split("://", 1)[1])
    monkeypatch.setenv("PORTAFUNC_QUEUE_DEAD", "sqs://" + dead_url.split("://", 1)[1])
    app = App("dead-letters")

    @app.queue("in", dead_letter="dead")
    def refuse(msg: Message) -> None:
        raise portafunc.NonRetryableError("no such customer")

    boto.sqs.send_message(QueueUrl=url, MessageBody='{"id": 1}', MessageAttributes={
        k: {"DataType": "String", "StringValue": v} for k, v in own(count).items()})
    received = receive_all(boto, url, 1)
    assert event_source_mapping(boto, runtime.bind(app, "refuse"), url, arn, received) == []  # not left to redrive
    [dead] = receive_all(boto, dead_url, 1)
    attributes = carried(dead)
    assert {k: attributes[k] for k in own(count)} == own(count)
    assert set(attributes) - set(own(count)) == added
    if added:
        assert attributes["portafunc_error"] == "NonRetryableError: no such customer"
        assert attributes["portafunc_original_id"] == received[0]["MessageId"]
    assert dead["Body"] == '{"id": 1}'


def test_sqs_nine_own_attributes_keep_their_room_and_traceparent_takes_the_tenth(
        boto: Any, queue: tuple[str, str], caplog: pytest.LogCaptureFixture) -> None:
    url, arn = queue
    run = Run()
    run.invoke(lambda: portafunc.queue("work").send({"id": "o-1"}, attributes=own(9)))
    assert run.error == ""
    [received] = receive_all(boto, url, 1)
    attributes = carried(received)
    assert set(attributes) == {*own(9), "traceparent"}
    assert {k: attributes[k] for k in own(9)} == own(9)
    assert attributes["traceparent"] == f"00-{CALLER_TRACE}-{run.producer_span}-01"
    assert "AWSTraceHeader" not in received.get("Attributes", {})  # it fitted as a message attribute

    run.consume(boto, "work", url, arn, [received])
    [(invocation, seen, data)] = run.seen
    assert continues_trace(invocation, run.producer_span) and data == b'{"id":"o-1"}' and seen == attributes

    [warning] = left_out_warnings(caplog)
    assert "correlation_id, tracestate" in warning.getMessage() and "AWSTraceHeader" not in warning.getMessage()
    assert_no_values_logged(warning)


def test_sqs_ten_own_attributes_send_the_trace_as_aws_trace_header(
        boto: Any, queue: tuple[str, str], caplog: pytest.LogCaptureFixture) -> None:
    url, arn = queue
    run = Run()
    run.invoke(lambda: [portafunc.queue("work").send({"n": n}, attributes=own(10)) for n in (1, 2)])
    assert run.error == ""
    received = receive_all(boto, url, 2)
    assert len(received) == 2
    for message in received:
        assert carried(message) == own(10)
        assert message["Attributes"]["AWSTraceHeader"] == xray(run.producer_span)

    run.consume(boto, "work", url, arn, received)
    assert all(continues_trace(invocation, run.producer_span) for invocation, _, _ in run.seen)
    assert all(seen == own(10) for _, seen, _ in run.seen)

    [warning] = left_out_warnings(caplog)  # two messages, one line
    message = warning.getMessage()
    assert "SQS" in message and "correlation_id, tracestate" in message and "AWSTraceHeader" in message
    assert getattr(warning, "left_out", None) == ["correlation_id", "tracestate"]
    assert_no_values_logged(warning)


def test_sqs_own_correlation_id_counts_as_the_handlers_own(
        boto: Any, queue: tuple[str, str], caplog: pytest.LogCaptureFixture) -> None:
    url, arn = queue
    run = Run()
    mine = {**own(9), "correlation_id": "order-77"}
    run.invoke(lambda: portafunc.queue("work").send({"id": "o-1"}, attributes=mine))
    assert run.error == ""
    [received] = receive_all(boto, url, 1)
    assert carried(received) == mine
    assert received["Attributes"]["AWSTraceHeader"] == xray(run.producer_span)
    [warning] = left_out_warnings(caplog)
    assert getattr(warning, "left_out", None) == ["tracestate"]


def test_sqs_eleven_own_attributes_are_an_error_that_counts_them(
        boto: Any, queue: tuple[str, str], caplog: pytest.LogCaptureFixture) -> None:
    url, _ = queue
    run = Run()
    run.invoke(lambda: portafunc.queue("work").send({"id": "o-1"}, attributes=own(11)))
    assert "11 attributes" in run.error and "at most 10" in run.error
    # a traceparent the handler set itself is one of its own: ten others and it are eleven too
    run.invoke(lambda: portafunc.queue("work").send({"id": "o-2"}, attributes={**own(10), "traceparent": CALLER}))
    assert "11 attributes" in run.error
    assert receive_all(boto, url, 1, timeout=1) == []
    assert left_out_warnings(caplog) == []


def test_sqs_binary_body_keeps_its_marker_and_decodes(
        boto: Any, queue: tuple[str, str], caplog: pytest.LogCaptureFixture) -> None:
    url, arn = queue
    run = Run()
    received = sent_binary(run, lambda body, attributes: portafunc.queue("work").send(body, attributes=attributes),
                           boto, url, carried)
    assert received["Attributes"]["AWSTraceHeader"] == xray(run.producer_span)

    run.consume(boto, "work", url, arn, [received])
    [(invocation, seen, data)] = run.seen
    assert data == BINARY and seen == own(9)
    assert continues_trace(invocation, run.producer_span)
    [warning] = left_out_warnings(caplog)
    assert getattr(warning, "left_out", None) == ["correlation_id", "tracestate"]

    run.invoke(lambda: portafunc.queue("work").send(BINARY, attributes=own(10)))
    assert "11 attributes" in run.error and "binary body" in run.error


def test_sqs_send_batch_gives_each_message_its_own_room(
        boto: Any, queue: tuple[str, str], caplog: pytest.LogCaptureFixture) -> None:
    url, arn = queue
    run = Run()
    sent: list[dict[str, Any]] = []

    def record(params: dict[str, Any], **_: Any) -> None:
        sent.extend(params["Entries"])

    clients.client("sqs", "us-east-1").meta.events.register("provide-client-params.sqs.SendMessageBatch", record)
    payload = BINARY
    mine = {**own(9), "correlation_id": "order-77"}  # the handler's own correlation id: one of its ten
    batch = [OutgoingMessage({"n": 1}, own(10)), OutgoingMessage({"n": 2}, own(9)),
             OutgoingMessage(payload, own(9)), {"n": 4}, OutgoingMessage({"n": 5}, mine)]
    run.invoke(lambda: portafunc.queue("work").send_batch(batch))
    assert run.error == ""

    # what went to SQS: moto keeps no system attribute of a batch entry, so the request shows it
    header = {"AWSTraceHeader": {"DataType": "String", "StringValue": xray(run.producer_span)}}
    assert [entry.get("MessageSystemAttributes") for entry in sent] == [header, None, header, None, header]

    received = sorted(receive_all(boto, url, 5), key=lambda m: sent_index(sent, m))
    assert [carried(m) for m in received] == [
        own(10), {**own(9), "traceparent": f"00-{CALLER_TRACE}-{run.producer_span}-01"}, {**own(9), MARKER: "base64"},
        {"traceparent": f"00-{CALLER_TRACE}-{run.producer_span}-01", "tracestate": STATE, "correlation_id": CALLER},
        mine]

    run.consume(boto, "work", url, arn, received[1:4])  # those whose trace went as message attributes
    assert [data for _, _, data in run.seen] == [b'{"n":2}', payload, b'{"n":4}']
    assert continues_trace(run.seen[0][0], run.producer_span) and continues_trace(run.seen[2][0], run.producer_span)
    assert len(left_out_warnings(caplog)) == 1

    run.invoke(lambda: portafunc.queue("work").send_batch([OutgoingMessage({"n": 5}, own(11))]))
    assert "11 attributes" in run.error


def sent_index(sent: list[dict[str, Any]], received: dict[str, Any]) -> int:
    return next(i for i, entry in enumerate(sent) if entry["MessageBody"] == received["Body"])


def test_sqs_outside_an_invocation_nothing_changes(boto: Any, queue: tuple[str, str],
                                                   caplog: pytest.LogCaptureFixture) -> None:
    url, _ = queue
    portafunc.queue("work").send({"id": "o-1"}, attributes=own(10))
    [received] = receive_all(boto, url, 1)
    assert carried(received) == own(10) and "AWSTraceHeader" not in received.get("Attributes", {})
    with pytest.raises(MessagingError, match="11 attributes"):
        portafunc.queue("work").send({"id": "o-2"}, attributes=own(11))
    assert left_out_warnings(caplog) == []


# -- SNS ------------------------------------------------------------------------------------------------------------

def test_sns_nine_own_attributes_and_traceparent(boto: Any, topic: tuple[str, str],
                                                 caplog: pytest.LogCaptureFixture) -> None:
    url, arn = topic
    run = Run()
    run.invoke(lambda: portafunc.topic("events").publish({"id": "o-1"}, attributes=own(9)))
    assert run.error == ""
    [received] = receive_all(boto, url, 1)
    assert enveloped(received) == {**own(9), "traceparent": f"00-{CALLER_TRACE}-{run.producer_span}-01"}
    run.consume(boto, "audit", url, arn, [received])
    [(invocation, seen, _)] = run.seen
    assert continues_trace(invocation, run.producer_span) and seen == enveloped(received)
    [warning] = left_out_warnings(caplog)
    assert "SNS" in warning.getMessage() and getattr(warning, "left_out", None) == ["correlation_id", "tracestate"]
    assert_no_values_logged(warning)


def test_sns_ten_own_attributes_are_sent_without_the_trace(boto: Any, topic: tuple[str, str],
                                                           caplog: pytest.LogCaptureFixture) -> None:
    url, arn = topic
    run = Run()
    run.invoke(lambda: [portafunc.topic("events").publish({"n": n}, attributes=own(10)) for n in (1, 2)])
    assert run.error == ""
    received = receive_all(boto, url, 2)
    assert [enveloped(m) for m in received] == [own(10), own(10)]
    run.consume(boto, "audit", url, arn, received)
    assert all(invocation.trace.trace_id != CALLER_TRACE for invocation, _, _ in run.seen)  # no room: a new trace

    [warning] = left_out_warnings(caplog)  # two messages, one line
    assert getattr(warning, "left_out", None) == ["traceparent", "correlation_id", "tracestate"]
    assert "AWSTraceHeader" not in warning.getMessage()
    assert_no_values_logged(warning)


def test_sns_eleven_own_attributes_are_an_error_that_counts_them(boto: Any, topic: tuple[str, str],
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    url, _ = topic
    run = Run()
    run.invoke(lambda: portafunc.topic("events").publish({"id": "o-1"}, attributes=own(11)))
    assert "11 attributes" in run.error and "at most 10" in run.error
    run.invoke(lambda: portafunc.topic("events").publish_batch([OutgoingMessage({"id": "o-2"}, own(11))]))
    assert "11 attributes" in run.error
    assert receive_all(boto, url, 1, timeout=1) == []
    assert left_out_warnings(caplog) == []


def test_sns_binary_body_keeps_its_marker_and_decodes(boto: Any, topic: tuple[str, str],
                                                      caplog: pytest.LogCaptureFixture) -> None:
    url, arn = topic
    run = Run()
    received = sent_binary(run, lambda body, attributes: portafunc.topic("events").publish(body, attributes=attributes),
                           boto, url, enveloped)
    run.consume(boto, "audit", url, arn, [received])
    [(_, seen, data)] = run.seen
    assert data == BINARY and seen == own(9)
    [warning] = left_out_warnings(caplog)
    assert getattr(warning, "left_out", None) == ["traceparent", "correlation_id", "tracestate"]


def test_sns_publish_batch_gives_each_message_its_own_room(boto: Any, topic: tuple[str, str],
                                                           caplog: pytest.LogCaptureFixture) -> None:
    url, arn = topic
    run = Run()
    payload = BINARY
    batch = [OutgoingMessage({"n": 1}, own(10)), OutgoingMessage({"n": 2}, own(9)), OutgoingMessage(payload, own(9))]
    run.invoke(lambda: portafunc.topic("events").publish_batch(batch))
    assert run.error == ""
    received = receive_all(boto, url, 3)
    by_body = {json.loads(m["Body"])["Message"]: enveloped(m) for m in received}
    assert by_body['{"n":1}'] == own(10)
    assert by_body['{"n":2}'] == {**own(9), "traceparent": f"00-{CALLER_TRACE}-{run.producer_span}-01"}
    assert [a for a in by_body.values() if MARKER in a] == [{**own(9), MARKER: "base64"}]
    run.consume(boto, "audit", url, arn, received)
    assert sorted(data for _, _, data in run.seen) == sorted([b'{"n":1}', b'{"n":2}', payload])
    assert len(left_out_warnings(caplog)) == 1
