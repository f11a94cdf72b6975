"""Faults on Azure Storage Queues, nothing lost — against Azurite (started here on a free 127.0.0.1 port).

The test plays the Functions host's queue trigger as documented: it receives messages with a visibility timeout,
hands each one (decoded from base64, as ``messageEncoding: base64`` does) to the real ``portafunc_azure.runtime``
as an ``azure.functions.QueueMessage``, deletes it when the function returns, and leaves it to reappear when the
function raises. The runtime itself moves a message to ``<queue>-poison`` on its last attempt (``max_attempts``).
Messages are sent by portafunc's own ``azqueue://`` backend. Once, the worker dies in the middle of a batch (a
``BaseException`` from the handler, which nothing in portafunc may catch): the message it was running and the rest of
its batch are left undeleted and must come back after their visibility timeout.

Broker outages. For Storage Queues, a TCP proxy stands in front of Azurite and is switched off when the client sends
a chosen message in the middle of ``send_batch``. Azurite keeps its state, so what really arrived can be counted.
Event Grid has no emulator. Its topic endpoint is played by a real HTTP server on 127.0.0.1 that answers 503 on
purpose, or by a port where nothing listens (connection refused). The request format itself is checked against the
documented wire format in ``tests/azure/test_azure_eventgrid.py``.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterator

import pytest
import standins

from portafunc import App
from portafunc.errors import MessagingError
from portafunc.events import Message

FIGURES: dict[str, dict[str, int]] = {}


class WorkerDied(BaseException):
    """The worker process dying mid-invocation (not an Exception: nothing in portafunc may catch it)."""


@pytest.fixture(scope="module")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with standins.azurite(tmp_path_factory.mktemp("azurite"), "queue") as conn:
        yield conn


def test_crash_and_poison_nothing_lost(azurite: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from portafunc import queue
    from portafunc.messaging import reset as reset_bindings
    from portafunc_azure.codecs.natives import to_func_queue
    from portafunc_azure.runtime import MessageFailed, register_app, runtime_for
    from portafunc_azure.backends.storage_queue import raw_queue_client

    monkeypatch.setenv("AzureWebJobsStorage", azurite)
    monkeypatch.setenv("PORTAFUNC_QUEUE_WORK", "azqueue://devstoreaccount1/work?create=1")
    reset_bindings()
    max_attempts = 3
    n = 20
    poison = {4, 13}
    sent = queue("work").send_batch([{"n": i, "poison": i in poison} for i in range(n)])
    assert len(sent) == n

    app = App("faults-azure")
    done: dict[int, int] = {}
    attempts: dict[int, int] = {}
    failed_once: set[int] = set()
    crash_on = 8
    abandoned: list[int] = []  # messages of the batch in hand when the worker died: left undeleted, in flight

    @app.queue("work", max_attempts=max_attempts)
    def work(msg: Message) -> None:
        body = msg.json()
        i = body["n"]
        attempts[i] = attempts.get(i, 0) + 1
        if body["poison"]:
            raise ValueError(f"poison message {i}")
        if i == crash_on and attempts[i] == 1:
            raise WorkerDied(f"worker killed while running message {i}")
        if i % 5 == 2 and i not in failed_once:
            failed_once.add(i)
            raise ConnectionError(f"transient failure on {i}")
        done[i] = done.get(i, 0) + 1

    register_app("faults_azure:app", app)
    runtime = runtime_for("faults_azure:app")
    client = raw_queue_client(azurite, "work")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        got = list(client.receive_messages(messages_per_page=16, visibility_timeout=1, max_messages=16))
        if not got:
            if client.get_queue_properties().approximate_message_count == 0:
                break
            time.sleep(0.3)
            continue
        for index, raw in enumerate(got):
            # the host's own converter builds the QueueMessage from the trigger metadata (id, dequeue count, ...)
            msg = to_func_queue({"Id": raw.id, "DequeueCount": raw.dequeue_count, "PopReceipt": raw.pop_receipt,
                                 "MessageText": raw.content})
            try:
                runtime.queue("work", msg)
            except MessageFailed:
                continue  # the host leaves it; it reappears after the visibility timeout
            except WorkerDied:
                # the host process is gone: this message and the rest of its batch are neither finished nor
                # deleted; Azure Storage makes them visible again when their visibility timeout runs out
                abandoned.extend(json.loads(base64.b64decode(r.content))["n"] for r in got[index:])
                break
            client.delete_message(raw.id, raw.pop_receipt)
    poisoned = []
    poison_client = raw_queue_client(azurite, "work-poison")
    for raw in poison_client.receive_messages(max_messages=32):
        from portafunc_azure.codecs.queue import decode_body

        poisoned.append(decode_body(base64.b64decode(raw.content), message_id=raw.id, dequeue_count=1,
                                       insertion_time=None).json()["n"])
    delivered = set(done)
    lost = set(range(n)) - delivered - set(poisoned)
    figures = FIGURES["azure crash+poison"] = {
        "sent": n, "delivered": len(delivered), "dead_lettered": len(poisoned), "lost": len(lost),
        "duplicates_run": sum(done.values()) - len(done),
        "redelivered_after_crash": len(abandoned),
        "faults": 1 + len(failed_once) + sum(attempts.get(i, 0) for i in poison)}
    print("azure faults:", figures)
    assert sorted(poisoned) == sorted(poison), poisoned
    # the dequeue count counts deliveries, not runs: a poison message abandoned unrun by the crash used one of its
    # max_attempts deliveries without running, so it ran one time fewer before it went to poison
    assert all(attempts[i] == max_attempts - (i in abandoned[1:]) for i in poison), (attempts, abandoned)
    assert delivered == set(range(n)) - poison and failed_once
    assert crash_on in abandoned and len(abandoned) > 1, abandoned  # the crash left more than its own message
    assert attempts[crash_on] == 2 and done[crash_on] == 1
    assert not lost and len(delivered) + len(poisoned) == n
    assert client.get_queue_properties().approximate_message_count == 0


# -- the broker going away in the middle of sending -------------------------------------------------------------------

def test_storage_down_during_send_retries_then_fails_and_reports_only_sent(azurite: str,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from portafunc import queue
    from portafunc.messaging import reset as reset_bindings
    from portafunc_azure.backends.retrying import BatchError
    from portafunc_azure.backends.storage_queue import raw_queue_client

    port = int(re.search(r"QueueEndpoint=http://127\.0\.0\.1:(\d+)/", azurite).group(1))  # type: ignore[union-attr]
    timeout = 2.0
    batch = [{"i": i, "run": "outage"} for i in range(5, 25)]
    # the message text Storage Queues store for the 13th message of the batch (plain JSON is sent without envelope)
    cut = base64.b64encode(json.dumps(batch[12], separators=(",", ":")).encode())
    proxy = standins.CutOffProxy(port, cut_on=cut)
    try:
        monkeypatch.setenv("OUTAGE_STORAGE", azurite.replace(f":{port}/", f":{proxy.port}/"))
        monkeypatch.setenv("PORTAFUNC_QUEUE_OUTAGE", f"azqueue://devstoreaccount1/outage?create=1&timeout={timeout:g}"
                                                     "&connection=OUTAGE_STORAGE")
        reset_bindings()
        q = queue("outage")
        reported = [q.send({"i": i, "run": "outage"}) for i in range(5)]

        started = time.monotonic()
        with pytest.raises(BatchError) as caught:
            q.send_batch(batch)
        elapsed = [time.monotonic() - started]
        assert not proxy.up, "the proxy never saw the marked message"
        accepted = caught.value.accepted
        reported += [i for i in accepted if i is not None]
        errors = [str(caught.value)]
        assert "unreachable" in errors[0] and "12 of 20" in errors[0], errors[0]

        failures = 1
        for i in range(25, 27):
            started = time.monotonic()
            with pytest.raises(MessagingError, match=r"unreachable .*gave up after \d+ attempt") as single:
                reported.append(q.send({"i": i, "run": "outage"}))
            elapsed.append(time.monotonic() - started)
            assert not isinstance(single.value, BatchError)
            errors.append(str(single.value))
            failures += 1
    finally:
        proxy.close()

    direct = raw_queue_client(azurite, "outage")
    in_broker: dict[str, int] = {}
    while True:
        got = list(direct.receive_messages(messages_per_page=32, max_messages=32, visibility_timeout=60))
        if not got:
            break
        in_broker.update({m.id: json.loads(base64.b64decode(m.content))["i"] for m in got})
    attempts = [int(a) for e in errors for a in re.findall(r"after (\d+) attempt", e)]
    FIGURES["azure queue outage"] = {"sent": len(reported), "reported_failed": failures, "in_broker": len(in_broker),
                                     "reported_but_missing": len(set(reported) - set(in_broker)),
                                     "in_broker_not_reported": len(set(in_broker) - set(reported)),
                                     "connections_refused_while_down": proxy.refused}
    print("azure queue outage:", FIGURES["azure queue outage"],
          f"calls failed after {[round(e, 2) for e in elapsed]} s")
    print(*errors, sep="\n")

    assert accepted[:12] == [i for i in accepted if i is not None] and accepted[12:] == [None] * 8, accepted
    assert set(reported) <= set(in_broker), "a message was reported as sent but is not in the queue"
    assert set(in_broker) == set(reported)  # one request at a time, cut before forwarding: nothing in limbo
    assert sorted(in_broker.values()) == list(range(17))
    assert all(a >= 2 for a in attempts), f"no retry before giving up: {attempts}"
    assert all(0.8 * timeout <= e <= timeout + 2 for e in elapsed), elapsed


class FailingTopic:
    """A real HTTP server on 127.0.0.1 in place of an Event Grid topic endpoint (there is no Event Grid emulator).
    It answers each POST with the next status in ``statuses`` (the last one repeats) and records which event ids
    each request carried and what it was answered."""

    def __init__(self, statuses: list[int]) -> None:
        self.statuses = list(statuses)
        self.requests: list[tuple[int, list[str]]] = []
        lock = threading.Lock()
        topic = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with lock:
                    status = topic.statuses[min(len(topic.requests), len(topic.statuses) - 1)]
                    topic.requests.append((status, [e["id"] for e in json.loads(body)]))
                reply = b"" if status == 200 else b'{"error": {"code": "ServiceUnavailable", "message": "test"}}'
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def accepted(self) -> list[str]:
        return [i for status, ids in self.requests if status == 200 for i in ids]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_eventgrid_failures_are_retried_until_the_deadline_and_only_published_ids_are_reported(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from portafunc import topic
    from portafunc.messaging import reset as reset_bindings
    from portafunc_azure.backends.retrying import BatchError

    timeout = 1.5
    monkeypatch.setenv("PORTAFUNC_EVENTGRID_KEY", "test-topic-key==")

    def bind(port: int) -> Any:
        monkeypatch.setenv("PORTAFUNC_TOPIC_EVENTS",
                           f"eventgrid://127.0.0.1:{port}/api/events?tls=0&timeout={timeout:g}")
        reset_bindings()
        return topic("events")

    reported: list[str] = []
    failures = 0
    errors: list[str] = []
    elapsed: list[float] = []
    servers: list[FailingTopic] = []
    try:
        # 1. two 503s, then 200: retried with the same event id, published once, reported once
        flaky = FailingTopic([503, 503, 200])
        servers.append(flaky)
        published = bind(flaky.port).publish({"n": 1})
        reported.append(published)
        assert [ids for _, ids in flaky.requests] == [[published]] * 3

        # 2. 503 for ever: a clear error once the deadline has passed; nothing reported
        down = FailingTopic([503])
        servers.append(down)
        started = time.monotonic()
        with pytest.raises(MessagingError, match=r"answers 503: gave up after \d+ attempt") as caught:
            reported.append(bind(down.port).publish({"n": 2}))
        elapsed.append(time.monotonic() - started)
        errors.append(str(caught.value))
        failures += 1

        # 3. a batch over 1 MB is two requests: the first is taken, the second keeps failing
        half = FailingTopic([200, 503])
        servers.append(half)
        big = "x" * 400_000
        started = time.monotonic()
        with pytest.raises(BatchError) as partial:
            bind(half.port).publish_batch([{"n": n, "pad": big} for n in (3, 4, 5)])
        elapsed.append(time.monotonic() - started)
        errors.append(str(partial.value))
        failures += 1
        accepted = partial.value.accepted
        reported += [i for i in accepted if i is not None]
        assert len(accepted) == 3 and accepted[2] is None and None not in accepted[:2], accepted
        assert "2 of 3 event(s) were published" in errors[-1], errors[-1]

        # 4. nothing listening at all: connection refused until the deadline
        started = time.monotonic()
        with pytest.raises(MessagingError, match=r"is unreachable: gave up after \d+ attempt") as refused:
            reported.append(bind(standins.free_port()).publish({"n": 6}))
        elapsed.append(time.monotonic() - started)
        errors.append(str(refused.value))
        failures += 1
    finally:
        for server in servers:
            server.close()

    taken = [i for server in servers for i in server.accepted]
    attempts = [int(a) for e in errors for a in re.findall(r"after (\d+) attempt", e)]
    FIGURES["azure eventgrid outage"] = {
        "requests": sum(len(s.requests) for s in servers), "answered_5xx": sum(
            1 for s in servers for status, _ in s.requests if status >= 500),
        "sent": len(reported), "reported_failed": failures, "accepted_by_endpoint": len(set(taken)),
        "reported_but_missing": len(set(reported) - set(taken))}
    print("azure eventgrid outage:", FIGURES["azure eventgrid outage"],
          f"calls failed after {[round(e, 2) for e in elapsed]} s")
    print(*errors, sep="\n")

    assert set(reported) == set(taken) and len(reported) == 3, (reported, taken)
    assert all(a >= 2 for a in attempts) and len(attempts) == 3, attempts
    assert all(0.8 * timeout <= e <= timeout + 2 for e in elapsed), elapsed
