"""sns:// and sqs:// backends against moto (server mode), plus per-entry batch failures with botocore's Stubber
(moto never fails single entries of a batch for transient reasons, so that path is driven with the SDK's own stub)."""

from __future__ import annotations

import socket
import time

import pytest
from botocore.exceptions import ClientError

import portafunc
from portafunc.errors import BindingError, MessagingError
from portafunc.messaging import OutgoingMessage
from portafunc_aws.backends import batch as batch_mod
from portafunc_aws.backends import clients
from portafunc_aws.backends.errors import translate
from portafunc_aws.backends.sns import SnsTopic
from portafunc_aws.backends.sqs import SqsQueue, parse_queue_url


@pytest.mark.emulator
def test_queue_send_receive_ack_nack(boto, monkeypatch):
    url, arn = boto.queue("jobs")
    monkeypatch.setenv("PORTAFUNC_QUEUE_JOBS", f"sqs://{arn}")
    q = portafunc.queue("jobs")
    assert isinstance(q.backend, SqsQueue) and portafunc.queue("jobs").backend is q.backend  # one per binding
    sent = q.send({"a": 1}, attributes={"k": "v"})
    ids = q.send_batch([b"\x00\x01", "text ü", OutgoingMessage({"b": 2}, {"x": "y"})] * 4)  # 12 → 2 calls
    assert len(ids) == 12 and len(set(ids)) == 12
    got = []
    deadline = time.monotonic() + 10
    while len(got) < 13 and time.monotonic() < deadline:
        got += q.receive(10, wait=1)
    by_id = {m.id: m for m in got}
    assert set(by_id) == {sent, *ids}
    assert by_id[sent].json() == {"a": 1} and by_id[sent].attributes == {"k": "v"}
    assert by_id[ids[0]].data == b"\x00\x01" and by_id[ids[0]].attributes == {}
    assert by_id[ids[1]].text == "text ü" and by_id[ids[2]].attributes == {"x": "y"}
    assert all(m.delivery_attempt == 1 and m.published_at is not None for m in got)
    q.nack(by_id[sent], delay=0)
    for m in got:
        if m.id != sent:
            q.ack(m)
    again = q.receive(10, wait=2)
    assert [m.id for m in again] == [sent] and again[0].delivery_attempt == 2
    q.ack(again[0])
    assert q.receive(10, wait=0) == []


@pytest.mark.emulator
def test_fifo_queue_group_and_dedup(boto, monkeypatch):
    url, arn = boto.queue("orders.fifo", FifoQueue="true")
    q = SqsQueue(f"sqs://{arn}", "orders")
    q.send({"n": 1}, ordering_key="cust-1", dedup_id="d-1")
    q.send({"n": 1}, ordering_key="cust-1", dedup_id="d-1")  # same dedup id: SQS keeps one
    q.send_batch([OutgoingMessage({"n": i}, ordering_key="cust-1") for i in range(2, 5)])
    q.send({"n": 9})  # no key: group "default"
    got = []
    for _ in range(5):
        got += q.receive(10, wait=1)
        if len(got) >= 5:
            break
    cust = [m.json()["n"] for m in got if m.ordering_key == "cust-1"]
    assert cust == [1, 2, 3, 4]
    assert [m.ordering_key for m in got if m.json()["n"] == 9] == ["default"]
    with pytest.raises(MessagingError, match="FIFO queues have no per-message delay"):
        q.send("x", delay_seconds=5)


@pytest.mark.emulator
def test_fifo_topic_and_binary_payload_round_trip(boto):
    arn = boto.sns.create_topic(Name="ev.fifo", Attributes={"FifoTopic": "true"})["TopicArn"]
    _, qarn = boto.queue("ev-sub.fifo", FifoQueue="true")
    boto.sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=qarn)
    topic = SnsTopic(f"sns://{arn}", "ev")
    ids = topic.publish_batch([OutgoingMessage(b"\xff" * 3, {"a": "1"}, ordering_key="g")] * 3)
    assert len(ids) == 3
    q = SqsQueue(f"sqs://{qarn}", "sub")
    got = q.receive(10, wait=1)
    assert [m.data for m in got] == [b"\xff" * 3] * 3 and got[0].attributes == {"a": "1"}


@pytest.mark.emulator
def test_missing_resources_are_clear_messaging_errors(boto):
    with pytest.raises(MessagingError, match="does not exist"):
        SqsQueue("sqs://sqs.us-east-1.amazonaws.com/123456789012/nope", "nope").send("x")
    with pytest.raises(MessagingError, match="does not exist"):
        SnsTopic("sns://arn:aws:sns:us-east-1:123456789012:nope", "nope").publish("x")
    with pytest.raises(MessagingError, match="does not exist"):
        SqsQueue("sqs://arn:aws:sqs:us-east-1:123456789012:nope", "nope").receive()


def test_unreachable_endpoint_is_a_clear_error(monkeypatch):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("PORTAFUNC_AWS_MAX_ATTEMPTS", "1")
    clients.reset()
    try:
        with pytest.raises(MessagingError, match="unreachable"):
            SqsQueue("sqs://sqs.us-east-1.amazonaws.com/123456789012/q", "q").send("x")
    finally:
        clients.reset()


def test_permission_errors_name_the_missing_permission():
    error = ClientError({"Error": {"Code": "AuthorizationError", "Message": "User is not authorized"}}, "Publish")
    message = str(translate(error, "publish to topic", "arn:aws:sns:us-east-1:1:t", "sns:Publish"))
    assert "permission denied" in message and "sns:Publish" in message


@pytest.mark.parametrize("url", ["sqs://nothing", "sqs://sqs.us-east-1.amazonaws.com/notanaccount/q",
                                 "sqs://arn:aws:sqs:us-east-1:12:q"])
