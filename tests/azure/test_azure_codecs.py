"""Codec tests: every real Azure sample in tests/fixtures/events/azure, the encoders, edge cases and malformed input."""

from __future__ import annotations

import base64
import json
from datetime import datetime, timezone

import pytest
from azure_fixtures import FIXTURES, fixture_files, load_fixture

from portafunc.errors import EventDecodeError
from portafunc.events import Headers, HttpRequest, Message, ScheduleEvent, StorageEvent
from portafunc.targets import get_target


@pytest.fixture(scope="module")
def target():
    return get_target("azure")


def test_every_fixture_sample_is_covered(target):
    """Each sample either decodes to neutral events, or is the validation handshake (answered by the webhook)."""
    files = fixture_files()
    assert len(files) >= 6, f"expected the Azure samples under {FIXTURES}"
    for path in files:
        native = json.loads(path.read_text(encoding="utf-8"))
        if "eventgrid-validation" in path.parts:
            if path.name.endswith(".input.json"):
                with pytest.raises(EventDecodeError, match="validation handshake"):
                    target.decode(native)
            continue
        events = target.decode(native)
        assert events, path


def test_blob_created_eventgrid_schema(target):
    (evt,) = target.decode(load_fixture("blob/docs-eventgrid-BlobCreated.json"))
    assert isinstance(evt, StorageEvent)
    assert (evt.bucket, evt.key, evt.kind) == ("test-container", "new-file.txt", "created")
    assert evt.size == 524288
    assert evt.etag == '"0x8D4BCC2E4835CD0"'
    assert evt.id == "831e1650-001e-001b-66ab-eeb76e069631"
    assert evt.time == datetime(2017, 6, 26, 18, 41, 0, 958410, tzinfo=timezone.utc)


def test_blob_created_cloudevents_schema_subject_without_slash(target):
    (evt,) = target.decode(load_fixture("eventgrid-cloudevent/py-cs6_cloud_event_system_event.json"))
    assert isinstance(evt, StorageEvent)
    assert (evt.bucket, evt.key, evt.kind, evt.size) == ("{storage-container}", "{new-file}", "created", 30699)


def test_custom_eventgrid_event(target):
    (msg,) = target.decode(load_fixture("eventgrid/py-cs4_event_grid_event_custom_event.json"))
    assert isinstance(msg, Message)
    assert msg.id == "831e1650-001e-001b-66ab-eeb76e069631"
    assert msg.json() == {"itemSku": "Contoso Item SKU #1"}
    assert msg.attributes == {"type": "Contoso.Items.ItemReceived", "subject": "Door1"}
    assert msg.source == "customeventexample.eastus-1.eventgrid.azure.net"
    assert msg.published_at.year == 2017


def test_timer_object(target):
    (evt,) = target.decode(load_fixture("timer/docs-timer-object.json"))
    assert isinstance(evt, ScheduleEvent)
    assert evt.time == datetime(2016, 10, 4, 10, 20, tzinfo=timezone.utc)
    assert evt.past_due is False


def test_timer_past_due_and_no_status(target):
    (evt,) = target.decode({"Schedule": {}, "ScheduleStatus": None, "IsPastDue": True})
    assert evt.past_due is True
    assert abs((datetime.now(timezone.utc) - evt.time).total_seconds()) < 5


def test_array_of_several_events_both_schemas(target):
    eg = load_fixture("eventgrid/py-cs4_event_grid_event_custom_event.json")
    blob = load_fixture("blob/docs-eventgrid-BlobCreated.json")[0]
    events = target.decode([eg, blob, {**eg, "id": "second"}])
    assert [type(e).__name__ for e in events] == ["Message", "StorageEvent", "Message"]
    assert events[2].id == "second"
    ce = load_fixture("eventgrid-cloudevent/py-cs6_cloud_event_system_event.json")
    assert len(target.decode([ce, ce])) == 2


def test_cloudevent_data_base64_is_binary(target):
    native = {"specversion": "1.0", "id": "1", "source": "/x", "type": "Contoso.Bin",
              "data_base64": base64.b64encode(b"\x00\xff\x10").decode()}
    (msg,) = target.decode(native)
    assert msg.data == b"\x00\xff\x10"


def test_blob_deleted_name_from_url_when_subject_missing(target):
    native = {"id": "9", "eventType": "Microsoft.Storage.BlobDeleted", "eventTime": "2024-01-01T00:00:00Z",
              "subject": "", "dataVersion": "", "data": {"url": "https://acct.blob.core.windows.net/c1/dir/a%20b%2Bc.txt"}}
    (evt,) = target.decode(native)
    assert (evt.bucket, evt.key, evt.kind, evt.size) == ("c1", "dir/a b+c.txt", "deleted", None)


# -- round trips over every variant, with the edge cases the property test may not hit -------------------------

