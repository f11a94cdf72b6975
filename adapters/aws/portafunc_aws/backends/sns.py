"""``sns://arn:aws:sns:REGION:ACCOUNT:NAME[?timeout=30]`` — an SNS topic (Publish, PublishBatch in tens, FIFO group
and dedup ids); transient failures are retried with backoff until ``timeout`` seconds."""

from __future__ import annotations

import re
import time
import uuid
from typing import Any, Iterable

from portafunc.errors import BindingError
from portafunc.messaging.base import OutgoingMessage, as_outgoing
from portafunc.messaging.retry import timeout_option

from . import clients
from .attributes import outgoing_body, report_left_out
from .batch import send_batches
from .errors import call

_ARN = re.compile(r"^arn:aws[a-zA-Z-]*:sns:([a-z0-9-]+):(\d{12}):([A-Za-z0-9_.-]{1,256})$")


class SnsTopic:
    def __init__(self, url: str, name: str) -> None:
        arn, options = clients.split_options(url, {"timeout"}, name)
        match = _ARN.match(arn)
        if not match:
            raise BindingError(f"topic {name!r}: {url!r} is not sns://arn:aws:sns:REGION:ACCOUNT:NAME")
        self.name = name
        self.arn = arn
        self.region = match.group(1)
        self.fifo = arn.endswith(".fifo")
        self.timeout = timeout_option(options, url)
        self.retries = clients.max_retries()

    def __repr__(self) -> str:
        return f"SnsTopic({self.arn!r})"

    @property
    def _client(self) -> Any:
        return clients.client("sns", self.region)

    def _entry(self, msg: OutgoingMessage) -> dict[str, Any]:
        payload, _ = msg.payload()
        body, attributes, left_out = outgoing_body(payload, msg.attributes, f"publish to {self.arn}")
        entry: dict[str, Any] = {"Message": body}
        if attributes:
            entry["MessageAttributes"] = attributes
        if left_out:  # SNS has no system attributes to carry them instead
            report_left_out("SNS", self.arn, left_out)
        if self.fifo:
            entry["MessageGroupId"] = msg.ordering_key or "default"
            # a fresh id per message unless the caller gave one: botocore's retries resend the same id, so a retried
            # publish is deduplicated while two deliberate publishes of the same content are not
            entry["MessageDeduplicationId"] = msg.dedup_id or uuid.uuid4().hex
        elif msg.ordering_key is not None:
            entry["MessageGroupId"] = msg.ordering_key
        return entry

    def publish(self, data: Any, *, attributes: dict[str, str] | None = None, ordering_key: str | None = None,
                dedup_id: str | None = None) -> str:
        entry = self._entry(OutgoingMessage(data, attributes or {}, ordering_key, dedup_id))
        response = call(self._client.publish, "publish to topic", self.arn, "sns:Publish",
                        deadline=time.monotonic() + self.timeout, retries=self.retries, TopicArn=self.arn, **entry)
        return str(response["MessageId"])

    def publish_batch(self, messages: Iterable[Any]) -> list[str]:
        entries = [self._entry(as_outgoing(m)) for m in messages]
        deadline = time.monotonic() + self.timeout

        def send(chunk: list[dict[str, Any]]) -> dict[str, Any]:
            return call(self._client.publish_batch, "publish a batch to topic", self.arn, "sns:Publish",
                        deadline=deadline, retries=self.retries, TopicArn=self.arn,
                        PublishBatchRequestEntries=chunk)

        return send_batches(entries, send, f"publish batch to {self.arn}", deadline)
