"""One bucket contract, run unchanged on every backend: memory://, file://, s3:// (moto server), azblob:// (Azurite)
and gs:// (the Cloud Storage emulator). The same calls must give the same answers everywhere — that is the point of
``portafunc.bucket``.
"""

from __future__ import annotations

import hashlib
import io
import os
import urllib.error
import urllib.request
from datetime import datetime

import pytest

import portafunc
from portafunc.data import Bucket, KeyNotFound, UnsupportedOperation


AWKWARD = "uploads/a b+c%2F/é 字?#&=.png"  # what a decoded S3 trigger key can look like


@pytest.fixture
def bucket(bucket_url: str) -> Bucket:
    return portafunc.bucket("test")


def test_put_get_exists_delete(bucket: Bucket) -> None:
    assert not bucket.exists("a.txt")
    etag = bucket.put("a.txt", b"hello")
    assert isinstance(etag, str) and etag
    assert bucket.get("a.txt") == b"hello"
    assert bucket.exists("a.txt")
    bucket.put("a.txt", "héllo")  # str is stored as UTF-8; replacing is allowed
    assert bucket.get("a.txt") == "héllo".encode()
    bucket.delete("a.txt")
    assert not bucket.exists("a.txt")
    bucket.delete("a.txt")  # deleting a missing key is not an error


def test_missing_key_is_the_same_typed_error_everywhere(bucket: Bucket) -> None:
    for call in (bucket.get, bucket.open, bucket.stat):
        with pytest.raises(KeyNotFound) as caught:
            call("nope/missing.bin")
        assert caught.value.key == "nope/missing.bin" and isinstance(caught.value, LookupError)


def test_awkward_keys_round_trip_as_given(bucket: Bucket) -> None:
    bucket.put(AWKWARD, b"x")
    assert bucket.get(AWKWARD) == b"x"
    assert [o.key for o in bucket.list("uploads/")] == [AWKWARD]


def test_stat_gives_size_etag_time_content_type_and_metadata(bucket: Bucket) -> None:
    etag = bucket.put("doc.json", b'{"a": 1}', content_type="application/json", metadata={"Owner_Id": "42"})
    info = bucket.stat("doc.json")
    assert (info.key, info.size, info.etag) == ("doc.json", 8, etag)
    assert info.content_type == "application/json"
    assert info.metadata == {"owner_id": "42"}  # keys are lower-cased on every cloud (S3 and GCS would anyway)
    assert isinstance(info.updated, datetime) and info.updated.tzinfo is not None


def test_list_by_prefix_in_key_order_with_sizes_and_etags(bucket: Bucket) -> None:
    etags = {key: bucket.put(key, key.encode()) for key in ("b/2", "a/1", "b/1", "b/10", "c")}
    listed = list(bucket.list("b/"))
    assert [o.key for o in listed] == ["b/1", "b/10", "b/2"]
    assert [(o.size, o.etag) for o in listed] == [(3, etags["b/1"]), (4, etags["b/10"]), (3, etags["b/2"])]
    assert all(isinstance(o.updated, datetime) for o in listed)
    assert [o.key for o in bucket.list()] == ["a/1", "b/1", "b/10", "b/2", "c"]
    assert list(bucket.list("zzz")) == []


def test_large_objects_stream_in_and_out(bucket: Bucket) -> None:
    blob = os.urandom(3 * 1024 * 1024 + 17)
    bucket.put("big.bin", io.BytesIO(blob), content_type="application/octet-stream")
    digest = hashlib.sha256()
    chunks = 0
    with bucket.open("big.bin") as reader:
        while chunk := reader.read(256 * 1024):
            assert len(chunk) <= 256 * 1024
            digest.update(chunk)
            chunks += 1
    assert digest.hexdigest() == hashlib.sha256(blob).hexdigest() and chunks >= 12
    assert bucket.stat("big.bin").size == len(blob)


class OneWay(io.RawIOBase):
    """A stream that cannot be rewound (a pipe, a socket, a request body)."""

    def __init__(self, data: bytes) -> None:
        self._source = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        chunk = self._source.read(len(buffer))
        buffer[:len(chunk)] = chunk
        return len(chunk)


def test_a_stream_that_cannot_be_rewound_is_uploaded_whole(bucket: Bucket) -> None:
    blob = os.urandom(300_000)
    bucket.put("piped.bin", io.BufferedReader(OneWay(blob)))
    assert bucket.get("piped.bin") == blob


def test_bad_input_is_refused_before_any_call(bucket: Bucket) -> None:
    with pytest.raises(ValueError):
        bucket.put("", b"x")
    with pytest.raises(TypeError):
        bucket.put("k", 42)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        bucket.put("k", b"x", metadata={"bad-key": "v"})  # Azure metadata keys are identifiers
    with pytest.raises(ValueError):
        bucket.presign("k", method="DELETE")
    with pytest.raises(ValueError):
        bucket.presign("k", expires=8 * 24 * 3600)


def _fetch(url: str, method: str = "GET", data: bytes | None = None, headers: dict[str, str] | None = None) -> bytes:
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return bytes(resp.read())


def test_presigned_urls_work_without_credentials(bucket: Bucket, bucket_url: str) -> None:
    """The URL is fetched with plain urllib — no SDK, no credentials — against the stand-in itself.

    What each stand-in can prove: moto serves presigned GET and PUT (it does not check SigV4 signatures, so a
    tampered URL is not tested there); Azurite checks SAS signatures, so a tampered token must be refused; the Cloud
    Storage emulator serves the V4 URL's path but checks no signature (signing itself runs for real, with a key made
    by the test); file:// gives a file: URL for GET only; memory:// has no URL and says so.
    """
    kind = bucket_url.split("://", 1)[0]
    bucket.put("shared/report.txt", b"quarterly")
    if kind == "memory":
        with pytest.raises(UnsupportedOperation):
            bucket.presign("shared/report.txt")
        return
    url = bucket.presign("shared/report.txt", expires=300)
    assert _fetch(url) == b"quarterly"
    if kind == "file":
        with pytest.raises(UnsupportedOperation):
            bucket.presign("shared/report.txt", method="PUT")
        return
    if kind == "gs":
        assert "X-Goog-Signature=" in url and "X-Goog-Expires=300" in url
    if kind == "s3":  # SigV4, in us-east-1 too, where the SDK's default presigns with SigV2 (which buckets made
        # since 2020 refuse)
        assert "X-Amz-Algorithm=AWS4-HMAC-SHA256" in url and "X-Amz-Expires=300" in url, url
        assert "AWSAccessKeyId=" not in url and "&Signature=" not in url, url
    upload = bucket.presign("shared/upload.bin", method="PUT", expires=300)
    headers = {"content-type": "application/octet-stream"}  # urllib would send a form type (moto then drops the body)
    if kind == "azblob":
        headers["x-ms-blob-type"] = "BlockBlob"  # Azure requires it on a PUT
    _fetch(upload, "PUT", b"uploaded by a browser", headers)
    assert bucket.get("shared/upload.bin") == b"uploaded by a browser"
    if kind == "azblob":
        tampered = url.replace("sp=r", "sp=rw")
        with pytest.raises(urllib.error.HTTPError) as refused:
            _fetch(tampered)
        assert refused.value.code == 403