def test_bad_queue_urls(url):
    with pytest.raises(BindingError, match="sqs://"):
        SqsQueue(url, "q")


def test_queue_url_forms():
    assert parse_queue_url("sqs://sqs.eu-west-1.amazonaws.com/123456789012/q", "q") == (
        "https://sqs.eu-west-1.amazonaws.com/123456789012/q", "eu-west-1", "arn:aws:sqs:eu-west-1:123456789012:q")
    assert parse_queue_url("sqs://arn:aws:sqs:us-west-2:123456789012:q.fifo", "q")[0] == \
        "https://sqs.us-west-2.amazonaws.com/123456789012/q.fifo"
    assert parse_queue_url("sqs://localhost:4566/000000000000/q?region=eu-central-1", "q") == (
        "http://localhost:4566/000000000000/q", "eu-central-1", "arn:aws:sqs:eu-central-1:000000000000:q")


def test_timeout_option_on_both_url_forms_and_unknown_options_are_refused():
    q = SqsQueue("sqs://arn:aws:sqs:us-east-1:123456789012:q?timeout=2.5", "q")
    assert q.queue_url == "https://sqs.us-east-1.amazonaws.com/123456789012/q" and q.timeout == 2.5
    assert SqsQueue("sqs://localhost:4566/000000000000/q?region=eu-central-1&timeout=4", "q").timeout == 4
    assert SqsQueue("sqs://arn:aws:sqs:us-east-1:123456789012:q", "q").timeout == 30
    t = SnsTopic("sns://arn:aws:sns:us-east-1:123456789012:t.fifo?timeout=3", "t")
    assert t.arn == "arn:aws:sns:us-east-1:123456789012:t.fifo" and t.fifo and t.timeout == 3
    with pytest.raises(BindingError, match="unknown option"):
        SqsQueue("sqs://arn:aws:sqs:us-east-1:123456789012:q?visibility=3", "q")
    with pytest.raises(BindingError, match="unknown option"):
        SnsTopic("sns://arn:aws:sns:us-east-1:123456789012:t?region=x", "t")
    with pytest.raises(BindingError, match="timeout"):
        SnsTopic("sns://arn:aws:sns:us-east-1:123456789012:t?timeout=soon", "t")


def test_an_unreachable_endpoint_is_retried_until_the_deadline(monkeypatch):
    """No PORTAFUNC_AWS_MAX_ATTEMPTS: the binding's ?timeout= alone bounds the retries (real refused connections)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("PORTAFUNC_AWS_MAX_ATTEMPTS", raising=False)
    clients.reset()
    try:
        started = time.monotonic()
        with pytest.raises(MessagingError, match=r"unreachable.*gave up after \d+ attempt") as info:
            SnsTopic("sns://arn:aws:sns:us-east-1:123456789012:t?timeout=1", "t").publish("x")
        took = time.monotonic() - started
        assert 0.8 <= took < 3, took
        assert int(str(info.value).split("gave up after ")[1].split()[0]) > 2  # retried, with backoff between
    finally:
        clients.reset()


def test_scheme_kind_mismatch(monkeypatch):
    monkeypatch.setenv("PORTAFUNC_QUEUE_MIXED", "sns://arn:aws:sns:us-east-1:123456789012:t")
    with pytest.raises(BindingError, match="sns:// is a topic"):
        portafunc.queue("mixed").send("x")
    with pytest.raises(BindingError, match="not sns://arn"):
        SnsTopic("sns://orders", "orders")


def test_empty_attribute_values_are_refused_before_sending():
    with pytest.raises(MessagingError, match="empty"):
        SqsQueue("sqs://arn:aws:sqs:us-east-1:123456789012:q", "q")._entry(OutgoingMessage("x", {"a": ""}))


def test_batch_entries_retry_transient_failures_and_stop_on_rejections(monkeypatch):
    """Per-entry results as SendMessageBatch returns them, driven through botocore's Stubber."""
    import boto3
    from botocore.stub import Stubber

    monkeypatch.setattr(batch_mod, "backoff", lambda attempt, deadline=None: None)
    sqs = boto3.client("sqs", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    queue = SqsQueue("sqs://arn:aws:sqs:us-east-1:123456789012:q", "q")
    monkeypatch.setattr(clients, "_clients", {("sqs", "us-east-1", tier): sqs for tier in clients.TIERS})
    with Stubber(sqs) as stub:
        stub.add_response("send_message_batch", {
            "Successful": [{"Id": "0", "MessageId": "id-0", "MD5OfMessageBody": "x"}],
            "Failed": [{"Id": "1", "SenderFault": False, "Code": "InternalError", "Message": "try again"}]})
        stub.add_response("send_message_batch", {
            "Successful": [{"Id": "1", "MessageId": "id-1", "MD5OfMessageBody": "x"}], "Failed": []})
        assert queue.send_batch(["a", "b"]) == ["id-0", "id-1"]
        stub.add_response("send_message_batch", {
            "Successful": [{"Id": "0", "MessageId": "id-0", "MD5OfMessageBody": "x"}],
            "Failed": [{"Id": "1", "SenderFault": True, "Code": "InvalidParameterValue", "Message": "too big"}]})
        with pytest.raises(batch_mod.BatchError, match="rejected 1 message") as info:
            queue.send_batch(["a", "b"])
        assert info.value.accepted == ["id-0", None]
        stub.assert_no_pending_responses()


def test_boto3_is_imported_only_when_a_backend_is_used():
    import subprocess
    import sys

    code = ("import sys; from portafunc_aws.backends.sqs import SqsQueue; "
            "q = SqsQueue('sqs://arn:aws:sqs:us-east-1:123456789012:q', 'q'); print('boto3' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "False", done.stderr
