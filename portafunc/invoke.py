"""The invocation pipeline: decoded neutral event → validate → call → neutral result.

Adapters decode native events and encode results; everything between, including error mapping, lives here so the
three clouds behave the same:

* HTTP: payload validation failure → 400 ``application/problem+json`` listing the field errors; ``HttpError`` (and
  ``BadRequest``) → its status, title and headers (a 5xx logged as a failure); body over the limit → 413; any other
  exception → 500 with no internals (logged with the invocation id).
* Messages: validation failure / :class:`NonRetryableError` → *non-retryable*: forwarded to the function's dead-letter
  destination and acknowledged; with no destination configured it is logged loudly and reported failed, so the
  broker's own dead-letter policy (written by ``portafunc package`` from ``max_attempts``) takes it — never lost, never
  retried forever. Any other exception → retryable. Batches report per-message outcomes; ordered (FIFO) batches stop
  at the first failure and report it and every later message.
"""

from __future__ import annotations

import os
import sys
import time
from enum import Enum
from types import MethodType

from . import context, logs
from .context import Invocation
from .app import App, FunctionSpec, HttpTrigger, QueueTrigger, StorageTrigger, TopicTrigger
from .caches import keep
from .routing import slash_escaped, unescape
from .errors import (BadRequest, HttpError, NonRetryableError, PayloadValidationError, PortafuncError,
                     _KnownErrors)
from .events import (Headers, HttpRequest, HttpResponse, Message, ScheduleEvent, StorageEvent, check_headers,
                     checked_status, encode_payload, refuse_non_finite)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Iterable, Sequence

_find = bytes.find
_enter = context._current.set  # bound methods: the per-message path skips two function frames
_leave = context._current.reset
_current = context._current.get

_logging_pending = True
_modules = sys.modules
_LOGGING = "logging"
_otel: Any = None
"""portafunc.otel's Instrumentation while OpenTelemetry is on (spans and metrics per invocation), else None."""


def _setup_logging(target: str) -> None:
    """On the first invocation once ``logging`` is loaded (by the platform or the app: else no record can exist
    yet, and portafunc's own first line sets it up): every log record of the process through one structured
    formatter with the invocation's ids (portafunc.logsetup). ``import portafunc`` never loads ``logging``."""
    global _logging_pending
    _logging_pending = False
    try:
        from .logsetup import SHAPES, install

        install(target if target in SHAPES else None)
    except Exception as exc:  # noqa: BLE001 - logging set-up must never fail an invocation
        logs.warning("log set-up failed; records are written unformatted", error=repr(exc)[:200])
    _setup_otel()  # OpenTelemetry loads logging: a process using it always gets here


def _setup_otel() -> None:
    """Turn portafunc.otel on when ``PORTAFUNC_OTEL=on``, or (``auto``) when OpenTelemetry is loaded and a provider
    is set or ``OTEL_*_EXPORTER`` names an exporter; never imports OpenTelemetry otherwise."""
    setting = os.environ.get("PORTAFUNC_OTEL", "auto").strip().lower()
    if setting in ("off", "0", "false", "no") or (
            setting == "auto" and "opentelemetry.trace" not in _modules and "opentelemetry.metrics" not in _modules
            and not os.environ.get("OTEL_TRACES_EXPORTER") and not os.environ.get("OTEL_METRICS_EXPORTER")):
        return
    try:
        if setting == "auto":
            from .otel_probe import configured, exporter_named

            if not exporter_named() and not configured():  # loaded by a library, set up by nobody: stays off
                return
        from .otel import configure_from_environment

        configure_from_environment()
    except Exception as exc:  # noqa: BLE001 - telemetry set-up must never fail an invocation
        logs.warning("OpenTelemetry set-up failed; no spans or metrics are recorded", error=repr(exc)[:200],
                     hint="pip install 'portafunc[otel]'")


MAX_BODY_BYTES = int(os.environ.get("PORTAFUNC_MAX_BODY_BYTES", str(10 * 1024 * 1024)))


class Outcome(str, Enum):
    SUCCESS = "success"
    RETRY = "retry"  # failed, retryable: the broker must redeliver it
    DEAD_LETTERED = "dead_lettered"  # failed for good, forwarded to the dead-letter destination: acknowledge it
    REJECTED = "rejected"  # failed for good, no dead-letter destination: report failed so the broker's DLQ takes it
    SKIPPED = "skipped"  # not attempted (an earlier message of an ordered batch failed): must be redelivered


class MessageResult:
    """What happened to one message or event."""

    __slots__ = ("message_id", "outcome", "error", "value")

    def __init__(self, message_id: str, outcome: Outcome, error: str | None = None, value: Any = None) -> None:
        self.message_id = message_id
        self.outcome = outcome
        self.error = error
        self.value = value

    def __repr__(self) -> str:
        return f"MessageResult({self.message_id!r}, {self.outcome.value}, error={self.error!r})"

    @property
    def must_redeliver(self) -> bool:
        """True when the adapter must report this message failed to its broker."""
        return self.outcome is not _SUCCESS and self.outcome is not _DEAD_LETTERED


_SUCCESS = Outcome.SUCCESS
_DEAD_LETTERED = Outcome.DEAD_LETTERED
_RETRY = Outcome.RETRY
_WARNING = 30  # logs' number for WARNING: a failure's line is built only when it is written
_ERROR = 40
_new_batch = object.__new__


class BatchResult:
    """Per-message outcomes of a batch, so adapters make only the failed messages retry.

    ``invoke_batch`` records a success as its bare message id (a handler that returned None, the usual case) or an
    ``(id, value)`` pair, and builds the MessageResult objects only if ``results`` is read: adapters usually need
    just ``failed_ids``, most messages succeed, and a batch of 10,000 then holds 10,000 references, not objects.
    """

    __slots__ = ("_results", "_pending", "_unsuccessful")

    def __init__(self, results: list[MessageResult] | None = None) -> None:
        self._results: list[MessageResult] | None = results if results is not None else []
        self._pending: list[Any] | None = None
        self._unsuccessful = 0


    @property
    def results(self) -> list[MessageResult]:
        results = self._results
        if results is None:
            results = self._results = [
                MessageResult(r, _SUCCESS) if isinstance(r, str) else
                MessageResult(r[0], _SUCCESS, None, r[1]) if r.__class__ is tuple else r
                for r in self._pending or ()]
            self._pending = None
        return results

    @results.setter
    def results(self, value: list[MessageResult]) -> None:
        self._results, self._pending = value, None

    def __repr__(self) -> str:
        return f"BatchResult({len(self.results)} messages, failed={self.failed_ids})"

    @property
    def ids(self) -> list[str]:
        return [r.message_id for r in self.results]

    @property
    def failed_ids(self) -> list[str]:
        """Messages the broker must see as failed (redelivered, or dead-lettered by the broker's policy)."""
        pending = self._pending
        if pending is not None:
            if not self._unsuccessful:
                return []
            # must_redeliver's test, inline, in a loop (a comprehension is a frame of its own before Python 3.12):
            # read once per failing batch, where each call frame shows
            failed = []
            for r in pending:
                if r.__class__ is MessageResult and r.outcome is not _SUCCESS and r.outcome is not _DEAD_LETTERED:
                    failed.append(r.message_id)
            return failed
        return [r.message_id for r in self.results
                if r.outcome is not _SUCCESS and r.outcome is not _DEAD_LETTERED]

    @property
    def ok(self) -> bool:
        return not self.failed_ids


# -- calling the handler -----------------------------------------------------------------------------------------

_loop_holder: Any = None


def _run_async(coro: Any) -> Any:
    """Run a coroutine on a per-thread event loop that is kept between invocations (asyncio loaded on demand)."""
    global _loop_holder
    import asyncio
    import threading

    if _loop_holder is None:
        _loop_holder = threading.local()
    loop = getattr(_loop_holder, "loop", None)
    if loop is None or loop.is_closed():
        loop = asyncio.new_event_loop()
        _loop_holder.loop = loop
    return loop.run_until_complete(coro)


def _validate(model: Any, data: bytes | str, source: Any, validate: Any = None) -> Any:
    """``data`` validated as ``model``; ``source`` (the request or message) only names it in the error.
    ``validate``: the function doing it (``_validator(model)``), when the caller looked it up already. A message's
    payload is given as the text it arrived as when it has one (``msg._text or msg.data``): pydantic reads text as
    its UTF-8 bytes, so the result and errors are the same, without the encode and the bytes object."""
    try:
        return (validate or model.model_validate_json)(data)
    except ValueError as exc:
        invalid = _invalid(model, exc, source)
        if invalid is None:
            raise
        raise invalid from None


