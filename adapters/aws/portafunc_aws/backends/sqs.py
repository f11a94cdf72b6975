"""``sqs://`` — an SQS queue: send (batches of 10), long-poll receive, delete as ack, visibility change as nack.

URL forms: ``sqs://arn:aws:sqs:REGION:ACCOUNT:NAME`` or the queue URL without its scheme,
``sqs://sqs.REGION.amazonaws.com/ACCOUNT/NAME`` (``?region=`` overrides the region for other hosts). ``?timeout=``
(seconds, default 30) bounds the retries of each call. A ``traceparent`` the message's own attributes leave no room for
goes as the ``AWSTraceHeader`` system attribute (:mod:`.attributes`).
"""

from __future__ import annotations

import math
import os
import re
import time
import uuid
from typing import Any, Iterable
from urllib.parse import urlsplit

from portafunc.errors import BindingError, EventDecodeError, MessagingError
from portafunc.events import Message
from portafunc.messaging.base import OutgoingMessage, ReceivedMessage, as_outgoing
from portafunc.messaging.retry import timeout_option
from portafunc.tracing import parse_traceparent

from ..codecs import queue as codec
from . import clients
from .attributes import outgoing_body, report_left_out
from .batch import send_batches
from .errors import call

_ARN = re.compile(r"^arn:(aws[a-zA-Z-]*):sqs:([a-z0-9-]+):(\d{12}):([A-Za-z0-9_.-]{1,80})$")
_HOST_REGION = [re.compile(r"^sqs\.([a-z0-9-]+)\.amazonaws\.com"), re.compile(r"^([a-z0-9-]+)\.queue\.amazonaws\.com")]
_NAME = re.compile(r"^[A-Za-z0-9_-]{1,75}(\.fifo)?$")


def parse_queue_url(url: str, name: str) -> tuple[str, str, str]:
    """(queue URL, region, queue ARN) for an ``sqs://`` binding."""
    rest, options = clients.split_options(url, {"region", "timeout"}, name)
    match = _ARN.match(rest)
    if match:
        partition, region, account, qname = match.groups()
        host = f"sqs.{region}.amazonaws.com" + (".cn" if partition == "aws-cn" else "")
        return f"https://{host}/{account}/{qname}", region, rest
    parts = urlsplit("//" + rest)
    segments = [s for s in parts.path.split("/") if s]
    if not parts.hostname or len(segments) != 2 or not segments[0].isdigit() or not _NAME.match(segments[1]):
        raise BindingError(f"queue {name!r}: {url!r} is neither sqs://arn:aws:sqs:REGION:ACCOUNT:NAME nor "
                           "sqs://sqs.REGION.amazonaws.com/ACCOUNT/NAME")
    region = options.get("region") or None
    for pattern in _HOST_REGION:
        found = pattern.match(parts.hostname)
        if found and not region:
            region = found.group(1)
    region = region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    if not region:
        raise BindingError(f"queue {name!r}: cannot tell the region of {url!r}; add ?region=REGION or set AWS_REGION")
    local = parts.hostname in ("localhost", "127.0.0.1") or parts.hostname.endswith(".localhost")
    netloc = parts.netloc
    account, qname = segments
    return (f"{'http' if local else 'https'}://{netloc}/{account}/{qname}", region,
            f"arn:aws:sqs:{region}:{account}:{qname}")


def aws_trace_header(traceparent: str) -> str | None:
    """X-Ray's trace header naming the same trace, parent span and sampling decision as a W3C ``traceparent``
    (``Root=1-<8 hex>-<24 hex>;Parent=<16 hex>;Sampled=<0|1>``); None if it is not a valid one."""
    found = parse_traceparent(traceparent) if traceparent else None
    if found is None or found.parent_id is None:
        return None
    trace = found.trace_id
    return f"Root=1-{trace[:8]}-{trace[8:]};Parent={found.parent_id};Sampled={1 if found.sampled else 0}"


