"""A queue message still failing on its function's last attempt goes to the function's declared dead letter on Azure,
as on every other target — against Azurite (started by the session fixture).

A small loop plays the Functions host (``maxDequeueCount`` = ``max_attempts``, as host.json sets it for one queue
function): it hands each received message to the generated FunctionApp's function as the ``func.QueueMessage`` the
host builds, deletes it when the function returns, and makes it visible again when the function raises. The runtime
moves the message on the last attempt: to ``dead_letter=`` (or ``PORTAFUNC_DEADLETTER_<FUNC>``) with the attributes
every target adds; to ``<queue>-poison`` without one, or when the dead letter cannot take it.
"""

from __future__ import annotations

import base64
import json
import logging

import pytest
from azure.core.exceptions import ResourceNotFoundError
from azure.storage.queue import QueueClient

import portafunc
from portafunc import App, Message
from portafunc.invoke import Outcome
from portafunc.messaging.binding import env_name
from portafunc.messaging.memory import broker
from portafunc.testing import Cloud
from portafunc_azure import triggers
from portafunc_azure.codecs.natives import to_func_queue
from portafunc_azure.deploy.function_app import load_function_app

MAX_ATTEMPTS = 2
ACCOUNT = "devstoreaccount1"
UNREACHABLE = ("DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=YWJj;"
               "QueueEndpoint=http://127.0.0.1:9/devstoreaccount1;")


def failing_app(queue: str, dead_letter: str | None) -> App:
    """A queue function (``max_attempts=2``) whose handler always raises a retryable error."""
    app = App("deadletters")

    @app.queue(queue, max_attempts=MAX_ATTEMPTS, dead_letter=dead_letter)
    def store_row(msg: Message) -> None:
        raise RuntimeError("cannot store the row now")

    return app


class Queues:
    """The function's queue, its dead letter and its poison queue in Azurite, named per test (the Azurite service is
    shared by the whole session)."""

    def __init__(self, conn: str, unique: str) -> None:
        self.conn = conn
        self.queue = f"rows-{unique}"  # the logical name is the Azure name: the poison queue is derived from it
        self.dead_letter = f"rows-{unique}-failed"
        self.poison = triggers.poison_queue_name(triggers.queue_name(self.queue))
        self.client = QueueClient.from_connection_string(conn, self.queue)
        self.client.create_queue()

    def texts(self, queue: str) -> list[str]:
        """The message texts in ``queue`` (none when it does not exist)."""
        try:
            return [m.content for m in QueueClient.from_connection_string(self.conn, queue).peek_messages(32)]
        except ResourceNotFoundError:
            return []

    def run_host(self, fn) -> list[str]:
        """Deliver until the queue is empty, as the host would with maxDequeueCount = max_attempts."""
        outcomes = []
        for _ in range(MAX_ATTEMPTS + 2):
            for m in self.client.receive_messages(max_messages=16, visibility_timeout=30):
                native = {"Id": m.id, "DequeueCount": m.dequeue_count, "PopReceipt": m.pop_receipt,
                          "MessageText": m.content}
                try:
                    fn(to_func_queue(native))
                except Exception:  # noqa: BLE001 - the host logs it and makes the message visible again
                    assert (m.dequeue_count or 0) < MAX_ATTEMPTS, "the runtime left the last attempt to the host"
                    self.client.update_message(m, visibility_timeout=0)
                    outcomes.append("retry")
                else:
                    self.client.delete_message(m)
                    outcomes.append("done")
        return outcomes


@pytest.fixture
def queues(storage_env, unique, monkeypatch) -> Queues:
    q = Queues(storage_env, unique)
    monkeypatch.setenv(env_name("QUEUE", q.queue), f"azqueue://{ACCOUNT}/{q.queue}")
    return q


def _function(app: App):
    _, functions, rt = load_function_app(app)
    return functions["store_row"].get_user_function(), rt


def _lines(caplog: pytest.LogCaptureFixture, start: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.getMessage().startswith(start)]


