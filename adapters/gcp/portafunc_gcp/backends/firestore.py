"""What the Firestore-backed stores share: the client and document ids.

The idempotency store (``firestore://`` in ``PORTAFUNC_IDEMPOTENCY_STORE``) and the key-value tables
(``PORTAFUNC_KV_<NAME>=firestore://PROJECT/COLLECTION``) keep one document per key, named by the SHA-256 of the key
(keys may hold ``/``, which a document id cannot), with the key itself in the ``key`` field and an ``expiration``
timestamp a Firestore TTL policy can sweep. ``FIRESTORE_EMULATOR_HOST`` points the client at the emulator.
google-cloud-firestore is imported on the first call, never by importing this module.
"""

from __future__ import annotations

import hashlib
from typing import Any

KEY_FIELD = "key"
TTL_FIELD = "expiration"
TRANSIENT = {"ServiceUnavailable", "DeadlineExceeded", "Aborted", "InternalServerError", "ResourceExhausted",
             "Unknown", "GatewayTimeout", "BadGateway", "TooManyRequests", "RetryError"}


def transient(exc: BaseException) -> bool:
    """A failure worth trying again (matched by name: google-api-core is imported lazily)."""
    return type(exc).__name__ in TRANSIENT


def client(project: str, database: str | None = None) -> Any:
    """A ``firestore.Client`` for ``project`` (and ``database``, default ``(default)``)."""
    from google.cloud import firestore

    kwargs: dict[str, Any] = {"project": project}
    if database:
        kwargs["database"] = database
    return firestore.Client(**kwargs)


def document_id(key: str) -> str:
    """The id of ``key``'s document: SHA-256 hex (a document id cannot contain ``/``)."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()
