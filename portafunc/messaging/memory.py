"""``memory://`` — an in-process broker with the delivery rules of the real ones.

At-least-once: a received message stays in the queue, invisible for ``visibility_timeout`` seconds, until it is
acknowledged; ``nack(delay)`` or an expired visibility makes it visible again; each receive counts as a delivery
attempt, and a message received more than ``max_attempts`` times moves to the dead-letter queue (as SQS redrive and
Pub/Sub dead-letter policies do). Messages with an ordering key are delivered in order: none is handed out while an
earlier one of the same key is in flight. Topics fan out to every subscribed queue.

URL options: ``memory://[NAME]?max_attempts=5&dead_letter=NAME-dlq&visibility_timeout=30``.
Used by tests and by ``portafunc run``; state is per process.
"""

from __future__ import annotations

import itertools
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Iterable
from urllib.parse import parse_qs, urlsplit

from ..errors import BindingError, MessagingError
from ..plugins import binds
from .base import OutgoingMessage, ReceivedMessage, as_outgoing

_ids = itertools.count(1)


def _new_id() -> str:
    return f"mem-{next(_ids):08d}"


@dataclass
class _Entry:
    id: str
    data: bytes
    attributes: dict[str, str]
    ordering_key: str | None
    published_at: datetime
    visible_at: float
    receive_count: int = 0
    receipt: str | None = None


@dataclass
class QueueStats:
    sent: int = 0
    delivered: int = 0
    acked: int = 0
    nacked: int = 0
    dead_lettered: int = 0


class MemoryQueue:
    """A queue in the process-wide :class:`MemoryBroker`."""

    def __init__(self, broker: MemoryBroker, name: str, *, max_attempts: int | None = None,
                 dead_letter: str | None = None, visibility_timeout: float = 30.0) -> None:
        self.broker = broker
        self.name = name
        self.max_attempts = max_attempts
        self.dead_letter = dead_letter
        self.visibility_timeout = visibility_timeout
        self._entries: list[_Entry] = []
        self._dedup: dict[str, tuple[str, float]] = {}
        self._cond = threading.Condition()
        self.stats = QueueStats()

    # -- sending ----------------------------------------------------------------------------------------------
    def send(self, data: Any, *, attributes: dict[str, str] | None = None, ordering_key: str | None = None,
             dedup_id: str | None = None, delay_seconds: int = 0) -> str:
        return self._put(OutgoingMessage(data, dict(attributes or {}), ordering_key, dedup_id, delay_seconds))

    def send_batch(self, messages: Iterable[Any]) -> list[str]:
        return [self._put(as_outgoing(m)) for m in messages]

    def _put(self, msg: OutgoingMessage, message_id: str | None = None) -> str:
        payload, _ = msg.payload()
        now = time.monotonic()
        with self._cond:
            if msg.dedup_id:
                seen = self._dedup.get(msg.dedup_id)
                if seen and now - seen[1] < 300:  # the 5-minute window SQS FIFO uses
                    return seen[0]
            entry = _Entry(message_id or _new_id(), payload, {str(k): str(v) for k, v in msg.attributes.items()},
                           msg.ordering_key, datetime.now(timezone.utc), now + msg.delay_seconds)
            if msg.dedup_id:
                self._dedup[msg.dedup_id] = (entry.id, now)
            self._entries.append(entry)
            self.stats.sent += 1
            self._cond.notify_all()
        return entry.id

    # -- receiving --------------------------------------------------------------------------------------------
    def receive(self, max_messages: int = 10, wait: float = 0.0) -> list[ReceivedMessage]:
        deadline = time.monotonic() + max(0.0, wait)
        with self._cond:
            while True:
                got = self._take(max_messages)
                remaining = deadline - time.monotonic()
                if got or remaining <= 0:
                    return got
                self._cond.wait(min(remaining, self._next_visible_in()))

    def _next_visible_in(self) -> float:
        now = time.monotonic()
        pending = [e.visible_at - now for e in self._entries if e.visible_at > now]
        return max(0.005, min(pending)) if pending else 3600.0

    def _take(self, max_messages: int) -> list[ReceivedMessage]:
        now = time.monotonic()
        out: list[ReceivedMessage] = []
        blocked: set[str] = set()
        dead: list[_Entry] = []
        for entry in self._entries:
            if len(out) >= max_messages:
                break
            key = entry.ordering_key
            if entry.visible_at > now:
                if key is not None:
                    blocked.add(key)
                continue
            if key is not None and key in blocked:
                continue
            if self.max_attempts is not None and entry.receive_count >= self.max_attempts:
                dead.append(entry)
                continue
            entry.receive_count += 1
            entry.receipt = f"{entry.id}:{entry.receive_count}"
            entry.visible_at = now + self.visibility_timeout
            if key is not None:
                pass  # later messages of this key may follow in the same batch, in order
            out.append(ReceivedMessage(
                id=entry.id, data=entry.data, attributes=dict(entry.attributes), ordering_key=key,
                delivery_attempt=entry.receive_count, published_at=entry.published_at,
                source=f"memory://{self.name}", receipt=entry.receipt))
        for entry in dead:
            self._entries.remove(entry)
            self.stats.dead_lettered += 1
            self.broker._dead_letter(self, entry)
        self.stats.delivered += len(out)
        return out

    def ack(self, message: ReceivedMessage) -> None:
        with self._cond:
            entry = self._find(message)
            self._entries.remove(entry)
            self.stats.acked += 1

    def nack(self, message: ReceivedMessage, delay: float = 0.0) -> None:
        with self._cond:
            entry = self._find(message)
            entry.visible_at = time.monotonic() + max(0.0, delay)
            self.stats.nacked += 1
            self._cond.notify_all()

    def _find(self, message: ReceivedMessage) -> _Entry:
        for entry in self._entries:
            if entry.id == message.id:
                if entry.receipt != message.receipt:
                    raise MessagingError(f"memory://{self.name}: receipt for message {message.id} is stale; "
                                         "its visibility expired and it was delivered again")
                return entry
        raise MessagingError(f"memory://{self.name}: message {message.id} is no longer in the queue")

    # -- inspection (tests, local runner) ---------------------------------------------------------------------
    def peek(self) -> list[ReceivedMessage]:
        """Every message in the queue, visible or not, without receiving it (tests read dead letters with this)."""
        with self._cond:
            return [ReceivedMessage(e.id, e.data, dict(e.attributes), e.ordering_key, e.receive_count or 1,
                                    e.published_at, self.name) for e in self._entries]

    def __len__(self) -> int:
        with self._cond:
            return len(self._entries)

    def in_flight(self) -> int:
        now = time.monotonic()
        with self._cond:
            return sum(1 for e in self._entries if e.visible_at > now and e.receive_count > 0)


