"""The container target's codecs through the public surfaces: ``portafunc events new/decode`` and ``invoke`` for
every variant, the round trip neutral → native → neutral, and what a service with events off answers."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest

from portafunc.errors import EventDecodeError
from portafunc.events import HttpRequest, Message, ScheduleEvent, StorageEvent
from portafunc.targets import get_target

HERE = Path(__file__).resolve().parent
TARGET = get_target("container")
WHEN = datetime(2026, 5, 1, 10, 0, tzinfo=timezone.utc)


def cli(*argv: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "portafunc.cli", *argv], input=stdin, capture_output=True,
                          text=True, cwd=HERE)


@pytest.mark.parametrize("kind, variants", [("http", ["http"]),
                                            ("message", ["cloudevent", "cloudevent-structured", "pubsub-push"]),
                                            ("storage", ["cloudevent", "cloud-storage", "blob-storage"]),
                                            ("schedule", ["scheduler", "ping", "cloudevent"])])
def test_every_variant_round_trips(kind: str, variants: list[str]) -> None:
    assert TARGET.variants(kind) == variants
    events: dict[str, HttpRequest | Message | StorageEvent | ScheduleEvent] = {"http": HttpRequest("POST", "/orders/é", query={"a": ["1", "2"]}, headers={"X-Id": "7"}, body=b"{}"),
              "message": Message("m-1", b'{"n":1}', {"kind": "created", "correlation_id": "c"}, "key-1", 1,
                                 WHEN, "//tests"),
              "storage": StorageEvent("uploads", "in/a b.txt", "created", 12, "etag-1", WHEN, "s-1"),
              "schedule": ScheduleEvent(WHEN)}
    for variant in variants:
        event = events[kind]
        (back,) = TARGET.decode(json.loads(json.dumps(TARGET.encode(event, variant))))
        lost = TARGET.uncarried(kind, variant)
        expected, got = event.to_dict(), back.to_dict()
        for field in lost:
            expected.pop(field, None)
            got.pop(field, None)
        assert got == expected, variant


def test_events_new_and_decode_on_the_command_line() -> None:
    new = cli("events", "new", "--target", "container", "queue:cloudevent-structured", "--data",
              '{"id": "m-9", "data_base64": "aGk=", "attributes": {"a": "1"}}')
    assert new.returncode == 0, new.stderr
    native = json.loads(new.stdout)
    assert native["headers"] == [["Content-Type", "application/cloudevents+json; charset=utf-8"]]
    decoded = cli("events", "decode", "--target", "container", "-", stdin=new.stdout)
    assert decoded.returncode == 0, decoded.stderr
    (event,) = json.loads(decoded.stdout)["events"]
    assert event["id"] == "m-9" and event["attributes"] == {"a": "1"}
    bad = cli("events", "decode", "--target", "container", "-", stdin=json.dumps(
        {"method": "POST", "path": "/", "headers": [["ce-specversion", "1.0"], ["ce-id", "x"]], "body": ""}))
    assert bad.returncode == 2 and "CloudEvent lacks source, type" in bad.stderr


def test_invoke_pushes_to_the_function_and_reports_a_failure() -> None:
    ok = cli("events", "new", "--target", "container", "queue:pubsub-push", "--data",
             json.dumps({"id": "m-1", "data_base64": "eyJvayI6IDF9"}))
    out = cli("invoke", "work", "--target", "container", "--app", "container_sample:app", "--event", "-",
              stdin=ok.stdout)
    assert out.returncode == 0 and json.loads(out.stdout)["statusCode"] == 204
    failing = cli("events", "new", "--target", "container", "queue:pubsub-push", "--data",
                  json.dumps({"id": "m-2", "data_base64": "eyJmYWlsIjogMX0="}))
    out = cli("invoke", "work", "--target", "container", "--app", "container_sample:app", "--event", "-",
              stdin=failing.stdout)
    assert out.returncode == 1 and "HTTP 500" in out.stderr


OTHER_FAMILIES = [
    ("io.portafunc.storage.created", {"bucket": "uploads", "key": "in/x.csv", "kind": "created", "size": 4}),
    ("google.cloud.storage.object.v1.finalized", {"bucket": "uploads", "name": "in/x.csv", "size": "4"}),
    ("google.cloud.storage.object.v1.metadataUpdated", {"bucket": "uploads", "name": "in/x.csv"}),
    ("Microsoft.Storage.BlobCreated", {"api": "PutBlob", "contentLength": 4}),
    ("Microsoft.Storage.BlobTierChanged", {"api": "SetBlobTier"}),
    ("dev.knative.sources.ping", {}),
    ("io.portafunc.schedule", {"time": "2026-05-01T10:00:00Z"}),
]


def test_invoke_refuses_a_storage_event_pushed_to_a_queue_function() -> None:
    storage = cli("events", "new", "--target", "container", "storage", "--data",
                  '{"bucket": "uploads", "key": "in/x.csv", "size": 4}')
    assert storage.returncode == 0, storage.stderr
    out = cli("invoke", "work", "--target", "container", "--app", "container_sample:app", "--event", "-",
              stdin=storage.stdout)
    assert out.returncode == 2 and out.stdout == "", out.stderr  # refused before the service is called
    assert ("function 'work' is a queue function but received a CloudEvent of type io.portafunc.storage.created"
            in out.stderr) and "dead-letter" not in out.stderr


@pytest.mark.parametrize("function", ["work", "news"])
@pytest.mark.parametrize("structured", [False, True])
@pytest.mark.parametrize("ce_type, data", OTHER_FAMILIES)
def test_message_functions_refuse_cloudevents_of_another_family(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                                function: str, structured: bool, ce_type: str,
                                                                data: dict[str, object]) -> None:
    """A storage event or schedule tick pushed to a queue or topic function is a 400 naming its type: the function
    does not run and nothing is dead-lettered."""
    from portafunc_container.codecs import cloudevents

    monkeypatch.syspath_prepend(str(HERE))
    log = tmp_path / "handlers.jsonl"
    monkeypatch.setenv("CONTAINER_TEST_LOG", str(log))
    from container_sample import app

    from portafunc_container.driver import invoke

    ce = cloudevents.CloudEvent({"specversion": "1.0", "id": "e-1", "source": "//tests", "type": ce_type,
                                 "time": "2026-05-01T10:00:00Z", "datacontenttype": "application/json"},
                                json.dumps(data).encode())
    native = (cloudevents.structured if structured else cloudevents.binary)(ce, f"/_portafunc/functions/{function}")
    answer = invoke(app, function, native)
    assert answer["statusCode"] == 400, answer
    problem = json.loads(answer["body"])
    assert problem["title"] == "Not a delivery this function accepts" and repr(ce_type) in problem["detail"]
    assert not log.exists() or log.read_text() == ""


@pytest.mark.parametrize("function", ["work", "news"])
@pytest.mark.parametrize("variant", ["cloudevent", "cloudevent-structured", "pubsub-push"])
def test_message_functions_still_take_the_message_shapes_they_are_subscribed_to(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, function: str, variant: str) -> None:
    from portafunc_container.codecs import cloudevents, queue

    monkeypatch.syspath_prepend(str(HERE))
    log = tmp_path / "handlers.jsonl"
    monkeypatch.setenv("CONTAINER_TEST_LOG", str(log))
    from container_sample import app

    from portafunc_container.driver import invoke

    msg = Message("m-1", b'{"ok": 1}', {"a": "1"})
    path = f"/_portafunc/functions/{function}"
    natives = [queue.encode(msg, variant, path)]
    if variant == "cloudevent":  # Eventarc's messagePublished event, and a custom Event Grid / Knative type
        natives.append(cloudevents.binary(cloudevents.CloudEvent(
            {"specversion": "1.0", "id": "m-1", "source": "//pubsub.googleapis.com/projects/p/topics/t",
             "type": queue.PUBSUB_TYPE, "datacontenttype": "application/json"},
            json.dumps(queue.envelope(msg)).encode()), path))
        natives.append(cloudevents.binary(cloudevents.CloudEvent(
            {"specversion": "1.0", "id": "m-1", "source": "//tests", "type": "com.example.order.placed",
             "datacontenttype": "application/json"}, b'{"ok": 1}'), path))
    for native in natives:
        answer = invoke(app, function, json.loads(json.dumps(native)))
        assert answer["statusCode"] == 204, answer
    assert len(log.read_text().splitlines()) == len(natives)


def test_a_service_with_events_off_refuses_deliveries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(HERE))
    monkeypatch.delenv("PORTAFUNC_EVENTS", raising=False)
    from container_sample import app

    from portafunc_container.driver import call
    from portafunc_container.runtime import Service

    native = TARGET.encode(Message("m-1", b"{}"), "cloudevent")
    native["path"] = "/_portafunc/functions/news"
    answer = call(Service(app), native)
    assert answer["statusCode"] == 403 and "PORTAFUNC_EVENTS" in answer["body"]
    with pytest.raises(ValueError, match="at least 16 characters"):
        Service(app, events="secret", secret="short")


def test_undecodable_shapes_are_event_decode_errors() -> None:
    for native in (42, {"method": "GET"}, {"method": "POST", "path": "/", "headers": [["Content-Type",
                                                                                       "application/cloudevents+json"]],
                                          "body": "[1]"}):
        with pytest.raises(EventDecodeError):
            TARGET.decode(native)


def test_a_neutral_storage_cloudevent_of_an_unknown_kind_is_refused() -> None:
    """``io.portafunc.storage.<kind>`` carries a neutral kind: one outside STORAGE_EVENT_KINDS is not decoded into a
    StorageEvent no storage function could have registered for, nor encoded."""
    native = TARGET.encode(StorageEvent(bucket="inbox", key="a.csv", kind="restored"))
    assert TARGET.decode(native)[0].kind == "restored"
    native["headers"] = [[k, "io.portafunc.storage.exploded" if k == "ce-type" else v] for k, v in native["headers"]]
    with pytest.raises(EventDecodeError, match="lacks a known kind"):
        TARGET.decode(native)
    with pytest.raises(EventDecodeError, match="is not a neutral kind"):
        TARGET.encode(StorageEvent(bucket="inbox", key="a.csv", kind="exploded"))


def test_a_blob_cloudevent_as_the_azure_sdk_writes_it() -> None:
    """The Azure SDK's BlobCreated CloudEvent sample (tests/fixtures/events, its subject without the leading '/'
    Event Grid's own schema has), pushed in structured mode, is a storage event of that container and blob."""
    sample = HERE.parent / "fixtures" / "events" / "azure" / "eventgrid-cloudevent" / \
        "py-cs6_cloud_event_system_event.json"
    native = {"method": "POST", "path": "/_portafunc/functions/upload", "query_string": "",
              "headers": [["Content-Type", "application/cloudevents+json"]], "body": sample.read_text()}
    (event,) = TARGET.decode(native)
    assert isinstance(event, StorageEvent) and event.kind == "created"
    assert (event.bucket, event.key) == ("{storage-container}", "{new-file}")


