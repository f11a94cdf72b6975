"""Idempotency through the real pipeline (invoke_message / invoke_batch / invoke_http) on every store.

Each test runs once per store — memory, DynamoDB on moto server, Azure Table Storage on Azurite, Firestore on its
emulator — and counts handler calls: a duplicate must never run the handler again.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any, Iterator

import pytest

from portafunc import App, idempotency
from portafunc.events import HttpRequest, Message
from portafunc.invoke import Outcome, invoke_batch, invoke_http, invoke_message

from log_support import level_of

pytest_plugins = [__name__.rpartition(".")[0] + ".idem_fixtures" if "." in __name__ else "idem_fixtures"]


class Calls:
    """Thread-safe handler-call counter."""

    def __init__(self) -> None:
        self.n = 0
        self.lock = threading.Lock()

    def hit(self) -> int:
        with self.lock:
            self.n += 1
            return self.n


def order_msg(msg_id: str, order: dict[str, Any], attempt: int = 1) -> Message:
    return Message(msg_id, json.dumps(order).encode(), delivery_attempt=attempt)


@pytest.fixture
def use_store(idem_env: Any, store_url: str, record_figure: Any) -> Iterator[str]:
    idem_env(store_url)
    idempotency.current_store().get("warm-up")  # build the SDK client before any lease is measured
    yield store_url
    record_figure(store_url, "pipeline", idempotency.stats(), add=True)


def test_duplicate_delivery_runs_once_and_replays_the_first_result(use_store: str) -> None:
    app, calls = App("shop"), Calls()

    @app.queue("orders", idempotency_key="id")
    def handle(msg: Message) -> dict[str, Any]:
        n = calls.hit()
        return {"order": msg.json()["order_id"], "run": n}

    spec = app.function("handle")
    first = invoke_message(spec, order_msg("m-1", {"order_id": "A1"}))
    again = [invoke_message(spec, order_msg("m-1", {"order_id": "A1"}, attempt=k)) for k in (2, 3, 4)]
    other = invoke_message(spec, order_msg("m-2", {"order_id": "A2"}))

    assert first.outcome is Outcome.SUCCESS and first.value == {"order": "A1", "run": 1}
    assert [r.outcome for r in again] == [Outcome.SUCCESS] * 3
    assert [r.value for r in again] == [{"order": "A1", "run": 1}] * 3  # the first result, replayed
    assert other.value == {"order": "A2", "run": 2}
    assert calls.n == 2
    assert idempotency.stats()["replayed"] == 3


def test_body_path_key_deduplicates_across_message_ids(use_store: str) -> None:
    app, calls = App("shop"), Calls()

    @app.topic("order-events", idempotency_key="body.order.id")
    def on_order(msg: Message) -> str:
        calls.hit()
        return "charged"

    spec = app.function("on_order")
    payload = {"order": {"id": 42, "total": 10}}
    results = invoke_batch(spec, [order_msg("a", payload), order_msg("b", payload), order_msg("c", payload)])
    assert results.ok and [r.value for r in results.results] == ["charged"] * 3
    assert calls.n == 1


def test_concurrent_duplicates_never_run_twice(use_store: str) -> None:
    """Eight threads deliver the same message at once: one runs, the others wait and get its result."""
    app, calls = App("shop"), Calls()

    @app.queue("orders", idempotency_key="id")
    def slow(msg: Message) -> int:
        n = calls.hit()
        time.sleep(0.4)
        return n

    spec = app.function("slow")
    barrier = threading.Barrier(8)
    results: list[Any] = []

    def deliver() -> None:
        barrier.wait()
        results.append(invoke_message(spec, order_msg("dup", {"order_id": "X"})))

    threads = [threading.Thread(target=deliver) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert calls.n == 1
    assert len(results) == 8
    assert [r.outcome for r in results] == [Outcome.SUCCESS] * 8
    assert {r.value for r in results} == {1}


def test_concurrent_duplicate_fails_retryable_when_the_wait_is_over(use_store: str,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORTAFUNC_IDEMPOTENCY_WAIT", "0.1")
    app, calls = App("shop"), Calls()
    started, release = threading.Event(), threading.Event()

    @app.queue("orders", idempotency_key="id")
    def blocking(msg: Message) -> str:
        calls.hit()
        started.set()
        release.wait(20)
        return "done"

    spec = app.function("blocking")
    first: list[Any] = []
    runner = threading.Thread(target=lambda: first.append(invoke_message(spec, order_msg("m", {"o": 1}))))
    runner.start()
    assert started.wait(20)
    busy = invoke_message(spec, order_msg("m", {"o": 1}, attempt=2))
    release.set()
    runner.join(20)
    assert busy.outcome is Outcome.RETRY and "IdempotencyInProgress" in (busy.error or "")
    assert first[0].outcome is Outcome.SUCCESS
    later = invoke_message(spec, order_msg("m", {"o": 1}, attempt=3))
    assert later.outcome is Outcome.SUCCESS and later.value == "done"
    assert calls.n == 1


def test_in_progress_record_expires_so_a_crashed_invocation_is_retried(use_store: str,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """A crash leaves an in-progress record nobody releases; after the lease the redelivery runs the handler."""
    monkeypatch.setenv("PORTAFUNC_IDEMPOTENCY_LEASE", "1.5")
    monkeypatch.setenv("PORTAFUNC_IDEMPOTENCY_WAIT", "0.2")
    app, calls = App("shop"), Calls()

    @app.queue("orders", idempotency_key="id")
    def work(msg: Message) -> str:
        calls.hit()
        return "ok"

    spec = app.function("work")
    msg = order_msg("crashed", {"o": 1})
    store = idempotency.current_store()
    key = idempotency.store_key("shop", "work", "crashed")
    # what the crashed invocation left behind: its claim, made with the pipeline's own lease
    assert store.put_in_progress(key, idempotency.payload_hash(msg), time.time() + 1.5)

    blocked = invoke_message(spec, order_msg("crashed", {"o": 1}, attempt=2))
    assert blocked.outcome is Outcome.RETRY and calls.n == 0
    time.sleep(1.6)
    retried = invoke_message(spec, order_msg("crashed", {"o": 1}, attempt=3))
    assert retried.outcome is Outcome.SUCCESS and calls.n == 1
    assert invoke_message(spec, order_msg("crashed", {"o": 1}, attempt=4)).value == "ok" and calls.n == 1


def test_a_failed_run_releases_the_key_so_the_redelivery_runs(use_store: str) -> None:
    app, calls = App("shop"), Calls()

    @app.queue("orders", idempotency_key="id")
    def flaky(msg: Message) -> int:
        n = calls.hit()
        if n == 1:
            raise ConnectionError("database away")
        return n

    spec = app.function("flaky")
    assert invoke_message(spec, order_msg("f", {"o": 1})).outcome is Outcome.RETRY
    second = invoke_message(spec, order_msg("f", {"o": 1}, attempt=2))
    third = invoke_message(spec, order_msg("f", {"o": 1}, attempt=3))
    assert (second.outcome, second.value, third.value) == (Outcome.SUCCESS, 2, 2)
    assert calls.n == 2


def test_reused_key_with_a_different_payload_is_non_retryable(use_store: str, monkeypatch: pytest.MonkeyPatch
                                                               ) -> None:
    monkeypatch.setenv("PORTAFUNC_DEADLETTER_CHARGE", "memory://idem-dlq")
    app, calls = App("shop"), Calls()

    @app.queue("orders", idempotency_key="body.order_id")
    def charge(msg: Message) -> str:
        calls.hit()
        return "charged"

    spec = app.function("charge")
    assert invoke_message(spec, order_msg("1", {"order_id": "A", "amount": 10})).outcome is Outcome.SUCCESS
    clash = invoke_message(spec, order_msg("2", {"order_id": "A", "amount": 99}))
    assert clash.outcome is Outcome.DEAD_LETTERED
    assert "IdempotencyKeyMismatch" in (clash.error or "")
    missing = invoke_message(spec, order_msg("3", {"amount": 5}))
    assert missing.outcome is Outcome.DEAD_LETTERED and "IdempotencyKeyMissing" in (missing.error or "")
    assert calls.n == 1
    assert idempotency.stats()["mismatched"] == 1


def test_topic_subscribers_each_run_once(use_store: str) -> None:
    """Two functions on one topic share message ids; keys are per function, so fan-out still reaches both."""
    app, calls = App("shop"), Calls()

    @app.topic("order-events", idempotency_key="id")
    def email(msg: Message) -> str:
        calls.hit()
        return "email"

    @app.topic("order-events", idempotency_key="id")
    def ledger(msg: Message) -> str:
        calls.hit()
        return "ledger"

    for _ in range(3):
        for name in ("email", "ledger"):
            invoke_message(app.function(name), order_msg("evt-1", {"o": 1}))
    assert calls.n == 2


# -- HTTP ---------------------------------------------------------------------------------------------------------

def post(body: dict[str, Any], key: str | None = "k-1", path: str = "/orders") -> HttpRequest:
    headers = {"content-type": "application/json"}
    if key is not None:
        headers["Idempotency-Key"] = key
    return HttpRequest("POST", path, headers=headers, body=json.dumps(body).encode())


def http_app(calls: Calls) -> Any:
    app = App("shop")

    @app.http("POST", "/orders", idempotent=True)
    def create(req: HttpRequest) -> Any:
        n = calls.hit()
        if req.json().get("explode"):
            raise RuntimeError("boom")
        from portafunc.events import HttpResponse

        resp = HttpResponse.json({"order": n, "sku": req.json()["sku"]}, status=201)
        resp.headers.add("Location", f"/orders/{n}")
        resp.set_cookie("seen", str(n))
        return resp

    return app.function("create")


def test_http_duplicate_replays_the_first_response(use_store: str) -> None:
    calls = Calls()
    spec = http_app(calls)
    first = invoke_http(spec, post({"sku": "X"}))
    second = invoke_http(spec, post({"sku": "X"}))
    assert first.status == 201 and second.status == 201
    assert second.body == first.body and second.json_body() == {"order": 1, "sku": "X"}
    assert second.headers.get("location") == "/orders/1"
    assert [c.split(";")[0] for c in first.headers.get_all("set-cookie")] == ["seen=1"]
    assert second.headers.get_all("set-cookie") == []  # a session cookie is never replayed
    assert second.headers.get("idempotent-replayed") == "true" and "idempotent-replayed" not in first.headers
    assert calls.n == 1
    # no Idempotency-Key: an ordinary request, run every time
    invoke_http(spec, post({"sku": "X"}, key=None))
    invoke_http(spec, post({"sku": "X"}, key=None))
    assert calls.n == 3


def test_http_reused_key_with_another_body_is_422(use_store: str) -> None:
    calls = Calls()
    spec = http_app(calls)
    assert invoke_http(spec, post({"sku": "X"})).status == 201
    clash = invoke_http(spec, post({"sku": "Y"}))
    assert clash.status == 422 and clash.content_type == "application/problem+json"
    assert clash.json_body()["title"] == "Idempotency key reused"
    assert calls.n == 1


def test_http_failure_is_not_stored_and_concurrent_duplicate_gets_409(use_store: str,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    calls = Calls()
    spec = http_app(calls)
    assert invoke_http(spec, post({"sku": "X", "explode": True}, key="e")).status == 500
    assert invoke_http(spec, post({"sku": "X", "explode": True}, key="e")).status == 500
    assert calls.n == 2  # a 5xx is not replayed: the client's retry runs again

    monkeypatch.setenv("PORTAFUNC_IDEMPOTENCY_WAIT", "0")
    store = idempotency.current_store()
    req = post({"sku": "Z"}, key="busy")
    assert store.put_in_progress(idempotency.store_key("shop", "create", "busy"), idempotency.payload_hash(req),
                                 time.time() + 30)
    busy = invoke_http(spec, post({"sku": "Z"}, key="busy"))
    assert busy.status == 409 and int(busy.headers["retry-after"]) >= 1
    assert calls.n == 2


def test_duplicate_storm(use_store: str) -> None:
    """30 messages, each delivered 4 times in shuffled order by 8 concurrent workers: 30 handler runs, 90 suppressed."""
    import random
    from concurrent.futures import ThreadPoolExecutor

    app = App("shop")
    runs: dict[str, int] = {}
    lock = threading.Lock()

    @app.queue("orders", idempotency_key="id")
    def work(msg: Message) -> str:
        with lock:
            runs[msg.id] = runs.get(msg.id, 0) + 1
        time.sleep(0.01)
        return f"done-{msg.id}"

    spec = app.function("work")
    deliveries = [f"m{i}" for i in range(30)] * 4
    random.Random(9).shuffle(deliveries)
    before = idempotency.stats()
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda mid: invoke_message(spec, order_msg(mid, {"id": mid})), deliveries))
    assert runs == {f"m{i}": 1 for i in range(30)}
    assert all(r.outcome is Outcome.SUCCESS and r.value == f"done-{r.message_id}" for r in results)
    after = idempotency.stats()
    assert after["replayed"] - before["replayed"] == 90


# -- a handler that outlives its lease ------------------------------------------------------------------------------

class Gate:
    """One handler run: says when it started, then waits until the test lets it finish."""

    def __init__(self) -> None:
        self.started = threading.Event()
        self.go = threading.Event()


@pytest.fixture
def gates() -> Iterator[list[Gate]]:
    """Runs A and B; released at teardown so a failing test leaves no handler thread waiting."""
    both = [Gate(), Gate()]
    yield both
    for gate in both:
        gate.go.set()


def late_warnings(stderr: str) -> list[dict[str, Any]]:
    """The WARNING lines the guard writes when a late write is refused."""
    found = []
    for line in stderr.splitlines():
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if isinstance(rec, dict) and level_of(rec) == "WARNING" and "outlived its lease" in rec.get("message", ""):
            found.append(rec)
    return found


def outlive_the_lease(monkeypatch: pytest.MonkeyPatch, gates: list[Gate],
                      deliver: Any) -> tuple[threading.Thread, threading.Thread]:
    """Start run A with a 0.5 s lease, let the lease pass while it runs, then start the redelivery B (whose claim
    gets a 30 s lease so it holds for the rest of the test) and wait until B's handler runs."""
    monkeypatch.setenv("PORTAFUNC_IDEMPOTENCY_LEASE", "0.5")
    monkeypatch.setenv("PORTAFUNC_IDEMPOTENCY_WAIT", "0.1")
    first = threading.Thread(target=deliver, args=("A", 1), daemon=True)
    first.start()
    assert gates[0].started.wait(20)
    time.sleep(0.7)
    monkeypatch.setenv("PORTAFUNC_IDEMPOTENCY_LEASE", "30")
    second = threading.Thread(target=deliver, args=("B", 2), daemon=True)
    second.start()
    assert gates[1].started.wait(20), "the redelivery did not take the expired claim over"
    return first, second


