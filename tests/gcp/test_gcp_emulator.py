"""End to end against the real Pub/Sub emulator and the real functions-framework CLI.

portafunc Topic (pubsub://) → emulator → push subscription → generated main.py served by `functions-framework` on
127.0.0.1 → the handler (which records what it saw to a file). Also: retryable failure → redelivery; failures up to
max_attempts → the dead-letter topic (the emulator enforces the subscription's dead-letter policy, as configured by
the packager); non-retryable with a portafunc dead-letter destination → forwarded and acked at once; the pull Queue
(receive / ack / nack / modify ack deadline); clear MessagingErrors.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from pathlib import Path

import pytest

from portafunc.errors import MessagingError
from portafunc.messaging import queue, reset, topic

from .apps import recorder_app
from .conftest import APPS

PROJECT = "portafunc-e2e"


@pytest.fixture(scope="module")
def env(pubsub_emulator: str, tmp_path_factory: pytest.TempPathFactory, serve):
    """Generated main.py for the recorder app, one functions-framework server per event target, admin clients."""
    import os

    from google.cloud import pubsub_v1

    from portafunc_gcp.deploy.main_py import render_main

    os.environ["PUBSUB_EMULATOR_HOST"] = pubsub_emulator
    src = tmp_path_factory.mktemp("gcp-src")
    (src / "main.py").write_text(render_main(recorder_app.app, "recorder_app:app", root=str(APPS)))
    record = src / "record.jsonl"
    dead_topic = f"projects/{PROJECT}/topics/work-dead-direct"
    server_env = {"PUBSUB_EMULATOR_HOST": pubsub_emulator, "GCP_TEST_RECORD": str(record),
                  "PORTAFUNC_LOG_LEVEL": "WARNING"}
    servers = {
        "on_event": serve(src, "on_event", "cloudevent", server_env),
        "work": serve(src, "work", "cloudevent", server_env),
        "work_dl": serve(src, "work", "cloudevent", server_env | {
            "PORTAFUNC_DEADLETTER_WORK": f"pubsub://{dead_topic}"}),
    }
    publisher = pubsub_v1.PublisherClient()
    subscriber = pubsub_v1.SubscriberClient()
    publisher.create_topic(name=dead_topic)
    subscriber.create_subscription(request={"name": f"projects/{PROJECT}/subscriptions/work-dead-direct-sub",
                                            "topic": dead_topic})
    yield {"record": record, "servers": servers, "publisher": publisher, "subscriber": subscriber}


def _records(record: Path, **match: object) -> list[dict]:
    if not record.exists():
        return []
    rows = [json.loads(line) for line in record.read_text().splitlines()]
    return [r for r in rows if all(r.get(k) == v for k, v in match.items())]


def _wait(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def _push_topic(env, server_key: str, *, max_attempts: int = 5, dead_letter: bool = True, ordering: bool = False):
    """A topic with a push subscription to a server, with the dead-letter/retry policy the packager writes."""
    from google.protobuf import duration_pb2

    name = f"t-{uuid.uuid4().hex[:10]}"
    pub, sub = env["publisher"], env["subscriber"]
    topic_path = pub.create_topic(name=f"projects/{PROJECT}/topics/{name}").name
    request = {"name": f"projects/{PROJECT}/subscriptions/{name}-push", "topic": topic_path,
               "push_config": {"push_endpoint": env["servers"][server_key].url},
               "ack_deadline_seconds": 10, "enable_message_ordering": ordering,
               "retry_policy": {"minimum_backoff": duration_pb2.Duration(seconds=0),
                                "maximum_backoff": duration_pb2.Duration(seconds=1)}}
    dead_sub = None
    if dead_letter:
        dl = pub.create_topic(name=f"projects/{PROJECT}/topics/{name}-dead").name
        dead_sub = sub.create_subscription(request={"name": f"projects/{PROJECT}/subscriptions/{name}-dead-sub",
                                                    "topic": dl}).name
        request["dead_letter_policy"] = {"dead_letter_topic": dl, "max_delivery_attempts": max_attempts}
    sub.create_subscription(request=request)
    return topic_path, dead_sub


def _bind_topic(monkeypatch, logical: str, path: str) -> None:
    monkeypatch.setenv(f"PORTAFUNC_TOPIC_{logical.upper()}", f"pubsub://{path}")
    reset()


def _pull(env, subscription: str, timeout: float) -> list:
    def got():
        resp = env["subscriber"].pull(request={"subscription": subscription, "max_messages": 10}, timeout=5)
        return list(resp.received_messages)

    return _wait(got, timeout, f"a message on {subscription}")


def test_publish_reaches_the_function_with_original_data_and_attributes(env, monkeypatch):
    topic_path, _ = _push_topic(env, "on_event", ordering=True)
    _bind_topic(monkeypatch, "events", topic_path)
    data = b"\x00\x01binary\xff" + "ünïcode".encode()
    msg_id = topic("events").publish(data, attributes={"kind": "created", "ü": "✓"}, ordering_key="order-7")
    assert msg_id
    (seen,) = _wait(lambda: _records(env["record"], fn="on_event", id=msg_id), 60, "the push delivery")
    assert base64.b64decode(seen["data_b64"]) == data
    assert seen["attributes"] == {"kind": "created", "ü": "✓"}
    # the emulator's push omits orderingKey (the real service sends it; the codec tests cover that field and the
    # pull test below checks the key survives the emulator)
    assert seen["ordering_key"] in (None, "order-7")
    assert seen["published_at"] is not None


def test_publish_batch_and_json_payloads(env, monkeypatch):
    topic_path, _ = _push_topic(env, "on_event")
    _bind_topic(monkeypatch, "events", topic_path)
    ids = topic("events").publish_batch([{"n": i} for i in range(5)])
    assert len(set(ids)) == 5
    for i, mid in enumerate(ids):
        (seen,) = _wait(lambda mid=mid: _records(env["record"], fn="on_event", id=mid), 60, f"message {i}")
        assert json.loads(base64.b64decode(seen["data_b64"])) == {"n": i}


def test_handler_failure_is_redelivered(env, monkeypatch):
    topic_path, dead_sub = _push_topic(env, "on_event")
    _bind_topic(monkeypatch, "events", topic_path)
    msg_id = topic("events").publish(b"retry me", attributes={"fail": "once"})
    rows = _wait(lambda: (r := _records(env["record"], fn="on_event", id=msg_id)) and len(r) >= 2 and r, 60,
                 "the redelivery")
    assert [base64.b64decode(r["data_b64"]) for r in rows[:2]] == [b"retry me", b"retry me"]
    time.sleep(1.5)
    assert len(_records(env["record"], fn="on_event", id=msg_id)) == 2, "acked after the successful redelivery"
    resp = env["subscriber"].pull(request={"subscription": dead_sub, "max_messages": 10}, timeout=5)
    assert not resp.received_messages


def test_after_max_attempts_the_message_goes_to_the_dead_letter_topic(env, monkeypatch):
    topic_path, dead_sub = _push_topic(env, "on_event", max_attempts=5)
    _bind_topic(monkeypatch, "events", topic_path)
    msg_id = topic("events").publish(b"poison", attributes={"fail": "always"})
    (dead,) = _pull(env, dead_sub, 45)
    assert dead.message.data == b"poison" and dead.message.attributes["fail"] == "always"
    assert dead.message.attributes["CloudPubSubDeadLetterSourceDeliveryCount"] == "5"
    assert len(_records(env["record"], fn="on_event", id=msg_id)) == 5


def test_non_retryable_without_destination_ends_in_the_pubsub_dead_letter_topic(env, monkeypatch):
    topic_path, dead_sub = _push_topic(env, "work", max_attempts=5)
    _bind_topic(monkeypatch, "work_in", topic_path)
    msg_id = topic("work_in").publish(b"never", attributes={"bad": "yes"})
    (dead,) = _pull(env, dead_sub, 45)
    assert dead.message.data == b"never"
    assert len(_records(env["record"], fn="work", id=msg_id)) == 5


def test_non_retryable_with_destination_is_forwarded_and_acked_at_once(env, monkeypatch):
    topic_path, dead_sub = _push_topic(env, "work_dl", max_attempts=5)
    _bind_topic(monkeypatch, "work_in", topic_path)
    msg_id = topic("work_in").publish(b"bad payload", attributes={"bad": "yes", "k": "v"})
    (dead,) = _pull(env, f"projects/{PROJECT}/subscriptions/work-dead-direct-sub", 20)
    env["subscriber"].acknowledge(request={"subscription": f"projects/{PROJECT}/subscriptions/work-dead-direct-sub",
                                           "ack_ids": [dead.ack_id]})
    attrs = dict(dead.message.attributes)
    assert dead.message.data == b"bad payload" and attrs["k"] == "v"
    assert attrs["portafunc_original_id"] == msg_id and attrs["portafunc_function"] == "work"
    assert "NonRetryableError" in attrs["portafunc_error"]
    time.sleep(2)
    assert len(_records(env["record"], fn="work", id=msg_id)) == 1, "acked, not redelivered"
    resp = env["subscriber"].pull(request={"subscription": dead_sub, "max_messages": 10}, timeout=5)
    assert not resp.received_messages


def test_pull_queue_receive_ack_nack_round_trip(env, monkeypatch):
    pub, sub = env["publisher"], env["subscriber"]
    name = f"q-{uuid.uuid4().hex[:8]}"
    topic_path = pub.create_topic(name=f"projects/{PROJECT}/topics/{name}").name
    dl = pub.create_topic(name=f"projects/{PROJECT}/topics/{name}-dl").name
    sub_path = sub.create_subscription(request={
        "name": f"projects/{PROJECT}/subscriptions/{name}", "topic": topic_path, "ack_deadline_seconds": 30,
        "dead_letter_policy": {"dead_letter_topic": dl, "max_delivery_attempts": 5}}).name
    monkeypatch.setenv("PORTAFUNC_QUEUE_JOBS", f"pubsub://{sub_path}")
    reset()
    q = queue("jobs")
    first = q.send({"job": 1}, attributes={"a": "1"}, ordering_key="k-1")  # topic found from the subscription
    second = q.send(b"\x00two")
    got = q.receive(10, wait=10)
    while len(got) < 2:
        got += q.receive(10, wait=5)
    by_id = {m.id: m for m in got}
    assert set(by_id) == {first, second}
    assert by_id[first].json() == {"job": 1} and by_id[first].attributes == {"a": "1"}
    assert by_id[first].ordering_key == "k-1" and by_id[second].ordering_key is None
    assert by_id[second].data == b"\x00two" and by_id[first].delivery_attempt == 1
    q.ack(by_id[first])
    q.modify_ack_deadline(by_id[second], 60)
    q.nack(by_id[second])  # visible again at once
    again = q.receive(10, wait=10)
    assert [m.id for m in again] == [second] and again[0].delivery_attempt == 2
    q.ack(again[0])
    assert q.receive(10, wait=1.5) == []


def test_errors_are_messaging_errors(env, monkeypatch):
    monkeypatch.setenv("PORTAFUNC_TOPIC_MISSING", f"pubsub://projects/{PROJECT}/topics/does-not-exist")
    monkeypatch.setenv("PORTAFUNC_QUEUE_MISSING", f"pubsub://projects/{PROJECT}/subscriptions/does-not-exist")
    reset()
    with pytest.raises(MessagingError, match="does not exist"):
        topic("missing").publish(b"x")
    with pytest.raises(MessagingError, match="does not exist"):
        queue("missing").receive(1)
    with pytest.raises(MessagingError, match="does not exist"):
        queue("missing").send(b"x")
