"""The invocation pipeline: one path for every trigger, errors mapped in one place."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
from pydantic import BaseModel

import portafunc
from portafunc import App, HttpRequest, HttpResponse, Message, NonRetryableError, ScheduleEvent, StorageEvent
from portafunc.invoke import Outcome, handle_http, invoke_batch, invoke_event, invoke_message
from portafunc.messaging import memory, reset

JSON = {"Content-Type": "application/json"}


class Order(BaseModel):
    id: str
    total: float


@pytest.fixture
def app():
    app = App("shop")

    @app.http("POST", "/orders/{shop}")
    def create(req: HttpRequest, order: Order) -> HttpResponse:
        return HttpResponse.json({"shop": req.path_params["shop"], "id": order.id}, status=201)

    @app.http("GET", "/boom")
    def boom(req):
        raise RuntimeError("database password is hunter2")

    @app.http("GET", "/async")
    async def async_handler(req):
        return {"async": True}

    @app.http("POST", "/raw")
    def raw(req):
        return req.json()

    return app


def _problem(resp):
    assert resp.headers["content-type"] == "application/problem+json"
    return json.loads(resp.body)


def test_http_typed_body_and_path_params(app):
    resp = handle_http(app, HttpRequest("POST", "/orders/acme", body=b'{"id": "o-1", "total": 9.5}', headers=JSON))
    assert resp.status == 201 and resp.json_body() == {"shop": "acme", "id": "o-1"}


def test_validation_failure_is_400_problem_listing_fields(app):
    resp = handle_http(app, HttpRequest("POST", "/orders/acme", body=b'{"id": 5}', headers=JSON))
    assert resp.status == 400
    doc = _problem(resp)
    assert doc["status"] == 400
    assert sorted(tuple(e["loc"]) for e in doc["errors"]) == [("id",), ("total",)]


def test_malformed_json_is_400_problem(app):
    resp = handle_http(app, HttpRequest("POST", "/raw", body=b"{nope"))
    assert resp.status == 400 and "not valid JSON" in _problem(resp)["detail"]


def test_unknown_exception_is_500_without_internals(app, capsys):
    resp = handle_http(app, HttpRequest("GET", "/boom"))
    assert resp.status == 500
    doc = _problem(resp)
    assert "hunter2" not in resp.body.decode() and "RuntimeError" not in resp.body.decode()
    logged = capsys.readouterr().err
    assert doc["invocation_id"] in logged and "hunter2" in logged  # the log has what the caller must not see


def test_404_405_and_413(app, monkeypatch):
    assert handle_http(app, HttpRequest("GET", "/nothing")).status == 404
    resp = handle_http(app, HttpRequest("DELETE", "/orders/acme"))
    assert resp.status == 405 and resp.headers["allow"] == "POST"
    monkeypatch.setattr("portafunc.invoke.MAX_BODY_BYTES", 10)
    assert handle_http(app, HttpRequest("POST", "/raw", body=b"x" * 11)).status == 413


def test_async_handlers_run(app):
    assert handle_http(app, HttpRequest("GET", "/async")).json_body() == {"async": True}


def test_logs_are_json_with_invocation_and_correlation_ids(app, capsys):
    handle_http(app, HttpRequest("GET", "/boom", headers={"X-Correlation-Id": "corr-1",
                                                          "Authorization": "Bearer s3cr3t"}))
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    failure = next(line for line in lines if line["message"] == "handler failed")
    assert failure["correlation_id"] == "corr-1" and failure["invocation_id"] and failure["function"] == "boom"


def _queue_app(fail_ids=(), non_retryable_ids=()):
    app = App("q")
    seen = []

    @app.queue("orders", max_attempts=3)
    def fulfil(msg: Message[Order]) -> None:
        seen.append(msg.body)
        if msg.body.id in fail_ids:
            raise ConnectionError("downstream unavailable")
        if msg.body.id in non_retryable_ids:
            raise NonRetryableError("cannot ever work")

    return app, seen


def _msg(i, data):
    return Message(id=str(i), data=json.dumps(data).encode())


def test_batch_reports_only_failed_messages():
    app, seen = _queue_app(fail_ids={"b"})
    batch = invoke_batch(app.function("fulfil"), [
        _msg(1, {"id": "a", "total": 1}), _msg(2, {"id": "b", "total": 2}), _msg(3, {"id": "c", "total": 3})])
    assert batch.ids == ["1", "2", "3"]
    assert batch.failed_ids == ["2"]
    assert [r.outcome for r in batch.results] == [Outcome.SUCCESS, Outcome.RETRY, Outcome.SUCCESS]
    assert [o.id for o in seen] == ["a", "b", "c"] and isinstance(seen[0], Order)


def test_ordered_batch_stops_at_first_failure():
    app, seen = _queue_app(fail_ids={"b"})
    batch = invoke_batch(app.function("fulfil"), [
        _msg(1, {"id": "a", "total": 1}), _msg(2, {"id": "b", "total": 2}), _msg(3, {"id": "c", "total": 3})],
        ordered=True)
    assert batch.failed_ids == ["2", "3"]
    assert batch.results[2].outcome is Outcome.SKIPPED
    assert [o.id for o in seen] == ["a", "b"]


def test_validation_failure_without_dead_letter_is_rejected_not_retried_silently(capsys):
    app, seen = _queue_app()
    result = invoke_message(app.function("fulfil"), _msg(1, {"id": "x"}))
    assert result.outcome is Outcome.REJECTED and result.must_redeliver
    assert seen == []  # the handler never ran on an invalid payload
    assert "NON-RETRYABLE" in capsys.readouterr().err


def test_non_retryable_goes_to_dead_letter_when_bound(monkeypatch):
    memory.broker().reset()
    reset()
    monkeypatch.setenv("PORTAFUNC_DEADLETTER_FULFIL", "memory://orders-dlq")
    app, _ = _queue_app(non_retryable_ids={"bad"})
    batch = invoke_batch(app.function("fulfil"), [_msg(1, {"id": "bad", "total": 1}), _msg(2, {"id": "x"})])
    assert [r.outcome for r in batch.results] == [Outcome.DEAD_LETTERED, Outcome.DEAD_LETTERED]
    assert batch.failed_ids == []
    dlq = memory.broker().queue("orders-dlq")
    got = dlq.receive(10)
    assert [m.attributes["portafunc_original_id"] for m in got] == ["1", "2"]
    assert "cannot ever work" in got[0].attributes["portafunc_error"]
    assert json.loads(got[1].data) == {"id": "x"}



def test_a_dead_letter_keeps_its_ordering_key_and_is_moved_once(monkeypatch):
    """The dead letter is the message moved: it keeps its ordering key (a FIFO message group) and goes with its id as
    the deduplication id, so the same message handed over again is not dead-lettered twice."""
    memory.broker().reset()
    reset()
    monkeypatch.setenv("PORTAFUNC_DEADLETTER_FULFIL", "memory://orders-dlq")
    app, _ = _queue_app(non_retryable_ids={"bad"})
    msg = Message(id="m-1", data=json.dumps({"id": "bad", "total": 1}).encode(), ordering_key="shop-7")
    for _ in range(2):  # delivered again: its batch's answer was lost
        assert invoke_message(app.function("fulfil"), msg).outcome is Outcome.DEAD_LETTERED
    (dead,) = memory.broker().queue("orders-dlq").receive(10)
    assert dead.ordering_key == "shop-7" and dead.attributes["portafunc_original_id"] == "m-1"

def test_storage_and_schedule_events_report_retry_on_failure():
    app = App("e")
    calls = []

    @app.storage("uploads")
    def up(evt: StorageEvent):
        calls.append(evt.key)
        raise OSError("disk")

    @app.schedule("rate(1 hour)")
    def tick(evt: ScheduleEvent):
        calls.append(evt.time)

    assert invoke_event(app.function("up"), StorageEvent("uploads", "a b.txt")).outcome is Outcome.RETRY
    now = datetime(2026, 1, 1, tzinfo=timezone.utc)
    assert invoke_event(app.function("tick"), ScheduleEvent(now)).outcome is Outcome.SUCCESS
    assert calls == ["a b.txt", now]


def test_current_invocation_is_visible_inside_handlers():
    app = App("c")
    seen = {}

    @app.topic("t")
    def h(msg: Message):
        inv = portafunc.current_invocation()
        assert inv is not None
        seen.update(function=inv.function, trigger=inv.trigger, correlation=inv.correlation_id)

    invoke_message(app.function("h"), Message(id="m", data=b"{}", attributes={"correlation_id": "c-9"}))
    assert seen == {"function": "h", "trigger": "topic", "correlation": "c-9"}
    assert portafunc.current_invocation() is None


def test_secrets_inside_free_text_and_payloads_are_redacted_in_logs(capsys):
    app = App("r")

    @app.http("GET", "/leak")
    def leak(req):
        raise PermissionError(f"bad credentials: {req.headers['authorization']} password=hunter2")

    @app.queue("q")
    def consume(msg: Message[Order]):
        ...

    handle_http(app, HttpRequest("GET", "/leak", headers={"Authorization": "Bearer abc.def.ghi"}))
    invoke_message(app.function("consume"), Message(id="1", data=b'{"id": "x", "password": "s3cr3t"}'))
    err = capsys.readouterr().err
    assert "abc.def.ghi" not in err and "hunter2" not in err and "s3cr3t" not in err
    assert "[REDACTED]" in err


def test_lone_surrogates_in_responses_do_not_crash():
    from portafunc.events import encode_payload

    body, ctype = encode_payload({"path": "\udcff"})
    assert json.loads(body) == {"path": "\udcff"} and ctype == "application/json"
    assert encode_payload("a\udcffb")[0] == b"a?b"


def test_head_is_answered_for_get_routes_without_a_body_on_every_outcome(app):
    """HEAD: the GET response's status and headers, never a body (the same on every target)."""
    ok = handle_http(app, HttpRequest("HEAD", "/async"))
    assert ok.status == 200 and ok.body == b"" and ok.headers["content-type"] == "application/json"
    assert handle_http(app, HttpRequest("HEAD", "/nowhere")).body == b""
    refused = handle_http(app, HttpRequest("HEAD", "/raw"))
    assert refused.status == 405 and refused.body == b""
    failed = handle_http(app, HttpRequest("HEAD", "/boom"))
    assert failed.status == 500 and failed.body == b""
