"""The warm hot path keeps the semantics it had when it was written as a careful path and a direct one.

The SQS record and HTTP API / Function URL decoders are one path each, pinned to codec_golden.json (the careful
path's results over every real sample in tests/fixtures/events and over mutations of them); the core runs batches on
an inlined loop with deferred invocation contexts, checked here against the single-message pipeline.
"""

from __future__ import annotations

import json
import re
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

import codec_golden
from aws_test_support import load_fixture


# -- one decoder per format, pinned ------------------------------------------------------------------------------

def test_sqs_and_http_decoders_give_the_pinned_result_for_every_sample_and_mutation():
    """The SQS record and HTTP API / Function URL decoders were each two paths (a direct one for well-formed events,
    a field-by-field one for the rest), the SNS reader one field-by-field path. Each is one path now, taking fields
    of the expected type as they are; codec_golden.json holds what the field-by-field code gave for every fixture
    sample and every mutation of a field's type or value, and the one path gives exactly that: the same neutral
    event, or the same refusal (EventDecodeError, or the UnicodeError the runtime turns into one)."""
    gold = json.loads(codec_golden.GOLDEN.read_text(encoding="utf-8"))
    now = codec_golden.current()
    assert len(now["sqs"]) == len(gold["sqs"]) >= 60 and len(now["http"]) == len(gold["http"]) >= 150
    assert len(now["sns"]) == len(gold["sns"]) >= 30
    for kind in ("sqs", "http", "sns"):
        cases = {"sqs": codec_golden.sqs_cases, "sns": codec_golden.sns_cases,
                 "http": lambda: [e for e, _ in codec_golden.http_cases()]}[kind]()
        for case, got, want in zip(cases, now[kind], gold[kind], strict=True):
            assert got == want, case
    assert sum(o == "ok" for o, _ in gold["sqs"]) >= 20 and sum(o == "error" for o, _ in gold["sqs"]) >= 10


def test_a_deferred_sqs_record_reads_as_the_full_decode_for_every_sample_and_mutation():
    """A well-formed record is decoded as its id and payload, the rest on first read; every fixture record and every
    mutation gives the same message (or the same refusal, at decode time) as the full decoder."""
    deferred = 0
    for i, rec in enumerate(codec_golden.sqs_cases()):
        want = codec_golden._outcome(lambda rec=rec, i=i: messages.decode_sqs_record_fully(rec, i), codec_golden._message)
        try:
            msg = messages.decode_sqs_record(rec, i)
        except Exception as exc:  # noqa: BLE001 - refused now, as the full decoder refuses it
            assert want[0] != "ok", (rec, exc)
            continue
        deferred += msg._rest is not None
        assert ["ok", codec_golden._message(msg)] == want, rec
    assert deferred >= 8
    plain = load_fixture("sqs/powertools-sqsEvent.json")["Records"][0]
    assert messages.decode_sqs_record(plain, 0)._rest is not None  # the usual record is the deferred one


@pytest.mark.parametrize("change", [
    {}, {"attributes.ApproximateReceiveCount": "3"}, {"attributes.ApproximateReceiveCount": "12"},
    {"attributes.SentTimestamp": ""}, {"attributes.SentTimestamp": "soon"}, {"attributes.MessageGroupId": "g-1"},
    {"messageAttributes": {}}, {"messageAttributes": {"b": {"binaryValue": "AAE=", "dataType": "Binary"}}},
    {"messageAttributes": {"n": {"dataType": "String"}}}, {"messageAttributes": {"n": {"stringValue": 5}}},
    {"messageAttributes": {"n": {"stringValue": None, "binaryValue": 7}}}, {"messageAttributes": {3: {}}},
    {"body": '{"TopicArn": "not an envelope"}'},
])
def test_a_deferred_record_reads_its_other_fields_as_the_full_decoder(change):
    """The fields a deferred record reads on first access (and on every failure, whose line names the attempt) are
    taken from the record directly; each equals what the full decoder gives, including the values it converts."""
    rec = json.loads(json.dumps(load_fixture("sqs/powertools-sqsEvent.json")["Records"][0]))
    for key, value in change.items():
        head, _, field = key.partition(".")
        if field:
            rec[head][field] = value
        else:
            rec[head] = value
    msg = messages.decode_sqs_record(rec, 0)
    assert msg._rest is not None
    full = messages.decode_sqs_record_fully(rec, 0)
    assert (msg.attributes, msg.ordering_key, msg.delivery_attempt, msg.published_at, msg.source) == \
        (full.attributes, full.ordering_key, full.delivery_attempt, full.published_at, full.source)
    assert msg.attributes.__class__ is dict and msg.delivery_attempt.__class__ is int


