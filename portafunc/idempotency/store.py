"""The store protocol every idempotency backend implements, and the record it keeps per key.

A record is *live* until ``expires_at`` (epoch seconds): for an in-progress record that is the lease after which a
crashed invocation may be retried; for a completed record it is how long the result is kept for replay. A store must
make :meth:`IdempotencyStore.put_in_progress` atomic (a conditional write): of any number of concurrent callers at
most one gets ``True`` while a live record exists. Everything else (waiting, hashing, replay) lives in the pipeline.
"""

from __future__ import annotations

import time

IN_PROGRESS = "in_progress"
COMPLETED = "completed"


class Record:
    """What a store keeps for one key. ``result`` is the JSON text of the first result (completed records only)."""

    __slots__ = ("key", "status", "payload_hash", "expires_at", "result")

    def __init__(self, key: str, status: str, payload_hash: str, expires_at: float,
                 result: str | None = None) -> None:
        self.key = key
        self.status = status
        self.payload_hash = payload_hash
        self.expires_at = float(expires_at)
        self.result = result

    def __repr__(self) -> str:
        return f"Record({self.key!r}, {self.status}, expires_at={self.expires_at:.3f})"

    def is_live(self, now: float | None = None) -> bool:
        return self.expires_at > (time.time() if now is None else now)

    @property
    def completed(self) -> bool:
        return self.status == COMPLETED


class IdempotencyStore:
    """Base class (and protocol) of the stores: memory, DynamoDB, Azure Table Storage, Firestore."""

    def put_in_progress(self, key: str, payload_hash: str, expires_at: float) -> bool:
        """Claim ``key``: write an in-progress record unless a live one exists. True when this caller won."""
        raise NotImplementedError

    def complete(self, key: str, payload_hash: str, result: str, expires_at: float) -> None:
        """Overwrite ``key`` with a completed record holding the first result (JSON text), kept until ``expires_at``."""
        raise NotImplementedError

    def get(self, key: str) -> Record | None:
        """The record for ``key`` (live or not), or None."""
        raise NotImplementedError

    def delete(self, key: str) -> None:
        """Forget ``key`` (the invocation failed: the next delivery must run the handler). Missing keys are fine."""
        raise NotImplementedError
