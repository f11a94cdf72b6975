"""``aztable://ACCOUNT/TABLE`` key-value tables on Azure Table storage, or Cosmos DB through its Table API endpoint
(entry point group ``portafunc.data``).

* Connection: the variable named by ``?connection=VAR``, else ``PORTAFUNC_AZTABLE_CONNECTION``, else
  ``AzureWebJobsStorage`` (as the idempotency store); its ``AccountName`` must be ACCOUNT.
* One entity per key, laid out as the idempotency store's (:mod:`.tables`): PartitionKey = SHA-256 of the key,
  RowKey ``r``; the key itself in ``key``, the JSON text in ``value_N`` chunks, ``expires_at`` (epoch seconds) when a
  TTL was given. Table storage has no TTL: expired entities read as missing and are overwritten by the next write.
* Versions are the entities' ETags; ``if_version`` writes are ``If-Match`` requests, create-only writes
  (``ABSENT``) are inserts (409 when the key exists, unless it has expired).
* ``keys(prefix)`` is a range filter on ``key`` (a table scan server-side).
* ``?create=1``: the table is created on first use when it does not exist (Azurite starts empty; the deployed
  app's bindings never carry it, as the ARM template creates the table).
* ``?timeout=`` seconds (default 30): the messaging deadline rule; SDK retries are off. Each request's connect +
  read timeouts fit in the time left (at most 10 s), so a service that never answers cannot hold a call past it.
"""

from __future__ import annotations

import time
from typing import Any, Iterator

from portafunc.lazy import built_once
from portafunc.data import ABSENT, DataError, DataUnavailable, KeyNotFound, TableStore, VersionConflict
from portafunc.data.calls import Caller, split_options, timeout_of
from portafunc.errors import BindingError
from portafunc.plugins import binds

from . import tables
from .retrying import transient, transport_options
from .storage_queue import account_name

ROW = "r"


