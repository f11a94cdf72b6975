"""Event Grid topic publishing and the webhook receiver.

Event Grid has no emulator: the portafunc Topic publishes through the real ``EventGridPublisherClient`` to a recording
HTTP server on 127.0.0.1 (``?tls=0``; the SDK's key policy sends ``aeg-sas-key`` over plain HTTP too), the recorded
request is checked against the documented wire format (POST /api/events?api-version=2018-01-01, ``aeg-sas-key``,
``application/json`` array for the Event Grid schema, ``application/cloudevents-batch+json`` for CloudEvents, each
body <= 1 MB), and the recorded events are then delivered into the generated EventGridTrigger function as
``func.EventGridEvent`` / ``func.CloudEvent`` built by the worker's own converter.
"""

from __future__ import annotations

import json
import threading
import urllib.request
from wsgiref.simple_server import WSGIRequestHandler, make_server

import pytest
from azure_fixtures import load_fixture

import portafunc
from portafunc.errors import BindingError, MessagingError
from portafunc_azure.codecs import natives
from portafunc_azure.backends.eventgrid_topic import MAX_REQUEST_BYTES, split_batches
from portafunc_azure.deploy.function_app import load_function_app
from portafunc_azure.inbound.webhook import wsgi_app

KEY = "test-topic-key=="


@pytest.fixture
def topic_env(recorder, monkeypatch):
    def bind(schema: str = "eventgrid") -> None:
        from portafunc.messaging import reset

        reset()
        monkeypatch.setenv("PORTAFUNC_TOPIC_EVENTS",
                           f"eventgrid://127.0.0.1:{recorder.port}/api/events?tls=0&schema={schema}")
        monkeypatch.setenv("PORTAFUNC_EVENTGRID_KEY", KEY)

    return bind


def test_publish_eventgrid_schema_and_deliver(topic_env, recorder, azapp):
    topic_env("eventgrid")
    ids = portafunc.topic("events").publish_batch([
        portafunc.messaging.OutgoingMessage({"id": "o-1"}, {"kind": "created"}),
        portafunc.messaging.OutgoingMessage(b"\x00\x01", {}),
    ])
    (req,) = recorder.requests
    assert req["path"] == "/api/events?api-version=2018-01-01"
    assert req["headers"]["aeg-sas-key"] == KEY
    assert req["headers"]["Content-Type"].startswith("application/json")
    events = json.loads(req["body"])
    assert [e["id"] for e in events] == ids
    for e in events:
        assert {"id", "subject", "eventType", "eventTime", "data", "dataVersion"} <= set(e)
        assert "topic" not in e  # Event Grid fills it in; a wrong one is refused
    _, functions, _ = load_function_app(azapp.app)
    fn = functions["on_event"].get_user_function()
    for e in events:
        delivered = dict(e, topic="/subscriptions/s/resourceGroups/r/providers/Microsoft.EventGrid/topics/t",
                         metadataVersion="1")
        event = natives.to_func_eventgrid(delivered)
        assert type(event).__name__ == "EventGridEvent"
        fn(event)
    (_, first), (_, second) = azapp.SEEN
    assert first.json() == {"id": "o-1"} and first.attributes == {"kind": "created"} and first.id == ids[0]
    assert second.data == b"\x00\x01" and second.attributes == {}


def test_publish_cloudevents_schema_and_deliver(topic_env, recorder, azapp):
    topic_env("cloudevents")
    msg_id = portafunc.topic("events").publish({"a": "ü"}, attributes={"k": "v"})
    (req,) = recorder.requests
    assert req["headers"]["Content-Type"].startswith("application/cloudevents-batch+json")
    (event,) = json.loads(req["body"])
    assert event["specversion"] == "1.0" and event["id"] == msg_id
    assert {"source", "type", "time"} <= set(event)
    _, functions, _ = load_function_app(azapp.app)
    functions["on_event"].get_user_function()(natives.to_func_eventgrid(event))
    (_, seen), = azapp.SEEN
    assert seen.json() == {"a": "ü"} and seen.attributes == {"k": "v"}


def test_batches_split_under_one_megabyte(topic_env, recorder):
    topic_env("eventgrid")
    payload = "x" * 200_000
    ids = portafunc.topic("events").publish_batch([{"n": i, "p": payload} for i in range(12)])
    assert len(recorder.requests) >= 3
    got = []
    for req in recorder.requests:
        assert len(req["body"]) <= MAX_REQUEST_BYTES
        got += [e["id"] for e in json.loads(req["body"])]
    assert got == ids


