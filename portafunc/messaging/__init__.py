"""Logical topics and queues. ``portafunc.topic("orders").publish({...})`` works on every target."""

from __future__ import annotations

from typing import Any

from .base import OutgoingMessage, Queue, ReceivedMessage, Topic, send_or_publish
from .binding import env_name, open_backend, register_backend, reset


def topic(name: str) -> Topic:
    """The topic bound to ``name`` by ``PORTAFUNC_TOPIC_<NAME>``."""
    backend: Topic = open_backend("topic", name)
    return backend


def queue(name: str) -> Queue:
    """The queue bound to ``name`` by ``PORTAFUNC_QUEUE_<NAME>``."""
    backend: Queue = open_backend("queue", name)
    return backend


class _Sink:
    def __init__(self, target: Any) -> None:
        self.target = target

    def send_or_publish(self, data: Any, attributes: dict[str, str] | None = None) -> str:
        return send_or_publish(self.target, data, attributes)

    def move(self, msg: Any, attributes: dict[str, str]) -> str:
        """Send ``msg`` here as a dead letter, with ``attributes`` (its own and why it failed). It stays the same
        message: it keeps its ordering key (an SQS FIFO dead letter its message group, as SQS's own redrive keeps
        it, rather than one group for every dead letter) and goes with its id as the deduplication id, so a message
        handed over again after it was moved (its batch retried when the answer was lost) is moved once where the
        broker deduplicates (SQS and SNS FIFO: within five minutes; ``memory://`` too)."""
        return send_or_publish(self.target, msg.data, attributes, ordering_key=msg.ordering_key,
                               dedup_id=msg.id or None)


def queue_or_topic(ref: str) -> _Sink:
    """A dead-letter reference: a binding URL (an existing destination), or a logical name, which is always a
    *queue* (``dead_letter="work-failed"`` declares the queue ``work-failed``). A URL is opened as a queue; a backend
    that binds only topics refuses that (each backend knows what its scheme names), and it is opened as a topic."""
    if "://" not in ref:
        return _Sink(queue(ref))
    from ..errors import BindingError

    try:
        return _Sink(open_backend("queue", ref, ref))
    except BindingError:
        return _Sink(open_backend("topic", ref, ref))


__all__ = ["OutgoingMessage", "Queue", "ReceivedMessage", "Topic", "queue", "queue_or_topic", "register_backend",
           "reset", "topic", "env_name"]
