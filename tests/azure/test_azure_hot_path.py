"""The per-invocation fast paths of the Azure runtime give what the general decoders give.

Event Grid-schema events are read straight from ``func.EventGridEvent`` (no JSON round trip, the payload serialised
only if something reads its bytes); queue bodies are parsed only when they can be a portafunc envelope; HTTP
requests are read from ``func.HttpRequest`` without a URL parser. Each is compared, through the generated
function_app.py and the worker's own converters, with the general decoder on the same native event.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

from pydantic import BaseModel

from portafunc import App, HttpRequest, Message
from portafunc.targets import get_target
from portafunc_azure.codecs import grid_lane, natives, queue, topic
from portafunc_azure.deploy.function_app import load_function_app

T = get_target("azure")


class Order(BaseModel):
    id: str
    total: float


def _app() -> tuple[App, list[Message]]:
    app = App("hot")
    got: list[Message] = []

    @app.topic("events", name="untyped")
    def untyped(msg: Message) -> None:
        got.append(msg)

    @app.topic("events", name="typed")
    def typed(msg: Message[Order]) -> None:
        got.append(msg)

    @app.queue("work", name="work")
    def work(msg: Message) -> None:
        got.append(msg)

    return app, got


def test_event_grid_messages_match_the_general_decoder():
    app, got = _app()
    _, functions, _ = load_function_app(app)
    when = datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    for attributes in ({}, {"kind": "created"}):
        native = topic.encode_message(Message("m-1", b'{"id":"o-1","total":9.5}', attributes=attributes,
                                              published_at=when))
        want = topic.decode_event(native, as_message=True)
        functions["untyped"].get_user_function()(natives.to_func_eventgrid(native))
        functions["typed"].get_user_function()(natives.to_func_eventgrid(native))
        untyped, typed = got[-2], got[-1]
        for msg in (untyped, typed):
            assert msg.to_dict(context=True) == want.to_dict(context=True)
        assert untyped.json() == {"id": "o-1", "total": 9.5}
        assert typed.body == Order(id="o-1", total=9.5)
        assert type(untyped).__name__ == type(want).__name__ == "Message"  # as code telling events by name sees it


def test_a_foreign_event_grid_event_keeps_type_and_subject():
    app, got = _app()
    _, functions, _ = load_function_app(app)
    native = {"id": "e-1", "topic": "/t", "subject": "orders/1", "eventType": "Contoso.Order", "data": [1, "two"],
              "eventTime": "2024-01-02T03:04:05Z", "dataVersion": "1"}
    functions["untyped"].get_user_function()(natives.to_func_eventgrid(native))
    msg = got[-1]
    assert msg.attributes == {"type": "Contoso.Order", "subject": "orders/1"} and msg.json() == [1, "two"]
    assert msg.data == b'[1,"two"]' and msg.to_dict() == T.decode(native)[0].to_dict()


def test_queue_bodies_are_parsed_only_when_they_can_be_an_envelope():
    payload = b'{"note": "mentions \\"$portafunc\\" in its text", "id": 1}'
    assert queue.decode_body(payload, message_id="q-1", dequeue_count=1, insertion_time=None).data == payload
    enveloped = queue.encode_message(Message("q-2", b"raw", attributes={"a": "1"}))
    back = T.decode(enveloped)[0]
    assert (back.data, back.attributes) == (b"raw", {"a": "1"})


def test_http_fast_path_matches_the_json_form():
    app = App("http")
    seen: list[HttpRequest] = []

    @app.http("POST", "/orders/{shop}")
    def create(req: HttpRequest) -> dict:
        seen.append(req)
        return {"ok": True}

    _, functions, _ = load_function_app(app)
    native = {"method": "POST", "url": "https://x.azurewebsites.net/orders/caf%C3%A9?b=2&a=1&a=%20#frag",
              "headers": {"X-Forwarded-For": "198.51.100.1, 203.0.113.7:5000", "Content-Type": "text/plain"},
              "params": {"b": "2", "a": "1, "}, "route_params": {"shop": "café"}, "body": "hi"}
    resp = functions["create"].get_user_function()(natives.to_func_http(native))
    assert resp.status_code == 200
    (req,) = seen
    want = T.decode(native)[0]
    assert req.to_dict(context=True) | {"headers": {}} == want.to_dict(context=True) | {"headers": {}}
    assert req.path == "/orders/café" and req.client_ip == "203.0.113.7" and req.raw_query == "b=2&a=1&a=%20"
    assert req.headers["content-type"] == "text/plain" and req.body == b"hi"


def test_a_plain_queue_message_decodes_as_the_field_by_field_reader(monkeypatch) -> None:
    """decode_body takes a message portafunc did not wrap (a count in range, an aware insertion time) as it is;
    every combination of counts, times and bodies, wrapped or not, gives the message, or the refusal, that the
    field-by-field reader gives."""
    from datetime import datetime, timedelta, timezone

    from portafunc.errors import EventDecodeError
    from portafunc_azure.codecs import envelope
    from portafunc_azure.codecs.queue import decode_body, decode_body_fully

    def outcome(fn, *args, **kwargs):
        try:
            msg = fn(*args, **kwargs)
        except EventDecodeError as exc:
            return "error", str(exc)
        return (msg.id, msg.data, msg.attributes, msg.ordering_key, msg.delivery_attempt, msg.published_at,
                msg.source, msg.native)

    aware = datetime(2024, 1, 1, 12, 30, tzinfo=timezone.utc)
    counts = (None, 0, 1, 5, 2 ** 31 - 1, 2 ** 31, -1, True, 1.0, 2.5, "3", "x")
    times = (None, aware, aware.astimezone(timezone(timedelta(hours=2))), aware.replace(tzinfo=None),
             "2024-01-01T12:30:00Z", 1704112200000, "garbage")
    wrapped = envelope.body_bytes(b'{"a": 1}', {"k": "v"}, "g")
    bodies = (b'{"id": "o-1"}', b"", b"not json", wrapped, b'{"$portafunc": 2}')
    fast = 0
    for count in counts:
        for when in times:
            for body in bodies:
                args = {"message_id": "m-1", "dequeue_count": count, "insertion_time": when, "native": object()}
                want = outcome(decode_body_fully, body, **args)
                assert outcome(decode_body, body, **args) == want, (count, when, body)
                fast += want[0] != "error" and count in (1, 5) and isinstance(when, datetime) and body != wrapped
    assert fast >= 8
    monkeypatch.setattr(queue, "decode_body_fully", None)  # the usual message never reaches it
    assert decode_body(b"{}", message_id="m-2", dequeue_count=1, insertion_time=aware).data == b"{}"


def _eg_cases() -> list[dict]:
    import json as _json
    from pathlib import Path

    base = _json.loads((Path(__file__).parents[1] / "fixtures" / "events" / "azure" / "eventgrid" /
                        "py-cs4_event_grid_event_custom_event.json").read_text(encoding="utf-8"))
    cases = [base]
    for key, values in (("subject", ("", None, "a/b")), ("topic", (None, "t")),
                        ("eventType", ("portafunc.message", "Other.Type")), ("data", ({"a": [1, 2]}, [1], "text", 5))):
        for value in values:
            cases.append(dict(base, **{key: value}))
    return cases


def _func_event(doc: dict, when):
    import azure.functions as func

    # the SDK types topic, subject and version as text, yet passes None on when the event has none: kept as sent
    return func.EventGridEvent(id=doc["id"], data=doc["data"], topic=doc.get("topic"),  # type: ignore[arg-type]
                               subject=doc.get("subject"), event_type=doc["eventType"],  # type: ignore[arg-type]
                               event_time=when, data_version=doc.get("dataVersion"))  # type: ignore[arg-type]


def test_an_event_grid_message_reads_as_the_general_decoder_for_every_sample_and_mutation() -> None:
    """message_from_func makes the message from the worker's object with its attributes and source read on first
    access; for the fixture sample and mutations of its subject, topic, type, data and time, every field reads as
    the general path (the event JSON decoded by decode_event) gives it, and nothing is read before it is asked."""
    from datetime import timedelta

    from portafunc_azure.codecs.natives import from_func_eventgrid

    fields = ("id", "data", "attributes", "ordering_key", "delivery_attempt", "published_at", "source")
    checked = 0
    for doc in _eg_cases():
        for when in (None, datetime(2017, 6, 26, 18, 41, 0, 123000, tzinfo=timezone.utc),
                     datetime(2017, 6, 26, 20, 41, tzinfo=timezone(timedelta(hours=2)))):
            event = _func_event(doc, when)
            fast = topic.message_from_func(event)
            assert fast is not None, doc
            assert fast._rest is not None  # nothing beyond id and payload read yet
            general = topic.decode_event(from_func_eventgrid(event), as_message=True)
            assert fast.json() == general.json()
            assert {f: getattr(fast, f) for f in fields} == {f: getattr(general, f) for f in fields}, doc
            assert fast.native is event and fast.to_dict() == general.to_dict()
            checked += 1
    assert checked >= 30


def test_event_grid_fields_read_from_the_worker_class_match_its_accessors() -> None:
    """The worker's own func.EventGridEvent is read from the attributes its accessors return (once its layout is
    seen); a subclass whose accessors answer differently is read through them, and both give the message the
    general decoder gives for what the accessors say."""
    import azure.functions as func

    from portafunc_azure.codecs.natives import from_func_eventgrid

    class Renamed(func.EventGridEvent):
        @property
        def id(self) -> str:
            return "renamed-" + super().id

        def get_json(self):
            return {"wrapped": super().get_json()}

    when = datetime(2017, 6, 26, 18, 41, tzinfo=timezone.utc)
    doc = _eg_cases()[0]
    plain = _func_event(doc, when)
    assert topic.message_from_func(plain) is not None and grid_lane._sdk_event is func.EventGridEvent
    renamed = Renamed(id=doc["id"], data=doc["data"], topic=doc["topic"], subject=doc["subject"],
                      event_type=doc["eventType"], event_time=when, data_version=doc["dataVersion"])
    for event in (plain, renamed, plain):
        fast = topic.message_from_func(event)
        general = topic.decode_event(from_func_eventgrid(event), as_message=True)
        assert fast is not None and fast.id == event.id and fast.json() == event.get_json()
        assert fast.to_dict(context=True) == general.to_dict(context=True)
    assert grid_lane._sdk_event is func.EventGridEvent


def test_a_parsed_event_grid_payload_reads_the_same_through_data_json_and_a_set_data() -> None:
    """json() gives a copy of the payload the worker parsed (no bytes written for it); reading data writes its bytes
    once (json() then parses them), and data set by code before any read is what json() parses."""
    doc = _eg_cases()[0]
    when = datetime(2017, 6, 26, 18, 41, tzinfo=timezone.utc)
    first = topic.message_from_func(_func_event(doc, when))
    assert first is not None and first.json() == doc["data"] and first.json() is not doc["data"]
    assert first._value is doc["data"]  # nothing serialised yet
    written = first.data
    assert written == topic.envelope.dumps(doc["data"]) and first.data is written
    assert first.json() == doc["data"] and first.json() is not doc["data"]
    second = topic.message_from_func(_func_event(doc, when))
    assert second is not None
    second.data = b'{"replaced": true}'
    assert second.json() == {"replaced": True} and second.data == b'{"replaced": true}'


def test_the_event_grid_entry_answers_as_the_general_path_for_success_and_failure() -> None:
    """The generated entry of a topic function (the lane itself, the usual event read and run in one frame) and
    the general path (the event's JSON through decode_event and invoke_message) raise the same
    MessageFailed, or none, and leave the same last outcome, for a success, a retryable and a non-retryable failure
    and an event the lane leaves to the general path (a validation event)."""
    import inspect
    import typing

    import azure.functions as func
    import pytest

    from portafunc import NonRetryableError
    from portafunc_azure.outcome import MessageFailed

    app = App("lanes")

    @app.topic("events", name="flaky")
    def flaky(msg: Message) -> None:
        mode = msg.json().get("mode")
        if mode == "retry":
            raise RuntimeError("try again")
        if mode == "reject":
            raise NonRetryableError("never")

    _, functions, rt = load_function_app(app)
    entry = functions["flaky"].get_user_function()
    spec = app.function("flaky")
    when = datetime(2024, 1, 2, tzinfo=timezone.utc)
    docs = [dict(_eg_cases()[0], data={"mode": mode}) for mode in ("ok", "retry", "reject")]
    docs.append(dict(_eg_cases()[0], eventType=topic.VALIDATION_TYPE))

    def outcome(call, doc) -> tuple:
        rt.forget_last()
        try:
            call(_func_event(doc, when))
        except MessageFailed as exc:
            return "raised", str(exc), rt.last
        return "returned", None, rt.last

    for doc in docs:
        lane = outcome(entry, doc)
        assert lane == outcome(lambda event: rt._event_grid(spec, event), doc), doc
    assert [outcome(entry, doc)[0] for doc in docs] == ["returned", "raised", "raised", "returned"]
    # the worker calls the lane itself, which the worker's indexing reads as the generated stub
    assert entry is rt.event_grid_lanes["flaky"] and entry.__code__.co_name == "lane"
    assert list(inspect.signature(entry).parameters) == ["event"]
    assert typing.get_type_hints(entry) == {"event": func.EventGridEvent, "return": type(None)}
    with pytest.raises(Exception, match="nope"):
        rt.event_grid("nope", _func_event(docs[0], when))


def test_a_parsed_event_grid_message_copies_and_pickles_as_what_it_reads() -> None:
    """A copy, a deep copy and a pickled copy of the message the entry builds read the same payload, bytes and fields,
    before and after its bytes were written."""
    import copy
    import pickle

    doc = _eg_cases()[0]
    when = datetime(2017, 6, 26, 18, 41, tzinfo=timezone.utc)
    for read_first in (False, True):
        msg = topic.message_from_func(_func_event(doc, when))
        assert msg is not None
        if read_first:
            assert msg.data
        for clone in (copy.copy(msg), copy.deepcopy(msg), pickle.loads(pickle.dumps(msg))):
            assert clone.json() == doc["data"] and clone.data == msg.data
            assert clone.to_dict(context=True) == msg.to_dict(context=True)
    # a message copied before anything read it: each hands out a payload of its own
    msg = topic.message_from_func(_func_event(doc, when))
    assert msg is not None
    clone = copy.copy(msg)
    assert clone.json() is not msg.json() and clone.json() is not clone.json()


def test_a_handler_changing_its_parsed_event_grid_payload_leaves_the_message_as_received() -> None:
    """What json() hands a handler is its own, as the general path's fresh parse is: a handler that changes it and
    then fails leaves the message's bytes (what a dead-letter copy and the rejection's log fingerprint are made of),
    a second json() and the worker's event as they arrived, on the entry as on the general path."""
    import pytest

    from portafunc import NonRetryableError
    from portafunc_azure.outcome import MessageFailed

    app = App("owned")
    seen: list[Message] = []

    @app.topic("events", name="changes")
    def changes(msg: Message) -> None:
        seen.append(msg)
        body = msg.json()
        body["added"] = "by the handler"
        body["items"].append({"sku": "x"})
        body["items"][0]["qty"] = 99
        raise NonRetryableError("refused after changing its copy")

    _, functions, rt = load_function_app(app)
    spec = app.function("changes")
    when = datetime(2024, 1, 2, tzinfo=timezone.utc)
    payload = {"id": "o-1", "items": [{"sku": "a", "qty": 1}], "note": None}
    received = {"id": "o-1", "items": [{"sku": "a", "qty": 1}], "note": None}
    answers: list[tuple] = []
    for call in (functions["changes"].get_user_function(), lambda event: rt._event_grid(spec, event)):
        event = _func_event(dict(_eg_cases()[0], data=payload if not answers else dict(received)), when)
        with pytest.raises(MessageFailed):
            call(event)
        msg = seen[-1]
        answers.append((msg.data, msg.json(), msg.to_dict(), event.get_json()))
    assert answers[0] == answers[1]
    assert answers[0][1] == received and answers[0][3] == received and payload == received


