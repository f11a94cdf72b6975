"""The ONE runtime entry: a WSGI application serving the whole app, run by gunicorn in the image.

``gunicorn 'portafunc_container.runtime:create()'`` loads the app named by ``PORTAFUNC_APP`` (``MODULE:ATTR``,
importable from the working directory). Paths:

* ``/_portafunc/functions/NAME`` — where the platforms push a function's events (CloudEvents in binary or
  structured mode, Pub/Sub push envelopes, Cloud Scheduler POSTs); off unless ``PORTAFUNC_EVENTS`` says who
  authenticates them (:mod:`.inbound.push_auth`).
* ``/_portafunc/health`` — the probe path (200 once the app is loaded).
* anything else — the app's HTTP routes.

The body limit (``PORTAFUNC_MAX_BODY_BYTES``) is checked against Content-Length before a byte is read (413).
"""

from __future__ import annotations

import os
import threading
from typing import Any, Callable, Iterable, Mapping

from portafunc.app import App, HttpTrigger, QueueTrigger, ScheduleTrigger, StorageTrigger, TopicTrigger
from portafunc.errors import EventDecodeError
from portafunc.events import HttpResponse
from portafunc.invoke import MessageResult, handle_http, invoke_batch, invoke_event
from portafunc.kit.storage_filter import select

from . import outcome
from .inbound.push_auth import PushAuth
from .codecs import EVENT_PATH, HEALTH_PATH, RESERVED_PREFIX, http, queue, schedule, storage

TARGET = "container"


