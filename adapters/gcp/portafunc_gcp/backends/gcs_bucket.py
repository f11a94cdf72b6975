"""``gs://BUCKET`` buckets on Cloud Storage (entry point group ``portafunc.data``).

* Client: google-cloud-storage with the runtime's credentials; ``STORAGE_EMULATOR_HOST`` points it at an emulator.
* Presigned URLs are V4 signed URLs. Credentials with a private key (a service-account key file) sign locally; the
  Cloud Functions runtime's credentials have none, so the URL is signed through IAM ``signBlob`` — the function's
  service account then needs ``roles/iam.serviceAccountTokenCreator`` on itself.
* ``?timeout=`` seconds (default 30): transient failures (connection errors, 408/429/5xx) retried with the core's
  backoff until then; the client's own retries are off for these calls. Each request's connect + read timeouts fit
  in the time left, so a service that never answers cannot hold a call past it. A stream from ``open()`` reads after the
  call returned, each chunk request with socket timeouts that fit in ``?timeout=``.
* IAM: ``roles/storage.objectUser`` on the bucket.
* google-cloud-storage is imported on first use.
"""

from __future__ import annotations

import os
import shutil
from datetime import timedelta
from typing import Any, BinaryIO, Iterator, Mapping

from portafunc.lazy import built_once
from portafunc.data import DataError, DataUnavailable, KeyNotFound, ObjectInfo, ObjectStore
from portafunc.data.base import rewind_point
from portafunc.data.calls import Caller, split_options, timeout_of
from portafunc.data.stream import reader
from portafunc.errors import BindingError
from portafunc.messaging.retry import socket_timeouts
from portafunc.plugins import binds

TRANSIENT = {"ServiceUnavailable", "InternalServerError", "TooManyRequests", "GatewayTimeout", "BadGateway",
             "RequestTimeout", "DeadlineExceeded", "ConnectionError", "ConnectTimeout", "ReadTimeout", "Timeout",
             "ChunkedEncodingError", "RemoteDisconnected", "ConnectionResetError", "ConnectionRefusedError"}


def transient(exc: BaseException) -> bool:
    return type(exc).__name__ in TRANSIENT


