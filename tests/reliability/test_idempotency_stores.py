"""The store protocol itself, on every store: memory, DynamoDB (moto server), Azure Table (Azurite), Firestore
(emulator). The claim must be atomic: of any number of concurrent callers exactly one wins while a live record exists,
and exactly one wins the takeover of an expired one.
"""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from portafunc import idempotency
from portafunc.idempotency import COMPLETED, IN_PROGRESS, IdempotencyStore

pytest_plugins = [__name__.rpartition(".")[0] + ".idem_fixtures" if "." in __name__ else "idem_fixtures"]


@pytest.fixture
def store(idem_env: object, store_url: str) -> IdempotencyStore:
    return idempotency.open_store(store_url)


def test_claim_get_complete_delete(store: IdempotencyStore) -> None:
    now = time.time()
    assert store.get("k") is None
    assert store.put_in_progress("k", "h1", now + 30) is True
    assert store.put_in_progress("k", "h1", now + 30) is False  # live record: no second claim
    rec = store.get("k")
    assert rec is not None and rec.status == IN_PROGRESS and rec.payload_hash == "h1" and rec.result is None
    assert abs(rec.expires_at - (now + 30)) < 0.01
    store.complete("k", "h1", '{"value": 1}', now + 60)
    rec = store.get("k")
    assert rec is not None and rec.completed and rec.status == COMPLETED and rec.result == '{"value": 1}'
    assert store.put_in_progress("k", "h1", now + 30) is False  # completed and live: still no claim
    store.delete("k")
    assert store.get("k") is None
    store.delete("k")  # deleting a missing key is fine
    assert store.put_in_progress("k", "h2", now + 30) is True


def test_keys_with_awkward_characters_and_large_results(store: IdempotencyStore) -> None:
    key = "shop.charge:" + "/#?\\ é 字 " * 20
    big = json.dumps({"value": "x" * 150_000 + "é字"})
    assert store.put_in_progress(key, "h", time.time() + 30)
    store.complete(key, "h", big, time.time() + 30)
    rec = store.get(key)
    assert rec is not None and rec.key == key and rec.result == big


def test_expired_records_can_be_claimed_again(store: IdempotencyStore) -> None:
    store.get("warm-up")  # the first call builds the SDK client: keep it out of the lease being measured
    assert store.put_in_progress("in-progress", "h", time.time() + 1.0)
    assert store.put_in_progress("done", "h", time.time() + 30)
    store.complete("done", "h", "{}", time.time() + 1.0)
    assert not store.put_in_progress("in-progress", "h", time.time() + 30)
    assert not store.put_in_progress("done", "h", time.time() + 30)
    time.sleep(1.1)
    assert store.put_in_progress("in-progress", "h", time.time() + 30)
    assert store.put_in_progress("done", "h", time.time() + 30)
    rec = store.get("done")
    assert rec is not None and rec.status == IN_PROGRESS and rec.result is None  # the old result is gone


def test_concurrent_claims_exactly_one_wins(store: IdempotencyStore, store_url: str, record_figure: Any) -> None:
    """12 threads race for each of 10 keys, on a fresh key and on an expired record (the takeover race)."""
    threads, keys = 12, 10
    store.get("warm-up")
    for k in range(keys):
        assert store.put_in_progress(f"expired-{k}", "h", time.time() + 0.2)
    time.sleep(0.3)
    wins: dict[str, int] = {}
    lock = threading.Lock()
    barrier = threading.Barrier(threads)

    def race(worker: int) -> None:
        barrier.wait()
        for k in range(keys):
            for prefix in ("fresh", "expired"):
                key = f"{prefix}-{k}"
                if store.put_in_progress(key, "h", time.time() + 30):
                    with lock:
                        wins[key] = wins.get(key, 0) + 1

    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(race, range(threads)))
    elapsed = time.perf_counter() - started
    assert wins == {f"{p}-{k}": 1 for k in range(keys) for p in ("fresh", "expired")}
    attempts = threads * keys * 2
    record_figure(store_url, "concurrent_claims", {"attempts": attempts, "won": len(wins),
                                                    "refused": attempts - len(wins),
                                                    "ms_per_claim": round(elapsed * 1000 / attempts * threads, 2)})


def _second_instance(store: IdempotencyStore, store_url: str) -> IdempotencyStore:
    """The store as another process sees it: a new instance with no remembered claim versions. The memory store is
    per process by design, so there the same instance stands for both."""
    if store_url.startswith("memory://"):
        return store
    idempotency.reset()
    other = idempotency.open_store(store_url)
    assert other is not store
    return other