def _envelope_cases() -> list[dict]:
    base = load_fixture("sqs/powertools-snsSqsEvent.json")["Records"][0]
    cases = [base]
    for key, values in (("Message", (None, 5, "", "lone \ud800", '{"a": 1}')),
                        ("MessageAttributes", (None, {}, [], "x", {"a": {"Type": "String", "Value": "v"}},
                                               {"portafunc-body-encoding": {"Type": "String", "Value": "base64"}})),
                        ("Timestamp", (None, 5, "", "not a time", "2019-01-02T12:45:07Z", "2019-13-02T12:45:07.123Z",
                                       "2019-01-02T12:45:07.123456789+02:00")),
                        ("TopicArn", (None, 5, ["x"])), ("Type", ("SubscriptionConfirmation",))):
        for value in (codec_golden._DROP, *values):
            envelope = json.loads(base["body"])
            if value is codec_golden._DROP:
                envelope.pop(key, None)
            else:
                envelope[key] = value
            cases.append(dict(base, body=json.dumps(envelope)))
    cases.append(dict(base, body=base["body"] + " x"))  # not JSON any more
    cases.append(dict(base, messageAttributes={"a": {"stringValue": "r", "dataType": "String"}}))
    return cases


def test_a_deferred_sns_envelope_in_sqs_reads_as_the_full_decode_for_every_mutation():
    """An SNS envelope in an SQS body is parsed once, its message taken as the payload and the rest decoded on first
    read; every mutation of the envelope gives the same message, or the same refusal at decode time, as the full
    decoder, and the usual envelope is deferred."""
    deferred = 0
    for rec in _envelope_cases():
        want = codec_golden._outcome(lambda rec=rec: messages.decode_sqs_record_fully(rec, 3), codec_golden._message)
        try:
            msg = messages.decode_sqs_record(rec, 3)
        except Exception as exc:  # noqa: BLE001 - refused now, by the full decoder
            assert want[0] != "ok", (rec, exc)
            with pytest.raises(type(exc)) as again:
                messages.decode_sqs_record_fully(rec, 3)
            assert str(again.value) == str(exc)
            continue
        deferred += msg._rest is not None
        assert ["ok", codec_golden._message(msg)] == want, rec
        assert msg.data == messages.decode_sqs_record_fully(rec, 3).data
    assert deferred >= 8
    assert messages.decode_sqs_record(_envelope_cases()[0], 0)._rest is not None


def test_a_record_keeps_the_event_it_came_from():
    rec = load_fixture("sqs/powertools-sqsEvent.json")["Records"][0]
    assert messages.decode_sqs_record(rec, 0).native is rec
    event = load_fixture("http-apigw-v2/sam-HttpApi.json")
    assert http.decode_request(event)[0].native is event


def test_a_plain_record_keeps_its_publish_time_exactly():
    rec = load_fixture("sqs/powertools-sqsEvent.json")["Records"][0]
    msg = messages.decode_sqs_record(rec, 0)
    assert msg.published_at == datetime.fromtimestamp(int(rec["attributes"]["SentTimestamp"]) / 1000, timezone.utc)
    assert msg.published_at is msg.published_at  # converted once
    msg.published_at = None
    assert msg.published_at is None and msg.to_dict()["published_at"] is None


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
        assert inv is not None and inv is current()  # built once per message
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


