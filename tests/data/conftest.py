"""The stand-ins of the bucket and key-value contract suite, and one fixture per backend that makes a fresh bucket or
table on it and binds ``PORTAFUNC_BUCKET_TEST`` / ``PORTAFUNC_KV_TEST`` to it.

Started here on free 127.0.0.1 ports, once per session and only when a test needs them: moto in server mode (S3,
DynamoDB), Azurite's blob and table services, the Cloud Storage emulator (gcp-storage-emulator) and the Firestore
emulator. A stand-in that cannot start FAILS the test with what is missing — never a skip.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Iterator

import pytest
import standins

BUCKET_BACKENDS = ["memory", "file", "s3", "azblob", "gs"]
KV_BACKENDS = ["memory", "dynamodb", "aztable", "firestore"]
FIRESTORE_PROJECT = "demo-portafunc"


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
    with standins.moto_server(tmp_path_factory.mktemp("data-moto")) as endpoint:
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


# -- environment per cloud ----------------------------------------------------------------------------------------------

def aws_env(monkeypatch: pytest.MonkeyPatch, endpoint: str) -> None:
    from portafunc_aws.messaging import clients

    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL": endpoint,
                       "AWS_CONFIG_FILE": "/nonexistent/portafunc-data", "AWS_PROFILE": "",
                       "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/portafunc-data",
                       "PORTAFUNC_AWS_MAX_ATTEMPTS": ""}.items():
        if value:
            monkeypatch.setenv(key, value)
        else:
            monkeypatch.delenv(key, raising=False)
    clients.reset()


def gcs_env(monkeypatch: pytest.MonkeyPatch, endpoint: str, key_file: Path) -> None:
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", endpoint)
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", FIRESTORE_PROJECT)
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(key_file))


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:12]}"


# -- buckets ------------------------------------------------------------------------------------------------------------

def make_bucket(backend: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch,
                tmp_path: Path) -> str:
    """A fresh, empty bucket on ``backend``; returns its binding URL."""
    if backend == "memory":
        return f"memory://{unique('b')}"
    if backend == "file":
        return f"file://{tmp_path / 'bucket'}"
    if backend == "s3":
        endpoint = request.getfixturevalue("moto")
        aws_env(monkeypatch, endpoint)
        import boto3

        name = unique("b-")
        boto3.client("s3", region_name="us-east-1").create_bucket(Bucket=name)
        return f"s3://{name}"
    if backend == "azblob":
        conn = request.getfixturevalue("azurite_blob")
        monkeypatch.setenv("PORTAFUNC_AZBLOB_CONNECTION", conn)
        from azure.storage.blob import BlobServiceClient

        name = unique("b-")
        BlobServiceClient.from_connection_string(conn).create_container(name)
        return f"azblob://{standins.AZURITE_ACCOUNT}/{name}"
    if backend == "gs":
        endpoint = request.getfixturevalue("gcs")
        gcs_env(monkeypatch, endpoint, request.getfixturevalue("signing_key_file"))
        from google.cloud import storage

        name = unique("b-")
        storage.Client(project=FIRESTORE_PROJECT).create_bucket(name)
        return f"gs://{name}"
    raise AssertionError(backend)


@pytest.fixture(params=BUCKET_BACKENDS)
def bucket_url(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    url = make_bucket(request.param, request, monkeypatch, tmp_path)
    monkeypatch.setenv("PORTAFUNC_BUCKET_TEST", url)
    return url


# -- key-value tables ---------------------------------------------------------------------------------------------------

def make_table(backend: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh, empty table on ``backend``; returns its binding URL."""
    if backend == "memory":
        return f"memory://{unique('t')}"
    if backend == "dynamodb":
        endpoint = request.getfixturevalue("moto")
        aws_env(monkeypatch, endpoint)
        import boto3
        from portafunc_aws import dynamodb

        name = unique("t-")
        dynamodb.create_table(boto3.client("dynamodb", region_name="us-east-1"), name)
        return f"dynamodb://{name}"
    if backend == "aztable":
        conn = request.getfixturevalue("azurite_table")
        monkeypatch.setenv("PORTAFUNC_AZTABLE_CONNECTION", conn)
        from azure.data.tables import TableServiceClient

        name = unique("t")
        TableServiceClient.from_connection_string(conn).create_table(name)
        return f"aztable://{standins.AZURITE_ACCOUNT}/{name}"
    if backend == "firestore":
        monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", request.getfixturevalue("firestore_host"))
        return f"firestore://{FIRESTORE_PROJECT}/{unique('t')}"
    raise AssertionError(backend)


@pytest.fixture(params=KV_BACKENDS)
def kv_url(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    url = make_table(request.param, request, monkeypatch)
    monkeypatch.setenv("PORTAFUNC_KV_TEST", url)
    return url


def scheme(url: str) -> str:
    return url.split("://", 1)[0]

