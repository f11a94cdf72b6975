"""Fixtures for the idempotency tests (loaded with ``pytest_plugins`` by test_idempotency*.py only).

Every cloud store runs against its real local stand-in, started here on a free 127.0.0.1 port once per session:
DynamoDB on moto in server mode, Azure Table Storage on Azurite's table service, Firestore on the Firestore emulator
shipped with google-cloud-cli. A stand-in that cannot start FAILS the test with what is missing — never a skip.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Callable, Iterator

import pytest
import standins

# -- figures for docs/reliability-idempotency.md ---------------------------------------------------------------------

@pytest.fixture
def record_figure() -> Callable[..., None]:
    """A function the tests call to record a figure."""
    return _record_figure


def _record_figure(store_url: str, name: str, value: object, add: bool = False) -> None:
    """Merge a measured figure into the JSON file named by ``PORTAFUNC_IDEM_FIGURES`` (when set; else nothing)."""
    import json

    path = os.environ.get("PORTAFUNC_IDEM_FIGURES")
    if not path:
        return
    kind = store_url.split("://", 1)[0]
    target = Path(path)
    data = json.loads(target.read_text()) if target.exists() else {}
    bucket = data.setdefault(kind, {})
    if add and isinstance(value, dict):
        old = bucket.setdefault(name, {})
        for k, v in value.items():
            old[k] = old.get(k, 0) + v
    else:
        bucket[name] = value
    target.write_text(json.dumps(data, indent=2, sort_keys=True))


# -- the pipeline's configuration ----------------------------------------------------------------------------------

@pytest.fixture
def idem_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], None]]:
    """Point the pipeline at a store URL (fresh cache and counters); returns a setter."""
    from portafunc import idempotency

    for key in list(os.environ):
        if key.startswith("PORTAFUNC_IDEMPOTENCY_"):
            monkeypatch.delenv(key)

    def use(url: str) -> None:
        monkeypatch.setenv("PORTAFUNC_IDEMPOTENCY_STORE", url)
        idempotency.reset()

    idempotency.reset()
    idempotency.reset_stats()
    yield use
    idempotency.reset()


# -- DynamoDB on moto ----------------------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def idem_moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with standins.moto_server(tmp_path_factory.mktemp("idem-moto")) as endpoint:
        yield endpoint


@pytest.fixture
def dynamodb_url(idem_moto: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh DynamoDB table on moto, created by the store's own helper; returns its store URL."""
    from portafunc import idempotency
    from portafunc_aws.backends import clients
    from portafunc_aws.backends.idempotency import DynamoDBStore, store_factory

    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL": idem_moto,
                       "AWS_CONFIG_FILE": "/nonexistent/portafunc-idem", "AWS_PROFILE": "",
                       "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/portafunc-idem"}.items():
        if value:
            monkeypatch.setenv(key, value)
        else:
            monkeypatch.delenv(key, raising=False)
    clients.reset()  # the store shares the backends' clients: none may point at another test's endpoint
    idempotency.register_store("dynamodb", store_factory)
    table = f"idem-{uuid.uuid4().hex[:12]}"
    DynamoDBStore(table).create_table()
    return f"dynamodb://{table}"


# -- Azure Table Storage on Azurite --------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def idem_azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with standins.azurite(tmp_path_factory.mktemp("idem-azurite"), "table") as conn:
        yield conn


@pytest.fixture
def aztable_url(idem_azurite: str, monkeypatch: pytest.MonkeyPatch) -> str:
    from portafunc import idempotency
    from portafunc_azure.backends.idempotency import AzureTableStore, store_factory

    monkeypatch.setenv("PORTAFUNC_AZTABLE_CONNECTION", idem_azurite)
    idempotency.register_store("aztable", store_factory)
    table = f"idem{uuid.uuid4().hex[:12]}"
    AzureTableStore(table, idem_azurite).create_table()
    return f"aztable://{table}"


# -- Firestore emulator --------------------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def idem_firestore(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with standins.firestore_emulator(tmp_path_factory.mktemp("idem-firestore")) as host:
        yield host


@pytest.fixture
def firestore_url(idem_firestore: str, monkeypatch: pytest.MonkeyPatch) -> str:
    from portafunc import idempotency
    from portafunc_gcp.backends.idempotency import store_factory

    monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", idem_firestore)
    idempotency.register_store("firestore", store_factory)
    return f"firestore://idem-test/idem{uuid.uuid4().hex[:12]}"


STORE_KINDS = ["memory", "dynamodb", "aztable", "firestore"]


@pytest.fixture(params=STORE_KINDS)
def store_url(request: pytest.FixtureRequest) -> str:
    """The URL of a fresh store of each kind, in turn."""
    if request.param == "memory":
        return f"memory://{uuid.uuid4().hex[:8]}"
    return str(request.getfixturevalue(f"{request.param}_url"))


