"""Faults on AWS, nothing lost — against moto in server mode (started here on a free 127.0.0.1 port).

The test plays the Lambda SQS event source mapping exactly as AWS documents it: receive up to 10 messages, invoke the
real ``portafunc_aws.runtime`` handler with the Lambda event built from them, delete the ones not named in
``batchItemFailures`` (all of them kept when the invocation itself crashes), let the rest reappear after the
visibility timeout, and let the queue's redrive policy (``maxReceiveCount`` = the function's ``max_attempts``) move a
message that keeps failing to the dead-letter queue. The broker outage goes through a TCP proxy in front of moto that
the test switches off mid-publish, so the broker's state survives and can be counted afterwards.
"""

from __future__ import annotations

import json
import os
import time
import urllib.request
from typing import Any, Iterator

import pytest
from standins import CutOffProxy, moto_server

from portafunc import App
from portafunc.errors import MessagingError, PartialSendError
from portafunc.events import Message

FIGURES: dict[str, dict[str, int]] = {}


@pytest.fixture(scope="module")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with moto_server(tmp_path_factory.mktemp("moto")) as endpoint:
        yield endpoint


@pytest.fixture
def aws_env(moto: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    from portafunc.messaging import reset as reset_bindings
    from portafunc_aws.backends import clients

    urllib.request.urlopen(urllib.request.Request(f"{moto}/moto-api/reset", method="POST"), timeout=10).read()
    for key in list(os.environ):
        if key.startswith(("AWS_", "PORTAFUNC_TOPIC_", "PORTAFUNC_QUEUE_", "PORTAFUNC_DEADLETTER_")):
            monkeypatch.delenv(key)
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL": moto,
                       "AWS_CONFIG_FILE": "/nonexistent/portafunc-aws-config",
                       "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/portafunc-aws-credentials"}.items():
        monkeypatch.setenv(key, value)
    clients.reset()
    reset_bindings()
    yield moto
    clients.reset()
    reset_bindings()


def _sqs() -> Any:
    import boto3

    return boto3.client("sqs", region_name="us-east-1")


def _queue_with_dlq(sqs: Any, name: str, max_attempts: int) -> tuple[str, str, str]:
    dlq = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    url = sqs.create_queue(QueueName=name, Attributes={
        "VisibilityTimeout": "1",
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(max_attempts)})})["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn, dlq


def _drain_count(sqs: Any, url: str) -> int:
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages",
                                                                   "ApproximateNumberOfMessagesNotVisible"])
    return sum(int(v) for v in attrs["Attributes"].values())


class Crash(BaseException):
    """The Lambda process dying mid-batch (not an ordinary exception: the pipeline does not catch it)."""


def test_crash_mid_batch_and_poison_nothing_lost(aws_env: str) -> None:
    from portafunc_aws.runtime import bind
    from portafunc_aws.lambda_context import LambdaContext
    from portafunc_aws.codecs.queue import lambda_event_from_receive

    max_attempts = 3
    sqs = _sqs()
    url, arn, dlq = _queue_with_dlq(sqs, "work", max_attempts)
    os.environ["PORTAFUNC_QUEUE_WORK"] = f"sqs://{url.split('://', 1)[1]}"

    from portafunc import queue

    n = 30
    poison = {5, 17}
    sent_ids = queue("work").send_batch([{"n": i, "poison": i in poison} for i in range(n)])
    assert len(sent_ids) == n

    app = App("faults-aws")
    done: dict[int, int] = {}
    attempts: dict[int, int] = {}
    crashed, failed_once = [0], set[int]()

    @app.queue("work", max_attempts=max_attempts)
    def work(msg: Message) -> None:
        body = msg.json()
        i = body["n"]
        attempts[i] = attempts.get(i, 0) + 1
        if body["poison"]:
            raise ValueError(f"poison message {i}")  # retryable: only the redrive policy ends it
        if i % 7 == 3 and i not in failed_once:
            failed_once.add(i)
            raise ConnectionError(f"transient failure on {i}")
        if i == 11 and crashed[0] == 0:
            crashed[0] += 1
            raise Crash("the process died in the middle of the batch")
        done[i] = done.get(i, 0) + 1

    handler = bind(app, "work")
    invocations = 0
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1,
                                       MessageAttributeNames=["All"], MessageSystemAttributeNames=["All"]
                                       ).get("Messages", [])
        if not received:
            if _drain_count(sqs, url) == 0:
                break
            continue
        invocations += 1
        event = lambda_event_from_receive(received, arn)
        try:
            answer = handler(event, LambdaContext(function_name="work"))
        except Crash:
            continue  # the whole batch stays on the queue and comes back after the visibility timeout
        failed = {f["itemIdentifier"] for f in answer["batchItemFailures"]}
        entries = [{"Id": str(k), "ReceiptHandle": m["ReceiptHandle"]} for k, m in enumerate(received)
                   if m["MessageId"] not in failed]
        if entries:
            sqs.delete_message_batch(QueueUrl=url, Entries=entries)
    dead = []
    while True:
        got = sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10).get("Messages", [])
        if not got:
            break
        dead += [json.loads(m["Body"])["n"] for m in got]
        sqs.delete_message_batch(QueueUrl=dlq, Entries=[{"Id": str(k), "ReceiptHandle": m["ReceiptHandle"]}
                                                        for k, m in enumerate(got)])
    delivered = set(done)
    lost = set(range(n)) - delivered - set(dead)
    FIGURES["aws crash+poison"] = {"sent": n, "delivered": len(delivered), "dead_lettered": len(dead),
                                   "lost": len(lost), "duplicates_run": sum(done.values()) - len(done),
                                   "faults": crashed[0] + len(failed_once)
                                   + sum(attempts[i] for i in poison)}
    assert crashed[0] == 1 and failed_once
    assert sorted(dead) == sorted(poison), dead
    # SQS counts receives: a receive in the crashed batch counts even if the handler never reached the message
    assert all(max_attempts - crashed[0] <= attempts[i] <= max_attempts for i in poison), attempts
    assert delivered == set(range(n)) - poison
    assert not lost and len(delivered) + len(dead) == n
    assert _drain_count(sqs, url) == 0
    print("aws faults:", FIGURES["aws crash+poison"])