def _invalid(model: Any, exc: ValueError, source: Any) -> PayloadValidationError | None:
    """The typed error for ``exc``, pydantic's refusal of ``source``'s payload as ``model``; None for another
    ValueError (raised as it is)."""
    errors_fn = getattr(exc, "errors", None)
    if errors_fn is None:
        return None
    try:  # pydantic's: without the input values (a payload's content is never logged nor answered back)
        found = errors_fn(include_url=False, include_input=False, include_context=False)
    except TypeError:  # an errors() without those options
        found = errors_fn()
    items = []
    for e in found:  # a loop, not a comprehension: before Python 3.12 that is a frame of its own
        items.append((tuple(e.get("loc", ())), e.get("msg", ""), e.get("type", "")))
    what = "request body" if isinstance(source, HttpRequest) else f"message {getattr(source, 'id', '')}"
    return PayloadValidationError(f"{what} does not match {model.__name__}: {len(items)} error(s)",
                                  _errors_of(tuple(items)))


def _errors_of(items: tuple[tuple[Any, Any, Any], ...]) -> list[dict[str, Any]] | _KnownErrors:
    """A rejection's errors, given as ``(loc, msg, type)`` each: held by their content when their log line's text
    is remembered already (``_redacted_errors``, keyed alike), so that only a reader of ``errors`` builds the list of
    dicts; else that list."""
    try:
        logged = _redacted_errors.get(items) if len(items) <= MAX_LOGGED_ERRORS else None
    except TypeError:  # a location part that cannot be a key: not from pydantic
        logged = None
    if logged is not None:
        return _KnownErrors(items, logged)
    errors = []
    for loc, msg, kind in items:
        errors.append({"loc": list(loc), "msg": msg, "type": kind})
    return errors


def _validator(model: Any) -> Any:
    """``model.model_validate_json``, or pydantic's compiled validator itself when the model does not override that
    classmethod: its wrapper costs about as much as validating a small payload. Looked up once per batch."""
    plain = _plain_models.get(model)
    if plain is None:
        plain = _plain_models[model] = _inherits_base_validate_json(model)
    if plain:
        try:
            return model.__pydantic_validator__.validate_json
        except Exception:  # noqa: BLE001 - e.g. a model not fully defined yet: the classmethod says why
            pass
    return model.model_validate_json


_plain_models: dict[Any, bool] = {}


def _inherits_base_validate_json(model: Any) -> bool:
    for klass in getattr(model, "__mro__", ()):
        if "model_validate_json" in vars(klass):
            return klass.__name__ == "BaseModel" and klass.__module__ == "pydantic.main"
    return False


def _call(spec: FunctionSpec, event: Any) -> Any:
    plan = spec.call_plan()
    if spec.message_model is not None and isinstance(event, Message) and not event._has_body:
        event.with_body(_validate(spec.message_model, event._text or event.data, event))
    if len(plan) == 1 and plan[0].source == "event":
        result = spec.handler(event)
    elif plan[0].source == "http":  # typed parameters, body or response model (portafunc.params)
        signature = plan[0].model
        result = spec.handler(**signature.arguments(event))
        if spec.is_async:
            result = _run_async(result)
        return signature.respond(result)
    else:
        kwargs: dict[str, Any] = {}
        for param in plan:
            if param.source == "event":
                kwargs[param.name] = event
            elif isinstance(event, HttpRequest):
                body = event.body
                if _find(body, b"NaN") != -1 or _find(body, b"Infinity") != -1:
                    refuse_non_finite(body)  # pydantic takes NaN/Infinity as floats; JSON has neither
                kwargs[param.name] = _validate(param.model, body, event)
            else:
                kwargs[param.name] = _validate(param.model, event.data, event)
        result = spec.handler(**kwargs)
    if spec.is_async:
        result = _run_async(result)
    return result


def _idempotent_http(spec: FunctionSpec, req: HttpRequest, target: str) -> HttpResponse:
    """At most one run per idempotency key; duplicates get the first response (loaded only when a key is set)."""
    from .idempotency import run_http

    return run_http(spec, req, lambda: to_response(_call(spec, req)), target)


def _idempotent_message(spec: FunctionSpec, msg: Message, target: str) -> Any:
    from .idempotency import run_message

    return run_message(spec, msg, lambda: _call(spec, msg), target)


def _chain(spec: FunctionSpec) -> list[Any]:
    """The middleware wrapping ``spec``, outermost first: the app's, then those of the routers it came through."""
    kind = spec.trigger.kind
    return [m for source in (spec.app, *spec.routers) for m in source._middleware
            if m.kinds is None or kind in m.kinds]


def _run_chain(chain: list[Any], event: Any, core: Any, core_in_loop: bool) -> Any:
    global _run_chain
    from .middleware import run

    _run_chain = run  # the import, once
    return run(chain, event, core, core_in_loop)


def _http_through_middleware(spec: FunctionSpec, req: HttpRequest, target: str, chain: list[Any]) -> HttpResponse:
    run = _http_chain(spec, target)
    if run:
        return to_response(run(req))

    def core(r: HttpRequest) -> HttpResponse:
        return to_response(_call(spec, r)) if spec.idempotency_key is None else _idempotent_http(spec, r, target)

    return to_response(_run_chain(chain, req, core, not spec.is_async and spec.idempotency_key is None))


def _http_chain(spec: FunctionSpec, target: str) -> Any:
    """The middleware wrapping an HTTP function, composed once around its call (:func:`portafunc.middleware.compose`):
    the callable; None when no middleware wraps it; False when one is ``async`` (the chain then runs per request as
    before). Kept while the app's and routers' middleware lists hold the same middleware (compared one by one)."""
    return _http_chain_entry(spec, target)[2]


def _http_chain_entry(spec: FunctionSpec, target: str) -> tuple[list[Any], str, Any, list[list[Any]], Any]:
    """The entry of :data:`_http_chains` for ``spec`` as its middleware is now (made again when it changed)."""
    found = _http_chains.get(spec)
    if found is not None and found[0] == spec.app._middleware and found[1] == target \
            and (not spec.routers or found[3] == [r._middleware for r in spec.routers]):
        return found
    chain = _chain(spec)
    run: Any = None
    outer: Any = None
    if chain:
        from .middleware import _link, outermost

        outer = outermost(chain, _http_core(spec, target)) or False
        run = outer and _link(*outer)
    entry = (list(spec.app._middleware), target, run, [list(r._middleware) for r in spec.routers], outer)
    return keep(_http_chains, spec, entry, 4096)


_http_chains: dict[FunctionSpec, tuple[list[Any], str, Any, list[list[Any]], Any]] = {}
"""Per HTTP function: the app's middleware list as it was, the target, the composition (:func:`_http_chain`), the
routers' lists, and the composition as its outermost middleware and that one's ``call_next`` (the direct lane's
call, one frame less); None without middleware, False with an async one."""


def _http_core(spec: FunctionSpec, target: str) -> Callable[[HttpRequest], HttpResponse]:
    """What the innermost ``call_next`` runs: the function, its result as a response (``_call`` for every kind of
    handler; a synchronous typed handler called through its signature directly, as ``_call`` does it)."""
    if spec.idempotency_key is not None:
        def idempotent(r: HttpRequest) -> HttpResponse:
            return _idempotent_http(spec, r, target)

        return idempotent
    if _http_lane(spec) is True:
        def plain(r: HttpRequest) -> HttpResponse:
            return to_response(spec.handler(r))  # what _call does for handler(req) alone

        return plain
    respond = _typed_responder(spec)
    if respond is not None:
        # the handler as it is now, as _call reads it: one frame, not two (a method object calls 14 ns faster than a
        # partial)
        return MethodType(respond, spec)

    def general(r: HttpRequest) -> HttpResponse:
        return to_response(_call(spec, r))

    return general


def _typed_responder(spec: FunctionSpec) -> Any:
    """``RouteSignature.responder()`` (``respond(spec, req)``) of a synchronous handler with typed parameters,
    body or response model; else None (also when it cannot be built: ``_call`` then fails the request as it always
    has)."""
    if spec.is_async:
        return None
    try:
        plan = spec.call_plan()
        return plan[0].model.responder() if len(plan) == 1 and plan[0].source == "http" else None
    except Exception:  # noqa: BLE001 - an unresolvable annotation fails inside _call, as the request's outcome
        return None


def _http_with_handlers(spec: FunctionSpec, req: HttpRequest, target: str, chain: list[Any] | None
                        ) -> HttpResponse:
    """Run the request (through its middleware); an exception the app has a handler for becomes its response."""
    try:
        if chain:
            return _http_through_middleware(spec, req, target, chain)
        return to_response(_call(spec, req)) if spec.idempotency_key is None else _idempotent_http(spec, req, target)
    except Exception as exc:
        handler = _exception_handler(spec.app, exc)
        if handler is None:
            raise
        return to_response(handler(req, exc))


