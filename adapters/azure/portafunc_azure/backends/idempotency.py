"""``aztable://TABLE`` — the idempotency store on Azure Table Storage (entry point group ``portafunc.idempotency``).

* Connection: the variable named by ``?connection=VAR``, else ``PORTAFUNC_AZTABLE_CONNECTION``, else
  ``AzureWebJobsStorage`` (the Functions host's own storage account). Azurite works the same way.
* One entity per key: PartitionKey = SHA-256 of the key (keys may hold characters Table keys forbid), RowKey ``r``;
  the key itself, ``status``, ``payload_hash``, ``expires_at`` and the result (in ``result_N`` chunks of 16k
  characters, as one string property holds at most 64 KiB) are properties.
* Claim: ``create_entity`` (409 Conflict when the entity exists); when the existing record has expired, a
  ``REPLACE`` update conditional on its ETag (412 when someone else replaced it first). Of concurrent duplicates
  exactly one wins.
* Owner: the claim stores its token in ``owner`` and remembers the ETag its write returned; ``complete`` is a
  ``REPLACE`` and ``delete`` a delete, both ``If-Match`` that ETag (one round trip). When it no longer matches (or
  the claim was made by another store instance) the entity is read: a different ``owner`` (or, for ``complete``, no
  entity) refuses the write, else it is retried ``If-Match`` the ETag just read. A late invocation whose key was
  taken over after its lease therefore never overwrites or releases the new claim.
* Table Storage has no TTL: expired records are overwritten on the next claim; sweep old ones with a periodic
  query on ``expires_at`` if the table must stay small.
* ``?create=1``: the table is created on first use when it does not exist (Azurite starts empty; the deployed app's
  setting never carries it, as the ARM template creates the table).
* ``?timeout=`` seconds (default 10: a claim is on the path of every guarded invocation) bounds each operation, all
  its requests together: transient failures are retried with the core's backoff until then (the SDK's retries are
  off), and each request's connect + read timeouts fit in the time left, so a service that never answers cannot
  hold an invocation past it.
* azure-data-tables is imported when the store is first used.
"""

from __future__ import annotations

import time
from functools import partial
from typing import Any, Callable, TypeVar
from urllib.parse import parse_qs, urlsplit

from portafunc.lazy import built_once
from portafunc.idempotency import (COMPLETED, IN_PROGRESS, ClaimVersions, IdempotencyStore, IdempotencyStoreError,
                                   Record)

from . import tables
from .retrying import call_until, timeout_option, transport_options

T = TypeVar("T")
ROW = "r"
DEFAULT_TIMEOUT = 10.0
CHUNK = tables.CHUNK
MAX_CHUNKS = tables.MAX_CHUNKS


def connection_from_env(var: str | None) -> str:
    value = tables.connection_from_env(var)
    if value is None:
        names = [var] if var else list(tables.DEFAULT_CONNECTION_VARS)
        raise IdempotencyStoreError(f"aztable:// needs a storage connection string in {' or '.join(names)}")
    return value