EDGE_HTTP = [
    HttpRequest("GET", "/"),
    HttpRequest("POST", "/bin/ü ñ/%41", body=bytes(range(256)), query={"q": ["1", "2", ""], "ü": ["é"]},
                headers=[("x-a", "1"), ("X-A", "2"), ("cookie", "s=1; t=2")]),
    HttpRequest("PUT", "/a+b/c%2Fd", body=b"", query={"a b": ["c&d=e"]}),
    HttpRequest("DELETE", "/emoji/😀", body="ünïcødé".encode(), headers={"content-type": "text/plain"}),
]


@pytest.mark.parametrize("req", EDGE_HTTP, ids=range(len(EDGE_HTTP)))
def test_http_round_trip(target, req):
    native = target.encode(req)
    (back,) = target.decode(json.loads(json.dumps(native)))
    want = req.to_dict()
    want["headers"] = {k: [",".join(v)] if k != "cookie" else ["; ".join(v)] for k, v in want["headers"].items()}
    assert back.to_dict() == want
    assert back.cookies == req.cookies


def test_http_repeated_headers_joined_like_the_host(target):
    native = target.encode(HttpRequest("GET", "/x", headers=[("Accept", "a/b"), ("accept", "c/d")],
                                       query={"k": ["1", "2"]}))
    assert native["headers"] == {"accept": "a/b,c/d"}
    assert native["params"] == {"k": "1,2"}
    assert native["url"].endswith("/x?k=1&k=2")
    (back,) = target.decode(native)
    assert back.query == {"k": ["1", "2"]}


def test_http_base64_body_when_not_utf8(target):
    native = target.encode(HttpRequest("POST", "/b", body=b"\xff\xfe"))
    assert "body" not in native and native["body_base64"] == "//4="


MESSAGES = [
    Message("m-1", b'{"id":"o-1"}'),
    Message("m-2", b'{"id": "spaces"}', attributes={"kind": "créé"}, ordering_key="k1"),
    Message("m-3", b"\x00\x01binary", delivery_attempt=4, published_at=datetime(2024, 5, 6, 7, 8, 9, 123000,
                                                                                   tzinfo=timezone.utc)),
    Message("m-4", b'{"$portafunc":1,"data":"looks like an envelope"}'),
    Message("m-5", b"plain text"),
]


@pytest.mark.parametrize("variant", ["queue", "eventgrid", "cloudevents"])
@pytest.mark.parametrize("msg", MESSAGES, ids=[m.id for m in MESSAGES])
def test_message_round_trip(target, msg, variant):
    native = target.encode(msg, variant)
    (back,) = target.decode(json.loads(json.dumps(native)))
    got, want = back.to_dict(), msg.to_dict()
    if variant != "queue":
        assert back.delivery_attempt == 1  # Event Grid exposes no delivery count to the function
        got.pop("delivery_attempt"), want.pop("delivery_attempt")
    assert got == want


def test_queue_message_text_is_base64_of_plain_json_payload(target):
    native = target.encode(Message("m", b'{"a":1}'), "queue")
    assert base64.b64decode(native["MessageText"]) == b'{"a":1}'  # no envelope without attributes
    enveloped = target.encode(Message("m", b'{"a":1}', attributes={"k": "v"}), "queue")
    assert json.loads(base64.b64decode(enveloped["MessageText"])) == {
        "$portafunc": 1, "attributes": {"k": "v"}, "ordering_key": None, "data": {"a": 1}}


@pytest.mark.parametrize("variant", ["eventgrid", "cloudevents"])
@pytest.mark.parametrize("kind", ["created", "deleted", "archived"])
def test_storage_round_trip(target, kind, variant):
    evt = StorageEvent("my-container", "dir/ü name+x.txt", kind=kind, size=12, etag="0x8D")
    native = target.encode(evt, variant)
    (back,) = target.decode(native)
    assert back.to_dict() == evt.to_dict()


def test_schedule_round_trip(target):
    evt = ScheduleEvent(datetime(2026, 3, 2, 2, 30, tzinfo=timezone.utc), past_due=True)
    native = target.encode(evt)
    assert native["IsPastDue"] is True
    (back,) = target.decode(native)
    assert back.to_dict() == evt.to_dict() and back.past_due is True


def test_new_event_names(target):
    assert "MessageText" in target.new_event("queue")
    assert target.new_event("topic")["eventType"] == "io.portafunc.message"
    assert target.new_event("topic:cloudevents")["specversion"] == "1.0"
    assert target.new_event("storage")["eventType"] == "Microsoft.Storage.BlobCreated"
    assert "IsPastDue" in target.new_event("schedule")
    assert target.new_event("http", {"path": "/x"})["url"] == "http://localhost:7071/x"


# -- azure.functions objects -----------------------------------------------------------------------------------