def _exception_handler(app: App, exc: BaseException) -> Any:
    handlers = app._exception_handlers
    for klass in type(exc).__mro__:
        handler = handlers.get(klass)
        if handler is not None:
            return handler
    return None


def _not_routed(app: App, req: HttpRequest, resp: HttpResponse) -> HttpResponse:
    """A 404 or 405 of routing, or the app's own answer for that status (``@app.exception_handler(404)``)."""
    handler = app._exception_handlers.get(resp.status) if app._exception_handlers else None
    if handler is None:
        return resp
    detail = resp.json_body().get("detail", "")
    try:
        custom = to_response(handler(req, BadRequest(detail, status=resp.status, title=resp.json_body()["title"])))
    except Exception as exc:  # noqa: BLE001 - handle_http never raises: the standard answer stands
        logs.error("exception handler failed", status=resp.status, error_type=type(exc).__name__,
                   error=_text(exc), traceback=_traceback(exc))
        return resp
    if resp.status == 405 and "allow" not in custom.headers:
        custom.headers.add("Allow", resp.headers["allow"])
    return custom


def _through_middleware(spec: FunctionSpec, event: Any, target: str) -> Any:
    """A message or event through the function's middleware to the function."""
    def core(e: Any) -> Any:
        if spec.idempotency_key is not None and isinstance(e, Message):
            return _idempotent_message(spec, e, target)
        return _call(spec, e)

    return _run_chain(_chain(spec), event, core, not spec.is_async and spec.idempotency_key is None)


def _correlation(headers: Headers | None, attributes: dict[str, str] | None, fallback: str) -> str:
    if headers is not None:
        from .tracing import CORRELATION_HEADERS

        for name in CORRELATION_HEADERS:
            value = headers.get(name)
            if value:
                return value
    if attributes:
        value = attributes.get("correlation_id") or attributes.get("correlation-id")
        if value:
            return value
    return fallback


# -- HTTP --------------------------------------------------------------------------------------------------------

def to_response(value: Any) -> HttpResponse:
    """Normalise what a handler returned: HttpResponse as is, None → 204, str/bytes → 200, ``(value, status)`` →
    ``value``'s response with that status (an int from 100 to 599, else InvalidStatus), else JSON 200."""
    if value.__class__ is dict:  # the usual result, first
        return HttpResponse.json(value)
    if isinstance(value, HttpResponse):
        return value
    if value is None:
        return HttpResponse(status=204)
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[1], int):
        status = value[1]
        if status.__class__ is not int or not 99 < status < 600:
            status = checked_status(status)  # an IntEnum as its int; else InvalidStatus, the function's failure
        resp = to_response(value[0])
        resp.status = status
        return resp
    if isinstance(value, str):
        return HttpResponse.text(value)
    if isinstance(value, (bytes, bytearray)):
        return HttpResponse(status=200, headers=Headers([("Content-Type", "application/octet-stream")]),
                            body=bytes(value))
    return HttpResponse.json(value)


def handle_http(app: App, req: HttpRequest, *, function: str | None = None, target: str = "local",
                invocation_id: str | None = None, native_context: Any = None,
                route_template: str | None = None, stream: bool = False) -> HttpResponse:
    """Route ``req`` within ``app`` (or to ``function``) and run it; always returns a response, never raises.

    ``route_template``: the template the platform matched (API Gateway's route key), found without a search.
    HEAD is answered for every GET route, on every target, with the GET response's status and headers, its
    Content-Length, and no body (:func:`head_answer`).
    ``stream``: the caller can send a body in pieces, so a streamed response (``resp.streamed``) may come back with
    its body still being produced; without it such a body is buffered before the invocation ends.
    """
    if app._cors_used:
        resp = _with_cors(app, req, function, target, invocation_id, native_context, route_template, stream)
    else:
        resp = _route_and_invoke(app, req, function, target, invocation_id, native_context, route_template, stream)
    if req.method == "HEAD":
        return head_answer(resp)
    return resp


def head_answer(resp: HttpResponse) -> HttpResponse:
    """The answer to HEAD made of ``resp``, the answer GET would get: its status and headers, the ``Content-Length``
    of the body GET sends (RFC 9110 §9.3.2 and §8.6: a HEAD answer may carry it, and then must say exactly that
    length), and no body. A new response: ``resp`` may be one the handler keeps and returns to every request.

    The length is said where the body is whole and not empty. A body still being produced has none on GET either
    (it is produced to its end here and dropped); an empty one keeps the length the answer gave (a mounted app
    answering HEAD itself states its GET length with no body) or says none, which a client reads as "unknown", never
    as "empty". Every front door sends this header as it is on a HEAD answer (on GET it writes the length of what it
    sends)."""
    body = resp.body  # a streamed body: produced to its end, as GET's would be sent
    headers = Headers(resp.headers)
    headers._sendable = resp.headers._sendable
    if body and not resp.streamed and resp.status >= 200 and resp.status not in (204, 304):
        if "content-length" in headers:
            headers.remove("content-length")
        headers._items.append(("Content-Length", str(len(body))))
    out: HttpResponse = object.__new__(HttpResponse)
    out.status, out.headers, out.body = resp.status, headers, b""
    return out


def handle_unmatched(app: App, req: HttpRequest, *, target: str = "local", invocation_id: str | None = None,
                     native_context: Any = None) -> HttpResponse:
    """The answer to a request the platform's own router gave to no function (Azure's catch-all function): 405 with
    ``Allow`` when the path is served with other methods, else 404, through the app's 404/405 handlers, with CORS
    headers and preflights as anywhere. It never runs a function: a request the platform did not route to one (its
    route matching differs, e.g. in case) must not reach it past the platform's checks (``auth="function"``)."""
    if match_request(app, req)[0] is None:
        return handle_http(app, req, target=target, invocation_id=invocation_id, native_context=native_context)
    resp = _not_routed(app, req, not_found(req))
    if app._cors_used:
        from . import cors

        policy = cors.policy(app, None)
        if policy is not None:
            policy.decorate(req.headers.get("origin"), resp)
    if req.method == "HEAD":
        return head_answer(resp)
    return resp


def not_found(req: HttpRequest) -> HttpResponse:
    """The 404 problem of a request no function serves; a HEAD request's is GET's, whose length its answer states
    (:func:`head_answer`)."""
    method = "GET" if req.method == "HEAD" else req.method
    return HttpResponse.problem(404, "Not Found", f"no function serves {method} {req.path}")


def _with_cors(app: App, req: HttpRequest, function: str | None, target: str, invocation_id: str | None,
               native_context: Any, route_template: str | None, stream: bool) -> HttpResponse:
    """Answer a preflight, or run the request and add the CORS headers of the policy that covers it."""
    from . import cors

    if cors.is_preflight(req):
        found = cors.preflight_target(app, req, function)
        if found is not None:
            return found[0].preflight(req, found[1])
    resp = _route_and_invoke(app, req, function, target, invocation_id, native_context, route_template, stream)
    spec = app.function(function) if function is not None else match_request(app, req)[0]
    policy = cors.policy(app, spec)
    if policy is not None:
        policy.decorate(req.headers.get("origin"), resp)
    return resp


def match_request(app: App, req: HttpRequest, template: str | None = None, method: str | None = None
                  ) -> tuple[FunctionSpec | None, dict[str, str], Sequence[str]]:
    """``app``'s route for ``req``: :meth:`App.route` of its method and decoded path, except that an escaped "/" in
    its raw path (``/files/a%2Fb``) stays inside its segment, as the clouds' routers match it: ``/files/{name}``
    with ``name`` ``a/b``, not ``/files/{a}/{b}``. ``template``: the route template the platform matched;
    ``method``: the method to route instead of ``req``'s (a preflight's ``Access-Control-Request-Method``)."""
    if method is None:
        method = req.method
    escaped = slash_escaped(req._raw_path)
    if escaped is None:
        return app._match(method, req.path, template)
    spec, params, methods = app._match(method, escaped, template)
    return spec, unescape(params), methods


def _route_and_invoke(app: App, req: HttpRequest, function: str | None, target: str, invocation_id: str | None,
                      native_context: Any, route_template: str | None = None, stream: bool = False) -> HttpResponse:
    if function is not None:
        spec, refused = _named_function(app, req, function)
        if refused is not None:
            return refused
    else:
        found, params, allowed = match_request(app, req, route_template)
        if found is None:
            if allowed:
                return _not_routed(app, req, _method_not_allowed(allowed))
            return _not_routed(app, req, not_found(req))
        spec = found
        req.path_params = params
    return invoke_http(spec, req, target=target, invocation_id=invocation_id, native_context=native_context,
                       stream=stream)


