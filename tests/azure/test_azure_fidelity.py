"""Fidelity of the Azure codecs on events from outside the repository.

Samples (tests/fixtures/events/MANIFEST.md): the BlobTierChanged example of the Azure docs (event-schema-blob-storage,
CloudEvents schema), the CloudEvents spec's JSON-format example with string data and extension attributes, and a
CloudEvent body the .NET Event Grid SDK recorded with the distributed-tracing extension (``traceparent``,
``tracestate``). The tier values are the ``accessTier`` / ``previousTier`` fields of the Event Grid system event
schema (StorageBlobTierChangedEventData, added to the Azure SDKs in 2024): the docs' example predates them, so the
tests set them on a copy of it. Every event also goes through the ``func.EventGridEvent`` / ``func.CloudEvent`` the
worker's own converter builds and the generated function_app.py, as the Functions host runs it.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from azure_fixtures import load_fixture

from portafunc import App, HttpRequest, Message, StorageEvent
from portafunc.targets import get_target
from portafunc_azure.codecs import natives
from portafunc_azure.deploy.function_app import load_function_app

TIER = "blob/docs-cloudevent-BlobTierChanged.json"


@pytest.fixture(scope="module")
def target():
    return get_target("azure")


def _tier_event(access: str | None, previous: str | None) -> dict[str, Any]:
    event = copy.deepcopy(load_fixture(TIER))
    if access is not None:
        event["data"]["accessTier"] = access
    if previous is not None:
        event["data"]["previousTier"] = previous
    return event


@pytest.mark.parametrize(("access", "previous", "kind"), [
    ("Archive", "Hot", "archived"),
    ("Archive", "Cool", "archived"),
    ("Hot", "Archive", "restored"),      # rehydrated: readable again
    ("Cool", "Archive", "restored"),
    ("Cold", "Archive", "restored"),
    ("Cool", "Hot", "other"),            # between online tiers: still readable, nothing neutral happened
    ("Hot", "Cool", "other"),
    ("Cold", "Hot", "other"),
    (None, None, "other"),               # the docs' example: no tier named, nothing to tell
])
def test_blob_tier_changed_is_named_by_the_new_tier(target, access, previous, kind):
    (evt,) = target.decode(_tier_event(access, previous))
    assert isinstance(evt, StorageEvent)
    assert (evt.bucket, evt.key, evt.kind) == ("testcontainer", "Auto.jpg", kind)
    assert evt.size == 105891


def test_an_archive_function_runs_only_for_blobs_moved_to_archive(target):
    """Through the generated function_app.py: a tier change to Cool is acknowledged without running the handler."""
    app = App("tiers")
    seen: list[str] = []

    @app.storage("testcontainer", events=["archived"], name="on_archive")
    def on_archive(evt: StorageEvent) -> None:
        seen.append(evt.kind)

    _, functions, rt = load_function_app(app)
    fn = functions["on_archive"].get_user_function()
    fn(natives.to_func_eventgrid(_tier_event("Cool", "Hot")))
    assert seen == [] and rt.last.failed is False
    fn(natives.to_func_eventgrid(_tier_event("Archive", "Cool")))
    assert seen == ["archived"]


def test_encoded_tier_changes_carry_the_tiers(target):
    for kind, access, previous in (("archived", "Archive", "Hot"), ("restored", "Hot", "Archive")):
        native = target.encode(StorageEvent("c", "k", kind), "cloudevents")
        assert native["type"] == "Microsoft.Storage.BlobTierChanged"
        assert (native["data"]["accessTier"], native["data"]["previousTier"]) == (access, previous)
        assert target.decode(native)[0].kind == kind


def test_cloudevent_string_data_of_a_text_type_is_the_text_itself(target):
    (msg,) = target.decode(load_fixture("eventgrid-cloudevent/ce-spec-json-format-string-data.json"))
    assert isinstance(msg, Message)
    assert msg.data == b'<much wow="xml"/>'


def test_cloudevent_extension_attributes_reach_the_message(target):
    (msg,) = target.decode(load_fixture("eventgrid-cloudevent/ce-spec-json-format-string-data.json"))
    assert msg.attributes == {"type": "com.example.someevent", "comexampleextension1": "value",
                              "comexampleothervalue": "5"}
    (traced,) = target.decode(load_fixture("eventgrid-cloudevent/net-cloudevent-traceparent.json"))
    assert traced.attributes["traceparent"] == "Sanitized" and traced.attributes["tracestate"] == "tracestate"
    assert traced.attributes["subject"] == "Subject-0"
    # no datacontenttype: the CloudEvents JSON format reads data as JSON, so the JSON string stays one
    assert traced.data == b'"hello"'


def test_the_function_app_hands_the_handler_text_and_extensions(target):
    """Through func.CloudEvent (the worker's converter) and the generated function_app.py."""
    app = App("ce")
    got: list[Message] = []

    @app.topic("events", name="on_event")
    def on_event(msg: Message) -> None:
        got.append(msg)

    _, functions, _ = load_function_app(app)
    native = load_fixture("eventgrid-cloudevent/ce-spec-json-format-string-data.json")
    functions["on_event"].get_user_function()(natives.to_func_eventgrid(native))
    (msg,) = got
    assert msg.data == b'<much wow="xml"/>' and msg.attributes["comexampleextension1"] == "value"


@pytest.mark.parametrize(("data", "attributes"), [
    (b"hello world", {}),
    (b"hello world", {"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}),
    (b'{"id":"o-1"}', {"kind": "created"}),
    (bytes(range(256)), {}),
])
def test_messages_encode_as_cloudevents_a_plain_consumer_reads(target, data, attributes):
    """Text goes as text, attributes as extension attributes, bytes as data_base64: what another CloudEvents
    consumer reads without knowing portafunc, and what decodes back to the same message."""
    msg = Message("m-1", data, attributes=dict(attributes))
    native = target.encode(msg, "cloudevents")
    for name, value in attributes.items():
        assert native[name] == value
    if data == b"hello world":
        assert native["data"] == "hello world" and native["datacontenttype"].startswith("text/plain")
    back = target.decode(native)[0]
    assert (back.data, back.attributes) == (data, attributes)


def test_the_handler_sees_the_query_string_as_sent():
    """Through func.HttpRequest (the worker's converter) and the generated function_app.py: the url the host passes
    carries the query as the client sent it (escapes and order kept)."""
    app = App("query")
    seen: list[str | None] = []

    @app.http("GET", "/q")
    def q(req: HttpRequest) -> dict:
        seen.append(req.raw_query)
        return {"ok": True}

    _, functions, _ = load_function_app(app)
    native = {"method": "GET", "url": "https://app.azurewebsites.net/q?b=%20x&a=1&a=2", "headers": {},
              "params": {"b": " x", "a": "1,2"}, "route_params": {}}
    resp = functions["q"].get_user_function()(natives.to_func_http(native))
    assert resp.status_code == 200 and seen == ["b=%20x&a=1&a=2"]


def test_the_last_outcome_of_a_successful_event_and_queue_message_reads_as_a_last_outcome():
    """The runtime keeps a success's result as it is and describes it when ``last`` is read: the same LastOutcome
    (id, outcome, not poisoned, no error) as one built per event. Successes are kept once a reader has reset the
    thread's last outcome (forget_last): the driver and these tests."""
    from portafunc import Message
    from portafunc.invoke import Outcome
    from portafunc_azure.codecs import queue as queue_codec
    from portafunc_azure.outcome import LastOutcome

    app = App("last")

    @app.topic("events", name="on_event")
    def on_event(msg: Message) -> None:
        pass

    @app.queue("work", name="work")
    def work(msg: Message) -> None:
        pass

    _, functions, rt = load_function_app(app)
    rt.forget_last()  # what a reader does first; a deployment has none, and successes are then not written
    functions["on_event"].get_user_function()(natives.to_func_eventgrid(
        {"id": "eg-1", "eventType": "orders.created", "subject": "s", "data": {"a": 1},
         "eventTime": "2024-01-01T00:00:00Z", "dataVersion": "1", "topic": "t"}))
    assert rt.last == LastOutcome("eg-1", Outcome.SUCCESS, False, None) and rt.last.failed is False
    functions["work"].get_user_function()(natives.to_func_queue(queue_codec.encode_message(Message("q-1", b"{}"))))
    assert rt.last == LastOutcome("q-1", Outcome.SUCCESS, False, None) and rt.last is rt.last
