"""The neutral event model: headers, bodies, JSON form, time parsing."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from portafunc import BadRequest, EventDecodeError, Headers, HttpRequest, HttpResponse, Message, ScheduleEvent, \
    StorageEvent
from portafunc.events import event_from_dict, parse_time


def test_headers_are_case_insensitive_and_keep_repeats_in_order():
    h = Headers([("Set-Cookie", "a=1"), ("X-Id", "7"), ("set-cookie", "b=2")])
    assert h["SET-COOKIE"] == "a=1"
    assert h.get_all("set-cookie") == ["a=1", "b=2"]
    assert "x-id" in h and "nope" not in h
    assert h.to_multi() == {"set-cookie": ["a=1", "b=2"], "x-id": ["7"]}
    h.set("x-id", "8")
    assert h.get_all("X-ID") == ["8"]
    assert Headers({"A": ["1", "2"]}).items() == [("A", "1"), ("A", "2")]


def test_request_parses_cookies_json_and_text():
    req = HttpRequest("post", "/orders", headers={"Cookie": ["s=abc; theme=dark", "x=1"]}, body=b'{"id": "o-1"}')
    assert req.method == "POST"
    assert req.cookies == {"s": "abc", "theme": "dark", "x": "1"}
    assert req.json() == {"id": "o-1"}
    assert req.text == '{"id": "o-1"}'


@pytest.mark.parametrize("body", [b"{not json", b"", b"\xff\xfe"])
def test_bad_bodies_raise_bad_request_not_value_error(body):
    with pytest.raises(BadRequest):
        HttpRequest("POST", "/", body=body).json()


def test_invalid_utf8_text_is_bad_request():
    with pytest.raises(BadRequest, match="UTF-8"):
        _ = HttpRequest("POST", "/", body=b"\xff").text


def test_response_helpers_keep_binary_and_repeated_headers():
    resp = HttpResponse.json({"ok": True}, status=201).set_cookie("a", "1", path="/", httponly=True)
    resp.set_cookie("b", "2")
    assert resp.status == 201 and resp.json_body() == {"ok": True}
    assert resp.headers.get_all("set-cookie") == ["a=1; Path=/; Secure; HttpOnly; SameSite=Lax", "b=2; Path=/; Secure; HttpOnly; SameSite=Lax"]
    png = bytes(range(256))
    binary = HttpResponse(body=png, headers={"Content-Type": "image/png"})
    assert binary.body == png and not binary.is_text
    assert HttpResponse.text("héllo").is_text


def test_problem_response_is_rfc9457():
    resp = HttpResponse.problem(400, "Bad", "detail here", errors=[{"loc": ["id"]}])
    assert resp.content_type == "application/problem+json"
    assert resp.json_body() == {"type": "about:blank", "title": "Bad", "status": 400, "detail": "detail here",
                                "errors": [{"loc": ["id"]}]}


def test_json_form_round_trips_every_kind():
    events = [
        HttpRequest("GET", "/a b/ü", query={"q": ["1", "2"]}, headers=[("X-A", "1"), ("x-a", "2")],
                    body=b"\x00\x01"),
        Message(id="m-1", data="héllo".encode(), attributes={"k": "v"}, ordering_key="g", delivery_attempt=3,
                published_at=datetime(2026, 1, 2, 3, 4, 5, 123000, tzinfo=timezone.utc)),
        StorageEvent(bucket="b", key="dir/a b+c.txt", kind="deleted", size=10, etag="e"),
        ScheduleEvent(time=datetime(2026, 1, 1, tzinfo=timezone.utc)),
    ]
    for event in events:
        again = event_from_dict(event.to_dict())
        assert again == event
        assert again.to_dict() == event.to_dict()
    assert events[1].to_dict()["published_at"] == "2026-01-02T03:04:05.123000Z"
    assert events[0].to_dict()["headers"] == {"x-a": ["1", "2"]}


def test_the_json_form_keeps_a_raw_path_the_path_would_not_encode_to():
    """``raw_path`` is in the form with context (like ``raw_query``) only where it says more than ``path``: an
    escaped "/" (which routes ``/files/a%2Fb`` to ``/files/{name}``), a lower-case escape; a path as the URL spells
    it leaves it out."""
    escaped = HttpRequest("GET", "/files/a/b", raw_path="/files/a%2Fb")
    form = escaped.to_dict(context=True)
    assert form["raw_path"] == "/files/a%2Fb" and form["path"] == "/files/a/b"
    again = event_from_dict(form)
    assert isinstance(again, HttpRequest)
    assert again.raw_path == "/files/a%2Fb" and again == escaped and again.to_dict(context=True) == form
    assert "raw_path" not in escaped.to_dict()
    assert HttpRequest("GET", "/a", raw_path="/a%2fb").to_dict(context=True)["raw_path"] == "/a%2fb"
    for plain in (HttpRequest("GET", "/a b/ü"), HttpRequest("GET", "/a b/ü", raw_path="/a%20b/%C3%BC")):
        assert "raw_path" not in plain.to_dict(context=True)
    # Given alone, the raw path gives the path too.
    only_raw = event_from_dict({"kind": "http", "raw_path": "/files/caf%C3%A9/a%2Fb"})
    assert isinstance(only_raw, HttpRequest)
    assert (only_raw.path, only_raw.raw_path) == ("/files/café/a/b", "/files/caf%C3%A9/a%2Fb")


def test_every_event_maps_to_a_cloudevent_envelope():
    msg = Message(id="m-1", data=b"x", source="sqs://q")
    ce = msg.to_cloudevent()
    assert ce["specversion"] == "1.0" and ce["id"] == "m-1" and ce["source"] == "sqs://q"
    assert StorageEvent(bucket="b", key="k").to_cloudevent()["subject"] == "k"


@pytest.mark.parametrize("bad", [{}, {"kind": "nope"}, {"kind": "storage"}, {"kind": "schedule"},
                                 {"kind": "message", "data_base64": "!!"}, "text"])
def test_malformed_neutral_events_raise_decode_error(bad):
    with pytest.raises(EventDecodeError):
        event_from_dict(bad)


@pytest.mark.parametrize("text, expected", [
    ("2026-03-01T10:00:00Z", datetime(2026, 3, 1, 10, tzinfo=timezone.utc)),
    ("2026-03-01T10:00:00.123456789Z", datetime(2026, 3, 1, 10, 0, 0, 123456, tzinfo=timezone.utc)),
    ("2026-03-01T12:00:00.5+02:00", datetime(2026, 3, 1, 10, 0, 0, 500000, tzinfo=timezone.utc)),
    ("1772359200000", datetime(2026, 3, 1, 10, tzinfo=timezone.utc)),
])
def test_parse_time_accepts_every_cloud_format(text, expected):
    assert parse_time(text) == expected


def test_parse_time_rejects_garbage():
    with pytest.raises(EventDecodeError):
        parse_time("yesterday")


def test_message_json_failure_is_non_retryable():
    from portafunc import PayloadValidationError

    with pytest.raises(PayloadValidationError):
        Message(id="1", data=b"{").json()


@pytest.mark.parametrize("value", [10**20, "99999999999999999999", -(10**20), float("inf")])
def test_out_of_range_epoch_times_are_decode_errors(value):
    with pytest.raises(EventDecodeError):
        parse_time(value)


def _time_outcome(parse, value):
    try:
        parsed = parse(value)
    except EventDecodeError:
        return "refused"
    return parsed, parsed.utcoffset() if parsed is not None else None


@pytest.mark.parametrize("value", [
    "2024-01-01T00:00:00.123Z", "2021-02-26T19:13:55.749000000Z", "2024-01-01T00:00:00Z", "2024-01-01T00:00:00,5Z",
    "2024-W01-1T00:00:00.123Z", "20240101T000000.1234567Z", "2024-01-01 00:00:00.123Z", "2024-01-01.00:00:00.5Z",
    "2024-01-01T00:00:00.Z", "2024-01-01T24:00:00.000Z", "2024-01-01T00:00:00.１２３Z", " 2024-01-01T00:00:00.12Z",
    "2024-01-01T00:00:00.123z", "2024-02-30T00:00:00.000Z", "Z", "T", "2024-01-01T", "2024-01-01TZ",
])
def test_parse_time_reads_a_utc_text_as_the_general_path_does(value):
    from portafunc.events import _parse_time_general

    assert _time_outcome(parse_time, value) == _time_outcome(_parse_time_general, value)


def test_parse_time_reads_mutated_utc_texts_as_the_general_path_does():
    """Texts ending in "Z" (the ones fromisoformat reads directly from 3.11 on), mutated at random from the forms
    clouds send: the same datetime and offset, or refused by both (the "." separator fromisoformat would take is one)."""
    import random

    from portafunc.events import _parse_time_general

    bases = ["2024-01-01T00:00:00.123Z", "2021-02-26T19:13:55.749000000Z", "2024-01-01T00:00:00Z",
             "2024-01-01 00:00:00,123456Z", "20240101T000000.1234567Z", "2024-W01-1T00:00:00.123Z", "2024-001T00:00Z",
             "2024-01-01T00Z", "2024-02-29T23:59:59.999999Z", "2024-01-01T12:30Z"]
    alphabet = "0123456789.:,-+TZWz t\u0661\uff11_"
    rnd = random.Random(7)
    accepted = 0
    for _ in range(20000):
        chars = list(rnd.choice(bases))
        for _ in range(rnd.randint(1, 3)):
            op, i = rnd.randint(0, 2), rnd.randrange(len(chars) + 1)
            if op == 0 and i < len(chars):
                del chars[i]
            elif op == 1:
                chars.insert(i, rnd.choice(alphabet))
            elif i < len(chars):
                chars[i] = rnd.choice(alphabet)
        value = "".join(chars)
        value = value if value.endswith("Z") else value + "Z"
        fast = _time_outcome(parse_time, value)
        assert fast == _time_outcome(_parse_time_general, value), value
        accepted += fast != "refused"
    assert accepted > 1000  # the mutations reach the direct read, not only refusals
