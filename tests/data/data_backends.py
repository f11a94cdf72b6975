"""Make a fresh bucket or table on each backend's stand-in and point the SDKs at it (used by conftest.py and the
tests that need one backend by name)."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
import standins

BUCKET_BACKENDS = ["memory", "file", "s3", "azblob", "gs"]
KV_BACKENDS = ["memory", "dynamodb", "aztable", "firestore"]
FIRESTORE_PROJECT = "demo-portafunc"


# -- environment per cloud ----------------------------------------------------------------------------------------------

def aws_env(monkeypatch: pytest.MonkeyPatch, endpoint: str) -> None:
    from portafunc_aws.backends import clients

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


# -- key-value tables ---------------------------------------------------------------------------------------------------

def make_table(backend: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh, empty table on ``backend``; returns its binding URL."""
    if backend == "memory":
        return f"memory://{unique('t')}"
    if backend == "dynamodb":
        endpoint = request.getfixturevalue("moto")
        aws_env(monkeypatch, endpoint)
        import boto3
        from portafunc_aws.backends import dynamodb

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


def scheme(url: str) -> str:
    return url.split("://", 1)[0]
