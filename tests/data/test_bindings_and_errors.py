"""Bindings and the typed errors every backend shares: an unknown or missing binding is a BindingError naming what to
set; an unreachable backend is retried with backoff until the binding's ``?timeout=`` and then DataUnavailable; a
missing bucket or table is DataUnavailable at once (not retried, not a KeyNotFound)."""

from __future__ import annotations

import re
import time
from typing import Iterator

import pytest
import standins

import portafunc
from portafunc.data import DataUnavailable, KeyNotFound
from portafunc.errors import BindingError

from data_backends import FIRESTORE_PROJECT, aws_env


def test_missing_binding_names_the_variable_on_first_use(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PORTAFUNC_DEFAULT_BINDING", raising=False)
    monkeypatch.delenv("PORTAFUNC_BUCKET_USER_UPLOADS", raising=False)
    uploads = portafunc.bucket("user-uploads")  # at module level: importing an app never needs its bindings
    orders = portafunc.kv("orders")
    with pytest.raises(BindingError, match="PORTAFUNC_BUCKET_USER_UPLOADS"):
        uploads.get("k")
    with pytest.raises(BindingError, match="PORTAFUNC_KV_ORDERS.*dynamodb://"):
        orders.get("k")
    monkeypatch.setenv("PORTAFUNC_BUCKET_USER_UPLOADS", "memory://")  # bound later (as portafunc run does)
    uploads.put("k", b"1")
    assert uploads.get("k") == b"1"


def test_a_missing_binding_lists_the_schemes_of_its_own_kind(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PORTAFUNC_DEFAULT_BINDING", raising=False)
    for variable in ("PORTAFUNC_KV_BOOKS", "PORTAFUNC_BUCKET_PICS", "PORTAFUNC_QUEUE_JOBS", "PORTAFUNC_TOPIC_NEWS"):
        monkeypatch.delenv(variable, raising=False)
    with pytest.raises(BindingError) as kv:
        portafunc.kv("books").get("k")
    assert str(kv.value) == ("kv 'books' has no binding: set PORTAFUNC_KV_BOOKS to a URL of an installed kv scheme "
                             "(aztable://, dynamodb://, firestore://, memory://)")
    with pytest.raises(BindingError) as bucket:
        portafunc.bucket("pics").get("k")
    assert str(bucket.value).endswith("an installed bucket scheme (azblob://, file://, gs://, memory://, s3://)")
    with pytest.raises(BindingError) as queue:
        portafunc.queue("jobs").send({})
    assert str(queue.value).endswith("an installed queue scheme (azqueue://, memory://, pubsub://, sqs://)")
    with pytest.raises(BindingError) as topic:
        portafunc.topic("news").publish({})
    assert str(topic.value).endswith("an installed topic scheme (eventgrid://, memory://, pubsub://, sns://)")


def test_a_backend_that_declares_no_kinds_is_listed_for_both_and_refused_once(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from portafunc.data.binding import _registry

    def tables_only(kind: str, url: str, name: str) -> object:
        if kind != "kv":
            raise BindingError("no")
        return portafunc.data.memory.MemoryTable(url, name)

    monkeypatch.setitem(_registry._factories, "tabby", tables_only)  # register_backend's, undone after the test
    monkeypatch.delenv("PORTAFUNC_DEFAULT_BINDING", raising=False)
    monkeypatch.delenv("PORTAFUNC_BUCKET_PICS", raising=False)
    with pytest.raises(BindingError, match=r"bucket scheme \(.*tabby://"):
        portafunc.bucket("pics").get("k")
    monkeypatch.setenv("PORTAFUNC_BUCKET_PICS", "tabby://t")
    with pytest.raises(BindingError) as refused:
        portafunc.bucket("pics").get("k")
    assert str(refused.value) == ("PORTAFUNC_BUCKET_PICS='tabby://t': tabby:// binds key-value tables, not buckets; "
                                  "use one of the installed bucket schemes (azblob://, file://, gs://, memory://, "
                                  "s3://)")


def test_default_binding_gives_each_name_its_own_memory_store(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORTAFUNC_DEFAULT_BINDING", "memory://")
    portafunc.bucket("one").put("k", b"1")
    assert not portafunc.bucket("two").exists("k")
    assert portafunc.bucket("one").get("k") == b"1"


@pytest.mark.parametrize("kind, url, match", [
    ("BUCKET", "ftp://files", "unknown scheme ftp://"),
    ("BUCKET", "dynamodb://table", r"^PORTAFUNC_BUCKET_X='dynamodb://table': dynamodb:// is a key-value table; "
                                   r"bind buckets to s3://BUCKET$"),
    ("KV", "s3://bucket", r"^PORTAFUNC_KV_X='s3://bucket': s3:// is a bucket; bind key-value tables to "
                          r"dynamodb://TABLE$"),
    ("KV", "file:///tmp/x", r"^PORTAFUNC_KV_X='file:///tmp/x': file:// holds buckets only; bind a kv table to "
                            r"memory:// locally$"),
    ("BUCKET", "no-scheme", "not a URL"),
    ("BUCKET", "s3://bucket?regoin=eu-west-1", "unknown option"),
    ("BUCKET", "s3://bucket?timeout=soon", "not a number"),
    ("BUCKET", "azblob://account-only", "azblob://ACCOUNT/CONTAINER"),
    ("KV", "aztable://devstoreaccount1/bad-name", "aztable://ACCOUNT/TABLE"),
    ("KV", "firestore://project-only", "firestore://PROJECT/COLLECTION"),
    ("BUCKET", "gs://a/b", "gs://BUCKET"),
])
def test_bad_bindings_are_refused_with_the_reason(monkeypatch: pytest.MonkeyPatch, kind: str, url: str,
                                                  match: str) -> None:
    monkeypatch.setenv(f"PORTAFUNC_{kind}_X", url)
    with pytest.raises(BindingError, match=match):
        portafunc.bucket("x").exists("k") if kind == "BUCKET" else portafunc.kv("x").get("k")


def test_an_azure_connection_string_for_another_account_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORTAFUNC_AZBLOB_CONNECTION", standins.azurite_connection_string("blob", 1))
    monkeypatch.setenv("PORTAFUNC_BUCKET_X", "azblob://otheraccount/container")
    with pytest.raises(BindingError, match="not 'otheraccount'"):
        portafunc.bucket("x").get("k")


@pytest.fixture
def dead_endpoint() -> Iterator[standins.CutOffProxy]:
    """A port that refuses every connection and counts the attempts (a broker that is down)."""
    proxy = standins.CutOffProxy(standins.free_port())
    proxy.down()
    yield proxy
    proxy.close()


def _point_at(backend: str, port: int, monkeypatch: pytest.MonkeyPatch) -> tuple[str, str]:
    """(kind, binding URL) of ``backend`` with its endpoint at 127.0.0.1:port."""
    if backend in ("s3", "dynamodb"):
        aws_env(monkeypatch, f"http://127.0.0.1:{port}")
        return ("bucket", "s3://b?timeout=4") if backend == "s3" else ("kv", "dynamodb://tbl?timeout=4")
    if backend == "azblob":
        monkeypatch.setenv("PORTAFUNC_AZBLOB_CONNECTION", standins.azurite_connection_string("blob", port))
        return "bucket", f"azblob://{standins.AZURITE_ACCOUNT}/c-x?timeout=4"
    if backend == "aztable":
        monkeypatch.setenv("PORTAFUNC_AZTABLE_CONNECTION", standins.azurite_connection_string("table", port))
        return "kv", f"aztable://{standins.AZURITE_ACCOUNT}/tbl?timeout=4"
    if backend == "gs":
        monkeypatch.setenv("STORAGE_EMULATOR_HOST", f"http://127.0.0.1:{port}")
        monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", FIRESTORE_PROJECT)
        return "bucket", "gs://bkt?timeout=4"
    monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", f"127.0.0.1:{port}")
    return "kv", f"firestore://{FIRESTORE_PROJECT}/c?timeout=4"


@pytest.mark.parametrize("backend", ["s3", "dynamodb", "azblob", "aztable", "gs", "firestore"])
def test_an_unreachable_backend_is_retried_until_the_timeout_then_unavailable(
        backend: str, dead_endpoint: standins.CutOffProxy, monkeypatch: pytest.MonkeyPatch) -> None:
    kind, url = _point_at(backend, dead_endpoint.port, monkeypatch)
    monkeypatch.setenv(f"PORTAFUNC_{kind.upper()}_DOWN", url)
    target = portafunc.bucket("down") if kind == "bucket" else portafunc.kv("down")
    started = time.monotonic()
    with pytest.raises(DataUnavailable) as caught:
        target.get("some-key")
    waited = time.monotonic() - started
    message = str(caught.value)
    assert url.split("?")[0] in message
    attempts = re.search(r"gave up after (\d+) attempt", message)
    assert attempts and int(attempts.group(1)) >= 2, f"the call was not retried: {message}"
    assert dead_endpoint.refused >= 1  # it did try the endpoint (gRPC reuses one channel, so it may connect once)
    assert waited < 30, "the binding's ?timeout= was not honoured"  # generous: only catches a hang


def test_a_missing_bucket_or_table_is_unavailable_not_missing_key(request: pytest.FixtureRequest,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    aws_env(monkeypatch, request.getfixturevalue("moto"))
    monkeypatch.setenv("PORTAFUNC_BUCKET_GHOST", "s3://no-such-bucket-here")
    monkeypatch.setenv("PORTAFUNC_KV_GHOST", "dynamodb://no-such-table-here")
    with pytest.raises(DataUnavailable, match="does not exist") as bucket_error:
        portafunc.bucket("ghost").get("k")
    assert not isinstance(bucket_error.value, KeyNotFound)
    with pytest.raises(DataUnavailable, match="does not exist"):
        portafunc.kv("ghost").get("k")
