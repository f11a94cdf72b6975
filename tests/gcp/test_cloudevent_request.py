"""The entry reads an event function's request itself (``inbound.cloudevent_request``) and hands the function's lane
the CloudEvent functions-framework would have handed a ``@functions_framework.cloud_event`` target: compared with
functions-framework's own reading (cloudevents' ``from_http``, then its legacy-event conversion) on the real GCP
fixtures in binary and structured mode and on header, body and attribute mutations of them. The served entry is
driven through functions-framework's real Flask app (``create_app`` + its WSGI client)."""

from __future__ import annotations

import base64
import copy
import json
from pathlib import Path
from typing import Any

import flask
import pytest
from cloudevents.http import CloudEvent, from_http
from functions_framework import event_conversion
from werkzeug.test import EnvironBuilder

from portafunc import App, Message
from portafunc_gcp.harness import Harness, harness_for
from portafunc_gcp.inbound import cloudevent_request
from portafunc_gcp.inbound.cloudevent_request import binary_event, cloud_event_of

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "events"


def _is_cloudevent(path: Path) -> bool:
    event = json.loads(path.read_text())
    return isinstance(event, dict) and event.get("specversion") == "1.0" and "data_base64" not in event


# every CloudEvents 1.0 JSON event among the fixtures, Google's and others' (a CloudEvent is a CloudEvent)
STRUCTURED = sorted(p for p in FIXTURES.rglob("*.json") if _is_cloudevent(p))


def request_of(headers: list[tuple[str, str]], body: bytes | str, method: str = "POST") -> flask.Request:
    return flask.Request(EnvironBuilder(path="/", method=method, headers=headers, data=body).get_environ())


def functions_framework_reads(request: flask.Request) -> Any:
    """What functions-framework hands a CloudEvent target for ``request`` (its view function's own steps)."""
    from cloudevents import exceptions

    try:
        return from_http(request.headers, request.get_data())
    except (exceptions.MissingRequiredFields, exceptions.InvalidRequiredFields):
        return event_conversion.background_event_to_cloud_event(request)


def seen(event: Any) -> tuple[Any, ...]:
    """A CloudEvent as a handler could see it; ``time`` only when the request gave one (else the constructor draws
    it from the clock)."""
    attributes = dict(event.get_attributes())
    return type(event), list(attributes.items()), event.data


def binary(ce: dict[str, Any]) -> tuple[list[tuple[str, str]], str]:
    http = Harness.binary_cloudevent(ce)
    return [(k, v) for k, v in http["headers"]], http["body"]


def fixture_events() -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in STRUCTURED]


def mutations() -> list[tuple[str, list[tuple[str, str]], bytes | str]]:
    """Binary-mode requests: each fixture as Eventarc sends it, then with one thing changed."""
    cases: list[tuple[str, list[tuple[str, str]], bytes | str]] = []
    for number, ce in enumerate(fixture_events()):
        headers, body = binary(ce)
        cases.append((f"fixture {number}", headers, body))
    headers, body = binary(fixture_events()[0])
    without = [(k, v) for k, v in headers if k != "ce-time"]

    def changed(**replace: str) -> list[tuple[str, str]]:
        return [(k, replace.get(k, v)) for k, v in headers]

    cases += [
        ("no time", without, body),
        ("extensions", headers + [("ce-traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"),
                                  ("ce-partitionkey", "k")], body),
        ("extension first", [("ce-zeta", "z")] + headers, body),
        ("subject and schema", headers + [("ce-subject", "objects/a b.txt"), ("ce-dataschema", "https://s/x")], body),
        ("dashed extension", headers + [("ce-my-ext", "x")], body),
        ("datacontenttype header", headers + [("ce-datacontenttype", "text/plain")], body),
        ("data header", headers + [("ce-data", "x")], body),
        ("no content type", [(k, v) for k, v in headers if k != "Content-Type"], body),
        ("text content type", changed(**{"Content-Type": "text/plain"}), body),
        ("charset", changed(**{"Content-Type": "application/json; charset=utf-8"}), body),
        ("array body", headers, "[1, 2]"),
        ("number body", headers, "12"),
        ("empty string body", headers, '""'),
        ("null body", headers, "null"),
        ("empty body", headers, ""),
        ("text body", headers, "not json"),
        ("invalid utf-8", headers, b"\xff\xfe{"),
        ("utf-16 json", headers, json.dumps({"a": "é"}).encode("utf-16")),
        ("spec 0.3", changed(**{"ce-specversion": "0.3"}), body),
        ("spec 2.0", changed(**{"ce-specversion": "2.0"}), body),
        ("empty id", changed(**{"ce-id": ""}), body),
        ("no type", [(k, v) for k, v in headers if k != "ce-type"], body),
        ("latin-1 header", changed(**{"ce-source": "//storage.googleapis.com/projects/_/buckets/caf\u00e9"}), body),
    ]
    return cases