def test_late_owner_cannot_overwrite_or_release_a_takeover(store: IdempotencyStore, store_url: str,
                                                          record_figure: Any) -> None:
    """A claims with a short lease and outlives it; B (another process) takes the key over. A's complete and delete
    are refused — before and after B completes — and B's record is the one duplicates see."""
    assert store.owner_checks
    store.get("warm-up")
    a, b = "a" * 16, "b" * 16
    assert store.put_in_progress("k", "h", time.time() + 0.3, owner=a)
    time.sleep(0.4)
    store_b = _second_instance(store, store_url)
    assert store_b.put_in_progress("k", "h", time.time() + 30, owner=b)
    refused = {"complete": 0, "delete": 0}

    def late_writes_by_a() -> None:
        assert store.complete("k", "h", '{"value": "A"}', time.time() + 60, owner=a) is False
        refused["complete"] += 1
        assert store.delete("k", owner=a) is False
        refused["delete"] += 1

    late_writes_by_a()  # A's remembered claim version is stale: refused after reading the owner
    rec = store_b.get("k")
    assert rec is not None and rec.status == IN_PROGRESS and rec.owner == b and rec.result is None
    assert not store.put_in_progress("k", "h", time.time() + 30, owner="c" * 16)  # no third run while B runs
    assert store_b.complete("k", "h", '{"value": "B"}', time.time() + 60, owner=b) is True
    late_writes_by_a()  # and after B completed
    rec = store.get("k")
    assert rec is not None and rec.completed and rec.owner == b and rec.result == '{"value": "B"}'
    record_figure(store_url, "late_writes_refused_store", refused, add=True)


def test_owner_finishes_its_own_claim_from_any_instance(store: IdempotencyStore, store_url: str) -> None:
    """The owner's conditional complete/delete succeed (also without a remembered version: the read path);
    complete on a record that is gone is refused, delete of a missing key is fine."""
    owner = "0123456789abcdef"
    assert store.put_in_progress("mine", "h", time.time() + 30, owner=owner)
    rec = store.get("mine")
    assert rec is not None and rec.owner == owner
    assert store.complete("mine", "h", '{"value": 1}', time.time() + 60, owner=owner) is True
    rec = store.get("mine")
    assert rec is not None and rec.completed and rec.result == '{"value": 1}' and rec.owner == owner

    assert store.put_in_progress("fail", "h", time.time() + 30, owner=owner)
    other = _second_instance(store, store_url)
    assert other.delete("fail", owner=owner) is True
    assert store.get("fail") is None
    assert store.delete("fail", owner=owner) is True  # already gone
    assert store.complete("fail", "h", "{}", time.time() + 60, owner=owner) is False  # gone: not ours to write

    assert store.put_in_progress("via-read", "h", time.time() + 30, owner=owner)
    assert other.complete("via-read", "h", '{"value": 2}', time.time() + 60, owner=owner) is True
    rec = store.get("via-read")
    assert rec is not None and rec.completed and rec.result == '{"value": 2}'


def test_unconditional_writes_ignore_owners(store: IdempotencyStore) -> None:
    """``owner=None`` keeps the old protocol: complete/delete write whatever the record holds."""
    assert store.put_in_progress("legacy", "h", time.time() + 30, owner="f" * 16)
    assert store.complete("legacy", "h", '{"value": 3}', time.time() + 60) is True
    rec = store.get("legacy")
    assert rec is not None and rec.completed and rec.result == '{"value": 3}'
    assert store.put_in_progress("legacy2", "h", time.time() + 30)
    assert store.get("legacy2").owner is None  # type: ignore[union-attr]
    store.delete("legacy2")
    assert store.get("legacy2") is None


def test_cost_of_owner_checked_finish(store: IdempotencyStore, store_url: str, record_figure: Any) -> None:
    """Claim + complete for 20 keys with owner tokens and 20 without: every record ends completed either way; the
    figure is what the owner condition adds per finished invocation (one conditional write on every store)."""
    store.get("warm-up")
    timings = {}
    for mode in ("plain", "owner"):
        started = time.perf_counter()
        for i in range(20):
            key, owner = f"{mode}-{i}", (f"{i:016x}" if mode == "owner" else None)
            kwargs = {"owner": owner} if owner else {}
            assert store.put_in_progress(key, "h", time.time() + 30, **kwargs)
            assert store.complete(key, "h", f'{{"value": {i}}}', time.time() + 60, **kwargs) is True
        timings[mode] = (time.perf_counter() - started) * 1000 / 20
        for i in range(20):
            rec = store.get(f"{mode}-{i}")
            assert rec is not None and rec.completed and rec.result == f'{{"value": {i}}}'
    record_figure(store_url, "claim_plus_complete_ms", {k: round(v, 2) for k, v in timings.items()})
