"""Faults on Google Cloud, nothing lost. Runs against the real Pub/Sub emulator and a real functions-framework server,
both started here on free 127.0.0.1 ports.

Delivery is the path a deployed queue function takes. Messages are published with portafunc's own ``pubsub://``
Topic. The emulator pushes each one to ``functions-framework``, which serves the generated ``main.py``
(``portafunc_gcp.runtime``) under gunicorn, as in Cloud Run. The push subscription is built with the settings
``portafunc package --target gcp`` writes into ``deploy.sh``: ack deadline, dead-letter topic, and
``--max-delivery-attempts`` = the function's ``max_attempts``. The tests read those values out of the generated
script. Only the retry delays are shortened (0–1 s instead of 10–600 s) to keep the run fast. The runtime answers
500 for a failed message, so the emulator redelivers it and, after ``max_attempts``, moves it to the dead-letter
topic. The crash is real: the handler ends its worker process (``os._exit``) while other deliveries are still in
flight in the same process. Gunicorn starts a fresh worker, and every delivery the dead process held comes back.

The broker outage goes through a TCP proxy in front of the emulator. The proxy is switched off when the client sends
a chosen message, so the emulator keeps its state and what really arrived can be counted on a pull subscription.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import time
import uuid
from pathlib import Path
from typing import Any, Iterator

import pytest
import standins

from portafunc.errors import MessagingError

PROJECT = "portafunc-faults"
FIGURES: dict[str, dict[str, int]] = {}

APP_SOURCE = '''\
"""The fault-test app served by functions-framework; every attempt is one JSON line in $FAULTS_RECORD."""
import json
import os
import threading
import time

from portafunc import App, Message

app = App("faults-gcp")
CRASH_ON = 11
_in_flight = set()
_lock = threading.Lock()


def record(**fields):
    with open(os.environ["FAULTS_RECORD"], "a", encoding="utf-8") as fh:
        fh.write(json.dumps(dict(fields, pid=os.getpid())) + "\\n")


def first_time(what):
    """True once per test run, across worker processes (an O_EXCL marker file)."""
    try:
        os.close(os.open(os.environ["FAULTS_RECORD"] + "." + what, os.O_CREAT | os.O_EXCL))
        return True
    except FileExistsError:
        return False


@app.queue("work", max_attempts=5)
def work(msg: Message) -> None:
    body = msg.json()
    n = body["n"]
    record(ev="start", n=n)
    with _lock:
        _in_flight.add(n)
    try:
        time.sleep(0.2)  # the work itself; keeps several deliveries in flight at once
        if body["poison"]:
            record(ev="fail", n=n)
            raise ValueError(f"poison message {n}")  # retryable: only the dead-letter policy ends it
        if n % 7 == 3 and first_time(f"transient-{n}"):
            record(ev="fail", n=n)
            raise ConnectionError(f"transient failure on {n}")
        if n == CRASH_ON and first_time("crash"):
            until = time.monotonic() + 3
            while time.monotonic() < until:  # die while another delivery is being handled in this process
                with _lock:
                    if _in_flight - {n}:
                        break
                time.sleep(0.01)
            record(ev="crash", n=n, others=sorted(_in_flight - {n}))
            os._exit(70)  # the instance dies: no answer for any delivery it holds
        record(ev="done", n=n)
    finally:
        with _lock:
            _in_flight.discard(n)
'''


# -- helpers ----------------------------------------------------------------------------------------------------------

def _pull_all(subscriber: Any, subscription: str, *, quiet: float = 2.0) -> list[Any]:
    """Pull and ack until the subscription has been empty for ``quiet`` seconds; the pulled messages."""
    got: list[Any] = []
    empty_since = time.monotonic()
    while time.monotonic() - empty_since < quiet:
        try:
            resp = subscriber.pull(request={"subscription": subscription, "max_messages": 100}, timeout=5)
        except Exception as exc:  # noqa: BLE001 - the emulator may end an empty pull with DeadlineExceeded
            if type(exc).__name__ != "DeadlineExceeded":
                raise
            continue
        if resp.received_messages:
            got += [r.message for r in resp.received_messages]
            subscriber.acknowledge(request={"subscription": subscription,
                                            "ack_ids": [r.ack_id for r in resp.received_messages]})
            empty_since = time.monotonic()
        else:
            time.sleep(0.2)
    return got


def _records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


# -- fixtures ---------------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with standins.pubsub_emulator(tmp_path_factory.mktemp("pubsub")) as host:
        yield host


@pytest.fixture(scope="module")
def admin(emulator: str) -> Iterator[tuple[Any, Any]]:
    """Publisher and subscriber admin clients talking to the emulator directly (never through a proxy)."""
    saved = os.environ.get("PUBSUB_EMULATOR_HOST")
    os.environ["PUBSUB_EMULATOR_HOST"] = emulator
    try:
        from google.cloud import pubsub_v1

        yield pubsub_v1.PublisherClient(), pubsub_v1.SubscriberClient()
    finally:
        if saved is None:
            os.environ.pop("PUBSUB_EMULATOR_HOST", None)
        else:
            os.environ["PUBSUB_EMULATOR_HOST"] = saved


@pytest.fixture
def gcp_env(emulator: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    from portafunc.messaging import reset as reset_bindings

    for key in list(os.environ):
        if key.startswith(("PORTAFUNC_TOPIC_", "PORTAFUNC_QUEUE_", "PORTAFUNC_DEADLETTER_")):
            monkeypatch.delenv(key)
    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", emulator)
    reset_bindings()
    yield emulator
    reset_bindings()


def _load_app(src: Path) -> Any:
    (src / "faults_gcp_app.py").write_text(APP_SOURCE)
    spec = importlib.util.spec_from_file_location(f"faults_gcp_app_{uuid.uuid4().hex[:6]}", src / "faults_gcp_app.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.app


def _serve(src: Path, target: str, record: Path) -> standins.StandIn:
    """functions-framework (gunicorn, like Cloud Run) serving the generated main.py; stopped by the caller."""
    env = dict(os.environ, FAULTS_RECORD=str(record), PORTAFUNC_LOG_LEVEL="ERROR", THREADS="8")
    env.pop("PUBSUB_EMULATOR_HOST", None)
    return standins.functions_framework(src, target, "cloudevent", env=env)


# -- a crash in the middle of a batch, transient failures and poison messages ------------------------------------------

def test_crash_mid_batch_and_poison_nothing_lost(gcp_env: str, admin: tuple[Any, Any], tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from google.protobuf import duration_pb2

    from portafunc import topic
    from portafunc_gcp.deploy.main_py import render_main
    from portafunc_gcp.package import render_deploy

    app = _load_app(tmp_path)
    (tmp_path / "main.py").write_text(render_main(app, "faults_gcp_app:app", root="."))
    deploy = render_deploy(app, "faults-gcp.zip", "3.11")
    max_attempts = int(re.search(r"--max-delivery-attempts=(\d+)", deploy).group(1))  # type: ignore[union-attr]
    ack_deadline = int(re.search(r"--ack-deadline=(\d+)", deploy).group(1))  # type: ignore[union-attr]
    assert "--dead-letter-topic=" in deploy and max_attempts == app.function("work").trigger.max_attempts == 5

    record = tmp_path / "record.jsonl"
    server = _serve(tmp_path, "work", record)
    try:
        publisher, subscriber = admin
        name = f"work-{uuid.uuid4().hex[:8]}"
        topic_path = publisher.create_topic(name=f"projects/{PROJECT}/topics/{name}").name
        dead_topic = publisher.create_topic(name=f"projects/{PROJECT}/topics/{name}-dead").name
        dead_sub = subscriber.create_subscription(request={
            "name": f"projects/{PROJECT}/subscriptions/{name}-dead-count", "topic": dead_topic}).name
        subscriber.create_subscription(request={
            "name": f"projects/{PROJECT}/subscriptions/{name}-work", "topic": topic_path,
            "push_config": {"push_endpoint": f"http://127.0.0.1:{server.port}/"},
            "ack_deadline_seconds": ack_deadline,
            "dead_letter_policy": {"dead_letter_topic": dead_topic, "max_delivery_attempts": max_attempts},
            "retry_policy": {"minimum_backoff": duration_pb2.Duration(seconds=0),
                             "maximum_backoff": duration_pb2.Duration(seconds=1)}})
        monkeypatch.setenv("PORTAFUNC_TOPIC_WORK", f"pubsub://{topic_path}")

        n = 30
        poison = {5, 17}
        sent_ids = topic("work").publish_batch([{"n": i, "poison": i in poison} for i in range(n)])
        assert len(set(sent_ids)) == n

        dead: list[Any] = []
        deadline = time.monotonic() + 120  # generous: CI machines can be loaded
        while time.monotonic() < deadline:
            rows = _records(record)
            done = {r["n"] for r in rows if r["ev"] == "done"}
            if done >= set(range(n)) - poison and len(dead) >= len(poison):
                break
            resp = subscriber.pull(request={"subscription": dead_sub, "max_messages": 10}, timeout=5)
            if resp.received_messages:
                dead += [r.message for r in resp.received_messages]
                subscriber.acknowledge(request={"subscription": dead_sub,
                                                "ack_ids": [r.ack_id for r in resp.received_messages]})
            time.sleep(0.2)
        dead += _pull_all(subscriber, dead_sub, quiet=2.0)  # also lets late redeliveries show up in the record
    finally:
        server.stop()

    rows = _records(record)
    (crash,) = [r for r in rows if r["ev"] == "crash"]
    dead_pid = crash["pid"]
    open_in_dead: dict[int, int] = {}
    for r in rows:
        if r["pid"] == dead_pid and r["ev"] in ("start", "done", "fail"):
            open_in_dead[r["n"]] = open_in_dead.get(r["n"], 0) + (1 if r["ev"] == "start" else -1)
    killed = {i for i, still_open in open_in_dead.items() if still_open > 0}
    done_runs: dict[int, int] = {}
    starts: dict[int, int] = {}
    for r in rows:
        if r["ev"] == "done":
            done_runs[r["n"]] = done_runs.get(r["n"], 0) + 1
        if r["ev"] == "start":
            starts[r["n"]] = starts.get(r["n"], 0) + 1
    transient = {r["n"] for r in rows if r["ev"] == "fail" and r["n"] not in poison}
    dead_n = [json.loads(m.data)["n"] for m in dead]
    delivered = set(done_runs)
    lost = set(range(n)) - delivered - set(dead_n)
    FIGURES["gcp crash+poison"] = {
        "sent": len(sent_ids), "delivered": len(delivered), "dead_lettered": len(dead_n), "lost": len(lost),
        "duplicates_run": sum(done_runs.values()) - len(done_runs),
        "killed_in_flight": len(killed), "redeliveries": sum(starts.values()) - n,
        "faults": 1 + len(transient) + sum(starts.get(i, 0) for i in poison)}
    print("gcp faults:", FIGURES["gcp crash+poison"])

    after_crash = rows[rows.index(crash):]
    assert any(r["pid"] != dead_pid for r in after_crash), "gunicorn did not start a fresh worker after the crash"
    assert crash["n"] in killed and len(killed) >= 2, f"the crash held only {sorted(killed)} in flight"
    assert killed - poison <= delivered, "a delivery killed by the crash was not redelivered"
    expected_transient = {i for i in range(n) if i % 7 == 3} - poison
    # a transient delivery the crash killed between taking its one failure and recording it succeeds when redelivered
    assert expected_transient - killed <= transient <= expected_transient, (sorted(transient), sorted(killed))
    assert sorted(dead_n) == sorted(poison), dead_n
    for m in dead:
        assert m.attributes["CloudPubSubDeadLetterSourceDeliveryCount"] == str(max_attempts)
    # the emulator counts deliveries; one cut off by the crash before the handler began is counted but not recorded
    assert all(max_attempts - 1 <= starts[i] <= max_attempts for i in poison), starts
    assert delivered == set(range(n)) - poison
    assert not lost and len(delivered) + len(dead_n) == len(sent_ids)


# -- the broker going away in the middle of publishing ----------------------------------------------------------------

def test_broker_down_during_publish_retries_then_fails_and_reports_only_sent(
        gcp_env: str, admin: tuple[Any, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    from portafunc import topic
    from portafunc.messaging import reset as reset_bindings
    from portafunc_gcp.backends.pubsub import BatchError

    publisher, subscriber = admin
    name = f"outage-{uuid.uuid4().hex[:8]}"
    topic_path = publisher.create_topic(name=f"projects/{PROJECT}/topics/{name}").name
    count_sub = subscriber.create_subscription(request={
        "name": f"projects/{PROJECT}/subscriptions/{name}-count", "topic": topic_path}).name
    timeout = 2.0
    batch = [{"i": i, "run": name} for i in range(5, 25)]
    cut = json.dumps(batch[12], separators=(",", ":")).encode()  # the 13th message of the batch: its 3rd request
    proxy = standins.CutOffProxy(int(gcp_env.rsplit(":", 1)[1]), cut_on=cut)
    try:
        monkeypatch.setenv("PUBSUB_EMULATOR_HOST", f"127.0.0.1:{proxy.port}")
        monkeypatch.setenv("PORTAFUNC_TOPIC_OUTAGE", f"pubsub://{topic_path}?timeout={timeout:g}&max_messages=5")
        reset_bindings()
        t = topic("outage")
        reported = [t.publish({"i": i, "run": name}) for i in range(5)]

        started = time.monotonic()
        with pytest.raises(BatchError) as caught:
            t.publish_batch(batch)
        batch_elapsed = time.monotonic() - started
        assert not proxy.up, "the proxy never saw the marked message"
        accepted = caught.value.accepted
        assert len(accepted) == len(batch)
        reported += [i for i in accepted if i is not None]
        message = str(caught.value)
        assert "unreachable" in message and "attempt" in message and "10 of 20" in message, message

        failures = 1
        single_elapsed = []
        errors = [message]
        for i in range(25, 27):
            started = time.monotonic()
            with pytest.raises(MessagingError, match=r"unreachable .*gave up after \d+ attempt") as single:
                reported.append(t.publish({"i": i, "run": name}))
            single_elapsed.append(time.monotonic() - started)
            assert not isinstance(single.value, BatchError)
            errors.append(str(single.value))
            failures += 1
        attempts = [int(a) for e in errors for a in re.findall(r"after (\d+) attempt", e)]
    finally:
        proxy.close()

    in_broker = {m.message_id: json.loads(m.data)["i"] for m in _pull_all(subscriber, count_sub)}
    FIGURES["gcp outage"] = {"sent": len(reported), "reported_failed": failures, "in_broker": len(in_broker),
                             "reported_but_missing": len(set(reported) - set(in_broker)),
                             "in_broker_not_reported": len(set(in_broker) - set(reported)),
                             "connections_refused_while_down": proxy.refused}
    print("gcp outage:", FIGURES["gcp outage"],
          f"calls failed after {[round(e, 2) for e in [batch_elapsed, *single_elapsed]]} s")
    print(*errors, sep="\n")

    assert accepted[:10] == [i for i in accepted if i is not None] and accepted[10:] == [None] * 10, accepted
    assert set(reported) <= set(in_broker), "a message was reported as sent but is not in the broker"
    assert set(in_broker) == set(reported)  # requests are sequential and cut before forwarding: nothing in limbo
    assert sorted(in_broker.values()) == list(range(15))
    assert all(a >= 2 for a in attempts), f"no retry before giving up: {attempts}"
    assert all(0.8 * timeout <= s <= timeout + 2 for s in [batch_elapsed, *single_elapsed]), \
        (batch_elapsed, single_elapsed)
