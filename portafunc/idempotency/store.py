"""The store protocol every idempotency backend implements, and the record it keeps per key.

A record is *live* until ``expires_at`` (epoch seconds): for an in-progress record that is the lease after which a
crashed invocation may be retried; for a completed record it is how long the result is kept for replay. A store must
make :meth:`IdempotencyStore.put_in_progress` atomic (a conditional write): of any number of concurrent callers at
most one gets ``True`` while a live record exists. Everything else (waiting, hashing, replay) lives in the pipeline.

**Owner tokens** (stores with ``owner_checks = True``). A claim that outlives its lease can be taken over by a
redelivery; the first invocation is then *late*, not crashed, and must not overwrite or release the record that now
belongs to the second. So each claim carries a random ``owner`` token, stored in the record, and ``complete`` /
``delete`` with ``owner=`` are conditional writes that succeed only while the record still holds that token. They
return False when they were refused. ``owner=None`` keeps the old unconditional behaviour (stores written before
owner tokens do not take the keyword at all; the pipeline then calls them without it).
"""

from __future__ import annotations

import threading
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable

IN_PROGRESS = "in_progress"
COMPLETED = "completed"


class Record:
    """What a store keeps for one key. ``result`` is the JSON text of the first result (completed records only);
    ``owner`` is the token of the claim that wrote it (None for records written without one)."""

    __slots__ = ("key", "status", "payload_hash", "expires_at", "result", "owner")

    def __init__(self, key: str, status: str, payload_hash: str, expires_at: float,
                 result: str | None = None, owner: str | None = None) -> None:
        self.key = key
        self.status = status
        self.payload_hash = payload_hash
        self.expires_at = float(expires_at)
        self.result = result
        self.owner = owner

    def __repr__(self) -> str:
        return f"Record({self.key!r}, {self.status}, expires_at={self.expires_at:.3f})"

    def is_live(self, now: float | None = None) -> bool:
        return self.expires_at > (time.time() if now is None else now)

    @property
    def completed(self) -> bool:
        return self.status == COMPLETED


class IdempotencyStore:
    """Base class (and protocol) of the stores: memory, DynamoDB, Azure Table Storage, Firestore."""

    #: True when ``put_in_progress`` / ``complete`` / ``delete`` accept ``owner=`` and honour it (see the module doc).
    owner_checks = False

    def put_in_progress(self, key: str, payload_hash: str, expires_at: float, owner: str | None = None) -> bool:
        """Claim ``key``: write an in-progress record (holding ``owner``) unless a live one exists. True when this
        caller won."""
        raise NotImplementedError

    def complete(self, key: str, payload_hash: str, result: str, expires_at: float,
                 owner: str | None = None) -> bool:
        """Overwrite ``key`` with a completed record holding the first result (JSON text), kept until ``expires_at``.

        With ``owner``: only if the record still holds that token (it was not taken over after its lease expired,
        nor deleted); False when refused. Without: unconditional, True.
        """
        raise NotImplementedError

    def get(self, key: str) -> Record | None:
        """The record for ``key`` (live or not), or None."""
        raise NotImplementedError

    def delete(self, key: str, owner: str | None = None) -> bool:
        """Forget ``key`` (the invocation failed: the next delivery must run the handler). Missing keys are fine.

        With ``owner``: only if the record still holds that token (a missing record counts as released); False when
        another claim holds it. Without: unconditional, True.
        """
        raise NotImplementedError


class ClaimVersions:
    """The version (ETag, update time) each claim's write returned, so ``complete`` / ``delete`` can be one
    conditional write instead of a read plus a conditional write. Bounded: a claim that is never finished (the
    process died, the store failed) must not grow it without end; a forgotten version only costs the read."""

    def __init__(self, limit: int = 4096) -> None:
        self._versions: dict[tuple[str, str], Any] = {}
        self._limit = limit
        self._lock = threading.Lock()

    def remember(self, key: str, owner: str | None, version: Any) -> None:
        if owner is None or version is None:
            return
        with self._lock:
            if len(self._versions) >= self._limit:
                self._versions.pop(next(iter(self._versions)))
            self._versions[(key, owner)] = version

    def take(self, key: str, owner: str) -> Any:
        """The remembered version (forgotten now: each claim finishes once), or None."""
        with self._lock:
            return self._versions.pop((key, owner), None)

    def write_as_owner(self, key: str, owner: str, read_owned: Callable[[], Any], write: Callable[[Any], None],
                       conflicts: tuple[type[BaseException], ...]) -> bool:
        """Finish ``owner``'s claim on ``key`` with one conditional ``write(version)``; True when it was written.

        Tries the version remembered from the claim first. When there is none, or the write meets one of
        ``conflicts`` (the record changed since), ``read_owned()`` gives the record's current version if it still
        holds ``owner`` — or a bool, the answer without writing (e.g. False: another claim holds it; for a delete,
        True: already gone) — and the write is tried once more. A second conflict means someone else holds it.
        """
        for version in (self.take(key, owner), None):
            if version is None:
                version = read_owned()
                if version is True or version is False:
                    return version
            try:
                write(version)
                return True
            except conflicts:
                continue
        return False

    def __len__(self) -> int:
        return len(self._versions)
