"""The contract driver and the invoke harness: the real WSGI entry (:class:`runtime.Service`) called with a real
environ, and the real pull worker settling a received batch.

HTTP goes to the app's routes; a topic message is pushed to ``/_portafunc/functions/NAME`` as a binary-mode
CloudEvent; a queue batch is settled by the worker (what Container Apps runs against a Storage Queue) on a queue
that records each ack and retry; storage events and schedule ticks are pushed as CloudEvents / Cloud Scheduler
POSTs. Event deliveries run with ``PORTAFUNC_EVENTS=platform`` (the platform authenticated them).
"""

from __future__ import annotations

import io
import threading
import weakref
from typing import Any, Mapping
from urllib.parse import unquote

from portafunc.app import App, QueueTrigger
from portafunc.errors import EventDecodeError
from portafunc.events import HttpRequest, Message, ScheduleEvent, StorageEvent
from portafunc.messaging.base import ReceivedMessage
from portafunc.targets import Driver, Exchange

from .codecs import EVENT_PATH, http, queue, schedule, storage
from .codecs.fields import body_of, headers_of, is_request
from .runtime import Service

_services: weakref.WeakKeyDictionary[App, Service] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def service_for(app: App) -> Service:
    with _lock:
        found = _services.get(app)
        if found is None:
            found = _services[app] = Service(app, events="platform")
        return found


def call(service: Service, native: Mapping[str, Any]) -> dict[str, Any]:
    """One request through the WSGI entry, as a WSGI server would make it (PEP 3333); the native response."""
    if not is_request(native):
        raise EventDecodeError("a container event is an HTTP request in its JSON form",
                               expected="see `portafunc events new --target container http`")
    body = body_of(native, "request")
    path = native["path"]
    query = native.get("query_string") or ""
    headers = headers_of(native.get("headers"))
    peer = native.get("remote_addr", http.LOCAL_PEER)
    scheme = native.get("scheme") if native.get("scheme") in ("http", "https") else "http"
    proto = headers.get("x-forwarded-proto")
    if proto is not None and http.forwarded_trusted(peer):  # gunicorn's rule: the exact value "https" says https
        scheme = "https" if proto == "https" else "http"
    environ: dict[str, Any] = {
        "REQUEST_METHOD": native["method"], "SCRIPT_NAME": "",
        "PATH_INFO": unquote(path.split("?", 1)[0]).encode("utf-8").decode("latin-1"),
        "RAW_URI": path + (f"?{query}" if query else ""), "QUERY_STRING": query, "SERVER_NAME": "localhost",
        "SERVER_PORT": "8080", "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": peer,
        "wsgi.version": (1, 0), "wsgi.url_scheme": scheme, "wsgi.input": io.BytesIO(body), "wsgi.errors": io.StringIO(),
        "wsgi.multithread": True, "wsgi.multiprocess": True, "wsgi.run_once": False, "CONTENT_LENGTH": str(len(body)),
    }
    for name, value in headers.items():
        if "_" in name:  # gunicorn drops it (header_map="drop", its default): its key would be the "-" name's
            continue
        key = name.upper().replace("-", "_")
        latin = value.encode("utf-8").decode("latin-1")
        if key == "CONTENT_TYPE":
            environ["CONTENT_TYPE"] = latin
        elif key != "CONTENT_LENGTH":
            key = f"HTTP_{key}"
            if key not in environ:
                environ[key] = latin
            elif key == "HTTP_COOKIE":  # one cookie-string, as the platform's front end delivers it (RFC 6265 §5.4,
                environ[key] = f"{environ[key]}; {latin}"  # RFC 9113 §8.2.3): a "," would end up inside a value
            else:
                environ[key] = f"{environ[key]},{latin}"  # as gunicorn joins repeats
    answer: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
        answer["status"], answer["headers"] = int(status.split(" ", 1)[0]), headers

    chunks = b"".join(service(environ, start_response))
    from .codecs.fields import put_body

    return put_body(chunks, {"statusCode": answer["status"],
                             "headers": [[k, v.encode("latin-1").decode("utf-8", "replace")]
                                         for k, v in answer["headers"] if k.lower() != "content-length"]})


def invoke(app: App, function: str, native: Any) -> dict[str, Any]:
    """``portafunc invoke --target container``: an event request goes to the function's event path, an HTTP request
    to the app's routes (the function's own route must match it)."""
    spec = app.function(function)
    request = dict(native) if isinstance(native, Mapping) else native
    if is_request(request) and spec.kind != "http":
        request["path"] = f"{EVENT_PATH}{function}"
    return call(service_for(app), request)


class _RecordingQueue:
    """The queue a driven worker settles messages on: it records each ack and retry."""

    def __init__(self) -> None:
        self.acked: list[str] = []
        self.retried: list[str] = []

    def receive(self, max_messages: int = 10, wait: float = 0.0) -> list[ReceivedMessage]:
        return []

    def ack(self, message: ReceivedMessage) -> None:
        self.acked.append(message.id)

    def nack(self, message: ReceivedMessage, delay: float = 0.0) -> None:
        self.retried.append(message.id)


class ContainerDriver(Driver):
    target = "container"

    def http(self, app: App, request: HttpRequest) -> Exchange:
        native = http.encode_request(request)
        answer = call(service_for(app), native)
        return Exchange(self.target, native, answer, response=http.decode_response(answer))

    def messages(self, app: App, function: str, messages: list[Message[Any]]) -> Exchange:
        spec = app.function(function)
        if isinstance(spec.trigger, QueueTrigger):
            from .worker import Consumer

            recorder = _RecordingQueue()
            received = [ReceivedMessage(m.id, m.data, dict(m.attributes), m.ordering_key, m.delivery_attempt,
                                        m.published_at, m.source, receipt=i) for i, m in enumerate(messages)]
            settled = Consumer(spec, recorder, require_dead_letter=False).process(received)
            natives = [queue.envelope(m) for m in messages]
            failed = settled["retry"] + settled["dead-letter"]
            return Exchange(self.target, natives, settled, ids=[m.id for m in messages],
                            failed_ids=[m.id for m in messages if m.id in failed])
        service = service_for(app)
        natives, answers, failed = [], [], []
        for msg in messages:
            native = queue.encode(msg, "cloudevent", f"{EVENT_PATH}{function}")
            answer = call(service, native)
            natives.append(native)
            answers.append(answer)
            if not 200 <= answer["statusCode"] < 300:
                failed.append(msg.id)
        return Exchange(self.target, natives, answers, ids=[m.id for m in messages], failed_ids=failed)

    def event(self, app: App, function: str, event: StorageEvent | ScheduleEvent) -> Exchange:
        path = f"{EVENT_PATH}{function}"
        if isinstance(event, StorageEvent):
            native = storage.encode(event, "cloudevent", path)
        else:
            native = schedule.encode(event, "scheduler", path)
        answer = call(service_for(app), native)
        event_id = event.id or ""
        failed = [] if 200 <= answer["statusCode"] < 300 else [event_id]
        return Exchange(self.target, native, answer, ids=[event_id], failed_ids=failed)