def _named_function(app: App, req: HttpRequest, function: str, matched: dict[str, str] | None = None
                    ) -> tuple[FunctionSpec, HttpResponse | None]:
    """The HTTP function the platform routed ``req`` to, its path parameters set on ``req`` (``matched``: as the
    caller matched them already on that function's route); or the answer when it is no HTTP function (500) or does
    not serve the method (405)."""
    spec = app.function(function)
    trig = spec.trigger
    if not isinstance(trig, HttpTrigger):
        return spec, HttpResponse.problem(500, "Internal Server Error", "function is not an HTTP function")
    if matched is not None:
        req.path_params = matched
    else:
        escaped = slash_escaped(req._raw_path)
        params = trig.route.match(req.path) if escaped is None else trig.route.match(escaped)
        if params is not None:
            req.path_params = params if escaped is None else unescape(params)
    if req.method not in trig.methods and not (req.method == "HEAD" and "GET" in trig.methods):
        return spec, _not_routed(app, req, _method_not_allowed(list(trig.methods)))
    return spec, None


def _method_not_allowed(allowed: Sequence[str]) -> HttpResponse:
    """405 listing every method the path serves, HEAD included where GET is (every GET route answers HEAD)."""
    methods = set(allowed)
    if "GET" in methods:
        methods.add("HEAD")
    listed = ", ".join(sorted(methods))
    resp = HttpResponse.problem(405, "Method Not Allowed", f"allowed: {listed}")
    resp.headers.add("Allow", listed)
    return resp


def invoke_http(spec: FunctionSpec, req: HttpRequest, *, target: str = "local", invocation_id: str | None = None,
                native_context: Any = None, stream: bool = False) -> HttpResponse:
    if _logging_pending and _LOGGING in _modules:
        _setup_logging(target)
    inv_id = invocation_id or context.new_id()
    span = None if _otel is None else _otel.http_start(spec, req, target, inv_id)
    token = _enter((_http_invocation, spec, req, inv_id, target, native_context))
    started = time.perf_counter() if logs.debug_enabled() else 0.0
    try:
        auth = spec.trigger.auth  # type: ignore[union-attr]
        refused = auth.authenticate(req) if auth is not None and not isinstance(auth, str) else None
        if refused is not None:  # a JwtAuth refused the caller: answered before middleware and handler
            resp = refused
        elif req.body_size > MAX_BODY_BYTES:
            resp = HttpResponse.problem(413, "Content Too Large",
                                        f"request body is {req.body_size} bytes; the limit is {MAX_BODY_BYTES}")
        else:
            chain = _chain(spec) if spec.app._middleware or spec.routers else None
            if chain or spec.app._exception_handlers:
                resp = _http_with_handlers(spec, req, target, chain)
            else:
                resp = to_response(_call(spec, req)) if spec.idempotency_key is None else \
                    _idempotent_http(spec, req, target)
            if not resp.headers._sendable:  # headers the handler assigned itself (resp.headers = Headers(...))
                check_headers(resp.headers._items)
            if resp.streamed and not stream:  # the front door sends bodies whole: the rest of it, within the call
                resp.body  # noqa: B018 - reading it waits for the whole body
        outcome = "success" if resp.status < 500 else "error"
    except Exception as exc:  # noqa: BLE001 - the pipeline's job is to turn any failure into a response
        resp, outcome = _http_failed(exc, inv_id, span)
    finally:
        _leave(token)
    if span is not None:
        _otel.http_end(span, resp.status)
    if resp.status >= 400 and outcome != "error":
        logs.log("INFO", "request rejected", function=spec.name, status=resp.status, invocation_id=inv_id)
    if started:
        logs.log("DEBUG", "invocation", function=spec.name, trigger="http", outcome=outcome, status=resp.status,
                 duration_ms=round((time.perf_counter() - started) * 1000, 3))
    return resp


def _http_failed(exc: Exception, inv_id: str, span: Any) -> tuple[HttpResponse, str]:
    """The response and outcome of an HTTP invocation that raised ``exc`` (called inside its invocation context)."""
    if isinstance(exc, PayloadValidationError):
        return HttpResponse.problem(400, exc.title, str(exc), errors=exc.errors), "rejected"
    resp: HttpResponse | None = None
    if isinstance(exc, HttpError):
        resp = HttpResponse.problem(exc.status, exc.title, exc.detail)
        if exc.headers:
            resp.headers._items.extend(exc.headers.items())  # checked when the error was made
        if exc.status < 500 or isinstance(exc, BadRequest):  # the caller's fault: a rejected request, not an error
            return resp, "rejected"
    if span is not None:
        _otel.failed(span, exc)
    logs.error("handler failed", trigger="http", error_type=type(exc).__name__, error=_text(exc),
               traceback=_traceback(exc), **({} if resp is None else {"status": resp.status}))
    if resp is not None:  # a 5xx HttpError: the function's failure, logged as one, answered as it says
        return resp, "error"
    return HttpResponse.problem(500, "Internal Server Error", "the function failed; see the logs for this invocation id",
                                invocation_id=inv_id), "error"


# -- HTTP, the direct lane ------------------------------------------------------------------------------------------

def handle_http_direct(app: App, req: HttpRequest, encode: Callable[[Any], Any], function: str | None = None,
                       target: str = "local", invocation_id: str | None = None, native_context: Any = None,
                       route_template: str | None = None, stream: bool = False,
                       matched: dict[str, str] | None = None) -> Any:
    """:func:`handle_http` for a front door that answers in its own shape: when the request reaches a synchronous
    handler (taking the request alone, or typed parameters, body or response model; no auth object, idempotency or
    exception handlers, no CORS policy in the app, OpenTelemetry and DEBUG timing off, not HEAD) that no middleware
    wraps, the handler's result goes straight to ``encode(value)``, the front door's native response for the values
    it takes (None for the others), without an :class:`HttpResponse` in between; synchronous middleware runs as one
    composed call around it and gives an HttpResponse. Returns that native response, or else the HttpResponse
    :func:`handle_http` gives, for the caller to encode as usual; never raises. The arguments after ``encode`` are
    :func:`handle_http`'s (positional too: the adapter's call is on every request); with ``stream`` a streamed
    response comes back with its body still being produced, as from :func:`handle_http`. ``matched``: the path
    parameters of ``function``'s route, where the caller matched the path on it already (to tell whether the
    platform routed the request as the app would), so that the route is not matched twice.

    ``encode`` must give exactly the caller's encoding of ``to_response(value)``, and raise what building that
    response would raise (e.g. ValueError for NaN in a JSON result): it runs inside the invocation, so a failure is
    the same 500 as on the general path.
    """
    if app._cors_used or req.method == "HEAD":
        return handle_http(app, req, function=function, target=target, invocation_id=invocation_id,
                           native_context=native_context, route_template=route_template, stream=stream)
    if function is not None:
        spec, refused = _named_function(app, req, function, matched)
        if refused is not None:
            return refused
    else:
        # the platform's template of one route ending in its parameter: matched here, inline. Only a template the
        # platform matched (its choice of route, kept as match_request keeps it) takes this shortcut; without one,
        # match_request picks the most specific route, which a last-segment parameter route may not be
        table = app._routes
        one = table.last_segment.get(route_template) if table is not None else None  # type: ignore[arg-type]
        found: FunctionSpec | None = None
        if one is not None and req._raw_path is None:  # a path sent with escapes: matched as match_request does
            prefix, size, name, candidate = one
            path = req.path
            value = path[size:] if path.startswith(prefix) else ""
            if value and "/" not in value and req.method in candidate.trigger.methods:
                found = candidate
                req._path_params = {name: value}
        if found is None:  # what App.route does
            found, params, _ = match_request(app, req, route_template)
            if found is None:
                return _route_and_invoke(app, req, None, target, invocation_id, native_context, route_template,
                                         stream)
            req._path_params = params
        spec = found
    lane = _http_lanes.get(spec)
    if lane is None:
        lane = _http_lane(spec)
    owner = spec.app
    if lane is False or _otel is not None or logs._threshold <= 10 or owner._exception_handlers \
            or len(req._text if req._body is None else req._body) > MAX_BODY_BYTES:  # type: ignore[arg-type]
        return invoke_http(spec, req, target=target, invocation_id=invocation_id, native_context=native_context,
                           stream=stream)
    outer = None  # the outermost middleware and its call_next, called here (see _http_chains)
    middleware = owner._middleware
    if middleware or spec.routers:
        chain = _http_chains.get(spec)  # _http_chain_entry's test, inline: the request's frame is the costly part
        if chain is None or chain[0] != middleware or chain[1] != target or spec.routers:
            chain = _http_chain_entry(spec, target)
        outer = chain[4]
        if outer is False:  # an async middleware
            return invoke_http(spec, req, target=target, invocation_id=invocation_id, native_context=native_context,
                               stream=stream)
    if _logging_pending and _LOGGING in _modules:
        _setup_logging(target)
    inv_id = invocation_id or context.new_id()
    token = _enter((_http_invocation, spec, req, inv_id, target, native_context))
    try:
        if outer is not None:
            resp = outer[0](req, outer[1])
            if resp.__class__ is not HttpResponse:
                resp = to_response(resp)
        else:
            # typed: what _call does for a synchronous handler with a signature (RouteSignature.caller); with a
            # response model an HttpResponse, which encode leaves to the caller
            value = spec.handler(req) if lane is True else lane(spec.handler, req)
            answer = encode(value)
            if answer is not None:
                return answer
            resp = to_response(value)
        if not resp.headers._sendable:  # headers the handler assigned itself (resp.headers = Headers(...))
            check_headers(resp.headers._items)
        if resp.streamed and not stream:  # the front door sends bodies whole: the rest of it, within the call
            resp.body  # noqa: B018 - reading it waits for the whole body
        outcome = "success" if resp.status < 500 else "error"
    except Exception as exc:  # noqa: BLE001 - as invoke_http
        resp, outcome = _http_failed(exc, inv_id, None)
    finally:
        _leave(token)
    if resp.status >= 400 and outcome != "error":
        logs.log("INFO", "request rejected", function=spec.name, status=resp.status, invocation_id=inv_id)
    return resp


