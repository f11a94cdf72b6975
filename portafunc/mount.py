"""Serve an existing ASGI 3 (FastAPI, Starlette) or WSGI (Flask, Django) app as one portafunc HTTP function.

``app.mount("/api", web_app)`` registers one ordinary HTTP function whose catch-all route ``/api/{path+}`` reaches
the web app; every cloud's front door, the pipeline (body limit, header checks, CORS, HEAD) and the contract kit
treat it like any other route. This module bridges the neutral :class:`HttpRequest` / :class:`HttpResponse` to the
two server interfaces, with the response buffered:

* the path given to the web app is the full, decoded request path, and the prefix is its ``root_path`` (ASGI) or
  ``SCRIPT_NAME`` (WSGI, with ``PATH_INFO`` the rest), so URLs the framework generates carry the prefix;
* the query string is the one the client sent (``HttpRequest.raw_query``: escapes, ``+``, empty values and key
  order kept), and is rebuilt from the decoded pairs only where the front door passes no raw form;
* ASGI apps run on one event loop kept for the whole process and driven by the invoking thread: the lifespan
  ``startup`` runs once, before the first request, its ``state`` is shared by every request, and ``shutdown`` runs
  at interpreter exit; a request returns when the app's coroutine has returned, so background tasks have finished.

Nothing here imports a framework, and ``import portafunc`` does not import this module; asyncio loads only when an
ASGI app serves its first request.
"""

from __future__ import annotations

import io
import itertools
import operator
import sys
import threading

from . import context, logs
from . import invoke as _invoke
from .caches import keep
from .errors import RegistrationError
from .events import (PATH_SAFE, Headers, HttpRequest, HttpResponse, _token_names, check_headers, decode_path,
                     quote_path, settled_scheme)

TYPE_CHECKING = False
if TYPE_CHECKING:
    import asyncio
    from typing import Any, Callable, Iterator, Mapping

    from .app import App, FunctionSpec
    from .routing import Route

_BRIDGE = "portafunc_bridge"
_SERVER_ERROR_AFTER_RESPONSE = ("the mounted app raised after its response was complete (an error it answered "
                                "itself, e.g. a 500, or a background task)")


def mount(app: App, prefix: str, web_app: Any, *, name: str | None = None) -> None:
    """Register ``web_app`` (ASGI 3 or WSGI) under ``prefix`` as one HTTP function of ``app``; see ``App.mount``."""
    prefix = _check_prefix(prefix)
    fname = name or _default_name(prefix)
    kind = interface_of(web_app)
    bridge = _AsgiBridge(web_app, prefix) if kind == "asgi" else _WsgiBridge(web_app, prefix)
    serve = bridge.serve

    def handler(req: HttpRequest) -> HttpResponse:
        return serve(req)

    handler.__name__ = handler.__qualname__ = fname
    vars(handler)["portafunc_mount"] = (prefix, web_app)  # app.openapi() includes a FastAPI app's own schema
    vars(handler)[_BRIDGE] = bridge  # what a front door's own lane (mount_lane) calls
    from .app import HTTP_METHODS

    app.http(list(HTTP_METHODS), f"{prefix}/{{path+}}", name=fname)(handler)
    from .routing import with_bare_path

    trigger = app.function(fname).trigger
    trigger.route = with_bare_path(trigger.route)  # type: ignore[union-attr]  # the prefix's own URL, "/api[/]"