def test_an_event_grid_payload_with_a_lone_surrogate_runs_as_on_the_other_clouds() -> None:
    """Text holding a lone surrogate (a JSON escape such as \\ud800, which the worker's parser reads as one) has no
    UTF-8 form: the message's bytes carry it as the JSON escape it arrived as, so an untyped handler gets it from
    ``json()`` (as from an SQS or Pub/Sub body holding the same escape) and a typed one refuses it as an invalid
    payload, without running, as pydantic does on every target. The entry and the general path give the same answer
    and outcome wherever the text sits in the payload."""
    import functools

    from portafunc_azure.outcome import MessageFailed

    app = App("unwritable")
    ran: list[Any] = []

    @app.topic("events", name="typed")
    def typed(msg: Message[Order]) -> None:
        ran.append(msg.id)

    @app.topic("events", name="untyped")
    def untyped(msg: Message) -> None:
        ran.append((msg.json(), json.loads(msg.data)))

    _, functions, rt = load_function_app(app)
    when = datetime(2024, 1, 2, tzinfo=timezone.utc)
    lone = "\ud800"
    payloads = [{"id": lone, "total": 1.0}, {"id": "o-1", "total": 1.0, "notes": ["ok", {"x": "a" + lone}]},
                {"id": "o-1", lone: 1}, [lone], lone, {"items": [1], "id": lone}, {"items": {"a": 1}, lone: 1},
                {"id": "é", "total": 1.0, "note": "ü" + lone}]

    def outcome(call, data) -> tuple:
        rt.forget_last()
        ran.clear()
        try:
            call(_func_event(dict(_eg_cases()[0], data=data), when))
        except MessageFailed as exc:
            return "raised", str(exc), rt.last, list(ran)
        return "returned", None, rt.last, list(ran)

    for data in payloads:
        general = functools.partial(rt._event_grid, app.function("untyped"))
        lane = outcome(functions["untyped"].get_user_function(), data)
        assert lane == outcome(general, data), data
        assert lane[2].outcome.value == "success" and lane[3] == [(data, data)], data
        general = functools.partial(rt._event_grid, app.function("typed"))
        lane = outcome(functions["typed"].get_user_function(), data)
        assert lane == outcome(general, data), data
        assert lane[0] == "raised" and lane[2].outcome.value == "rejected" and lane[3] == [], data
        assert "PayloadValidationError" in str(lane[2].error), lane


