"""Faults on Azure Storage Queues, nothing lost — against Azurite (started here on a free 127.0.0.1 port).

The test plays the Functions host's queue trigger as documented: it receives messages with a visibility timeout,
hands each one (decoded from base64, as ``messageEncoding: base64`` does) to the real ``portafunc_azure.runtime``
as an ``azure.functions.QueueMessage``, deletes it when the function returns, and leaves it to reappear when the
function raises. The runtime itself moves a message to ``<queue>-poison`` on its last attempt (``max_attempts``).
Messages are sent by portafunc's own ``azqueue://`` backend.
"""

from __future__ import annotations

import base64
import time
from typing import Iterator

import pytest
import standins

from portafunc import App
from portafunc.events import Message

@pytest.fixture(scope="module")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with standins.azurite(tmp_path_factory.mktemp("azurite"), "queue") as conn:
        yield conn


def test_crash_and_poison_nothing_lost(azurite: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from portafunc import queue
    from portafunc.messaging import reset as reset_bindings
    from portafunc_azure.natives import to_func_queue
    from portafunc_azure.runtime import MessageFailed, register_app, runtime_for
    from portafunc_azure.storage_queue import raw_queue_client

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

    @app.queue("work", max_attempts=max_attempts)
    def work(msg: Message) -> None:
        body = msg.json()
        i = body["n"]
        attempts[i] = attempts.get(i, 0) + 1
        if body["poison"]:
            raise ValueError(f"poison message {i}")
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
        for raw in got:
            # the host's own converter builds the QueueMessage from the trigger metadata (id, dequeue count, ...)
            msg = to_func_queue({"Id": raw.id, "DequeueCount": raw.dequeue_count, "PopReceipt": raw.pop_receipt,
                                 "MessageText": raw.content})
            try:
                runtime.queue("work", msg)
            except MessageFailed:
                continue  # the host leaves it; it reappears after the visibility timeout
            client.delete_message(raw.id, raw.pop_receipt)
    poisoned = []
    poison_client = raw_queue_client(azurite, "work-poison")
    for raw in poison_client.receive_messages(max_messages=32):
        from portafunc_azure.codec_queue import decode_body

        poisoned.append(decode_body(base64.b64decode(raw.content), message_id=raw.id, dequeue_count=1,
                                       insertion_time=None).json()["n"])
    delivered = set(done)
    lost = set(range(n)) - delivered - set(poisoned)
    figures = {"sent": n, "delivered": len(delivered), "dead_lettered": len(poisoned), "lost": len(lost),
               "faults": len(failed_once) + sum(attempts.get(i, 0) for i in poison)}
    print("azure faults:", figures)
    assert sorted(poisoned) == sorted(poison), poisoned
    assert all(attempts[i] == max_attempts for i in poison), attempts
    assert delivered == set(range(n)) - poison and failed_once
    assert not lost and len(delivered) + len(poisoned) == n
    assert client.get_queue_properties().approximate_message_count == 0