def test_late_completion_after_a_takeover_is_refused(use_store: str, monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str], gates: list[Gate]) -> None:
    """Run A outlives its lease; redelivery B takes the key over and is still running when A finishes.

    The documented outcome: the handler ran twice (inherent once the lease is shorter than the run); A's caller gets
    A's result; A's write is refused (one WARNING with key and function, no payload; ``late_complete_refused``); a
    third delivery while B runs is refused as in progress, not run; later duplicates replay B's result.
    """
    app, calls = App("shop"), Calls()

    @app.queue("orders", idempotency_key="id")
    def charge(msg: Message) -> dict[str, int]:
        n = calls.hit()
        gates[n - 1].started.set()
        assert gates[n - 1].go.wait(20)
        return {"run": n}

    spec = app.function("charge")
    results: dict[str, Any] = {}

    def deliver(name: str, attempt: int) -> None:
        results[name] = invoke_message(spec, order_msg("slow", {"card": "4242-secret"}, attempt))

    first, second = outlive_the_lease(monkeypatch, gates, deliver)
    gates[0].go.set()
    first.join(20)
    assert results["A"].outcome is Outcome.SUCCESS and results["A"].value == {"run": 1}
    assert idempotency.stats()["late_complete_refused"] == 1
    rec = idempotency.current_store().get(idempotency.store_key("shop", "charge", "slow"))
    assert rec is not None and not rec.completed and rec.result is None  # still B's in-progress claim

    third = invoke_message(spec, order_msg("slow", {"card": "4242-secret"}, attempt=3))
    assert third.outcome is Outcome.RETRY and "IdempotencyInProgress" in (third.error or "")
    gates[1].go.set()
    second.join(20)
    assert results["B"].outcome is Outcome.SUCCESS and results["B"].value == {"run": 2}
    later = invoke_message(spec, order_msg("slow", {"card": "4242-secret"}, attempt=4))
    assert later.outcome is Outcome.SUCCESS and later.value == {"run": 2}
    assert calls.n == 2
    stats = idempotency.stats()
    assert (stats["late_complete_refused"], stats["late_release_refused"]) == (1, 0)
    warned = late_warnings(capsys.readouterr().err)
    assert len(warned) == 1
    assert warned[0]["key"] == "shop.charge:slow" and warned[0]["function"] == "charge"
    assert "4242-secret" not in json.dumps(warned[0])  # the payload; ids are random hex and may hold "4242"


