"""A binding's ``?timeout=`` bounds each Azure and Google request too, not only the retries between them.

The endpoint is a real TCP server started here that accepts every connection and never answers — the request that
hangs, which only a per-request timeout ends — reached through each SDK's own configuration: the connection
string's service endpoints (Azure), ``STORAGE_EMULATOR_HOST`` (Cloud Storage), ``FIRESTORE_EMULATOR_HOST`` and
``PUBSUB_EMULATOR_HOST`` (gRPC). Every backend must give up with its typed error within its timeout plus the stated
bound (0.5 s; the asserts leave 2 s for a busy machine), not after the SDKs' fixed or default socket timeouts.
"""

from __future__ import annotations

import time
from functools import partial
from typing import Any, Callable, Iterator

import pytest

import portafunc
import portafunc.data
from portafunc.errors import DataUnavailable, MessagingError
from portafunc.idempotency import IdempotencyStoreError
from portafunc.messaging import reset as reset_bindings
from standins import AZURITE_ACCOUNT, AZURITE_KEY, SilentServer, gives_up

TIMEOUT = 2.0
WITHIN = TIMEOUT + 2.0  # a behaviour bound, not a speed test: before, such calls hung for 10 s or more


@pytest.fixture
def silent(monkeypatch: pytest.MonkeyPatch) -> Iterator[SilentServer]:
    server = SilentServer()
    endpoint = f"http://127.0.0.1:{server.port}/{AZURITE_ACCOUNT}"
    connection = (f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};AccountKey={AZURITE_KEY};"
                  f"BlobEndpoint={endpoint};TableEndpoint={endpoint};QueueEndpoint={endpoint};")
    for var in ("PORTAFUNC_AZBLOB_CONNECTION", "PORTAFUNC_AZTABLE_CONNECTION", "PORTAFUNC_AZQUEUE_CONNECTION"):
        monkeypatch.setenv(var, connection)
    monkeypatch.setenv("PORTAFUNC_EVENTGRID_KEY", "key")
    for var in ("STORAGE_EMULATOR_HOST", "FIRESTORE_EMULATOR_HOST", "PUBSUB_EMULATOR_HOST"):
        monkeypatch.setenv(var, f"{'http://' if var.startswith('STORAGE') else ''}127.0.0.1:{server.port}")
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "silent")
    reset_bindings()
    portafunc.data.reset()
    yield server
    reset_bindings()
    portafunc.data.reset()
    server.close()


AZURE = ["azblob put", "azblob get", "azblob list", "aztable kv get", "aztable kv put", "aztable idempotency claim",
         "azqueue send", "eventgrid publish"]
GCP = ["gcs put", "gcs get", "gcs list", "firestore kv get", "firestore kv put", "firestore idempotency claim",
       "firestore idempotency get", "pubsub publish"]

# the data backends alike on both clouds: a binding URL per backend, the same operations on each
BUCKETS = {"azblob": f"azblob://{AZURITE_ACCOUNT}/files", "gcs": "gs://files"}
BUCKET_CALLS: dict[str, Callable[[Any], Any]] = {
    "put": lambda bucket: bucket.put("k", b"data"), "get": lambda bucket: bucket.get("k"),
    "list": lambda bucket: list(bucket.list(""))}
TABLES = {"aztable kv": f"aztable://{AZURITE_ACCOUNT}/orders", "firestore kv": "firestore://silent/orders"}
TABLE_CALLS: dict[str, Callable[[Any], Any]] = {
    "get": lambda table: table.get("k"), "put": lambda table: table.put("k", {"a": 1})}


@pytest.mark.parametrize("case", AZURE + GCP)
def test_every_backend_gives_up_at_its_timeout(case: str, silent: SilentServer,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    call: Callable[[], Any]
    error: type[Exception] = DataUnavailable
    option = f"timeout={TIMEOUT:g}"
    backend, _, operation = case.rpartition(" ")
    if backend in BUCKETS:
        monkeypatch.setenv("PORTAFUNC_BUCKET_FILES", f"{BUCKETS[backend]}?{option}")
        call = partial(BUCKET_CALLS[operation], portafunc.bucket("files"))
    elif backend in TABLES:
        monkeypatch.setenv("PORTAFUNC_KV_ORDERS", f"{TABLES[backend]}?{option}")
        call = partial(TABLE_CALLS[operation], portafunc.kv("orders"))
    elif case == "aztable idempotency claim":
        from portafunc_azure.backends.idempotency import store_factory

        azstore = store_factory(f"aztable://idem?{option}")
        call, error = lambda: azstore.put_in_progress("k", "hash", time.time() + 60, "owner"), IdempotencyStoreError
    elif case == "azqueue send":
        monkeypatch.setenv("PORTAFUNC_QUEUE_JOBS", f"azqueue://{AZURITE_ACCOUNT}/jobs?{option}")
        call, error = lambda: portafunc.queue("jobs").send({"a": 1}), MessagingError
    elif case == "eventgrid publish":
        monkeypatch.setenv("PORTAFUNC_TOPIC_EVENTS", f"eventgrid://127.0.0.1:{silent.port}/api/events?tls=0&{option}")
        call, error = lambda: portafunc.topic("events").publish("x"), MessagingError
    elif case.startswith("firestore idempotency"):
        from portafunc_gcp.backends.idempotency import store_factory as firestore_store

        fsstore = firestore_store(f"firestore://silent/idem?{option}")
        error = IdempotencyStoreError
        call = ((lambda: fsstore.get("k")) if case.endswith("get")
                else (lambda: fsstore.put_in_progress("k", "hash", time.time() + 60, "owner")))
    else:
        monkeypatch.setenv("PORTAFUNC_TOPIC_EVENTS", f"pubsub://projects/silent/topics/events?{option}")
        call, error = lambda: portafunc.topic("events").publish("x"), MessagingError
    gives_up(call, error, WITHIN)
    assert silent.held, "the request never reached the silent server"


def test_socket_timeouts_fit_in_the_time_left() -> None:
    from portafunc.messaging.retry import LAST_ATTEMPT, socket_timeouts
    from portafunc_azure.backends.retrying import PER_ATTEMPT, transport_options

    for tenths in range(1, 600):
        left = max(LAST_ATTEMPT, tenths / 10)
        connect, read = socket_timeouts(left)
        assert 0 < connect <= read and connect + read <= left + 1e-9
        options = transport_options(left)
        assert options["connection_timeout"] + options["read_timeout"] <= min(left, PER_ATTEMPT) + 1e-9
