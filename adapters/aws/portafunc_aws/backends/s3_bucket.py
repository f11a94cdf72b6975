"""``s3://BUCKET`` buckets (entry point group ``portafunc.data``).

* URL options: ``?region=`` (else ``AWS_REGION`` / ``AWS_DEFAULT_REGION``), ``?timeout=`` seconds (default 30): every
  call is retried on transient failures with the core's backoff until then (botocore's retries are off), and no
  request waits on a silent server past it (:mod:`.clients`); a body still flowing is not cut, nor is a stream from
  :meth:`S3Bucket.open` read after the call.
* Endpoint: boto3's (``AWS_ENDPOINT_URL`` / ``AWS_ENDPOINT_URL_S3`` point it at moto, MinIO or LocalStack).
* IAM: ``s3:GetObject``, ``s3:PutObject``, ``s3:DeleteObject`` on ``arn:aws:s3:::BUCKET/*`` and ``s3:ListBucket`` on
  the bucket (without it a missing key reads as AccessDenied instead of NoSuchKey).
* boto3 is imported on first use.
"""

from __future__ import annotations

import os
from functools import partial
from typing import Any, BinaryIO, Iterator, Mapping

from portafunc.data import DataError, DataUnavailable, KeyNotFound, ObjectInfo, ObjectStore
from portafunc.data.base import rewind_point
from portafunc.data.calls import Caller, split_options, timeout_of
from portafunc.data.stream import reader
from portafunc.errors import BindingError
from portafunc.plugins import binds

from . import dynamodb
from . import clients
from .errors import DENIED, transient

MISSING = {"NoSuchKey", "404", "NotFound"}


class S3Bucket(ObjectStore):
    def __init__(self, url: str, bucket: str, region: str, timeout: float) -> None:
        self.url = url
        self.bucket = bucket
        self.region = region
        self.call = clients.WithDeadline(Caller(url, timeout, transient, self._translate, clients.max_retries()))

    @property
    def client(self) -> Any:
        return clients.client("s3", self.region)

    def _translate(self, exc: BaseException, key: str) -> DataError:
        code = dynamodb.error_code(exc)
        if code in MISSING and key:
            return KeyNotFound(self.url, key)
        if code == "NoSuchBucket":
            return DataUnavailable(f"{self.url}: the bucket does not exist; check the binding, the region and that "
                                   "the stack created it")
        if code in DENIED or code == "403":
            return DataUnavailable(f"{self.url}: permission denied ({code}); the role needs s3:GetObject, "
                                   "s3:PutObject, s3:DeleteObject on the objects and s3:ListBucket on the bucket")
        from .errors import translate

        return DataUnavailable(str(translate(exc, "S3 call on", self.url, "s3:*")))

    def put(self, key: str, body: Any, content_type: str | None, metadata: Mapping[str, str] | None) -> str:
        start = rewind_point(body)

        def put() -> Any:
            if start is not None:
                body.seek(start)  # a retried upload starts from the beginning again
            return self.client.put_object(Bucket=self.bucket, Key=key, Body=body,
                                          ContentType=content_type or "application/octet-stream",
                                          Metadata=dict(metadata or {}))

        if start is None and not isinstance(body, bytes):
            return self._put_stream(key, body, content_type, metadata)
        return str(self.call(put, key)["ETag"]).strip('"')

    def _put_stream(self, key: str, body: Any, content_type: str | None, metadata: Mapping[str, str] | None) -> str:
        """A stream that cannot be rewound: PutObject needs to seek, so it goes up in parts (s3transfer reads it in
        8 MiB chunks) and is never retried from the middle; the ETag is read back."""
        from boto3.s3.transfer import TransferConfig

        extra = {"ContentType": content_type or "application/octet-stream", "Metadata": dict(metadata or {})}
        self.call(lambda: self.client.upload_fileobj(body, self.bucket, key, ExtraArgs=extra,
                                                     Config=TransferConfig(use_threads=False)), key, once=True)
        return self.stat(key).etag

    def get(self, key: str) -> bytes:
        return self.call(lambda: self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read(), key)

    def open(self, key: str) -> BinaryIO:
        body = self.call(lambda: self.client.get_object(Bucket=self.bucket, Key=key)["Body"], key)
        return reader(body.read, body.close)

    def stat(self, key: str) -> ObjectInfo:
        head = self.call(lambda: self.client.head_object(Bucket=self.bucket, Key=key), key)
        return ObjectInfo(key, int(head["ContentLength"]), str(head["ETag"]).strip('"'), head.get("LastModified"),
                          head.get("ContentType"), head.get("Metadata") or {})

    def delete(self, key: str) -> None:
        self.call(lambda: self.client.delete_object(Bucket=self.bucket, Key=key), key)

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        token: str | None = None
        while True:
            kwargs: dict[str, Any] = {"Bucket": self.bucket, "Prefix": prefix}
            if token:
                kwargs["ContinuationToken"] = token
            page: dict[str, Any] = self.call(partial(self.client.list_objects_v2, **kwargs))
            for obj in page.get("Contents", ()):
                yield ObjectInfo(obj["Key"], int(obj["Size"]), str(obj["ETag"]).strip('"'), obj.get("LastModified"))
            token = page.get("NextContinuationToken")
            if not page.get("IsTruncated") or not token:
                return

    def exists(self, key: str) -> bool:
        try:
            self.call(lambda: self.client.head_object(Bucket=self.bucket, Key=key), key)
            return True
        except KeyNotFound:
            return False

    def presign(self, key: str, method: str, expires: int) -> str:
        operation = {"GET": "get_object", "PUT": "put_object"}[method]
        return str(self.client.generate_presigned_url(operation, Params={"Bucket": self.bucket, "Key": key},
                                                      ExpiresIn=expires, HttpMethod=method))



def factory(kind: str, url: str, name: str) -> S3Bucket:
    """``s3://BUCKET[?region=R&timeout=S]`` → a bucket."""
    from portafunc.data.binding import env_name

    variable = env_name(kind, name)
    if kind != "bucket":
        raise BindingError(f"{variable}={url!r}: s3:// is a bucket; bind key-value tables to dynamodb://TABLE")
    rest, options = split_options(url, {"region"}, variable)
    bucket = rest.strip("/")
    if not bucket or "/" in bucket:
        raise BindingError(f"{variable}={url!r}: expected s3://BUCKET (a bucket name, no path)")
    region = options.get("region") or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    return S3Bucket(url, bucket, region or "us-east-1", timeout_of(options, url))


binds(factory, "bucket")
