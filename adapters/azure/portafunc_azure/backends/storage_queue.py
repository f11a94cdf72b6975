"""``azqueue://ACCOUNT/QUEUE`` — a portafunc :class:`~portafunc.messaging.Queue` on Azure Storage Queues.

* Connection: the environment variable named by ``?connection=VAR``, else ``PORTAFUNC_AZQUEUE_CONNECTION``, else
  ``AzureWebJobsStorage`` (the setting the Functions host and the queue trigger use). It must be a storage
  connection string whose ``AccountName`` is ``ACCOUNT`` (Azurite: ``devstoreaccount1``).
* Encoding: message text is the base64 of the body, which is what the Functions host expects by default
  (``messageEncoding: base64``) and decodes before calling the function.
* Attributes and ordering keys travel in the portafunc JSON envelope (see :mod:`portafunc_azure.codecs.envelope`);
  ``dedup_id`` is not supported by Storage Queues and is ignored.
* ``receive`` hides messages for ``?visibility_timeout=`` seconds (default 30); ``ack`` deletes, ``nack`` updates the
  visibility timeout (which changes the pop receipt). ``?create=1`` creates the queue on first use.
* Failures: a request that cannot connect, drops, times out or gets 408/429/5xx is retried with exponential backoff
  and full jitter until ``?timeout=`` seconds (default 30) have passed since the call began, or after ``?retries=N``
  retries (default 10), whichever comes first; then a :class:`~portafunc.errors.MessagingError` says so (see
  :mod:`portafunc_azure.backends.retrying`). ``send_batch`` is one request per message, in order. If it fails part-way it
  raises :class:`~portafunc_azure.backends.retrying.BatchError`, whose ``accepted`` gives the ids of the messages already
  stored. A message is never reported as sent when it was not; one whose answer was lost can be stored without
  being reported (at-least-once).
* The SDK is imported on first use; one ``QueueClient`` per queue is reused.
"""

from __future__ import annotations

import base64
import binascii
import time
import uuid
from typing import Any, Iterable, Sequence
from urllib.parse import parse_qs, urlsplit

from portafunc.lazy import built_once
from portafunc.errors import BindingError, MessagingError
from portafunc.messaging.base import OutgoingMessage, ReceivedMessage, as_outgoing
from portafunc.plugins import binds

from ..codecs import envelope
from .retrying import BatchError, GaveUp, call_until, timeout_option, transport_options

MAX_MESSAGE_TEXT = 64 * 1024  # Storage Queue limit on the stored (base64) text


def connection_from_env(options: dict[str, str]) -> tuple[str, str]:
    """(connection string, variable name) for a binding's options."""
    import os

    names = [options["connection"]] if options.get("connection") else ["PORTAFUNC_AZQUEUE_CONNECTION",
                                                                          "AzureWebJobsStorage"]
    for name in names:
        value = os.environ.get(name)
        if value:
            return value, name
    raise BindingError(f"azqueue:// needs a storage connection string in {' or '.join(names)} "
                       "(Azurite: DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=...;"
                       "QueueEndpoint=http://127.0.0.1:10001/devstoreaccount1;)")


def account_name(conn: str) -> str | None:
    for part in conn.split(";"):
        key, _, value = part.partition("=")
        if key.strip().lower() == "accountname":
            return value.strip()
    if conn.strip().lower() == "usedevelopmentstorage=true":
        return "devstoreaccount1"
    return None


def raw_queue_client(conn: str, queue: str, create: bool = False, retries: int = 3) -> Any:
    """A ``QueueClient`` that sends text as given (portafunc does the base64 itself).

    SDK retries: exponential, 1 s then 3 s then 5 s (the SDK default starts at 15 s, far too long for a sender).
    :class:`StorageQueue` passes ``retries=0`` and retries by itself, against a deadline.
    """
    from azure.storage.queue import ExponentialRetry, QueueClient

    policy = ExponentialRetry(initial_backoff=1, increment_base=2, retry_total=retries)
    client = QueueClient.from_connection_string(conn, queue, retry_policy=policy, connection_timeout=10)
    if create:
        _create(client)
    return client


