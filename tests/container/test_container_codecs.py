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
