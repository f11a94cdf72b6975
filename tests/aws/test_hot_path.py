"""The warm hot path keeps the careful path's semantics.

The Lambda entry decodes well-formed SQS records and HTTP API / Function URL requests on a direct path, and the core
runs batches on an inlined loop with deferred invocation contexts. These tests pin each shortcut to the slow, careful
code it short-cuts: over every real sample in tests/fixtures/events and over mutations of them, both paths give the same
neutral event or the same EventDecodeError.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from datetime import datetime, timezone

import pydantic
import pytest

from portafunc import App, Message
from portafunc.context import current
from portafunc.errors import EventDecodeError, PayloadValidationError
from portafunc.events import HttpRequest, encode_payload
from portafunc.invoke import Outcome, invoke_batch, invoke_message
from portafunc_aws.codecs import http, queue as messages
from portafunc_aws.runtime import bind

from aws_test_support import FIXTURES, fixture_files, load_fixture


def _sqs_records() -> list[dict]:
    recs = []
    for path in fixture_files():
        doc = json.loads(path.read_text())
        for rec in doc.get("Records", []) if isinstance(doc, dict) else []:
            if isinstance(rec, dict) and rec.get("eventSource") == "aws:sqs":
                recs.append(rec)
    assert len(recs) >= 4, f"expected the SQS samples under {FIXTURES}"
    return recs


def _v2_events() -> list[dict]:
    events = [json.loads(p.read_text()) for p in fixture_files()
              if p.parent.name in ("http-apigw-v2", "http-function-url")]
    assert len(events) >= 3, f"expected the HTTP API and Function URL samples under {FIXTURES}"
    return events


def _same_message(a: Message, b: Message) -> None:
    assert a.to_dict() == b.to_dict()
    assert (a.source, a.native, a.published_at, a.ordering_key) == (b.source, b.native, b.published_at,
                                                                      b.ordering_key)


def _outcome(fn, *args):
    try:
        return ("ok", fn(*args))
    except EventDecodeError as exc:
        assert exc.expected, "an EventDecodeError must say what was expected"
        return ("error", None)


# -- SQS records ---------------------------------------------------------------------------------------------------

def test_plain_sqs_path_takes_every_plain_fixture_record_and_matches_the_careful_path():
    taken = 0
    for index, rec in enumerate(_sqs_records()):
        careful = messages._careful_sqs_record(rec, index)
        plain = messages._plain_sqs_record(rec)
        if plain is not None:
            taken += 1
            _same_message(plain, careful)
        _same_message(messages.decode_sqs_record(rec, index), careful)
    assert taken >= 3  # the plain samples really take the direct path (the SNS envelope one does not)


def _mutations(rec: dict) -> list[dict]:
    out = []

    def put(path: tuple[str, ...], value):
        r = copy.deepcopy(rec)
        target = r
        for key in path[:-1]:
            target = target.setdefault(key, {})
        if value is _DROP:
            target.pop(path[-1], None)
        else:
            target[path[-1]] = value
        out.append(r)

    for value in (_DROP, None, 5, "", "7", "²", "٣", "1" * 20, 0, False, 1.0):
        put(("attributes", "ApproximateReceiveCount"), value)
        put(("attributes", "SentTimestamp"), value)
    for value in (_DROP, None, 5, "g-1", ["x"]):
        put(("attributes", "MessageGroupId"), value)
        put(("eventSourceARN",), value)
    for value in (_DROP, None, [], "", {}, {"a": None}, {"a": {"stringValue": 5}}, {"a": {"binaryValue": "eA=="}},
                  {"a": "text"}, {"portafunc-body-encoding": {"stringValue": "base64"}},
                  {"portafunc-body-encoding": {"stringValue": "other"}}):
        put(("messageAttributes",), value)
    for value in (_DROP, None, 5, "", "lone \ud800 surrogate", '{"TopicArn": "x"}', "aGk="):
        put(("body",), value)
    for value in (_DROP, None, 7, "m-1"):
        put(("messageId",), value)
    for value in (_DROP, None, [], "x", {"ApproximateReceiveCount": "2"}):
        put(("attributes",), value)
    for value in (_DROP, "aws:sns"):
        put(("eventSource",), value)
    return out


_DROP = object()


def test_plain_sqs_path_never_accepts_what_the_careful_path_would_decode_differently_or_refuse():
    rec = load_fixture("sqs/powertools-sqsEvent.json")["Records"][0]
    for mutated in _mutations(rec):
        careful = _outcome(messages._careful_sqs_record, mutated, 0)
        routed = _outcome(messages.decode_sqs_record, mutated, 0)
        assert routed[0] == careful[0], mutated
        if careful[0] == "ok":
            _same_message(routed[1], careful[1])


def test_a_plain_record_keeps_its_publish_time_exactly():
    rec = load_fixture("sqs/powertools-sqsEvent.json")["Records"][0]
    msg = messages.decode_sqs_record(rec, 0)
    assert msg.published_at == datetime.fromtimestamp(int(rec["attributes"]["SentTimestamp"]) / 1000, timezone.utc)
    assert msg.published_at is msg.published_at  # converted once
    msg.published_at = None
    assert msg.published_at is None and msg.to_dict()["published_at"] is None


# -- HTTP API / Function URL requests ----------------------------------------------------------------------------

def _same_request(a: HttpRequest, b: HttpRequest) -> None:
    assert a.to_dict() == b.to_dict()
    assert (a.client_ip, a.path_params, a.native, a.cookies) == (b.client_ip, b.path_params, b.native, b.cookies)


def test_plain_v2_path_matches_the_careful_path_on_every_fixture():
    taken = 0
    for event in _v2_events():
        variant = http.detect(event)
        careful = http._careful_request(event, variant)
        plain = http._plain_v2(event)
        if plain is not None:
            taken += 1
            _same_request(plain, careful)
        _same_request(http.decode_request(event)[0], careful)
    assert taken >= 2


def test_plain_v2_path_defers_every_odd_request_to_the_careful_path():
    base = load_fixture("http-apigw-v2/sam-HttpApi.json")
    changes = [("rawQueryString", None), ("rawQueryString", 5), ("rawQueryString", "a=1&a=2&b"),
               ("rawPath", "/a%20b/%2F"), ("rawPath", 5), ("headers", None), ("headers", []),
               ("headers", {"x": 5}), ("headers", {"Cookie": "a=1", "x": "y"}), ("headers", {"COOKIE": "a=1"}),
               ("headers", {7: "x"}), ("cookies", []), ("cookies", "a=1"), ("cookies", ["a=1", 2]),
               ("body", None), ("body", ""), ("body", 5), ("body", "lone \ud800"), ("isBase64Encoded", True),
               ("pathParameters", None), ("pathParameters", []), ("pathParameters", {"id": 5}),
               ("requestContext", None), ("requestContext", {"http": None})]
    for key, value in changes:
        event = copy.deepcopy(base)
        event[key] = value
        for sub in ({}, {"sourceIp": 5}, {"method": None}):
            if sub and isinstance(event.get("requestContext"), dict) and \
                    isinstance(event["requestContext"].get("http"), dict):
                event["requestContext"]["http"].update(sub)
            variant = "apigw-v2"
            try:
                careful = ("ok", http._careful_request(event, variant))
            except EventDecodeError:
                careful = ("error", None)
            except UnicodeError:
                careful = ("unicode", None)
            try:
                routed = ("ok", http.decode_request(event, variant)[0])
            except EventDecodeError:
                routed = ("error", None)
            except UnicodeError:
                routed = ("unicode", None)
            assert routed[0] == careful[0], (key, value, sub)
            if careful[0] == "ok":
                _same_request(routed[1], careful[1])


# -- payload JSON -------------------------------------------------------------------------------------------------

PAYLOADS = [b'{"a": 1}', b'[1, 2]', b' {"a": 1}', b'{"a": 1} ', b'{"a": 1}x', b'{"a": ', b'{', b'[', b'{}', b'[]',
            b'"text"', b'12', b'', b'\xef\xbb\xbf{"a": 1}', '{"a": "é"}'.encode("utf-16"), '[1]'.encode("utf-32-le"),
            b'{"a": "\xff"}', b'{"a": "\\ud800"}', b'{"a": NaN}', b'{"a": 1, "a": 2}', b'[' * 50 + b']' * 50]


@pytest.mark.parametrize("payload", PAYLOADS)
def test_message_json_is_json_loads(payload):
    try:
        expected = ("ok", json.loads(payload))
    except ValueError:
        expected = ("error", None)
    try:
        got = ("ok", Message("m", payload).json())
    except PayloadValidationError:
        got = ("error", None)
    assert repr(got) == repr(expected)  # repr: NaN != NaN
    try:
        got_http = ("ok", HttpRequest("POST", "/", body=payload).json())
    except Exception:  # noqa: BLE001 - BadRequest for malformed or empty bodies
        got_http = ("error", None)
    if b"NaN" in payload:  # not JSON (RFC 8259): a request body carrying it is refused
        expected = ("error", None)
    if payload:
        assert repr(got_http) == repr(expected)


def test_payload_encoding_refuses_non_finite_numbers():
    for value in ({"f": float("inf")}, [float("nan")], {"x": [{"y": -float("inf")}]}):
        with pytest.raises(ValueError):
            encode_payload(value)


@pytest.mark.parametrize("value", [{"a": 1, "b": [1.5, None, True]}, [1, "é"], {"t": datetime(2020, 1, 2, 3, 4, 5,
                                                                                              tzinfo=timezone.utc)},
                                   {"x": "\ud800"}, [], {}])
def test_payload_encoding_is_compact_json(value):
    body, ctype = encode_payload(value)
    assert ctype == "application/json"
    expected = json.dumps(value, separators=(",", ":"), ensure_ascii=False,
                          default=lambda v: v.isoformat().replace("+00:00", "Z"))
    try:
        assert body == expected.encode("utf-8")
    except UnicodeEncodeError:
        assert json.loads(body) == value  # lone surrogates travel as \u escapes


def test_payload_encoding_still_reports_cycles_and_unknown_types():
    cyclic: list = []
    cyclic.append(cyclic)
    with pytest.raises(ValueError, match="Circular"):
        encode_payload(cyclic)
    with pytest.raises(TypeError):
        encode_payload({"x": object()})


# -- the core batch loop -------------------------------------------------------------------------------------------

class Order(pydantic.BaseModel):
    id: str
    total: float


class LenientOrder(Order):
    """Overrides model_validate_json: the pipeline must call the override, not pydantic's validator directly."""

    @classmethod
    def model_validate_json(cls, json_data, **kwargs):  # type: ignore[override]
        data = json.loads(json_data)
        data.setdefault("total", 0)
        return cls.model_validate(data)