class MemoryTopic:
    """A topic in the process-wide :class:`MemoryBroker`; publishing copies the message to every subscription."""

    def __init__(self, broker: MemoryBroker, name: str) -> None:
        self.broker = broker
        self.name = name
        self.published: int = 0

    def publish(self, data: Any, *, attributes: dict[str, str] | None = None, ordering_key: str | None = None,
                dedup_id: str | None = None) -> str:
        return self._publish(OutgoingMessage(data, dict(attributes or {}), ordering_key, dedup_id))

    def publish_batch(self, messages: Iterable[Any]) -> list[str]:
        return [self._publish(as_outgoing(m)) for m in messages]

    def _publish(self, msg: OutgoingMessage) -> str:
        message_id = _new_id()
        for queue_name in self.broker.subscriptions(self.name):
            self.broker.queue(queue_name)._put(msg, message_id)
        self.published += 1
        return message_id


class MemoryBroker:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queues: dict[str, MemoryQueue] = {}
        self._topics: dict[str, MemoryTopic] = {}
        self._subs: dict[str, list[str]] = {}

    def queue(self, name: str, *, max_attempts: int | None = None, dead_letter: str | None = None,
              visibility_timeout: float | None = None) -> MemoryQueue:
        """Get or create a queue; options given here update an existing queue."""
        with self._lock:
            q = self._queues.get(name)
            if q is None:
                q = self._queues[name] = MemoryQueue(self, name)
        if max_attempts is not None:
            q.max_attempts = max_attempts
        if dead_letter is not None:
            q.dead_letter = dead_letter
        if visibility_timeout is not None:
            q.visibility_timeout = visibility_timeout
        return q

    def topic(self, name: str) -> MemoryTopic:
        with self._lock:
            t = self._topics.get(name)
            if t is None:
                t = self._topics[name] = MemoryTopic(self, name)
            return t

    def subscribe(self, topic: str, queue: str) -> MemoryQueue:
        """Deliver every later publish on ``topic`` to ``queue`` (a subscription)."""
        with self._lock:
            subs = self._subs.setdefault(topic, [])
            if queue not in subs:
                subs.append(queue)
        return self.queue(queue)

    def subscriptions(self, topic: str) -> list[str]:
        with self._lock:
            return list(self._subs.get(topic, ()))

    def dead_letter_queue(self, queue: MemoryQueue) -> MemoryQueue:
        return self.queue(queue.dead_letter or f"{queue.name}-dead-letter")

    def _dead_letter(self, queue: MemoryQueue, entry: _Entry) -> None:
        dlq = self.dead_letter_queue(queue)
        attributes = dict(entry.attributes)
        attributes.setdefault("portafunc_original_id", entry.id)
        dlq._put(OutgoingMessage(entry.data, attributes, entry.ordering_key))

    def reset(self) -> None:
        with self._lock:
            self._queues.clear()
            self._topics.clear()
            self._subs.clear()


_broker = MemoryBroker()


def broker() -> MemoryBroker:
    """The process-wide in-memory broker."""
    return _broker


def memory_backend(kind: str, url: str, name: str) -> MemoryQueue | MemoryTopic:
    """Backend factory for ``memory://`` bindings."""
    parts = urlsplit(url)
    resource = (parts.netloc + parts.path).strip("/") or name
    options = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    unknown = set(options) - {"max_attempts", "dead_letter", "visibility_timeout"}
    if unknown:
        raise BindingError(f"memory:// binding for {name!r}: unknown option(s) {sorted(unknown)}")
    if kind == "topic":
        return _broker.topic(resource)
    try:
        max_attempts = int(options["max_attempts"]) if "max_attempts" in options else None
        visibility = float(options["visibility_timeout"]) if "visibility_timeout" in options else None
    except ValueError as exc:
        raise BindingError(f"memory:// binding for {name!r}: {exc}") from exc
    return _broker.queue(resource, max_attempts=max_attempts, dead_letter=options.get("dead_letter"),
                         visibility_timeout=visibility)


binds(memory_backend, "queue", "topic")
