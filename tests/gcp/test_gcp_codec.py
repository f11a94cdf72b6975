"""Codec tests: every real sample in tests/fixtures/events/gcp decodes to the right neutral event; encode/decode round
trips for every variant including binary data, unicode, repeated headers and query values; the legacy conversion
agrees with functions-framework's own; malformed input is an EventDecodeError, never a crash."""

from __future__ import annotations

import base64
import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from portafunc.errors import EventDecodeError
from portafunc.events import Headers, HttpRequest, Message, ScheduleEvent, StorageEvent
from portafunc.targets import get_target

from .conftest import GCP_FIXTURES, fixture_files

T = get_target("gcp")


def load(rel: str):
    return json.loads((GCP_FIXTURES / rel).read_text())


def test_fixtures_are_present():
    files = fixture_files()
    assert len(files) >= 5, f"expected the GCP samples under {GCP_FIXTURES}"


@pytest.mark.parametrize("path", fixture_files(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_fixture_decodes_and_reencodes(path: Path):
    native = json.loads(path.read_text())
    events = T.decode(native)
    assert len(events) == 1
    event = events[0]
    # whatever it decoded to survives our own encoder for every listed variant of its kind
    kind = "storage" if isinstance(event, StorageEvent) else event.kind
    for variant in T.variants(kind):
        again = T.decode(T.encode(event, variant))
        assert [e.to_dict() for e in again] == [event.to_dict()], variant


def test_structured_pubsub_cloudevent():
    (msg,) = T.decode(load("pubsub-cloudevent/gce-structured-MessagePublishedData.json"))
    assert isinstance(msg, Message)
    assert msg.id == "message-id"
    assert msg.data == b"test message 3"
    assert msg.attributes == {"attr1": "attr1-value"}
    assert msg.ordering_key == "ordering-key"
    assert msg.published_at == datetime(2021, 2, 5, 4, 6, 14, 109000, tzinfo=timezone.utc)
    assert msg.source == "//pubsub.googleapis.com/projects/test-project/topics/my-topic"


def test_push_envelope_binary_data_and_emulator_form():
    (msg,) = T.decode(load("pubsub-push/gce-MessagePublishedData-simple.json"))
    assert msg.data == b"\x01\x02\x03\x04" and msg.attributes == {} and msg.ordering_key is None
    (emu,) = T.decode(load("pubsub-push/ffjava-pubsub_emulator.json"))
    assert emu.id == "1" and emu.json() == {"foo": "bar"} and emu.attributes == {"test": "123"}
    assert emu.published_at is None  # the emulator omits publishTime


def test_legacy_pubsub_background_event():
    (msg,) = T.decode(load("legacy-pubsub/ffjava-pubsub_background.json"))
    assert msg.id == "1"  # context.eventId, as functions-framework fills messageId
    assert msg.json() == {"foo": "bar"} and msg.attributes == {"test": "123"}
    assert msg.published_at == datetime(2021, 6, 28, 5, 46, 32, 390000, tzinfo=timezone.utc)


def test_binary_mode_storage_body():
    (evt,) = T.decode(load("gcs-cloudevent/gce-binary-StorageObjectData-simple.json"))
    assert (evt.bucket, evt.key, evt.kind, evt.size, evt.etag) == \
        ("sample-bucket", "folder/Test.cs", "created", 352, "CNHZkbuF/ugCEAE=")


@pytest.mark.parametrize("ce_type,kind", [
    ("google.cloud.storage.object.v1.finalized", "created"),
    ("google.cloud.storage.object.v1.deleted", "deleted"),
    ("google.cloud.storage.object.v1.archived", "archived"),
    ("google.cloud.storage.object.v1.metadataUpdated", "metadata_updated"),
])
def test_storage_cloudevent_types(ce_type, kind):
    data = load("gcs-cloudevent/gce-binary-StorageObjectData-simple.json")
    ce = {"specversion": "1.0", "id": "42", "type": ce_type, "subject": "objects/folder/Test.cs",
          "source": "//storage.googleapis.com/projects/_/buckets/sample-bucket", "time": "2020-04-23T07:38:57.230Z",
          "data": data}
    (evt,) = T.decode(ce)
    assert evt.kind == kind and evt.id == "42" and evt.size == 352
    # the same event in binary mode: ce-* headers on an HTTP request
    http = {"method": "POST", "path": "/", "headers": [[f"ce-{k}", v] for k, v in ce.items() if k != "data"]
            + [["Content-Type", "application/json"]], "body": json.dumps(data)}
    assert T.decode(http)[0].to_dict() == evt.to_dict()


def _ff_convert(native: dict) -> dict:
    """functions-framework's own background → CloudEvent conversion of ``native``, as a plain dict."""
    import flask
    from functions_framework.event_conversion import background_event_to_cloud_event

    app = flask.Flask("conv")
    with app.test_request_context("/", method="POST", json=native):
        ce = background_event_to_cloud_event(flask.request)
    out = dict(ce.get_attributes())
    out["data"] = ce.data
    return out


@pytest.mark.parametrize("native", [
    pytest.param(load("legacy-pubsub/ffjava-pubsub_background.json"), id="fixture-pubsub"),
    pytest.param(T.encode(Message("m-9", b"\x00\xff", {"k": "v"}, published_at=datetime(2024, 5, 1,
                                                                                        tzinfo=timezone.utc)),
                          "legacy"), id="encoded-pubsub"),
    pytest.param({"eventId": "7", "timestamp": "2024-01-01T00:00:00Z", "eventType":
                  "providers/cloud.pubsub/eventTypes/topic.publish", "resource": "projects/p/topics/t",
                  "data": {"data": "aGk=", "attributes": {"x": "1"}}}, id="flat-v1beta2-pubsub"),
] + [pytest.param(T.encode(StorageEvent("bkt", "dir/ü ñ.txt", kind, size=5, etag="e1"), "legacy"),
                  id=f"encoded-storage-{kind}") for kind in ("created", "deleted", "archived", "metadata_updated")])
def test_legacy_conversion_matches_functions_framework(native):
    from portafunc_gcp.codecs.legacy import to_cloudevent

    ours = to_cloudevent(json.loads(json.dumps(native)))
    theirs = _ff_convert(json.loads(json.dumps(native)))
    for key in ("id", "type", "source", "subject", "time", "data"):
        assert ours.get(key) == theirs.get(key), key
    assert T.decode(native)[0].to_dict() == T.decode(theirs)[0].to_dict()


def test_legacy_storage_event_kinds():
    for kind in ("created", "deleted", "archived", "metadata_updated"):
        evt = StorageEvent("bkt", "a/b c.txt", kind, size=0, etag="x")
        assert T.decode(T.encode(evt, "legacy"))[0] == evt


def test_raw_push_in_ff_conversion_equals_our_decode():
    """A raw push body posted to a cloud_event target is converted by functions-framework; our decode agrees."""
    native = load("pubsub-push/ffjava-pubsub_emulator.json")
    theirs = _ff_convert(native)
    ours = T.decode(native)[0]
    converted = T.decode(theirs)[0]
    assert (converted.id, converted.data, converted.attributes) == (ours.id, ours.data, ours.attributes)


# -- round trips ------------------------------------------------------------------------------------------------

MESSAGES = [
    Message("1", b""),
    Message("m-2", b"\x00\x01\xfe\xff binary", {"ünï": "cödé ✓", "empty": ""}, ordering_key="key-1",
            delivery_attempt=4, published_at=datetime(2025, 1, 2, 3, 4, 5, 123456, tzinfo=timezone.utc)),
    Message("m-3", "日本語 text".encode(), {"a": "1"}, published_at=None, delivery_attempt=1),
]


@pytest.mark.parametrize("variant", T.variants("message"))
@pytest.mark.parametrize("msg", MESSAGES, ids=lambda m: m.id)
def test_message_round_trip(msg, variant):
    assert T.decode(T.encode(msg, variant)) == [msg]


def test_push_envelope_has_real_fields():
    env = T.encode(MESSAGES[1], "push")
    m = env["message"]
    assert m["messageId"] == m["message_id"] == "m-2"
    assert m["publishTime"] == m["publish_time"] == "2025-01-02T03:04:05.123456Z"
    assert m["orderingKey"] == "key-1" and env["deliveryAttempt"] == 4
    assert base64.b64decode(m["data"]) == MESSAGES[1].data
    assert env["subscription"].startswith("projects/") and "/subscriptions/" in env["subscription"]
    ce = T.encode(MESSAGES[1], "cloudevent")
    assert ce["type"] == "google.cloud.pubsub.topic.v1.messagePublished" and ce["data"]["message"] == m


def test_snake_case_twins_alone_are_understood():
    env = {"subscription": "projects/p/subscriptions/s",
           "message": {"data": "aGk=", "message_id": "77", "publish_time": "2024-02-03T04:05:06Z",
                       "ordering_key": "ok"}, "deliveryAttempt": 2}
    (msg,) = T.decode(env)
    assert (msg.id, msg.ordering_key, msg.delivery_attempt, msg.data) == ("77", "ok", 2, b"hi")
    assert msg.published_at == datetime(2024, 2, 3, 4, 5, 6, tzinfo=timezone.utc)


def test_legacy_message_encoding_keeps_what_legacy_carries():
    msg = MESSAGES[1]
    (back,) = T.decode(T.encode(msg, "legacy"))
    assert (back.id, back.data, back.attributes, back.published_at) == \
        (msg.id, msg.data, msg.attributes, msg.published_at)


@pytest.mark.parametrize("evt", [
    StorageEvent("uploads", "a.txt", "created", size=0, etag="CJ+abc="),
    StorageEvent("b-1", "dir/with space/ü+%20.bin", "deleted", size=123456789012, etag=None),
    StorageEvent("b-2", "x", "archived", size=None),
    StorageEvent("b-3", "日本/ファイル", "metadata_updated", size=7, etag="e"),
], ids=lambda e: e.kind)
def test_storage_round_trip(evt):
    for variant in T.variants("storage"):
        assert T.decode(T.encode(evt, variant)) == [evt]
    ce = T.encode(evt)
    assert ce["subject"] == f"objects/{evt.key}" and ce["data"]["name"] == evt.key
    if evt.size is not None:
        assert ce["data"]["size"] == str(evt.size)  # Cloud Storage sends size as a string


HTTP = [
    HttpRequest("GET", "/"),
    HttpRequest("POST", "/orders/acme", query={"x": ["1", "2"], "empty": [""], "ü": ["ß ✓"]},
                headers=Headers([("X-Multi", "a"), ("X-Multi", "b"), ("Content-Type", "application/json")]),
                body=b'{"id": "o-1"}'),
    HttpRequest("PUT", "/files/a b/%41/日本", headers={"content-type": "application/octet-stream"},
                body=bytes(range(256))),
    HttpRequest("GET", "/c", headers=Headers([("Cookie", "a=1; b=two"), ("X-Forwarded-For", "1.2.3.4, 10.0.0.1")])),
]


@pytest.mark.parametrize("req", HTTP, ids=lambda r: f"{r.method}{r.path}")
def test_http_round_trip(req):
    native = T.encode(req)
    (back,) = T.decode(native)
    assert isinstance(back, HttpRequest)
    # nothing added, nothing lost: Host is the HTTP client's to send, not the encoder's to invent
    assert back.to_dict() == req.to_dict()


def test_http_native_form_is_wire_like():
    native = T.encode(HTTP[2])
    assert native["path"] == "/files/a%20b/%2541/%E6%97%A5%E6%9C%AC"
    assert native["isBase64Encoded"] is True and base64.b64decode(native["body"]) == bytes(range(256))
    (back,) = T.decode(T.encode(HTTP[3]))
    assert back.cookies == {"a": "1", "b": "two"}
    assert back.client_ip == "10.0.0.1"  # the entry Google's front end appended


def test_cloud_scheduler_http_job():
    when = datetime(2026, 1, 1, 3, 0, tzinfo=timezone.utc)
    native = T.encode(ScheduleEvent(when))
    headers = dict(native["headers"])
    assert headers["X-CloudScheduler"] == "true" and headers["X-CloudScheduler-ScheduleTime"] == "2026-01-01T03:00:00Z"
    (evt,) = T.decode(native)
    assert isinstance(evt, ScheduleEvent) and evt.time == when


def test_variants_listed():
    assert T.variants("http") == ["request"]
    assert set(T.variants("message")) == {"cloudevent", "push"}
    assert T.variants("storage") == ["cloudevent"]
    assert T.variants("schedule") == ["scheduler-http"]


def test_new_event_uses_encoder():
    assert T.new_event("topic")["type"] == "google.cloud.pubsub.topic.v1.messagePublished"
    assert "message" in T.new_event("queue:push")
    assert T.new_event("storage")["type"] == "google.cloud.storage.object.v1.finalized"
    assert T.new_event("storage:legacy")["context"]["eventType"] == "google.storage.object.finalize"
    assert T.new_event("http", {"method": "POST", "path": "/x"})["method"] == "POST"


# -- malformed input ---------------------------------------------------------------------------------------------

MALFORMED = {
    "not-an-object": "hello",
    "number": 42,
    "empty-object": {},
    "unknown-keys": {"foo": "bar"},
    "ce-unknown-type": {"specversion": "1.0", "type": "com.example.thing", "id": "1", "source": "x", "data": {}},
    "ce-no-type": {"specversion": "1.0", "id": "1"},
    "ce-pubsub-no-data": {"specversion": "1.0", "type": "google.cloud.pubsub.topic.v1.messagePublished", "id": "1"},
    "ce-pubsub-data-not-object": {"specversion": "1.0", "type": "google.cloud.pubsub.topic.v1.messagePublished",
                                  "id": "1", "data": "abc"},
    "push-bad-base64": {"subscription": "s", "message": {"data": "!!not base64!!", "messageId": "1"}},
    "push-data-not-string": {"subscription": "s", "message": {"data": 12, "messageId": "1"}},
    "push-no-id": {"subscription": "s", "message": {"data": "aGk="}},
    "push-attributes-list": {"subscription": "s", "message": {"data": "", "messageId": "1", "attributes": [1]}},
    "push-attr-value-object": {"subscription": "s", "message": {"data": "", "messageId": "1",
                                                                 "attributes": {"a": {"b": 1}}}},
    "push-bad-attempt": {"subscription": "s", "message": {"data": "", "messageId": "1"}, "deliveryAttempt": "x"},
    "push-bad-time": {"subscription": "s", "message": {"data": "", "messageId": "1", "publishTime": "yesterday"}},
    "push-message-not-object": {"subscription": "s", "message": "hi"},
    "storage-bad-size": {"specversion": "1.0", "type": "google.cloud.storage.object.v1.finalized", "id": "1",
                         "data": {"bucket": "b", "name": "n", "size": "big"}},
    "storage-no-bucket": {"specversion": "1.0", "type": "google.cloud.storage.object.v1.deleted", "id": "1",
                          "data": {"name": "n"}},
    "storage-unknown-type": {"specversion": "1.0", "type": "google.cloud.storage.object.v1.exploded", "id": "1",
                             "data": {"bucket": "b", "name": "n"}},
    "legacy-unknown-type": {"data": {}, "context": {"eventId": "1", "eventType": "providers/cloud.firestore/"
                                                    "eventTypes/document.write", "resource": "projects/p"}},
    "legacy-storage-bad-resource": {"data": {"bucket": "b", "name": "n"}, "context": {
        "eventId": "1", "eventType": "google.storage.object.finalize", "resource": "buckets/b"}},
    "legacy-no-resource": {"data": {}, "context": {"eventId": "1", "eventType": "google.pubsub.topic.publish"}},
    "legacy-data-not-object": {"data": "x", "context": {"eventId": "1", "eventType": "google.pubsub.topic.publish",
                                                        "resource": "projects/p/topics/t"}},
    "http-no-leading-slash": {"method": "GET", "path": "orders"},
    "http-headers-wrong": {"method": "GET", "path": "/", "headers": "X-A: 1"},
    "http-body-not-text": {"method": "POST", "path": "/", "body": {"a": 1}},
    "http-bad-base64": {"method": "POST", "path": "/", "body": "%%%", "isBase64Encoded": True},
    "http-ce-body-not-json": {"method": "POST", "path": "/", "headers": [["ce-specversion", "1.0"],
                                                                          ["ce-type", "google.cloud.pubsub.topic.v1."
                                                                                      "messagePublished"],
                                                                          ["Content-Type", "application/json"]],
                              "body": "{not json"},
    "list-with-garbage": [{"subscription": "s", "message": {"data": "", "messageId": "1"}}, 3],
}


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_malformed_input_is_event_decode_error(name):
    with pytest.raises(EventDecodeError) as info:
        T.decode(MALFORMED[name])
    assert info.value.expected, "the error must say what was expected"


def test_unknown_variant_is_clear():
    with pytest.raises(EventDecodeError, match="unknown gcp message variant 'sqs'"):
        T.encode(Message("1", b""), "sqs")


def _ids_by_opt_str(msg: dict, fallback_id: str | None) -> tuple[object, object]:
    """(message id, ordering key) as the field-by-field reader gives them, or the refusal's text."""
    from portafunc_gcp.codecs.fields import opt_str

    try:
        message_id = opt_str(msg, "messageId", "message_id", what="message") or fallback_id
        if not message_id:
            return "error", "no messageId"
        return message_id, opt_str(msg, "orderingKey", "ordering_key", what="message")
    except EventDecodeError as exc:
        return "error", str(exc)


@pytest.mark.parametrize("fallback_id", [None, "ce-1"])
def test_message_ids_and_ordering_keys_read_as_the_field_by_field_reader(fallback_id: str | None) -> None:
    """decode_message takes a text messageId and orderingKey as they are and sends anything else through opt_str:
    every combination of present, absent, empty, numeric and malformed values, in camelCase and snake_case, gives the
    id and key (or the refusal) opt_str gives."""
    from portafunc_gcp.codecs.pubsub import decode_message

    drop = object()
    values = (drop, None, "", "v", 7, True, ["x"])
    checked = 0
    for camel_id in values:
        for snake_id in (drop, "twin", 8):
            for camel_key in values:
                for snake_key in (drop, "", "k-twin", 9, {"x": 1}):
                    msg: dict = {"data": "aGk=", "publishTime": "2021-02-05T04:06:14.109Z"}
                    for name, value in (("messageId", camel_id), ("message_id", snake_id),
                                        ("orderingKey", camel_key), ("ordering_key", snake_key)):
                        if value is not drop:
                            msg[name] = value
                    want = _ids_by_opt_str(msg, fallback_id)
                    try:
                        got = decode_message(msg, fallback_id=fallback_id)
                    except EventDecodeError as exc:
                        assert want[0] == "error" and (want[1] == "no messageId" or str(exc) == want[1]), msg
                        continue
                    assert (got.id, got.ordering_key) == want, msg
                    assert got.data == b"hi"
                    checked += 1
    assert checked > 100


def test_every_listed_variant_has_an_encoder_and_round_trips() -> None:
    """The encoders are a table: each variant VARIANTS and EXTRA_VARIANTS list has one, and an event encoded in it
    decodes back to the same kind of event; an unknown variant is a typed error."""
    from portafunc_gcp.codecs import shapes

    events = {"http": HttpRequest("GET", "/x"), "message": Message("m-1", b'{"a": 1}'),
              "storage": StorageEvent("b", "k.txt", size=3),
              "schedule": ScheduleEvent(time=datetime(2024, 1, 2, tzinfo=timezone.utc))}
    listed = {(kind, v) for kind in shapes.VARIANTS for v in shapes.VARIANTS[kind] + shapes.EXTRA_VARIANTS.get(kind, [])}
    assert set(shapes._ENCODERS) == listed
    for kind, variant in sorted(listed):
        decoded = shapes.decode(shapes.encode(events[kind], variant))
        assert [type(e) for e in decoded] == [type(events[kind])], (kind, variant)
    with pytest.raises(EventDecodeError):
        shapes.encode(events["message"], "carrier-pigeon")
