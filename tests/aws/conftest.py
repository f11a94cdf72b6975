"""Fixtures for the AWS adapter tests: fixture samples, a sample app, and moto in server mode.

moto runs as a real HTTP server (``python -m moto.server``) on a free 127.0.0.1 port for the whole session, and is
reset (``POST /moto-api/reset``) before every test that uses it. boto3 reaches it through ``AWS_ENDPOINT_URL``, the
same variable a user sets to point portafunc at LocalStack or moto.
"""

from __future__ import annotations

import os
import sys
import urllib.request
from typing import Any, Iterator

import pytest
from standins import moto_server

from aws_test_support import SAMPLE_APP


@pytest.fixture
def sample_app() -> Any:
    import importlib.util

    name = "portafunc_aws_sample_app"
    if name in sys.modules:
        module = sys.modules[name]
    else:
        spec = importlib.util.spec_from_file_location(name, SAMPLE_APP)
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    module.SEEN.clear()
    return module


@pytest.fixture(scope="session")
def moto_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with moto_server(tmp_path_factory.mktemp("moto")) as endpoint:
        yield endpoint


@pytest.fixture
def aws(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A clean moto, AWS credentials/region/endpoint in the environment, and no cached clients or bindings."""
    from portafunc.messaging import reset as reset_bindings
    from portafunc_aws.backends import clients

    request = urllib.request.Request(f"{moto_endpoint}/moto-api/reset", method="POST")
    urllib.request.urlopen(request, timeout=10).read()
    for key in list(os.environ):
        if key.startswith(("AWS_", "PORTAFUNC_TOPIC_", "PORTAFUNC_QUEUE_", "PORTAFUNC_DEADLETTER_")):
            monkeypatch.delenv(key)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/portafunc-test-aws-config")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/portafunc-test-aws-credentials")
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    clients.reset()
    reset_bindings()
    yield moto_endpoint
    clients.reset()
    reset_bindings()


@pytest.fixture
def boto(aws: str) -> Any:
    """Plain boto3 clients (the test's own, playing the cloud's part: SNS, SQS, S3)."""
    import boto3

    class Clients:
        sqs = boto3.client("sqs", region_name="us-east-1")
        sns = boto3.client("sns", region_name="us-east-1")
        s3 = boto3.client("s3", region_name="us-east-1")

        def queue(self, name: str, **attributes: str) -> tuple[str, str]:
            url = self.sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
            arn = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            return url, arn

    return Clients()
