"""``portafunc events new --data``: a neutral field of the wrong JSON type, or a storage ``event`` outside the
neutral vocabulary, is one line and exit 2 on every target (``not a known event: ...``), never a traceback or an
event that does not decode back to what was asked for."""

from __future__ import annotations

import json
from typing import Any

import pytest

from portafunc.cli import main
from portafunc.errors import EventDecodeError
from portafunc.events import _FIELDS, STORAGE_EVENT_KINDS, event_from_dict

TARGETS = ["aws", "azure", "gcp", "container"]
TRIGGER = {"http": "http", "message": "queue", "storage": "storage", "schedule": "schedule"}

# The JSON types each field may hold (null always: the field is then absent); every other JSON type is refused.
ALLOWED: dict[str, dict[str, set[str]]] = {
    "http": {"method": {"string"}, "path": {"string"}, "raw_path": {"string"}, "query": {"object"},
             "headers": {"object"}, "cookies": {"object"}, "body_base64": {"string"}, "path_params": {"object"},
             "client_ip": {"string"}, "raw_query": {"string"}},
    "message": {"id": {"string"}, "data_base64": {"string"}, "attributes": {"object"}, "ordering_key": {"string"},
                "delivery_attempt": {"integer"}, "published_at": {"string", "integer", "number"},
                "source": {"string"}},
    "storage": {"bucket": {"string"}, "key": {"string"}, "event": {"string"}, "size": {"integer"},
                "etag": {"string"}, "time": {"string", "integer", "number"}, "id": {"string"}},
    "schedule": {"time": {"string", "integer", "number"}, "past_due": {"boolean"}, "id": {"string"}},
}
SAMPLES: dict[str, Any] = {"string": "x", "integer": 5, "number": 1.5, "boolean": True, "array": ["a"],
                           "object": {"a": "b"}}
# Objects whose members have the wrong type.
NESTED = [("http", "query", {"a": "b"}), ("http", "query", {"a": [1]}), ("http", "headers", {"a": 5}),
          ("http", "headers", {"a": [True]}), ("http", "cookies", {"a": 5}), ("http", "path_params", {"id": 5}),
          ("http", "path_params", {"id": ["a"]}), ("message", "attributes", {"n": 1}),
          ("message", "attributes", {"n": None})]


def _wrong_types() -> list[tuple[str, str, Any]]:
    cases = []
    for kind, fields in ALLOWED.items():
        for field, allowed in fields.items():
            cases += [(kind, field, SAMPLES[t]) for t in SAMPLES if t not in allowed]
    return cases


def test_every_field_of_the_json_form_is_covered() -> None:
    assert {kind: set(fields) - {"kind"} for kind, fields in _FIELDS.items()} == \
        {kind: set(fields) for kind, fields in ALLOWED.items()}


def _events_new(capsys: pytest.CaptureFixture[str], target: str, kind: str, data: dict[str, Any]) -> tuple[int, str]:
    capsys.readouterr()
    code = main(["events", "new", "--target", target, TRIGGER[kind], "--data", json.dumps(data)])
    return code, capsys.readouterr().err


def _refused(code: int, err: str) -> str:
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1, (code, err)
    assert lines[0].startswith("portafunc: error: not a known event: "), err
    return lines[0]


@pytest.mark.parametrize("target", TARGETS)
def test_a_field_of_the_wrong_type_is_refused_by_name(capsys: pytest.CaptureFixture[str], target: str) -> None:
    for kind, field, value in _wrong_types() + NESTED:
        line = _refused(*_events_new(capsys, target, kind, {field: value}))
        named = "time of type" if field in ("time", "published_at") else f"neutral {kind} event is malformed: {field}"
        assert named in line, (kind, field, value, line)


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("event", ["exploded", "", "Created", "ObjectCreated:Put"])
def test_a_storage_event_kind_outside_the_vocabulary_is_refused(capsys: pytest.CaptureFixture[str], target: str,
                                                                event: str) -> None:
    line = _refused(*_events_new(capsys, target, "storage", {"bucket": "inbox", "key": "a.csv", "event": event}))
    assert f"event {event!r} is not a storage event kind" in line


@pytest.mark.parametrize("target", TARGETS)
def test_well_typed_fields_still_make_an_event(capsys: pytest.CaptureFixture[str], target: str) -> None:
    good: dict[str, dict[str, Any]] = {
        "http": {"method": "POST", "path": "/a", "query": {"q": ["1", "2"]}, "headers": {"x-a": "1", "x-b": ["2", "3"]},
                 "cookies": {"s": "v"}, "body_base64": "e30="},
        "message": {"id": "m-1", "attributes": {"k": "v"}, "delivery_attempt": 2,
                    "published_at": "2026-01-02T03:04:05Z"},
        "storage": {"bucket": "inbox", "key": "a.csv", "event": "deleted", "size": 3},
        "schedule": {"time": "2026-01-01T00:00:00Z", "past_due": False}}
    for kind, data in good.items():
        code, err = _events_new(capsys, target, kind, data)
        assert code == 0, (kind, err)


def test_event_from_dict_reads_every_storage_kind_and_refuses_others() -> None:
    for kind in STORAGE_EVENT_KINDS:
        assert event_from_dict({"kind": "storage", "bucket": "b", "key": "k", "event": kind}).kind == kind
    with pytest.raises(EventDecodeError, match="is not a storage event kind"):
        event_from_dict({"kind": "storage", "bucket": "b", "key": "k", "event": "exploded"})
    with pytest.raises(EventDecodeError, match="unknown neutral event kind"):
        event_from_dict({"kind": ["http"]})