def test_late_failure_after_a_takeover_does_not_release_the_key(use_store: str, monkeypatch: pytest.MonkeyPatch,
                                                                capsys: pytest.CaptureFixture[str],
                                                                gates: list[Gate]) -> None:
    """Run A outlives its lease and then fails while redelivery B runs: A must not delete B's claim, or a third
    delivery would run the handler alongside B."""
    app, calls = App("shop"), Calls()

    @app.queue("orders", idempotency_key="id")
    def ship(msg: Message) -> str:
        n = calls.hit()
        gates[n - 1].started.set()
        assert gates[n - 1].go.wait(20)
        if n == 1:
            raise ConnectionError("carrier API timed out")
        return f"shipped by run {n}"

    spec = app.function("ship")
    results: dict[str, Any] = {}

    def deliver(name: str, attempt: int) -> None:
        results[name] = invoke_message(spec, order_msg("parcel", {"o": 1}, attempt))

    first, second = outlive_the_lease(monkeypatch, gates, deliver)
    gates[0].go.set()
    first.join(20)
    assert results["A"].outcome is Outcome.RETRY and "ConnectionError" in (results["A"].error or "")
    assert idempotency.stats()["late_release_refused"] == 1
    third = invoke_message(spec, order_msg("parcel", {"o": 1}, attempt=3))
    assert third.outcome is Outcome.RETRY and "IdempotencyInProgress" in (third.error or "")
    gates[1].go.set()
    second.join(20)
    assert results["B"].value == "shipped by run 2"
    assert invoke_message(spec, order_msg("parcel", {"o": 1}, attempt=4)).value == "shipped by run 2"
    assert calls.n == 2
    warned = late_warnings(capsys.readouterr().err)
    assert [(w["key"], w["function"]) for w in warned] == [("shop.ship:parcel", "ship")]


