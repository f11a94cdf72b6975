"""SQS, both ways, and the dispatch over the message variants (``sqs``, ``sqs-fifo``, ``sns``, ``sns-sqs``).

* SQS Lambda events (batches; String/Number/Binary message attributes; FIFO ``MessageGroupId`` → ``ordering_key``;
  ``ApproximateReceiveCount`` → ``delivery_attempt``). A body that is an SNS notification envelope (an SQS queue
  subscribed to a topic without raw delivery) is unwrapped, so the consumer sees what the publisher published, with the
  SNS message attributes. The neutral id stays the SQS ``messageId``: that is what ``batchItemFailures`` names.
* SNS Lambda events are :mod:`.topic`'s.

SQS and SNS bodies are text. A binary payload travels base64-encoded with the message attribute
``portafunc-body-encoding: base64`` (written by portafunc's publishers and encoders, removed again on decode).
"""

from __future__ import annotations

import json
from collections.abc import Mapping

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

from portafunc.errors import EventDecodeError
from portafunc.events import Message, _TextMessage, _unread, parse_time

from .fields import (BODY_ENCODING_ATTR, b64encode, epoch_ms, message_payload, message_text, obj, opt_obj, opt_text,
                     records, region_of, text)
from .topic import DEFAULT_TOPIC_ARN, encode_sns, sns_envelope, sns_message, sns_notification

SQS_EXPECTED = 'an SQS event: {"Records": [{"messageId", "body", "eventSource": "aws:sqs", ...}]}'
VARIANTS = ["sqs", "sqs-fifo", "sns", "sns-sqs"]
LOSSY = {
    "sqs-fifo": {"ordering_key": "FIFO queues require a message group: none becomes the group 'default'"},
    "sns": {"ordering_key": "SNS delivers to Lambda from standard topics only: no message group",
            "delivery_attempt": "SNS does not report the attempt to Lambda (always 1)"},
}
# every variant: AWS reports send and publish times in milliseconds, so finer fractions are cut
DEFAULT_QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012:portafunc-queue"


def is_sqs(native: Any) -> bool:
    recs = native.get("Records") if isinstance(native, Mapping) else None
    return bool(isinstance(recs, list) and recs and isinstance(recs[0], Mapping)
                and recs[0].get("eventSource") == "aws:sqs")


def is_fifo_arn(arn: Any) -> bool:
    return isinstance(arn, str) and arn.endswith(".fifo")


# -- SQS decode --------------------------------------------------------------------------------------------------

def decode_sqs_record(rec: Mapping[str, Any], index: int = 0) -> Message[Any]:
    """One SQS record → Message, or EventDecodeError saying which field is wrong.

    A record as Lambda sends it (every field of the type it should have, no base64 body; an SNS envelope without
    message attributes, whose time parses) is decoded as its id and payload; its other fields are decoded by :func:`decode_sqs_record_fully` when first read
    (:meth:`Message.deferred`). The checks here are the ones that decoder's fields could fail, so a record it would
    refuse is refused now, by that decoder, and a deferred one reads exactly as it would decode.
    """
    try:  # the keys Lambda always sends, read by subscript; a record without one is decoded in full
        message_id = rec["messageId"]
        body = rec["body"]
        sys_attrs = rec["attributes"]
        if message_id.__class__ is str and body.__class__ is str and sys_attrs.__class__ is dict \
                and rec["eventSource"] == "aws:sqs":
            count = sys_attrs["ApproximateReceiveCount"]
            sent = sys_attrs["SentTimestamp"]
            source = rec["eventSourceARN"]
            native_attrs = rec["messageAttributes"]
            if (count == "1" or count.__class__ is str and 0 < len(count) < 10 and count.isdecimal()) \
                    and sent.__class__ is str and len(sent) < 15 \
                    and ("MessageGroupId" not in sys_attrs or sys_attrs["MessageGroupId"].__class__ is str) \
                    and source.__class__ is str \
                    and native_attrs.__class__ is dict:
                if native_attrs:  # most records carry none: no loop set up for them
                    if BODY_ENCODING_ATTR in native_attrs:
                        return decode_sqs_record_fully(rec, index)
                    for attr in native_attrs.values():
                        if attr.__class__ is not dict:
                            return decode_sqs_record_fully(rec, index)
                if '"TopicArn"' in body:
                    envelope = sns_envelope(body)
                    if envelope is not None:  # SNS → SQS: the envelope's message, read as sns_message reads it
                        body, stamp = envelope["Message"], envelope.get("Timestamp")
                        sns_attrs = envelope.get("MessageAttributes")  # none, or an empty dict: no attributes
                        if body.__class__ is not str or stamp.__class__ is not str \
                                or envelope["TopicArn"].__class__ is not str \
                                or sns_attrs is not None and (sns_attrs or sns_attrs.__class__ is not dict):
                            return decode_sqs_record_fully(rec, index)
                        parse_time(stamp)  # EventDecodeError: refused in full below, naming the record
                if body.isascii():  # encodes as it is: the bytes are made only if something reads them
                    # Message.deferred_text's message, made as it makes it, without its frame
                    return _unread(_TextMessage(), message_id, rec, _rest_of_record, body)
                data = body.encode("utf-8")  # UnicodeEncodeError (a lone surrogate): refused in full below
                return _deferred(message_id, data, rec, _rest_of_record)
    except (KeyError, UnicodeEncodeError, EventDecodeError):
        pass
    return decode_sqs_record_fully(rec, index)


