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
