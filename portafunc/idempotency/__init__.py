"""Idempotency: run a function at most once per key, replay the first result to duplicates.

Enable it per function: ``@app.queue("orders", idempotency_key="id")`` (the message id),
``idempotency_key="body.order_id"`` (a JSON path into the payload), ``@app.http(..., idempotent=True)`` (the
``Idempotency-Key`` header). The store comes from ``PORTAFUNC_IDEMPOTENCY_STORE`` (see :mod:`.registry`). The pipeline
(:mod:`portafunc.invoke`) imports this package only for functions that declare a key.
"""

from __future__ import annotations

from .errors import (IdempotencyConfigError, IdempotencyInProgress, IdempotencyKeyMismatch, IdempotencyKeyMissing,
                     IdempotencyStoreError)
from .guard import REPLAY_HEADER, http_store_key, reset_stats, run_http, run_message, stats
from .keys import KeyExpression, caller_scope, key_value, parse_key, payload_hash, store_key
from .memory import MemoryStore
from .registry import current_store, open_store, register_store, reset
from .store import COMPLETED, IN_PROGRESS, ClaimVersions, IdempotencyStore, Record

__all__ = [
    "COMPLETED", "IN_PROGRESS", "ClaimVersions", "IdempotencyConfigError", "IdempotencyInProgress",
    "IdempotencyKeyMismatch", "IdempotencyKeyMissing", "IdempotencyStore", "IdempotencyStoreError", "KeyExpression",
    "MemoryStore", "REPLAY_HEADER", "Record", "caller_scope", "current_store", "http_store_key", "key_value",
    "open_store", "parse_key", "payload_hash",
    "register_store", "reset", "reset_stats", "run_http", "run_message", "stats", "store_key",
]