_deferred = Message.deferred


def _rest_of_record(rec: Mapping[str, Any]) -> tuple[Any, ...]:
    """A deferred record's other fields, as the full decoder gives them.

    Read when a handler first asks for one of them, and on every failure (its log line names the attempt). The
    deferred lane above has checked the shapes read here, so a plain record's fields are taken as they are; an SNS
    envelope or an attribute value that is not text goes through the full decoder, which pins the result.
    """
    if '"TopicArn"' not in rec["body"]:
        attributes: dict[str, str] = {}
        for name, attr in rec["messageAttributes"].items():
            value = attr.get("stringValue")
            if value is None:
                value = attr.get("binaryValue")  # base64 text, as Lambda delivers it
                if value is None:
                    value = ""
            if value.__class__ is not str or name.__class__ is not str:
                break
            attributes[name] = value
        else:
            sys_attrs = rec["attributes"]
            count = sys_attrs["ApproximateReceiveCount"]
            sent = sys_attrs["SentTimestamp"]
            return (attributes, sys_attrs.get("MessageGroupId"), 1 if count == "1" else int(count),
                    int(sent) if sent.isdecimal() else None, rec["eventSourceARN"])
    msg = decode_sqs_record_fully(rec, 0)
    return msg.attributes, msg.ordering_key, msg.delivery_attempt, msg._published, msg.source