@pytest.mark.emulator
@pytest.mark.parametrize("declared", ["decorator", "variable"])
def test_a_message_failing_its_last_attempt_goes_to_the_declared_dead_letter(queues, monkeypatch, caplog, declared):
    """``dead_letter=`` (or ``PORTAFUNC_DEADLETTER_<FUNC>``): the message is in the dead-letter queue with the
    attributes the other targets add, and not in ``<queue>-poison``."""
    app = failing_app(queues.queue, queues.dead_letter if declared == "decorator" else None)
    if declared == "variable":
        monkeypatch.setenv(env_name("DEADLETTER", "store_row"), queues.dead_letter)
    monkeypatch.setenv(env_name("QUEUE", queues.dead_letter), f"azqueue://{ACCOUNT}/{queues.dead_letter}?create=1")
    fn, rt = _function(app)
    sent = portafunc.queue(queues.queue).send({"row": 7}, attributes={"source": "import"})
    with caplog.at_level("WARNING", logger="portafunc"):
        assert queues.run_host(fn) == ["retry", "done"]
    assert queues.texts(queues.queue) == []
    assert queues.texts(queues.poison) == []  # not poisoned
    (dead,) = portafunc.queue(queues.dead_letter).receive(max_messages=10, wait=2)
    assert dead.json() == {"row": 7}
    assert dead.attributes == {"source": "import", "portafunc_error": "RuntimeError: cannot store the row now",
                               "portafunc_function": "store_row", "portafunc_original_id": sent,
                               "portafunc_attempts": str(MAX_ATTEMPTS)}
    assert rt.last.outcome is Outcome.DEAD_LETTERED and rt.last.moved_to == queues.dead_letter
    assert not rt.last.failed and not rt.last.poisoned
    # the last attempt's log line says where the message went
    (moved,) = _lines(caplog, "last attempt failed; moved the message to the dead letter")
    assert moved.dead_letter == queues.dead_letter and moved.delivery_attempt == MAX_ATTEMPTS  # type: ignore[attr-defined]
    assert not _lines(caplog, "last attempt failed; moving the message to the poison queue")


@pytest.mark.emulator
def test_without_a_dead_letter_the_last_attempt_goes_to_the_poison_queue(queues, caplog):
    """No ``dead_letter=``: ``<queue>-poison``, the host's original base64 text, and the log line names it."""
    fn, rt = _function(failing_app(queues.queue, None))
    portafunc.queue(queues.queue).send({"row": 8}, attributes={"source": "import"})
    with caplog.at_level("WARNING", logger="portafunc"):
        assert queues.run_host(fn) == ["retry", "done"]
    assert queues.texts(queues.queue) == []
    (text,) = queues.texts(queues.poison)
    assert json.loads(base64.b64decode(text)) == {"$portafunc": 1, "attributes": {"source": "import"},
                                                  "ordering_key": None, "data": {"row": 8}}
    (line,) = _lines(caplog, "last attempt failed; moving the message to the poison queue")
    assert line.poison_queue == queues.poison  # type: ignore[attr-defined]
    assert rt.last.poisoned and rt.last.moved_to == queues.poison


@pytest.mark.emulator
@pytest.mark.parametrize("binding", ["unreachable", "missing"])
def test_a_dead_letter_that_cannot_take_the_message_falls_back_to_the_poison_queue(queues, monkeypatch, caplog,
                                                                                   binding):
    """The dead letter bound to a storage endpoint nothing answers on, or to a queue that does not exist: the message
    goes to ``<queue>-poison`` (never lost), and the error log says why and where it went instead."""
    fn, rt = _function(failing_app(queues.queue, queues.dead_letter))
    if binding == "unreachable":
        monkeypatch.setenv("PORTAFUNC_TEST_DOWN_STORAGE", UNREACHABLE)
        url = f"azqueue://{ACCOUNT}/{queues.dead_letter}?connection=PORTAFUNC_TEST_DOWN_STORAGE&retries=0&timeout=3"
    else:
        url = f"azqueue://{ACCOUNT}/{queues.dead_letter}"  # no ?create=1: it does not exist
    monkeypatch.setenv(env_name("QUEUE", queues.dead_letter), url)
    portafunc.queue(queues.queue).send({"row": 9})
    with caplog.at_level("WARNING", logger="portafunc"):
        assert queues.run_host(fn) == ["retry", "done"]
    assert queues.texts(queues.queue) == [] and queues.texts(queues.dead_letter) == []
    (text,) = queues.texts(queues.poison)
    assert json.loads(base64.b64decode(text)) == {"row": 9}
    (line,) = _lines(caplog, "last attempt failed and the dead letter did not take the message; moving it to the "
                             "poison queue instead")
    assert line.levelname == "ERROR"
    assert line.dead_letter == queues.dead_letter and line.poison_queue == queues.poison  # type: ignore[attr-defined]
    assert ("unreachable" if binding == "unreachable" else "does not exist") in line.error  # type: ignore[attr-defined]
    assert rt.last.poisoned and rt.last.moved_to == queues.poison


# -- what the contract kit's driver reports --------------------------------------------------------------------------

def _answers(delivery) -> list[dict]:
    (exchange,) = delivery.exchanges
    return exchange.native_response