def _create(client: Any, **kwargs: Any) -> None:
    from azure.core.exceptions import ResourceExistsError

    try:
        client.create_queue(**kwargs)
    except ResourceExistsError:
        pass


def _error(exc: Exception, what: str, queue: str, account: str) -> MessagingError:
    from azure.core.exceptions import (ClientAuthenticationError, HttpResponseError, ResourceNotFoundError,
                                       ServiceRequestError)

    if isinstance(exc, GaveUp):
        state = (f"answers {exc.last.status_code}" if isinstance(exc.last, HttpResponseError) and
                 exc.last.status_code else "is unreachable")
        return MessagingError(f"{what}: storage account {account!r} {state} for queue {queue!r}: {exc}")
    if isinstance(exc, ResourceNotFoundError):
        return MessagingError(f"{what}: queue {queue!r} does not exist in storage account {account!r} "
                              f"(create it: az storage queue create -n {queue}, or add ?create=1 to the binding)")
    if isinstance(exc, ClientAuthenticationError) or (isinstance(exc, HttpResponseError)
                                                       and exc.status_code in (401, 403)):
        return MessagingError(f"{what}: access to queue {queue!r} in {account!r} denied: check the account key "
                              "or SAS in the connection string")
    if isinstance(exc, ServiceRequestError):
        return MessagingError(f"{what}: storage account {account!r} is unreachable: {exc}")
    return MessagingError(f"{what}: queue {queue!r} in {account!r} failed: {type(exc).__name__}: {exc}")