_http_lanes: dict[FunctionSpec, Any] = {}
"""How the direct lane calls each HTTP function: True for ``handler(req)`` alone, its signature's call for a
synchronous typed handler (``RouteSignature.caller``), False for the general path (see :func:`handle_http_direct`);
what can change after registration (middleware, exception handlers, CORS, routers) is checked on every request."""


def _http_lane(spec: FunctionSpec) -> Any:
    auth = spec.trigger.auth  # type: ignore[union-attr]
    if spec.idempotency_key is not None or spec.is_async or (auth is not None and not isinstance(auth, str)):
        lane: Any = False
    else:
        try:
            plan = spec.call_plan()
        except Exception:  # noqa: BLE001 - an unresolvable annotation fails inside _call, as the request's outcome
            return False  # not remembered: it may resolve later
        if len(plan) == 1 and plan[0].source == "event":
            lane = True
        elif len(plan) == 1 and plan[0].source == "http":
            try:
                lane = plan[0].model.caller()
            except Exception:  # noqa: BLE001 - what cannot be built fails inside _call, as the request's outcome
                return False
        else:
            lane = False
    return keep(_http_lanes, spec, lane, 4096)


# -- messages ----------------------------------------------------------------------------------------------------

def _inline_plain(spec: FunctionSpec, target: str) -> tuple[Any, Any, Any] | None:
    """(handler, model, validator) when one message of ``spec`` may run inline — a plain handler, no OpenTelemetry,
    no DEBUG timing, no middleware chain — else None (:func:`_run_message`). Sets logging up on the first call."""
    if _logging_pending and _LOGGING in _modules:
        _setup_logging(target)
    direct = _plain_messages.get(spec)
    if direct is None or direct and direct[0] is not spec.handler:
        direct = _plain_message(spec)
    if not direct or _otel is not None or logs._threshold <= 10 or (spec.app._middleware or spec.routers) \
            and _chain(spec):
        return None
    return direct


def invoke_message(spec: FunctionSpec, msg: Message, *, target: str = "local",
                   invocation_id: str | None = None, native_context: Any = None) -> MessageResult:
    """Run one message; never raises: the outcome says whether the broker must redeliver it."""
    direct = _inline_plain(spec, target)
    if direct is None:
        return _run_message(spec, msg, invocation_id or context.new_id(), None, target, native_context,
                            _direct(spec))
    # The common case, inlined: what _run_message does for a plain handler, minus two call frames. Without an id
    # from the platform, one is drawn when the Invocation is built (a log line, current()): most messages need none.
    token = _enter((_message_invocation, spec, msg, invocation_id, None, target, native_context))
    try:
        handler, model, validate = direct
        if model is not None and not msg._has_body:
            msg.with_body(_validate(model, msg._text or msg.data, msg, validate))
        value = handler(msg)
        result = MessageResult(msg.id, _SUCCESS, None, value)
    except Exception as exc:  # noqa: BLE001 - a failure is an outcome, never an exception to the adapter
        result = _failed(spec, msg, exc)
    finally:
        _leave(token)
    return result


def invoke_message_failure(spec: FunctionSpec, msg: Message, target: str, invocation_id: str | None = None,
                           native_context: Any = None) -> MessageResult | None:
    """:func:`invoke_message` for a delivery whose success answers nothing (SNS direct, Event Grid, a CloudEvent):
    None when the handler succeeded (what it returned is dropped), else the failure's MessageResult. Positional
    arguments and no result object per success: on a one-message trigger both cost as much as the rest of the lane."""
    direct = _inline_plain(spec, target)
    if direct is None:
        result = _run_message(spec, msg, invocation_id or context.new_id(), None, target, native_context,
                              _direct(spec))
        return None if result.outcome is _SUCCESS else result
    token = _enter((_message_invocation, spec, msg, invocation_id, None, target, native_context))
    try:
        handler, model, validate = direct
        if model is not None and not msg._has_body:
            msg.with_body(_validate(model, msg._text or msg.data, msg, validate))
        handler(msg)
        return None
    except Exception as exc:  # noqa: BLE001 - a failure is an outcome, never an exception to the adapter
        return _failed(spec, msg, exc)
    finally:
        _leave(token)


def message_runner(spec: FunctionSpec, target: str) -> Callable[[Message, str | None, Any], MessageResult | None]:
    """:func:`invoke_message_failure` for one function, as ``run(msg, invocation_id, native_context)``: what it looks
    up per call that belongs to the function (its remembered plain handler, model and validator, the target) is
    bound once, so the entry of a one-message trigger calls one callable per function. The handler, middleware,
    OpenTelemetry and DEBUG timing are still checked on every call; anything but a plain handler with none of them
    goes through :func:`invoke_message_failure` itself, so both give the same outcome."""
    plain: tuple[Any, Any, Any] = (None, None, None)  # (handler, model, validator) once seen plain
    middleware = spec.app._middleware  # the app's list, added to in place
    routed = spec.routers  # set when the function is included, before any message

    def run(msg: Message, invocation_id: str | None, native_context: Any) -> MessageResult | None:
        nonlocal plain
        if _logging_pending and _LOGGING in _modules:
            _setup_logging(target)
        direct = plain
        if direct[0] is not spec.handler or _otel is not None or logs._threshold <= 10 or middleware or routed:
            failure = invoke_message_failure(spec, msg, target, invocation_id, native_context)
            known = _plain_messages.get(spec)
            if known:  # one tuple, read whole by other threads
                plain = known
            return failure
        token = _enter((_message_invocation, spec, msg, invocation_id, None, target, native_context))
        try:
            if direct[1] is not None and not msg._has_body:
                msg.with_body(_validate(direct[1], msg._text or msg.data, msg, direct[2]))
            direct[0](msg)
            return None
        except Exception as exc:  # noqa: BLE001 - a failure is an outcome, never an exception to the adapter
            return _failed(spec, msg, exc)
        finally:
            _leave(token)

    return run


class FunctionEntries(dict[str, "Callable[[Any], Any]"]):
    """Each function's entry by name, made by ``make(name)`` the first time it is asked for: after that, a generated
    entry file's ``entries[name](event)`` is a dict look-up in C and one call."""

    __slots__ = ("_make",)

    def __init__(self, make: Callable[[str], Callable[[Any], Any]]) -> None:
        super().__init__()
        self._make = make

    def __missing__(self, name: str) -> Callable[[Any], Any]:
        entry = self[name] = self._make(name)
        return entry


def _direct(spec: FunctionSpec) -> tuple[Any, Any, Any] | None:
    """(handler, message model or None, its validator) when running a message is just ``handler(msg)``, after
    validating the payload when the handler takes ``Message[Model]``: one event parameter, sync, no idempotency key,
    no middleware. Else None (``_call``)."""
    direct = _plain_messages.get(spec)
    if direct is None or direct and direct[0] is not spec.handler:
        direct = _plain_message(spec)
    if not direct or ((spec.app._middleware or spec.routers) and _chain(spec)):
        return None
    return direct


def _plain_message(spec: FunctionSpec) -> tuple[Any, Any, Any] | tuple[()]:
    """What :func:`_direct` needs that cannot change after the first call (the handler is compared on each use):
    (handler, model, validator), or ``()`` when the call is not ``handler(msg)``. Remembered per function."""
    if spec.idempotency_key is not None or spec.is_async:
        direct: tuple[Any, Any, Any] | tuple[()] = ()
    else:
        try:
            plan = spec.call_plan()
        except Exception:  # noqa: BLE001 - an unresolvable annotation fails inside _call, as the message's outcome
            return ()  # not remembered: it may resolve later
        model = spec.message_model
        direct = (spec.handler, model, None if model is None else _validator(model)) \
            if len(plan) == 1 and plan[0].source == "event" else ()
    return keep(_plain_messages, spec, direct, 4096)


