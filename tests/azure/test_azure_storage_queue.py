"""Storage Queue end to end against Azurite (npm azurite@3.35.0, started by the session fixture).

portafunc Queue → Azurite → received with the azure-storage-queue SDK → the func.QueueMessage the host builds
(body base64-decoded, DequeueCount, InsertionTime, PopReceipt from the SDK message) → the generated FunctionApp's
function. A small loop plays the Functions host's part: delete on success, make visible again on an exception, and
move to ``<queue>-poison`` once DequeueCount reaches maxDequeueCount.
"""

from __future__ import annotations

import base64
import json

import pytest
from azure.functions import meta
from azure.functions.queue import QueueMessageInConverter
from azure.storage.queue import QueueClient

import portafunc
from portafunc.errors import BindingError, MessagingError
from portafunc_azure.deploy.function_app import load_function_app

pytestmark = pytest.mark.emulator


def host_message(sdk_msg):
    """The func.QueueMessage the Functions host (messageEncoding base64) hands the worker for an SDK message."""
    D = meta.Datum
    md = {"Id": D(sdk_msg.id, "string"), "DequeueCount": D(sdk_msg.dequeue_count, "int"),
          "PopReceipt": D(sdk_msg.pop_receipt, "string"),
          "InsertionTime": D(json.dumps(sdk_msg.inserted_on.isoformat()), "json"),
          "ExpirationTime": D(json.dumps(sdk_msg.expires_on.isoformat()), "json")}
    return QueueMessageInConverter.decode(D(base64.b64decode(sdk_msg.content), "bytes"), trigger_metadata=md)


HOST_CONNECTION = [""]


def run_host_once(client: QueueClient, fn, max_dequeue: int) -> list[str]:
    """One polling round of the host: returns what happened to each message."""
    results = []
    for m in client.receive_messages(max_messages=16, visibility_timeout=30):
        try:
            fn(host_message(m))
        except Exception:  # noqa: BLE001 - the host logs the failure
            if (m.dequeue_count or 0) >= max_dequeue:
                client_poison = QueueClient.from_connection_string(HOST_CONNECTION[0], client.queue_name + "-poison")
                try:
                    client_poison.create_queue()
                except Exception:  # noqa: BLE001
                    pass
                client_poison.send_message(m.content)
                client.delete_message(m)
                results.append("host-poisoned")
            else:
                client.update_message(m, visibility_timeout=0)
                results.append("retry")
        else:
            client.delete_message(m)
            results.append("done")
    return results


@pytest.fixture
def queues(storage_env, unique, monkeypatch, azapp):
    """A fresh queue bound to the app's logical queue 'work' (named 'work' in Azure, so one per test account)."""
    name = "work"
    client = QueueClient.from_connection_string(storage_env, name)
    poison = QueueClient.from_connection_string(storage_env, name + "-poison")
    for q in (client, poison):
        try:
            q.delete_queue()
        except Exception:  # noqa: BLE001
            pass
    client.create_queue()
    HOST_CONNECTION[0] = storage_env
    monkeypatch.setenv("PORTAFUNC_QUEUE_WORK", f"azqueue://devstoreaccount1/{name}")
    _, functions, rt = load_function_app(azapp.app)
    return client, poison, functions["work"].get_user_function(), rt


def test_send_receive_dispatch_through_generated_function(queues, azapp):
    client, _, fn, _ = queues
    msg_id = portafunc.queue("work").send({"id": "o-1", "total": 9.5}, attributes={"shop": "acme", "ü": "é"})
    (raw,) = list(client.receive_messages(max_messages=5))
    assert raw.id == msg_id
    envelope = json.loads(base64.b64decode(raw.content))  # base64 text, as the Functions host expects
    assert envelope == {"$portafunc": 1, "attributes": {"shop": "acme", "ü": "é"}, "ordering_key": None,
                        "data": {"id": "o-1", "total": 9.5}}
    fn(host_message(raw))
    client.delete_message(raw)
    (_, seen), = azapp.SEEN
    assert seen.id == msg_id and seen.body.total == 9.5
    assert seen.attributes == {"shop": "acme", "ü": "é"} and seen.delivery_attempt == 1
    assert seen.published_at is not None


def test_plain_payload_stays_plain(queues):
    client, _, _, _ = queues
    portafunc.queue("work").send({"id": "p", "total": 1})
    (raw,) = list(client.receive_messages())
    assert base64.b64decode(raw.content) == b'{"id":"p","total":1}'