def test_http_late_response_is_returned_but_not_stored(use_store: str, monkeypatch: pytest.MonkeyPatch,
                                                       gates: list[Gate]) -> None:
    """HTTP: the slow first request still gets its own 201; the retry that took the key over is what is replayed."""
    from portafunc.events import HttpResponse

    app, calls = App("shop"), Calls()

    @app.http("POST", "/orders", idempotent=True)
    def create(req: HttpRequest) -> HttpResponse:
        n = calls.hit()
        gates[n - 1].started.set()
        assert gates[n - 1].go.wait(20)
        return HttpResponse.json({"order": n}, status=201)

    spec = app.function("create")
    results: dict[str, Any] = {}

    def deliver(name: str, attempt: int) -> None:
        results[name] = invoke_http(spec, post({"sku": "X"}, key="late"))

    first, second = outlive_the_lease(monkeypatch, gates, deliver)
    gates[1].go.set()  # this time B finishes first; A's later write must not replace B's stored response
    second.join(20)
    gates[0].go.set()
    first.join(20)
    assert (results["A"].status, results["A"].json_body()) == (201, {"order": 1})
    assert (results["B"].status, results["B"].json_body()) == (201, {"order": 2})
    replay = invoke_http(spec, post({"sku": "X"}, key="late"))
    assert replay.json_body() == {"order": 2} and replay.headers.get("idempotent-replayed") == "true"
    assert calls.n == 2 and idempotency.stats()["late_complete_refused"] == 1