class StorageQueue:
    """One Storage Queue; created by :func:`backend` from an ``azqueue://`` URL."""

    def __init__(self, name: str, account: str, queue: str, options: dict[str, str]) -> None:
        self.name = name
        self.account = account
        self.queue = queue
        self.options = options
        self.visibility_timeout = int(options.get("visibility_timeout", "30"))
        self.timeout = timeout_option(options, f"azqueue://{account}/{queue}")
        self.retries = int(options.get("retries", "10"))

    @built_once
    def client(self) -> Any:
        conn, variable = connection_from_env(self.options)
        found = account_name(conn)
        if found and found != self.account:
            raise BindingError(f"azqueue://{self.account}/{self.queue}: the connection string in {variable} is for "
                               f"account {found!r}, not {self.account!r}")
        client = raw_queue_client(conn, self.queue, retries=0)
        if self.creates:
            self._call("create", lambda left: _create(client, **transport_options(left)))
        return client

    @property
    def creates(self) -> bool:
        """``?create=1``: the queue is created on first use (the first :attr:`client`) when it does not exist."""
        return self.options.get("create") in ("1", "true", "yes")

    def _call(self, what: str, fn: Any, deadline: float | None = None) -> Any:
        """``fn(seconds_left)`` retried on transient failures until the deadline; any failure as MessagingError."""
        try:
            return call_until(time.monotonic() + self.timeout if deadline is None else deadline, fn,
                              retries=self.retries)
        except (MessagingError, BindingError):
            raise
        except GaveUp as exc:
            raise _error(exc, what, self.queue, self.account) from exc.last
        except Exception as exc:  # noqa: BLE001
            raise _error(exc, what, self.queue, self.account) from exc

    # -- sending ------------------------------------------------------------------------------------------------
    def send(self, data: Any, *, attributes: dict[str, str] | None = None, ordering_key: str | None = None,
             dedup_id: str | None = None, delay_seconds: int = 0) -> str:
        msg = OutgoingMessage(data, dict(attributes or {}), ordering_key, dedup_id, delay_seconds)
        return self._send(self._text(msg), msg.delay_seconds, time.monotonic() + self.timeout)

    def send_batch(self, messages: Iterable[Any]) -> list[str]:
        """Storage Queues have no batch send: one request per message, in order, under one deadline; ids in input
        order. Every message is encoded and size-checked before the first is sent."""
        prepared = [(self._text(m), m.delay_seconds) for m in map(as_outgoing, messages)]
        deadline = time.monotonic() + self.timeout
        accepted: list[str | None] = [None] * len(prepared)
        for index, (text, delay) in enumerate(prepared):
            try:
                accepted[index] = self._send(text, delay, deadline)
            except MessagingError as exc:
                raise BatchError(f"{exc}; {index} of {len(prepared)} message(s) were sent before the failure "
                                 f"(their ids are in .accepted); not sent: {len(prepared) - index}",
                                 accepted) from exc
        return [str(i) for i in accepted]

    def _text(self, msg: OutgoingMessage) -> str:
        payload, _ = msg.payload()
        body = envelope.body_bytes(payload, msg.attributes, msg.ordering_key)
        text = base64.b64encode(body).decode("ascii")
        if len(text) > MAX_MESSAGE_TEXT:
            raise MessagingError(f"message for queue {self.queue!r} is {len(text)} bytes once base64-encoded; "
                                 f"Storage Queues accept at most {MAX_MESSAGE_TEXT}: store the payload in a blob "
                                 "and send its name")
        return text

    def _send(self, text: str, delay_seconds: int, deadline: float) -> str:
        client = self.client
        sent = self._call("send", lambda left: client.send_message(text, visibility_timeout=delay_seconds or None,
                                                                   **transport_options(left)), deadline)
        return str(sent.id)

    # -- receiving ----------------------------------------------------------------------------------------------
    def receive(self, max_messages: int = 10, wait: float = 0.0) -> Sequence[ReceivedMessage]:
        deadline = time.monotonic() + max(0.0, wait)
        client = self.client
        while True:
            got = self._call("receive", lambda left: list(client.receive_messages(
                messages_per_page=min(32, max(1, max_messages)), max_messages=max_messages,
                visibility_timeout=self.visibility_timeout, **transport_options(left))))
            if got or time.monotonic() >= deadline:
                return [self._neutral(m) for m in got]
            time.sleep(min(0.25, max(0.0, deadline - time.monotonic())))

    def _neutral(self, m: Any) -> ReceivedMessage:
        text = m.content if isinstance(m.content, str) else (m.content or b"").decode("utf-8", "replace")
        try:
            body = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            body = text.encode("utf-8")  # written by a producer that did not base64: hand it over as is
        try:
            payload, attributes, key = envelope.from_body(body)
        except Exception:  # noqa: BLE001 - a malformed envelope is handed over raw, not dropped
            payload, attributes, key = body, {}, None
        return ReceivedMessage(id=str(m.id), data=payload, attributes=attributes, ordering_key=key,
                               delivery_attempt=int(m.dequeue_count or 1), published_at=m.inserted_on,
                               source=f"azqueue://{self.account}/{self.queue}", native=m,
                               receipt={"pop_receipt": m.pop_receipt, "text": text})

    def ack(self, message: ReceivedMessage) -> None:
        client = self.client
        self._call("ack", lambda left: client.delete_message(message.id, message.receipt["pop_receipt"],
                                                             **transport_options(left)))

    def nack(self, message: ReceivedMessage, delay: float = 0.0) -> None:
        client = self.client
        updated = self._call("nack", lambda left: client.update_message(
            message.id, message.receipt["pop_receipt"], visibility_timeout=int(delay), **transport_options(left)))
        message.receipt["pop_receipt"] = updated.pop_receipt


def parse_url(url: str) -> tuple[str, str, dict[str, str]]:
    parts = urlsplit(url)
    account = parts.netloc
    queue = parts.path.strip("/")
    if parts.scheme != "azqueue" or not account or not queue or "/" in queue:
        raise BindingError(f"{url!r} is not azqueue://ACCOUNT/QUEUE")
    options = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    return account, queue, options


def backend(kind: str, url: str, logical_name: str) -> StorageQueue:
    """Entry point ``portafunc.backends: azqueue``."""
    if kind != "queue":
        raise BindingError(f"azqueue:// is a queue; topic {logical_name!r} needs eventgrid://HOST/api/events")
    account, queue, options = parse_url(url)
    return StorageQueue(logical_name, account, queue, options)


binds(backend, "queue")


def new_message_id() -> str:
    return str(uuid.uuid4())
