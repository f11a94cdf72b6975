"""``eventgrid://HOST/api/events`` — a portafunc :class:`~portafunc.messaging.Topic` on an Event Grid topic.

* Publishes with ``azure.eventgrid.EventGridPublisherClient`` (imported on first use, one client per topic) and an
  ``AzureKeyCredential`` (sent as the ``aeg-sas-key`` header). Key: the environment variable named by
  ``?key_env=VAR``, else ``PORTAFUNC_EVENTGRID_KEY``.
* Schema: ``?schema=eventgrid`` (default) or ``?schema=cloudevents`` — it must match the topic's input schema.
* ``publish_batch`` sends one POST per batch, split so that no request body exceeds Event Grid's 1 MB limit; the
  returned ids are the event ids portafunc assigned, returned only after Event Grid answered 200.
* Failures: a POST that cannot connect, drops, times out or gets 408/429/5xx is retried, with the same event ids,
  using exponential backoff and full jitter until ``?timeout=`` seconds (default 30) have passed since the call began.
  Then a :class:`~portafunc.errors.MessagingError` says so (:mod:`portafunc_azure.backends.retrying`; the SDK's own retries are
  off, because azure-core never retries a POST that failed to connect). If a batch fails after some of its requests
  succeeded, the error is :class:`~portafunc_azure.backends.retrying.BatchError`, whose ``accepted`` lists the ids Event Grid
  took. An event is never reported as published when Event Grid did not answer 200. A retried event whose first
  answer was lost can arrive twice, with the same id.
* ``?tls=0`` talks plain ``http://`` — only for local stand-ins (the tests' recording server); Azure is https only.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from datetime import datetime, timezone
from typing import Any, Iterable
from urllib.parse import parse_qs, urlsplit

from portafunc.lazy import built_once
from portafunc.errors import BindingError, MessagingError
from portafunc.events import Message
from portafunc.messaging.base import OutgoingMessage, as_outgoing
from portafunc.plugins import binds

from ..codecs.topic import encode_message
from .retrying import BatchError, GaveUp, call_until, timeout_option, transport_options

MAX_REQUEST_BYTES = 1024 * 1024
DEFAULT_KEY_ENV = "PORTAFUNC_EVENTGRID_KEY"


class EventGridTopic:
    def __init__(self, name: str, endpoint: str, schema: str, key_env: str, timeout: float = 30.0) -> None:
        self.name = name
        self.endpoint = endpoint
        self.schema = schema
        self.key_env = key_env
        self.timeout = timeout
        self.source = f"/portafunc/topics/{name}"

    @built_once
    def client(self) -> Any:
        key = os.environ.get(self.key_env)
        if not key:
            raise BindingError(f"topic {self.name!r} ({self.endpoint}) needs the topic access key in {self.key_env}")
        from azure.core.credentials import AzureKeyCredential
        from azure.eventgrid import EventGridPublisherClient

        return EventGridPublisherClient(self.endpoint, AzureKeyCredential(key))

    def publish(self, data: Any, *, attributes: dict[str, str] | None = None, ordering_key: str | None = None,
                dedup_id: str | None = None) -> str:
        return self._publish(self.events([OutgoingMessage(data, dict(attributes or {}), ordering_key, dedup_id)]),
                             batch=False)[0]

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
        return self._publish(self.events(messages), batch=True)

    def _publish(self, events: list[dict[str, Any]], batch: bool) -> list[str]:
        """POST ``events`` (split at 1 MB) under one deadline; a failed batch is a BatchError naming what went."""
        chunks = split_batches(events)
        client = self.client
        deadline = time.monotonic() + self.timeout
        accepted: list[str | None] = [None] * len(events)
        done = 0
        for chunk in chunks:
            try:
                def send(left: float, chunk: list[dict[str, Any]] = chunk) -> None:
                    # retry_total=0: the SDK's policy would retry some failures itself, outside this deadline
                    client.send(chunk, retry_total=0, **transport_options(left))

                call_until(deadline, send)
            except Exception as exc:  # noqa: BLE001
                error = _error(exc, self.endpoint)
                if not batch:
                    raise error from exc
                raise BatchError(f"{error}; {done} of {len(events)} event(s) were published before the failure "
                                 f"(their ids are in .accepted); not published: {len(events) - done}",
                                 accepted) from exc
            for event in chunk:
                accepted[done] = event["id"]
                done += 1
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

    if isinstance(exc, GaveUp):
        state = (f"answers {exc.last.status_code}" if isinstance(exc.last, HttpResponseError) and
                 exc.last.status_code else "is unreachable")
        return MessagingError(f"Event Grid topic {endpoint} {state}: {exc}")
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
    return EventGridTopic(logical_name, endpoint, schema, options.get("key_env") or DEFAULT_KEY_ENV,
                          timeout_option(options, url))


binds(backend, "topic")