def test_an_event_grid_payload_nested_too_deeply_to_write_is_refused_not_raised() -> None:
    """A payload nested deeper than Python can walk cannot be written as the message's bytes: the general path and
    the entry refuse the event as malformed (rejected once, the function not run) instead of letting a
    RecursionError escape to the worker, which would have Event Grid deliver it again and again."""
    import functools

    app = App("deep")
    ran: list[str] = []

    @app.topic("events", name="deep")
    def deep(msg: Message) -> None:
        ran.append(msg.id)

    _, functions, rt = load_function_app(app)
    general = functools.partial(rt._event_grid, app.function("deep"))
    when = datetime(2024, 1, 2, tzinfo=timezone.utc)
    data: list = []
    inner = data
    for _ in range(5000):  # built in a loop: no parser in this test could read it back
        inner.append([])
        inner = inner[0]
    for call in (functions["deep"].get_user_function(), general):
        rt.forget_last()
        assert call(_func_event(dict(_eg_cases()[0], data=data), when)) is None
        last = rt.last
        assert last is not None and last.outcome.value == "rejected" and "nested too deeply" in str(last.error)
    assert ran == []


def test_a_handler_changing_a_flat_parsed_payload_leaves_the_message_as_received() -> None:
    """A flat JSON object (the lane copies and checks it without a nested walk) is the handler's own too: its edits
    reach neither the message's bytes, a second json(), nor the worker's event."""
    app = App("flat")
    seen: list[Message] = []

    @app.topic("events", name="changes")
    def changes(msg: Message) -> None:
        body = msg.json()
        body["total"] = 99
        body["added"] = "by the handler"
        seen.append(msg)

    _, functions, _ = load_function_app(app)
    received = {"id": "o-1", "total": 1.5, "note": "é"}
    event = _func_event(dict(_eg_cases()[0], data=dict(received)), datetime(2024, 1, 2, tzinfo=timezone.utc))
    functions["changes"].get_user_function()(event)
    msg = seen[-1]
    assert msg.json() == received and event.get_json() == received
    assert msg.data == b'{"id":"o-1","total":1.5,"note":"\xc3\xa9"}'
