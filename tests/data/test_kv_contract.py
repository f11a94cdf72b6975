"""One key-value contract, run unchanged on every backend: memory://, dynamodb:// (moto server), aztable:// (Azurite)
and firestore:// (the Firestore emulator). Optimistic concurrency is checked for real: concurrent read-modify-write
loops with ``if_version`` must lose no update on any backend.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from pydantic import BaseModel

import portafunc
from portafunc.data import ABSENT, KV, KeyNotFound, VersionConflict
from portafunc.errors import PayloadValidationError


class Order(BaseModel):
    id: str
    total: float
    items: list[str] = []


@pytest.fixture
def table(kv_url: str) -> KV:
    return portafunc.kv("test")


def test_put_get_delete_and_missing_keys(table: KV) -> None:
    with pytest.raises(KeyNotFound) as caught:
        table.get("missing")
    assert caught.value.key == "missing"
    version = table.put("k", {"a": 1})
    assert isinstance(version, str) and version
    assert table.get("k") == {"a": 1}
    table.delete("k")
    with pytest.raises(KeyNotFound):
        table.get("k")
    table.delete("k")  # a missing key is fine without if_version


@pytest.mark.parametrize("value", [None, True, 0, -1.5, "text é 字", [1, "two", None], {"nested": {"list": [1, 2]}},
                                   {"big": "x" * 100_000 + "é"}])
def test_json_values_round_trip_equal(table: KV, value: Any) -> None:
    table.put("v", value)
    assert table.get("v") == value


def test_keys_with_awkward_characters_and_prefix_listing(table: KV) -> None:
    keys = ["user/1", "user/2", "user/10", "users", "order/1", "odd/#?\\ é 字 %2F"]
    for key in keys:
        table.put(key, key)
    assert sorted(table.keys("user/")) == ["user/1", "user/10", "user/2"]
    assert sorted(table.keys("user")) == ["user/1", "user/10", "user/2", "users"]
    assert sorted(table.keys()) == sorted(keys)
    assert table.get("odd/#?\\ é 字 %2F") == "odd/#?\\ é 字 %2F"
    assert list(table.keys("zzz")) == []


def test_if_version_writes_only_over_the_version_read(table: KV) -> None:
    v1 = table.put("k", {"n": 1})
    entry = table.entry("k")
    assert (entry.value, entry.version) == ({"n": 1}, v1)
    v2 = table.put("k", {"n": 2}, if_version=v1)
    assert v2 != v1
    with pytest.raises(VersionConflict) as lost:
        table.put("k", {"n": 3}, if_version=v1)  # someone wrote since v1
    assert lost.value.key == "k"
    assert table.get("k") == {"n": 2}
    with pytest.raises(VersionConflict):
        table.delete("k", if_version=v1)
    table.delete("k", if_version=v2)
    with pytest.raises(KeyNotFound):
        table.get("k")
    with pytest.raises(VersionConflict):
        table.delete("k", if_version=v2)  # gone: a versioned delete cannot succeed
    with pytest.raises(VersionConflict):
        table.put("k", {"n": 4}, if_version=v2)


def test_absent_creates_once(table: KV) -> None:
    first = table.put("once", "first", if_version=ABSENT)
    with pytest.raises(VersionConflict) as lost:
        table.put("once", "second", if_version=ABSENT)
    assert "exists already" in str(lost.value)
    assert table.entry("once").version == first and table.get("once") == "first"


def test_ttl_expires_entries_for_reads_listing_and_create_only(table: KV) -> None:
    written = time.time()
    table.put("short", "gone soon", ttl=2)
    table.put("kept", "stays", ttl=3600)
    table.put("plain", "no ttl")
    try:
        assert table.get("short") == "gone soon"
    except KeyNotFound:  # only legitimate when the (loaded) machine took longer than the TTL to get here
        assert time.time() - written >= 2
    time.sleep(max(0.0, written + 2.3 - time.time()))  # the expiry itself is under test; no duration is asserted
    with pytest.raises(KeyNotFound):
        table.get("short")
    assert sorted(table.keys()) == ["kept", "plain"]
    table.put("short", "again", if_version=ABSENT)  # an expired entry does not block a create
    assert table.get("short") == "again"
    table.put("kept", "now without ttl")
    time.sleep(0.1)
    assert table.get("kept") == "now without ttl"


def test_concurrent_read_modify_write_loses_no_update(table: KV) -> None:
    table.put("counter", 0)
    workers, rounds = 6, 4
    conflicts = [0]
    lock = threading.Lock()

    def bump() -> None:
        for _ in range(rounds):
            while True:
                entry = table.entry("counter")
                try:
                    table.put("counter", entry.value + 1, if_version=entry.version)
                    break
                except VersionConflict:
                    with lock:
                        conflicts[0] += 1

    threads = [threading.Thread(target=bump) for _ in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert table.get("counter") == workers * rounds


def test_models_are_validated_in_and_out(kv_url: str) -> None:
    orders = portafunc.kv("test", model=Order)
    orders.put("o1", Order(id="o1", total=9.5, items=["cat"]))
    orders.put("o2", {"id": "o2", "total": "3"})  # validated (and coerced) on the way in
    got = orders.get("o1")
    assert isinstance(got, Order) and got == Order(id="o1", total=9.5, items=["cat"])
    assert orders.get("o2") == Order(id="o2", total=3.0)
    with pytest.raises(PayloadValidationError) as bad:
        orders.put("o3", {"id": "o3"})
    assert bad.value.errors and bad.value.errors[0]["loc"] == ("total",)
    portafunc.kv("test").put("o4", {"id": "o4"})  # written untyped, read typed: refused, not half-read
    with pytest.raises(PayloadValidationError):
        orders.get("o4")
    assert portafunc.kv("test").get("o1") == {"id": "o1", "total": 9.5, "items": ["cat"]}


def test_unjsonable_values_and_bad_arguments_are_refused(table: KV) -> None:
    with pytest.raises(TypeError):
        table.put("k", {1, 2})
    with pytest.raises(ValueError):
        table.put("k", float("nan"))
    with pytest.raises(ValueError):
        table.put("", 1)
    with pytest.raises(ValueError):
        table.put("k", 1, ttl=0)
    with pytest.raises(ValueError):
        table.delete("k", if_version=ABSENT)


def test_a_value_over_the_portable_limit_is_refused_on_every_backend_and_one_under_it_is_stored(table: KV) -> None:
    """One limit everywhere (DynamoDB's item size, less the key and bookkeeping): a value one backend would refuse
    as an outage-like failure, and memory:// would take, is the caller's ValueError before anything is written; a
    value just under it round-trips on every backend, DynamoDB included."""
    from portafunc.data.kv import MAX_VALUE_BYTES

    near = "x" * (MAX_VALUE_BYTES - 2)  # quoted as JSON text: the limit to the byte
    table.put("big", near)
    assert table.get("big") == near
    over = near + "é"  # one character more, of two bytes: counted in UTF-8
    with pytest.raises(ValueError, match="at most 400,000 on every target"):
        table.put("big", over)
    assert table.get("big") == near  # nothing written


def test_a_call_logs_no_sdk_request_lines(table: KV, caplog: pytest.LogCaptureFixture) -> None:
    """The handler's own lines stay readable: no line per request from the SDKs' request loggers at the usual INFO
    level (azure-core's HTTP policy logs each request and response there unless quieted). Lines an SDK writes when
    it makes a client (botocore: where it found credentials) are not per request."""
    import logging

    with caplog.at_level(logging.INFO):
        table.put("k", {"n": 1})
        assert table.get("k") == {"n": 1}
    per_request = ("azure.core.pipeline", "botocore.endpoint", "botocore.parsers", "urllib3", "google.api_core")
    assert [r.name for r in caplog.records if r.name.startswith(per_request)] == []
