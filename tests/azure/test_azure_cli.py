"""``portafunc events decode/new --target azure`` and ``portafunc invoke --target azure`` as subprocesses."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from azure_fixtures import FIXTURES, REPO

PORTAFUNC = [sys.executable, "-m", "portafunc.cli"]


def run(*args, stdin=None):
    return subprocess.run([*PORTAFUNC, *args], capture_output=True, text=True, input=stdin, cwd=REPO, timeout=60)


@pytest.mark.parametrize("rel", ["blob/docs-eventgrid-BlobCreated.json",
                                 "eventgrid/py-cs4_event_grid_event_custom_event.json",
                                 "eventgrid-cloudevent/py-cs6_cloud_event_system_event.json",
                                 "timer/docs-timer-object.json"])
def test_events_decode_fixtures(rel):
    proc = run("events", "decode", "--target", "azure", str(FIXTURES / rel))
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["target"] == "azure" and len(out["events"]) == 1
    kind = out["events"][0]["kind"]
    assert kind == {"blob": "storage", "eventgrid": "message", "eventgrid-cloudevent": "storage",
                    "timer": "schedule"}[rel.split("/")[0]]


def test_events_decode_prints_what_the_event_says_beyond_its_payload(tmp_path: Path):
    """The JSON form keeps the storage event's id and time, the message's source, the schedule's past-due flag and
    the request's client IP and path parameters (samples: the Azure docs' BlobCreated and TimerInfo, the SDK's
    custom event; the request as the Functions host builds it behind App Service's front end)."""
    def decode(native) -> dict:
        path = tmp_path / "event.json"
        path.write_text(json.dumps(native), encoding="utf-8")
        proc = run("events", "decode", "--target", "azure", str(path))
        assert proc.returncode == 0, proc.stderr
        (event,) = json.loads(proc.stdout)["events"]
        return event

    blob = decode(json.loads((FIXTURES / "blob/docs-eventgrid-BlobCreated.json").read_text()))
    assert blob["time"] == "2017-06-26T18:41:00.958410Z" and blob["id"] == "831e1650-001e-001b-66ab-eeb76e069631"
    message = decode(json.loads((FIXTURES / "eventgrid/py-cs4_event_grid_event_custom_event.json").read_text()))
    assert message["source"]
    timer = json.loads((FIXTURES / "timer/docs-timer-object.json").read_text())
    timer["IsPastDue"] = True
    assert decode(timer)["past_due"] is True
    request = decode({"method": "GET", "url": "https://app.azurewebsites.net/orders/acme?x=1",
                      "headers": {"x-forwarded-for": "203.0.113.7:51234"}, "params": {"x": "1"},
                      "route_params": {"shop": "acme"}})
    assert request["client_ip"] == "203.0.113.7" and request["path_params"] == {"shop": "acme"}
    assert request["raw_query"] == "x=1"


def test_events_decode_unknown_exits_2(tmp_path: Path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"what": 1}')
    proc = run("events", "decode", "--target", "azure", str(bad))
    assert proc.returncode == 2
    assert "not a known event" in proc.stderr and "expected" in proc.stderr
    proc = run("events", "decode", "--target", "azure",
               str(FIXTURES / "eventgrid-validation" / "docs-subscription-validation.input.json"))
    assert proc.returncode == 2 and "validation handshake" in proc.stderr


@pytest.mark.parametrize("trigger, key", [("http", "url"), ("queue", "MessageText"), ("topic", "eventType"),
                                          ("topic:cloudevents", "specversion"), ("storage", "eventType"),
                                          ("schedule", "IsPastDue")])
def test_events_new_then_decode(trigger, key):
    proc = run("events", "new", "--target", "azure", trigger)
    assert proc.returncode == 0, proc.stderr
    native = json.loads(proc.stdout)
    assert key in native
    back = run("events", "decode", "--target", "azure", "-", stdin=proc.stdout)
    assert back.returncode == 0, back.stderr
    assert json.loads(back.stdout)["events"]


def test_invoke_http_and_queue(tmp_path: Path):
    new = run("events", "new", "--target", "azure", "http",
              "--data", json.dumps({"method": "GET", "path": "/orders/acme/o-7"}))
    event = tmp_path / "http.json"
    event.write_text(new.stdout)
    proc = run("invoke", "get_order", "--target", "azure", "--event", str(event), "--app", "examples/shop")
    assert proc.returncode == 0, proc.stderr
    answer = json.loads(proc.stdout)
    assert answer["status_code"] == 200 and json.loads(answer["body"]) == {"shop": "acme", "id": "o-7"}
    new = run("events", "new", "--target", "azure", "queue",
              "--data", json.dumps({"data_base64": "eyJpZCI6ImJhZCJ9"}))
    event.write_text(new.stdout)
    proc = run("invoke", "fulfil", "--target", "azure", "--event", str(event), "--app", "examples/shop")
    assert proc.returncode == 1, proc.stderr  # the function failed: scripts see it in the exit code
    assert json.loads(proc.stdout)["failed"] is True  # invalid order: the host would poison it
    assert "portafunc: the function failed: message" in proc.stderr
