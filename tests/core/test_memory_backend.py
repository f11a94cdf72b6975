"""memory:// — at-least-once delivery, redelivery after nack or visibility timeout, max attempts, dead letter."""

from __future__ import annotations

import threading
import time

import pytest

import portafunc
from portafunc import BindingError, MessagingError
from portafunc.messaging import OutgoingMessage, reset
from portafunc.messaging.memory import broker


@pytest.fixture(autouse=True)
def fresh(monkeypatch):
    broker().reset()
    reset()
    monkeypatch.setenv("PORTAFUNC_QUEUE_WORK", "memory://work?max_attempts=3&visibility_timeout=0.2")
    monkeypatch.setenv("PORTAFUNC_TOPIC_EVENTS", "memory://events")
    yield
    broker().reset()
    reset()


def test_send_receive_ack():
    q = portafunc.queue("work")
    mid = q.send({"n": 1}, attributes={"a": "b"})
    [msg] = q.receive(10)
    assert msg.id == mid and msg.json() == {"n": 1} and msg.attributes == {"a": "b"}
    assert msg.delivery_attempt == 1
    q.ack(msg)
    assert q.receive(10, wait=0.05) == [] and len(q) == 0


def test_unacked_message_is_redelivered_after_visibility_timeout():
    q = portafunc.queue("work")
    q.send("x")
    [first] = q.receive()
    assert q.receive(wait=0) == []  # invisible while in flight
    [again] = q.receive(wait=1.0)
    assert again.id == first.id and again.delivery_attempt == 2
    with pytest.raises(MessagingError, match="stale"):
        q.ack(first)
    q.ack(again)


def test_nack_with_delay_redelivers_later():
    q = portafunc.queue("work")
    q.send("x")
    [msg] = q.receive()
    q.nack(msg, delay=0.1)
    assert q.receive(wait=0) == []
    started = time.monotonic()
    [again] = q.receive(wait=2)
    assert time.monotonic() - started >= 0.05 and again.delivery_attempt == 2


def test_max_attempts_moves_to_dead_letter_and_counts_add_up():
    q = portafunc.queue("work")
    ids = q.send_batch(["ok", "poison", OutgoingMessage("ok2", attributes={"k": "v"})])
    delivered = 0
    for _ in range(10):
        for msg in q.receive(10, wait=0.5):
            delivered += 1
            if msg.data == b"poison":
                q.nack(msg)
            else:
                q.ack(msg)
        if len(q) == 0:
            break
    dlq = broker().queue("work-dead-letter")
    [dead] = dlq.receive()
    assert dead.data == b"poison" and dead.attributes["portafunc_original_id"] == ids[1]
    stats = q.stats
    assert stats.sent == 3 and stats.acked == 2 and stats.dead_lettered == 1
    assert delivered == 2 + 3  # two good messages once, the poison one max_attempts times


def test_topic_fans_out_to_every_subscription():
    broker().subscribe("events", "events.audit")
    broker().subscribe("events", "events.mail")
    mid = portafunc.topic("events").publish({"id": "o-1"}, attributes={"kind": "created"})
    for name in ("events.audit", "events.mail"):
        [msg] = broker().queue(name).receive()
        assert msg.id == mid and msg.attributes == {"kind": "created"}


def test_ordering_key_holds_back_later_messages_of_the_group():
    q = portafunc.queue("work")
    q.send("a1", ordering_key="a")
    q.send("a2", ordering_key="a")
    q.send("b1", ordering_key="b")
    got = q.receive(1)
    assert [m.data for m in got] == [b"a1"]
    assert [m.data for m in q.receive(10)] == [b"b1"]  # a2 waits for a1
    q.ack(got[0])
    assert [m.data for m in q.receive(10)] == [b"a2"]


def test_dedup_id_suppresses_duplicates():
    q = portafunc.queue("work")
    first = q.send("x", dedup_id="d1")
    assert q.send("x", dedup_id="d1") == first and len(q) == 1


def test_long_poll_wakes_on_send():
    q = portafunc.queue("work")
    threading.Timer(0.1, lambda: q.send("late")).start()
    [msg] = q.receive(wait=3)
    assert msg.data == b"late"


def test_missing_binding_names_the_variable_on_first_use(monkeypatch):
    unbound = portafunc.queue("not-bound")  # at module level: importing an app never needs its bindings
    with pytest.raises(BindingError, match="PORTAFUNC_QUEUE_NOT_BOUND"):
        unbound.send("x")
    monkeypatch.setenv("PORTAFUNC_TOPIC_X", "carrier-pigeon://coop")
    with pytest.raises(BindingError, match="unknown scheme carrier-pigeon"):
        portafunc.topic("x").publish("x")
    monkeypatch.setenv("PORTAFUNC_TOPIC_Y", "no-scheme")
    with pytest.raises(BindingError, match="not a URL"):
        portafunc.topic("y").publish("x")
    monkeypatch.setenv("PORTAFUNC_QUEUE_Z", "memory://z?colour=red")
    with pytest.raises(BindingError, match="unknown option"):
        portafunc.queue("z").receive()
    monkeypatch.setenv("PORTAFUNC_QUEUE_NOT_BOUND", "memory://not-bound")  # bound later, as portafunc run does
    unbound.send("x")
    assert [m.data for m in unbound.receive()] == [b"x"]  # a str is sent as its UTF-8 text