MUTATIONS = mutations()


@pytest.mark.parametrize("name,headers,body", MUTATIONS, ids=[m[0] for m in MUTATIONS])
def test_a_binary_request_gives_the_cloudevent_functions_framework_gives(name, headers, body):
    ours = _outcome(lambda: cloud_event_of(request_of(headers, body), "f"))
    theirs = _outcome(lambda: functions_framework_reads(request_of(headers, body)))
    if "ce-time" not in dict(headers) and isinstance(theirs, tuple):  # drawn from the clock by the constructor
        ours, theirs = _without_time(ours), _without_time(theirs)
    if isinstance(theirs, tuple) and theirs[0] is CloudEvent:
        assert ours == theirs
    elif theirs == "refused":  # neither a CloudEvent nor a legacy event: the entry answers 400
        assert ours == "400 Bad Request"
    else:  # what Flask answered inside functions-framework's conversion (415 for a body that is not JSON)
        assert ours == theirs and theirs.startswith("4")


def _without_time(seen_event: tuple[Any, ...]) -> tuple[Any, ...]:
    kind, attributes, data = seen_event
    assert "time" in dict(attributes)
    return kind, [(k, v) for k, v in attributes if k != "time"], data


def _outcome(read: Any) -> Any:
    from functions_framework.exceptions import EventConversionException
    from werkzeug.exceptions import HTTPException

    try:
        return seen(read())
    except EventConversionException:
        return "refused"
    except HTTPException as exc:
        return f"{exc.code} {exc.name}"


def test_the_usual_binary_requests_are_read_without_from_http():
    """Every fixture in binary mode, and the mutations that only add attributes, take the entry's own read."""
    own = {name for name, headers, body in MUTATIONS if binary_event(request_of(headers, body)) is not None}
    assert {f"fixture {n}" for n in range(len(STRUCTURED))} <= own
    assert {"no time", "extensions", "extension first", "subject and schema", "no content type", "array body",
            "empty string body"} <= own
    assert not own & {"dashed extension", "datacontenttype header", "data header", "empty body", "text body",
                      "spec 0.3", "empty id", "no type"}
    assert len(STRUCTURED) >= 4


@pytest.mark.parametrize("path", STRUCTURED, ids=[p.name for p in STRUCTURED])
def test_structured_mode_and_legacy_requests_are_read_by_functions_framework_s_own_path(path):
    ce = json.loads(path.read_text())
    structured = request_of([("Content-Type", "application/cloudevents+json")], json.dumps(ce))
    assert binary_event(structured) is None
    assert seen(cloud_event_of(structured, "f")) == seen(functions_framework_reads(structured))


def test_a_legacy_push_is_converted_as_functions_framework_converts_it():
    push = {"subscription": "projects/p/subscriptions/s",
            "message": {"data": base64.b64encode(b"{}").decode(), "messageId": "m-1",
                        "publishTime": "2021-02-05T04:06:14.109Z"}}
    request = request_of([("Content-Type", "application/json")], json.dumps(push))
    assert seen(cloud_event_of(request, "f")) == seen(functions_framework_reads(request))


def test_a_request_that_is_no_event_is_refused_400_and_its_body_is_never_logged(capsys):
    from werkzeug.exceptions import BadRequest

    secret = json.dumps({"card": "4111111111111111"})
    with pytest.raises(BadRequest) as info:
        cloud_event_of(request_of([("Content-Type", "application/json")], secret), "on_event")
    assert "not a CloudEvent" in str(info.value.description) and secret not in str(info.value.description)
    line = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert line["message"].startswith("event could not be decoded") and line["function"] == "on_event"
    assert line["error"] == "MissingRequiredFields" and "4111" not in json.dumps(line)


# -- the served entry, through functions-framework -----------------------------------------------------------------

def _served_app() -> tuple[App, list[Message]]:
    app = App("served-events")
    got: list[Message] = []

    @app.topic("orders", name="on_order")
    def on_order(msg: Message) -> None:
        if msg.body == {"fail": True}:
            raise RuntimeError("refused order")
        got.append(msg)

    return app, got


def _binary_publish(body: dict[str, Any], message_id: str = "m-1") -> tuple[list[tuple[str, str]], str]:
    ce = {"specversion": "1.0", "id": f"ce-{message_id}", "type": "google.cloud.pubsub.topic.v1.messagePublished",
          "source": "//pubsub.googleapis.com/projects/p/topics/orders", "time": "2021-02-05T04:06:14.109Z",
          "data": {"subscription": "projects/p/subscriptions/s",
                   "message": {"data": base64.b64encode(json.dumps(body).encode()).decode(),
                               "messageId": message_id, "attributes": {"a": "1"},
                               "publishTime": "2021-02-05T04:06:14.109Z"}}}
    return binary(ce)


