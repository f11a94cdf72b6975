"""``firestore://PROJECT/COLLECTION`` key-value tables (entry point group ``portafunc.data``).

* One document per key, laid out as the idempotency store's (:mod:`.firestore`): id = SHA-256 of the key, fields
  ``key``, ``value`` (JSON text), and with a TTL ``expires_at`` (epoch seconds) plus ``expiration`` (a timestamp: the
  field the Firestore TTL policy sweeps; reads check ``expires_at`` themselves, as sweeping lags).
* Versions are the documents' update times (RFC 3339 with nanoseconds); ``if_version`` writes carry a
  ``last_update_time`` precondition, create-only writes (``ABSENT``) are ``create`` calls — one round trip, atomic.
* ``keys(prefix)`` is a range query on ``key``, ordered, 500 per page.
* ``?database=NAME`` (default ``(default)``), ``?timeout=`` seconds (default 30): the messaging deadline rule; the
  client's own retries are off for these calls, and each request's gRPC deadline is the time left, so a service
  that never answers cannot hold a call past it.
* IAM: ``roles/datastore.user`` on the project.
"""

from __future__ import annotations

import time
from functools import partial
from datetime import datetime, timezone
from typing import Any, Iterator

from portafunc.lazy import built_once
from portafunc.data import ABSENT, DataError, DataUnavailable, KeyNotFound, TableStore, VersionConflict
from portafunc.data.calls import Caller, split_options, timeout_of
from portafunc.errors import BindingError
from portafunc.plugins import binds

from . import firestore

TRANSIENT = firestore.TRANSIENT
transient = firestore.transient
CONFLICT = {"FailedPrecondition", "NotFound", "AlreadyExists"}
PAGE = 500