class GcsBucket(ObjectStore):
    def __init__(self, url: str, bucket: str, timeout: float) -> None:
        self.url = url
        self.bucket_name = bucket
        self.call = Caller(url, timeout, transient, self._translate)

    @built_once
    def bucket(self) -> Any:
        from google.cloud import storage  # type: ignore[attr-defined]

        return storage.Client(project=os.environ.get("GOOGLE_CLOUD_PROJECT") or None).bucket(self.bucket_name)

    def _translate(self, exc: BaseException, key: str) -> DataError:
        name = type(exc).__name__
        text = str(exc).splitlines()[0] if str(exc) else ""
        if name == "NotFound":
            low = text.lower()
            if key and ("no such object" in low or not ("bucket does not exist" in low or "bucket not found" in low)):
                return KeyNotFound(self.url, key)
            return DataUnavailable(f"{self.url}: the bucket does not exist; check the binding and that the "
                                   f"deployment created it ({text})")
        if name in ("Forbidden", "Unauthorized", "DefaultCredentialsError", "RefreshError"):
            return DataUnavailable(f"{self.url}: access denied ({name}: {text}); the service account needs "
                                   "roles/storage.objectUser on the bucket")
        if name in TRANSIENT:
            return DataUnavailable(f"{self.url}: Cloud Storage is unreachable ({name}: {text})")
        return DataUnavailable(f"{self.url}: {name}: {text}")

    def put(self, key: str, body: Any, content_type: str | None, metadata: Mapping[str, str] | None) -> str:
        start = rewind_point(body)

        def put(left: float) -> str:
            blob = self.bucket.blob(key)
            if metadata:
                blob.metadata = dict(metadata)
            if isinstance(body, bytes):
                blob.upload_from_string(body, content_type=content_type, retry=None, timeout=socket_timeouts(left))
            elif start is not None:
                body.seek(start)
                blob.upload_from_file(body, content_type=content_type, retry=None, timeout=socket_timeouts(left))
            else:  # cannot be rewound: a resumable upload fed chunk by chunk, never retried from the middle
                with blob.open("wb", content_type=content_type, retry=None, timeout=socket_timeouts(left)) as out:
                    shutil.copyfileobj(body, out, 1 << 20)
                blob.reload(retry=None, timeout=socket_timeouts(left))
            return str(blob.etag)

        return self.call.timed(put, key, once=start is None and not isinstance(body, bytes))

    def get(self, key: str) -> bytes:
        return bytes(self.call.timed(lambda left: self.bucket.blob(key).download_as_bytes(
            retry=None, timeout=socket_timeouts(left)), key))

    def open(self, key: str) -> BinaryIO:
        timeouts = socket_timeouts(self.call.timeout)
        blob = self.call.timed(lambda left: self._existing(key, left), key)
        stream = blob.open("rb", chunk_size=1 << 20, retry=None, timeout=timeouts)
        return reader(stream.read, stream.close)

    def _existing(self, key: str, left: float) -> Any:
        blob = self.bucket.get_blob(key, retry=None, timeout=socket_timeouts(left))
        if blob is None:
            raise KeyNotFound(self.url, key)
        return blob

    def stat(self, key: str) -> ObjectInfo:
        blob = self.call.timed(lambda left: self._existing(key, left), key)
        return ObjectInfo(key, int(blob.size or 0), str(blob.etag), blob.updated, blob.content_type,
                          dict(blob.metadata or {}))

    def delete(self, key: str) -> None:
        try:
            self.call.timed(lambda left: self.bucket.blob(key).delete(retry=None, timeout=socket_timeouts(left)), key)
        except KeyNotFound:
            pass

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        token: str | None = None
        while True:
            def page(left: float, token: str | None = token) -> tuple[list[Any], str | None]:
                found = self.bucket.client.list_blobs(self.bucket_name, prefix=prefix or None, page_token=token,
                                                      retry=None, timeout=socket_timeouts(left))
                items = list(next(found.pages))
                return items, found.next_page_token

            items, token = self.call.timed(page)
            for blob in items:
                yield ObjectInfo(blob.name, int(blob.size or 0), str(blob.etag), blob.updated)
            if not token:
                return

    def exists(self, key: str) -> bool:
        return bool(self.call.timed(lambda left: self.bucket.blob(key).exists(retry=None, timeout=socket_timeouts(left)),
                                    key))

    def presign(self, key: str, method: str, expires: int) -> str:
        blob = self.bucket.blob(key)
        kwargs: dict[str, Any] = {"version": "v4", "expiration": timedelta(seconds=expires), "method": method}
        emulator = os.environ.get("STORAGE_EMULATOR_HOST")
        if emulator:
            kwargs["api_access_endpoint"] = emulator if "://" in emulator else f"http://{emulator}"
        kwargs.update(self._signing())
        return str(self.call(lambda: blob.generate_signed_url(**kwargs), key))

    def _signing(self) -> dict[str, Any]:
        """Credentials that can sign: the client's own if they hold a key, else the runtime's default credentials
        (a key file signs locally; metadata-server credentials sign through IAM with their access token)."""
        creds = getattr(self.bucket.client, "_credentials", None)
        if creds is not None and hasattr(creds, "sign_bytes") and getattr(creds, "signer_email", None):
            return {"credentials": creds}
        import google.auth
        import google.auth.transport.requests

        creds, _ = google.auth.default(scopes=["https://www.googleapis.com/auth/cloud-platform"])
        if hasattr(creds, "sign_bytes") and getattr(creds, "signer_email", None):
            return {"credentials": creds}
        creds.refresh(google.auth.transport.requests.Request())
        return {"service_account_email": getattr(creds, "service_account_email", None), "access_token": creds.token}



def factory(kind: str, url: str, name: str) -> GcsBucket:
    """``gs://BUCKET[?timeout=S]`` → a bucket."""
    from portafunc.data.binding import env_name

    variable = env_name(kind, name)
    if kind != "bucket":
        raise BindingError(f"{variable}={url!r}: gs:// is a bucket; bind key-value tables to "
                           "firestore://PROJECT/COLLECTION")
    rest, options = split_options(url, set(), variable)
    bucket = rest.strip("/")
    if not 3 <= len(bucket) <= 222 or "/" in bucket:
        raise BindingError(f"{variable}={url!r}: expected gs://BUCKET")
    return GcsBucket(url, bucket, timeout_of(options, url))


binds(factory, "bucket")
