"""``pubsub://`` messaging backends: a Topic (publish) and a Queue on a pull subscription.

URL forms::

    pubsub://projects/P/topics/T[?max_messages=100&max_bytes=1000000&max_latency=0.01&timeout=30]
    pubsub://projects/P/subscriptions/S[?topic=T&timeout=30]

``google-cloud-pubsub`` is imported the first time a backend is created, never at import of portafunc_gcp, and the
publisher/subscriber clients are created once per process and reused (gRPC channels are expensive). The client
library honours ``PUBSUB_EMULATOR_HOST`` itself. ``publish`` returns the server-assigned id only after Pub/Sub
accepted the message; any failure is a :class:`~portafunc.errors.MessagingError` saying what went wrong.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Iterable
from urllib.parse import parse_qs, urlsplit

from portafunc.errors import BindingError, MessagingError
from portafunc.messaging.base import OutgoingMessage, ReceivedMessage, as_outgoing

_lock = threading.Lock()
_publishers: dict[tuple[Any, ...], Any] = {}
_subscriber: Any = None


def _publisher(max_messages: int, max_bytes: int, max_latency: float) -> Any:
    key = (max_messages, max_bytes, max_latency)
    with _lock:
        client = _publishers.get(key)
        if client is None:
            from google.cloud import pubsub_v1

            client = pubsub_v1.PublisherClient(
                batch_settings=pubsub_v1.types.BatchSettings(max_messages=max_messages, max_bytes=max_bytes,
                                                             max_latency=max_latency),
                publisher_options=pubsub_v1.types.PublisherOptions(enable_message_ordering=True))
            _publishers[key] = client
        return client


def _subscriber_client() -> Any:
    global _subscriber
    with _lock:
        if _subscriber is None:
            from google.cloud import pubsub_v1

            _subscriber = pubsub_v1.SubscriberClient()
        return _subscriber


def _explain(exc: BaseException, what: str) -> MessagingError:
    """A clear MessagingError for a google-api-core / gRPC failure."""
    name = type(exc).__name__
    if name == "NotFound":
        reason = f"{what} does not exist"
    elif name in ("PermissionDenied", "Forbidden", "Unauthenticated"):
        reason = f"permission denied on {what}"
    elif name in ("ServiceUnavailable", "DeadlineExceeded", "RetryError", "TimeoutError"):
        reason = f"Pub/Sub is unreachable for {what}"
    elif name == "InvalidArgument":
        reason = f"Pub/Sub refused the request for {what}"
    else:
        reason = f"Pub/Sub failed for {what}"
    return MessagingError(f"{reason}: {name}: {exc}")


def _parse(url: str, expect: str) -> tuple[str, dict[str, str]]:
    parts = urlsplit(url)
    path = (parts.netloc + parts.path).strip("/")
    segments = path.split("/")
    if parts.scheme != "pubsub" or len(segments) != 4 or segments[0] != "projects" or segments[2] != expect \
            or not segments[1] or not segments[3]:
        raise BindingError(f"{url!r} is not a Pub/Sub {expect[:-1]} URL; expected "
                           f"pubsub://projects/PROJECT/{expect}/NAME")
    return path, {k: v[-1] for k, v in parse_qs(parts.query).items()}


def _float(options: dict[str, str], name: str, default: float, url: str) -> float:
    try:
        return float(options.get(name, default))
    except ValueError:
        raise BindingError(f"{url}: option {name}={options[name]!r} is not a number") from None


class PubSubTopic:
    """A Pub/Sub topic. Messages are batched by the client library (``max_messages``/``max_latency``)."""

    def __init__(self, url: str, name: str) -> None:
        self.path, options = _parse(url, "topics")
        self.name = name
        self.url = url
        unknown = set(options) - {"max_messages", "max_bytes", "max_latency", "timeout"}
        if unknown:
            raise BindingError(f"{url}: unknown option(s) {sorted(unknown)}")
        self.timeout = _float(options, "timeout", 30.0, url)
        self._settings = (int(_float(options, "max_messages", 100, url)), int(_float(options, "max_bytes",
                          1_000_000, url)), _float(options, "max_latency", 0.01, url))
        self._client = _publisher(*self._settings)

    def publish(self, data: Any, *, attributes: dict[str, str] | None = None, ordering_key: str | None = None,
                dedup_id: str | None = None) -> str:
        return self._resolve([self._submit(OutgoingMessage(data, dict(attributes or {}), ordering_key, dedup_id))])[0]

    def publish_batch(self, messages: Iterable[Any]) -> list[str]:
        futures = [self._submit(as_outgoing(m)) for m in messages]
        return self._resolve(futures)

    def _submit(self, msg: OutgoingMessage) -> tuple[Any, str | None]:
        payload, _ = msg.payload()
        attributes = {str(k): str(v) for k, v in msg.attributes.items()}
        if msg.dedup_id:
            attributes.setdefault("portafunc_dedup_id", msg.dedup_id)  # Pub/Sub has no dedup id: keep it visible
        try:
            future = self._client.publish(self.path, payload, ordering_key=msg.ordering_key or "", **attributes)
        except Exception as exc:  # noqa: BLE001 - e.g. ValueError for an oversize message, paused ordering key
            raise _explain(exc, f"topic {self.path}") from exc
        return future, msg.ordering_key

    def _resolve(self, futures: list[tuple[Any, str | None]]) -> list[str]:
        ids: list[str] = []
        first_error: MessagingError | None = None
        deadline = time.monotonic() + self.timeout
        for future, key in futures:
            try:
                ids.append(str(future.result(timeout=max(0.1, deadline - time.monotonic()))))
            except Exception as exc:  # noqa: BLE001 - surface every failure as MessagingError
                if key:
                    self._client.resume_publish(self.path, key)  # an ordering key pauses after a failure
                if first_error is None:
                    first_error = _explain(exc, f"topic {self.path}")
        if first_error is not None:
            raise first_error
        return ids


class PubSubQueue:
    """A work queue: sends go to the subscription's topic; receive/ack/nack use synchronous pull."""

    def __init__(self, url: str, name: str) -> None:
        self.path, options = _parse(url, "subscriptions")
        self.name = name
        self.url = url
        unknown = set(options) - {"topic", "timeout"}
        if unknown:
            raise BindingError(f"{url}: unknown option(s) {sorted(unknown)}")
        self.timeout = _float(options, "timeout", 30.0, url)
        topic = options.get("topic")
        if topic and "/" not in topic:
            topic = f"projects/{self.path.split('/')[1]}/topics/{topic}"
        self._topic_path = topic
        self._topic: PubSubTopic | None = None
        self._client = _subscriber_client()

    # -- sending ------------------------------------------------------------------------------------------------
    def _sender(self) -> PubSubTopic:
        if self._topic is None:
            if self._topic_path is None:
                try:
                    sub = self._client.get_subscription(request={"subscription": self.path}, timeout=self.timeout)
                except Exception as exc:  # noqa: BLE001
                    raise _explain(exc, f"subscription {self.path}") from exc
                self._topic_path = sub.topic
            self._topic = PubSubTopic(f"pubsub://{self._topic_path}?timeout={self.timeout}", self.name)
        return self._topic

    def send(self, data: Any, *, attributes: dict[str, str] | None = None, ordering_key: str | None = None,
             dedup_id: str | None = None, delay_seconds: int = 0) -> str:
        if delay_seconds:
            raise MessagingError("Pub/Sub cannot delay a message; use Cloud Tasks for delayed work")
        return self._sender().publish(data, attributes=attributes, ordering_key=ordering_key, dedup_id=dedup_id)

    def send_batch(self, messages: Iterable[Any]) -> list[str]:
        return self._sender().publish_batch(messages)

    # -- receiving ----------------------------------------------------------------------------------------------
    def receive(self, max_messages: int = 10, wait: float = 0.0) -> list[ReceivedMessage]:
        deadline = time.monotonic() + max(0.0, wait)
        while True:
            try:
                response = self._client.pull(
                    request={"subscription": self.path, "max_messages": max_messages},
                    timeout=max(1.0, min(self.timeout, deadline - time.monotonic() + 1.0)), retry=None)
            except Exception as exc:  # noqa: BLE001
                if type(exc).__name__ == "DeadlineExceeded" and time.monotonic() < deadline:
                    continue
                if type(exc).__name__ == "DeadlineExceeded":
                    return []
                raise _explain(exc, f"subscription {self.path}") from exc
            if response.received_messages or time.monotonic() >= deadline:
                return [self._convert(r) for r in response.received_messages]
            time.sleep(min(0.1, max(0.0, deadline - time.monotonic())))

    def _convert(self, received: Any) -> ReceivedMessage:
        m = received.message
        published = m.publish_time
        return ReceivedMessage(
            id=m.message_id, data=bytes(m.data), attributes=dict(m.attributes), ordering_key=m.ordering_key or None,
            delivery_attempt=max(1, int(received.delivery_attempt or 0)),
            published_at=published if published and published.timestamp() > 0 else None,
            source=f"pubsub://{self.path}", receipt=received.ack_id)

    def ack(self, message: ReceivedMessage) -> None:
        self._call("acknowledge", {"subscription": self.path, "ack_ids": [message.receipt]})

    def nack(self, message: ReceivedMessage, delay: float = 0.0) -> None:
        """Pub/Sub has no delay on nack: the ack deadline is set to ``delay`` (0 = redeliver now, max 600 s)."""
        self.modify_ack_deadline(message, int(min(600, max(0, delay))))

    def modify_ack_deadline(self, message: ReceivedMessage, seconds: int) -> None:
        """Extend (or cut short) how long ``message`` stays leased to this consumer."""
        self._call("modify_ack_deadline", {"subscription": self.path, "ack_ids": [message.receipt],
                                           "ack_deadline_seconds": int(seconds)})

    def _call(self, method: str, request: dict[str, Any]) -> None:
        try:
            getattr(self._client, method)(request=request, timeout=self.timeout)
        except Exception as exc:  # noqa: BLE001
            raise _explain(exc, f"subscription {self.path}") from exc


def backend(kind: str, url: str, logical_name: str) -> PubSubTopic | PubSubQueue:
    """Entry point ``portafunc.backends: pubsub``."""
    if kind == "topic":
        if "/subscriptions/" in url:
            raise BindingError(f"topic {logical_name!r} is bound to a subscription ({url}); bind a topic: "
                               "pubsub://projects/P/topics/T")
        return PubSubTopic(url, logical_name)
    if "/topics/" in url:
        raise BindingError(f"queue {logical_name!r} is bound to a topic ({url}); bind its pull subscription: "
                           "pubsub://projects/P/subscriptions/S")
    return PubSubQueue(url, logical_name)
