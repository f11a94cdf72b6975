"""``StorageEvent.read()`` / ``.open()`` read the object through the bucket bound to the trigger that delivered the
event — on every target's real entry point (the contract kit's drivers encode the native event, the adapter decodes
it), with the decoded key the trigger gives. A real S3 notification names the cloud's bucket, not the logical one: the
read must still go through the trigger's binding (S3 on moto), with the key decoded from its URL form."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import portafunc
from portafunc import App, StorageEvent
from portafunc.testing import Cloud

app = App("thumbs")
SEEN: list[tuple[str, bytes, bytes]] = []


@app.storage("uploads", events=["created"], uses=[portafunc.writes(bucket="thumbnails")])
def thumbnail(evt: StorageEvent) -> None:
    data = evt.read()
    with evt.open() as stream:
        head = stream.read(4)
    SEEN.append((evt.key, data, head))
    portafunc.bucket("thumbnails").put(evt.key + ".thumb", data[:8])


KEY = "in/my photo+1.png"


@pytest.fixture(autouse=True)
def _clear() -> None:
    SEEN.clear()


@pytest.mark.parametrize("target", ["aws", "azure", "gcp"])
def test_a_storage_handler_reads_what_was_uploaded_on_every_target(target: str,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORTAFUNC_DEFAULT_BINDING", "memory://")
    portafunc.bucket("uploads").put(KEY, b"\x89PNG-some-image-bytes")
    assert Cloud(target).storage(app, "uploads", KEY, size=21).ok
    assert SEEN == [(KEY, b"\x89PNG-some-image-bytes", b"\x89PNG")]
    assert portafunc.bucket("thumbnails").get(KEY + ".thumb") == b"\x89PNG-som"


def test_a_real_s3_event_reads_through_the_triggers_binding_not_the_cloud_bucket_name(
        request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, fixtures_dir: Path) -> None:
    """A real S3 notification (Powertools' sample) names the deployed bucket ``lambda-artifacts-…``; the handler
    must read through ``PORTAFUNC_BUCKET_UPLOADS`` (the trigger's logical bucket), here S3 on moto, with the key
    decoded from its URL form (``+`` for space, ``%2B`` for ``+``)."""
    from data_backends import make_bucket
    from portafunc_aws import runtime
    from portafunc_aws.lambda_context import LambdaContext

    monkeypatch.delenv("PORTAFUNC_DEFAULT_BINDING", raising=False)
    monkeypatch.setenv("PORTAFUNC_BUCKET_UPLOADS", make_bucket("s3", request, monkeypatch, tmp_path))
    monkeypatch.setenv("PORTAFUNC_BUCKET_THUMBNAILS", "memory://thumbs")
    event = json.loads((fixtures_dir / "aws" / "s3" / "powertools-s3Event.json").read_text())
    event["Records"][0]["s3"]["object"]["key"] = "in/my+photo%2B1.png"
    portafunc.bucket("uploads").put(KEY, b"\x89PNG-on-s3")
    answer = runtime.bind(app, "thumbnail")(event, LambdaContext())
    assert not (answer or {}).get("batchItemFailures"), answer
    assert SEEN == [(KEY, b"\x89PNG-on-s3", b"\x89PNG")]
    assert portafunc.bucket("thumbnails").get(KEY + ".thumb") == b"\x89PNG-on-"


def test_a_bucket_the_function_did_not_declare_is_refused_with_the_declaration_to_add(
        monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]) -> None:
    undeclared = App("undeclared")

    @undeclared.storage("uploads")
    def copy(evt: StorageEvent) -> None:
        portafunc.bucket("thumbnails").put(evt.key, evt.read())

    monkeypatch.setenv("PORTAFUNC_DEFAULT_BINDING", "memory://")
    portafunc.bucket("uploads").put(KEY, b"x")
    delivery = Cloud("aws").storage(undeclared, "uploads", KEY)
    assert not delivery.ok
    logged = capfd.readouterr()
    assert "add uses=[reads(bucket='thumbnails') or writes(bucket='thumbnails')]" in logged.out + logged.err
    assert not portafunc.bucket("thumbnails").exists(KEY)


def test_an_event_for_a_deleted_object_reads_as_key_not_found(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORTAFUNC_BUCKET_UPLOADS", "memory://")
    evt = StorageEvent("uploads", "gone.png", "deleted")
    with pytest.raises(portafunc.KeyNotFound):
        evt.read()


def test_writing_where_the_function_may_only_read_is_refused_as_in_the_cloud(
        monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]) -> None:
    """A read grant is a read-only role in the cloud (S3ReadPolicy, DynamoDBReadPolicy): a write there fails the same
    way locally, naming the declaration to change — for ``reads(...)`` and for the trigger's own bucket."""
    readonly = App("readonly")

    @readonly.storage("uploads", uses=[portafunc.reads(kv="orders")])
    def overwrite(evt: StorageEvent) -> None:
        if evt.key == "to-kv":
            portafunc.kv("orders").put("k", 1)
        else:
            portafunc.bucket("uploads").put(evt.key, b"changed")

    monkeypatch.setenv("PORTAFUNC_DEFAULT_BINDING", "memory://")
    assert not Cloud("gcp").storage(readonly, "uploads", "to-kv").ok
    assert not Cloud("gcp").storage(readonly, "uploads", "in-place").ok
    logged = capfd.readouterr()
    assert "declare uses=[writes(kv='orders')]" in logged.out + logged.err
    assert "declare uses=[writes(bucket='uploads')]" in logged.out + logged.err
    assert not portafunc.bucket("uploads").exists("in-place")