def test_broker_down_during_publish_retries_then_fails_and_reports_only_sent(aws_env: str,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    from portafunc import queue
    from portafunc.messaging import reset as reset_bindings
    from portafunc_aws.backends import clients

    timeout = 1.5
    sqs = _sqs()
    url = sqs.create_queue(QueueName="outage")["QueueUrl"]
    proxy = CutOffProxy(int(aws_env.rsplit(":", 1)[1]), cut_on=b"CUT-HERE")
    try:
        proxied = f"http://127.0.0.1:{proxy.port}"
        monkeypatch.setenv("AWS_ENDPOINT_URL", proxied)
        monkeypatch.delenv("PORTAFUNC_AWS_MAX_ATTEMPTS", raising=False)  # the deadline alone stops the retries
        monkeypatch.setenv("PORTAFUNC_QUEUE_OUTAGE", f"sqs://127.0.0.1:{proxy.port}/123456789012/outage"
                                                     f"?region=us-east-1&timeout={timeout:g}")
        clients.reset()
        reset_bindings()
        q = queue("outage")
        reported: list[str] = []
        for i in range(5):
            reported.append(q.send({"i": i}))
        # a batch of 25 (three SendMessageBatch calls): the proxy dies when the second call carries the marker
        failures = 0
        try:
            q.send_batch([{"i": i, **({"mark": "CUT-HERE"} if i == 112 else {})} for i in range(100, 125)])
            raise AssertionError("send_batch succeeded with the broker down")
        except PartialSendError as exc:
            failures += 1
            batch_error = exc
            reported += [msg_id for msg_id in exc.accepted if msg_id]
        assert not proxy.up, "the proxy never saw the marked message"
        started = time.monotonic()
        single_elapsed = []
        for i in range(5, 8):
            began = time.monotonic()
            try:
                reported.append(q.send({"i": i}))
            except MessagingError as exc:
                failures += 1
                single_elapsed.append(time.monotonic() - began)
                assert "unreachable" in str(exc) and "?timeout=" in str(exc), exc
        elapsed = time.monotonic() - started
    finally:
        proxy.close()
    # the broker (still running behind the proxy) holds exactly what was reported sent
    in_queue = set()
    while True:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not got:
            break
        in_queue |= {m["MessageId"] for m in got}
        sqs.delete_message_batch(QueueUrl=url, Entries=[{"Id": str(k), "ReceiptHandle": m["ReceiptHandle"]}
                                                        for k, m in enumerate(got)])
    FIGURES["aws outage"] = {"sent": len(reported), "reported_failed": failures, "in_broker": len(in_queue),
                             "reported_but_missing": len(set(reported) - in_queue),
                             "in_broker_not_reported": len(in_queue - set(reported)),
                             "connections_refused_while_down": proxy.refused}
    assert failures == 4
    assert batch_error.accepted[:10] == [m for m in batch_error.accepted[:10] if m] and \
        batch_error.missing == list(range(10, 25)), batch_error.accepted  # first call went, the rest did not
    assert len(reported) == 15
    assert set(reported) == in_queue  # nothing reported as sent that was not, nothing extra either
    # each failing call retried with backoff until its deadline, and not much longer
    assert all(0.8 * timeout <= s <= timeout + 2 for s in single_elapsed), single_elapsed
    assert elapsed < 3 * (timeout + 2)
    print("aws outage:", FIGURES["aws outage"], "calls failed after", [round(x, 2) for x in single_elapsed], "s")
