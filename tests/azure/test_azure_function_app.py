"""The generated function_app.py: it indexes cleanly (app.get_functions()), carries the right bindings, and each
function runs with the azure.functions objects the worker builds (made by the library's own converters)."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from portafunc.errors import UnsupportedTrigger
from portafunc.events import HttpRequest, Message, ScheduleEvent, StorageEvent
from portafunc.targets import get_target
from portafunc_azure.codecs import natives
from portafunc_azure.deploy.function_app import generate_function_app, load_function_app


@pytest.fixture
def loaded(azapp):
    fapp, functions, rt = load_function_app(azapp.app)
    return azapp, functions, rt


def _bindings(fn):
    return [json.loads(b) for b in fn.get_raw_bindings()]


def test_every_function_indexed_with_expected_bindings(loaded):
    azapp, functions, _ = loaded
    # every portafunc function, and the catch-all that answers what no route matches (404/405)
    assert sorted(functions) == sorted([spec.name for spec in azapp.app] + ["zz_portafunc_unmatched"])
    assert _bindings(functions["zz_portafunc_unmatched"])[0]["route"] == "{*portafunc_unmatched_path}"
    http = _bindings(functions["echo"])
    assert http[0] == {"direction": "IN", "type": "httpTrigger", "name": "req", "methods": ["GET", "POST", "HEAD"],
                       "authLevel": "ANONYMOUS", "route": "echo/{name}"}
    assert http[1] == {"direction": "OUT", "type": "http", "name": "$return"}
    files = _bindings(functions["files"])[0]
    assert files["route"] == "files/{*path}" and files["authLevel"] == "FUNCTION"
    assert _bindings(functions["work"]) == [{"direction": "IN", "type": "queueTrigger", "name": "msg",
                                             "queueName": "work", "connection": "AzureWebJobsStorage"}]
    assert _bindings(functions["on_event"]) == [{"direction": "IN", "type": "eventGridTrigger", "name": "event"}]
    assert _bindings(functions["on_blob"]) == [{"direction": "IN", "type": "eventGridTrigger", "name": "event"}]
    timer = _bindings(functions["weekly"])[0]
    assert timer["type"] == "timerTrigger" and timer["schedule"] == "0 30 2 * * 1"
    for fn in functions.values():  # the worker binds arguments by name: each trigger's name is a parameter
        params = fn.get_user_function().__code__.co_varnames[:1]
        assert _bindings(fn)[0]["name"] == params[0]


def test_generated_source_is_small_and_readable(azapp):
    source = generate_function_app(azapp.app, "azapp:app")
    assert 'APP_REF = "azapp:app"' in source
    assert source.count("@app.function_name(") == len(azapp.app.functions) + 1  # + the catch-all (404/405)
    assert len(source.splitlines()) < 20 + 6 * (len(azapp.app.functions) + 1)
    compile(source, "function_app.py", "exec")


def test_ordered_queue_and_metadata_events_are_refused():
    from portafunc import App

    app = App("bad")

    @app.queue("q", ordered=True)
    def fifo(msg):
        pass

    with pytest.raises(UnsupportedTrigger, match="ordered"):
        generate_function_app(app, "x:app")
    app2 = App("bad2")

    @app2.storage("b", events=["metadata_updated"])
    def meta(evt):
        pass

    with pytest.raises(UnsupportedTrigger) as info:
        get_target("azure").native_trigger(app2.function("meta"))
    assert info.value.instead and info.value.target == "azure"


def test_a_queue_whose_poison_queue_name_would_exceed_63_characters_is_refused():
    """The host's poison queue is ``<queue>-poison``: a Storage queue name (at most 63 characters) leaves 56 for the
    queue itself, counted after the name is cleaned for Azure."""
    from portafunc import App

    app = App("names")
    app.queue("Q" * 60, name="too_long")(lambda msg: None)
    app.queue("Q" * 30 + "_.._" + "Q" * 25, name="fits")(lambda msg: None)  # 59 characters, 56 once cleaned
    target = get_target("azure")
    with pytest.raises(UnsupportedTrigger) as info:
        target.native_trigger(app.function("too_long"))
    assert info.value.target == "azure" and "q" * 60 + "-poison" in info.value.reason and "63" in info.value.reason
    assert "56" in info.value.instead
    with pytest.raises(UnsupportedTrigger, match="63"):
        generate_function_app(app, "x:app")
    assert f"poison queue {'q' * 30}-{'q' * 25}-poison " in str(target.native_trigger(app.function("fits")))


def test_http_function_with_func_types(loaded):
    azapp, functions, _ = loaded
    req = HttpRequest("POST", "/echo/wörld", query={"a": ["1", "2"]}, body=b"\x00\xffdata",
                      headers=[("x-r", "1"), ("x-r", "2"), ("cookie", "s=1")], path_params={"name": "wörld"})
    native = get_target("azure").encode(req)
    resp = functions["echo"].get_user_function()(natives.to_func_http(native))
    assert type(resp).__name__ == "HttpResponse" and resp.status_code == 200
    body = json.loads(resp.get_body())
    assert body["path"] == "/echo/wörld" and body["params"] == {"name": "wörld"}
    assert body["query"] == {"a": ["1", "2"]} and body["body_hex"] == "00ff64617461"
    assert body["headers"]["x-r"] == ["1,2"] and body["cookies"] == {"s": "1"}
    sent = natives.response_datum_to_json(resp)  # what the worker sends the host
    assert sent["headers"]["x-multi"] == "one, two"
    assert [c.split(";")[0] for c in sent["cookies"]] == ["a=1", "b=2"]


def sent_content_type(resp):
    """The Content-Type the worker sends the host (a lone content type travels as the response's mimetype)."""
    return natives.response_datum_to_json(resp)["headers"]["content-type"]


def test_http_binary_response_and_greedy_route(loaded):
    _, functions, _ = loaded
    native = get_target("azure").encode(HttpRequest("GET", "/files/a/b.bin", path_params={"path": "a/b.bin"}))
    resp = functions["files"].get_user_function()(natives.to_func_http(native))
    assert resp.get_body() == bytes(range(256)) + b"a/b.bin"
    assert sent_content_type(resp) == "application/octet-stream"


def test_http_validation_failure_is_400(loaded):
    _, functions, _ = loaded
    native = get_target("azure").encode(HttpRequest("POST", "/orders", body=b'{"id": 1}',
                                                    headers={"content-type": "application/json"}))
    resp = functions["create"].get_user_function()(natives.to_func_http(native))
    assert resp.status_code == 400 and sent_content_type(resp) == "application/problem+json"


def test_a_typed_body_sent_as_text_is_415(loaded):
    _, functions, _ = loaded
    native = get_target("azure").encode(HttpRequest("POST", "/orders", body=b'{"id": "o-1", "total": 1}',
                                                    headers={"Content-Type": "text/plain"}))
    resp = functions["create"].get_user_function()(natives.to_func_http(native))
    assert resp.status_code == 415 and sent_content_type(resp) == "application/problem+json"


def test_queue_function_with_func_types(loaded, monkeypatch):
    azapp, functions, rt = loaded
    monkeypatch.delenv("AzureWebJobsStorage", raising=False)
    target = get_target("azure")
    fn = functions["work"].get_user_function()
    ok = target.encode(Message("q-1", b'{"id":"o","total":1}', attributes={"shop": "acme"}, delivery_attempt=2),
                       "queue")
    assert fn(natives.to_func_queue(ok)) is None
    (name, seen), = azapp.SEEN
    assert seen.attributes == {"shop": "acme"} and seen.delivery_attempt == 2 and seen.body.id == "o"
    failing = target.encode(Message("q-2", b'{"id":"o","total":1}', attributes={"fail": "yes"}), "queue")
    with pytest.raises(Exception, match="will be retried"):
        fn(natives.to_func_queue(failing))
    assert rt.last.failed and not rt.last.poisoned


def test_event_grid_function_both_schemas(loaded):
    azapp, functions, _ = loaded
    fn = functions["on_event"].get_user_function()
    msg = Message("e-1", b'{"x":1}', attributes={"kind": "created"})
    for schema in ("eventgrid", "cloudevents"):
        event = natives.to_func_eventgrid(get_target("azure").encode(msg, schema))
        fn(event)
    assert [m.attributes for _, m in azapp.SEEN] == [{"kind": "created"}] * 2
    assert all(m.json() == {"x": 1} for _, m in azapp.SEEN)
    with pytest.raises(Exception, match="Event Grid will retry"):
        fn(natives.to_func_eventgrid(get_target("azure").encode(Message("e-2", b"1", attributes={"fail": "yes"}), "eventgrid")))


def test_blob_function_filters_and_retries(loaded):
    azapp, functions, _ = loaded
    fn = functions["on_blob"].get_user_function()
    t = get_target("azure")
    fn(natives.to_func_eventgrid(t.encode(StorageEvent("uploads", "in/a.txt", size=3))))
    fn(natives.to_func_eventgrid(t.encode(StorageEvent("uploads", "out/skip.txt", size=3))))  # prefix filter
    fn(natives.to_func_eventgrid(t.encode(StorageEvent("uploads", "in/gone.txt", kind="deleted"), "cloudevents")))
    assert [(e.key, e.kind) for _, e in azapp.SEEN] == [("in/a.txt", "created"), ("in/gone.txt", "deleted")]
    with pytest.raises(Exception, match="retry"):
        fn(natives.to_func_eventgrid(t.encode(StorageEvent("uploads", "in/x.boom"))))


def test_timer_function(loaded):
    azapp, functions, _ = loaded
    when = datetime(2026, 3, 2, 2, 30, tzinfo=timezone.utc)
    timer = natives.to_func_timer(get_target("azure").encode(ScheduleEvent(when, past_due=True)))
    assert timer.past_due is True
    functions["weekly"].get_user_function()(timer)
    (_, evt), = azapp.SEEN
    assert evt.time == when and evt.past_due is True


def test_driver_contract(azapp):
    d = get_target("azure").driver()
    ex = d.http(azapp.app, HttpRequest("GET", "/echo/x"))
    assert ex.response.status == 200 and ex.native_response["status_code"] == 200
    assert d.http(azapp.app, HttpRequest("GET", "/nowhere")).response.status == 404
    ex = d.messages(azapp.app, "work", [Message("a", b'{"id":"a","total":1}'), Message("b", b'{"id":"b"}'),
                                         Message("c", b'{"id":"c","total":1}', attributes={"fail": "yes"})])
    assert ex.ids == ["a", "b", "c"] and ex.failed_ids == ["b", "c"]
    ex = d.event(azapp.app, "on_blob", StorageEvent("uploads", "in/x.boom", id="blob-1"))
    assert ex.failed_ids == ["blob-1"]
    ex = d.event(azapp.app, "weekly", ScheduleEvent(datetime(2026, 1, 5, 2, 30, tzinfo=timezone.utc)))
    assert ex.failed_ids == [] and len(ex.ids) == 1


@pytest.mark.parametrize(("kind", "first", "second"), [
    ("queue", "q" * 63 + "-a", "q" * 63 + "-b"),  # cut to the same 63 characters
    ("queue", "orders--eu", "orders-eu"),  # runs of '-' folded alike
    ("bucket", "b" * 63 + "1", "b" * 63 + "2"),
])
def test_two_names_azure_would_merge_are_refused(kind: str, first: str, second: str) -> None:
    """Storage cleans and cuts names: two logical names that would become one Azure queue (or container) would share
    it silently; inspect and package refuse them, naming both."""
    import portafunc
    from portafunc import App
    from portafunc.packaging.inspection import target_problems

    app = App("merge")
    uses = [portafunc.sends(first), portafunc.sends(second)] if kind == "queue" else \
        [portafunc.writes(bucket=first), portafunc.writes(bucket=second)]
    app.http("POST", "/x", uses=uses, name="send")(lambda req: None)
    problems = target_problems(get_target("azure"), app.resources())
    assert any(repr(first) in p and repr(second) in p for p in problems), problems