def test_the_driver_reports_a_last_attempt_moved_to_the_dead_letter(cloud_azure):
    """On its last attempt the message is acknowledged and the answer names the dead letter, as the other targets
    acknowledge it; earlier attempts are redelivered."""
    app = failing_app("rows", "rows-failed")
    first = cloud_azure.enqueue(app, "rows", [Message(id="m-1", data=b'{"row": 1}', delivery_attempt=1)])
    assert first.failed_ids == ["m-1"] and _answers(first)[0]["result"] == "raised"
    last = cloud_azure.enqueue(app, "rows", [Message(id="m-1", data=b'{"row": 1}', attributes={"source": "import"},
                                                     delivery_attempt=MAX_ATTEMPTS)])
    assert last.ok, _answers(last)
    (answer,) = _answers(last)
    assert answer["result"] == "moved to dead letter rows-failed" and answer["outcome"] == "dead_lettered"
    (dead,) = cloud_azure.dead_letters(app, "store_row")
    assert dead.attributes == {"source": "import", "portafunc_error": "RuntimeError: cannot store the row now",
                               "portafunc_function": "store_row", "portafunc_original_id": "m-1",
                               "portafunc_attempts": str(MAX_ATTEMPTS)}


def test_the_driver_names_the_dead_letter_of_a_non_retryable_message(cloud_azure):
    app = App("rejects")

    @app.queue("rows", dead_letter="rows-failed")
    def check_row(msg: Message) -> None:
        raise portafunc.NonRetryableError("not a row")

    delivery = cloud_azure.enqueue(app, "rows", [{"row": 1}])
    assert delivery.ok
    assert _answers(delivery)[0]["result"] == "moved to dead letter rows-failed"
    assert len(broker().queue("rows-failed").peek()) == 1


@pytest.mark.emulator
def test_the_driver_names_the_poison_queue(cloud_azure, storage_env, unique):
    """Without a dead letter the last attempt goes to the poison queue, which the answer names."""
    queue = f"rows-{unique}"
    app = failing_app(queue, None)
    delivery = cloud_azure.enqueue(app, queue, [Message(id="m-2", data=b"{}", delivery_attempt=MAX_ATTEMPTS)])
    (answer,) = _answers(delivery)
    assert answer["result"] == f"moved to poison queue {queue}-poison" and delivery.failed_ids == ["m-2"]
    assert len(QueueClient.from_connection_string(storage_env, f"{queue}-poison").peek_messages(32)) == 1


@pytest.fixture
def cloud_azure(monkeypatch) -> Cloud:
    """The contract kit's Azure target, every unbound name on memory:// (as the ``cloud`` fixture binds them)."""
    monkeypatch.setenv("PORTAFUNC_DEFAULT_BINDING", "memory://")
    return Cloud("azure")


# -- what the deployment needs for the move ---------------------------------------------------------------------------

def test_the_deployment_carries_what_the_move_to_the_dead_letter_needs():
    """The template creates the dead-letter queue in the app's own storage account (the account of
    ``AzureWebJobsStorage``, which the ``azqueue://`` binding connects with) and still the poison queue; the artifact
    ships the module that moves the message, and the client library of a dead letter bound by URL (an Event Grid
    topic), which no resource of the model names."""
    from portafunc.packaging.closure import runtime_modules
    from portafunc_azure.deploy import infra
    from portafunc_azure.package import FAMILY_MODULES, RUNTIME_ENTRIES, unused_sdks

    app = failing_app("rows", "rows-failed")
    template = infra.template(app, "3.12")
    queues = [r["name"] for r in template["resources"]
              if r["type"] == "Microsoft.Storage/storageAccounts/queueServices/queues"]
    assert queues == [f"[format('{{0}}/default/{{1}}', variables('storageAccountName'), '{name}')]"
                      for name in ("rows", "rows-failed", "rows-poison")]
    (site,) = [r for r in template["resources"] if r["type"] == "Microsoft.Web/sites"]
    settings = {s["name"]: s["value"] for s in site["properties"]["siteConfig"]["appSettings"]}
    assert settings["PORTAFUNC_QUEUE_ROWS_FAILED"] == \
        "[format('azqueue://{0}/{1}', variables('storageAccountName'), 'rows-failed')]"
    assert "AccountName={0};" in settings["AzureWebJobsStorage"] and \
        "variables('storageAccountName'), listKeys(" in settings["AzureWebJobsStorage"]

    closure = runtime_modules(app, app.resources(), "portafunc_azure", RUNTIME_ENTRIES, families=FAMILY_MODULES)
    assert {"portafunc.kit.dead_letter", "portafunc.messaging"} <= closure.modules
    http_only = App("plain")
    http_only.http("GET", "/", name="root")(lambda req: None)
    assert "portafunc.kit.dead_letter" not in runtime_modules(
        http_only, http_only.resources(), "portafunc_azure", RUNTIME_ENTRIES, families=FAMILY_MODULES).modules

    topic_url = "eventgrid://rows-failed.westeurope-1.eventgrid.azure.net/api/events?key_env=ROWS_FAILED_KEY"
    by_url = failing_app("rows", topic_url)
    assert not {"azure-eventgrid", "azure-storage-queue"} & unused_sdks(by_url, by_url.resources())
    assert "azure-eventgrid" in unused_sdks(app, app.resources())  # a queue dead letter needs no Event Grid client
