"""The messaging interfaces every backend implements: :class:`Topic` (fan-out) and :class:`Queue` (work queue).

Backends live in the adapters (SNS/SQS, Event Grid/Storage Queue, Pub/Sub) and in :mod:`.memory`; application code
only ever sees these protocols, so swapping a cloud is a change of binding, not of code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Protocol, Sequence, runtime_checkable

from ..events import Message, encode_payload


@dataclass
class OutgoingMessage:
    """A message to publish or send. ``data`` may be bytes, str, a pydantic model or any JSON-able value."""

    data: Any
    attributes: dict[str, str] = field(default_factory=dict)
    ordering_key: str | None = None
    dedup_id: str | None = None
    delay_seconds: int = 0

    def payload(self) -> tuple[bytes, str]:
        return encode_payload(self.data)


def as_outgoing(item: Any) -> OutgoingMessage:
    return item if isinstance(item, OutgoingMessage) else OutgoingMessage(item)


class ReceivedMessage(Message[Any]):
    """A message pulled from a queue; ``receipt`` is the backend's handle for ack/nack."""

    __slots__ = ("receipt",)

    def __init__(self, id: str, data: bytes = b"", attributes: dict[str, str] | None = None,
                 ordering_key: str | None = None, delivery_attempt: int = 1, published_at: Any = None,
                 source: str | None = None, native: Any = None, receipt: Any = None) -> None:
        super().__init__(id, data, attributes, ordering_key, delivery_attempt, published_at, source, native)
        self.receipt = receipt


@runtime_checkable
class Topic(Protocol):
    """Publish to every subscriber."""

    name: str

    def publish(self, data: Any, *, attributes: dict[str, str] | None = None, ordering_key: str | None = None,
                dedup_id: str | None = None) -> str:
        """Publish one message; returns the broker's message id once the broker has accepted it."""
        ...

    def publish_batch(self, messages: Iterable[Any]) -> list[str]:
        """Publish many messages in the broker's native batch size; all-or-error, ids in input order."""
        ...


@runtime_checkable
class Queue(Protocol):
    """Send work to exactly one consumer at a time, at least once."""

    name: str

    def send(self, data: Any, *, attributes: dict[str, str] | None = None, ordering_key: str | None = None,
             dedup_id: str | None = None, delay_seconds: int = 0) -> str: ...

    def send_batch(self, messages: Iterable[Any]) -> list[str]: ...

    def receive(self, max_messages: int = 10, wait: float = 0.0) -> Sequence[ReceivedMessage]:
        """Up to ``max_messages`` messages, waiting up to ``wait`` seconds for the first (long poll)."""
        ...

    def ack(self, message: ReceivedMessage) -> None:
        """The message is done: remove it from the queue."""
        ...

    def nack(self, message: ReceivedMessage, delay: float = 0.0) -> None:
        """The message failed: make it visible again after ``delay`` seconds."""
        ...


def send_or_publish(sink: Topic | Queue, data: Any, attributes: dict[str, str] | None = None, *,
                    ordering_key: str | None = None, dedup_id: str | None = None) -> str:
    """Publish to a topic or send to a queue, whichever ``sink`` is (a dead letter's destination may be either)."""
    if hasattr(sink, "publish"):
        return sink.publish(data, attributes=attributes, ordering_key=ordering_key, dedup_id=dedup_id)
    return sink.send(data, attributes=attributes, ordering_key=ordering_key, dedup_id=dedup_id)
