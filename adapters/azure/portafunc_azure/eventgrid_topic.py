"""``eventgrid://HOST/api/events`` — a portafunc :class:`~portafunc.messaging.Topic` on an Event Grid topic.

* Publishes with ``azure.eventgrid.EventGridPublisherClient`` (imported on first use, one client per topic) and an
  ``AzureKeyCredential`` (sent as the ``aeg-sas-key`` header). Key: the environment variable named by
  ``?key_env=VAR``, else ``PORTAFUNC_EVENTGRID_KEY``.
* Schema: ``?schema=eventgrid`` (default) or ``?schema=cloudevents`` — it must match the topic's input schema.
* ``publish_batch`` sends one POST per batch, split so that no request body exceeds Event Grid's 1 MB limit; the
  returned ids are the event ids portafunc assigned, returned only after Event Grid answered 200.
* ``?tls=0`` talks plain ``http://`` — only for local stand-ins (the tests' recording server); Azure is https only.
"""

from __future__ import annotations

import json
import os
import threading
import uuid
from datetime import datetime, timezone
from typing import Any, Iterable
from urllib.parse import parse_qs, urlsplit

from portafunc.errors import BindingError, MessagingError
from portafunc.events import Message
from portafunc.messaging.base import OutgoingMessage, as_outgoing

from .codec_eventgrid import encode_message

MAX_REQUEST_BYTES = 1024 * 1024
DEFAULT_KEY_ENV = "PORTAFUNC_EVENTGRID_KEY"


class EventGridTopic:
    def __init__(self, name: str, endpoint: str, schema: str, key_env: str) -> None:
        self.name = name
        self.endpoint = endpoint
        self.schema = schema
        self.key_env = key_env
        self.source = f"/portafunc/topics/{name}"
        self._client: Any = None
        self._lock = threading.Lock()

    @property
    def client(self) -> Any:
        if self._client is None:
            with self._lock:
                if self._client is None:
                    key = os.environ.get(self.key_env)
                    if not key:
                        raise BindingError(f"topic {self.name!r} ({self.endpoint}) needs the topic access key in "
                                           f"{self.key_env}")
                    from azure.core.credentials import AzureKeyCredential
                    from azure.eventgrid import EventGridPublisherClient

                    self._client = EventGridPublisherClient(self.endpoint, AzureKeyCredential(key))
        return self._client

    def publish(self, data: Any, *, attributes: dict[str, str] | None = None, ordering_key: str | None = None,
                dedup_id: str | None = None) -> str:
        return self.publish_batch([OutgoingMessage(data, dict(attributes or {}), ordering_key, dedup_id)])[0]

    def events(self, messages: Iterable[Any]) -> list[dict[str, Any]]:
        """The wire events for ``messages`` (Event Grid or CloudEvents schema)."""
        out = []
        now = datetime.now(timezone.utc)
        for item in messages:
            msg = as_outgoing(item)
            payload, _ = msg.payload()
            neutral = Message(id=msg.dedup_id or str(uuid.uuid4()), data=payload, attributes=msg.attributes,
                              ordering_key=msg.ordering_key, published_at=now, source=self.source)
            event = encode_message(neutral, schema=self.schema, topic=self.source)
            if self.schema == "eventgrid":
                event.pop("topic", None)  # Event Grid sets topic itself; a wrong one is rejected
                event["subject"] = self.source
            out.append(event)
        return out

    def publish_batch(self, messages: Iterable[Any]) -> list[str]:
        events = self.events(messages)
        for chunk in split_batches(events):
            try:
                self.client.send(chunk)
            except (BindingError, MessagingError):
                raise
            except Exception as exc:  # noqa: BLE001
                raise _error(exc, self.endpoint) from exc
        return [e["id"] for e in events]


def split_batches(events: list[dict[str, Any]], limit: int = MAX_REQUEST_BYTES) -> list[list[dict[str, Any]]]:
    """Group events so each JSON array body stays within ``limit`` bytes; an event too big alone is an error."""
    batches: list[list[dict[str, Any]]] = []
    current: list[dict[str, Any]] = []
    size = 2  # "[" and "]"
    for event in events:
        n = len(json.dumps(event).encode("utf-8"))
        if n + 2 > limit:
            raise MessagingError(f"event {event.get('id')} is {n} bytes; Event Grid accepts at most {limit} per "
                                 "request: store the payload elsewhere and publish a reference")
        extra = n + (1 if current else 0)
        if current and size + extra > limit:
            batches.append(current)
            current, size, extra = [], 2, n
        current.append(event)
        size += extra
    if current:
        batches.append(current)
    return batches


def _error(exc: Exception, endpoint: str) -> MessagingError:
    from azure.core.exceptions import (ClientAuthenticationError, HttpResponseError, ResourceNotFoundError,
                                       ServiceRequestError)

    if isinstance(exc, ClientAuthenticationError):
        return MessagingError(f"Event Grid topic {endpoint} rejected the access key (401): check the key variable")
    if isinstance(exc, ResourceNotFoundError):
        return MessagingError(f"Event Grid topic {endpoint} does not exist (404)")
    if isinstance(exc, HttpResponseError) and exc.status_code == 403:
        return MessagingError(f"Event Grid topic {endpoint} denied publishing (403)")
    if isinstance(exc, HttpResponseError) and exc.status_code == 413:
        return MessagingError(f"Event Grid topic {endpoint} refused the batch as too large (413)")
    if isinstance(exc, ServiceRequestError):
        return MessagingError(f"Event Grid topic {endpoint} is unreachable: {exc}")
    return MessagingError(f"publishing to Event Grid topic {endpoint} failed: {type(exc).__name__}: {exc}")


def backend(kind: str, url: str, logical_name: str) -> EventGridTopic:
    """Entry point ``portafunc.backends: eventgrid``."""
    if kind != "topic":
        raise BindingError(f"eventgrid:// is a topic; queue {logical_name!r} needs azqueue://ACCOUNT/QUEUE")
    parts = urlsplit(url)
    if parts.scheme != "eventgrid" or not parts.netloc:
        raise BindingError(f"{url!r} is not eventgrid://HOST/api/events")
    options = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    schema = options.get("schema", "eventgrid").lower()
    if schema not in ("eventgrid", "cloudevents"):
        raise BindingError(f"{url!r}: schema must be eventgrid or cloudevents, not {schema!r}")
    scheme = "http" if options.get("tls") in ("0", "false", "no") else "https"
    endpoint = f"{scheme}://{parts.netloc}{parts.path or '/api/events'}"
    return EventGridTopic(logical_name, endpoint, schema, options.get("key_env") or DEFAULT_KEY_ENV)
