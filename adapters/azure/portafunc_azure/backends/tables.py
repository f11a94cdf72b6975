"""What the Azure Table stores share: the connection string, key hashing and long-string chunking.

The idempotency store (``aztable://`` in ``PORTAFUNC_IDEMPOTENCY_STORE``) and the key-value tables
(``PORTAFUNC_KV_<NAME>=aztable://ACCOUNT/TABLE``) both keep text that may exceed the 64 KiB limit of one string
property, and both find their storage account the same way. azure-data-tables is imported by the callers, lazily.
"""

from __future__ import annotations

import hashlib
import os
from typing import Any, Mapping

CHUNK = 16_000
MAX_CHUNKS = 60  # ≈ 960k characters: under the 1 MiB entity limit for ASCII text
DEFAULT_CONNECTION_VARS = ("PORTAFUNC_AZTABLE_CONNECTION", "AzureWebJobsStorage")
#: What a missing table or container's error adds: how to have it created (the cloud's template creates them).
CREATE_HINT = ("; check the binding and that the deployment created it (locally, against Azurite, add ?create=1 to "
               "the binding to create it on first use, as local.settings.json.example does)")


def wants_create(options: Mapping[str, str]) -> bool:
    """The binding's ``?create=1``: create the table, container or queue on first use if it does not exist."""
    return options.get("create", "").lower() in ("1", "true", "yes")


def connection_from_env(var: str | None, defaults: tuple[str, ...] = DEFAULT_CONNECTION_VARS) -> str | None:
    """The connection string in ``var`` (when given), else in the first of ``defaults`` that is set; None if none."""
    for name in [var] if var else defaults:
        value = os.environ.get(name)
        if value:
            return value
    return None


def hashed_key(key: str) -> str:
    """SHA-256 hex of ``key``: a PartitionKey free of the characters Table keys forbid (``/ \\ # ?``)."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def chunk_properties(prefix: str, text: str) -> dict[str, Any]:
    """``text`` as ``{prefix}_chunks`` plus ``{prefix}_0..N`` properties; ValueError when it cannot fit an entity."""
    chunks = [text[i:i + CHUNK] for i in range(0, len(text), CHUNK)] or [""]
    if len(chunks) > MAX_CHUNKS:
        raise ValueError(f"{len(text)} characters are too many for an Azure Table entity (at most "
                         f"{MAX_CHUNKS * CHUNK})")
    props: dict[str, Any] = {f"{prefix}_chunks": len(chunks)}
    for i, chunk in enumerate(chunks):
        props[f"{prefix}_{i}"] = chunk
    return props


def join_chunks(entity: Mapping[str, Any], prefix: str) -> str | None:
    """The text :func:`chunk_properties` stored under ``prefix``, or None when there is none."""
    count = int(entity.get(f"{prefix}_chunks", 0) or 0)
    return "".join(str(entity.get(f"{prefix}_{i}", "")) for i in range(count)) if count else None
