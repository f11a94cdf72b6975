"""Codec tests: every AWS fixture sample decodes, the decoded values match what the sample says, and the HTTP
variants, messages and storage events survive edge cases (binary, unicode, repeated values, cookies, encodings)."""

from __future__ import annotations

import base64
import json
from datetime import datetime, timezone

import pytest

from portafunc.errors import EventDecodeError
from portafunc.events import Headers, HttpRequest, HttpResponse, Message, ScheduleEvent, StorageEvent
from portafunc.targets import get_target
from portafunc_aws.codecs import http, queue as messages, storage
from portafunc_aws.outcome import encode_response

from aws_test_support import fixture_files, load_fixture

aws = get_target("aws")


@pytest.mark.parametrize("path", fixture_files(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_fixture_decodes_to_neutral_events(path):
    native = json.loads(path.read_text())
    events = aws.decode(native)
    assert events
    n_records = len(native.get("Records", [None]))
    assert len(events) == n_records
    for event in events:
        data = event.to_dict()
        assert data["kind"] in ("http", "message", "storage", "schedule")
        json.dumps(data)  # the public JSON form is JSON
        assert event.native is not None


def test_apigw_v1_multi_values_win_over_single_values():
    req = aws.decode(load_fixture("http-apigw-v1/powertools-apiGatewayProxyEvent.json"))[0]
    assert req.query == {"parameter1": ["value1", "value2"], "parameter2": ["value"]}
    assert req.headers.get_all("header2") == ["value1", "value2"]
    assert req.body == b"Hello from Lambda!" and req.client_ip == "192.168.0.1/32"


def test_apigw_v1_base64_body_and_stage():
    native = load_fixture("http-apigw-v1/sam-AwsProxy.json")
    req = aws.decode(native)[0]
    assert req.method == "POST" and req.path == "/path/to/resource"  # without the /prod stage prefix
    assert req.body == b'{"test":"body"}'


def test_apigw_v2_raw_query_cookies_and_joined_headers():
    req = aws.decode(load_fixture("http-apigw-v2/sam-HttpApi.json"))[0]
    assert req.query == {"parameter1": ["value1", "value2"], "parameter2": ["value"]}
    assert req.headers.get_all("cookie") == ["cookie1; cookie2"]
    assert req.headers.get_all("header2") == ["value1,value2"]  # HTTP API joins repeated headers
    assert req.body == b'{"test":"body"}'


def test_function_url_without_body():
    native = load_fixture("http-function-url/powertools-lambdaFunctionUrlEvent.json")
    assert http.detect(native) == "function-url"
    req = aws.decode(native)[0]
    assert req.method == "GET" and req.path == "/" and req.body == b"" and req.query == {}


def test_alb_modes_detected_and_decoded():
    single = load_fixture("http-alb/sam-ALBRequest.json")
    multi = load_fixture("http-alb/powertools-albMultiValueHeadersEvent.json")
    assert http.detect(single) == "alb" and http.detect(multi) == "alb-multi"
    assert aws.decode(single)[0].query == {"query": ["1234ABCD"]}
    assert aws.decode(multi)[0].headers.get_all("user-agent") == ["curl/7.79.1"]


def test_alb_query_values_are_url_decoded():
    native = load_fixture("http-alb/powertools-albMultiValueHeadersEvent.json")
    native["multiValueQueryStringParameters"] = {"q": ["caf%C3%A9+au+lait", "a%2Bb"], "name%20x": ["1"]}
    req = aws.decode(native)[0]
    assert req.query == {"q": ["café au lait", "a+b"], "name x": ["1"]}


def test_sqs_batch_attributes_and_attempts():
    msgs = aws.decode(load_fixture("sqs/powertools-sqsEvent.json"))
    assert [m.id for m in msgs] == ["059f36b4-87a3-44ab-83d2-661975830a7d", "2e1424d4-f796-459a-8184-9c92662be6da"]
    assert msgs[0].data == b"Test message." and msgs[0].attributes == {"testAttr": "100"}
    assert msgs[0].published_at == datetime(2018, 12, 17, 21, 37, 29, 183000, tzinfo=timezone.utc)
    assert msgs[1].json() == {"message": "foo1"}


def test_sns_envelope_inside_sqs_is_unwrapped():
    msg = aws.decode(load_fixture("sqs/powertools-snsSqsEvent.json"))[0]
    assert msg.id == "79406a00-bf15-46ca-978c-22c3613fcb30"  # the SQS id: what batchItemFailures names
    assert msg.json() == {"message": "hello world", "username": "lessa"}
    assert msg.source == "arn:aws:sns:eu-west-1:231436140809:powertools265"
    assert msg.published_at == datetime(2021, 1, 19, 10, 7, 7, 287000, tzinfo=timezone.utc)


def test_sns_direct_attributes():
    msg = aws.decode(load_fixture("sns/powertools-snsEvent.json"))[0]
    assert msg.data == b"Hello from SNS!" and msg.attributes == {"Test": "TestString", "TestBinary": "TestBinary"}


def test_s3_and_schedule_samples():
    evt = aws.decode(load_fixture("s3/sam-S3Put.json"))[0]
    assert (evt.bucket, evt.key, evt.kind, evt.size, evt.etag) == (
        "example-bucket", "test/key", "created", 1024, "0123456789abcdef0123456789abcdef")
    sched = aws.decode(load_fixture("schedule/sam-ScheduledEvent.json"))[0]
    assert isinstance(sched, ScheduleEvent) and sched.time == datetime(1970, 1, 1, tzinfo=timezone.utc)


def test_other_eventbridge_events_arrive_as_messages_of_their_detail():
    msg = aws.decode(load_fixture("eventbridge/powertools-eventBridgeEvent.json"))[0]
    assert isinstance(msg, Message)
    assert msg.json() == {"instance_id": "i-1234567890abcdef0", "state": "terminated"}
    assert msg.attributes == {"source": "aws.ec2", "detail-type": "EC2 Instance State-change Notification"}


# -- keys and paths --------------------------------------------------------------------------------------------------

def test_s3_keys_are_form_decoded():
    native = load_fixture("s3/sam-S3Put.json")
    native["Records"][0]["s3"]["object"]["key"] = "photos/summer+holiday%2B2024/caf%C3%A9.jpg"
    assert aws.decode(native)[0].key == "photos/summer holiday+2024/café.jpg"


@pytest.mark.parametrize("variant", storage.VARIANTS)
def test_storage_round_trip_with_awkward_keys(variant):
    evt = StorageEvent(bucket="uploads", key="a b/c+d/ü%41?.txt", kind="created", size=5, etag="e" * 32)
    native = aws.encode(evt, variant)
    if variant == "s3":
        assert native["Records"][0]["s3"]["object"]["key"] == "a+b/c%2Bd/%C3%BC%2541%3F.txt"
    assert aws.decode(native)[0] == evt


def test_s3_via_eventbridge_and_via_sqs_decode_as_storage():
    evt = StorageEvent(bucket="b", key="k 1", kind="deleted", size=None, etag=None)
    for variant in ("eventbridge", "s3-sqs"):
        decoded = aws.decode(aws.encode(evt, variant))
        assert decoded == [evt], variant


def test_s3_test_event_in_sqs_yields_nothing_to_handle():
    msg = Message(id="m1", data=json.dumps({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": "b"}).encode())
    assert aws.decode(messages.encode_messages([msg], "sqs")) == []


@pytest.mark.parametrize("variant", http.VARIANTS)
def test_http_round_trip_edge_cases(variant):
    req = HttpRequest(method="POST", path="/caf\u00e9/a b/%/x+y", query={"q": ["1", "two words", "ü&="], "e": [""]},
                      headers=Headers([("X-One", "1"), ("Content-Type", "application/octet-stream"),
                                       ("Cookie", "a=1; b=two")]),
                      body=bytes(range(256)))
    back = aws.decode(aws.encode(req, variant))[0]
    lost = aws.uncarried("http", variant)
    want = {k: v for k, v in req.to_dict().items() if k not in lost}
    assert {k: v for k, v in back.to_dict().items() if k not in lost} == want
    assert back.cookies == {"a": "1", "b": "two"} and back.body == bytes(range(256))


def test_repeated_headers_and_query_survive_multi_value_variants():
    req = HttpRequest(method="GET", path="/x", query={"a": ["1", "2"]},
                      headers=Headers([("x-multi", "1"), ("x-multi", "2")]))
    for variant in ("apigw-v1", "alb-multi"):
        assert aws.decode(aws.encode(req, variant))[0] == req
    v2 = aws.decode(aws.encode(req, "apigw-v2"))[0]
    assert v2.headers.get_all("x-multi") == ["1,2"] and v2.query == {"a": ["1", "2"]}


def test_v2_encoding_is_realistic():
    req = HttpRequest(method="GET", path="/a b", query={"x": ["1", "2"]}, headers={"Cookie": "s=1; t=2"})
    native = aws.encode(req, "apigw-v2")
    assert native["rawPath"] == "/a%20b" and native["rawQueryString"] == "x=1&x=2"
    assert native["queryStringParameters"] == {"x": "1,2"} and native["cookies"] == ["s=1", "t=2"]
    assert "cookie" not in native["headers"] and "body" not in native


def test_empty_body_everywhere():
    req = HttpRequest(method="GET", path="/")
    for variant in http.VARIANTS:
        assert aws.decode(aws.encode(req, variant))[0].body == b""


# -- responses ---------------------------------------------------------------------------------------------------

def _response() -> HttpResponse:
    resp = HttpResponse(200, headers=Headers([("Content-Type", "image/png"), ("X-A", "1"), ("X-A", "2")]),
                        body=b"\x89PNG\x00\xff")
    resp.headers.add("Set-Cookie", "s=1; Path=/")
    resp.headers.add("Set-Cookie", "t=2")
    return resp


def test_v1_response_keeps_repeated_headers_and_base64_body():
    native = encode_response(_response(), "apigw-v1")
    assert native["multiValueHeaders"]["X-A"] == ["1", "2"]
    assert native["multiValueHeaders"]["Set-Cookie"] == ["s=1; Path=/", "t=2"]
    assert native["isBase64Encoded"] is True and base64.b64decode(native["body"]) == b"\x89PNG\x00\xff"
    assert http.decode_response(native) == _response()


def test_v2_response_uses_cookies_and_joined_headers():
    native = encode_response(_response(), "apigw-v2")
    assert native["cookies"] == ["s=1; Path=/", "t=2"] and "set-cookie" not in native["headers"]
    assert native["headers"]["x-a"] == "1,2" and native["isBase64Encoded"] is True


def test_alb_response_matches_request_mode():
    single = encode_response(HttpResponse.text("hi", 404), "alb")
    assert single["statusDescription"] == "404 Not Found" and single["headers"]["content-type"].startswith("text/")
    assert "multiValueHeaders" not in single and single["body"] == "hi" and single["isBase64Encoded"] is False
    multi = encode_response(_response(), "alb-multi")
    assert "headers" not in multi and multi["multiValueHeaders"]["X-A"] == ["1", "2"]


def test_unicode_text_response_is_not_base64():
    native = encode_response(HttpResponse.json({"name": "Zoë ✓"}), "function-url")
    assert native["isBase64Encoded"] is False and json.loads(native["body"]) == {"name": "Zoë ✓"}


# -- messages ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("variant", messages.VARIANTS)
def test_message_round_trip_binary_unicode_attributes(variant):
    msg = Message(id="11111111-2222-4333-8444-555555555555", data=b"\x00\xffbinary", attributes={"k": "ü v", "n": "1"},
                  delivery_attempt=1 if variant == "sns" else 4, ordering_key="g1" if variant == "sqs-fifo" else None,
                  published_at=datetime(2026, 3, 1, 12, 0, 0, 123000, tzinfo=timezone.utc))
    back = aws.decode(aws.encode(msg, variant))
    assert len(back) == 1
    assert back[0].to_dict() == msg.to_dict()
    assert messages.BODY_ENCODING_ATTR not in back[0].attributes


def test_fifo_group_becomes_ordering_key():
    msg = Message(id="m-1", data=b"x", ordering_key="customer-7")
    native = aws.encode(msg, "sqs-fifo")
    assert native["Records"][0]["attributes"]["MessageGroupId"] == "customer-7"
    assert native["Records"][0]["eventSourceARN"].endswith(".fifo")
    assert aws.decode(native)[0].ordering_key == "customer-7"


def test_binary_and_number_sqs_attributes_decode_as_text():
    native = load_fixture("sqs/sam-Sqs.json")
    native["Records"][0]["messageAttributes"] = {
        "bin": {"binaryValue": "AAEC", "dataType": "Binary", "stringListValues": [], "binaryListValues": []},
        "num": {"stringValue": "42.5", "dataType": "Number", "stringListValues": [], "binaryListValues": []}}
    assert aws.decode(native)[0].attributes == {"bin": "AAEC", "num": "42.5"}


# -- malformed input ---------------------------------------------------------------------------------------------

MALFORMED = [
    ({}, "AWS Lambda event"),
    ([], "AWS Lambda event"),
    ("text", "AWS Lambda event"),
    ({"Records": []}, "AWS Lambda event"),
    ({"Records": [{"eventSource": "aws:sqs"}]}, "messageId"),
    ({"Records": [{"eventSource": "aws:sqs", "messageId": "m", "body": 5}]}, "body"),
    ({"Records": [{"eventSource": "aws:sqs", "messageId": "m", "body": "x",
                   "attributes": {"ApproximateReceiveCount": "many"}}]}, "count"),
    ({"Records": [{"eventSource": "aws:sqs", "messageId": "m", "body": "%%%",
                   "messageAttributes": {"portafunc-body-encoding": {"stringValue": "base64",
                                                                     "dataType": "String"}}}]}, "base64"),
    ({"Records": [{"EventSource": "aws:sns", "Sns": "nope"}]}, "SNS"),
    ({"Records": [{"EventSource": "aws:sns", "Sns": {"MessageId": "x"}}]}, "Message"),
    ({"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": "b"}}}]},
     "key"),
    ({"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
                   "s3": {"bucket": {"name": "b"}, "object": {"key": "k", "size": "big"}}}]}, "size"),
    ({"version": "2.0", "rawPath": "/", "requestContext": {}}, "method"),
    ({"version": "2.0", "rawPath": "/", "requestContext": {"http": {"method": "GET"}}, "body": "!!",
      "isBase64Encoded": True}, "base64"),
    ({"httpMethod": "GET", "path": "/", "requestContext": {}, "multiValueHeaders": {"a": "b"}}, "list"),
    ({"httpMethod": "GET", "requestContext": {}}, "path"),
    ({"requestContext": {"elb": {}}, "httpMethod": "GET", "path": "/", "headers": {"a": 1}}, "name"),
    ({"detail-type": "Scheduled Event", "source": "aws.events", "detail": {}, "time": "yesterday"}, "RFC 3339"),
]


@pytest.mark.parametrize("native, mentions", MALFORMED, ids=[str(i) for i in range(len(MALFORMED))])
def test_malformed_events_raise_event_decode_error(native, mentions):
    with pytest.raises(EventDecodeError) as info:
        aws.decode(native)
    assert info.value.expected
    assert mentions.lower() in str(info.value).lower()


def test_unknown_variants_are_refused():
    with pytest.raises(EventDecodeError, match="apigw-v1"):
        aws.encode(HttpRequest("GET", "/"), "apigw-v9")
    with pytest.raises(EventDecodeError, match="sqs"):
        aws.encode(Message(id="1"), "kinesis")


def test_decoding_a_response_without_status_is_an_error():
    with pytest.raises(EventDecodeError, match="statusCode"):
        http.decode_response({"body": "x"})
