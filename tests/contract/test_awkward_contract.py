"""The awkward app (tests/apps/awkward) on every target: a helper module publishes, a queue dead-letters to a
declared queue the test can read, the idempotent HTTP function replays."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from pydantic import BaseModel

from portafunc import App, BindingError, HttpRequest, Message
from portafunc.messaging.memory import broker

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "apps"))
from loading import load_test_app  # noqa: E402


class Named(BaseModel):
    id: str


@pytest.fixture(scope="module")
def awkward():
    return load_test_app("awkward")


def test_helper_module_publish_reaches_the_subscribers(cloud, awkward):
    seen = broker().subscribe("order-events", "watcher")
    resp = cloud.http(awkward, "POST", "/orders", json={"id": "o-1", "total": 3.5},
                      headers={"Idempotency-Key": "k-1"})
    assert resp.status == 201, resp.body
    [event] = seen.receive(10)
    assert json.loads(event.data) == {"id": "o-1"} and event.attributes["kind"] == "created"
    assert set(event.attributes) == {"kind", "traceparent", "correlation_id"}  # the publisher's trace goes along
    [work] = broker().queue("work").receive(10)
    assert json.loads(work.data) == {"id": "o-1", "total": 3.5}


def test_a_non_retryable_message_is_in_the_declared_dead_letter_queue(cloud, awkward):
    delivery = cloud.enqueue(awkward, "work", [{"id": "bad", "total": -1}, {"id": "ok", "total": 1}])
    assert delivery.ok  # dead-lettered messages are acknowledged: moved, not retried
    [dead] = cloud.dead_letters(awkward, "process_work")
    assert json.loads(dead.data) == {"id": "bad", "total": -1}
    assert dead.attributes["portafunc_error"].startswith("NonRetryableError")
    assert dead.attributes["portafunc_function"] == "process_work"


def test_reading_dead_letters_of_a_function_without_one_is_an_error(cloud, awkward):
    from portafunc.testing import ContractError

    with pytest.raises(ContractError, match="has no dead letter"):
        cloud.dead_letters(awkward, "audit")


def test_an_undeclared_helper_publish_fails_the_same_way_on_every_target(cloud, awkward):
    """Before the resource model the contract kit bound every name (memory://) and passed while the deployed
    function had no binding; now the kit refuses it exactly as the cloud does."""
    from notifications import order_event  # the awkward app's helper module (its directory is on sys.path)

    app = App("undeclared")
    raised: list[str] = []

    @app.http("POST", "/orders")
    def create(req: HttpRequest) -> str:
        try:
            order_event("created", "o-9")
        except BindingError as exc:
            raised.append(str(exc))
            raise
        return "ok"

    resp = cloud.http(app, "POST", "/orders", json={})
    assert resp.status == 500
    assert raised and "add uses=[publishes('order-events')]" in raised[0]


def test_a_payload_holding_a_lone_surrogate_escape_is_read_alike_on_every_target(cloud):
    """JSON lets text escape a lone surrogate (``\\ud800``), which parses to text no UTF-8 can hold. An untyped
    handler reads it from ``json()`` and a typed one refuses the payload as invalid without running, on every
    target: Azure's worker hands the function the already-parsed event, whose bytes portafunc writes back with the
    escape it arrived as."""
    app = App("lone-surrogate")
    seen: list[object] = []

    @app.topic("plain", name="untyped")
    def untyped(msg: Message) -> None:
        seen.append(msg.json())

    @app.topic("typed", name="typed")
    def typed(msg: Message[Named]) -> None:
        seen.append(msg.body)

    body = b'{"id": "\\ud800", "note": "caf\\u00e9"}'
    assert cloud.publish(app, "plain", body).ok
    assert seen == [{"id": "\ud800", "note": "café"}]
    refused = cloud.publish(app, "typed", body)
    assert not refused.ok and len(refused.failed_ids) == 1 and seen == [{"id": "\ud800", "note": "café"}]
