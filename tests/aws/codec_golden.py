"""Pinned decodings of the SQS and HTTP API codecs over the fixture samples and mutations of them.

``codec_golden.json`` holds what the field-by-field decoders gave for every case before the direct ("plain") decoders
were folded into them (SQS, HTTP API) and the SNS reader got its direct reads; tests/aws/test_hot_path.py checks the
one decoder per format still gives exactly that.
Regenerate (only for a deliberate behaviour change, said in the commit): ``python tests/aws/codec_golden.py``.
"""

from __future__ import annotations

import copy
import json
import sys
from functools import partial
from pathlib import Path
from typing import Any, Callable

HERE = Path(__file__).resolve().parent
GOLDEN = HERE / "codec_golden.json"
sys.path.insert(0, str(HERE))

from aws_test_support import fixture_files, load_fixture  # noqa: E402

_DROP = object()


def _put(base: dict, path: tuple[Any, ...], value: Any) -> dict:
    r = copy.deepcopy(base)
    target = r
    for key in path[:-1]:
        target = target.setdefault(key, {})
        if not isinstance(target, dict):
            return r
    if value is _DROP:
        target.pop(path[-1], None)
    else:
        target[path[-1]] = value
    return r


def sqs_cases() -> list[dict]:
    recs = []
    for path in fixture_files():
        doc = json.loads(path.read_text())
        for rec in doc.get("Records", []) if isinstance(doc, dict) else []:
            if isinstance(rec, dict) and rec.get("eventSource") == "aws:sqs":
                recs.append(rec)
    base = load_fixture("sqs/powertools-sqsEvent.json")["Records"][0]
    for value in (_DROP, None, 5, "", "7", "²", "٣", "1" * 20, 0, False, 1.0):
        recs.append(_put(base, ("attributes", "ApproximateReceiveCount"), value))
        recs.append(_put(base, ("attributes", "SentTimestamp"), value))
    for value in (_DROP, None, 5, "g-1", ["x"]):
        recs.append(_put(base, ("attributes", "MessageGroupId"), value))
        recs.append(_put(base, ("eventSourceARN",), value))
    for value in (_DROP, None, [], "", {}, {"a": None}, {"a": {"stringValue": 5}}, {"a": {"binaryValue": "eA=="}},
                  {"a": "text"}, {"portafunc-body-encoding": {"stringValue": "base64"}},
                  {"portafunc-body-encoding": {"stringValue": "other"}}, {"a": {"stringValue": None}}):
        recs.append(_put(base, ("messageAttributes",), value))
    for value in (_DROP, None, 5, "", "lone \ud800 surrogate", '{"TopicArn": "x"}', "aGk="):
        recs.append(_put(base, ("body",), value))
    for value in (_DROP, None, 7, "m-1"):
        recs.append(_put(base, ("messageId",), value))
    for value in (_DROP, None, [], "x", {"ApproximateReceiveCount": "2"}):
        recs.append(_put(base, ("attributes",), value))
    for value in (_DROP, "aws:sns"):
        recs.append(_put(base, ("eventSource",), value))
    return recs


def sns_cases() -> list[dict]:
    base = load_fixture("sns/powertools-snsEvent.json")
    cases = [load_fixture("sns/sam-Sns.json"), base]
    for key, values in (("Message", (_DROP, None, 5, "", "lone \ud800", "aGk=")),
                        ("MessageAttributes", (_DROP, None, {}, [], {"a": None}, {"a": {"Value": 5}}, {"a": "x"},
                                               {"portafunc-body-encoding": {"Type": "String", "Value": "base64"}})),
                        ("Timestamp", (_DROP, None, 5, "", "not a time", "2019-01-02T12:45:07Z",
                                       "2019-01-02T12:45:07.123456789+02:00")),
                        ("TopicArn", (_DROP, None, 5, ["x"])), ("MessageId", (_DROP, None, 7))):
        for value in values:
            cases.append(_sns_put(base, key, value))
    return cases