class TableKV(TableStore):
    def __init__(self, url: str, account: str, table: str, connection_var: str | None, timeout: float,
                 create: bool = False) -> None:
        self.url = url
        self.account = account
        self.table = table
        self.connection_var = connection_var
        self.create = create
        self.call = Caller(url, timeout, transient, self._translate)

    @built_once
    def client(self) -> Any:
        from azure.data.tables import TableClient

        conn = tables.connection_from_env(self.connection_var)
        if conn is None:
            names = [self.connection_var] if self.connection_var else tables.DEFAULT_CONNECTION_VARS
            raise BindingError(f"{self.url}: needs a storage connection string in {' or '.join(names)}")
        found = account_name(conn)
        if found and found != self.account:
            raise BindingError(f"{self.url}: the connection string is for account {found!r}, not {self.account!r}")
        client = TableClient.from_connection_string(conn, table_name=self.table, retry_total=0,
                                                    connection_timeout=10, read_timeout=10)
        if self.create:
            self.call.timed(lambda left: _create_table(client, left))
        return client

    def _translate(self, exc: BaseException, key: str) -> DataError:
        from azure.core.exceptions import ClientAuthenticationError, HttpResponseError, ServiceRequestError

        if isinstance(exc, BindingError):
            raise exc
        text = str(exc)
        if "TableNotFound" in text or getattr(exc, "error_code", None) == "TableNotFound":
            return DataUnavailable(f"{self.url}: the table does not exist{tables.CREATE_HINT}")
        if isinstance(exc, ClientAuthenticationError) or (isinstance(exc, HttpResponseError)
                                                           and exc.status_code in (401, 403)):
            return DataUnavailable(f"{self.url}: access denied; check the account key in the connection string")
        if isinstance(exc, ServiceRequestError):
            return DataUnavailable(f"{self.url}: the storage account is unreachable: {exc}")
        return DataUnavailable(f"{self.url}: {type(exc).__name__}: {text.splitlines()[0] if text else ''}")

    def _read(self, key: str) -> Any:
        """The entity, or None when missing (expired ones included: the caller decides)."""
        from azure.core.exceptions import ResourceNotFoundError

        def read(left: float) -> Any:
            try:
                return self.client.get_entity(tables.hashed_key(key), ROW, **transport_options(left))
            except ResourceNotFoundError as exc:
                if "TableNotFound" in str(exc):
                    raise
                return None

        return self.call.timed(read, key)

    def get(self, key: str) -> tuple[str, str]:
        entity = self._read(key)
        if entity is None or _expired(entity, time.time()):
            raise KeyNotFound(self.url, key)
        return tables.join_chunks(entity, "value") or "", str(entity.metadata["etag"])

    def put(self, key: str, text: str, expires_at: float | None, if_version: str | None) -> str:
        from azure.core import MatchConditions
        from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
        from azure.data.tables import UpdateMode

        entity: dict[str, Any] = {"PartitionKey": tables.hashed_key(key), "RowKey": ROW, "key": key}
        try:
            entity.update(tables.chunk_properties("value", text))
        except ValueError as exc:
            raise ValueError(f"{self.url}: value too large: {exc}") from None
        if expires_at is not None:
            entity["expires_at"] = float(expires_at)
        if if_version is None:
            written = self.call.timed(lambda left: self.client.upsert_entity(entity, mode=UpdateMode.REPLACE,
                                                                             **transport_options(left)), key)
            return str(written["etag"])

        def replace_if(etag: str, left: float) -> Any:
            return self.client.update_entity(entity, mode=UpdateMode.REPLACE, etag=etag,
                                             match_condition=MatchConditions.IfNotModified, **transport_options(left))

        try:
            if if_version != ABSENT:
                return str(self.call.timed(lambda left: replace_if(if_version, left), key)["etag"])
            try:
                return str(self.call.timed(lambda left: self.client.create_entity(entity, **transport_options(left)),
                                           key)["etag"])
            except DataUnavailable as exc:
                if not isinstance(exc.__cause__, ResourceExistsError):
                    raise
            existing = self._read(key)  # it exists: create-only may still win over an expired entity
            if existing is None or not _expired(existing, time.time()):
                raise VersionConflict(self.url, key, if_version)
            return str(self.call.timed(lambda left: replace_if(existing.metadata["etag"], left), key)["etag"])
        except DataUnavailable as exc:
            if isinstance(exc.__cause__, (ResourceModifiedError, ResourceNotFoundError, ResourceExistsError)):
                raise VersionConflict(self.url, key, if_version) from None
            raise

    def delete(self, key: str, if_version: str | None) -> None:
        from azure.core import MatchConditions
        from azure.core.exceptions import ResourceModifiedError

        if if_version is None:
            self.call.timed(lambda left: self.client.delete_entity(tables.hashed_key(key), ROW,
                                                                   **transport_options(left)), key)
            return
        # the SDK answers a 404 on delete quietly, so a versioned delete of a missing key is found by reading first
        existing = self._read(key)
        if existing is None or str(existing.metadata["etag"]) != if_version or _expired(existing, time.time()):
            raise VersionConflict(self.url, key, if_version)
        try:
            self.call.timed(lambda left: self.client.delete_entity(
                tables.hashed_key(key), ROW, etag=if_version, match_condition=MatchConditions.IfNotModified,
                **transport_options(left)), key)
        except DataUnavailable as exc:
            if isinstance(exc.__cause__, ResourceModifiedError):
                raise VersionConflict(self.url, key, if_version) from None
            raise

    def keys(self, prefix: str) -> Iterator[str]:
        select = ["key", "expires_at"]
        query, params = "", {}
        if prefix:
            query, params = "key ge @lo", {"lo": prefix}
            last = prefix[-1]
            if ord(last) < 0xD7FF:  # code-point order matches the service's UTF-16 order below the surrogates
                query += " and key lt @hi"
                params["hi"] = prefix[:-1] + chr(ord(last) + 1)
        token: Any = None
        while True:
            def page(left: float, token: Any = token) -> tuple[list[Any], Any]:
                if query:
                    pager = self.client.query_entities(query, parameters=params, select=select, results_per_page=1000,
                                                       **transport_options(left))
                else:
                    pager = self.client.list_entities(select=select, results_per_page=1000, **transport_options(left))
                pages = pager.by_page(continuation_token=token)
                return list(next(pages)), pages.continuation_token

            entities, token = self.call.timed(page)
            now = time.time()
            for entity in entities:
                found = str(entity.get("key", ""))
                if found.startswith(prefix) and not _expired(entity, now):
                    yield found
            if not token:
                return


def _create_table(client: Any, left: float) -> None:
    from azure.core.exceptions import ResourceExistsError

    try:
        client.create_table(**transport_options(left))
    except ResourceExistsError:
        pass


def _expired(entity: Any, now: float) -> bool:
    exp = entity.get("expires_at")
    return exp is not None and float(exp) <= now


def factory(kind: str, url: str, name: str) -> TableKV:
    """``aztable://ACCOUNT/TABLE[?connection=VAR&create=1&timeout=S]`` → a key-value table."""
    from portafunc.data.binding import env_name

    variable = env_name(kind, name)
    if kind != "kv":
        raise BindingError(f"{variable}={url!r}: aztable:// is a key-value table; bind buckets to "
                           "azblob://ACCOUNT/CONTAINER")
    rest, options = split_options(url, {"connection", "create"}, variable)
    account, _, table = rest.strip("/").partition("/")
    if not account or not table.isalnum() or not table[:1].isalpha() or not 3 <= len(table) <= 63:
        raise BindingError(f"{variable}={url!r}: expected aztable://ACCOUNT/TABLE (a table is 3-63 letters and "
                           "digits, starting with a letter)")
    return TableKV(url, account, table, options.get("connection"), timeout_of(options, url),
                   tables.wants_create(options))


binds(factory, "kv")
