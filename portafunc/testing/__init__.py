"""Cross-provider contract testing: write a test once, run it on every installed target.

``cloud`` (a pytest fixture from :mod:`.plugin`) is a :class:`Cloud`: each call encodes a neutral input into that
target's real native event with the adapter's own encoder, drives the adapter's real entry point (Lambda handler,
generated Azure FunctionApp, functions-framework app) and decodes the native answer back to neutral. Every
exchange is kept, so a failing assertion shows which target disagreed and the native event and response.
"""

from __future__ import annotations

import json as _json
import os
import re
from datetime import datetime, timezone
from typing import Any

from ..app import App, QueueTrigger, StorageTrigger, TopicTrigger
from ..errors import PortafuncError
from ..events import (PATH_SAFE, Headers, HttpRequest, HttpResponse, Message, ScheduleEvent, StorageEvent,
                      decode_path, encode_payload)
from ..targets import Driver, Exchange, get_target


class ContractError(PortafuncError):
    """The contract kit was asked for something the app does not have."""


class Delivery:
    """The neutral outcome of delivering messages or an event: which ids the cloud would redeliver."""

    def __init__(self, target: str, exchanges: list[Exchange]) -> None:
        self.target = target
        self.exchanges = exchanges
        self.ids: list[str] = []
        self.failed_ids: list[str] = []
        for ex in exchanges:
            self.ids.extend(i for i in ex.ids if i not in self.ids)
            self.failed_ids.extend(i for i in ex.failed_ids if i not in self.failed_ids)

    @property
    def ok(self) -> bool:
        return not self.failed_ids

    def __repr__(self) -> str:
        return f"Delivery({self.target}: ids={self.ids}, failed_ids={self.failed_ids})"


class Cloud:
    """One target, driven from neutral inputs. ``name`` is ``aws``, ``azure`` or ``gcp``."""

    def __init__(self, name: str, driver: Driver | None = None) -> None:
        self.name = name
        self.driver = driver or get_target(name).driver()
        self.exchanges: list[Exchange] = []
        self._counter = 0

    def __repr__(self) -> str:
        return f"Cloud({self.name})"

    def _new_id(self) -> str:
        self._counter += 1
        return f"5f0c{os.urandom(2).hex()}-0000-4000-8000-{self._counter:012d}"

    def _keep(self, exchange: Exchange) -> Exchange:
        self.exchanges.append(exchange)
        return exchange

    # -- HTTP -------------------------------------------------------------------------------------------------
    def http(self, app: App, method: str, path: str, *, json: Any = None, body: bytes | str | None = None,
             headers: dict[str, str | list[str]] | None = None,
             query: dict[str, str | list[str]] | None = None) -> HttpResponse:
        """Send one request through the target's HTTP front door; returns the neutral response.

        ``path`` is spelt as in a URL: a ``%XX`` escape in it is sent as is (``/files/a%2Fb``: one segment whose
        decoded value holds a "/"), anything a request line cannot carry is percent-encoded as UTF-8 (``/café``,
        ``/a b``), a ``%`` starting no escape as ``%25``. The handler gets it decoded in ``req.path`` and as sent
        in ``req.raw_path``."""
        hdrs = Headers(headers or {})
        raw = b""
        if json is not None:
            raw, _ = encode_payload(json)
            if "content-type" not in hdrs:
                hdrs.add("Content-Type", "application/json")
        elif body is not None:
            raw = body.encode() if isinstance(body, str) else body
        q = {k: (list(v) if isinstance(v, (list, tuple)) else [v]) for k, v in (query or {}).items()}
        raw_path = _wire_path(path)
        request = HttpRequest(method, decode_path(raw_path), query=q, headers=hdrs, body=raw,
                              raw_path=raw_path if "%" in raw_path else None)
        exchange = self._keep(self.driver.http(app, request))
        if exchange.response is None:
            raise ContractError(f"{self.name}: the HTTP driver returned no response")
        return exchange.response

    # -- messages ---------------------------------------------------------------------------------------------
    def enqueue(self, app: App, queue: str, items: list[Any] | tuple[Any, ...], *,
                attributes: dict[str, str] | None = None, published_at: datetime | None = None) -> Delivery:
        """Deliver ``items`` (a list or tuple of payloads, one message each) as one batch to the function consuming
        ``queue``. Anything else is a ContractError: a dict or a string would otherwise be iterated into one message
        per key or character; to send one message, pass ``[payload]``.

        ``published_at`` (an aware datetime; default: now) is when the cloud says each message was sent, as
        ``msg.published_at`` reads it, in UTC and to the millisecond (what SQS carries) on every target; an item
        that is already a ``Message`` keeps its own."""
        if not isinstance(items, (list, tuple)):
            raise ContractError(f"enqueue(): items must be a list of payloads, one per message, not "
                                f"{type(items).__name__}; to send one message, pass [payload]")
        if not items:
            raise ContractError("enqueue(): items is empty; a cloud never delivers an empty batch")
        spec = _one(app, lambda t: isinstance(t, QueueTrigger) and t.queue == queue, f"queue {queue!r}")
        when = _event_time(published_at, "published_at", millis=True)
        messages = [self._message(item, attributes, when) for item in items]
        return Delivery(self.name, [self._keep(self.driver.messages(app, spec.name, messages))])

    def publish(self, app: App, topic: str, data: Any, *, attributes: dict[str, str] | None = None,
                published_at: datetime | None = None) -> Delivery:
        """Deliver one published message to every function subscribed to ``topic``; ``published_at`` as for
        :meth:`enqueue`."""
        specs = [s for s in app if isinstance(s.trigger, TopicTrigger) and s.trigger.topic == topic]
        if not specs:
            raise ContractError(f"app {app.name!r} has no function subscribed to topic {topic!r}")
        message = self._message(data, attributes, _event_time(published_at, "published_at", millis=True))
        return Delivery(self.name, [self._keep(self.driver.messages(app, s.name, [_copy(message)])) for s in specs])

    def _message(self, item: Any, attributes: dict[str, str] | None, when: datetime) -> Message[Any]:
        if isinstance(item, Message):
            return item
        data, _ = encode_payload(item)
        return Message(id=self._new_id(), data=data, attributes=dict(attributes or {}), published_at=when)

    # -- events -----------------------------------------------------------------------------------------------
    def storage(self, app: App, bucket: str, key: str, *, event: str = "created", size: int | None = 0,
                etag: str | None = "d41d8cd98f00b204e9800998ecf8427e", time: datetime | None = None) -> Delivery:
        """Deliver an object-storage event to every function watching ``bucket`` for ``event``.

        ``time`` (an aware datetime; default: now) is when the change happened, as ``evt.time`` reads it (in UTC)."""
        specs = [s for s in app if isinstance(s.trigger, StorageTrigger) and s.trigger.bucket == bucket
                 and event in s.trigger.events]
        if not specs:
            raise ContractError(f"app {app.name!r} has no function for {event} events of bucket {bucket!r}")
        evt = StorageEvent(bucket, key, event, size, etag, _event_time(time, "time"), self._new_id())
        return Delivery(self.name, [self._keep(self.driver.event(app, s.name, evt)) for s in specs])

    def schedule(self, app: App, function: str, *, time: datetime | None = None) -> Delivery:
        """Fire a schedule function as the cloud's scheduler would; ``time`` (an aware datetime; default
        2026-01-01 03:00 UTC) is the scheduled instant, as ``evt.time`` reads it (in UTC)."""
        app.function(function)
        when = _event_time(time, "time") if time is not None else datetime(2026, 1, 1, 3, 0, tzinfo=timezone.utc)
        evt = ScheduleEvent(when, id=self._new_id())
        return Delivery(self.name, [self._keep(self.driver.event(app, function, evt))])

    # -- dead letters -----------------------------------------------------------------------------------------
    def dead_letters(self, app: App, function: str) -> list[Message]:
        """What ``function`` dead-lettered so far: the messages in its dead-letter queue (``dead_letter=`` or
        ``PORTAFUNC_DEADLETTER_<FUNCTION>``), each with ``portafunc_error`` / ``portafunc_original_id`` attributes.

        Works for ``memory://`` bindings (the kit's default); a function without a dead letter is a ContractError,
        so a test cannot pass by reading an empty list that nothing would ever fill.
        """
        from ..invoke import dead_letter_destination
        from ..messaging.binding import resolve_url
        from ..messaging.memory import broker

        spec = app.function(function)
        destination = dead_letter_destination(spec)
        if destination is None:
            raise ContractError(f"function {function!r} has no dead letter: declare dead_letter=\"QUEUE\" on its "
                                "decorator")
        url = destination if "://" in destination else resolve_url("queue", destination)[0]
        if not url.startswith("memory://"):
            raise ContractError(f"dead letter {destination!r} of {function!r} is bound to {url}; the contract kit "
                                "reads memory:// queues only")
        name = url[len("memory://"):].split("?", 1)[0].strip("/") or destination
        return list(broker().queue(name).peek())

    # -- failure output ---------------------------------------------------------------------------------------
    def describe_exchanges(self, limit: int = 6000) -> str:
        parts = []
        for ex in self.exchanges[-4:]:
            parts.append(f"--- {ex.target}: native event\n{_dump(ex.native_event)}\n"
                         f"--- {ex.target}: native response\n{_dump(ex.native_response)}")
        text = "\n".join(parts)
        return text if len(text) <= limit else text[:limit] + "\n… (truncated)"