class LegacyStore(idempotency.IdempotencyStore):
    """A third-party store written before owner tokens: no ``owner=`` anywhere, complete/delete return None."""

    def __init__(self, url: str) -> None:
        self.inner = idempotency.MemoryStore()

    def put_in_progress(self, key: str, payload_hash: str, expires_at: float) -> bool:  # type: ignore[override]
        return self.inner.put_in_progress(key, payload_hash, expires_at)

    def complete(self, key: str, payload_hash: str, result: str, expires_at: float) -> None:  # type: ignore[override]
        self.inner.complete(key, payload_hash, result, expires_at)

    def get(self, key: str) -> Any:
        return self.inner.get(key)

    def delete(self, key: str) -> None:  # type: ignore[override]
        self.inner.delete(key)


def test_a_store_without_owner_tokens_keeps_working(idem_env: Any) -> None:
    """Backward compatibility: the guard calls a store that predates owner tokens without them."""
    idempotency.register_store("legacy", LegacyStore)
    idem_env("legacy://one")
    app, calls = App("shop"), Calls()

    @app.queue("orders", idempotency_key="id")
    def flaky(msg: Message) -> int:
        n = calls.hit()
        if n == 1:
            raise ConnectionError("down")
        return n

    spec = app.function("flaky")
    assert invoke_message(spec, order_msg("x", {"o": 1})).outcome is Outcome.RETRY  # released without owner=
    assert invoke_message(spec, order_msg("x", {"o": 1}, attempt=2)).value == 2
    assert invoke_message(spec, order_msg("x", {"o": 1}, attempt=3)).value == 2  # replayed
    assert calls.n == 2
    stats = idempotency.stats()
    assert (stats["late_complete_refused"], stats["late_release_refused"]) == (0, 0)