def test_the_served_entry_runs_a_binary_event_without_from_http(monkeypatch):
    app, got = _served_app()
    client = harness_for(app).client("on_order")
    monkeypatch.setattr(cloudevent_request, "converted", lambda *a: pytest.fail("took functions-framework's path"))
    headers, body = _binary_publish({"total": 2})
    resp = client.post("/", headers=headers, data=body)
    assert (resp.status_code, resp.get_data()) == (200, b"OK")
    assert [(m.id, m.body, m.attributes) for m in got] == [("m-1", {"total": 2}, {"a": "1"})]
    assert type(got[0].native) is CloudEvent and got[0].native["id"] == "ce-m-1"


def test_the_served_entry_answers_500_for_a_failed_message_and_400_for_no_event():
    app, got = _served_app()
    client = harness_for(app).client("on_order")
    headers, body = _binary_publish({"fail": True})
    assert client.post("/", headers=headers, data=body).status_code == 500  # Pub/Sub redelivers it
    no_event = client.post("/", headers=[("Content-Type", "application/json")], data='{"a": 1}')
    assert no_event.status_code == 400 and no_event.content_type == "application/problem+json"
    assert no_event.get_json()["detail"].startswith("the request is not a CloudEvent")
    assert client.post("/", headers=[("Content-Type", "text/plain")], data="hello").status_code == 415  # as before
    assert got == []


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_the_served_entry_takes_post_only(method):
    app, got = _served_app()
    resp = harness_for(app).client("on_order").open("/", method=method)
    assert resp.status_code == 405 and resp.headers["Allow"] == "POST" and got == []


def test_a_structured_event_still_reaches_the_handler():
    app, got = _served_app()
    headers, body = _binary_publish({"total": 3}, "m-2")
    ce = {k[3:]: v for k, v in headers if k.startswith("ce-")} | {"data": json.loads(body)}
    resp = harness_for(app).client("on_order").post("/", data=json.dumps(copy.deepcopy(ce)),
                                                    content_type="application/cloudevents+json")
    assert resp.status_code == 200 and [m.id for m in got] == ["m-2"]


LEGACY_PUBLISH: dict[str, Any] = {"data": {"@type": "type.googleapis.com/google.pubsub.v1.PubsubMessage", "data": "e30=",
                           "attributes": {"test": "123"}},
                  "context": {"eventId": "1", "eventType": "google.pubsub.topic.publish",
                              "resource": {"name": "projects/p/topics/t", "service": "pubsub.googleapis.com",
                                           "type": "type.googleapis.com/google.pubsub.v1.PubsubMessage"},
                              "timestamp": "2021-06-28T05:46:32.390Z"}}


def _legacy(**resource: Any) -> dict[str, Any]:
    """LEGACY_PUBLISH with its resource's fields replaced (None: left out)."""
    event = copy.deepcopy(LEGACY_PUBLISH)
    for key, value in resource.items():
        if value is None:
            del event["context"]["resource"][key]
        else:
            event["context"]["resource"][key] = value
    return event


@pytest.mark.parametrize("content_type,event", [
    ("application/cloudevents+json", {"specversion": [["1.0"]], "id": "1", "source": "s", "type": "t", "data": {}}),
    ("application/json", _legacy(service={"a": 1})),
    ("application/json", _legacy(name=None)),
], ids=["structured, specversion a list", "legacy, service an object", "legacy, resource without name"])
def test_an_event_the_conversion_itself_fails_on_is_refused_400(content_type, event):
    """Inputs on which functions-framework's own conversion raises (it answered 500, so Pub/Sub retried them until
    the dead-letter policy ended them): the entry answers 400 at once."""
    from werkzeug.exceptions import BadRequest

    request = request_of([("Content-Type", content_type)], json.dumps(event))
    with pytest.raises(Exception) as theirs:
        functions_framework_reads(request)
    assert not isinstance(theirs.value, BadRequest)  # a crash in functions-framework's code, not an answer
    with pytest.raises(BadRequest):
        cloud_event_of(request_of([("Content-Type", content_type)], json.dumps(event)), "f")


def test_a_legacy_event_reaches_the_lane_as_functions_framework_converts_it():
    request = request_of([("Content-Type", "application/json")], json.dumps(LEGACY_PUBLISH))
    assert seen(cloud_event_of(request, "f")) == seen(functions_framework_reads(request))