class _Ctx:
    aws_request_id = "req-123"


def _queue_app(handler) -> App:
    app = App("hot")
    app.queue("work", name="work")(handler)
    return app


def test_batch_invocations_are_request_id_and_index_and_built_only_when_asked():
    seen = []

    def work(msg: Message) -> None:
        inv = current()
        assert inv is current()  # built once per message
        seen.append((inv.invocation_id, inv.correlation_id, inv.function, inv.trigger, inv.target))
        if msg.json().get("fail"):
            raise RuntimeError("boom")

    app = _queue_app(work)
    recs = [messages.sqs_record(Message(f"m-{i}", json.dumps({"fail": i == 1}).encode(),
                                        {"correlation_id": "corr-7"} if i == 2 else {})) for i in range(3)]
    out = bind(app, "work")({"Records": recs}, _Ctx())
    assert out == {"batchItemFailures": [{"itemIdentifier": "m-1"}]}
    assert seen == [("req-123:0", "m-0", "work", "queue", "aws"), ("req-123:1", "m-1", "work", "queue", "aws"),
                    ("req-123:2", "corr-7", "work", "queue", "aws")]
    assert current() is None


def test_batch_without_an_id_shares_one_random_prefix():
    seen = []
    app = _queue_app(lambda msg: seen.append(current().invocation_id))
    invoke_batch(app.function("work"), [Message("a"), Message("b")])
    invoke_batch(app.function("work"), [Message("c")])
    prefixes = [s.rsplit(":", 1)[0] for s in seen]
    assert prefixes[0] == prefixes[1] != prefixes[2] and [s.rsplit(":", 1)[1] for s in seen] == ["0", "1", "0"]
    single = []
    app2 = _queue_app(lambda msg: single.append(current().invocation_id))
    invoke_message(app2.function("work"), Message("x"), invocation_id="given")
    assert single == ["given"]


