"""The stand-ins of the bucket and key-value contract suite, and one fixture per backend that makes a fresh bucket or
table on it and binds ``PORTAFUNC_BUCKET_TEST`` / ``PORTAFUNC_KV_TEST`` to it.

Started here on free 127.0.0.1 ports, once per session and only when a test needs them: moto in server mode (S3,
DynamoDB), Azurite's blob and table services, the Cloud Storage emulator (gcp-storage-emulator) and the Firestore
emulator. A stand-in that cannot start FAILS the test with what is missing — never a skip.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator

import pytest
import standins

from data_backends import BUCKET_BACKENDS, FIRESTORE_PROJECT, KV_BACKENDS, make_bucket, make_table


@pytest.fixture(autouse=True)
def _fresh_data() -> Iterator[None]:
    from portafunc import data
    from portafunc.data import memory

    data.reset()
    memory.reset()
    yield
    data.reset()
    memory.reset()


# -- stand-ins (one each per session) ---------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    # one request at a time: moto's threaded server can let two conditional writes both pass (DynamoDB cannot)
    with standins.moto_server(tmp_path_factory.mktemp("data-moto"), serialised=True) as endpoint:
        yield endpoint


@pytest.fixture(scope="session")
def azurite_blob(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with standins.azurite(tmp_path_factory.mktemp("data-azurite-blob"), "blob") as conn:
        yield conn


@pytest.fixture(scope="session")
def azurite_table(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with standins.azurite(tmp_path_factory.mktemp("data-azurite-table"), "table") as conn:
        yield conn


@pytest.fixture(scope="session")
def gcs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with standins.gcs_emulator(tmp_path_factory.mktemp("data-gcs")) as endpoint:
        yield endpoint


@pytest.fixture(scope="session")
def firestore_host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with standins.firestore_emulator(tmp_path_factory.mktemp("data-firestore")) as host:
        yield host


@pytest.fixture(scope="session")
def signing_key_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A service-account key made here (a fresh RSA key, no real account), so V4 URLs can be signed locally."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    path = tmp_path_factory.mktemp("gcp-key") / "key.json"
    path.write_text(json.dumps({"type": "service_account", "project_id": FIRESTORE_PROJECT,
                                "private_key_id": "local", "private_key": pem,
                                "client_email": f"signer@{FIRESTORE_PROJECT}.iam.gserviceaccount.com",
                                "client_id": "1", "token_uri": "https://oauth2.googleapis.com/token"}))
    return path


# -- one fresh bucket / table per test, on each backend in turn ------------------------------------------------------

@pytest.fixture(params=BUCKET_BACKENDS)
def bucket_url(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    url = make_bucket(request.param, request, monkeypatch, tmp_path)
    monkeypatch.setenv("PORTAFUNC_BUCKET_TEST", url)
    return url


@pytest.fixture(params=KV_BACKENDS)
def kv_url(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    url = make_table(request.param, request, monkeypatch)
    monkeypatch.setenv("PORTAFUNC_KV_TEST", url)
    return url