def test_retry_then_poison_after_max_attempts(queues, azapp):
    """max_attempts=3: two redeliveries, then the runtime moves it to work-poison itself on the third attempt."""
    client, poison, fn, _ = queues
    portafunc.queue("work").send({"id": "f", "total": 1}, attributes={"fail": "yes"})
    outcomes = []
    for _ in range(5):
        outcomes += run_host_once(client, fn, max_dequeue=5)
    assert outcomes == ["retry", "retry", "done"]
    assert [m.delivery_attempt for _, m in azapp.SEEN] == [1, 2, 3]
    assert list(client.receive_messages()) == []
    (p,) = list(poison.receive_messages())
    assert json.loads(base64.b64decode(p.content))["attributes"] == {"fail": "yes"}


def test_host_poisons_when_the_runtime_cannot(queues, azapp, monkeypatch):
    """Without a storage connection the runtime raises; the host's maxDequeueCount then poisons the message."""
    client, poison, fn, rt = queues
    portafunc.queue("work").send({"id": "f", "total": 1}, attributes={"fail": "yes"})
    monkeypatch.delenv("AzureWebJobsStorage")
    rt._poison_senders.clear()
    outcomes = []
    for _ in range(4):
        outcomes += run_host_once(client, fn, max_dequeue=3)
    assert outcomes == ["retry", "retry", "host-poisoned"]
    assert len(list(poison.receive_messages())) == 1


def test_non_retryable_goes_to_poison_at_once(queues, azapp, caplog):
    client, poison, fn, rt = queues
    portafunc.queue("work").send({"id": "neg", "total": -1})
    portafunc.queue("work").send({"id": "invalid"})  # fails Message[Order] validation
    with caplog.at_level("WARNING", logger="portafunc"):
        assert run_host_once(client, fn, max_dequeue=5) == ["done", "done"]
    assert len(azapp.SEEN) == 1  # the invalid one never reached the handler
    assert sorted(json.loads(base64.b64decode(m.content))["id"] for m in poison.receive_messages()) == \
        ["invalid", "neg"]
    assert rt.last.poisoned
    # the trail says where each went: the core's "reported failed" line is followed by where that leads here
    moved = [r for r in caplog.records if r.getMessage().startswith("non-retryable message: moving it to the poison")]
    assert len(moved) == 2 and all(getattr(r, "poison_queue", None) == "work-poison" for r in moved)


def test_queue_backend_receive_ack_nack(queues):
    q = portafunc.queue("work")
    ids = q.send_batch([{"n": 1}, portafunc.messaging.OutgoingMessage({"n": 2}, {"k": "v"}, ordering_key="o")])
    got = q.receive(max_messages=10, wait=2)
    assert sorted(m.id for m in got) == sorted(ids)
    by_id = {m.id: m for m in got}
    assert by_id[ids[1]].attributes == {"k": "v"} and by_id[ids[1]].ordering_key == "o"
    q.ack(by_id[ids[0]])
    q.nack(by_id[ids[1]], delay=0)
    (again,) = q.receive(wait=2)
    assert again.id == ids[1] and again.delivery_attempt == 2 and again.json() == {"n": 2}
    q.ack(again)
    assert q.receive(wait=0.3) == []


def test_delay_seconds_hides_the_message(queues):
    q = portafunc.queue("work")
    q.send({"n": 1}, delay_seconds=30)
    assert q.receive(wait=0.5) == []


def test_errors_are_clear(storage_env, monkeypatch):
    from portafunc.messaging import open_backend

    missing = open_backend("queue", "nope", "azqueue://devstoreaccount1/does-not-exist")
    with pytest.raises(MessagingError, match="does not exist"):
        missing.send("x")
    other = open_backend("queue", "other", "azqueue://someoneelse/q1")
    with pytest.raises(BindingError, match="not 'someoneelse'"):
        other.send("x")
    big = open_backend("queue", "big", "azqueue://devstoreaccount1/big-queue?create=1")
    with pytest.raises(MessagingError, match="at most 65536"):
        big.send(b"x" * 60000)
    monkeypatch.delenv("AzureWebJobsStorage")
    nokey = open_backend("queue", "nokey", "azqueue://devstoreaccount1/q2")
    with pytest.raises(BindingError, match="AzureWebJobsStorage"):
        nokey.send("x")
    monkeypatch.setenv("AzureWebJobsStorage", "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;"
                       "AccountKey=YWJj;QueueEndpoint=http://127.0.0.1:9/devstoreaccount1;")
    down = open_backend("queue", "down", "azqueue://devstoreaccount1/q3?retries=0")
    with pytest.raises(MessagingError, match="unreachable|failed"):
        down.send("x")