class Service:
    """The app as one HTTP service (a WSGI callable)."""

    def __init__(self, app: App, *, events: str | None = None, secret: str | None = None,
                 allowed_origins: Iterable[str] | None = None) -> None:
        self.app = app
        self.auth = PushAuth(events, secret, allowed_origins)

    # -- WSGI ------------------------------------------------------------------------------------------------------
    def __call__(self, environ: Mapping[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        from portafunc import invoke

        limit = invoke.MAX_BODY_BYTES
        length_text = environ.get("CONTENT_LENGTH") or ""
        try:
            length = int(length_text) if length_text else None
        except ValueError:
            return _send(start_response, HttpResponse.problem(400, "Bad Request", "Content-Length is not a number"))
        if length is not None and length > limit:
            return _send(start_response, self._refused(environ, _too_large(length, limit)))
        stream = environ.get("wsgi.input")
        body = stream.read(length if length is not None else limit + 1) if stream is not None else b""
        if len(body) > limit:  # a body sent without a length, read up to one byte past the limit: its size is unknown
            return _send(start_response, self._refused(environ, _too_large(None, limit)))
        native = http.from_environ(environ, body)
        resp = self.handle(native, stream=True)
        head = environ.get("REQUEST_METHOD") == "HEAD"
        if resp.streamed:
            if not head:  # each piece as the function produces it (the server sends it chunked)
                return _send_streamed(start_response, resp)
            resp.body  # noqa: B018 - a HEAD answer's body is produced to its end and not sent, as the pipeline does
        if head:
            resp.body = b""
        return _send(start_response, resp, head=head)

    def _refused(self, environ: Mapping[str, Any], resp: HttpResponse) -> HttpResponse:
        """A refusal made before the request was read, with the CORS headers every other answer carries."""
        from portafunc.cors import decorate_refusal
        from portafunc.events import decode_path

        raw_path = http.raw_path_of(environ)  # routed as the pipeline routes the request (an escaped "/" kept)
        return decorate_refusal(self.app, str(environ.get("REQUEST_METHOD") or "GET"), decode_path(raw_path) or "/",
                                environ.get("HTTP_ORIGIN"), resp, raw_path)

    # -- dispatch --------------------------------------------------------------------------------------------------
    def handle(self, native: Mapping[str, Any], stream: bool = False) -> HttpResponse:
        """Answer one request given in its JSON form (what the server read, or a saved event file); with ``stream``
        a streamed response may come back with its body still being produced (``resp.streamed``)."""
        path = native.get("path")
        if isinstance(path, str) and path.startswith(RESERVED_PREFIX):
            if path == HEALTH_PATH and native.get("method") in ("GET", "HEAD"):
                return HttpResponse(200, {"Content-Type": "application/json"}, b'{"status":"ok"}')
            if path.startswith(EVENT_PATH):
                return self.deliver(path[len(EVENT_PATH):], native)
            return HttpResponse.problem(404, "Not Found", f"no function serves {path[:200]}")
        try:
            request = http.decode_request(native)
        except EventDecodeError as exc:
            return HttpResponse.problem(400, "Bad Request", str(exc)[:300])
        return handle_http(self.app, request, target=TARGET, stream=stream)

    def deliver(self, function: str, native: Mapping[str, Any]) -> HttpResponse:
        """A push to one function, once the deliverer is authenticated."""
        from .codecs.fields import headers_of

        refused = self.auth.refusal(str(native.get("method")), headers_of(native.get("headers")))
        if refused is not None:
            return refused
        spec = self.app.functions.get(function)
        if spec is None or isinstance(spec.trigger, HttpTrigger):
            return HttpResponse.problem(404, "Not Found", f"no event function named {function[:100]!r}")
        if native.get("method") != "POST":
            resp = HttpResponse.problem(405, "Method Not Allowed", "deliveries are POSTs")
            resp.headers.add("Allow", "POST, OPTIONS")
            return resp
        try:
            return outcome.push_answer(self.run(function, native))
        except EventDecodeError as exc:
            return outcome.undecodable(str(exc))

    def run(self, function: str, native: Mapping[str, Any]) -> list[MessageResult]:
        """Decode the delivery with the function's family codec and run it; the per-event results."""
        spec = self.app.function(function)
        trig = spec.trigger
        if isinstance(trig, (QueueTrigger, TopicTrigger)):
            messages = queue.decode(native)
            results = invoke_batch(spec, messages, target=TARGET, native_context=native).results
            return outcome.after_last_attempt(spec, messages, results)
        if isinstance(trig, StorageTrigger):
            # a subscription filters where its platform can; the rest is filtered here (acknowledged, not run)
            return [invoke_event(spec, event, target=TARGET, native_context=native)
                    for event in select(trig, storage.decode(native))]
        if isinstance(trig, ScheduleTrigger):
            return [invoke_event(spec, schedule.decode(native), target=TARGET, native_context=native)]
        raise EventDecodeError(f"function {function!r} takes no events", expected="an event function")


def _too_large(size: int | None, limit: int) -> HttpResponse:
    said = f"{size} bytes" if size is not None else f"more than {limit} bytes"
    return HttpResponse.problem(413, "Content Too Large", f"request body is {said}; the limit is {limit}")


def _send(start_response: Callable[..., Any], resp: HttpResponse, head: bool = False) -> list[bytes]:
    body = resp.body if isinstance(resp.body, bytes) else bytes(resp.body)
    headers = [(k, v) for k, v in resp.headers.items() if k.lower() != "content-length"]
    if not head:
        headers.append(("Content-Length", str(len(body))))
    else:  # the length of the body GET sends, as the pipeline gave it (none when it could not tell: never a 0 for it)
        length = resp.headers.get("content-length")
        if length is not None:
            headers.append(("Content-Length", length))
    start_response(f"{resp.status} {_reason(resp.status)}", headers)
    return [body]


def _send_streamed(start_response: Callable[..., Any], resp: HttpResponse) -> Any:
    """A body still being produced: no Content-Length, its pieces handed to the server as they come (which closes
    the iterable, stopping the producer, if the client goes away)."""
    headers = [(k, v) for k, v in resp.headers.items() if k.lower() not in ("content-length", "transfer-encoding")]
    start_response(f"{resp.status} {_reason(resp.status)}", headers)
    return resp.chunks()  # type: ignore[attr-defined]


def _reason(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


_lock = threading.Lock()


def create(ref: str | None = None) -> Service:
    """The service for the app named by ``ref`` or ``PORTAFUNC_APP`` (gunicorn's application factory)."""
    from portafunc.loader import load_deployed_app

    with _lock:
        app, _, _ = load_deployed_app(ref or os.environ.get("PORTAFUNC_APP") or None)
        return Service(app)