def interface_of(web_app: Any) -> str:
    """``"asgi"`` for an ASGI 3 app (an async callable ``(scope, receive, send)``), ``"wsgi"`` for a WSGI app (a
    callable ``(environ, start_response)``); anything else is refused, with what was found."""
    import inspect

    if not callable(web_app):
        raise RegistrationError(f"mount: {type(web_app).__name__} is not an ASGI or WSGI app (not callable)")
    call = web_app if inspect.isfunction(web_app) or inspect.ismethod(web_app) else type(web_app).__call__
    try:
        params = [p for p in inspect.signature(call).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        params = []
    if call is not web_app:
        params = params[1:]  # self
    if inspect.iscoroutinefunction(call) or inspect.iscoroutinefunction(web_app):
        if len(params) == 3 or not params:
            return "asgi"
        raise RegistrationError(f"mount: {type(web_app).__name__} is async but does not take (scope, receive, send);"
                                " only ASGI 3 apps are supported")
    if len(params) == 2 or not params:
        return "wsgi"
    raise RegistrationError(f"mount: {type(web_app).__name__} takes {len(params)} arguments: neither an ASGI 3 app "
                            "(async, scope, receive, send) nor a WSGI app (environ, start_response)")


def _check_prefix(prefix: str) -> str:
    if not isinstance(prefix, str) or not prefix.startswith("/"):
        raise RegistrationError(f"mount prefix {prefix!r} must start with '/' (use '/' to mount at the root)")
    prefix = prefix.rstrip("/")
    if "{" in prefix or "}" in prefix:
        raise RegistrationError(f"mount prefix {prefix!r} cannot hold route parameters")
    return prefix


def _default_name(prefix: str) -> str:
    words = "".join(c if c.isalnum() else "_" for c in prefix).strip("_")
    return f"mount_{words}" if words else "mount_root"


# -- shared request translation ---------------------------------------------------------------------------------
def query_string(query: dict[str, list[str]]) -> str:
    """The query string of the decoded pairs, percent-encoded (space as ``%20``), repeated keys kept in order."""
    if not query:
        return ""
    from urllib.parse import quote

    return "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, values in query.items() for v in values)


# every printable ASCII character but space, '#' and '%'-escapes' own '%' kept as sent: only what cannot travel in a
# query (non-ASCII, controls, space) is percent-encoded, so an ASCII query string passes through byte for byte
_QUERY_SAFE = "".join(chr(c) for c in range(0x21, 0x7F) if chr(c) not in "#")


def request_query(req: HttpRequest) -> str:
    """The query string to give the web app, ASCII: the one the client sent where the front door kept it
    (``raw_query``), else rebuilt from the decoded pairs."""
    raw = req.raw_query
    if raw is None:
        return query_string(req.query)
    return app_query(raw)


def app_query(raw: str) -> str:
    """The query string the client sent (``raw_query``) as the web app gets it: ASCII, escapes kept."""
    if raw.isascii() and raw.isprintable() and " " not in raw and "#" not in raw:
        return raw
    from urllib.parse import quote

    return quote(raw, safe=_QUERY_SAFE)


def _proto(req: HttpRequest) -> str | None:
    """What names the scheme the web app gets: the scheme the request's server settled on where it decides which
    peers may name it (:func:`~portafunc.events.settled_scheme`: a client reaching that server directly cannot make
    it https), else the ``X-Forwarded-Proto`` the front end set."""
    settled = settled_scheme(req)
    return req.headers.get("x-forwarded-proto") if settled is None else settled


def _scheme_of(proto: str | None, host: str | None) -> str:
    if proto:
        return proto.split(",", 1)[0].strip().lower()
    return "http" if (host or "").startswith(("localhost", "127.0.0.1", "[::1]")) else "https"


def _server(host: str | None, scheme: str) -> tuple[str, int]:
    host = host or "localhost"
    name, sep, port = host.rpartition(":")
    if sep and port.isdigit() and (not name.startswith("[") or name.endswith("]")):
        return name, int(port)
    return host, 443 if scheme == "https" else 80


def _sent_path(raw: str) -> bytes:
    """A path as sent (its escapes kept, ``HttpRequest.raw_path``) as ASCII bytes: any other character encoded."""
    if raw.isascii():
        return raw.encode("ascii")
    from urllib.parse import quote

    return quote(raw, safe=PATH_SAFE + "%").encode("ascii")


def _raw_path(path: str) -> bytes:
    """The path percent-encoded as UTF-8 (what the client sent, up to equivalent escapes)."""
    return quote_path(path).encode("ascii")


# -- ASGI -------------------------------------------------------------------------------------------------------
class _Loop:
    """One event loop for every mounted ASGI app of the process, so lifespan state and connections made at startup
    live on the loop that serves every request, whichever thread the host invokes.

    The invoking thread drives the loop itself when no other thread does (always on Lambda, one request at a time):
    no thread handoff, which would cost more than the rest of the bridge. A request arriving while another thread
    drives the loop is submitted to it, and that thread takes over driving if the loop stops before its request is
    done; so concurrent requests (Azure, GCP and ``portafunc run`` serve several at once) still share the one loop.
    Between requests the loop is idle, as a Lambda environment is frozen: work an app leaves running after its
    response (other than its background tasks, which a request waits for) resumes with the next request.

    The worker threads anyio starts for the loop (FastAPI and Starlette run a synchronous endpoint in one) are ended
    when the process exits, before the interpreter waits for its threads: see :meth:`end_workers`.
    """

    _instance: _Loop | None = None

    def __init__(self) -> None:
        import asyncio

        self.loop = asyncio.new_event_loop()
        self.driver = threading.Lock()  # held by the thread running the loop
        register = getattr(threading, "_register_atexit", None)  # what concurrent.futures ends its threads with
        if register is not None:
            try:
                register(self.end_workers)
            except RuntimeError:  # made while the interpreter is already shutting down
                pass

    @classmethod
    def get(cls) -> _Loop:
        instance = cls._instance
        if instance is None:
            with _START:
                instance = cls._instance
                if instance is None:
                    instance = cls._instance = _Loop()
        return instance

    def run(self, coro: Any) -> Any:
        import asyncio

        if asyncio._get_running_loop() is not None:  # called from async code: drive from a thread of its own
            return self._run_in_thread(coro)
        loop = self.loop
        if self.driver.acquire(blocking=False):
            try:
                return loop.run_until_complete(coro)
            finally:
                self.driver.release()
        from concurrent.futures import TimeoutError as Pending

        future = asyncio.run_coroutine_threadsafe(coro, loop)
        while True:
            try:
                return future.result(timeout=0.002)
            except Pending:
                if not future.done() and self.driver.acquire(blocking=False):
                    try:  # the driving thread finished its own request and stopped the loop: drive it on
                        loop.run_until_complete(asyncio.wrap_future(future, loop=loop))
                    finally:
                        self.driver.release()

    def end_workers(self) -> None:
        """Tell the worker threads anyio started for this loop to end, each once its current call returns.

        Run once at interpreter exit, before the non-daemon threads are waited for (``atexit`` runs after that wait).
        A worker waits for more work until it is told to end, which anyio does when the task it counts as its root is
        done: here the request that started it; but the loop stops as soon as that request's response is complete,
        and runs that callback only when the next request drives it, which at exit none does. A worker started by a
        daemon thread (``portafunc run`` serves each request in one) is a daemon, left alone; one started later (by
        the lifespan ``shutdown`` at ``atexit``) ends with the call that started it.
        """
        anyio_asyncio = sys.modules.get("anyio._backends._asyncio")
        worker_class = getattr(anyio_asyncio, "WorkerThread", None)
        loop = self.loop
        if not isinstance(worker_class, type) or loop.is_closed():
            return
        workers = [t for t in threading.enumerate() if isinstance(t, worker_class) and not t.daemon
                   and getattr(t, "loop", None) is loop and getattr(t, "stopping", None) is False]
        if not workers:
            return
        ended = threading.Event()

        def end() -> None:  # changes the loop's lists of workers: only while no other thread runs the loop
            for worker in workers:
                if not worker.stopping:  # type: ignore[attr-defined]
                    worker.stop()  # type: ignore[attr-defined]
            ended.set()

        if not self.driver.acquire(blocking=False):  # a request in flight in another thread: between its steps
            try:
                loop.call_soon_threadsafe(end)
            except RuntimeError:  # closed meanwhile
                return
            import time

            deadline = time.monotonic() + 5  # a loop blocked by its app does not hold the exit up for long
            while not ended.wait(0.01):
                if time.monotonic() > deadline:
                    return
                if self.driver.acquire(blocking=False):  # that request ended and stopped the loop first
                    break
            else:
                return
        try:
            if not ended.is_set():
                end()
        finally:
            self.driver.release()

    def _run_in_thread(self, coro: Any) -> Any:
        result: list[Any] = []
        failure: list[BaseException] = []

        def target() -> None:
            try:
                result.append(self.run(coro))
            except BaseException as exc:  # noqa: BLE001 - re-raised in the calling thread
                failure.append(exc)

        thread = threading.Thread(target=target, name="portafunc-asgi")
        thread.start()
        thread.join()
        if failure:
            raise failure[0]
        return result[0]


_START = threading.Lock()  # made at import (one thread: the app's module registering its mounts), never raced


class LifespanFailed(RuntimeError):
    """The mounted ASGI app refused to start (``lifespan.startup.failed``): every request fails until a new start."""


class _AsgiBridge:
    def __init__(self, web_app: Any, prefix: str) -> None:
        self.web_app = web_app
        self.prefix = prefix
        self.state: dict[str, Any] = {}
        self._started = False
        self._startup_error: str | None = None
        self._shutdown: asyncio.Event | None = None
        self._lifespan_done: asyncio.Future[None] | None = None

    def serve(self, req: HttpRequest) -> HttpResponse:
        loop = self.start()
        return self.respond(loop, self.scope(req), req.body)

    def start(self) -> _Loop:
        """The loop serving the app, its lifespan started (once, before the first request's scope is built: the
        scope carries a copy of the lifespan's state)."""
        loop = _Loop.get()
        if not self._started:
            with _START:
                if not self._started:
                    loop.run(self._startup())
                    self._started = True
                    import atexit

                    atexit.register(self._stop, loop)
        if self._startup_error is not None:
            raise LifespanFailed(f"the mounted ASGI app failed to start: {self._startup_error}")
        return loop

    def respond(self, loop: _Loop, scope: dict[str, Any], body: bytes) -> HttpResponse:
        """The app's answer to one request (``scope`` and its ``body``) on the started ``loop``: buffered, or
        streamed when the app sends its body in pieces."""
        import asyncio

        if asyncio._get_running_loop() is None and loop.driver.acquire(blocking=False):
            try:  # no other thread drives the loop (always so on Lambda), and no loop runs in this one
                result = self._drive(loop, scope, body)
            finally:
                loop.driver.release()
        else:
            result = loop.run(self._request(scope, body))
        if isinstance(result, _Exchange):
            return self._streamed(loop, result)
        return result

    def _drive(self, loop: _Loop, scope: dict[str, Any], body: bytes) -> HttpResponse | _Exchange:
        """:meth:`_request` driven from this thread with one task, the app's: the loop runs until the exchange
        stops it (the response complete or its first piece arrived, or the app returned), with no future to wait
        for: one turn of the loop for a plain response, where waiting for a future took two."""
        aloop = loop.loop
        ex = _Exchange(body)
        ex.stop = aloop.stop
        task = ex.task = aloop.create_task(self._run(scope, ex))
        try:
            aloop.run_forever()
        finally:
            ex.stop = None  # the loop runs on for other requests and for this one's stream: never stopped by it
        if not (ex.complete or task.done()):
            task.add_done_callback(ex.wake)  # the stream's reader waits for the app's end too
            return ex
        if task.done() and not task.cancelled() and task.exception() is None and ex.started:
            return HttpResponse(ex.status, _decoded_headers(ex.headers), b"".join(ex.chunks))  # the usual case
        aloop.run_until_complete(ex.finish())  # background tasks still running, or a failure to raise or log
        return HttpResponse(ex.status, _decoded_headers(ex.headers), b"".join(ex.chunks))

    async def _run(self, scope: dict[str, Any], ex: _Exchange) -> None:
        """The app's call for :meth:`_drive`: the loop stops when it returns or fails, if nothing stopped it yet."""
        try:
            await self.web_app(scope, ex.receive, ex.send)
        finally:
            stop = ex.stop
            if stop is not None:
                stop()

    # lifespan ---------------------------------------------------------------------------------------------------
    async def _startup(self) -> None:
        import asyncio

        started: asyncio.Future[str | None] = asyncio.get_running_loop().create_future()
        shutdown = self._shutdown = asyncio.Event()
        sent_startup = False

        async def receive() -> dict[str, Any]:
            nonlocal sent_startup
            if not sent_startup:
                sent_startup = True
                return {"type": "lifespan.startup"}
            await shutdown.wait()
            return {"type": "lifespan.shutdown"}

        async def send(message: dict[str, Any]) -> None:
            kind = message.get("type")
            if kind == "lifespan.startup.complete" and not started.done():
                started.set_result(None)
            elif kind == "lifespan.startup.failed" and not started.done():
                started.set_result(str(message.get("message") or "lifespan.startup.failed"))

        async def run() -> None:
            scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}, "state": self.state}
            try:
                await self.web_app(scope, receive, send)
            except BaseException as exc:  # an app without lifespan support raises here: it is served without one
                if not started.done():
                    started.set_result(None)
                if not isinstance(exc, Exception):
                    raise
            finally:
                if not started.done():
                    started.set_result(None)

        self._lifespan_done = asyncio.ensure_future(run())
        self._startup_error = await started

    def _stop(self, loop: _Loop) -> None:
        """At interpreter exit (where the platform lets it run): ``lifespan.shutdown``, waited for a few seconds."""
        if self._shutdown is None or self._lifespan_done is None or self._lifespan_done.done():
            return
        import asyncio

        async def stop() -> None:
            assert self._shutdown is not None and self._lifespan_done is not None
            self._shutdown.set()
            await asyncio.wait([self._lifespan_done], timeout=5)

        try:
            loop.run(stop())
        except Exception:  # noqa: BLE001, S110 - the process is ending; nothing is left to report to
            pass

    # one request ------------------------------------------------------------------------------------------------
    def scope(self, req: HttpRequest) -> dict[str, Any]:
        # the ASGI list (lower-case names; the bytes sent: every front door reads them as UTF-8), and the first
        # value of the two the scope reads, found by a dict of the list read backwards (the first one wins)
        headers = [(k.lower().encode(), v.encode()) for k, v in req.headers._items]
        first = dict(reversed(headers))
        sent = first.get(b"host")
        host = None if sent is None else sent.decode()
        proto = settled_scheme(req)  # the scheme the request's server settled on, else the front end's header
        if proto is None:
            sent = first.get(b"x-forwarded-proto")
            proto = None if sent is None else sent.decode()
        scheme, server = _asgi_servers.get((proto, host)) or _asgi_server(proto, host)
        return {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "method": req.method,
            "scheme": scheme,
            "path": req.path,
            "raw_path": _raw_path(req.path) if req._raw_path is None else _sent_path(req._raw_path),
            "query_string": request_query(req).encode("ascii"),
            "root_path": self.prefix,
            "headers": headers,
            "client": (req.client_ip, 0) if req.client_ip else None,
            "server": server,
            "state": dict(self.state),
        }

    def scope_of(self, native: Mapping[str, Any], method: str, path: str, raw_query: str, client_ip: str | None
                 ) -> dict[str, Any]:
        """:meth:`scope` of the request a WSGI front door decodes from its environ ``native``, built from that
        environ directly: its ``HTTP_*`` keys (and ``CONTENT_TYPE``, ``CONTENT_LENGTH``) are the request's headers,
        in the environ's order. ``path``, ``raw_query`` and ``client_ip`` are what the front door's codec reads
        (``tests/gcp/test_gcp_mount_lane.py`` compares the two)."""
        headers: list[tuple[bytes, bytes]] = []
        for key, value in native.items():
            if key[:5] == "HTTP_":
                if key != "HTTP_CONTENT_TYPE" and key != "HTTP_CONTENT_LENGTH":
                    headers.append((key[5:].replace("_", "-").lower().encode("latin-1"), value.encode("latin-1")))
            elif (key == "CONTENT_TYPE" or key == "CONTENT_LENGTH") and value:
                headers.append((key.replace("_", "-").lower().encode("latin-1"), value.encode("latin-1")))
        host = native.get("HTTP_HOST")
        proto = native.get("HTTP_X_FORWARDED_PROTO")
        scheme, server = _asgi_servers.get((proto, host)) or _asgi_server(proto, host)
        sent = native.get("RAW_URI") or native.get("REQUEST_URI")  # the request target, escapes kept
        sent = sent.partition("?")[0] if sent.__class__ is str and "%" in sent else None
        return {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "method": method,
            "scheme": scheme,
            "path": path,
            "raw_path": _sent_path(sent) if sent and sent[:1] == "/" and decode_path(sent) == path
            else _raw_path(path),
            "query_string": app_query(raw_query).encode("ascii"),
            "root_path": self.prefix,
            "headers": headers,
            "client": (client_ip, 0) if client_ip else None,
            "server": server,
            "state": dict(self.state),
        }

    async def _request(self, scope: dict[str, Any], body: bytes) -> HttpResponse | _Exchange:
        """Run the app until its response is complete (then until its coroutine returns: background tasks), or
        until the first piece of a body it sends in several pieces: that exchange is returned, to be streamed."""
        import asyncio

        ex = _Exchange(body)
        task = ex.task = asyncio.ensure_future(self.web_app(scope, ex.receive, ex.send))
        task.add_done_callback(ex.wake)
        ready = ex.ready_event()
        while not task.done() and not (ex.started and (ex.complete or ex.chunks)):
            ready.clear()
            await ready.wait()
        if ex.complete or task.done():
            await ex.finish()
            return HttpResponse(ex.status, _decoded_headers(ex.headers), b"".join(ex.chunks))
        return ex

    def _streamed(self, loop: _Loop, ex: _Exchange) -> HttpResponse:
        from .streaming import StreamedResponse

        first = b"".join(ex.chunks)
        ex.chunks = []

        def rest() -> Iterator[bytes]:
            while True:
                chunks, more = loop.run(ex.take())
                yield from chunks
                if not more:
                    break
            loop.run(ex.finish())

        def close() -> None:
            if not ex.task.done():
                loop.run(ex.abort())

        return StreamedResponse(ex.status, _decoded_headers(ex.headers), first, rest(), close)