def _sns_put(base: dict, key: str, value: Any) -> dict:
    event = copy.deepcopy(base)
    sns = event["Records"][0]["Sns"]
    if value is _DROP:
        sns.pop(key, None)
    else:
        sns[key] = value
    return event


def http_cases() -> list[tuple[dict, str]]:
    cases = []
    for path in fixture_files():
        if path.parent.name in ("http-apigw-v2", "http-function-url", "http-apigw-v1", "http-alb"):
            event = json.loads(path.read_text())
            from portafunc_aws.codecs import http

            cases.append((event, http.detect(event) or ""))
    base = load_fixture("http-apigw-v2/sam-HttpApi.json")
    changes = [("rawQueryString", None), ("rawQueryString", 5), ("rawQueryString", "a=1&a=2&b"),
               ("rawPath", "/a%20b/%2F"), ("rawPath", 5), ("rawPath", None), ("headers", None), ("headers", []),
               ("headers", {"x": 5}), ("headers", {"Cookie": "a=1", "x": "y"}), ("headers", {"COOKIE": "a=1"}),
               ("headers", {7: "x"}), ("cookies", []), ("cookies", "a=1"), ("cookies", ["a=1", 2]),
               ("cookies", None), ("body", None), ("body", ""), ("body", 5), ("body", "lone \ud800"),
               ("isBase64Encoded", True), ("pathParameters", None), ("pathParameters", []),
               ("pathParameters", {"id": 5}), ("requestContext", None), ("requestContext", {"http": None}),
               ("requestContext", []), ("queryStringParameters", {"q": "1"})]
    for key, value in changes:
        event = copy.deepcopy(base)
        event[key] = value
        for sub in ({}, {"sourceIp": 5}, {"sourceIp": None}, {"method": None}, {"method": 5}):
            e = copy.deepcopy(event)
            if sub and isinstance(e.get("requestContext"), dict) and isinstance(e["requestContext"].get("http"), dict):
                e["requestContext"]["http"].update(sub)
            cases.append((e, "apigw-v2"))
            if key == "rawQueryString" and value is None:
                e2 = copy.deepcopy(e)
                e2.pop("rawQueryString")
                cases.append((e2, "function-url"))
    return cases


def _outcome(fn: Callable[[], Any], describe: Callable[[Any], Any]) -> list[Any]:
    from portafunc.errors import EventDecodeError

    try:
        return ["ok", describe(fn())]
    except EventDecodeError as exc:
        assert exc.expected
        return ["error", None]
    except UnicodeError:
        return ["unicode", None]


def _message(msg: Any) -> Any:
    return [msg.to_dict(), msg.source, str(msg.published_at), msg.ordering_key, msg.delivery_attempt]


def _request(req: Any) -> Any:
    return [req.to_dict(), req.client_ip, req.path_params, req.cookies, req.raw_query]


def _messages(msgs: Any) -> Any:
    return [_message(m) for m in msgs]


def snapshot(decode_sqs: Callable[[Any, int], Any], decode_http: Callable[[Any, str], Any],
             decode_sns: Callable[[Any], Any]) -> dict[str, Any]:
    return {"sns": [_outcome(partial(decode_sns, ev), _messages) for ev in sns_cases()],
            "sqs": [_outcome(partial(decode_sqs, rec, i), _message) for i, rec in enumerate(sqs_cases())],
            "http": [_outcome(partial(decode_http, ev, variant), _request) for ev, variant in http_cases()]}


def current() -> dict[str, Any]:
    from portafunc_aws.codecs import http, queue, topic

    return json.loads(json.dumps(snapshot(queue.decode_sqs_record, lambda ev, v: http.decode_request(ev, v)[0],
                                          topic.decode_sns), default=repr))


if __name__ == "__main__":
    now = current()
    GOLDEN.write_text(json.dumps(now, default=repr, indent=1, ensure_ascii=True) + "\n", encoding="utf-8")
    print(f"{GOLDEN}: {len(now['sqs'])} SQS, {len(now['http'])} HTTP, {len(now['sns'])} SNS cases")