def test_decode_accepts_azure_functions_objects(target):
    from portafunc_azure.codecs import natives

    req = natives.to_func_http(target.encode(HttpRequest("POST", "/p", body=b"x", headers={"h": "v"})))
    (neutral,) = target.decode(req)
    assert neutral.path == "/p" and neutral.body == b"x" and neutral.headers["h"] == "v"
    qm = natives.to_func_queue(target.encode(Message("q1", b"hi", delivery_attempt=3), "queue"))
    assert qm.get_body() == b"hi" and qm.dequeue_count == 3  # the host hands the decoded body
    (m,) = target.decode(qm)
    assert (m.id, m.data, m.delivery_attempt) == ("q1", b"hi", 3)
    ce = natives.to_func_eventgrid(load_fixture("eventgrid-cloudevent/py-cs6_cloud_event_system_event.json"))
    assert type(ce).__name__ == "CloudEvent"
    (blob,) = target.decode(ce)
    assert blob.kind == "created"
    timer = natives.to_func_timer(load_fixture("timer/docs-timer-object.json"))
    (s,) = target.decode(timer)
    assert s.time.hour == 10 and s.time.minute == 20


# -- malformed input -------------------------------------------------------------------------------------------

MALFORMED = [
    ("not an object", 42),
    ("unknown keys", {"hello": "world"}),
    ("empty array", []),
    ("array of junk", [1, 2]),
    ("event without id", {"eventType": "X", "data": {}}),
    ("event without type", {"id": "1", "specversion": "1.0", "source": "/s"}),
    ("bad time", {"id": "1", "eventType": "X", "eventTime": "yesterday", "data": {}}),
    ("bad data_base64", {"specversion": "1.0", "id": "1", "source": "/s", "type": "T", "data_base64": "!!"}),
    ("blob without name", {"id": "1", "eventType": "Microsoft.Storage.BlobCreated", "subject": "x", "data": {}}),
    ("blob data not object", {"id": "1", "eventType": "Microsoft.Storage.BlobCreated", "data": [1]}),
    ("queue text not base64", {"Id": "1", "DequeueCount": 1, "MessageText": "not base64!"}),
    ("queue count not number", {"Id": "1", "DequeueCount": "x", "MessageText": ""}),
    ("bad envelope", {"Id": "1", "MessageText": base64.b64encode(b'{"$portafunc":1,"attributes":[1]}').decode()}),
    ("timer past due not bool", {"IsPastDue": "no", "ScheduleStatus": {}}),
    ("http without url", {"method": "GET", "url": ""}),
    ("http bad headers", {"method": "GET", "url": "http://h/", "headers": ["a"]}),
    ("http bad body", {"method": "GET", "url": "http://h/", "body": 5}),
    ("http bad body_base64", {"method": "GET", "url": "http://h/", "body_base64": "%%"}),
    ("http lone surrogate body", {"method": "POST", "url": "http://h/", "body": "\udcff"}),
    ("http bad url", {"method": "GET", "url": "http://[::1/"}),
    ("event time out of range", {"id": "1", "eventType": "X", "eventTime": -2**100, "data": {}}),
    ("timer time out of range", {"IsPastDue": False, "ScheduleStatus": {"Next": 1e308}}),
    ("queue time out of range", {"Id": "1", "InsertionTime": 10**400, "MessageText": ""}),
]


@pytest.mark.parametrize("native", [m[1] for m in MALFORMED], ids=[m[0] for m in MALFORMED])
def test_malformed_input_is_a_decode_error(target, native):
    with pytest.raises(EventDecodeError) as info:
        target.decode(native)
    assert "expected" in str(info.value)


def test_unknown_variant(target):
    with pytest.raises(EventDecodeError, match="queue, eventgrid, cloudevents"):
        target.encode(Message("m", b"x"), "sqs")


def test_headers_type_is_neutral(target):
    (req,) = target.decode({"method": "get", "url": "http://h/a?x=1", "headers": {"X-Forwarded-For": "1.2.3.4:5"}})
    assert isinstance(req.headers, Headers) and req.method == "GET" and req.client_ip == "1.2.3.4"


@pytest.mark.parametrize("forwarded, expected", [
    ("6.6.6.6:1, 198.51.100.7:50123", "198.51.100.7"),
    ("6.6.6.6, [2001:db8::7]:443", "2001:db8::7"),
    ("6.6.6.6,2001:db8::7", "2001:db8::7"),
    ("203.0.113.9", "203.0.113.9"),
    ("6.6.6.6, ", None),
])
def test_client_ip_is_the_entry_app_service_appended(target, forwarded, expected):
    """App Service's front end appends ``IP:port`` to X-Forwarded-For; the entries before it are the client's.
    Decoded from the JSON form of the ``func.HttpRequest`` the worker builds."""
    (req,) = target.decode({"method": "GET", "url": "http://h/a", "headers": {"X-Forwarded-For": forwarded}})
    assert req.client_ip == expected