def decode_sqs_record_fully(rec: Mapping[str, Any], index: int = 0) -> Message[Any]:
    """One SQS record → Message with every field decoded, or EventDecodeError saying which field is wrong.

    One path for every record: each field is taken as is when it has the type Lambda sends (the common case costs a
    type check), and otherwise read by the defensive helpers of :mod:`.fields`, which convert what can be converted
    (a number where text is expected) and refuse the rest. ``tests/aws/codec_golden.json`` pins the result.
    """
    get = rec.get
    if get("eventSource") != "aws:sqs":
        raise EventDecodeError(f"SQS record {index} has eventSource {get('eventSource')!r}", expected=SQS_EXPECTED)
    message_id = get("messageId")
    if message_id.__class__ is not str:
        message_id = text(rec, "messageId", f"SQS record {index}", "messageId")
    body = get("body", "")
    if body.__class__ is not str:
        body = text(rec, "body", f"SQS record {index}", "body", default="")
    sys_attrs = get("attributes")
    if sys_attrs.__class__ is not dict:
        sys_attrs = opt_obj(sys_attrs, f"SQS record {index}.attributes", "SQS system attributes")
    count = sys_attrs.get("ApproximateReceiveCount")
    attempt = 1 if count == "1" else _attempt(sys_attrs, index)
    sent = sys_attrs.get("SentTimestamp")
    published: Any
    if sent.__class__ is str and 0 < len(sent) < 15 and sent.isdecimal():  # < 15 digits: always a valid datetime
        published = int(sent)  # epoch ms: Message.published_at makes the datetime when (if ever) it is read
    else:
        sent = opt_text(sys_attrs, "SentTimestamp", f"SQS record {index}")
        published = parse_time(sent) if sent and sent.isdecimal() else None
    group = sys_attrs.get("MessageGroupId")
    if group is not None and group.__class__ is not str:
        group = opt_text(sys_attrs, "MessageGroupId", f"SQS record {index}")
    source = get("eventSourceARN")
    if source is not None and source.__class__ is not str:
        source = opt_text(rec, "eventSourceARN", f"SQS record {index}")
    native_attrs = get("messageAttributes")
    attributes: dict[str, str] | None = {}
    if native_attrs:
        if native_attrs.__class__ is dict:  # as Lambda sends them: string names, objects with a string value
            for name, attr in native_attrs.items():
                if attr.__class__ is not dict or name.__class__ is not str:
                    attributes = None
                    break
                value = attr.get("stringValue")
                if value is None:
                    value = attr.get("binaryValue")  # base64 text, as Lambda delivers it
                    if value is None:
                        value = ""
                if value.__class__ is not str:
                    attributes = None
                    break
                attributes[name] = value  # type: ignore[index]
        else:
            attributes = None
    elif native_attrs is not None and native_attrs.__class__ is not dict:
        attributes = None  # [] or "": refused as no object below
    if attributes is None:
        attributes = decode_sqs_attributes(native_attrs, f"SQS record {index}")
    envelope = sns_envelope(body) if '"TopicArn"' in body else None
    if envelope is not None:
        try:
            data, sns_attrs, sns_time, topic = sns_message(envelope, "")
        except EventDecodeError:  # read again for the error that names the record
            data, sns_attrs, sns_time, topic = sns_message(envelope, f"SQS record {index}.body (SNS notification)")
        attributes = {**attributes, **sns_attrs}
        published = sns_time or published
        source = topic or source
    else:
        data = message_payload(body, attributes, "SQS record {}.body", index)
    return Message(message_id, data, attributes, group, attempt, published, source, rec)


def _attempt(sys_attrs: Mapping[str, Any], index: int) -> int:
    attempt_text = opt_text(sys_attrs, "ApproximateReceiveCount", f"SQS record {index}") or "1"
    try:
        return int(attempt_text)
    except ValueError as exc:
        raise EventDecodeError(f"SQS record {index}: ApproximateReceiveCount {attempt_text!r} is not a number",
                               expected="a count") from exc


def decode_sqs_attributes(value: Any, what: str) -> dict[str, str]:
    attrs = opt_obj(value, f"{what}.messageAttributes", '{name: {"dataType", "stringValue"|"binaryValue"}}')
    out: dict[str, str] = {}
    for name, attr in attrs.items():
        a = obj(attr, f"{what}.messageAttributes[{name!r}]", '{"dataType": ..., "stringValue": ...}')
        value_ = a.get("stringValue")
        if value_ is None:
            value_ = a.get("binaryValue")  # base64 text, as Lambda delivers it
        out[str(name)] = "" if value_ is None else str(value_)
    return out


def decode_sqs(native: Any) -> list[Message[Any]]:
    if not is_sqs(native):
        raise EventDecodeError("not an SQS event", expected=SQS_EXPECTED)
    return [decode_sqs_record(rec, i) for i, rec in enumerate(records(native, "SQS event"))]


# -- encode ------------------------------------------------------------------------------------------------------

