"""``memory://`` — an in-process store: exact within one process (the local runner, tests), nothing more."""

from __future__ import annotations

import threading
import time

from .store import COMPLETED, IN_PROGRESS, IdempotencyStore, Record


class MemoryStore(IdempotencyStore):
    """A dict under a lock. Duplicates reaching *another* process or container are not seen: use a cloud store there."""

    owner_checks = True

    def __init__(self, url: str = "memory://") -> None:
        self.url = url
        self._records: dict[str, Record] = {}
        self._lock = threading.Lock()

    def put_in_progress(self, key: str, payload_hash: str, expires_at: float, owner: str | None = None) -> bool:
        with self._lock:
            found = self._records.get(key)
            if found is not None and found.is_live(time.time()):
                return False
            self._records[key] = Record(key, IN_PROGRESS, payload_hash, expires_at, None, owner)
            return True

    def complete(self, key: str, payload_hash: str, result: str, expires_at: float,
                 owner: str | None = None) -> bool:
        with self._lock:
            if owner is not None:
                found = self._records.get(key)
                if found is None or found.owner != owner:
                    return False
            self._records[key] = Record(key, COMPLETED, payload_hash, expires_at, result, owner)
            return True

    def get(self, key: str) -> Record | None:
        with self._lock:
            found = self._records.get(key)
            return None if found is None else Record(found.key, found.status, found.payload_hash,
                                                     found.expires_at, found.result, found.owner)

    def delete(self, key: str, owner: str | None = None) -> bool:
        with self._lock:
            found = self._records.get(key)
            if owner is not None and found is not None and found.owner != owner:
                return False
            self._records.pop(key, None)
            return True

    def clear(self) -> None:
        with self._lock:
            self._records.clear()

    def __len__(self) -> int:
        return len(self._records)