class AzureTableStore(IdempotencyStore):
    """Records as Table Storage entities, claimed with create-or-conflict and ETag-conditional replace."""

    owner_checks = True

    def __init__(self, table: str, connection_string: str | None = None, connection_var: str | None = None,
                 timeout: float = DEFAULT_TIMEOUT, create: bool = False) -> None:
        if not table or not table.isalnum() or not table[0].isalpha() or not 3 <= len(table) <= 63:
            raise IdempotencyStoreError(f"aztable://{table}: a table name is 3-63 letters and digits, starting "
                                        "with a letter")
        self.table = table
        self._conn = connection_string
        self._conn_var = connection_var
        self.timeout = timeout
        self.create = create
        self._etags = ClaimVersions()

    def __repr__(self) -> str:
        return f"AzureTableStore({self.table!r})"

    @built_once
    def client(self) -> Any:
        from azure.data.tables import TableClient

        conn = self._conn or connection_from_env(self._conn_var)
        client = TableClient.from_connection_string(conn, table_name=self.table, retry_total=0)
        if self.create:
            self._create_table(client)
        return client

    def _requests(self) -> _Requests:
        """The requests of one operation, which share its deadline."""
        return _Requests(time.monotonic() + self.timeout)

    def _fail(self, action: str, exc: Exception) -> IdempotencyStoreError:
        hint = "; create the table (locally, against Azurite: add ?create=1 to the URL)" \
            if "TableNotFound" in str(exc) else ""
        return IdempotencyStoreError(f"idempotency store aztable://{self.table}: {action} failed: "
                                     f"{type(exc).__name__}: {exc}{hint}")

    def put_in_progress(self, key: str, payload_hash: str, expires_at: float, owner: str | None = None) -> bool:
        from azure.core import MatchConditions
        from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
        from azure.data.tables import UpdateMode

        entity = _entity(key, IN_PROGRESS, payload_hash, expires_at, None, owner)
        request = self._requests()
        try:
            for _ in range(3):
                try:
                    created = request(lambda **timeouts: self.client.create_entity(entity, **timeouts))
                    self._etags.remember(key, owner, created.get("etag"))
                    return True
                except ResourceExistsError:
                    pass
                try:
                    existing = request(lambda **timeouts: self.client.get_entity(entity["PartitionKey"], ROW,
                                                                               **timeouts))
                except ResourceNotFoundError:
                    continue  # deleted between the two calls: try to create it again
                if float(existing.get("expires_at", 0.0)) > time.time():
                    return False
                try:
                    written = request(partial(self.client.update_entity, entity, mode=UpdateMode.REPLACE,
                                              etag=existing.metadata["etag"],
                                              match_condition=MatchConditions.IfNotModified))
                    self._etags.remember(key, owner, written.get("etag"))
                    return True
                except (ResourceModifiedError, ResourceNotFoundError):
                    return False  # another caller replaced (or released) it first: it holds the key
        except IdempotencyStoreError:
            raise
        except Exception as exc:  # noqa: BLE001
            raise self._fail("claim", exc) from exc
        return False

    def complete(self, key: str, payload_hash: str, result: str, expires_at: float,
                 owner: str | None = None) -> bool:
        from azure.core import MatchConditions
        from azure.core.exceptions import ResourceModifiedError, ResourceNotFoundError
        from azure.data.tables import UpdateMode

        entity = _entity(key, COMPLETED, payload_hash, expires_at, result, owner)
        request = self._requests()
        try:
            if owner is None:
                request(lambda **timeouts: self.client.upsert_entity(entity, mode=UpdateMode.REPLACE, **timeouts))
                return True
            return self._etags.write_as_owner(
                key, owner, lambda: self._owned_etag(request, key, owner) or False,  # gone or another's: refused
                lambda etag: request(lambda **timeouts: self.client.update_entity(
                    entity, mode=UpdateMode.REPLACE, etag=etag, match_condition=MatchConditions.IfNotModified,
                    **timeouts)),
                (ResourceModifiedError, ResourceNotFoundError))
        except Exception as exc:  # noqa: BLE001
            raise self._fail("complete", exc) from exc

    def _owned_etag(self, request: _Requests, key: str, owner: str, *,
                    gone: bool | None = None) -> str | bool | None:
        """The entity's current ETag if it still holds ``owner``; None when another claim holds it, and ``gone``
        (default None) when there is no entity."""
        from azure.core.exceptions import ResourceNotFoundError

        try:
            entity = request(lambda **timeouts: self.client.get_entity(_partition(key), ROW, select=["owner"],
                                                                     **timeouts))
        except ResourceNotFoundError:
            return gone
        if entity.get("owner") != owner:
            return None
        return str(entity.metadata["etag"])

    def get(self, key: str) -> Record | None:
        from azure.core.exceptions import ResourceNotFoundError

        request = self._requests()
        try:
            entity = request(lambda **timeouts: self.client.get_entity(_partition(key), ROW, **timeouts))
        except ResourceNotFoundError:
            return None
        except Exception as exc:  # noqa: BLE001
            raise self._fail("get", exc) from exc
        result = tables.join_chunks(entity, "result")
        owner = entity.get("owner")
        return Record(key, str(entity.get("status", IN_PROGRESS)), str(entity.get("payload_hash", "")),
                      float(entity.get("expires_at", 0.0)), result, None if owner is None else str(owner))

    def delete(self, key: str, owner: str | None = None) -> bool:
        from azure.core import MatchConditions
        from azure.core.exceptions import ResourceModifiedError, ResourceNotFoundError

        request = self._requests()
        try:
            if owner is None:
                request(lambda **timeouts: self.client.delete_entity(_partition(key), ROW, **timeouts))
                return True
            # already gone: nothing of ours to release (True); another claim's (False); a 404 on the delete
            # itself is "already gone" too: the SDK returns quietly
            return self._etags.write_as_owner(
                key, owner, lambda: self._owned_etag(request, key, owner, gone=True) or False,
                lambda etag: request(lambda **timeouts: self.client.delete_entity(
                    _partition(key), ROW, etag=etag, match_condition=MatchConditions.IfNotModified, **timeouts)),
                (ResourceModifiedError,))
        except ResourceNotFoundError:
            return True
        except Exception as exc:  # noqa: BLE001
            raise self._fail("delete", exc) from exc

    def create_table(self) -> None:
        """Create the table if it does not exist (tests and first-time set-up; ``?create=1`` on first use)."""
        self._create_table(self.client)

    def _create_table(self, client: Any) -> None:
        try:
            self._requests()(client.create_table)
        except Exception as exc:  # noqa: BLE001
            if type(exc).__name__ != "ResourceExistsError":
                raise self._fail("create table", exc) from exc


class _Requests:
    """Runs ``fn(**socket timeouts)``, retried on transient failures, within one operation's deadline."""

    __slots__ = ("deadline",)

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline

    def __call__(self, fn: Callable[..., T]) -> T:
        return call_until(self.deadline, lambda left: fn(**transport_options(left)))


_partition = tables.hashed_key


def _entity(key: str, status: str, payload_hash: str, expires_at: float, result: str | None,
            owner: str | None = None) -> dict[str, Any]:
    entity: dict[str, Any] = {"PartitionKey": _partition(key), "RowKey": ROW, "key": key, "status": status,
                              "payload_hash": payload_hash, "expires_at": float(expires_at)}
    if owner is not None:
        entity["owner"] = owner
    if result is not None:
        try:
            entity.update(tables.chunk_properties("result", result))
        except ValueError as exc:
            raise IdempotencyStoreError(f"idempotency result too large: {exc}") from None
    return entity


def store_factory(url: str) -> AzureTableStore:
    """``aztable://TABLE[?connection=VAR&create=1&timeout=S]`` → a store."""
    parts = urlsplit(url)
    table = (parts.netloc + parts.path).strip("/")
    options = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    return AzureTableStore(table, connection_var=options.get("connection"),
                           timeout=timeout_option(options, url, DEFAULT_TIMEOUT), create=tables.wants_create(options))