def _asgi_server(proto: str | None, host: str | None) -> tuple[str, tuple[str, int]]:
    """The scope's ``scheme`` and ``server`` for the scheme named (:func:`_proto`: the request's settled scheme, else
    its ``X-Forwarded-Proto``) and the ``Host`` a request sent, kept for the next request with the same two (256
    pairs at most, emptied when full)."""
    scheme = _scheme_of(proto, host)
    found = scheme, _server(host, scheme)
    return keep(_asgi_servers, (proto, host), found, 256)


_asgi_servers: dict[tuple[str | None, str | None], tuple[str, tuple[str, int]]] = {}


def _decoded_headers(pairs: list[tuple[str, str]]) -> Headers:
    """The response headers of an exchange, taken as they are: ``send`` decoded every name and value to text
    already (``Headers``' per-item conversion would only copy them); the response checks them as any other."""
    headers = Headers()
    headers._items = pairs
    return headers


_ROOM = 1 << 20  # body bytes an ASGI app may send ahead of a front door that has not taken them yet


class _Exchange:
    """One request's messages with the ASGI app; the app runs as a task of the one loop, so a body it sends in
    pieces can be handed to the front door piece by piece, across several runs of the loop.

    Its three events are made when something first waits on one (every wait clears or checks its condition first,
    so an event made late is the event that would have been there): a plain response waits on none."""

    # every field starts as the class's value until a request sets it: only the lists are made per request
    body_sent = False
    status = 500
    pending = 0  # the size of the chunks
    started = False
    complete = False  # the app sent its last body message
    ready: asyncio.Event | None = None  # something for the front door: a message, or the app's end
    room: asyncio.Event | None = None  # the front door took what was pending
    disconnected: asyncio.Event | None = None  # set once ``gone``: receive() says so
    gone = False  # the response is out (or the client is gone)
    task: asyncio.Future[None]  # set right after the exchange is made
    stop: Callable[[], None] | None = None  # while _drive runs the loop: stops it at the first thing for the front door

    def __init__(self, body: bytes) -> None:
        self.body = body
        self.headers: list[tuple[str, str]] = []
        self.chunks: list[bytes] = []  # sent by the app, not yet taken by the front door

    def ready_event(self) -> asyncio.Event:
        import asyncio

        if self.ready is None:
            self.ready = asyncio.Event()
        return self.ready

    def disconnect(self) -> None:
        self.gone = True
        if self.disconnected is not None:
            self.disconnected.set()

    def make_room(self) -> None:
        if self.room is not None:
            self.room.set()

    def wake(self, _: Any = None) -> None:
        stop = self.stop
        if stop is not None:
            stop()
        if self.ready is not None:
            self.ready.set()

    async def receive(self) -> dict[str, Any]:
        if not self.body_sent:
            self.body_sent = True
            return {"type": "http.request", "body": self.body, "more_body": False}
        if not self.gone:  # a disconnect only once the response is out, as a server would see it
            import asyncio

            if self.disconnected is None:
                self.disconnected = asyncio.Event()
            await self.disconnected.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: dict[str, Any]) -> None:
        kind = message.get("type")
        if kind == "http.response.start":
            self.started = True
            self.status = int(message["status"])
            self.headers.extend([(k.decode("latin-1"), v.decode("latin-1")) for k, v in message.get("headers", ())])
        elif kind == "http.response.body" and not self.complete:
            chunk = message.get("body", b"")
            if chunk:
                self.chunks.append(bytes(chunk))
                self.pending += len(chunk)
            if not message.get("more_body", False):
                self.complete = True
                self.disconnect()
            if chunk or self.complete:
                self.wake()
            if self.pending > _ROOM and not self.complete:  # the front door is slower than the app: wait for it
                import asyncio

                room = self.room
                if room is None:
                    room = self.room = asyncio.Event()
                room.clear()
                await room.wait()

    async def take(self) -> tuple[list[bytes], bool]:
        """The pieces sent since the last call, waiting for one; and whether more may follow."""
        while not self.chunks and not self.complete and not self.task.done():
            ready = self.ready_event()
            ready.clear()
            await ready.wait()
        chunks, self.chunks, self.pending = self.chunks, [], 0
        self.make_room()
        return chunks, not (self.complete or self.task.done())

    async def finish(self) -> None:
        """Wait for the app's coroutine to return; a failure is raised while the response is incomplete, else
        logged with its traceback (the response is out: the app answered the error itself, as Starlette sends its
        500 and then raises, or a background task failed)."""
        self.disconnect()
        try:
            await self.task
        except Exception as exc:
            if not self.complete:
                raise
            from .logs import error

            # where it was raised, as a handler's failure says it (the full traceback the first time per place)
            error(_SERVER_ERROR_AFTER_RESPONSE, error_type=type(exc).__name__, error=str(exc),
                  traceback=_invoke._traceback(exc))
        if not self.started:
            raise RuntimeError("the mounted ASGI app returned without sending a response")

    async def abort(self) -> None:
        """The front door gave up on the body (the client went away): tell the app, then stop it."""
        import asyncio

        self.disconnect()
        self.make_room()
        for _ in range(3):  # an app listening for the disconnect ends by itself
            if self.task.done():
                break
            await asyncio.sleep(0)
        if not self.task.done():
            self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)


