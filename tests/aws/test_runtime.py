"""The Lambda runtime entry (``portafunc_aws.runtime``) and the Target/Driver built on it, with native events made by
this adapter's encoders and the fixture samples."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timezone

import pytest

from aws_test_support import SAMPLE_APP, load_fixture
from portafunc.errors import EventDecodeError
from portafunc.events import Headers, HttpRequest, Message, ScheduleEvent, StorageEvent
from portafunc.targets import get_target
from portafunc_aws import runtime
from portafunc_aws import outcome
from portafunc_aws.codecs import http, queue as messages, schedule, storage
from portafunc_aws.lambda_context import LambdaContext

aws = get_target("aws")


def test_handler_reads_app_and_function_from_environment(sample_app, monkeypatch):
    monkeypatch.setattr(runtime, "_handler", None)
    monkeypatch.setenv("PORTAFUNC_APP", str(SAMPLE_APP))
    monkeypatch.setenv("PORTAFUNC_FUNCTION", "item")
    native = http.encode_request(HttpRequest("GET", "/items/42", query={"a": ["1"]}), "apigw-v2")
    out = runtime.handler(native, LambdaContext())
    assert out["statusCode"] == 200 and json.loads(out["body"])["item_id"] == "42"
    first = runtime._handler
    runtime.handler(native, LambdaContext())
    assert runtime._handler is first  # loaded once per container


def test_handler_without_app_variable_says_what_to_set(monkeypatch):
    monkeypatch.setattr(runtime, "_handler", None)
    monkeypatch.delenv("PORTAFUNC_APP", raising=False)
    with pytest.raises(EventDecodeError, match="PORTAFUNC_APP"):
        runtime.handler({}, LambdaContext())


@pytest.mark.parametrize("variant", http.VARIANTS)
def test_http_through_every_front_door(sample_app, variant):
    req = HttpRequest("POST", "/items/a b", query={"q": ["x", "y"]}, body=b"hello",
                      headers=Headers([("x-multi", "1"), ("x-multi", "2"), ("cookie", "c=3")]))
    native = http.encode_request(req, variant)
    answer = runtime.bind(sample_app.app, "item")(native, LambdaContext())
    resp = http.decode_response(answer)
    body = json.loads(resp.body)
    assert resp.status == 200 and body["item_id"] == "a b"
    assert body["query"] == ({"q": ["y"]} if variant == "alb" else {"q": ["x", "y"]})  # single-value ALB: last wins
    assert body["body"] == "hello" and body["cookies"] == {"c": "3"}
    if variant in ("apigw-v1", "alb-multi"):
        assert body["x_multi"] == ["1", "2"]
    if variant in ("apigw-v2", "function-url"):
        assert answer["cookies"] == ["session=abc; Path=/; Secure; HttpOnly; SameSite=Lax", "theme=dark; Path=/; Secure; HttpOnly; SameSite=Lax"]
        assert answer["headers"]["x-repeated"] == "one,two"
    elif variant == "alb":
        assert "multiValueHeaders" not in answer and answer["statusDescription"] == "200 OK"
    else:
        assert answer["multiValueHeaders"]["X-Repeated"] == ["one", "two"]
        assert len(answer["multiValueHeaders"]["Set-Cookie"]) == 2


def test_binary_response_is_base64(sample_app):
    native = http.encode_request(HttpRequest("GET", "/binary"), "apigw-v2")
    answer = runtime.bind(sample_app.app, "binary")(native, LambdaContext())
    assert answer["isBase64Encoded"] is True
    assert http.decode_response(answer).body == b"\x89PNG\r\n\x1a\n\x00\xff"


def test_whole_app_routing_and_problem_answers(sample_app):
    handler = runtime.bind(sample_app.app)  # no function: route across the app
    missing = http.decode_response(handler(http.encode_request(HttpRequest("GET", "/nope")), None))
    assert missing.status == 404 and missing.content_type == "application/problem+json"
    wrong = http.decode_response(handler(http.encode_request(HttpRequest("DELETE", "/items/1"), "apigw-v1"), None))
    assert wrong.status == 405 and "GET" in wrong.headers["allow"]
    invalid = http.decode_response(handler(http.encode_request(
        HttpRequest("POST", "/orders", headers={"content-type": "application/json"}, body=b'{"id": 1}')), None))
    assert invalid.status == 400 and json.loads(invalid.body)["errors"]


def test_sqs_partial_batch_failure_names_only_the_failed(sample_app):
    batch = [Message(id=f"m{i}", data=json.dumps({"n": i, "fail": i == 1}).encode()) for i in range(3)]
    answer = runtime.bind(sample_app.app, "work")(messages.encode_messages(batch, "sqs"), LambdaContext())
    assert answer == {"batchItemFailures": [{"itemIdentifier": "m1"}]}
    assert [s[1]["id"] for s in sample_app.SEEN] == ["m0", "m1", "m2"]


def test_fifo_batch_stops_at_first_failure_and_returns_the_rest(sample_app):
    batch = [Message(id=f"m{i}", data=json.dumps({"fail": i == 1}).encode(), ordering_key="g") for i in range(4)]
    answer = runtime.bind(sample_app.app, "work")(messages.encode_messages(batch, "sqs-fifo"), LambdaContext())
    assert [f["itemIdentifier"] for f in answer["batchItemFailures"]] == ["m1", "m2", "m3"]
    assert [s[1]["id"] for s in sample_app.SEEN] == ["m0", "m1"]  # m2, m3 were not attempted


def test_ordered_function_on_standard_queue_keeps_order(sample_app):
    batch = [Message(id=f"m{i}", data=json.dumps({"fail": i == 0}).encode()) for i in range(2)]
    answer = runtime.bind(sample_app.app, "ordered")(messages.encode_messages(batch, "sqs"), LambdaContext())
    assert [f["itemIdentifier"] for f in answer["batchItemFailures"]] == ["m0", "m1"]


def test_undecodable_record_fails_alone(sample_app):
    batch = messages.encode_messages([Message(id="ok1", data=b"{}"), Message(id="bad", data=b"{}"),
                                      Message(id="ok2", data=b"{}")], "sqs")
    batch["Records"][1]["body"] = "***"
    batch["Records"][1]["messageAttributes"] = {"portafunc-body-encoding": {"stringValue": "base64",
                                                                            "dataType": "String"}}
    answer = runtime.bind(sample_app.app, "work")(batch, LambdaContext())
    assert answer == {"batchItemFailures": [{"itemIdentifier": "bad"}]}


def test_validation_failure_is_non_retryable_but_reported_for_the_dlq(sample_app):
    batch = [Message(id="good", data=b'{"id": "o1", "total": 1}'), Message(id="bad", data=b'{"id": "o2"}')]
    answer = runtime.bind(sample_app.app, "typed")(messages.encode_messages(batch, "sqs"), LambdaContext())
    assert answer == {"batchItemFailures": [{"itemIdentifier": "bad"}]}


def test_topic_function_over_sns_envelope_in_sqs_and_direct_sns(sample_app):
    msg = Message(id="t1", data=b'{"id": "o1"}', attributes={"kind": "created"})
    answer = runtime.bind(sample_app.app, "audit_a")(messages.encode_messages([msg], "sns-sqs"), LambdaContext())
    assert answer == {"batchItemFailures": []}
    assert sample_app.SEEN[-1][1]["attributes"] == {"kind": "created"}
    assert runtime.bind(sample_app.app, "audit_b")(messages.encode_messages([msg], "sns"), LambdaContext()) is None
    failing = Message(id="t2", data=b'{"fail": true}')
    with pytest.raises(outcome.RetryRequested, match="t2"):
        runtime.bind(sample_app.app, "audit_b")(messages.encode_messages([failing], "sns"), LambdaContext())


def test_s3_direct_via_sqs_and_via_eventbridge(sample_app):
    evt = StorageEvent(bucket="uploads-123", key="dir/a b+c.txt", kind="created", size=3)
    handler = runtime.bind(sample_app.app, "on_upload")
    assert handler(storage.encode_storage(evt, "s3"), LambdaContext()) is None
    assert handler(storage.encode_storage(evt, "eventbridge"), LambdaContext()) is None
    assert handler(storage.encode_storage(evt, "s3-sqs"), LambdaContext()) == {"batchItemFailures": []}
    assert [s[1] for s in sample_app.SEEN] == [("uploads-123", "dir/a b+c.txt", "created", 3)] * 3
    failing = storage.encode_storage(StorageEvent(bucket="b", key="fail.txt"), "s3-sqs")
    answer = handler(failing, LambdaContext())
    assert answer == {"batchItemFailures": [{"itemIdentifier": failing["Records"][0]["messageId"]}]}
    with pytest.raises(outcome.RetryRequested):
        handler(storage.encode_storage(StorageEvent(bucket="b", key="fail.txt"), "s3"), LambdaContext())


def test_schedule(sample_app):
    handler = runtime.bind(sample_app.app, "tick")
    assert handler(load_fixture("schedule/sam-ScheduledEvent.json"), LambdaContext()) is None
    assert sample_app.SEEN == [("tick", datetime(1970, 1, 1, tzinfo=timezone.utc))]
    with pytest.raises(outcome.RetryRequested):
        handler(schedule.encode_schedule(ScheduleEvent(time=datetime(1999, 1, 1, tzinfo=timezone.utc))), None)


@pytest.mark.parametrize("function, fixture", [
    ("work", "http-apigw-v2/sam-HttpApi.json"), ("item", "sqs/sam-Sqs.json"), ("tick", "s3/sam-S3Put.json"),
    ("on_upload", "schedule/sam-ScheduledEvent.json"), ("tick", "sqs/sam-Sqs.json")])
def test_event_for_the_wrong_trigger_is_a_clear_error(sample_app, function, fixture):
    with pytest.raises(EventDecodeError, match=f"function {function!r} is a"):
        runtime.bind(sample_app.app, function)(load_fixture(fixture), LambdaContext())


def test_non_http_event_without_function_is_a_clear_error(sample_app):
    with pytest.raises(EventDecodeError, match="PORTAFUNC_FUNCTION"):
        runtime.bind(sample_app.app)(load_fixture("sqs/sam-Sqs.json"), None)


def test_driver_round_trips(sample_app):
    driver = aws.driver()
    ex = driver.http(sample_app.app, HttpRequest("GET", "/items/7"))
    assert ex.response is not None and ex.response.status == 200
    ex = driver.messages(sample_app.app, "work", [Message(id="a", data=b"{}"), Message(id="b", data=b'{"fail":1}')])
    assert ex.ids == ["a", "b"] and ex.failed_ids == ["b"]
    ex = driver.messages(sample_app.app, "audit_a", [Message(id="c", data=b"{}")])
    assert ex.failed_ids == [] and "Type" in ex.native_event["Records"][0]["body"]
    ex = driver.event(sample_app.app, "on_upload", StorageEvent(bucket="b", key="fail-x", id="e1"))
    assert ex.failed_ids == ["e1"]
    ex = driver.event(sample_app.app, "tick", ScheduleEvent(time=datetime(2026, 1, 1, tzinfo=timezone.utc)))
    assert ex.failed_ids == [] and len(ex.ids) == 1


def test_target_invoke_shows_async_failures_as_lambda_does(sample_app):
    out = aws.invoke(sample_app.app, "on_upload", storage.encode_storage(StorageEvent(bucket="b", key="fail")))
    assert out["errorType"] == "RetryRequested"


def test_native_triggers(sample_app):
    app = sample_app.app
    assert "HTTP API" in str(aws.native_trigger(app.function("item")))
    assert "ReportBatchItemFailures" in str(aws.native_trigger(app.function("work")))
    assert "after 3 receives" in str(aws.native_trigger(app.function("work")))
    assert "FIFO" in str(aws.native_trigger(app.function("ordered")))
    assert "SNS" in str(aws.native_trigger(app.function("audit_a")))
    assert "s3:ObjectCreated:*" in str(aws.native_trigger(app.function("on_upload")))
    assert "cron(" in str(aws.native_trigger(app.function("tick")))


def test_http_path_does_not_import_boto3():
    code = (f"import sys, json; from portafunc_aws import runtime; from portafunc_aws.codecs import http; from portafunc.loader import load_app; "
            f"from portafunc.events import HttpRequest; app, _, _ = load_app({str(SAMPLE_APP)!r}); "
            f"out = runtime.bind(app, 'item')(http.encode_request(HttpRequest('GET', '/items/1')), None); "
            f"print(json.dumps([out['statusCode'], 'boto3' in sys.modules, 'botocore' in sys.modules]))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [200, False, False]


_INIT_PROBE = """
import json, sys
from portafunc.events import HttpRequest
from portafunc_aws import runtime
from portafunc_aws.codecs import http
from portafunc_aws.lambda_context import LambdaContext
native = http.encode_request(HttpRequest("GET", "/items/42"), "apigw-v2")
out = runtime.handler(native, LambdaContext())
print(json.dumps({"bound": getattr(runtime.handler, "__self__", None) is runtime._handler and runtime._handler is not None,
                  "status": out["statusCode"]}))
"""


@pytest.mark.parametrize("loads", [True, False])
def test_the_entry_is_the_loaded_handlers_own_call_after_lambdas_init_phase(loads, tmp_path):
    """On Lambda (the Runtime API set), the module's import loads the app and makes ``handler`` the loaded handler's
    call, which the runtime then looks up: an invocation skips the module's function and ``_from_environment``. An app
    that does not load leaves the function in place, so each invocation tries again and answers the load error."""
    import os

    env = dict(os.environ, AWS_LAMBDA_RUNTIME_API="127.0.0.1:9", PORTAFUNC_FUNCTION="item",
               PORTAFUNC_APP=str(SAMPLE_APP) if loads else str(tmp_path / "missing.py"))
    run = subprocess.run([sys.executable, "-c", _INIT_PROBE], env=env, capture_output=True, text=True, timeout=120)
    if loads:
        assert run.returncode == 0, run.stderr
        assert json.loads(run.stdout.splitlines()[-1]) == {"bound": True, "status": 200}
    else:
        assert run.returncode != 0 and "missing.py" in run.stderr
