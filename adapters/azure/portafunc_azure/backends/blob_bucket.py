"""``azblob://ACCOUNT/CONTAINER`` buckets (entry point group ``portafunc.data``).

* Connection: the variable named by ``?connection=VAR``, else ``PORTAFUNC_AZBLOB_CONNECTION``, else
  ``AzureWebJobsStorage``; its ``AccountName`` must be ACCOUNT (Azurite: ``devstoreaccount1``). Presigned URLs are
  SAS tokens signed with the connection string's account key.
* Objects are block blobs; metadata keys are letters, digits and ``_`` (Azure wants C# identifiers).
* A presigned PUT needs the header ``x-ms-blob-type: BlockBlob`` on the upload (Azure requires it).
* ``?create=1``: the container is created on first use when it does not exist (Azurite starts empty; the deployed
  app's bindings never carry it, as the ARM template creates the container).
* ``?timeout=`` seconds (default 30): transient failures retried with the core's backoff until then (the SDK's own
  retries are off). Each request's connect + read timeouts fit in the time left (at most 10 s, so a hung request is
  retried, not waited on): a call ends by its deadline even when the service accepts and never answers. A stream
  from ``open()`` reads later chunks with the timeouts of the call that opened it.
* azure-storage-blob is imported on first use.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, BinaryIO, Iterator, Mapping

from portafunc.lazy import built_once
from portafunc.data import DataError, DataUnavailable, KeyNotFound, ObjectInfo, ObjectStore
from portafunc.data.base import rewind_point
from portafunc.data.calls import Caller, split_options, timeout_of
from portafunc.data.stream import reader
from portafunc.errors import BindingError
from portafunc.plugins import binds

from . import tables
from .retrying import transient, transport_options
from .storage_queue import account_name

CONNECTION_VARS = ("PORTAFUNC_AZBLOB_CONNECTION", "AzureWebJobsStorage")


class BlobBucket(ObjectStore):
    def __init__(self, url: str, account: str, container: str, connection_var: str | None, timeout: float,
                 create: bool = False) -> None:
        self.url = url
        self.account = account
        self.container = container
        self.connection_var = connection_var
        self.create = create
        self.call = Caller(url, timeout, transient, self._translate)

    @built_once
    def client(self) -> Any:
        """The ``ContainerClient`` (built on first use; checks the connection string's account)."""
        from azure.storage.blob import BlobServiceClient

        names = (self.connection_var,) if self.connection_var else CONNECTION_VARS
        conn = tables.connection_from_env(None, names)
        if conn is None:
            raise BindingError(f"{self.url}: needs a storage connection string in {' or '.join(names)}")
        found = account_name(conn)
        if found and found != self.account:
            raise BindingError(f"{self.url}: the connection string is for account {found!r}, not {self.account!r}")
        service = BlobServiceClient.from_connection_string(conn, retry_total=0, connection_timeout=10,
                                                           read_timeout=10)
        client = service.get_container_client(self.container)
        if self.create:
            self.call.timed(lambda left: _create_container(client, left))
        return client

    def _translate(self, exc: BaseException, key: str) -> DataError:
        from azure.core.exceptions import ClientAuthenticationError, HttpResponseError, ServiceRequestError

        code = str(getattr(exc, "error_code", "") or "")
        if code == "BlobNotFound" and key:
            return KeyNotFound(self.url, key)
        if code == "ContainerNotFound":
            return DataUnavailable(f"{self.url}: the container does not exist{tables.CREATE_HINT}")
        if isinstance(exc, ClientAuthenticationError) or (isinstance(exc, HttpResponseError)
                                                           and exc.status_code in (401, 403)):
            return DataUnavailable(f"{self.url}: access denied ({code or type(exc).__name__}); check the account "
                                   "key in the connection string")
        if isinstance(exc, ServiceRequestError):
            return DataUnavailable(f"{self.url}: the storage account is unreachable: {exc}")
        if isinstance(exc, HttpResponseError) and exc.status_code == 404 and key:
            return KeyNotFound(self.url, key)
        if isinstance(exc, BindingError):
            raise exc
        return DataUnavailable(f"{self.url}: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")

    def _blob(self, key: str) -> Any:
        return self.client.get_blob_client(key)

    def put(self, key: str, body: Any, content_type: str | None, metadata: Mapping[str, str] | None) -> str:
        from azure.storage.blob import ContentSettings

        start = rewind_point(body)

        def put(left: float) -> Any:
            if start is not None:
                body.seek(start)
            return self._blob(key).upload_blob(body, overwrite=True, metadata=dict(metadata or {}),
                                               content_settings=ContentSettings(content_type=content_type),
                                               **transport_options(left))

        return str(self.call.timed(put, key, once=start is None and not isinstance(body, bytes))["etag"]).strip('"')

    def get(self, key: str) -> bytes:
        return bytes(self.call.timed(lambda left: self._blob(key).download_blob(**transport_options(left)).readall(),
                                     key))

    def open(self, key: str) -> BinaryIO:
        download = self.call.timed(lambda left: self._blob(key).download_blob(**transport_options(left)), key)
        return reader(download.read)

    def stat(self, key: str) -> ObjectInfo:
        props = self.call.timed(lambda left: self._blob(key).get_blob_properties(**transport_options(left)), key)
        return ObjectInfo(key, int(props.size), str(props.etag).strip('"'), props.last_modified,
                          props.content_settings.content_type, dict(props.metadata or {}))

    def delete(self, key: str) -> None:
        try:
            self.call.timed(lambda left: self._blob(key).delete_blob(**transport_options(left)), key)
        except KeyNotFound:
            pass

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        token: str | None = None
        while True:
            def page(left: float, token: str | None = token) -> tuple[list[Any], str | None]:
                pages = self.client.list_blobs(name_starts_with=prefix or None, **transport_options(left)).by_page(
                    continuation_token=token)
                items = list(next(pages))
                return items, pages.continuation_token

            items, token = self.call.timed(page)
            for item in items:
                yield ObjectInfo(item.name, int(item.size), str(item.etag).strip('"'), item.last_modified)
            if not token:
                return

    def exists(self, key: str) -> bool:
        try:
            self.call.timed(lambda left: self._blob(key).get_blob_properties(**transport_options(left)), key)
            return True
        except KeyNotFound:
            return False

    def presign(self, key: str, method: str, expires: int) -> str:
        from azure.storage.blob import BlobSasPermissions, generate_blob_sas

        blob = self._blob(key)
        account_key = getattr(self.client.credential, "account_key", None)
        if not account_key:
            raise DataUnavailable(f"{self.url}: presigning needs the account key in the connection string")
        permission = BlobSasPermissions(read=True) if method == "GET" else BlobSasPermissions(create=True, write=True)
        now = datetime.now(timezone.utc)
        sas = generate_blob_sas(self.account, self.container, key, account_key=account_key, permission=permission,
                                start=now - timedelta(minutes=5),  # tolerate clock skew between signer and service
                                expiry=now + timedelta(seconds=expires))
        return f"{blob.url}?{sas}"



def _create_container(client: Any, left: float) -> None:
    from azure.core.exceptions import ResourceExistsError

    try:
        client.create_container(**transport_options(left))
    except ResourceExistsError:
        pass


def factory(kind: str, url: str, name: str) -> BlobBucket:
    """``azblob://ACCOUNT/CONTAINER[?connection=VAR&create=1&timeout=S]`` → a bucket."""
    from portafunc.data.binding import env_name

    variable = env_name(kind, name)
    if kind != "bucket":
        raise BindingError(f"{variable}={url!r}: azblob:// is a bucket; bind key-value tables to "
                           "aztable://ACCOUNT/TABLE")
    rest, options = split_options(url, {"connection", "create"}, variable)
    account, _, container = rest.strip("/").partition("/")
    if not account or not (3 <= len(container) <= 63) or "/" in container \
            or not all(c.islower() or c.isdigit() or c == "-" for c in container):
        raise BindingError(f"{variable}={url!r}: expected azblob://ACCOUNT/CONTAINER (a container is 3-63 "
                           "lower-case letters, digits and '-')")
    return BlobBucket(url, account, container, options.get("connection"), timeout_of(options, url),
                      tables.wants_create(options))


binds(factory, "bucket")