# -- WSGI -------------------------------------------------------------------------------------------------------
_first = operator.itemgetter(0)
_eq = operator.eq
_repeat = itertools.repeat  # the usual spelling of Content-Length found without a frame per header: see call()

_WSGI_CONSTANTS = {"SERVER_PROTOCOL": "HTTP/1.1", "wsgi.version": (1, 0), "wsgi.input_terminated": True,
                   "wsgi.multithread": True, "wsgi.multiprocess": False, "wsgi.run_once": False}


def _wsgi_server(proto: str | None, host: str | None) -> dict[str, str]:
    """The environ keys the scheme named (:func:`_proto`) and ``Host`` decide (scheme, server name and port), kept
    for the next request with the same two (a bounded number of them)."""
    scheme = _scheme_of(proto, host)
    name, port = _server(host, scheme)
    keys = {"wsgi.url_scheme": scheme, "SERVER_NAME": name, "SERVER_PORT": str(port)}
    return keep(_wsgi_servers, (proto, host), keys, 256)


_wsgi_servers: dict[tuple[str | None, str | None], dict[str, str]] = {}


class _WsgiBridge:
    def __init__(self, web_app: Callable[..., Any], prefix: str) -> None:
        self.web_app = web_app
        self.prefix = prefix
        self.script_name = _wsgi_str(prefix)
        self.constants = {**_WSGI_CONSTANTS, "SCRIPT_NAME": self.script_name}  # what every request's environ holds

    def environ(self, req: HttpRequest) -> dict[str, Any]:
        environ = self._fill({}, req.method, req.path, request_query(req), req.headers.get("host"), _proto(req),
                             req.client_ip, req.body)
        for name, value in req.headers.items():
            key = name.upper()
            if "_" in key:  # HTTP_X_A would be ambiguous between "x-a" and "x_a": dropped, as gunicorn and nginx do
                continue
            key = key.replace("-", "_")
            if key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
                if key == "CONTENT_TYPE":
                    environ[key] = _wsgi_str(value)
                continue
            key = "HTTP_" + key
            value = _wsgi_str(value)
            if key in environ:
                environ[key] += ("; " if key == "HTTP_COOKIE" else ", ") + value
            else:
                environ[key] = value
        return environ

    def environ_of(self, native: Mapping[str, Any], method: str, path: str, raw_query: str, client_ip: str | None,
                   body: bytes) -> dict[str, Any]:
        """:meth:`environ` of the request a WSGI front door decodes from ``native``, its own environ, built from a
        copy of that environ: every key :meth:`environ` sets has the value it would have (the request's headers are
        the ``HTTP_*`` keys and ``CONTENT_TYPE``, given back under the same keys), and the server's own keys
        (``REQUEST_URI``, ``REMOTE_PORT``, ...) stay, as under any WSGI server. ``path``, ``raw_query`` and
        ``client_ip`` are what the front door's codec reads for the request (``tests/gcp/test_gcp_mount_lane.py``
        compares the two)."""
        # its header values are the bytes sent, as PEP 3333 strings: kept as they are. What _fill writes, written
        # here in place (a request's whole environ in a few dict operations)
        environ = dict(native)
        environ.update(self.constants)
        environ.update(_wsgi_servers.get((native.get("HTTP_X_FORWARDED_PROTO"), native.get("HTTP_HOST")))
                       or _wsgi_server(native.get("HTTP_X_FORWARDED_PROTO"), native.get("HTTP_HOST")))
        prefix = self.prefix
        if prefix:
            path = path[len(prefix):] if path.startswith(prefix) else path
        environ.update({"REQUEST_METHOD": method, "PATH_INFO": path if path.isascii() else _wsgi_str(path),
                        "QUERY_STRING": app_query(raw_query) if raw_query else "", "REMOTE_ADDR": client_ip or "",
                        "CONTENT_LENGTH": str(len(body)), "wsgi.input": io.BytesIO(body), "wsgi.errors": sys.stderr})
        if "CONTENT_TYPE" in environ and not environ["CONTENT_TYPE"]:
            del environ["CONTENT_TYPE"]
        environ.pop("HTTP_CONTENT_TYPE", None)  # werkzeug reads these as the entity headers: not headers of their own
        environ.pop("HTTP_CONTENT_LENGTH", None)
        return environ

    def _fill(self, environ: dict[str, Any], method: str, path: str, query: str, host: str | None,
              proto: str | None, client_ip: str | None, body: bytes) -> dict[str, Any]:
        """``environ`` with the request's own keys set (every key but its headers), written into it."""
        server = _wsgi_servers.get((proto, host)) or _wsgi_server(proto, host)
        prefix = self.prefix
        environ.update(self.constants)  # and SCRIPT_NAME
        environ.update(server)  # wsgi.url_scheme, SERVER_NAME, SERVER_PORT
        environ["REQUEST_METHOD"] = method
        if prefix:
            path = path[len(prefix):] if path.startswith(prefix) else path
        environ["PATH_INFO"] = path if path.isascii() else _wsgi_str(path)
        environ["QUERY_STRING"] = query
        environ["REMOTE_ADDR"] = client_ip or ""
        environ["CONTENT_LENGTH"] = str(len(body))
        environ["wsgi.input"] = io.BytesIO(body)
        environ["wsgi.errors"] = sys.stderr
        return environ

    def serve(self, req: HttpRequest) -> HttpResponse:
        return self.respond(self.environ(req))

    def respond(self, environ: dict[str, Any]) -> HttpResponse:
        """The web app's answer to ``environ`` as a response: buffered, or streamed when it sends an iterable
        body without announcing its length."""
        status, headers, body, rest, close = self.call(environ)
        if rest is not None:
            from .streaming import StreamedResponse

            return StreamedResponse(status, Headers(headers), body, _bytes_of(rest), close or _nothing)
        return HttpResponse(status, Headers(headers), body)

    def call(self, environ: dict[str, Any]) -> tuple[int, list[tuple[str, str]], bytes, Iterator[Any] | None,
                                                     Callable[[], Any] | None]:
        """One WSGI call: status, headers, the body (its first piece when the rest is still to come), the rest
        (None when the body is whole: the app's iterable is then closed) and the iterable's ``close``."""
        status_line = ""
        headers: list[tuple[str, str]] = []
        chunks: list[bytes] = []

        def start_response(status: str, response_headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            nonlocal status_line, headers
            if exc_info is not None and status_line and chunks:
                raise exc_info[1].with_traceback(exc_info[2])
            status_line = status
            headers = list(response_headers)
            return chunks.append

        result = self.web_app(environ, start_response)
        close = getattr(result, "close", None)
        streamed = None
        try:
            if isinstance(result, (list, tuple)):  # the whole body at once
                chunks.extend(bytes(chunk) for chunk in result if chunk)
            else:  # an iterable: the first piece (start_response may be called only then), then maybe a stream
                iterator = iter(result)
                for chunk in iterator:
                    if chunk:
                        chunks.append(bytes(chunk))
                        if not (any(map(_eq, _repeat("Content-Length"), map(_first, headers)))
                                or any(name.lower() == "content-length" for name, _ in headers)):
                            streamed = iterator  # no length announced: the rest is sent as it comes
                            break
        except BaseException:
            if close is not None:
                close()
            raise
        if not status_line:
            if close is not None:
                close()
            raise RuntimeError("the mounted WSGI app returned without calling start_response")
        status = int(status_line.split(" ", 1)[0])
        body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        if streamed is not None:
            return status, headers, body, streamed, close
        if close is not None:
            close()
        return status, headers, body, None, None


# -- a front door's own lane -----------------------------------------------------------------------------------
def mount_lane(app: App, method: str, path: str, function: str | None = None
               ) -> tuple[FunctionSpec, _WsgiBridge | _AsgiBridge] | None:
    """The function and bridge of the mounted app (WSGI or ASGI) a request reaches (the one named ``function``,
    where the platform routed it), when :func:`serve_lane` may answer it in place of
    :func:`portafunc.invoke.handle_http`: nothing of the pipeline's would act on it (no CORS, HEAD, auth object,
    middleware, exception handlers, OpenTelemetry or DEBUG timing). None otherwise."""
    if method == "HEAD" or app._cors_used or app._exception_handlers or logs._threshold <= 10:
        return None
    spec: FunctionSpec | None
    if function is None:
        known = _mount_index.get(id(app))
        plan = None if known is None or known[0] is not app._routes else \
            known[2] or known[1].get(path[1:].partition("/")[0])
        if plan is not None and method in plan[1] and plan[2](path) is not None:
            spec = plan[0]  # _routed's answer, its lookups inline
        else:
            spec = _routed(app, method, path)
            if spec is None:
                return None
    else:
        spec = app._functions.get(function)
        if spec is None or method not in getattr(spec.trigger, "methods", ()):
            return None
    bridge = _lane_bridges.get(spec)
    if bridge is None:
        bridge = _lane_bridge(spec)
        keep(_lane_bridges, spec, bridge, 4096)
    if bridge is False or _invoke._otel is not None or (spec.routers or app._middleware) and _invoke._chain(spec):
        return None
    return spec, bridge  # type: ignore[return-value]


_lane_bridges: dict[FunctionSpec, _WsgiBridge | _AsgiBridge | bool] = {}  # what cannot change after registration


def _routed(app: App, method: str, path: str) -> FunctionSpec | None:
    """``app._match(method, path, None)[0]``, found without the route search for a path under a mount that no
    other route can reach (:func:`_sole_mounts`): its route's own match then gives the same answer."""
    table = app._routes
    if table is not None:
        known = _mount_index.get(id(app))
        if known is None or known[0] is not table:
            known = (table, *_sole_mounts(app))
            keep(_mount_index, id(app), known, 256)
        plan = known[2] or known[1].get(path[1:].partition("/")[0])
        if plan is not None and method in plan[1] and plan[2](path) is not None:
            return plan[0]
    return app._match(method, path, None)[0]


def mount_matches(route: Route, path: str) -> bool:
    """``route.match(path) is not None`` for a mount's route (``{prefix}/{path+}`` with its bare path), without the
    parameters: its pattern's match alone decides."""
    return (route._pattern or route.pattern).fullmatch(path) is not None


_MountPlan = tuple["FunctionSpec", "frozenset[str] | tuple[str, ...]", "Callable[[str], Any]"]
"""A mount's function, the methods its route serves and its route's ``fullmatch`` (:func:`mount_matches`)."""

_mount_index: dict[int, tuple[Any, dict[str, _MountPlan], _MountPlan | None]] = {}
"""Per app (by id, with the route table it was read from): the mounts no other route can reach, by their prefix's
first path segment, and a mount at the root that is the app's only HTTP function."""


def _sole_mounts(app: App) -> tuple[dict[str, _MountPlan], _MountPlan | None]:
    sole, root = _sole_mount_specs(app)
    return {segment: _plan(spec) for segment, spec in sole.items()}, None if root is None else _plan(root)


def _plan(spec: FunctionSpec) -> _MountPlan:
    trig = spec.trigger
    route = trig.route  # type: ignore[union-attr]
    return spec, trig.methods, (route._pattern or route.pattern).fullmatch  # type: ignore[union-attr]


def _sole_mount_specs(app: App) -> tuple[dict[str, FunctionSpec], FunctionSpec | None]:
    """The mounts whose prefix's first segment no other HTTP route's template starts with (a parameter there could
    be anything): only they can match a path starting with that segment. A root mount qualifies only alone."""
    routes = list(app.http_functions())
    mounts = {spec: bridge.prefix for spec in routes if (bridge := vars(spec.handler).get(_BRIDGE)) is not None}
    if len(routes) == 1 and mounts.get(routes[0]) == "":
        return {}, routes[0]
    firsts = [(spec, spec.trigger.route.template[1:].partition("/")[0]) for spec in routes]  # type: ignore[union-attr]
    sole: dict[str, FunctionSpec] = {}
    for spec, prefix in mounts.items():
        segment = prefix[1:].partition("/")[0]
        if prefix and not any(other is not spec and (first == segment or "{" in first) for other, first in firsts):
            sole[segment] = spec
    return sole, None


def _lane_bridge(spec: FunctionSpec) -> _WsgiBridge | _AsgiBridge | bool:
    """The bridge of a mounted app whose function has no auth object or idempotency (False otherwise)."""
    bridge = vars(spec.handler).get(_BRIDGE)
    auth = spec.trigger.auth  # type: ignore[union-attr]
    if not isinstance(bridge, (_WsgiBridge, _AsgiBridge)) or (auth is not None and not isinstance(auth, str)) \
            or spec.idempotency_key is not None:
        return False
    return bridge


def serve_lane(spec: FunctionSpec, bridge: _WsgiBridge | _AsgiBridge, build: Callable[..., dict[str, Any]],
               body: bytes, invocation_id: str | None, target: str, request: HttpRequest | Callable[[Any], HttpRequest],
               front: Any, parts: bool = True, stream: bool = True, args: tuple[Any, ...] = ()
               ) -> tuple[int, list[tuple[str, str]], bytes] | HttpResponse:
    """What :func:`portafunc.invoke.handle_http` does for a request :func:`mount_lane` found: the app gets what
    ``build(*args)`` returns, the environ (WSGI) or scope (ASGI) the general path would give it for that request (built
    inside the invocation, after an ASGI app's lifespan started), and ``body``; the invocation (the request is
    ``request``, or ``request(front)`` built only if the invocation's context is read, whose ``native`` is then the native
    context; else ``front`` is), log lines and failures are the pipeline's. A whole body comes back as ``(status, headers, body)``,
    checked as :class:`HttpResponse` checks them, for the front door to encode as it encodes that response; anything
    else, or everything when not ``parts``, as the response the general path gives. Without ``stream`` (a front
    door that sends bodies whole) a body the app sends in pieces is read to its end within the invocation, as
    ``handle_http`` reads it."""
    invoke = _invoke
    if invoke._logging_pending and "logging" in sys.modules:
        invoke._setup_logging(target)
    inv_id = invocation_id or context.new_id()
    token = invoke._enter((_invocation, spec, request, front, inv_id, target))
    answer: tuple[int, list[tuple[str, str]], bytes] | HttpResponse
    try:
        if len(body) > invoke.MAX_BODY_BYTES:
            answer = HttpResponse.problem(413, "Content Too Large",
                                          f"request body is {len(body)} bytes; the limit is {invoke.MAX_BODY_BYTES}")
        elif isinstance(bridge, _WsgiBridge):
            status, headers, whole, rest, close = bridge.call(build(*args))
            if rest is not None:
                from .streaming import StreamedResponse

                answer = StreamedResponse(status, Headers(headers), whole, _bytes_of(rest), close or _nothing)
            elif parts and _checked_text(headers):
                answer = (status, headers, whole)
            else:
                answer = HttpResponse(status, Headers(headers), whole)
        else:
            loop = bridge.start()
            resp = bridge.respond(loop, build(*args), body)
            answer = resp if resp.streamed or not parts else (resp.status, resp.headers._items, resp.body)
        if not stream and answer.__class__ is not tuple and answer.streamed:  # type: ignore[union-attr]
            answer.body  # type: ignore[union-attr]  # noqa: B018 - reading it waits for the whole body
        status = answer[0] if answer.__class__ is tuple else answer.status  # type: ignore[union-attr]
        outcome = "success" if status < 500 else "error"
    except Exception as exc:  # noqa: BLE001 - as invoke_http: any failure is a response
        answer, outcome = invoke._http_failed(exc, inv_id, None)
        status = answer.status
    finally:
        invoke._leave(token)
    if status >= 400 and outcome != "error":
        logs.log("INFO", "request rejected", function=spec.name, status=status, invocation_id=inv_id)
    return answer


def _invocation(spec: FunctionSpec, request: HttpRequest | Callable[[Any], HttpRequest], front: Any, inv_id: str,
                target: str) -> Any:
    from .invoke import _http_invocation

    if isinstance(request, HttpRequest):
        return _http_invocation(spec, request, inv_id, target, front)
    req = request(front)
    return _http_invocation(spec, req, inv_id, target, req.native)  # the front door's own request object


def _checked_text(headers: list[tuple[str, str]]) -> bool:
    """Whether every name and value is text (else the response's own conversion takes them), each checked as
    :func:`~portafunc.events.check_headers` checks it, in one pass."""
    known = _token_names
    for name, value in headers:
        if name.__class__ is not str or name not in known or value.__class__ is not str or not value.isprintable():
            break  # the usual header is checked by the test above; anything else as before, exactly
    else:
        return True
    for name, value in headers:
        if name.__class__ is not str or value.__class__ is not str:
            return False
    check_headers(headers)
    return True


def _bytes_of(chunks: Iterator[Any]) -> Iterator[bytes]:
    for chunk in chunks:
        if chunk:
            yield bytes(chunk)


def _nothing() -> None:
    pass


def _wsgi_str(text: str) -> str:
    """PEP 3333's native string: the UTF-8 bytes of ``text`` read as latin-1."""
    return text if text.isascii() else text.encode("utf-8").decode("latin-1")