# -- a raw Pub/Sub push, decoded from its body -----------------------------------------------------------------------

def _raw_push_entry(key: str) -> tuple[Any, list[Any]]:
    from portafunc import context
    from portafunc_gcp import runtime

    app = App(key)
    got: list[Any] = []

    @app.queue("q", name="got")
    def handler(msg: Message) -> None:
        if msg.attributes.get("fail") == "yes":
            raise RuntimeError("failed on purpose")
        invocation = context.current()
        got.append((msg.to_dict(context=True), type(msg.native).__name__,
                    type(invocation.native_context).__name__ if invocation else None))

    runtime.register(key, app)
    return runtime.Entry(f"registered:{key}"), got


def _answer(call: Any) -> int:
    from werkzeug.exceptions import HTTPException

    try:
        call()
    except HTTPException as exc:
        return int(exc.code or 0)
    return 200


def test_a_raw_push_is_decoded_from_its_body_as_the_lane_decoded_it():
    """Every push envelope and mutation of tests/gcp/test_pubsub_fast_decode.py, POSTed as a push subscription sends
    it: the served entry's own read gives the handler the same message, or the same status, as functions-framework's
    conversion followed by the function's CloudEvent lane (the path before); only the invocation's native context
    differs (the request, not a CloudEvent made up from it). Except where functions-framework refused a push the
    decoder reads: one without ``subscription``, or a message without ``data`` (Pub/Sub sends an attributes-only
    message so: proto3's JSON leaves empty bytes out), which functions-framework's raw-push test requires; the entry
    before answered those 400 and Pub/Sub dead-lettered them unread."""
    from .test_pubsub_fast_decode import _cases

    entry, got = _raw_push_entry("raw-push-compare")
    web = flask.Flask(__name__)
    differences, decoded = [], 0
    for name, env in _cases():
        outcomes = []
        for path in ("before", "served"):
            with web.test_request_context("/", method="POST", data=json.dumps(env), content_type="application/json"):
                request = flask.request._get_current_object()  # type: ignore[attr-defined]
                if path == "before":
                    status = _answer(lambda: entry.event("got", cloud_event_of(request, "got")))  # noqa: B023
                else:
                    status = _answer(lambda: entry.event_requests["got"](request))  # noqa: B023
            outcomes.append((status, got.pop()[:2] if got else None))
        decoded += outcomes[1][0] == 200
        if outcomes[0] != outcomes[1]:
            differences.append((name, outcomes))
    refused_before = {name for name, (before, served) in differences if before == (400, None) and served[0] == 200}
    assert [name for name, _ in differences if name not in refused_before] == []
    assert {name.rsplit(" ", 1)[1] for name in refused_before} == {"message.data=None", "subscription=None"}
    assert decoded > 100


def test_a_raw_push_keeps_its_ordering_key_and_attempt_and_skips_the_conversion(monkeypatch):
    entry, got = _raw_push_entry("raw-push-fields")
    monkeypatch.setattr(cloudevent_request, "converted", lambda *a: pytest.fail("converted like a CloudEvent"))
    push = {"subscription": "projects/p/subscriptions/s", "deliveryAttempt": 3,
            "message": {"data": base64.b64encode(b'{"total": 2}').decode(), "messageId": "p-1",
                        "orderingKey": "k", "publishTime": "2021-02-05T04:06:14.109Z"}}
    with flask.Flask(__name__).test_request_context("/", method="POST", json=push):
        assert entry.event_requests["got"](flask.request._get_current_object()) == "OK"  # type: ignore[attr-defined]
    (message, native, native_context), = got
    assert (message["id"], message["ordering_key"], message["delivery_attempt"]) == ("p-1", "k", 3)
    assert (native, native_context) == ("dict", "Request")
    failing = copy.deepcopy(push)
    failing["message"]["attributes"] = {"fail": "yes"}
    with flask.Flask(__name__).test_request_context("/", method="POST", json=failing):
        status = _answer(lambda: entry.event_requests["got"](flask.request._get_current_object()))
    assert status == 500 and got == [(message, native, native_context)]  # redelivered by Pub/Sub


def test_a_failure_quoting_a_lone_surrogate_is_still_answered_500():
    """A message id decoded from JSON's ``\\udcff`` escape, quoted by the 500 that has Pub/Sub redeliver the message:
    the answer is sent (the id written escaped), not a crash of Flask encoding it."""
    app, got = _served_app()
    headers, body = _binary_publish({"fail": True}, "m\udcff")
    resp = harness_for(app).client("on_order").post("/", headers=headers, data=body.replace("m\udcff", "m\\udcff"))
    assert resp.status_code == 500 and b"m\\udcff" in resp.get_data() and got == []
