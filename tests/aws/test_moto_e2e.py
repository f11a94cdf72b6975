"""End to end against moto in server mode (real SNS, SQS and S3 APIs over HTTP on 127.0.0.1).

The test plays the part of Lambda's SQS event source mapping: it receives with boto3, turns the received messages into
the Lambda SQS event (``lambda_event_from_receive``), calls the real entry point, and deletes what the answer does not
name in ``batchItemFailures`` — exactly what the mapping does with ``ReportBatchItemFailures``.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

import portafunc
from portafunc.events import HttpRequest
from portafunc_aws import runtime
from portafunc_aws.codecs import http
from portafunc_aws.lambda_context import LambdaContext
from portafunc_aws.codecs.queue import lambda_event_from_receive

pytestmark = pytest.mark.emulator


def receive_all(boto: Any, url: str, expect: int, *, timeout: float = 10.0) -> list[dict[str, Any]]:
    got: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while len(got) < expect and time.monotonic() < deadline:
        got += boto.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1,
                                        MessageAttributeNames=["All"], MessageSystemAttributeNames=["All"]
                                        ).get("Messages", [])
    return got


def event_source_mapping(boto: Any, handler: Any, url: str, arn: str, messages: list[dict[str, Any]]) -> list[str]:
    """Deliver one batch like Lambda does; delete the successes; return the failed ids."""
    answer = handler(lambda_event_from_receive(messages, arn), LambdaContext())
    failed = [f["itemIdentifier"] for f in answer["batchItemFailures"]]
    for msg in messages:
        if msg["MessageId"] not in failed:
            boto.sqs.delete_message(QueueUrl=url, ReceiptHandle=msg["ReceiptHandle"])
    return failed


def test_sns_fan_out_to_two_queues_reaches_both_handlers(boto, sample_app, monkeypatch):
    topic_arn = boto.sns.create_topic(Name="events")["TopicArn"]
    queues = {name: boto.queue(f"events-{name}") for name in ("audit_a", "audit_b")}
    for _, arn in queues.values():
        boto.sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=arn)  # no raw delivery: SNS envelopes
    monkeypatch.setenv("PORTAFUNC_TOPIC_EVENTS", f"sns://{topic_arn}")

    topic = portafunc.topic("events")
    first = topic.publish({"id": "o-1"}, attributes={"kind": "created", "shop": "acme"})
    rest = topic.publish_batch([{"id": f"o-{i}"} for i in range(2, 14)])  # 12: two PublishBatch calls
    binary = topic.publish(b"\x00\xff\x10raw")
    assert len({first, binary, *rest}) == 14

    for function, (url, arn) in queues.items():
        received = receive_all(boto, url, 14)
        assert len(received) == 14
        assert "TopicArn" in received[0]["Body"]  # what SQS holds is the SNS envelope
        failed = event_source_mapping(boto, runtime.bind(sample_app.app, function), url, arn, received)
        assert failed == []
        seen = [s[1] for s in sample_app.SEEN if s[0] == function]
        payloads = sorted(s["data"] for s in seen)
        assert payloads == sorted([json.dumps({"id": f"o-{i}"}, separators=(",", ":")).encode()
                                   for i in range(1, 14)] + [b"\x00\xff\x10raw"])
        created = next(s for s in seen if s["data"] == b'{"id":"o-1"}')
        assert created["attributes"] == {"kind": "created", "shop": "acme"}
        assert {s["id"] for s in seen} == {m["MessageId"] for m in received}  # ids are SQS message ids
        assert receive_all(boto, url, 1, timeout=1) == []


def test_one_failing_message_of_a_batch_comes_back_alone(boto, sample_app, monkeypatch):
    url, arn = boto.queue("work", VisibilityTimeout="1")
    monkeypatch.setenv("PORTAFUNC_QUEUE_WORK", "sqs://" + url.split("://", 1)[1])
    ids = portafunc.queue("work").send_batch([{"n": 1}, {"n": 2, "fail": True}, {"n": 3}])
    handler = runtime.bind(sample_app.app, "work")

    failed = event_source_mapping(boto, handler, url, arn, receive_all(boto, url, 3))
    assert failed == [ids[1]]
    again = receive_all(boto, url, 1, timeout=5)
    assert [m["MessageId"] for m in again] == [ids[1]]
    assert again[0]["Attributes"]["ApproximateReceiveCount"] == "2"
    event_source_mapping(boto, handler, url, arn, again)
    assert [s[1]["attempt"] for s in sample_app.SEEN if s[1]["id"] == ids[1]] == [1, 2]


def test_max_attempts_moves_the_message_to_the_dead_letter_queue(boto, sample_app, monkeypatch):
    max_attempts = sample_app.app.function("work").trigger.max_attempts  # 3: what the packager writes
    dlq_url, dlq_arn = boto.queue("work-dlq")
    url, arn = boto.queue("work", VisibilityTimeout="1", RedrivePolicy=json.dumps(
        {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(max_attempts)}))
    monkeypatch.setenv("PORTAFUNC_QUEUE_WORK", f"sqs://{arn}")
    poison = portafunc.queue("work").send({"fail": True, "id": "poison"}, attributes={"why": "test"})
    handler = runtime.bind(sample_app.app, "work")
    for _ in range(max_attempts):
        batch = receive_all(boto, url, 1, timeout=5)
        assert [m["MessageId"] for m in batch] == [poison]
        assert event_source_mapping(boto, handler, url, arn, batch) == [poison]
    assert receive_all(boto, url, 1, timeout=2.5) == []  # moved on the receive after maxReceiveCount
    dead = receive_all(boto, dlq_url, 1)
    assert len(dead) == 1 and json.loads(dead[0]["Body"]) == {"fail": True, "id": "poison"}
    assert dead[0]["MessageAttributes"]["why"]["StringValue"] == "test"
    assert [s[1]["attempt"] for s in sample_app.SEEN] == [1, 2, 3]


def test_s3_put_notification_through_sqs_reaches_handler_with_decoded_key(boto, sample_app):
    url, arn = boto.queue("uploads-events")
    boto.s3.create_bucket(Bucket="uploads-bucket")
    boto.s3.put_bucket_notification_configuration(Bucket="uploads-bucket", NotificationConfiguration={
        "QueueConfigurations": [{"QueueArn": arn, "Events": ["s3:ObjectCreated:*"]}]})
    key = "photos/summer holiday+2024/café ü.txt"
    boto.s3.put_object(Bucket="uploads-bucket", Key=key, Body=b"hello")
    received = list(receive_all(boto, url, 2, timeout=4))
    notes = [m for m in received if "ObjectCreated" in m["Body"]]
    assert len(notes) == 1, [m["Body"][:200] for m in received]
    raw_key = json.loads(notes[0]["Body"])["Records"][0]["s3"]["object"]["key"]
    assert raw_key != key and "+" in raw_key  # S3 sent it URL-encoded
    failed = event_source_mapping(boto, runtime.bind(sample_app.app, "on_upload"), url, arn, received)
    assert failed == []
    assert [s[1] for s in sample_app.SEEN] == [("uploads-bucket", key, "created", 5)]


def test_http_handler_publishes_and_sends_through_bindings(boto, sample_app, monkeypatch):
    topic_arn = boto.sns.create_topic(Name="events")["TopicArn"]
    sub_url, sub_arn = boto.queue("events-sub")
    boto.sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=sub_arn,
                       Attributes={"RawMessageDelivery": "true"})
    work_url, _ = boto.queue("work")
    monkeypatch.setenv("PORTAFUNC_TOPIC_EVENTS", f"sns://{topic_arn}")
    monkeypatch.setenv("PORTAFUNC_QUEUE_WORK", "sqs://" + work_url.split("://", 1)[1])
    native = http.encode_request(HttpRequest("POST", "/orders", headers={"content-type": "application/json"},
                                             body=b'{"id": "o-9", "total": 3.5}'))
    answer = runtime.bind(sample_app.app, "create_order")(native, LambdaContext())
    assert answer["statusCode"] == 201
    work = receive_all(boto, work_url, 1)
    assert json.loads(work[0]["Body"]) == {"id": "o-9", "total": 3.5}
    assert work[0]["MessageAttributes"]["source"]["StringValue"] == "http"
    raw = receive_all(boto, sub_url, 1)
    assert json.loads(raw[0]["Body"]) == {"id": "o-9"}
    assert raw[0]["MessageAttributes"]["kind"]["StringValue"] == "created"