def test_a_direct_sns_message_runs_as_the_lambda_request():
    """Lambda hands a subscribed function one SNS record; it runs as invocation ``aws_request_id`` (as an HTTP request
    does), and a failure still asks Lambda to retry the event."""
    from portafunc_aws.codecs.topic import encode_sns
    from portafunc_aws.outcome import RetryRequested

    seen = []
    app = App("sns-direct")

    @app.topic("events")
    def on_event(msg: Message) -> None:
        inv = current()
        assert inv is not None
        seen.append((inv.invocation_id, inv.correlation_id))
        if msg.json().get("fail"):
            raise RuntimeError("boom")

    handler = bind(app, "on_event")
    assert handler(encode_sns([Message("s-1", b'{"fail": false}')]), _Ctx()) is None
    with pytest.raises(RetryRequested):
        handler(encode_sns([Message("s-2", b'{"fail": true}')]), _Ctx())
    assert seen == [("req-123", "s-1"), ("req-123", "s-2")]
    two = encode_sns([Message("s-3", b"{}"), Message("s-4", b"{}")])  # never sent by Lambda: one id each
    handler(two, _Ctx())
    assert len({inv for inv, _ in seen[2:]}) == 2 and "req-123" not in {inv for inv, _ in seen[2:]}


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


def test_a_direct_sns_record_decodes_as_the_general_reader_for_every_sample_and_mutation(monkeypatch):
    """One SNS record without message attributes is read at once; every sample and mutation, with its attributes
    as they are and emptied, gives the same messages (or the same refusal) as the field-by-field reader, which a
    read-only view of the event takes."""
    from types import MappingProxyType

    from portafunc_aws.codecs import topic

    fast = 0
    for case in codec_golden.sns_cases():
        emptied = codec_golden._sns_put(case, "MessageAttributes", {})
        for event in (case, emptied):
            want = codec_golden._outcome(lambda event=event: topic.decode_sns(MappingProxyType(event)),
                                         codec_golden._messages)
            got = codec_golden._outcome(lambda event=event: topic.decode_sns(event), codec_golden._messages)
            assert got == want, event
            if want[0] == "ok":
                msg = topic.decode_sns(event)[0]
                assert msg.native is event["Records"][0] and msg.attributes == want[1][0][0]["attributes"]
            fast += event is emptied and want[0] == "ok"
    assert fast >= 20
    general = []
    monkeypatch.setattr(topic, "is_sns", lambda native: general.append(native) or True)
    base = codec_golden._sns_put(codec_golden.sns_cases()[1], "MessageAttributes", {})
    assert topic.decode_sns(base)[0].id == base["Records"][0]["Sns"]["MessageId"] and general == []


def _envelope_by_json_loads(body):
    """What sns_envelope answers, written plainly: json.loads, then the fields SNS writes."""
    if '"TopicArn"' not in body or '"Notification"' not in body:
        return None
    try:
        doc = json.loads(body)
    except (ValueError, RecursionError):
        return None
    if isinstance(doc, dict) and doc.get("Type") == "Notification" and "TopicArn" in doc and "Message" in doc:
        return doc
    return None


_ENVELOPE = json.dumps({"Type": "Notification", "MessageId": "m", "TopicArn": "arn:aws:sns:us-east-1:1:t",
                        "Message": '{"total": 1}', "Timestamp": "2024-01-01T00:00:00.000Z"})


