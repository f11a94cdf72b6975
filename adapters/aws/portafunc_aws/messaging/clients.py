"""boto3 clients, created once per container and reused (they are thread-safe once built).

Call-level retries are botocore's ``standard`` mode: exponential backoff with jitter on throttling and transient
errors (``PORTAFUNC_AWS_MAX_ATTEMPTS``, default 5). Endpoints come from boto3's own configuration
(``AWS_ENDPOINT_URL``, ``AWS_ENDPOINT_URL_SNS``, ``AWS_ENDPOINT_URL_SQS``).
"""

from __future__ import annotations

import os
import threading
from typing import Any

_clients: dict[tuple[str, str], Any] = {}
_lock = threading.Lock()


def client(service: str, region: str) -> Any:
    key = (service, region)
    found = _clients.get(key)
    if found is not None:
        return found
    with _lock:
        found = _clients.get(key)
        if found is None:
            import boto3
            from botocore.config import Config

            config = Config(retries={"mode": "standard",
                                     "max_attempts": int(os.environ.get("PORTAFUNC_AWS_MAX_ATTEMPTS", "5"))},
                            connect_timeout=5, read_timeout=30, user_agent_extra="portafunc")
            found = boto3.session.Session().client(service, region_name=region, config=config)
            _clients[key] = found
    return found


def reset() -> None:
    """Forget the clients (tests that change endpoints or credentials)."""
    with _lock:
        _clients.clear()