@pytest.mark.parametrize(("peer", "allowed", "trusted"), [
    ("127.0.0.1", None, True), ("::1", None, True), ("127.0.0.2", None, False), ("203.0.113.9", None, False),
    ("203.0.113.9", "*", True), ("10.1.2.3", "10.0.0.0/8, 192.0.2.1", True), ("192.0.2.1", "10.0.0.0/8,192.0.2.1", True),
    ("192.0.2.2", "10.0.0.0/8,192.0.2.1", False), ("not-an-address", "127.0.0.1", False), ("127.0.0.1", "", False),
])
def test_forwarded_headers_are_trusted_from_the_peers_gunicorn_trusts(peer: str, allowed: str | None, trusted: bool,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from portafunc_container.codecs.http import forwarded_trusted

    monkeypatch.delenv("FORWARDED_ALLOW_IPS", raising=False)
    assert forwarded_trusted(peer, allowed) is trusted
    if allowed is not None:
        monkeypatch.setenv("FORWARDED_ALLOW_IPS", allowed)
        assert forwarded_trusted(peer) is trusted


def test_the_scheme_of_a_request_the_server_read_is_the_servers() -> None:
    """``req.url`` takes the scheme from ``wsgi.url_scheme`` (gunicorn's verdict on X-Forwarded-Proto), never from the
    header again; a JSON form without ``scheme`` (written by hand) is read as the core reads it."""
    from portafunc_container.codecs import http

    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/a", "RAW_URI": "/a?x=1", "QUERY_STRING": "x=1",
               "HTTP_HOST": "api.example", "HTTP_X_FORWARDED_PROTO": "https", "REMOTE_ADDR": "203.0.113.9"}
    for scheme in ("http", "https"):
        native = http.from_environ({**environ, "wsgi.url_scheme": scheme}, b"")
        assert native["scheme"] == scheme
        assert http.decode_request(native).url == f"{scheme}://api.example/a?x=1"
    native = http.from_environ({**environ, "wsgi.url_scheme": "http"}, b"")
    del native["scheme"]
    assert http.decode_request(native).base_url == "https://api.example"