_plain_messages: dict[FunctionSpec, tuple[Any, Any, Any] | tuple[()]] = {}


def _http_invocation(spec: FunctionSpec, req: HttpRequest, inv_id: str, target: str, native_context: Any
                     ) -> Invocation:
    from .tracing import begin, from_headers

    return Invocation(inv_id, spec.name, "http", _correlation(req.headers, None, inv_id), target, native_context,
                      spec, begin(from_headers(req.headers)))


def _message_invocation(spec: FunctionSpec, msg: Message, inv_id: str | None, index: int | None, target: str,
                        native_context: Any) -> Invocation:
    tracing = _tracing or _load_tracing()  # what a failure's log line asks for: no import statement per message
    if inv_id is None:  # the platform gave none: drawn now that someone asks
        inv_id = context.new_id()
    attributes = msg.attributes
    correlation = attributes and (attributes.get("correlation_id") or attributes.get("correlation-id")) or msg.id
    return Invocation(inv_id if index is None else f"{inv_id}:{index}", spec.name, spec.trigger.kind, correlation,
                      target, native_context, spec, tracing.begin(tracing.from_message(attributes, msg.native)))


_tracing: Any = None  # portafunc.tracing, loaded by the first Invocation a message builds


def _load_tracing() -> Any:
    global _tracing
    from . import tracing

    _tracing = tracing
    return tracing


def _run_message(spec: FunctionSpec, msg: Message, inv_id: str, index: int | None, target: str, native_context: Any,
                 direct: tuple[Any, Any, Any] | None) -> MessageResult:
    """One message through the pipeline. The Invocation (id ``inv_id``, or ``inv_id:index`` in a batch) is built only
    if a log line or ``current()`` asks for it."""
    token = _enter((_message_invocation, spec, msg, inv_id, index, target, native_context))
    span = None if _otel is None else _otel.message_start(
        spec, msg, target, inv_id if index is None else f"{inv_id}:{index}")
    started = time.perf_counter() if logs.debug_enabled() else 0.0
    try:
        if direct is not None:
            handler, model, validate = direct
            if model is not None and not msg._has_body:
                msg.with_body(_validate(model, msg._text or msg.data, msg, validate))
            value = handler(msg)
        elif (spec.app._middleware or spec.routers) and _chain(spec):
            value = _through_middleware(spec, msg, target)
        elif spec.idempotency_key is None:
            value = _call(spec, msg)
        else:
            value = _idempotent_message(spec, msg, target)
        result = MessageResult(msg.id, _SUCCESS, None, value)
    except Exception as exc:  # noqa: BLE001 - a failure is an outcome, never an exception to the adapter
        if span is not None:
            _otel.failed(span, exc)
        result = _failed(spec, msg, exc)
    finally:
        _leave(token)
    if span is not None:
        _otel.message_end(span, result.outcome.value)
    if started:
        logs.log("DEBUG", "invocation", function=spec.name, trigger=spec.kind, outcome=result.outcome.value,
                 message_id=msg.id, duration_ms=round((time.perf_counter() - started) * 1000, 3))
    return result


def _failed(spec: FunctionSpec, msg: Message, exc: Exception) -> MessageResult:
    """The outcome of a failed message (called inside its invocation context, so the log lines carry its ids).

    Never raises: describing a failure must not fail the batch. A payload nested too deep to walk, an exception whose
    text cannot be built, a log stream that refuses a character — each still ends as this message's own outcome.
    """
    try:
        if isinstance(exc, NonRetryableError):
            return _dead_letter(spec, msg, exc)
        text = _text(exc)
        kind = type(exc).__name__
        if logs._threshold <= _WARNING:  # nothing built for a line that is not written
            attempt = msg.delivery_attempt
            last = getattr(spec.trigger, "max_attempts", 0)
            logs.log("WARNING", _LAST_ATTEMPT if 0 < last <= attempt else _REDELIVERED, message_id=msg.id,
                     delivery_attempt=attempt, error_type=kind, error=text, traceback=_traceback(exc))
        return MessageResult(msg.id, _RETRY, f"{kind}: {text[:1000]}")
    except Exception:  # noqa: BLE001 - the last resort of the "never raises" promise
        outcome = Outcome.REJECTED if isinstance(exc, NonRetryableError) else Outcome.RETRY
        return MessageResult(msg.id, outcome, type(exc).__name__)


_REDELIVERED = "handler failed; the message will be redelivered"
_LAST_ATTEMPT = "handler failed on its last attempt; the broker moves the message to the dead-letter queue"
"""What a failure on the trigger's last allowed delivery (its ``max_attempts``-th) says: no redelivery follows."""


def invoke_batch(spec: FunctionSpec, messages: Iterable[Message], *, ordered: bool | None = None,
                 target: str = "local", native_context: Any = None, invocation_id: str | None = None
                 ) -> BatchResult:
    """Run a batch message by message. ``ordered`` (FIFO) stops at the first failure so order is kept.

    Message ``i`` runs as invocation ``<batch id>:<i>``, the batch id being ``invocation_id`` (e.g. the Lambda request
    id) or one random id per batch: one id syscall per batch, not per message, and logs still group by batch.
    """
    if _logging_pending and _LOGGING in _modules:
        _setup_logging(target)
    if ordered is None:
        ordered = isinstance(spec.trigger, QueueTrigger) and spec.trigger.ordered
    batch_id = invocation_id or context.new_id()
    direct = _direct(spec)
    results: list[Any] = []
    append = results.append
    pending = iter(messages)
    if direct is not None and not ordered and not logs.debug_enabled() and _otel is None:
        # The common case, inlined: what _run_message does for a plain handler, minus a call frame per message.
        handler, model, validate = direct
        unsuccessful = 0
        # One context entry for the batch: a deferred invocation (context.current() builds it) whose message and
        # index are rewritten per message. current() replaces it by what it built, so it is put back after each
        # message; between messages (the next record being decoded) its message is None and it stands for what was
        # current before the batch (its last item).
        slot: list[Any] = [_message_invocation, spec, None, batch_id, 0, target, native_context, _current()]
        token = _enter(slot)
        try:
            for index, msg in enumerate(pending):
                slot[2] = msg
                slot[4] = index
                try:
                    if model is not None and not msg._has_body:  # _validate and with_body, inlined
                        try:
                            msg._body = validate(msg._text or msg.data)
                        except ValueError as exc:
                            invalid = _invalid(model, exc, msg)
                            if invalid is None:
                                raise
                            raise invalid from None
                        msg._has_body = True
                    value = handler(msg)  # a success; BatchResult.results makes it a MessageResult if read
                    append(msg.id if value is None else (msg.id, value))
                except Exception as exc:  # noqa: BLE001
                    if _current() is slot and logs._threshold <= _WARNING:
                        # Its lines need the Invocation: built here and kept in the list (context.current() returns
                        # it), not set in the context variable and the list entered again after it.
                        slot[0] = _message_invocation(spec, msg, batch_id, index, target, native_context)
                        append(_failed(spec, msg, exc))
                        slot[0] = _message_invocation
                    else:
                        append(_failed(spec, msg, exc))
                    unsuccessful += 1
                slot[2] = None
                if _current() is not slot:
                    _enter(slot)
        finally:
            _leave(token)
        batch = _new_batch(BatchResult)  # one MessageResult, success id or (id, value) pair per message
        batch._results, batch._pending, batch._unsuccessful = None, results, unsuccessful
        return batch
    for index, msg in enumerate(pending):
        result = _run_message(spec, msg, batch_id, index, target, native_context, direct)
        append(result)
        if ordered and result.outcome is not _SUCCESS and result.outcome is not _DEAD_LETTERED:
            for rest in pending:
                append(MessageResult(rest.id, Outcome.SKIPPED, "an earlier message of the ordered batch failed"))
            break
    if _otel is not None:
        _otel.batch_end(spec, target, len(results))
    return BatchResult(results)


