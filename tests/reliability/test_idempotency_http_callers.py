"""Idempotent HTTP never crosses callers, on every store: memory, DynamoDB (moto server), Azure Table Storage
(Azurite), Firestore (emulator) — through the real pipeline (``invoke_http`` / ``invoke_message``).

A second client sending the same ``Idempotency-Key`` and body runs its own request; a 422 concerns only the caller's
own keys; query strings are part of the fingerprint; 401/403/429/5xx are never stored; ``Set-Cookie`` is never
replayed; a lease of 0 or less is a configuration error; a claim whose write landed but whose answer was lost
continues as its owner.
"""

from __future__ import annotations

import json
import threading
from typing import Any, Iterator

import pytest

from portafunc import App, idempotency
from portafunc.events import HttpRequest, HttpResponse, Message
from portafunc.invoke import Outcome, invoke_http, invoke_message

pytest_plugins = [__name__.rpartition(".")[0] + ".idem_fixtures" if "." in __name__ else "idem_fixtures"]

ALICE = "Bearer alice-token-0001"
BOB = "Bearer bob-token-0002"


@pytest.fixture
def use_store(idem_env: Any, store_url: str) -> Iterator[str]:
    idem_env(store_url)
    idempotency.current_store().get("warm-up")  # build the SDK client first
    yield store_url


class Shop:
    """An idempotent POST /orders whose answer depends on the caller, with a status chosen by the body."""

    def __init__(self) -> None:
        self.calls: list[str | None] = []
        self.lock = threading.Lock()
        app = App("shop")

        @app.http("POST", "/orders", idempotent=True)
        def create(req: HttpRequest) -> HttpResponse:
            with self.lock:
                self.calls.append(req.headers.get("authorization"))
                n = len(self.calls)
            status = int(req.json().get("status", 201))
            resp = HttpResponse.json({"order": n, "for": req.headers.get("authorization")}, status=status)
            resp.set_cookie("session", f"secret-session-of-{req.headers.get('authorization')}")
            return resp

        self.spec = app.function("create")

    def post(self, body: dict[str, Any], *, auth: str | None = ALICE, key: str = "key-1",
             query: dict[str, list[str]] | None = None, cookie: str | None = None) -> HttpResponse:
        headers = {"content-type": "application/json", "Idempotency-Key": key}
        if auth is not None:
            headers["Authorization"] = auth
        if cookie is not None:
            headers["Cookie"] = cookie
        return invoke_http(self.spec, HttpRequest("POST", "/orders", query=query or {}, headers=headers,
                                                  body=json.dumps(body).encode()))


def test_same_key_and_body_from_another_caller_is_not_replayed(use_store: str) -> None:
    shop = Shop()
    alice = shop.post({"sku": "X"}, auth=ALICE)
    bob = shop.post({"sku": "X"}, auth=BOB)
    assert alice.json_body() == {"order": 1, "for": ALICE}
    assert bob.json_body() == {"order": 2, "for": BOB} and "idempotent-replayed" not in bob.headers
    again = shop.post({"sku": "X"}, auth=ALICE)  # alice's own retry is still deduplicated
    assert again.json_body() == alice.json_body() and again.headers.get("idempotent-replayed") == "true"
    assert shop.calls == [ALICE, BOB]


def test_session_cookie_scopes_callers_without_authorization(use_store: str) -> None:
    shop = Shop()
    first = shop.post({"sku": "X"}, auth=None, cookie="sid=aaa")
    second = shop.post({"sku": "X"}, auth=None, cookie="sid=bbb")
    assert first.json_body()["order"] == 1 and second.json_body()["order"] == 2
    assert shop.post({"sku": "X"}, auth=None, cookie="sid=aaa").headers.get("idempotent-replayed") == "true"
    assert len(shop.calls) == 2


def test_422_does_not_reveal_another_callers_key(use_store: str) -> None:
    shop = Shop()
    assert shop.post({"sku": "X"}, auth=ALICE, key="secret-order-42").status == 201
    probe = shop.post({"sku": "probe"}, auth=BOB, key="secret-order-42")
    assert probe.status == 201 and probe.json_body()["for"] == BOB  # for bob the key is simply unused
    clash = shop.post({"sku": "Y"}, auth=ALICE, key="secret-order-42")
    assert clash.status == 422
    detail = clash.json_body()["detail"]
    assert "secret-order-42" not in detail and "shop.create" not in detail  # no key, no store layout


def test_query_string_is_part_of_the_fingerprint(use_store: str) -> None:
    shop = Shop()
    assert shop.post({"sku": "X"}, query={"dry_run": ["false"]}).status == 201
    assert shop.post({"sku": "X"}, query={"dry_run": ["true"]}).status == 422  # same key, another request
    assert shop.post({"sku": "X"}, query={"dry_run": ["false"]}).headers.get("idempotent-replayed") == "true"
    assert len(shop.calls) == 1


@pytest.mark.parametrize("status", [401, 403, 408, 429, 500, 503])
def test_refusals_and_server_errors_are_never_stored(use_store: str, status: int) -> None:
    shop = Shop()
    assert shop.post({"status": status}).status == status
    retried = shop.post({"status": status})
    assert retried.status == status and "idempotent-replayed" not in retried.headers
    assert len(shop.calls) == 2  # the retry ran again


