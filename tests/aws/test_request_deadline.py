"""A binding's ``?timeout=`` bounds each AWS request too, not only the retries between them.

The endpoint is a real TCP server started here that accepts every connection and never answers — the request that
hangs, which only socket timeouts end — reached through boto3's own per-service endpoint variables. Every backend
must give up with its typed error within its timeout plus the stated bound (0.5 s; the asserts leave 1 s for a busy
machine), not after botocore's 30 s read timeout. The tiers themselves are checked on real clients (no requests).
"""

from __future__ import annotations

import random
import time
from typing import Any, Callable, Iterator

import pytest
from botocore.exceptions import ReadTimeoutError

import portafunc
import portafunc.data
from portafunc.errors import DataUnavailable, MessagingError, PartialSendError
from portafunc.idempotency import IdempotencyStoreError
from portafunc.messaging import reset as reset_bindings
from portafunc.messaging.retry import GaveUp
from portafunc_aws.backends import clients
from portafunc_aws.backends.idempotency import store_factory
from portafunc_aws.backends.sqs import SqsQueue
from standins import SilentServer, gives_up

ROOM = 1.0  # seconds past the timeout the asserts allow (the stated bound is 0.5 s)


@pytest.fixture
def silent(monkeypatch: pytest.MonkeyPatch) -> Iterator[SilentServer]:
    server = SilentServer()
    for key in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "PORTAFUNC_AWS_MAX_ATTEMPTS"):
        monkeypatch.delenv(key, raising=False)
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1",
                       "AWS_CONFIG_FILE": "/nonexistent/portafunc-deadline",
                       "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/portafunc-deadline"}.items():
        monkeypatch.setenv(key, value)
    for service in ("SQS", "SNS", "S3", "DYNAMODB"):
        monkeypatch.setenv(f"AWS_ENDPOINT_URL_{service}", f"http://127.0.0.1:{server.port}")
    clients.reset()
    reset_bindings()
    portafunc.data.reset()
    yield server
    clients.reset()
    reset_bindings()
    portafunc.data.reset()
    server.close()