class FirestoreKV(TableStore):
    def __init__(self, url: str, project: str, collection: str, database: str | None, timeout: float) -> None:
        self.url = url
        self.project = project
        self.collection = collection
        self.database = database
        self.call = Caller(url, timeout, transient, self._translate)
        self._collection: Any = None

    @built_once
    def client(self) -> Any:
        return firestore.client(self.project, self.database)

    def _doc(self, key: str) -> Any:
        if self._collection is None:  # one reference for every call: building it costs more than the key's hash
            self._collection = self.client.collection(self.collection)
        return self._collection.document(firestore.document_id(key))

    def _translate(self, exc: BaseException, key: str) -> DataError:
        name = type(exc).__name__
        text = str(exc).splitlines()[0] if str(exc) else ""
        if name in ("PermissionDenied", "Unauthenticated", "DefaultCredentialsError", "RefreshError"):
            return DataUnavailable(f"{self.url}: access denied ({name}: {text}); the service account needs "
                                   "roles/datastore.user")
        if name in TRANSIENT:
            return DataUnavailable(f"{self.url}: Firestore is unreachable ({name}: {text})")
        return DataUnavailable(f"{self.url}: {name}: {text}")

    def get(self, key: str) -> tuple[str, str]:
        snap = self.call.timed(lambda left: self._doc(key).get(retry=None, timeout=left), key)
        data = snap.to_dict() if snap.exists else None
        if not data or _expired(data, time.time()):
            raise KeyNotFound(self.url, key)
        return str(data["value"]), snap.update_time.rfc3339()

    def put(self, key: str, text: str, expires_at: float | None, if_version: str | None) -> str:
        from google.cloud.firestore import DELETE_FIELD

        data: dict[str, Any] = {firestore.KEY_FIELD: key, "value": text}
        if expires_at is not None:
            data["expires_at"] = float(expires_at)
            data[firestore.TTL_FIELD] = datetime.fromtimestamp(expires_at, tz=timezone.utc)
        doc = self._doc(key)
        if if_version is None:
            return str(self.call.timed(lambda left: doc.set(data, retry=None, timeout=left), key).update_time.rfc3339())
        # an update must also remove a TTL the new value does not have (set() cannot carry a precondition)
        changes = {"expires_at": DELETE_FIELD, firestore.TTL_FIELD: DELETE_FIELD, **data}
        try:
            if if_version != ABSENT:
                option = self.client.write_option(last_update_time=_timestamp(if_version))
                written = self.call.timed(lambda left: doc.update(changes, option=option, retry=None, timeout=left), key)
                return str(written.update_time.rfc3339())
            try:
                return str(self.call.timed(lambda left: doc.create(data, retry=None, timeout=left),
                                           key).update_time.rfc3339())
            except DataUnavailable as exc:
                if type(exc.__cause__).__name__ != "AlreadyExists":
                    raise
            # create-only still wins over an expired document
            snap = self.call.timed(lambda left: doc.get(retry=None, timeout=left), key)
            if not snap.exists or not _expired(snap.to_dict() or {}, time.time()):
                raise VersionConflict(self.url, key, if_version)
            option = self.client.write_option(last_update_time=snap.update_time)
            return str(self.call.timed(lambda left: doc.update(changes, option=option, retry=None, timeout=left),
                                       key).update_time.rfc3339())
        except DataUnavailable as exc:
            if type(exc.__cause__).__name__ in CONFLICT:
                raise VersionConflict(self.url, key, if_version) from None
            raise

    def delete(self, key: str, if_version: str | None) -> None:
        doc = self._doc(key)
        if if_version is None:
            self.call.timed(lambda left: doc.delete(retry=None, timeout=left), key)
            return
        option = self.client.write_option(last_update_time=_timestamp(if_version))
        try:
            self.call.timed(lambda left: doc.delete(option=option, retry=None, timeout=left), key)
        except DataUnavailable as exc:
            if type(exc.__cause__).__name__ in CONFLICT:
                raise VersionConflict(self.url, key, if_version) from None
            raise

    def keys(self, prefix: str) -> Iterator[str]:
        from google.cloud.firestore import FieldFilter

        field = firestore.KEY_FIELD
        query = self.client.collection(self.collection)
        if prefix:
            query = query.where(filter=FieldFilter(field, ">=", prefix))
            if ord(prefix[-1]) < 0x10FFFF:  # code-point order is Firestore's (UTF-8 byte) order
                query = query.where(filter=FieldFilter(field, "<", prefix[:-1] + chr(ord(prefix[-1]) + 1)))
        query = query.order_by(field).select([field, "expires_at"]).limit(PAGE)
        last: str | None = None
        while True:
            page_query = query if last is None else query.start_after({field: last})
            snaps: list[Any] = self.call.timed(partial(_fetch, page_query))
            now = time.time()
            for snap in snaps:
                data = snap.to_dict() or {}
                found = str(data.get(field, ""))
                if found.startswith(prefix) and not _expired(data, now):
                    yield found
            if len(snaps) < PAGE:
                return
            last = str((snaps[-1].to_dict() or {}).get(field, ""))


def _fetch(query: Any, left: float) -> list[Any]:
    return list(query.stream(retry=None, timeout=left))


def _timestamp(version: str) -> Any:
    from google.api_core.datetime_helpers import DatetimeWithNanoseconds

    try:
        return DatetimeWithNanoseconds.from_rfc3339(version)
    except ValueError:
        raise ValueError(f"if_version {version!r} is not a version this Firestore table gave") from None


def _expired(data: dict[str, Any], now: float) -> bool:
    exp = data.get("expires_at")
    return exp is not None and float(exp) <= now


def factory(kind: str, url: str, name: str) -> FirestoreKV:
    """``firestore://PROJECT/COLLECTION[?database=NAME&timeout=S]`` → a key-value table."""
    from portafunc.data.binding import env_name

    variable = env_name(kind, name)
    if kind != "kv":
        raise BindingError(f"{variable}={url!r}: firestore:// is a key-value table; bind buckets to gs://BUCKET")
    rest, options = split_options(url, {"database"}, variable)
    project, _, collection = rest.strip("/").partition("/")
    if not project or not collection or "/" in collection:
        raise BindingError(f"{variable}={url!r}: expected firestore://PROJECT/COLLECTION")
    return FirestoreKV(url, project, collection, options.get("database"), timeout_of(options, url))


binds(factory, "kv")