class SqsQueue:
    def __init__(self, url: str, name: str) -> None:
        self.name = name
        self.queue_url, self.region, self.arn = parse_queue_url(url, name)
        self.fifo = self.queue_url.endswith(".fifo")
        self.timeout = timeout_option(clients.split_options(url, {"region", "timeout"}, name)[1], url)
        self.retries = clients.max_retries()

    def _call(self, fn: Any, action: str, permission: str, **kwargs: Any) -> Any:
        return call(fn, action, self.queue_url, permission, deadline=time.monotonic() + self.timeout,
                    retries=self.retries, **kwargs)

    def __repr__(self) -> str:
        return f"SqsQueue({self.queue_url!r})"

    @property
    def _client(self) -> Any:
        return clients.client("sqs", self.region)

    # -- sending ----------------------------------------------------------------------------------------------
    def _entry(self, msg: OutgoingMessage) -> dict[str, Any]:
        payload, _ = msg.payload()
        body, attributes, left_out = outgoing_body(payload, msg.attributes, f"send to {self.queue_url}")
        entry: dict[str, Any] = {"MessageBody": body}
        if attributes:
            entry["MessageAttributes"] = attributes
        if left_out:
            traceparent = left_out.pop("traceparent", "")
            header = aws_trace_header(traceparent)
            if header:  # a system attribute: not one of the 10, and Lambda continues the trace from it
                entry["MessageSystemAttributes"] = {"AWSTraceHeader": {"DataType": "String", "StringValue": header}}
            elif traceparent:
                left_out = {"traceparent": traceparent, **left_out}
            if left_out:
                report_left_out("SQS", self.queue_url, left_out, "the AWSTraceHeader system attribute" if header
                                else None)
        if msg.delay_seconds:
            if self.fifo:
                raise MessagingError(f"send to {self.queue_url}: FIFO queues have no per-message delay")
            entry["DelaySeconds"] = int(msg.delay_seconds)
        if self.fifo:
            entry["MessageGroupId"] = msg.ordering_key or "default"
            entry["MessageDeduplicationId"] = msg.dedup_id or uuid.uuid4().hex  # stable across botocore retries
        elif msg.ordering_key is not None:
            entry["MessageGroupId"] = msg.ordering_key
        return entry

    def send(self, data: Any, *, attributes: dict[str, str] | None = None, ordering_key: str | None = None,
             dedup_id: str | None = None, delay_seconds: int = 0) -> str:
        entry = self._entry(OutgoingMessage(data, attributes or {}, ordering_key, dedup_id, delay_seconds))
        response = self._call(self._client.send_message, "send to queue", "sqs:SendMessage",
                              QueueUrl=self.queue_url, **entry)
        return str(response["MessageId"])

    def send_batch(self, messages: Iterable[Any]) -> list[str]:
        entries = [self._entry(as_outgoing(m)) for m in messages]
        deadline = time.monotonic() + self.timeout

        def send(chunk: list[dict[str, Any]]) -> dict[str, Any]:
            return call(self._client.send_message_batch, "send a batch to queue", self.queue_url,
                        "sqs:SendMessage", deadline=deadline, retries=self.retries, QueueUrl=self.queue_url,
                        Entries=chunk)

        return send_batches(entries, send, f"send batch to {self.queue_url}", deadline)

    # -- receiving --------------------------------------------------------------------------------------------
    def receive(self, max_messages: int = 10, wait: float = 0.0) -> list[ReceivedMessage]:
        """The long poll of ``wait`` seconds is asked for: the call's deadline is ``wait`` + ``?timeout=``."""
        wait_seconds = max(0, min(20, math.ceil(wait)))
        response = call(self._client.receive_message, "receive from queue", self.queue_url, "sqs:ReceiveMessage",
                        deadline=time.monotonic() + wait_seconds + self.timeout, retries=self.retries,
                        QueueUrl=self.queue_url, MaxNumberOfMessages=max(1, min(10, int(max_messages))),
                        WaitTimeSeconds=wait_seconds, MessageAttributeNames=["All"],
                        MessageSystemAttributeNames=["All"])
        out = []
        for index, raw in enumerate(response.get("Messages", [])):
            record = codec.sqs_record_from_api(raw, self.arn)
            try:
                msg: Message[Any] = codec.decode_sqs_record(record, index)
            except EventDecodeError as exc:
                raise MessagingError(f"receive from {self.queue_url}: message {raw.get('MessageId')} is "
                                     f"malformed: {exc}") from exc
            out.append(ReceivedMessage(id=msg.id, data=msg.data, attributes=msg.attributes,
                                       ordering_key=msg.ordering_key, delivery_attempt=msg.delivery_attempt,
                                       published_at=msg.published_at, source=self.arn, native=raw,
                                       receipt=raw["ReceiptHandle"]))
        return out

    def ack(self, message: ReceivedMessage) -> None:
        self._call(self._client.delete_message, "delete from queue", "sqs:DeleteMessage",
                   QueueUrl=self.queue_url, ReceiptHandle=message.receipt)

    def nack(self, message: ReceivedMessage, delay: float = 0.0) -> None:
        self._call(self._client.change_message_visibility, "release message of queue",
                   "sqs:ChangeMessageVisibility", QueueUrl=self.queue_url, ReceiptHandle=message.receipt,
             VisibilityTimeout=max(0, min(43200, int(math.ceil(delay)))))