def test_a_send_to_a_server_that_never_answers_gives_up_at_the_bindings_timeout(
        silent: SilentServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORTAFUNC_QUEUE_JOBS", "sqs://arn:aws:sqs:us-east-1:123456789012:jobs?timeout=2")
    error = gives_up(lambda: portafunc.queue("jobs").send({"a": 1}), MessagingError, 2 + ROOM)
    assert "gave up after" in str(error) and "?timeout=" in str(error), error
    assert isinstance(error.__cause__, ReadTimeoutError) and isinstance(error.__context__, GaveUp)
    assert silent.held, "the request never reached the silent server"


@pytest.mark.parametrize("case", ["sns publish", "sqs send_batch", "sqs receive", "s3 put", "dynamodb kv get",
                                  "idempotency claim"])
def test_every_backend_gives_up_at_its_timeout(case: str, silent: SilentServer,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    call: Callable[[], Any]
    error: type[Exception] = MessagingError
    within = 1 + ROOM
    if case == "sns publish":
        monkeypatch.setenv("PORTAFUNC_TOPIC_EVENTS", "sns://arn:aws:sns:us-east-1:123456789012:events?timeout=1")
        call = lambda: portafunc.topic("events").publish("x")  # noqa: E731
    elif case == "sqs send_batch":
        monkeypatch.setenv("PORTAFUNC_QUEUE_JOBS", "sqs://arn:aws:sqs:us-east-1:123456789012:jobs?timeout=1")
        call, error = lambda: portafunc.queue("jobs").send_batch(["a", "b"]), PartialSendError
    elif case == "sqs receive":  # the long poll is asked for: wait + timeout
        monkeypatch.setenv("PORTAFUNC_QUEUE_JOBS", "sqs://arn:aws:sqs:us-east-1:123456789012:jobs?timeout=1")
        call, within = lambda: portafunc.queue("jobs").receive(10, wait=1), 2 + ROOM
    elif case == "s3 put":
        monkeypatch.setenv("PORTAFUNC_BUCKET_FILES", "s3://files?timeout=1")
        call, error = lambda: portafunc.bucket("files").put("k", b"data"), DataUnavailable
    elif case == "dynamodb kv get":
        monkeypatch.setenv("PORTAFUNC_KV_ORDERS", "dynamodb://orders?timeout=1")
        call, error = lambda: portafunc.kv("orders").get("k"), DataUnavailable
    else:
        store = store_factory("dynamodb://idem?timeout=1")
        call = lambda: store.put_in_progress("k", "hash", time.time() + 60, "owner")  # noqa: E731
        error = IdempotencyStoreError
    raised = gives_up(call, error, within)
    assert "ReadTimeout" in str(raised), raised


def test_an_attempt_runs_on_the_largest_tier_that_fits_and_tiers_are_few() -> None:
    assert clients.tier(None) == clients.tier(1000) == (5.0, 30.0)  # no deadline: the settings clients always had
    assert clients.tier(2.0) == (0.5, 1.5) and clients.tier(1.99) == (0.25, 0.75)
    assert clients.tier(0.01) == clients.TIERS[0]  # the last attempt may overrun by this much, less LAST_ATTEMPT
    assert all(sum(clients.tier(left / 10)) <= max(left / 10, sum(clients.TIERS[0])) for left in range(1, 500))
    clients.reset()
    try:
        for left in range(1, 400):
            with clients.until(time.monotonic() + left / 10):
                clients.for_now("sqs", "us-east-1")
        assert 1 < len(clients._clients) <= len(clients.TIERS)
    finally:
        clients.reset()


def test_a_long_poll_waits_on_top_of_its_tier_and_a_late_retry_polls_for_less() -> None:
    clients.reset()
    try:
        clients.for_now("sqs", "us-east-1")  # the session's first client: a while, which the tier would account for
        with clients.until(time.monotonic() + 20 + 2.5):
            found, wait = clients.for_now("sqs", "us-east-1", 20)
        assert wait == 20
        assert (found.meta.config.connect_timeout, found.meta.config.read_timeout) == (0.5, 1.5 + 20)
        with clients.until(time.monotonic() + 5):
            found, wait = clients.for_now("sqs", "us-east-1", 20)
        assert wait == 4 and found.meta.config.connect_timeout + found.meta.config.read_timeout <= 5
    finally:
        clients.reset()


@pytest.mark.emulator
def test_a_long_poll_longer_than_the_timeout_still_polls_for_its_wait(boto: Any) -> None:
    """On moto: receive(wait=2) with ?timeout=1 waits the 2 s and comes back empty, not with a read timeout."""
    _, arn = boto.queue("quiet")
    queue = SqsQueue(f"sqs://{arn}?timeout=1", "quiet")
    started = time.monotonic()
    assert queue.receive(10, wait=2) == []
    assert time.monotonic() - started >= 1.5  # it did wait (moto honours WaitTimeSeconds)


def test_a_batch_whose_entries_keep_failing_stops_at_its_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    """Entry retries sleep no further than the deadline, and a request it leaves no time for is not sent (per-entry
    failures through botocore's Stubber: moto never fails single entries)."""
    import boto3
    from botocore.stub import Stubber

    sqs = boto3.client("sqs", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    monkeypatch.setattr(clients, "_clients", {("sqs", "us-east-1", tier): sqs for tier in clients.TIERS})
    # backoffs of 0.1, 0.2, 0.4, 0.8 and 1.6 s: the deadline falls in the last, which would end at 3.1 s
    queue = SqsQueue("sqs://arn:aws:sqs:us-east-1:123456789012:q?timeout=1.8", "q")
    with Stubber(sqs) as stub:
        stub.add_response("send_message_batch", {
            "Successful": [{"Id": "0", "MessageId": "id-0", "MD5OfMessageBody": "x"}],
            "Failed": [{"Id": "1", "SenderFault": False, "Code": "ThrottlingException", "Message": "slow down"}]})
        for _ in range(5):
            stub.add_response("send_message_batch", {"Successful": [], "Failed": [
                {"Id": "1", "SenderFault": False, "Code": "ThrottlingException", "Message": "slow down"}]})
        monkeypatch.setattr(random, "uniform", lambda low, high: high)  # the longest backoff (and jitter) every time
        error = gives_up(lambda: queue.send_batch(["a", "b"]), PartialSendError, 1.8 + ROOM)
    assert "ran out" in str(error), error
    assert isinstance(error, PartialSendError) and error.accepted == ["id-0", None]


@pytest.mark.emulator
def test_event_handlers_registered_on_a_client_apply_to_every_tier(boto: Any) -> None:
    _, arn = boto.queue("hooked")
    seen: list[str] = []

    def record(params: dict[str, Any], **_: Any) -> None:
        seen.append(params["MessageBody"])

    SqsQueue(f"sqs://{arn}", "hooked").send("before")  # a tier built before the handler is registered
    clients.client("sqs", "us-east-1").meta.events.register("provide-client-params.sqs.SendMessage", record)
    for timeout in ("30", "5", "2.5"):  # three tiers, two of them built after
        SqsQueue(f"sqs://{arn}?timeout={timeout}", "hooked").send(timeout)
    assert seen == ["30", "5", "2.5"]
    assert len({key[2] for key in clients._clients}) >= 3