def invoke_event(spec: FunctionSpec, event: StorageEvent | ScheduleEvent, *, target: str = "local",
                 invocation_id: str | None = None, native_context: Any = None) -> MessageResult:
    """Run a storage or schedule event. A failure is RETRY so the adapter can make the cloud retry it."""
    if _logging_pending and _LOGGING in _modules:
        _setup_logging(target)
    if isinstance(event, StorageEvent) and isinstance(spec.trigger, StorageTrigger):
        event.trigger_bucket = spec.trigger.bucket  # StorageEvent.read() reads through this logical bucket
    inv_id = invocation_id or context.new_id()
    from .tracing import begin

    span = None if _otel is None else _otel.event_start(spec, event, target, inv_id)
    token = context.enter(context.Invocation(inv_id, spec.name, spec.kind, event.id or inv_id, target,
                                             native_context, spec, begin(None)))
    outcome = "retry"
    try:
        value = _call(spec, event) if not (spec.app._middleware or spec.routers) or not _chain(spec) else \
            _through_middleware(spec, event, target)
        outcome = "success"
        return MessageResult(event.id or inv_id, Outcome.SUCCESS, value=value)
    except NonRetryableError as exc:
        outcome = "dropped"
        if span is not None:
            _otel.failed(span, exc)
        logs.error("handler failed for good; the event is dropped", error_type=type(exc).__name__,
                   error=_text(exc), event=_event_for_log(event))
        return MessageResult(event.id or inv_id, Outcome.DEAD_LETTERED, _reason(exc))
    except Exception as exc:  # noqa: BLE001
        if span is not None:
            _otel.failed(span, exc)
        if logs.enabled("WARNING"):
            logs.warning("handler failed; the event will be retried", error_type=type(exc).__name__,
                         error=_text(exc), traceback=_traceback(exc))
        return MessageResult(event.id or inv_id, Outcome.RETRY, _reason(exc))
    finally:
        context.leave(token)
        if span is not None:
            _otel.message_end(span, outcome)


# -- dead letters ------------------------------------------------------------------------------------------------

def dead_letter_destination(spec: FunctionSpec) -> str | None:
    """The binding a non-retryable message of ``spec`` goes to: ``dead_letter=`` or PORTAFUNC_DEADLETTER_<FUNC>."""
    trig = spec.trigger
    if isinstance(trig, (QueueTrigger, TopicTrigger)) and trig.dead_letter:
        return trig.dead_letter
    name = _dl_env(spec)
    if _unset(name):
        return None
    return os.environ.get(name) or None


def _dead_letter(spec: FunctionSpec, msg: Message, exc: BaseException) -> MessageResult:
    reason = f"{type(exc).__name__}: {_text(exc)[:1000]}"  # _reason's, without its frame
    known = getattr(exc, "_errors", None)  # a PayloadValidationError's errors, not read by anyone yet
    if known.__class__ is _KnownErrors:
        details, more = known.logged, _NO_FIELDS
    else:
        details, more = _logged_errors(getattr(exc, "errors", None))
    trig = spec.trigger  # dead_letter_destination's, with the variable's name looked up once for the hint too
    destination = trig.dead_letter if isinstance(trig, (QueueTrigger, TopicTrigger)) else None
    hint: Any = None
    if not destination:
        name, key, hint = _rejection_plans.get(spec.name) or _rejection_plan(spec)
        env = os.environ  # _unset's look-up, its key kept with the function's plan
        destination = None if env.__class__ is _Environ and key is not None \
            and key not in env._data else env.get(name) or None  # type: ignore[attr-defined]
    if destination is None:
        if logs._threshold <= _ERROR:  # nothing built for a line that is not written
            fields = {"message_id": msg.id, "reason": reason, "errors": details}  # one dict, handed over whole
            if more:
                fields.update(more)
            _payload_for_log(msg, fields)
            fields["attributes"] = msg.attributes
            fields["hint"] = hint
            logs.log_fields("ERROR", _NO_DESTINATION, fields)
        return MessageResult(msg.id, Outcome.REJECTED, reason)
    try:
        from .messaging import queue_or_topic

        from .tracing import add

        sink = queue_or_topic(destination)
        # the message's own attributes first; what portafunc adds yields room to them where a broker caps the count
        # (SNS and SQS: 10), the reason first
        attributes = add(msg.attributes, {"portafunc_error": reason[:900], "portafunc_original_id": msg.id,
                                          "portafunc_function": spec.name})
        sink.move(msg, attributes)
    except Exception as send_exc:  # noqa: BLE001 - fall back to the broker's own dead-letter policy
        logs.error("NON-RETRYABLE message could not be dead-lettered; reported failed instead", message_id=msg.id,
                   reason=reason, dead_letter=destination, error=_reason(send_exc))
        return MessageResult(msg.id, Outcome.REJECTED, reason)
    logs.warning("non-retryable message sent to the dead-letter destination", message_id=msg.id, reason=reason,
                 errors=details, **more, dead_letter=destination)
    return MessageResult(msg.id, Outcome.DEAD_LETTERED, reason)


_HINT = "set dead_letter= on the decorator or "
_NO_DESTINATION = ("NON-RETRYABLE message and no dead-letter destination: reported failed so the broker's dead-letter "
                   "policy takes it after max_attempts")


def _rejection_plan(spec: FunctionSpec) -> tuple[str, Any, logs.Redacted]:
    """What a rejection of ``spec`` without a destination looks up that belongs to its function, made once: the name
    of its ``PORTAFUNC_DEADLETTER_<FUNCTION>`` variable, that name's key in ``os.environ``'s own store (``_unset``'s),
    and the log line's hint naming it, encoded ahead (:class:`logs.Redacted`: no text in it to scrub)."""
    name = _dl_env(spec)
    env = os.environ
    key = env.encodekey(name) if env.__class__ is _Environ else None
    plan = (name, key, logs.Redacted(logs.scrub_text(_HINT + name)))  # scrubbed as a text field's value is
    return keep(_rejection_plans, spec.name, plan, 4096)


_rejection_plans: dict[str, tuple[str, Any, logs.Redacted]] = {}
MAX_LOGGED_ERRORS = 10  # validation errors a rejection's log line lists; their count says how many there were


def _logged_errors(errors: Any) -> tuple[Any, dict[str, int]]:
    """A rejection's validation errors as its log line carries them: the first ``MAX_LOGGED_ERRORS``, and
    ``errors_total`` when there were more (a payload with thousands of bad items must not make a line that size).

    A list of errors as ``_validate`` makes them (``loc``, ``msg``, ``type``), with nothing to redact, is given as a
    :class:`logs.Redacted` remembered by its content: the same bad payloads are rejected again and again, and walking
    and encoding the list for each line cost more than the rest of the line's fields together."""
    more = _NO_FIELDS
    if errors.__class__ is list:
        if len(errors) > MAX_LOGGED_ERRORS:
            more = {"errors_total": len(errors)}
            errors = errors[:MAX_LOGGED_ERRORS]
        key = _errors_key(errors)
        if key is not None:
            known = _redacted_errors.get(key)
            if known is None:
                redacted = logs.redact(errors, 1)  # as a field's value is
                if redacted != errors:  # something to redact: never kept (no secret stays in memory)
                    return errors, more
                known = logs.Redacted(redacted)
                keep(_redacted_errors, key, known, _REDACTED_ERRORS_MAX)
            return known, more
    elif isinstance(errors, list) and len(errors) > MAX_LOGGED_ERRORS:
        return errors[:MAX_LOGGED_ERRORS], {"errors_total": len(errors)}
    return errors, more


def _errors_key(errors: list[Any]) -> tuple[Any, ...] | None:
    """``errors``' content as a key, when each is a dict of ``loc`` (a list of texts and ints), ``msg`` and ``type``
    (texts) in that order, as ``_validate`` makes them; else None. Classes are checked exactly: ``1``, ``True`` and
    ``1.0`` are equal keys but different JSON."""
    key: list[Any] = []
    for error in errors:
        if error.__class__ is not dict or tuple(error) != _ERROR_FIELDS:
            return None
        loc, text, kind = error["loc"], error["msg"], error["type"]
        if loc.__class__ is not list or text.__class__ is not str or kind.__class__ is not str:
            return None
        for part in loc:
            if part.__class__ is not str and part.__class__ is not int:
                return None
        key.append((tuple(loc), text, kind))
    return tuple(key)


_NO_FIELDS: dict[str, int] = {}
_ERROR_FIELDS = ("loc", "msg", "type")
_REDACTED_ERRORS_MAX = 256
_redacted_errors: dict[tuple[Any, ...], logs.Redacted] = {}


LOG_PAYLOADS_ENV = "PORTAFUNC_LOG_PAYLOADS"
_ON = ("1", "true", "yes", "on")