def test_set_cookie_is_never_replayed_nor_stored(use_store: str) -> None:
    shop = Shop()
    first = shop.post({"sku": "X"})
    assert first.headers.get_all("set-cookie") and "secret-session" in first.headers["set-cookie"]
    replay = shop.post({"sku": "X"})
    assert replay.headers.get("idempotent-replayed") == "true" and replay.headers.get_all("set-cookie") == []
    store = idempotency.current_store()
    req = HttpRequest("POST", "/orders", headers={"Authorization": ALICE})
    record = store.get(idempotency.http_store_key(shop.spec, req, "key-1"))
    assert record is not None and record.completed and "secret-session" not in (record.result or "")
    assert "alice-token" not in record.key  # the caller is a hash, never the credential


@pytest.mark.parametrize("value", ["0", "-5", "soon", "nan"])
def test_a_lease_of_zero_or_less_is_a_configuration_error(use_store: str, monkeypatch: pytest.MonkeyPatch,
                                                          value: str) -> None:
    monkeypatch.setenv("PORTAFUNC_IDEMPOTENCY_LEASE", value)
    shop = Shop()
    resp = shop.post({"sku": "X"})
    assert resp.status == 500 and shop.calls == []  # refused loudly, the handler never ran unguarded
    app = App("shop")
    ran: list[str] = []

    @app.queue("orders", idempotency_key="id")
    def consume(msg: Message) -> None:
        ran.append(msg.id)

    result = invoke_message(app.function("consume"), Message("m-1", b"{}"))
    assert result.outcome is Outcome.RETRY and ran == []  # redelivered (then dead-lettered), never run unguarded
    assert "PORTAFUNC_IDEMPOTENCY_LEASE" in (result.error or "")


def test_a_ttl_of_zero_is_a_configuration_error(use_store: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from portafunc.idempotency import IdempotencyConfigError
    from portafunc.idempotency.guard import ttl_seconds

    monkeypatch.setenv("PORTAFUNC_IDEMPOTENCY_TTL", "0")
    with pytest.raises(IdempotencyConfigError, match="PORTAFUNC_IDEMPOTENCY_TTL"):
        ttl_seconds()


class _LostAnswers:
    """Fault injection around the real store: the claim's conditional write lands, then its answer is lost —
    as a timeout (``raise``) or as an SDK retry of the landed write meeting its own condition (``retry``)."""

    def __init__(self, store: Any, mode: str) -> None:
        self.store, self.mode = store, mode
        self.original = store.put_in_progress
        self.faults = 0

    def put_in_progress(self, key: str, payload_hash: str, expires_at: float, owner: str | None = None) -> bool:
        won = self.original(key, payload_hash, expires_at, owner=owner)
        if won and self.faults == 0:
            self.faults += 1
            if self.mode == "raise":
                raise TimeoutError("the answer to the conditional write timed out")
            return self.original(key, payload_hash, expires_at, owner=owner)  # the retry: condition fails
        return won


@pytest.mark.parametrize("mode", ["raise", "retry"])
def test_a_claim_whose_answer_was_lost_recognises_its_own_token(use_store: str, monkeypatch: pytest.MonkeyPatch,
                                                                mode: str) -> None:
    monkeypatch.setenv("PORTAFUNC_IDEMPOTENCY_WAIT", "0")
    store = idempotency.current_store()
    fault = _LostAnswers(store, mode)
    monkeypatch.setattr(store, "put_in_progress", fault.put_in_progress)
    shop = Shop()
    first = shop.post({"sku": "X"})
    assert first.status == 201 and len(shop.calls) == 1 and fault.faults == 1  # not 409 for its own claim
    replay = shop.post({"sku": "X"})
    assert replay.headers.get("idempotent-replayed") == "true" and len(shop.calls) == 1

    app = App("jobs")
    ran: list[str] = []

    @app.queue("work", idempotency_key="id")
    def work(msg: Message) -> str:
        ran.append(msg.id)
        return "done"

    fault.faults = 0
    result = invoke_message(app.function("work"), Message("job-1", b"{}"))
    assert result.outcome is Outcome.SUCCESS and ran == ["job-1"] and fault.faults == 1
    assert invoke_message(app.function("work"), Message("job-1", b"{}", delivery_attempt=2)).outcome is Outcome.SUCCESS
    assert ran == ["job-1"]


def test_a_lost_answer_for_someone_elses_claim_still_fails(use_store: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The token check must not turn a genuine store failure into a won claim."""
    import time

    store = idempotency.current_store()
    shop = Shop()
    req = HttpRequest("POST", "/orders", headers={"Authorization": ALICE})
    key = idempotency.http_store_key(shop.spec, req, "key-1")
    assert store.put_in_progress(key, "another request", time.time() + 30, owner="someone-else")
    original = store.put_in_progress

    def failing(*args: Any, **kwargs: Any) -> bool:
        raise TimeoutError("store unreachable")

    monkeypatch.setattr(store, "put_in_progress", failing)
    assert shop.post({"sku": "X"}).status == 500 and shop.calls == []
    monkeypatch.setattr(store, "put_in_progress", original)
