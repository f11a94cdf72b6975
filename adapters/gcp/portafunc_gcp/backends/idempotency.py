"""``firestore://PROJECT/COLLECTION`` — the idempotency store on Firestore (entry point group ``portafunc.idempotency``).

* One document per key in COLLECTION (id: SHA-256 of the key, since keys may contain ``/``), holding the key,
  ``status``, ``payload_hash``, ``expires_at`` (epoch seconds), ``expiration`` (a timestamp: point a Firestore TTL
  policy at it so old records are swept) and ``result``.
* Claim: ``create`` (fails with ALREADY_EXISTS when the document exists); when the existing record has expired, an
  ``update`` with a ``last_update_time`` precondition — the document's own version — so of concurrent duplicates
  exactly one wins (optimistic concurrency, one round trip, no transaction retries under contention).
* Owner: the claim stores its token in ``owner`` and remembers the ``update_time`` its write returned; ``complete``
  (an ``update`` of every field) and ``delete`` carry that ``last_update_time`` precondition (one round trip). When it
  no longer matches (or another store instance made the claim) the document is read: a different ``owner`` (or, for
  ``complete``, no document) refuses the write, else it is retried with the update time just read. A late invocation
  whose key was taken over after its lease therefore never overwrites or releases the new claim.
* Options: ``?database=NAME`` (default ``(default)``); ``?timeout=`` seconds (default 10: a claim is on the path of
  every guarded invocation) bounds each operation, all its requests together: transient failures are retried with
  the core's backoff until then (the client's retries are off), and each request's gRPC deadline is the time left,
  so a service that never answers cannot hold an invocation past it. ``FIRESTORE_EMULATOR_HOST`` points the client
  at the emulator.
* IAM: ``roles/datastore.user`` on the project.
* google-cloud-firestore is imported when the store is first used.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from functools import partial
from typing import Any, Callable, TypeVar
from urllib.parse import parse_qs, urlsplit

from portafunc.lazy import built_once
from portafunc.idempotency import (COMPLETED, IN_PROGRESS, ClaimVersions, IdempotencyStore, IdempotencyStoreError,
                                   Record)

from . import firestore as firestore_client

T = TypeVar("T")
DEFAULT_TIMEOUT = 10.0


class FirestoreStore(IdempotencyStore):
    """Records as Firestore documents, claimed with create-if-absent and update-if-unchanged preconditions."""

    owner_checks = True

    def __init__(self, project: str, collection: str, database: str | None = None,
                 timeout: float = DEFAULT_TIMEOUT) -> None:
        if not project or not collection or "/" in collection:
            raise IdempotencyStoreError("firestore:// needs a project and a collection: "
                                        "firestore://PROJECT/COLLECTION")
        self.project = project
        self.collection = collection
        self.database = database
        self.timeout = timeout
        self._versions = ClaimVersions()

    def __repr__(self) -> str:
        return f"FirestoreStore({self.project!r}, {self.collection!r})"

    @built_once
    def client(self) -> Any:
        return firestore_client.client(self.project, self.database)

    def _requests(self) -> _Requests:
        """The requests of one operation, which share its deadline."""
        return _Requests(time.monotonic() + self.timeout)

    def _doc(self, key: str) -> Any:
        return self.client.collection(self.collection).document(firestore_client.document_id(key))

    def _fail(self, action: str, exc: Exception) -> IdempotencyStoreError:
        return IdempotencyStoreError(f"idempotency store firestore://{self.project}/{self.collection}: {action} "
                                     f"failed: {type(exc).__name__}: {exc}")

    def put_in_progress(self, key: str, payload_hash: str, expires_at: float, owner: str | None = None) -> bool:
        from google.api_core.exceptions import AlreadyExists, FailedPrecondition, NotFound
        from google.cloud import firestore

        doc = self._doc(key)
        data = _data(key, IN_PROGRESS, payload_hash, expires_at, None, owner)
        request = self._requests()
        try:
            for _ in range(3):
                try:
                    self._versions.remember(key, owner, request(partial(doc.create, data)).update_time)
                    return True
                except AlreadyExists:
                    pass
                snap = request(doc.get)
                if not snap.exists:
                    continue  # released between the two calls: try to create it again
                if float((snap.to_dict() or {}).get("expires_at", 0.0)) > time.time():
                    return False
                changes = {"owner": firestore.DELETE_FIELD, **data, "result": firestore.DELETE_FIELD}
                try:
                    option = self.client.write_option(last_update_time=snap.update_time)
                    written = request(partial(doc.update, changes, option=option))
                    self._versions.remember(key, owner, written.update_time)
                    return True
                except (FailedPrecondition, NotFound):
                    return False  # another caller replaced (or released) it first: it holds the key
        except Exception as exc:  # noqa: BLE001
            raise self._fail("claim", exc) from exc
        return False

    def complete(self, key: str, payload_hash: str, result: str, expires_at: float,
                 owner: str | None = None) -> bool:
        from google.api_core.exceptions import FailedPrecondition, NotFound

        doc = self._doc(key)
        data = _data(key, COMPLETED, payload_hash, expires_at, result, owner)
        request = self._requests()
        try:
            if owner is None:
                request(lambda **options: doc.set(data, **options))
                return True
            # every field is written, so the update replaces the in-progress record as set() would
            return self._versions.write_as_owner(
                key, owner, lambda: self._owned_version(request, doc, owner) or False,  # gone or another's: refused
                lambda version: request(lambda **options: doc.update(
                    data, option=self.client.write_option(last_update_time=version), **options)),
                (FailedPrecondition, NotFound))
        except Exception as exc:  # noqa: BLE001
            raise self._fail("complete", exc) from exc

    @staticmethod
    def _owned_version(request: _Requests, doc: Any, owner: str, *, gone: bool | None = None) -> Any:
        """The document's update time if it still holds ``owner``; None when another claim holds it, and ``gone``
        (default None) when there is no document."""
        snap = request(lambda **options: doc.get(field_paths=["owner"], **options))
        if not snap.exists:
            return gone
        if (snap.to_dict() or {}).get("owner") != owner:
            return None
        return snap.update_time

    def get(self, key: str) -> Record | None:
        request = self._requests()
        try:
            snap = request(lambda **options: self._doc(key).get(**options))
        except Exception as exc:  # noqa: BLE001
            raise self._fail("get", exc) from exc
        if not snap.exists:
            return None
        data = snap.to_dict() or {}
        return Record(key, str(data.get("status", IN_PROGRESS)), str(data.get("payload_hash", "")),
                      float(data.get("expires_at", 0.0)), data.get("result"), data.get("owner"))

    def delete(self, key: str, owner: str | None = None) -> bool:
        from google.api_core.exceptions import FailedPrecondition, NotFound

        doc = self._doc(key)
        request = self._requests()
        try:
            if owner is None:
                request(lambda **options: doc.delete(**options))
                return True
            return self._versions.write_as_owner(  # already gone: nothing of ours to release (True)
                key, owner, lambda: self._owned_version(request, doc, owner, gone=True) or False,
                lambda version: request(lambda **options: doc.delete(
                    option=self.client.write_option(last_update_time=version), **options)),
                (FailedPrecondition, NotFound))
        except Exception as exc:  # noqa: BLE001
            raise self._fail("delete", exc) from exc


class _Requests:
    """Runs ``fn(timeout=, retry=None)``, retried on transient failures, within one operation's deadline: each request's
    gRPC deadline is the time left (the client's own retries are off, as they have none)."""

    __slots__ = ("deadline",)

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline

    def __call__(self, fn: Callable[..., T]) -> T:
        from portafunc.messaging.retry import call_until

        return call_until(self.deadline, lambda left: fn(timeout=left, retry=None),
                          firestore_client.transient)


def _data(key: str, status: str, payload_hash: str, expires_at: float, result: str | None,
          owner: str | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {"key": key, "status": status, "payload_hash": payload_hash,
                            "expires_at": float(expires_at),
                            "expiration": datetime.fromtimestamp(expires_at, tz=timezone.utc)}
    if result is not None:
        data["result"] = result
    if owner is not None:
        data["owner"] = owner
    return data


def store_factory(url: str) -> FirestoreStore:
    """``firestore://PROJECT/COLLECTION[?database=NAME&timeout=S]`` → a store."""
    from portafunc.messaging.retry import timeout_option

    parts = urlsplit(url)
    collection = parts.path.strip("/")
    options = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    return FirestoreStore(parts.netloc, collection, options.get("database"),
                          timeout_option(options, url, DEFAULT_TIMEOUT))