def _payload_for_log(msg: Message, out: dict[str, Any] | None = None) -> dict[str, Any]:
    """A rejected payload as a log may show it: its size, content type and SHA-256 — enough to find the message in
    the dead-letter queue, nothing of what it says (card numbers, personal data). ``PORTAFUNC_LOG_PAYLOADS=1`` adds
    the payload itself: JSON with secret-looking fields redacted, else its text, both cut by the log's limits.
    Written into ``out`` when given (a rejection's line fields, in their order), else into a new dict."""
    data = msg.data
    if out is None:
        out = {}
    out["payload_bytes"] = len(data)
    out["payload_content_type"] = _content_type(msg.attributes, data)
    small = len(data) <= _SMALL and data.__class__ is bytes
    fingerprint = _fingerprints.get(data) if small else None
    if fingerprint is None:
        digest = (_sha256_small if len(data) <= _SMALL else _sha256)(data).hexdigest()
        fingerprint = _new_redacted(_Redacted)  # lower-case hex digits: nothing to scrub, nothing to escape
        fingerprint.value, fingerprint.json = digest, '"' + digest + '"'
        if small:
            keep(_fingerprints, data, fingerprint, _FINGERPRINTS_MAX)
    out["payload_sha256"] = fingerprint
    if not _unset(LOG_PAYLOADS_ENV) and os.environ.get(LOG_PAYLOADS_ENV, "").strip().lower() in _ON:
        import json

        try:
            out["payload"] = json.loads(data[:logs.MAX_TEXT * 4])
        except (ValueError, RecursionError):  # not JSON, cut short, or nested too deep to read: show the text
            out["payload"] = data[:logs.MAX_TEXT].decode("utf-8", "replace")
    return out


_Redacted = logs.Redacted
_new_redacted = object.__new__
# A small rejected payload's digest, by its bytes: the same bad payload is rejected again and again (each redelivery,
# each copy), and hashing it costs more than finding it here. Only the bytes a rejection would log a digest of.
_fingerprints: dict[bytes, logs.Redacted] = {}
_FINGERPRINTS_MAX = 256


def _load_sha256(data: bytes) -> Any:
    """The SHA-256 implementations, imported by the first rejected payload (not by ``import portafunc``): OpenSSL's
    (``hashlib``) and, for a small payload, Python's own (``_sha2``, ``_sha256`` before 3.12) — the same digest; on a
    13-byte payload 0.8 us against 2.2 us for OpenSSL's, whose context costs more than hashing a few hundred bytes,
    while on large ones OpenSSL's is 4 to 6 times faster."""
    global _sha256, _sha256_small
    from hashlib import sha256

    _sha256 = sha256
    try:
        from _sha2 import sha256 as small  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        try:
            from _sha256 import sha256 as small  # type: ignore[import-not-found,no-redef,unused-ignore]
        except ImportError:  # a build without Python's own: OpenSSL's for every size
            small = sha256
    _sha256_small = small
    return (small if len(data) <= _SMALL else sha256)(data)


_SMALL = 256  # bytes: up to here Python's own SHA-256 costs less than setting up OpenSSL's
_sha256: Any = _load_sha256
_sha256_small: Any = _load_sha256


def _content_type(attributes: dict[str, str], data: bytes) -> str:
    """The content type the publisher set (attribute ``content-type``/``content_type``), else what the bytes look
    like — without parsing them. (A message's attributes and data, each read once by the caller.)"""
    for name, value in attributes.items():
        if name.lower() in ("content-type", "content_type", "contenttype", "datacontenttype"):
            return str(value)[:100]
    head = data[:64].lstrip()
    if head[:1] in (b"{", b"["):
        return "application/json (sniffed)"
    try:
        data[:4096].decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < 4092:  # not just a character cut at the 4 KiB mark
            return "application/octet-stream (sniffed)"
    return "text/plain (sniffed)"


def _text(exc: BaseException) -> str:
    """``str(exc)`` for a log line or a result's reason: cut to the log's limit, lone surrogates escaped; never raises
    (a broken ``__str__``, a message sized past what can be printed)."""
    try:
        text = str(exc)
    except Exception:  # noqa: BLE001
        return f"<{type(exc).__name__} whose message cannot be printed>"
    if len(text) > logs.MAX_TEXT:
        text = text[:logs.MAX_TEXT] + "…"
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate: escaped, so every adapter can put the reason into a response
            text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def _reason(exc: BaseException) -> str:
    """``Type: message``, the short reason a result and a dead-letter attribute carry."""
    return f"{type(exc).__name__}: {_text(exc)[:1000]}"


def _event_for_log(event: StorageEvent | ScheduleEvent) -> Any:
    try:
        return event.to_dict()
    except Exception as exc:  # noqa: BLE001 - the event's description must not fail its outcome
        return f"<{type(exc).__name__} while describing the event>"


def _dl_env(spec: FunctionSpec) -> str:
    """``PORTAFUNC_DEADLETTER_<FUNCTION>``, the variable naming a function's dead-letter destination (remembered:
    asked for on every rejected message)."""
    found = _dl_envs.get(spec.name)
    if found is None:
        from .messaging.binding import env_name

        found = env_name("DEADLETTER", spec.name)
        keep(_dl_envs, spec.name, found, 4096)
    return found


_dl_envs: dict[str, str] = {}


def _unset(name: str) -> bool:
    """Whether the environment variable ``name`` is surely unset, the usual answer on a rejection's path, told by one
    look-up in ``os.environ``'s own store under the key it would use (``os.environ.get`` costs about a microsecond,
    as much as the rest of the hint it serves). Read every time, so a value set later is seen at once."""
    env = os.environ
    if env.__class__ is not _Environ:  # replaced by something else: ask it
        return False
    key = _env_keys.get(name)
    if key is None:
        key = env.encodekey(name)
        keep(_env_keys, name, key, 4096)
    return key not in env._data  # type: ignore[attr-defined]


_Environ = os._Environ
_env_keys: dict[str, Any] = {}


_FULL_TRACEBACK_PLACES = 256  # failure places remembered per process; past that, only summaries
_full_traceback_logged: set[tuple[type, str, int]] = set()
# a repeat's summary, by its exception type and its innermost three (code, instruction offset)
_summaries: dict[tuple[Any, ...], tuple[str, Any]] = {}
_REPEAT = "(repeat; full traceback at first occurrence or DEBUG) "


def _traceback(exc: BaseException) -> str:
    """What a failure's log line carries as ``traceback``: the full formatted traceback at DEBUG and the first time
    this exception type fails at this place (innermost file and line) in this process; afterwards a one-line summary
    of the innermost frames (file, line, function), read from the traceback's frame objects and remembered by their
    code and instruction. Formatting a traceback reads and parses source lines (≈ 100 µs); a repeat costs a walk of
    the traceback chain and one dictionary look-up, so a message that fails on every delivery costs about its log
    line. A repeat is told by the instruction offsets (``tb_lasti``), not the line numbers: ``tb_lineno`` is worked
    out from the code's line table on every read, which for a long function costs more than the rest of the look-up."""
    tb = exc.__traceback__
    outer = middle = inner = None
    while tb is not None:
        outer, middle, inner = middle, inner, tb
        tb = tb.tb_next
    if inner is not None and not logs.debug_enabled():
        code = inner.tb_frame.f_code
        middle_code = None if middle is None else middle.tb_frame.f_code
        outer_code = None if outer is None else outer.tb_frame.f_code
        # code objects by identity (hashing one hashes its bytecode and constants); the entry keeps them alive, so an
        # identity is never reused while it is a key. A key is stored only once its place had its full traceback.
        key = (exc.__class__, id(code), inner.tb_lasti, id(middle_code), -1 if middle is None else middle.tb_lasti,
               id(outer_code), -1 if outer is None else outer.tb_lasti)
        known = _summaries.get(key)
        if known is not None:
            return known[0]
        line = inner.tb_lineno
        if (exc.__class__, code.co_filename, line) in _full_traceback_logged \
                or len(_full_traceback_logged) >= _FULL_TRACEBACK_PLACES:
            summary = _REPEAT + " > ".join(f"{_base(c.co_filename)}:{n} in {c.co_name}" for c, n in (
                (outer_code, None if outer is None else outer.tb_lineno),
                (middle_code, None if middle is None else middle.tb_lineno), (code, line)) if c is not None)
            keep(_summaries, key, (summary, (code, middle_code, outer_code)), _FULL_TRACEBACK_PLACES)
            return summary
    if inner is not None:
        _full_traceback_logged.add((exc.__class__, inner.tb_frame.f_code.co_filename, inner.tb_lineno))
    import traceback

    try:
        return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))[-4000:]
    except Exception as failure:  # noqa: BLE001 - e.g. an exception whose message cannot be printed
        return f"<traceback unavailable: {type(failure).__name__}>"


def _base(filename: str) -> str:
    return filename[filename.rfind("/") + 1:]


if os.environ.get("PORTAFUNC_OTEL", "").strip().lower() == "on":
    _setup_otel()  # asked for explicitly: on from the start, even in a process that never loads logging

__all__ = [
    "BatchResult", "MessageResult", "Outcome", "handle_http", "invoke_batch", "invoke_event", "invoke_http",
    "invoke_message", "to_response", "handle_http_direct", "PortafuncError", "encode_payload", "message_runner",
    "FunctionEntries",
]