def test_split_batches_rejects_an_oversized_event():
    with pytest.raises(MessagingError, match="at most"):
        split_batches([{"id": "big", "data": "x" * MAX_REQUEST_BYTES}])
    assert split_batches([]) == []


def test_publish_errors_are_clear(topic_env, recorder, monkeypatch):
    topic_env("eventgrid")
    recorder.status = 401
    with pytest.raises(MessagingError, match="rejected the access key"):
        portafunc.topic("events").publish({"a": 1})
    recorder.status = 404
    from portafunc.messaging import reset

    reset()
    with pytest.raises(MessagingError, match="does not exist"):
        portafunc.topic("events").publish({"a": 1})
    reset()
    monkeypatch.delenv("PORTAFUNC_EVENTGRID_KEY")
    with pytest.raises(BindingError, match="PORTAFUNC_EVENTGRID_KEY"):
        portafunc.topic("events").publish({"a": 1})
    monkeypatch.setenv("PORTAFUNC_TOPIC_EVENTS", "eventgrid://h/api/events?schema=custom")
    reset()
    with pytest.raises(BindingError, match="schema"):
        portafunc.topic("events").publish({"a": 1})


# -- webhook receiver over real HTTP --------------------------------------------------------------------------

class _Quiet(WSGIRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def webhook(azapp):
    server = make_server("127.0.0.1", 0, wsgi_app(azapp.app, {"/hooks/events": "on_event", "/hooks/blobs": "on_blob"},
                                                  secret="s3cret"), handler_class=_Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _send(url, method="POST", body=None, headers=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, dict(resp.headers.items()), resp.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers.items()), err.read()


def test_subscription_validation_handshake(webhook):
    status, _, body = _send(f"{webhook}/hooks/events?code=s3cret",
                            body=load_fixture("eventgrid-validation/docs-subscription-validation.input.json"),
                            headers={"aeg-event-type": "SubscriptionValidation",
                                     "Content-Type": "application/json"})
    assert status == 200
    assert json.loads(body) == load_fixture("eventgrid-validation/docs-subscription-validation.expected.json")


def test_cloudevents_abuse_protection_options(webhook):
    status, headers, _ = _send(f"{webhook}/hooks/events?code=s3cret", method="OPTIONS",
                               headers={"WebHook-Request-Origin": "eventgrid.azure.net"})
    assert status == 200
    assert headers["WebHook-Allowed-Origin"] == "eventgrid.azure.net"
    assert headers["WebHook-Allowed-Rate"] == "*"
    status, headers, _ = _send(f"{webhook}/hooks/events?code=s3cret", method="OPTIONS",
                               headers={"WebHook-Request-Origin": "eventemitter.example.com"})
    assert status == 403 and "WebHook-Allowed-Origin" not in headers  # an allow-list, not an echo


def test_secret_is_required(webhook):
    status, _, _ = _send(f"{webhook}/hooks/events", body=[])
    assert status == 401


def test_deliveries_run_the_pipeline(webhook, azapp):
    from portafunc.events import Message
    from portafunc.targets import get_target

    t = get_target("azure")
    events = [t.encode(Message("w1", b'{"n":1}', attributes={"a": "b"}), "eventgrid"),
              load_fixture("eventgrid/py-cs4_event_grid_event_custom_event.json")]
    status, _, _ = _send(f"{webhook}/hooks/events?code=s3cret", body=events,
                         headers={"aeg-event-type": "Notification", "aeg-delivery-count": "2"})
    assert status == 200
    assert [(m.id, m.delivery_attempt) for _, m in azapp.SEEN] == [("w1", 3),
                                                                   ("831e1650-001e-001b-66ab-eeb76e069631", 3)]
    ce = t.encode(Message("w2", b"1", attributes={"fail": "yes"}), "cloudevents")
    status, _, body = _send(f"{webhook}/hooks/events?code=s3cret", body=ce,
                            headers={"Content-Type": "application/cloudevents+json"})
    assert status == 500 and json.loads(body)["failed"] == ["w2"]
    status, _, _ = _send(f"{webhook}/hooks/blobs?code=s3cret",
                         body=load_fixture("blob/docs-eventgrid-BlobCreated.json"))
    assert status == 200  # outside the in/ prefix: acknowledged, not handled
    status, _, _ = _send(f"{webhook}/hooks/events?code=s3cret", body=[{"nope": 1}])
    assert status == 400