def test_ordered_batch_from_a_generator_skips_the_rest_after_a_failure():
    calls = []

    def work(msg: Message) -> None:
        calls.append(msg.id)
        if msg.id == "2":
            raise RuntimeError("no")

    app = App("ord")
    app.queue("q", name="work", ordered=True)(work)
    batch = invoke_batch(app.function("work"), (Message(str(i)) for i in range(1, 5)))
    assert calls == ["1", "2"]
    assert [r.outcome for r in batch.results] == [Outcome.SUCCESS, Outcome.RETRY, Outcome.SKIPPED, Outcome.SKIPPED]
    assert batch.failed_ids == ["2", "3", "4"]


def test_typed_batch_rejects_a_bad_payload_and_runs_the_good_ones():
    totals = []
    app = App("typed")

    @app.queue("q", name="work")
    def work(msg: Message[Order]) -> None:
        totals.append(msg.body.total)

    batch = invoke_batch(app.function("work"), [Message("1", b'{"id": "a", "total": 2}'), Message("2", b'{"id": 1}'),
                                                Message("3", b'{"id": "c", "total": 3.5}')])
    assert totals == [2.0, 3.5]
    assert [r.outcome for r in batch.results] == [Outcome.SUCCESS, Outcome.REJECTED, Outcome.SUCCESS]
    assert "does not match Order" in batch.results[1].error


def test_the_lambda_entry_imports_no_message_or_storage_codec_for_http():
    code = ("import sys, portafunc_aws.runtime\n"
            "assert 'portafunc_aws.codecs.queue' not in sys.modules and 'portafunc_aws.codecs.storage' not in sys.modules, "
            "sorted(m for m in sys.modules if m.startswith('portafunc_aws'))\n")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_a_model_overriding_model_validate_json_is_honoured():
    totals = []
    app = App("lenient")

    @app.queue("q", name="work")
    def work(msg: Message[LenientOrder]) -> None:
        totals.append(msg.body.total)

    batch = invoke_batch(app.function("work"), [Message("1", b'{"id": "a"}'), Message("2", b'{"id": "b", "total": 4}')])
    assert batch.ok and totals == [0, 4.0]