def _event_time(value: datetime | None, name: str, *, millis: bool = False) -> datetime:
    """The instant an event builder puts in the native event: ``value`` in UTC (``millis``: cut to the millisecond,
    the finest an SQS message time carries), so every target reads back the same instant; None: now, to the second.
    A naive datetime is refused: which zone it means would be a guess."""
    if value is None:
        return datetime.now(timezone.utc).replace(microsecond=0)
    if not isinstance(value, datetime):
        raise ContractError(f"{name}= must be a datetime with a time zone, not {type(value).__name__}")
    if value.utcoffset() is None:
        raise ContractError(f"{name}={value.isoformat()} is a naive datetime: the clouds' events carry instants; "
                            "pass an aware one, e.g. datetime(2026, 1, 1, 3, 0, tzinfo=timezone.utc)")
    utc = value.astimezone(timezone.utc)
    return utc.replace(microsecond=utc.microsecond // 1000 * 1000) if millis else utc


_LONE_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")


def _wire_path(path: str) -> str:
    """``path`` as a request line carries it: its escapes kept, the rest percent-encoded (see :meth:`Cloud.http`)."""
    from urllib.parse import quote

    return _LONE_PERCENT.sub("%25", quote(path, safe=PATH_SAFE + "%"))


def _copy(message: Message[Any]) -> Message[Any]:
    return Message(message.id, message.data, dict(message.attributes), message.ordering_key,
                   message.delivery_attempt, message.published_at, message.source)


def _one(app: App, predicate: Any, what: str) -> Any:
    for spec in app:
        if predicate(spec.trigger):
            return spec
    raise ContractError(f"app {app.name!r} has no function consuming {what}")


def _dump(value: Any) -> str:
    try:
        return _json.dumps(value, indent=2, default=repr, ensure_ascii=False)
    except (TypeError, ValueError):
        return repr(value)


__all__ = ["Cloud", "ContractError", "Delivery"]
