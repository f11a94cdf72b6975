"""The typed errors of buckets and key-value tables: one per failure a caller must tell apart, on every backend.

* :class:`KeyNotFound` — the object or key does not exist (or its TTL has passed).
* :class:`VersionConflict` — a write with ``if_version=`` met a different version (someone else wrote first).
* :class:`DataUnavailable` — the backend could not be reached or refused the call (after retries until the
  binding's ``?timeout=``), or the resource behind the binding is missing or not permitted.
* an unknown or missing binding is the :class:`~portafunc.errors.BindingError` messaging raises too.

They live in :mod:`portafunc.errors` (so ``portafunc.KeyNotFound`` costs no import) and are re-exported here.
"""

from __future__ import annotations

from ..errors import DataError, DataUnavailable, KeyNotFound, UnsupportedOperation, VersionConflict

__all__ = ["DataError", "DataUnavailable", "KeyNotFound", "UnsupportedOperation", "VersionConflict"]
