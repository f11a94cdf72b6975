"""boto3 clients, created once per container and reused (they are thread-safe once built).

botocore's own retries are off (one attempt per call): :func:`.errors.call` retries transient failures with backoff
until the binding's ``?timeout=``, which botocore cannot do (it counts attempts, it has no deadline). Endpoints come
from boto3's own configuration (``AWS_ENDPOINT_URL``, ``AWS_ENDPOINT_URL_SNS``, ``AWS_ENDPOINT_URL_SQS``).
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

            config = Config(retries={"mode": "standard", "total_max_attempts": 1},
                            connect_timeout=5, read_timeout=30, user_agent_extra="portafunc")
            found = boto3.session.Session().client(service, region_name=region, config=config)
            _clients[key] = found
    return found


def split_options(url: str, allowed: set[str], name: str) -> tuple[str, dict[str, str]]:
    """``scheme://REST?k=v`` → (REST, {k: v}); an option not in ``allowed`` is a BindingError naming it."""
    from urllib.parse import parse_qs

    from portafunc.errors import BindingError

    rest = url.split("://", 1)[1]
    rest, _, query = rest.partition("?")
    options = {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise BindingError(f"{name!r}: {url!r} has unknown option(s) {unknown}; known: {sorted(allowed)}")
    return rest, options


def max_retries() -> int | None:
    """``PORTAFUNC_AWS_MAX_ATTEMPTS`` (attempts per call, optional) as a retry count; None = the deadline alone."""
    raw = os.environ.get("PORTAFUNC_AWS_MAX_ATTEMPTS")
    if not raw:
        return None
    try:
        return max(0, int(raw) - 1)
    except ValueError:
        from portafunc.errors import BindingError

        raise BindingError(f"PORTAFUNC_AWS_MAX_ATTEMPTS={raw!r} is not a whole number of attempts") from None


def reset() -> None:
    """Forget the clients (tests that change endpoints or credentials)."""
    with _lock:
        _clients.clear()