def sqs_record(msg: Message[Any], queue_arn: str = DEFAULT_QUEUE_ARN, *, via_sns: str | None = None
               ) -> dict[str, Any]:
    """One SQS record as Lambda delivers it; ``via_sns`` (a topic ARN) wraps the payload in an SNS envelope."""
    if via_sns:
        body = json.dumps(sns_notification(msg, via_sns, for_lambda=False), indent=2)
        attributes: dict[str, str] = {}
    else:
        body, attributes = message_text(msg)
    sent = epoch_ms(msg.published_at)
    sys_attrs = {"ApproximateReceiveCount": str(msg.delivery_attempt), "SentTimestamp": str(sent),
                 "SenderId": "AIDAIENQZJOLO23YVJ4VO", "ApproximateFirstReceiveTimestamp": str(sent + 1)}
    if is_fifo_arn(queue_arn):
        sys_attrs["SequenceNumber"] = str(18849496460467696128 + sent)
        sys_attrs["MessageGroupId"] = msg.ordering_key or "default"
        sys_attrs["MessageDeduplicationId"] = _sha256(msg.id.encode()).hexdigest()
    elif msg.ordering_key is not None:
        sys_attrs["MessageGroupId"] = msg.ordering_key  # standard queues accept a group id too (fair queues)
    return {
        "messageId": msg.id,
        "receiptHandle": "AQEB" + _sha256(f"{msg.id}:{msg.delivery_attempt}".encode()).hexdigest(),
        "body": body,
        "attributes": sys_attrs,
        "messageAttributes": {k: {"stringValue": v, "stringListValues": [], "binaryListValues": [],
                                  "dataType": "String"} for k, v in attributes.items()},
        "md5OfBody": _md5(body.encode("utf-8")).hexdigest(),  # noqa: S324 - SQS's own checksum
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region_of(queue_arn),
    }


def encode_messages(messages: list[Message[Any]], variant: str | None = None, *, arn: str | None = None
                    ) -> dict[str, Any]:
    """A Lambda event carrying ``messages``: an SQS batch (``sqs``, ``sqs-fifo``, ``sns-sqs``) or SNS (``sns``)."""
    variant = variant or "sqs"
    if variant == "sns":
        return encode_sns(messages, arn)
    if variant == "sqs":
        return {"Records": [sqs_record(m, arn or DEFAULT_QUEUE_ARN) for m in messages]}
    if variant == "sqs-fifo":
        return {"Records": [sqs_record(m, arn or DEFAULT_QUEUE_ARN + ".fifo") for m in messages]}
    if variant == "sns-sqs":
        return {"Records": [sqs_record(m, arn or DEFAULT_QUEUE_ARN, via_sns=DEFAULT_TOPIC_ARN) for m in messages]}
    raise EventDecodeError(f"unknown aws message variant {variant!r}", expected=", ".join(VARIANTS))


# -- ReceiveMessage API shape → Lambda record shape ------------------------------------------------------------

def sqs_record_from_api(message: Mapping[str, Any], queue_arn: str) -> dict[str, Any]:
    """One message as ``ReceiveMessage`` returns it (boto3), reshaped into the record an SQS event source delivers.

    Used by the SQS queue backend's ``receive`` and by tests that play the event source mapping's part.
    """
    attrs: dict[str, Any] = {}
    for name, attr in (message.get("MessageAttributes") or {}).items():
        binary = attr.get("BinaryValue")
        entry: dict[str, Any] = {"stringListValues": [], "binaryListValues": [], "dataType": attr.get("DataType")}
        if attr.get("StringValue") is not None:
            entry["stringValue"] = attr["StringValue"]
        if binary is not None:
            entry["binaryValue"] = b64encode(binary if isinstance(binary, bytes) else str(binary).encode())
        attrs[name] = entry
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message.get("ReceiptHandle", ""),
        "body": message.get("Body", ""),
        "attributes": {str(k): str(v) for k, v in (message.get("Attributes") or {}).items()},
        "messageAttributes": attrs,
        "md5OfBody": message.get("MD5OfBody", ""),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region_of(queue_arn),
    }


def lambda_event_from_receive(api_messages: list[Mapping[str, Any]], queue_arn: str) -> dict[str, Any]:
    """The Lambda SQS event an event source mapping would build from these received messages."""
    return {"Records": [sqs_record_from_api(m, queue_arn) for m in api_messages]}


def _sha256(data: bytes) -> Any:
    import hashlib

    return hashlib.sha256(data)


def _md5(data: bytes) -> Any:
    import hashlib

    return hashlib.md5(data)  # noqa: S324 - SQS's own checksum