@pytest.mark.parametrize(("native", "allowed", "base"), [
    ({}, None, "https://api.example"),  # no peer named: localhost, as a proxy in the same pod
    ({"remote_addr": "203.0.113.9"}, None, "http://api.example"),
    ({"remote_addr": "203.0.113.9"}, "*", "https://api.example"),
    ({"remote_addr": "203.0.113.9"}, "203.0.113.0/24", "https://api.example"),
    ({"remote_addr": "203.0.113.9", "scheme": "https"}, None, "https://api.example"),
])
def test_invoke_reads_the_scheme_as_the_images_server_does(native: dict[str, str], allowed: str | None, base: str,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from container_sample import app
    from portafunc_container.driver import invoke

    if allowed is None:
        monkeypatch.delenv("FORWARDED_ALLOW_IPS", raising=False)
    else:
        monkeypatch.setenv("FORWARDED_ALLOW_IPS", allowed)
    request = {"method": "GET", "path": "/where", "headers": [["Host", "api.example"], ["X-Forwarded-Proto", "https"]],
               **native}
    answer = invoke(app, "where", request)
    assert answer["statusCode"] == 200 and json.loads(answer["body"])["base"] == base


@pytest.mark.parametrize(("native", "allowed", "ip"), [
    ({}, None, "198.51.100.7"),  # no peer named: localhost, as a proxy in the same pod
    ({"remote_addr": "127.0.0.1"}, None, "198.51.100.7"),
    ({"remote_addr": "203.0.113.9"}, None, "203.0.113.9"),
    ({"remote_addr": "203.0.113.9"}, "*", "198.51.100.7"),
    ({"remote_addr": "203.0.113.9"}, "203.0.113.0/24", "198.51.100.7"),
    ({"remote_addr": "203.0.113.9"}, "10.0.0.0/8", "203.0.113.9"),
    ({"remote_addr": "127.0.0.1"}, "10.0.0.0/8", "127.0.0.1"),
])
def test_invoke_and_decode_read_the_client_as_the_images_server_does(native: dict[str, str], allowed: str | None,
                                                                     ip: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """``client_ip`` is the last X-Forwarded-For entry only from a peer FORWARDED_ALLOW_IPS names, else the peer:
    ``portafunc invoke`` and ``portafunc events decode`` read a request file's ``remote_addr`` so."""
    from container_sample import app
    from portafunc_container.driver import invoke

    if allowed is None:
        monkeypatch.delenv("FORWARDED_ALLOW_IPS", raising=False)
    else:
        monkeypatch.setenv("FORWARDED_ALLOW_IPS", allowed)
    request = {"method": "GET", "path": "/hello/x", "headers": [["Host", "api.example"],
                                                                ["X-Forwarded-For", "6.6.6.6, 198.51.100.7"]],
               **native}
    answer = invoke(app, "hello", request)
    assert answer["statusCode"] == 200 and json.loads(answer["body"])["ip"] == ip
    (decoded,) = TARGET.decode(request)
    assert isinstance(decoded, HttpRequest) and decoded.client_ip == ip
