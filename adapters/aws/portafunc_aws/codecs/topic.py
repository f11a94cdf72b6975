"""SNS, both ways: Lambda SNS events (direct subscription, one record per invocation) and the SNS notification
document, which is also the envelope an SQS queue subscribed to a topic without raw delivery receives (see
:mod:`.queue`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

from portafunc.errors import EventDecodeError
from portafunc.events import Message, parse_time

from .fields import iso_ms, message_payload, message_text, obj, opt_obj, opt_text, records, region_of, text

SNS_EXPECTED = 'an SNS event: {"Records": [{"EventSource": "aws:sns", "Sns": {"MessageId", "Message", ...}}]}'
DEFAULT_TOPIC_ARN = "arn:aws:sns:us-east-1:123456789012:portafunc-topic"


def is_sns(native: Any) -> bool:
    recs = native.get("Records") if native.__class__ is dict or isinstance(native, Mapping) else None
    return bool(isinstance(recs, list) and recs and (recs[0].__class__ is dict or isinstance(recs[0], Mapping))
                and recs[0].get("EventSource") == "aws:sns")


def sns_envelope(body: str) -> Mapping[str, Any] | None:
    """The SNS notification inside an SQS body, or None when the body is something else."""
    # Cheap checks first: most SQS bodies are not SNS envelopes, and parsing every body twice is the cost.
    if '"TopicArn"' not in body or '"Notification"' not in body:
        return None
    if body[:1] == "{":  # as SNS writes it: json.loads' own scanner, without its wrapper's passes (same value)
        try:
            doc, end = _scan_once(body, 0)
        except (StopIteration, ValueError, RecursionError):  # what json.loads refuses: not an envelope SNS wrote
            return None
        if end != len(body) and body[end:].strip(_JSON_SPACE):  # more than JSON whitespace after the document
            return None
    elif body.lstrip().startswith("{"):
        try:
            doc = json.loads(body)
        except (ValueError, RecursionError):  # not JSON, or nested too deep to parse: not an envelope SNS wrote
            return None
    else:
        return None
    if (doc.__class__ is dict or isinstance(doc, Mapping)) and doc.get("Type") == "Notification" \
            and "TopicArn" in doc and "Message" in doc:
        return doc
    return None


_scan_once = json.JSONDecoder().scan_once  # type: ignore[attr-defined]  # the C scanner json.loads ends in
_JSON_SPACE = " \t\n\r"


def _sns_attributes(value: Any, what: str) -> dict[str, str]:
    if value.__class__ is dict:  # as SNS writes them: {name: {"Type": ..., "Value": text}}
        out_: dict[str, str] = {}
        for name, attr in value.items():
            text_ = attr.get("Value") if attr.__class__ is dict else None
            if text_.__class__ is not str or name.__class__ is not str:
                break
            out_[name] = text_
        else:
            return out_
    attrs = opt_obj(value, f"{what}.MessageAttributes", '{name: {"Type", "Value"}}')
    out: dict[str, str] = {}
    for name, attr in attrs.items():
        a = obj(attr, f"{what}.MessageAttributes[{name!r}]", '{"Type": ..., "Value": ...}')
        out[str(name)] = "" if a.get("Value") is None else str(a.get("Value"))
    return out


def sns_message(sns: Mapping[str, Any], what: str) -> tuple[bytes, dict[str, str], datetime | None, str | None]:
    """(payload, attributes, publish time, topic ARN) of an SNS notification document. Fields of the type SNS sends
    are taken as they are; anything else goes through the defensive readers of :mod:`.fields`."""
    message = sns.get("Message")
    if message.__class__ is not str:
        message = text(sns, "Message", what, "the SNS Message text")
    native_attrs = sns.get("MessageAttributes")
    attributes = {} if not native_attrs and native_attrs.__class__ is dict else \
        _sns_attributes(native_attrs, what)
    data = message_payload(message, attributes, "{}.Message", what)
    stamp = sns.get("Timestamp")
    if stamp is not None and stamp.__class__ is not str:
        stamp = opt_text(sns, "Timestamp", what)
    topic = sns.get("TopicArn")
    if topic is not None and topic.__class__ is not str:
        topic = opt_text(sns, "TopicArn", what)
    return data, attributes, parse_time(stamp), topic


def notification(rec: dict[str, Any]) -> Message[Any] | None:
    """The record of a direct SNS event as Lambda sends it, read at once: every field of the type SNS sends, no
    message attributes. None for anything else (or a field the readers of :func:`decode_sns` would refuse), which
    :func:`decode_sns` reads field by field, refusing it there, naming the record."""
    try:  # the keys SNS always sends, read by subscript; a record without one is read field by field
        doc = rec["Sns"]
        if rec["EventSource"] == "aws:sns" and doc.__class__ is dict:
            message_id, message, attrs = doc["MessageId"], doc["Message"], doc["MessageAttributes"]
            stamp, topic = doc["Timestamp"], doc["TopicArn"]
            if message_id.__class__ is str and message.__class__ is str and attrs.__class__ is dict and not attrs \
                    and (stamp is None or stamp.__class__ is str) and (topic is None or topic.__class__ is str):
                if message.isascii():  # encodes as it is: the bytes are made only if something reads them
                    msg = _deferred_text(message_id, message, rec, _rest_of_notification)
                    msg._published = parse_time(stamp)  # a malformed time is refused now, as decode_sns does
                    return msg
                return Message(message_id, message.encode("utf-8"), {}, None, 1, parse_time(stamp), topic, rec)
    except (KeyError, UnicodeEncodeError, EventDecodeError):
        pass
    return None


_deferred_text = Message.deferred_text


def _rest_of_notification(rec: dict[str, Any]) -> tuple[Any, ...]:
    """The other fields of a record :func:`notification` read, as it reads them: no attributes, no ordering key, the
    first attempt (SNS does not say), the topic."""
    return {}, None, 1, parse_time(rec["Sns"]["Timestamp"]), rec["Sns"]["TopicArn"]


def decode_sns(native: Any) -> list[Message[Any]]:
    # What Lambda hands a subscribed function (one record, as SNS writes it) is read at once by notification()
    recs = native.get("Records") if native.__class__ is dict else None
    if recs.__class__ is list and len(recs) == 1 and recs[0].__class__ is dict:
        msg = notification(recs[0])
        if msg is not None:
            return [msg]
    if not is_sns(native):
        raise EventDecodeError("not an SNS event", expected=SNS_EXPECTED)
    out = []
    for i, rec in enumerate(records(native, "SNS event")):
        sns: Any = rec.get("Sns")
        message_id = sns.get("MessageId") if sns.__class__ is dict else None
        try:
            if message_id.__class__ is not str:
                raise EventDecodeError("", expected=SNS_EXPECTED)
            data, attributes, published, topic = sns_message(sns, "")
        except EventDecodeError:  # decoded again, naming the record: the error as the record's own
            what = f"SNS record {i}.Sns"
            sns = obj(sns, what, SNS_EXPECTED)
            data, attributes, published, topic = sns_message(sns, what)
            message_id = text(sns, "MessageId", what, "MessageId")
        out.append(Message(message_id, data, attributes, None, 1, published, topic, rec))
    return out


# -- encode ------------------------------------------------------------------------------------------------------

def sns_notification(msg: Message[Any], topic_arn: str, *, for_lambda: bool) -> dict[str, Any]:
    """The SNS notification document (Lambda ``Sns`` record, or the JSON body SNS puts into SQS)."""
    body, attributes = message_text(msg)
    region = region_of(topic_arn)
    url_case = "Url" if for_lambda else "URL"
    doc: dict[str, Any] = {
        "Type": "Notification",
        "MessageId": msg.id if for_lambda else _uuid5(f"sns:{msg.id}"),
        "TopicArn": topic_arn,
        "Subject": None,
        "Message": body,
        "Timestamp": iso_ms(msg.published_at),
        "SignatureVersion": "1",
        "Signature": "EXAMPLEpH+portafunc+encoded+not+signed==",
        f"SigningCert{url_case}": f"https://sns.{region}.amazonaws.com/SimpleNotificationService-example.pem",
        f"Unsubscribe{url_case}": f"https://sns.{region}.amazonaws.com/?Action=Unsubscribe&SubscriptionArn="
                                  f"{topic_arn}:00000000-0000-4000-8000-000000000000",
    }
    if attributes or for_lambda:
        doc["MessageAttributes"] = {k: {"Type": "String", "Value": v} for k, v in attributes.items()}
    if not for_lambda:
        doc.pop("Subject")
    return doc


def encode_sns(messages: list[Message[Any]], topic_arn: str | None = None) -> dict[str, Any]:
    """A Lambda SNS event carrying ``messages`` (one record each)."""
    topic = topic_arn or DEFAULT_TOPIC_ARN
    return {"Records": [{
        "EventSource": "aws:sns", "EventVersion": "1.0",
        "EventSubscriptionArn": f"{topic}:2bcfbf39-05c3-41de-beaa-fcfcc21c8f55",
        "Sns": sns_notification(m, topic, for_lambda=True)} for m in messages]}


def _uuid5(namespace_name: str) -> str:
    import uuid  # encoders only: kept off the Lambda cold-start path

    return str(uuid.uuid5(uuid.NAMESPACE_URL, namespace_name))
