"""The generated main.py driven through functions-framework's real Flask app (create_app + WSGI test client):
HTTP mapping, failure semantics per message, dead-lettering, raw push envelopes, legacy events, storage filters,
schedules; plus the main.py generator, the trigger table and the cold-start import rule."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from datetime import datetime, timezone

import pytest

from portafunc import App, Message
from portafunc.errors import UnsupportedTrigger
from portafunc.events import HttpRequest, ScheduleEvent, StorageEvent
from portafunc.targets import get_target

from .apps import recorder_app

T = get_target("gcp")
APP = recorder_app.app


@pytest.fixture
def record(tmp_path, monkeypatch):
    path = tmp_path / "record.jsonl"
    monkeypatch.setenv("GCP_TEST_RECORD", str(path))

    def read() -> list[dict]:
        return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []

    return read


def test_http_binary_body_repeated_cookies_and_query(record):
    body = bytes(range(256))
    ex = T.driver().http(APP, HttpRequest("POST", "/echo/zoë", query={"q": ["1", "2"]},
                                          headers={"Content-Type": "application/octet-stream", "Cookie": "s=1; t=2"},
                                          body=body))
    resp = ex.response
    assert resp.status == 200 and resp.body == body[::-1]
    assert resp.headers.get_all("set-cookie") == ["a=1; Path=/; Secure; HttpOnly; SameSite=Lax", "b=2; Path=/; Secure; HttpOnly; SameSite=Lax"]
    assert resp.headers.get("x-name") == "zoë" or resp.headers.get("x-name") == "zoë".encode().decode("latin-1")
    (seen,) = record()
    assert seen["name"] == "zoë" and seen["query"] == {"q": ["1", "2"]} and seen["cookies"] == {"s": "1", "t": "2"}
    assert base64.b64decode(seen["body_b64"]) == body
    assert ex.native_response["isBase64Encoded"] is True


def test_http_route_mismatch_and_method_not_allowed():
    answer = T.invoke(APP, "echo", {"method": "GET", "path": "/nothing", "headers": []})
    assert answer["statusCode"] == 404 and "echo" not in answer["body"]  # no internal names
    answer = T.invoke(APP, "_portafunc_http", {"method": "GET", "path": "/nothing", "headers": []})
    assert answer["statusCode"] == 404 and "echo" not in answer["body"]
    answer = T.invoke(APP, "_portafunc_http", {"method": "DELETE", "path": "/echo/x", "headers": []})
    assert answer["statusCode"] == 405 and dict(answer["headers"])["Allow"] == "GET, HEAD, POST"
    answer = T.invoke(APP, "_portafunc_http", {"method": "HEAD", "path": "/echo/x", "headers": []})
    assert answer["statusCode"] == 200 and answer["body"] == ""
    answer = T.invoke(APP, "echo", {"method": "DELETE", "path": "/echo/x", "headers": []})
    assert answer["statusCode"] == 405 and dict(answer["headers"])["Allow"] == "GET, HEAD, POST"


def test_message_failures_are_non_2xx(record):
    msgs = [Message("ok-1", b"fine"), Message("bad-1", b"x", {"fail": "always"}), Message("ok-2", b"\x00\xff")]
    ex = T.driver().messages(APP, "on_event", msgs)
    assert ex.ids == ["ok-1", "bad-1", "ok-2"] and ex.failed_ids == ["bad-1"]
    assert [a["statusCode"] for a in ex.native_response] == [200, 500, 200]
    assert [r["id"] for r in record()] == ["ok-1", "bad-1", "ok-2"]
    assert base64.b64decode(record()[2]["data_b64"]) == b"\x00\xff"


def test_non_retryable_without_destination_is_failed_so_pubsub_dead_letters_it(record, monkeypatch):
    monkeypatch.delenv("PORTAFUNC_DEADLETTER_WORK", raising=False)
    ex = T.driver().messages(APP, "work", [Message("w-1", b"{}", {"bad": "yes"})])
    assert ex.failed_ids == ["w-1"]


def test_non_retryable_with_destination_is_forwarded_and_acked(record, monkeypatch):
    from portafunc.messaging.memory import broker

    monkeypatch.setenv("PORTAFUNC_DEADLETTER_WORK", "memory://work-dead")
    ex = T.driver().messages(APP, "work", [Message("w-2", b"payload", {"bad": "yes"})])
    assert ex.failed_ids == [] and ex.native_response[0]["statusCode"] == 200
    (dead,) = broker().queue("work-dead").receive(10)
    assert dead.data == b"payload" and dead.attributes["portafunc_original_id"] == "w-2"
    assert "never succeed" in dead.attributes["portafunc_error"]


def test_ordered_queue_stops_at_first_failure():
    app = App("ordered")

    @app.queue("jobs", ordered=True)
    def job(msg: Message) -> None:
        if msg.data == b"bad":
            raise RuntimeError("x")

    ex = T.driver().messages(app, "job", [Message("1", b"a"), Message("2", b"bad"), Message("3", b"c")])
    assert ex.failed_ids == ["2", "3"] and len(ex.native_response) == 2


def test_raw_push_envelope_keeps_ordering_key_and_attempt(record):
    """functions-framework converts a raw push into a CloudEvent and drops orderingKey/deliveryAttempt; the runtime
    decodes the original body so the handler still sees them."""
    env = {"subscription": "projects/p/subscriptions/s", "deliveryAttempt": 3,
           "message": {"data": base64.b64encode(b"\x01\x02").decode(), "messageId": "p-1", "orderingKey": "k",
                       "attributes": {"a": "ü"}}}
    assert T.invoke(APP, "on_event", env)["statusCode"] == 200
    (seen,) = record()
    assert (seen["id"], seen["ordering_key"], seen["attempt"], seen["attributes"]) == ("p-1", "k", 3, {"a": "ü"})
    assert base64.b64decode(seen["data_b64"]) == b"\x01\x02"


def test_structured_and_legacy_events_reach_the_handler(record):
    msg = Message("s-1", b"hello", {"k": "v"}, published_at=datetime(2025, 1, 1, tzinfo=timezone.utc))
    assert T.invoke(APP, "on_event", T.encode(msg, "cloudevent"))["statusCode"] == 200
    assert T.invoke(APP, "on_event", T.encode(msg, "legacy"))["statusCode"] == 200
    seen = record()
    assert [s["id"] for s in seen] == ["s-1", "s-1"]
    assert all(s["attributes"] == {"k": "v"} and base64.b64decode(s["data_b64"]) == b"hello" for s in seen)


def test_undecodable_event_is_400(record):
    ce = {"specversion": "1.0", "type": "google.cloud.pubsub.topic.v1.messagePublished", "id": "1",
          "source": "//pubsub.googleapis.com/projects/p/topics/t", "data": {"message": {"data": "@@@"}}}
    assert T.invoke(APP, "on_event", ce)["statusCode"] == 400
    assert record() == []


def test_storage_events_filters_and_retry(record):
    d = T.driver()
    ok = d.event(APP, "on_upload", StorageEvent("uploads", "in/photo 1.jpg", "created", size=10, etag="e"))
    skipped = d.event(APP, "on_upload", StorageEvent("uploads", "out/other.jpg", "created", size=1))
    deleted = d.event(APP, "on_upload", StorageEvent("uploads", "in/gone.txt", "deleted"))
    failed = d.event(APP, "on_upload", StorageEvent("uploads", "in/x.fail", "created", id="ev-9"))
    assert ok.failed_ids == [] and skipped.failed_ids == [] and deleted.failed_ids == []
    assert failed.failed_ids == ["ev-9"] and failed.native_response["statusCode"] == 500
    assert [(r["key"], r["kind"]) for r in record()] == [("in/photo 1.jpg", "created"), ("in/gone.txt", "deleted"),
                                                         ("in/x.fail", "created")]
    # the bare binary-mode sample reaches the handler too (prefix does not match → acked, not run)
    assert T.invoke(APP, "on_upload", {"bucket": "uploads", "name": "in/a", "kind": "storage#object",
                                       "size": "3"})["statusCode"] == 200


def test_schedule_from_scheduler_headers_and_plain_post(record):
    when = datetime(2026, 3, 1, 12, 5, tzinfo=timezone.utc)
    ex = T.driver().event(APP, "tick", ScheduleEvent(when))
    assert ex.failed_ids == []
    # a plain POST (a manual run) runs the job too, at the time it arrives
    assert T.invoke(APP, "tick", {"method": "POST", "path": "/", "headers": [["Content-Type", "application/json"]],
                                  "body": json.dumps({"reason": "manual"})})["statusCode"] == 200
    times = [r["time"] for r in record()]
    assert len(times) == 2 and times[0] == when.isoformat()


_UPLOAD = StorageEvent("uploads", "in/x.csv", size=4)


def _post_json(body: object) -> dict:
    return {"method": "POST", "path": "/", "headers": [["Content-Type", "application/json"]], "body": json.dumps(body)}


@pytest.mark.parametrize("request_of,named", [
    # structured CloudEvents (application/cloudevents+json), as `portafunc events new --target gcp` prints them
    (lambda: T.encode(_UPLOAD), "CloudEvent type 'google.cloud.storage.object.v1.finalized'"),
    (lambda: T.encode(Message("q-1", b"{}")), "CloudEvent type 'google.cloud.pubsub.topic.v1.messagePublished'"),
    # a binary-mode CloudEvent (ce-type header), as Eventarc sends it
    (lambda: T.encode(_UPLOAD, "binary"), "CloudEvent type 'google.cloud.storage.object.v1.finalized'"),
    (lambda: _post_json(T.encode(Message("t-1", b""), "push")), "a Pub/Sub push message"),
    (lambda: _post_json(T.encode(_UPLOAD, "legacy")), "background event type"),
    (lambda: _post_json({"bucket": "uploads", "name": "in/x.csv", "kind": "storage#object"}),
     "a Cloud Storage object notification"),
], ids=["storage-ce", "pubsub-ce", "storage-binary", "push", "legacy", "object-data"])
def test_schedule_refuses_other_events(record, request_of, named):
    answer = T.invoke(APP, "tick", request_of())
    assert answer["statusCode"] == 400, answer
    assert dict(answer["headers"])["Content-Type"] == "application/problem+json"
    detail = json.loads(answer["body"])["detail"]
    assert named in detail and "is not a schedule tick" in detail
    assert record() == []  # the job never ran


# -- generator and trigger table -------------------------------------------------------------------------------

def test_generated_main_has_one_target_per_function():
    from portafunc_gcp.deploy.main_py import render_main

    source = render_main(APP, "recorder_app:app")
    compile(source, "main.py", "exec")
    for name in APP.functions:
        assert f"\ndef {name}(" in source
    # one HTTP target per function, event functions too (their entry reads the CloudEvent from the request), plus
    # _portafunc_http serving every route
    assert source.count("@_portafunc_ff.http") == 6 and "cloud_event" not in source
    assert source.count("_portafunc_entry.event_requests[") == 3
    assert "\ndef _portafunc_http(request):" in source


@pytest.mark.parametrize("name", ["bad-name", "class", "_portafunc_entry"])
def test_non_identifier_names_are_refused(name):
    app = App("names")
    app.http("GET", "/x", name=name)(lambda req: None)
    with pytest.raises(UnsupportedTrigger, match="Python identifier") as info:
        T.native_trigger(app.function(name))
    assert "name=" in info.value.instead


def test_trigger_table():
    rows = {spec.name: str(T.native_trigger(spec)) for spec in APP}
    assert rows["echo"].startswith("HTTP route of the app's one HTTP service")
    assert "--trigger-topic=events" in rows["on_event"] and "dead-letter after 5" in rows["on_event"]
    assert rows["work"].startswith("Pub/Sub push subscription")
    assert "*/5 * * * *" in rows["tick"] and "Cloud Scheduler" in rows["tick"]
    assert "finalized, deleted" in rows["on_upload"] and "prefix 'in/'" in rows["on_upload"]
    app = App("few")
    app.queue("q", max_attempts=3, name="few_q")(lambda msg: None)  # a push subscription: the function counts
    assert "dead-letter after 3 attempts (moved by the function" in str(T.native_trigger(app.function("few_q")))
    app.topic("t", max_attempts=3, name="few_t")(lambda msg: None)  # Eventarc: the CloudEvent does not count
    with pytest.raises(UnsupportedTrigger, match="5 to 100 delivery attempts") as info:
        T.native_trigger(app.function("few_t"))
    assert info.value.instead == "max_attempts=5" and str(info.value).endswith("; use max_attempts=5 instead")
    assert "Eventarc" in info.value.reason and "NonRetryableError" in info.value.reason


def _push(message_id: str, attempt: int) -> dict:
    """A raw push envelope, as a push subscription with a dead-letter policy POSTs it (``deliveryAttempt`` set)."""
    return {"subscription": "projects/p/subscriptions/s", "deliveryAttempt": attempt,
            "message": {"data": base64.b64encode(b'{"n": 1}').decode(), "messageId": message_id,
                        "attributes": {"k": "v"}}}


@pytest.mark.parametrize("dead_letter", [None, "jobs-failed"])
def test_a_queue_below_pubsubs_minimum_moves_a_message_failing_on_its_last_attempt(monkeypatch, dead_letter):
    """max_attempts=3: Pub/Sub's dead-letter policy takes 5 at least, so the function moves a message that fails on
    its third delivery (the push's deliveryAttempt) to its dead letter itself and acknowledges it."""
    from portafunc.messaging.memory import broker

    app = App("few")
    calls = []

    @app.queue("jobs", max_attempts=3, dead_letter=dead_letter)
    def job(msg: Message) -> None:
        calls.append(msg.delivery_attempt)
        raise RuntimeError("still down")

    if dead_letter:
        monkeypatch.setenv("PORTAFUNC_QUEUE_JOBS_FAILED", "memory://jobs-failed")
    else:
        monkeypatch.setenv("PORTAFUNC_DEADLETTER_JOB", "memory://job-dead")
    where = broker().queue("jobs-failed" if dead_letter else "job-dead")
    assert [T.invoke(app, "job", _push("m-1", attempt))["statusCode"] for attempt in (1, 2)] == [500, 500]
    assert where.receive(10) == []  # redelivered: not moved yet
    assert T.invoke(app, "job", _push("m-1", 3))["statusCode"] == 200  # acked: Pub/Sub delivers it no more
    (dead,) = where.receive(10)
    assert dead.data == b'{"n": 1}' and dead.attributes["k"] == "v"
    assert dead.attributes["portafunc_original_id"] == "m-1" and dead.attributes["portafunc_attempts"] == "3"
    assert "still down" in dead.attributes["portafunc_error"] and dead.attributes["portafunc_function"] == "job"
    assert calls == [1, 2, 3]


def test_a_message_that_cannot_be_moved_after_its_last_attempt_stays_failed(monkeypatch):
    """No dead-letter destination bound: the 500 stands, so Pub/Sub redelivers it and its own dead-letter policy (at
    5) takes it: never lost. A success on the last attempt is acked as any success."""
    app = App("few")

    @app.queue("jobs", max_attempts=2)
    def job(msg: Message) -> None:
        if msg.attributes.get("fail"):
            raise RuntimeError("down")

    monkeypatch.delenv("PORTAFUNC_DEADLETTER_JOB", raising=False)
    failing = _push("m-2", 2)
    failing["message"]["attributes"] = {"fail": "yes"}
    assert T.invoke(app, "job", failing)["statusCode"] == 500
    assert T.invoke(app, "job", _push("m-3", 2))["statusCode"] == 200


def test_a_queue_at_pubsubs_minimum_leaves_the_last_attempt_to_the_subscription(monkeypatch):
    """max_attempts=5 and above: the subscription's dead-letter policy has that number; the function answers 500."""
    from portafunc.messaging.memory import broker

    app = App("five")

    @app.queue("jobs", max_attempts=5)
    def job(msg: Message) -> None:
        raise RuntimeError("down")

    monkeypatch.setenv("PORTAFUNC_DEADLETTER_JOB", "memory://job-dead")
    assert T.invoke(app, "job", _push("m-4", 5))["statusCode"] == 500
    assert broker().queue("job-dead").receive(10) == []


def test_importing_the_entry_path_does_not_import_the_pubsub_sdk():
    code = ("import sys, portafunc_gcp.runtime, portafunc_gcp.target, portafunc_gcp.codecs;"
            "bad=[m for m in sys.modules if m.startswith(('google.cloud.pubsub', 'grpc'))]; print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]"


def test_raw_push_needs_a_valid_oidc_token_when_an_audience_is_configured(record, monkeypatch):
    """With PORTAFUNC_PUSH_AUDIENCE set, the entry verifies the push's bearer token before decoding it."""
    monkeypatch.setenv("PORTAFUNC_PUSH_AUDIENCE", "https://example.run.app/on_event")
    env = {"subscription": "projects/p/subscriptions/s",
           "message": {"data": base64.b64encode(b"x").decode(), "messageId": "p-2"}}
    assert T.invoke(APP, "on_event", env)["statusCode"] == 401
    assert record() == []  # the handler never ran


def test_a_cloudevent_body_is_parsed_once_inside_the_flask_request(record, monkeypatch):
    """functions-framework parses the CloudEvent's body itself; the entry reads the original body again only for a
    request that was converted from a raw push or legacy event (then Flask's get_json cache answers)."""
    import flask

    calls: list[bool] = []
    real_get_json = flask.Request.get_json

    def counting_get_json(self, *args, **kwargs):
        calls.append(True)
        return real_get_json(self, *args, **kwargs)

    monkeypatch.setattr(flask.Request, "get_json", counting_get_json)
    ex = T.driver().messages(APP, "on_event", [Message("ce-1", b"fine")])  # binary-mode CloudEvents, as Eventarc
    assert ex.failed_ids == [] and [r["id"] for r in record()] == ["ce-1"]
    assert calls == []


def _json_parses_of_each_body(monkeypatch, send) -> dict[str, int]:
    """``send()`` with every ``json.loads`` of the process counted by the text it parsed (Flask's get_json,
    cloudevents' unmarshaller and portafunc's codecs all end in ``json.loads``)."""
    real_loads = json.loads
    counts: dict[str, int] = {}

    def counting_loads(text, *args, **kwargs):
        key = text.decode("utf-8", "replace") if isinstance(text, (bytes, bytearray)) else str(text)
        counts[key] = counts.get(key, 0) + 1
        return real_loads(text, *args, **kwargs)

    monkeypatch.setattr(json, "loads", counting_loads)
    send()
    monkeypatch.setattr(json, "loads", real_loads)
    return counts


def _plain_function_client(tmp_path):
    """functions-framework serving a plain ``@functions_framework.cloud_event`` function that reads nothing."""
    import functions_framework

    native_main = tmp_path / "native_main.py"
    native_main.write_text("import functions_framework\n\n@functions_framework.cloud_event\n"
                           "def on_event(cloud_event):\n    return None\n", encoding="utf-8")
    return functions_framework.create_app("on_event", str(native_main), "cloudevent").test_client()


PUSH = {"subscription": "projects/p/subscriptions/s", "deliveryAttempt": 2,
        "message": {"data": base64.b64encode(b'{"total": 2}').decode(), "messageId": "once-1", "orderingKey": "k"}}


@pytest.mark.parametrize("mode", ["binary", "structured", "raw push"])
def test_the_entry_parses_no_request_body_beside_functions_framework(record, monkeypatch, tmp_path, mode):
    """Through functions-framework's real request path (its Flask app and WSGI client), the body of a Pub/Sub event
    is parsed no more often than for a plain ``@functions_framework.cloud_event`` function that reads nothing: once
    in binary mode (as Eventarc sends it), read by the entry itself; in structured mode as often as
    functions-framework's own conversion parses it; a raw push once, where functions-framework parses it twice (the
    entry decodes the envelope from Flask's one parse instead of converting it to a CloudEvent first)."""
    from portafunc_gcp import codecs
    from portafunc_gcp.harness import harness_for

    harness = harness_for(APP)
    ce = codecs.encode(Message("once-1", b'{"total": 2}', attributes={"a": "1"}), "cloudevent")
    native = {"binary": harness.binary_cloudevent(ce), "structured": ce, "raw push": PUSH}[mode]
    request = harness._as_http(native)
    body, headers = request["body"], dict(request["headers"])
    plain = _plain_function_client(tmp_path)

    def send_plain() -> None:
        assert plain.post("/", data=body, headers=headers).status_code == 200

    answers: list[dict] = []
    ours = _json_parses_of_each_body(monkeypatch, lambda: answers.append(T.invoke(APP, "on_event", native)))
    theirs = _json_parses_of_each_body(monkeypatch, send_plain)
    assert answers[0]["statusCode"] == 200 and [r["id"] for r in record()] == ["once-1"]
    if mode == "structured":
        assert ours.get(body) == theirs.get(body) >= 1, (ours, theirs)
    else:
        assert ours[body] == 1 and theirs[body] == {"binary": 1, "raw push": 2}[mode], (ours, theirs)


def test_the_entry_reads_a_published_cloudevent_as_the_general_decoder_does(monkeypatch, record):
    """Once it has seen functions-framework's CloudEvent class, the entry reads a messagePublished event's attribute
    dict and data itself and calls the direct Pub/Sub read without decode_cloudevent; on the fixture envelopes and
    every mutation of tests/gcp/test_pubsub_fast_decode.py (and sources and types of other kinds) the handler sees
    the same message, or the request is refused with the same answer, as with that lane off."""
    import copy

    from cloudevents.http import CloudEvent

    from portafunc_gcp import runtime

    from .test_pubsub_fast_decode import _cases

    app = App("lane")
    seen: list[object] = []

    @app.topic("t", name="got")
    def got(msg: Message) -> None:
        seen.append((msg.to_dict(context=True), type(msg), type(msg.native).__name__))

    runtime.register("lane-test", app)
    entry = runtime.Entry("registered:lane-test")
    base = {"specversion": "1.0", "id": "ce-id", "time": "2021-02-05T04:06:14.109Z"}
    heads = [dict(base, type=runtime.codecs.pubsub.PUBLISHED, source="//pubsub.googleapis.com/projects/p/topics/t"),
             dict(base, type=runtime.codecs.pubsub.PUBLISHED, source="other"),
             dict(base, type="google.cloud.storage.object.v1.finalized", source="//storage")]
    events = [(head, env) for head in heads for _, env in _cases()]

    def outcome(head: dict, env: object) -> object:
        try:
            entry.event("got", CloudEvent(head, copy.deepcopy(env)))
        except Exception as exc:  # noqa: BLE001 - the refusal is the outcome compared
            return type(exc).__name__, str(exc)
        return seen.pop()

    with monkeypatch.context() as off:
        off.setattr(runtime, "_plain_event", None)
        off.setattr(runtime, "_learn_event_class", lambda *args: None)
        general = [outcome(head, env) for head, env in events]
    outcome(*events[0])
    assert runtime._plain_event is CloudEvent
    decoded: list[object] = []
    real = runtime.codecs.decode_cloudevent
    monkeypatch.setattr(runtime.codecs, "decode_cloudevent", lambda *a, **k: decoded.append(a) or real(*a, **k))
    assert [outcome(head, env) for head, env in events] == general
    assert sum(isinstance(out, tuple) and len(out) == 3 for out in general) > 100
    assert entry.event_lanes["got"].__qualname__.endswith("lane") and len(entry.event_lanes) == 1  # built once
    usual = next(env for name, env in _cases() if name == "gce-structured-MessagePublishedData.json")
    decoded.clear()
    assert outcome(heads[0], usual)[0]["id"] == "message-id" and decoded == []  # the entry's own read
    # a raw push functions-framework converted: the original body is still read, inside the Flask request
    assert T.invoke(APP, "on_event", PUSH)["statusCode"] == 200 and runtime._plain_event is CloudEvent
    assert [(r["id"], r["ordering_key"], r["attempt"]) for r in record()] == [("once-1", "k", 2)]


@pytest.mark.parametrize("headers,content_type,cloudevent", [
    ({"ce-specversion": "1.0"}, "application/json", True),  # binary mode, told from the environ in the entry itself
    ({"ce-specversion": ""}, "application/json", False),  # an empty header is no CloudEvent, as before
    ({}, "application/cloudevents+json; charset=utf-8", True),  # structured mode, told by the content type
    ({}, "application/json", False),  # a raw push functions-framework converted: its body is read back
])
def test_the_entry_reads_the_pushed_body_back_only_for_a_request_that_is_no_cloudevent(headers, content_type,
                                                                                       cloudevent):
    """Inside a Flask request, a messagePublished CloudEvent takes the entry's own read when the request carried a
    CloudEvent as such (binary or structured mode); any other request's original body is read back (get_json), as
    ``_is_cloudevent_request`` tells it."""
    import flask
    from cloudevents.http import CloudEvent

    from portafunc_gcp import runtime

    app = App("telling")
    seen: list[str] = []

    @app.topic("t", name="got")
    def got(msg: Message) -> None:
        seen.append(msg.id)

    runtime.register("telling-test", app)
    entry = runtime.Entry("registered:telling-test")
    data = {"subscription": "projects/p/subscriptions/s",
            "message": {"data": base64.b64encode(b"{}").decode(), "messageId": "m-1",
                        "publishTime": "2021-02-05T04:06:14.109Z"}}
    head = {"specversion": "1.0", "id": "ce-1", "type": runtime.codecs.pubsub.PUBLISHED,
            "source": "//pubsub.googleapis.com/projects/p/topics/t"}
    web = flask.Flask(__name__)
    reads: list[bool] = []
    with web.test_request_context("/", method="POST", data=json.dumps(data), headers=headers,
                                  content_type=content_type) as ctx:
        entry.event("got", CloudEvent(dict(head), data))  # the first event teaches the entry the CloudEvent class
        assert runtime._plain_event is CloudEvent
        assert runtime._is_cloudevent_request(ctx.request) is cloudevent
        real_get_json = ctx.request.get_json
        ctx.request.get_json = lambda *a, **k: reads.append(True) or real_get_json(*a, **k)  # type: ignore[method-assign]
        entry.event("got", CloudEvent(dict(head), data))
    assert seen == ["m-1", "m-1"] and reads == ([] if cloudevent else [True])


def test_head_through_functions_framework_states_gets_content_length():
    """Served by functions-framework's Flask app: a HEAD answer (its body dropped by the pipeline) states the
    ``Content-Length`` of GET's body, not werkzeug's ``Content-Length: 0`` for the empty body it is given, which
    would tell the client GET's body is empty; so does the 404 of a function deployed on its own (the per-route
    layout), for a path outside its route. A 204 states none, on GET or HEAD."""
    from portafunc_gcp.harness import harness_for

    app = App("head")
    app.http("GET", "/hello/{name}", name="hello")(lambda req: {"hello": req.path_params["name"]})
    app.http("GET", "/none", name="none")(lambda req: None)
    client = harness_for(app).client("_portafunc_http")
    got = client.get("/hello/ada")
    assert got.status_code == 200 and got.headers["Content-Length"] == str(len(got.data)) and got.data
    head = client.head("/hello/ada")
    assert head.status_code == 200 and head.data == b"" and head.headers["Content-Length"] == str(len(got.data))
    assert head.headers["Content-Type"] == got.headers["Content-Type"]
    assert "Content-Length" not in client.head("/none").headers
    alone = harness_for(app).client("hello")
    missing, missing_head = alone.get("/elsewhere"), alone.head("/elsewhere")
    assert (missing.status_code, missing_head.status_code, missing_head.data) == (404, 404, b"")
    assert missing_head.headers["Content-Length"] == missing.headers["Content-Length"] == str(len(missing.data))
