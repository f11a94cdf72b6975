"""The typed errors of buckets and key-value tables: one per failure a caller must tell apart, on every backend.

* :class:`KeyNotFound` — the object or key does not exist (or its TTL has passed).
* :class:`VersionConflict` — a write with ``if_version=`` met a different version (someone else wrote first).
* :class:`DataUnavailable` — the backend could not be reached or refused the call (after retries until the
  binding's ``?timeout=``), or the resource behind the binding is missing or not permitted.
* an unknown or missing binding is the :class:`~portafunc.errors.BindingError` messaging raises too.
"""

from __future__ import annotations

from ..errors import PortafuncError


class DataError(PortafuncError):
    """Base class of the bucket and key-value errors."""


class KeyNotFound(DataError, LookupError):
    """``key`` does not exist in ``resource`` (a bucket or key-value table, named by its binding URL)."""

    def __init__(self, resource: str, key: str) -> None:
        super().__init__(f"{resource}: no such key {key!r}")
        self.resource = resource
        self.key = key


class VersionConflict(DataError):
    """A conditional write lost: ``key`` is not at ``expected`` any more (``ABSENT``: it exists already)."""

    def __init__(self, resource: str, key: str, expected: str) -> None:
        what = "exists already" if expected == "absent" else f"is no longer at version {expected!r}"
        super().__init__(f"{resource}: key {key!r} {what}; read it again and retry the change")
        self.resource = resource
        self.key = key
        self.expected = expected


class DataUnavailable(DataError):
    """The backend failed: unreachable past the deadline, throttled throughout, the resource missing, or denied."""


class UnsupportedOperation(DataError):
    """The backend cannot do this at all (e.g. presigning a ``memory://`` bucket); the message says what can."""