@pytest.mark.parametrize("body", [
    _ENVELOPE, _ENVELOPE + " \n\t\r", _ENVELOPE + " x", _ENVELOPE + "}", "  " + _ENVELOPE, "\ufeff" + _ENVELOPE,
    _ENVELOPE[:-1], _ENVELOPE.replace('"Notification"', '"Notification", "Type": "Other"'),
    _ENVELOPE.replace('"Message"', '"Msg"'), "[" + _ENVELOPE + "]", '"TopicArn" "Notification"',
    _ENVELOPE.replace('"total": 1', '"total": NaN'), _ENVELOPE + _ENVELOPE, _ENVELOPE + "\u00a0",
    _ENVELOPE.replace('{"total": 1}', "[" * 100000 + "]" * 100000),
    '{"Type": "Notification", "TopicArn": "t", "Message": "' + "[" * 100000 + '"}',
    '{"Type": "Notification", "TopicArn": "t", "Message": 1, "x": ' + "[" * 100000 + "]" * 100000 + "}",
])
def test_sns_envelope_answers_as_json_loads_would(body):
    from portafunc_aws.codecs.topic import sns_envelope

    assert sns_envelope(body) == _envelope_by_json_loads(body)


# -- the SQS lane's shortcuts read as the general path -----------------------------------------------------------

@pytest.mark.parametrize("group", [codec_golden._DROP, "g-1", "", None, 5, ["g"]])
def test_an_sqs_record_with_any_message_group_decodes_as_the_full_decoder(group):
    """The lane tests the message group by key and type: absent or text is deferred, anything else is decoded in
    full; both read as the full decoder does."""
    rec = json.loads(json.dumps(load_fixture("sqs/powertools-sqsEvent.json")["Records"][0]))
    if group is not codec_golden._DROP:
        rec["attributes"]["MessageGroupId"] = group
    try:
        want = messages.decode_sqs_record_fully(rec, 0)
    except EventDecodeError as exc:
        with pytest.raises(EventDecodeError, match=re.escape(str(exc))):
            messages.decode_sqs_record(rec, 0)
        return
    msg = messages.decode_sqs_record(rec, 0)
    assert (msg._rest is not None) == (group is codec_golden._DROP or isinstance(group, str))
    assert codec_golden._message(msg) == codec_golden._message(want)
    assert msg.ordering_key == want.ordering_key


def test_an_ascii_sqs_record_is_the_message_deferred_text_makes():
    """The lane builds the text message without Message.deferred_text's frame: every slot as that method sets it."""
    rec = load_fixture("sqs/powertools-sqsEvent.json")["Records"][0]
    made = messages.decode_sqs_record(rec, 0)
    want = Message.deferred_text(rec["messageId"], rec["body"], rec, messages._rest_of_record)
    assert type(made) is type(want)
    slots = [s for c in type(want).__mro__ for s in getattr(c, "__slots__", ())]
    assert {s: getattr(made, s) for s in slots if s != "data"} == {s: getattr(want, s) for s in slots if s != "data"}
    assert made._text == rec["body"] and made.data == rec["body"].encode()


@pytest.mark.parametrize("arn, bodies, want", [
    ("arn:aws:sqs:us-east-1:1:q", ['{"n": 1}', '{"n": 2}'], []),
    ("arn:aws:sqs:us-east-1:1:q", ['{"n": 1}', "fail", '{"n": 3}'], ["m1"]),
    ("arn:aws:sqs:us-east-1:1:q.fifo", ['{"n": 1}', '{"n": 2}'], []),
    ("arn:aws:sqs:us-east-1:1:q.fifo", ['{"n": 1}', "fail", '{"n": 3}'], ["m1", "m2"]),
])
def test_the_sqs_answer_names_exactly_the_failed_records(arn, bodies, want):
    """Both lanes (the inlined loop, and the ordered one of a FIFO queue) answer an empty list when nothing failed,
    else the failed ids in batch order (a FIFO queue's: the failed one and every later one)."""
    app = App("answer")

    @app.queue("q", name="work")
    def work(msg: Message) -> None:
        if msg.text == "fail":
            raise RuntimeError("no")

    rec = load_fixture("sqs/powertools-sqsEvent.json")["Records"][0]
    recs = [dict(rec, messageId=f"m{i}", body=body, eventSourceARN=arn) for i, body in enumerate(bodies)]
    answer = bind(app, "work")({"Records": recs}, None)
    assert answer == {"batchItemFailures": [{"itemIdentifier": i} for i in want]}
