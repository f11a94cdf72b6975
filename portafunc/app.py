"""The App registry and its decorators.

Decorators only record a :class:`FunctionSpec`; nothing cloud-specific happens here. Everything that can be checked
without a cloud is checked at import time (duplicate names, conflicting routes, bad schedules, bad options), so a
mistake fails on the developer's machine rather than after a deploy.
"""

from __future__ import annotations

from .errors import EventDecodeError, RegistrationError
from .events import STORAGE_KINDS, HttpRequest, HttpResponse, Message
from .routing import Route, RouteTable, compile_route

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing and dataclasses are not imported at run time: they cost milliseconds of cold start
    from typing import Any, Callable, Iterable, Iterator, Literal, Mapping, Sequence, TypeVar

    from .auth import JwtAuth
    from .config import Config
    from .cors import Cors
    from .data.bucket import Bucket
    from .handles import QueueHandle, TopicHandle
    from .middleware import Middleware
    from .resources import Deployment, Use, Uses
    from .routers import Router
    from .schedule import Schedule

    F = TypeVar("F", bound=Callable[..., Any])

HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
_CO_COROUTINE = 0x80  # inspect.CO_COROUTINE, read from the code object so `inspect` stays unimported


class _Trigger:
    """Base of the neutral triggers: plain value objects, compared by their fields."""

    __slots__: tuple[str, ...] = ()
    kind = ""

    def _fields(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self.__slots__)

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and self._fields() == other._fields()

    def __hash__(self) -> int:
        return hash((type(self).__name__, self._fields()))

    def __repr__(self) -> str:
        args = ", ".join(f"{n}={getattr(self, n)!r}" for n in self.__slots__)
        return f"{type(self).__name__}({args})"


class HttpTrigger(_Trigger):
    __slots__ = ("methods", "route", "auth", "cors", "response_model", "content_types", "responses")
    kind = "http"

    def __init__(self, methods: tuple[str, ...], route: Route, auth: str | JwtAuth | None = "anonymous",
                 cors: Cors | None = None, response_model: Any = None,
                 content_types: tuple[str, ...] | None = None,
                 responses: tuple[tuple[int, str | None, Any], ...] = ()) -> None:
        self.methods = methods
        self.route = route
        self.auth = auth  # "anonymous", "function" (the cloud checks), a JwtAuth (the function checks); None: a
        # router's route that takes the including app's
        self.cors = cors  # this route's CORS policy; None: the app's
        self.response_model = response_model  # None: the handler's return annotation, if a model (portafunc.params)
        self.content_types = content_types  # accepted request content types; None: the app's, else the default
        self.responses = responses  # answers documented in OpenAPI: (status, description or None, model or None)

    def describe(self) -> str:
        return f"http {','.join(self.methods)} {self.route.template}"


class TopicTrigger(_Trigger):
    __slots__ = ("topic", "max_attempts", "dead_letter")
    kind = "topic"

    def __init__(self, topic: str, max_attempts: int = 5, dead_letter: str | None = None) -> None:
        self.topic = topic
        self.max_attempts = max_attempts
        self.dead_letter = dead_letter

    def describe(self) -> str:
        return f"topic {self.topic}"


class QueueTrigger(_Trigger):
    __slots__ = ("queue", "batch_size", "max_attempts", "visibility_timeout", "ordered", "dead_letter",
                 "max_batching_window")
    kind = "queue"

    def __init__(self, queue: str, batch_size: int = 10, max_attempts: int = 5, visibility_timeout: int = 30,
                 ordered: bool = False, dead_letter: str | None = None, max_batching_window: int = 0) -> None:
        self.queue = queue
        self.batch_size = batch_size
        self.max_attempts = max_attempts
        self.visibility_timeout = visibility_timeout
        self.ordered = ordered
        self.dead_letter = dead_letter
        self.max_batching_window = max_batching_window

    def describe(self) -> str:
        return f"queue {self.queue}" + (" (ordered)" if self.ordered else "") + \
            (f" (batch {self.batch_size})" if self.batch_size > 10 else "")


class ScheduleTrigger(_Trigger):
    __slots__ = ("schedule",)
    kind = "schedule"

    def __init__(self, schedule: Schedule) -> None:
        self.schedule = schedule

    def describe(self) -> str:
        return f"schedule {self.schedule.expression}"


class StorageTrigger(_Trigger):
    __slots__ = ("bucket", "events", "prefix", "suffix")
    kind = "storage"

    def __init__(self, bucket: str, events: tuple[str, ...] = ("created",), prefix: str = "",
                 suffix: str = "") -> None:
        self.bucket = bucket
        self.events = events
        self.prefix = prefix
        self.suffix = suffix

    def describe(self) -> str:
        return f"storage {self.bucket} {','.join(self.events)}"


if TYPE_CHECKING:
    Trigger = HttpTrigger | TopicTrigger | QueueTrigger | ScheduleTrigger | StorageTrigger


class Param:
    """How to fill one handler parameter: with the event itself, or with the payload validated as ``model``; or, for
    an HTTP handler declaring typed parameters, a body or a response model, every parameter by the
    ``portafunc.params.RouteSignature`` in ``model`` (source ``"http"``)."""

    __slots__ = ("name", "source", "model")

    def __init__(self, name: str, source: Literal["event", "payload", "http"], model: Any = None) -> None:
        self.name = name
        self.source = source
        self.model = model


class FunctionSpec:
    """One portafunc function: a handler plus the neutral trigger that invokes it."""

    __slots__ = ("name", "handler", "trigger", "app", "is_async", "message_model", "params", "idempotency_key",
                 "uses", "_allowed", "routers", "tags")

    def __init__(self, name: str, handler: Callable[..., Any], trigger: Trigger, app: App, is_async: bool = False,
                 message_model: Any = None, params: list[Param] | None = None,
                 idempotency_key: str | None = None, uses: tuple[Use, ...] = ()) -> None:
        self.name = name
        self.handler = handler
        self.trigger = trigger
        self.app = app
        self.is_async = is_async
        self.message_model = message_model  # T of Message[T], when given
        self.params = params  # resolved lazily when annotations name classes defined later
        self.idempotency_key = idempotency_key
        self.uses = uses  # declared accesses beyond the trigger's (see portafunc.resources)
        self._allowed: frozenset[tuple[str, str]] | None = None  # resources.allowed(), cached
        self.routers: tuple[App, ...] = ()  # the routers it was included through, outermost first (middleware)
        self.tags: tuple[str, ...] = ()  # OpenAPI tags, from the routers it was included through

    def __repr__(self) -> str:
        return f"FunctionSpec({self.name!r}, {self.trigger.describe()})"

    @property
    def kind(self) -> str:
        return self.trigger.kind

    def wrong_event(self, what: str) -> EventDecodeError:
        """The refusal of an event of another kind than this function's trigger takes, ``what`` naming it as its
        target knows it (``an SQS batch``): one sentence for every adapter's entry and ``portafunc invoke``."""
        return EventDecodeError(f"function {self.name!r} is a {self.kind} function but received {what}",
                                expected=f"an event for its {self.trigger.describe()} trigger")

    def call_plan(self) -> list[Param]:
        if self.params is None:
            self.params, self.message_model = _plan(self.handler, self.trigger, self.name, self.app)
        return self.params


def _plan(handler: Callable[..., Any], trigger: Trigger, name: str, app: App | None = None
          ) -> tuple[list[Param], Any]:
    code = getattr(handler, "__code__", None)
    if code is None:
        raise RegistrationError(f"function {name!r}: handler must be a plain function, got {type(handler).__name__}")
    arg_names = code.co_varnames[: code.co_argcount + code.co_kwonlyargcount]
    hints = _type_hints(handler)
    if isinstance(trigger, HttpTrigger):
        content_types = trigger.content_types if trigger.content_types is not None else \
            getattr(app, "content_types", None)
        if len(arg_names) != 1 or content_types is not None or trigger.response_model is not None \
                or hints.get(arg_names[0], HttpRequest) is not HttpRequest or _returns_model(handler):
            from .params import read_signature  # typed parameters, body, response model or content types

            sig = read_signature(handler, trigger.route, name=name, response_model=trigger.response_model,
                                 content_types=content_types)
            if not sig.plain:
                return [Param("", "http", sig)], None
            return [Param(sig.request_arg or arg_names[0], "event")], None
    params: list[Param] = []
    message_model = None
    for index, arg in enumerate(arg_names):
        hint = hints.get(arg)
        if getattr(hint, "__origin__", None) is Message:
            args = getattr(hint, "__args__", ())
            message_model = args[0] if args and _is_model(args[0]) else None
            params.append(Param(arg, "event"))
        elif hint is not None and _is_model(hint) and hint is not HttpRequest:
            if trigger.kind not in ("http", "topic", "queue"):
                raise RegistrationError(f"function {name!r}: parameter {arg!r} asks for a typed payload, but "
                                        f"{trigger.kind} events carry no payload")
            params.append(Param(arg, "payload", hint))
        elif index == 0:
            params.append(Param(arg, "event"))
        else:
            raise RegistrationError(
                f"function {name!r}: cannot fill parameter {arg!r}; handlers take the event first, and optionally "
                "a pydantic model parameter for the validated payload")
    if not params:
        raise RegistrationError(f"function {name!r}: the handler must accept the event as its first parameter")
    return params, message_model


def _type_hints(handler: Callable[..., Any]) -> dict[str, Any]:
    """The handler's parameter annotations, evaluated in its module (what ``typing.get_type_hints`` does, without
    importing ``typing`` on the cold-start path). A name not defined yet raises NameError: resolved on first call."""
    annotations = getattr(handler, "__annotations__", None) or {}
    hints: dict[str, Any] = {}
    namespace = getattr(handler, "__globals__", {})
    for key, value in annotations.items():
        if key == "return":
            continue
        if isinstance(value, str):
            value = eval(value, namespace)  # noqa: S307 - the user's own annotation, as typing.get_type_hints does
        hints[key] = value
    return hints


def _returns_model(handler: Callable[..., Any]) -> bool:
    """Whether the return annotation may name a response model (anything but the usual plain results)."""
    raw = (getattr(handler, "__annotations__", None) or {}).get("return")
    if raw is None or raw in _PLAIN_RESULTS or raw in (dict, str, bytes, HttpResponse):
        return False
    from .params import returns_model

    return returns_model(handler)


_PLAIN_RESULTS = ("dict", "str", "None", "bytes", "HttpResponse", "Any", "dict[str, Any]", "dict[str, str]")


def _is_model(tp: Any) -> bool:
    """A pydantic model (checked by duck type so pydantic is not imported here)."""
    return isinstance(tp, type) and hasattr(tp, "model_validate_json")


class App:
    """A named set of functions. Adapters and tooling read ``app.functions``.

    Args:
        name: The app's name: letters, digits, ``-`` and ``_``. It names the packaged artifact on every cloud
            (``shop-lambda-….zip``, ``shop-functions-….zip``, ``shop-gcp.zip``) and prefixes idempotency keys.
        cors: The [`Cors`][portafunc.Cors] policy of every HTTP function that sets none itself; ``None``: no
            CORS headers and no preflight answers (see docs/http.md).
        auth: The ``auth`` of every HTTP function that sets none itself: ``"anonymous"``, ``"function"`` or a
            [`JwtAuth`][portafunc.JwtAuth] verifying the callers' bearer tokens (see ``App.http``).
        content_types: The request content types every HTTP function that sets none itself accepts when a request
            has a body (``["application/json", "text/plain"]``; ``"*/*"``: any); others are answered 415.
            ``None``: a function with a typed (pydantic) body accepts JSON (``application/json``,
            ``application/*+json``), other functions read any body themselves (see docs/http.md).
        docs_route: Serve Swagger UI for the app's OpenAPI document at this path (``"/docs"``) and the document
            at ``<docs_route>/openapi.json``, from files packaged with portafunc (no CDN). Two HTTP functions,
            ``portafunc_docs`` and ``portafunc_docs_files``, deployed like the app's own routes; ``None``: off
            (see docs/openapi.md).

    Raises:
        RegistrationError: The name has other characters, or ``auth`` is none of the accepted values.

    Example:
        ```python
        app = App("shop")

        @app.queue("orders", max_attempts=5)
        def fulfil(msg: Message[Order]) -> None: ...
        ```
    """

    def __init__(self, name: str, *, cors: Cors | None = None,
                 auth: Literal["anonymous", "function"] | JwtAuth = "anonymous",
                 content_types: Iterable[str] | None = None, docs_route: str | None = None) -> None:
        if not name or not name.replace("-", "").replace("_", "").isalnum():
            raise RegistrationError(f"app name {name!r} must be letters, digits, '-' or '_'")
        self.name = name
        self.content_types = _check_content_types(content_types, f"app {name!r}")
        _check_cors(cors)
        self.cors = cors  # the CORS policy of every HTTP function without its own (see portafunc.cors)
        _check_auth(auth, f"app {name!r}")
        self.auth: str | JwtAuth | None = auth  # the auth of every HTTP function without its own
        self._cors_used = cors is not None  # any policy at all: requests without one skip the CORS step
        self._middleware: list[Middleware] = []  # see middleware(); empty: invocations take the plain path
        self._exception_handlers: dict[Any, Callable[..., Any]] = {}  # exception class or 404/405 → handler
        self._functions: dict[str, FunctionSpec] = {}
        self._routes: RouteTable | None = None  # built on first route(), dropped by every registration
        self._claims: dict[tuple[str, str], tuple[str, Trigger]] = {}  # (kind, key) → first function claiming it
        self.docs_route = docs_route
        if docs_route is not None:
            from .docs_ui import register_docs

            register_docs(self, docs_route)

    # -- registry -----------------------------------------------------------------------------------------------
    @property
    def functions(self) -> dict[str, FunctionSpec]:
        """Every registered function by name, in registration order (a copy)."""
        return dict(self._functions)

    def __iter__(self) -> Iterator[FunctionSpec]:
        return iter(self._functions.values())

    def function(self, name: str) -> FunctionSpec:
        """The function registered as ``name``.

        Raises:
            RegistrationError: No function has that name (the message lists the known ones).
        """
        try:
            return self._functions[name]
        except KeyError:
            known = ", ".join(sorted(self._functions)) or "none"
            raise RegistrationError(f"app {self.name!r} has no function {name!r} (functions: {known})") from None

    def http_functions(self) -> list[FunctionSpec]:
        return [f for f in self._functions.values() if isinstance(f.trigger, HttpTrigger)]

    def route(self, method: str, path: str, *, template: str | None = None
              ) -> tuple[FunctionSpec | None, dict[str, str], list[str]]:
        """Find the HTTP function for ``method path``: (spec, path params, methods allowed on that path).

        ``template``: the route template the platform matched already (API Gateway's ``routeKey``/``resource``):
        looked up directly, whatever the number of routes. Without it, or when it names no route serving the path
        and method, a trie of path segments narrows the search to the routes the path can reach; among those that
        match the path and serve the method, the most specific wins, as API Gateway picks it (compared segment by
        segment from the left: a literal beats a ``{param}``, which beats a greedy ``{name+}``; see
        :mod:`portafunc.routing`), and the first registered among equally specific ones. When none serves the
        method, the methods of every route matching the path are the ones allowed.
        """
        spec, params, methods = self._match(method.upper(), path, template)
        return spec, params, list(methods)

    def _match(self, method: str, path: str, template: str | None
               ) -> tuple[FunctionSpec | None, dict[str, str], Sequence[str]]:
        """:meth:`route` for an upper-case method, the methods as the trigger holds them (the pipeline's call)."""
        table = self._routes
        if table is None:
            table = self._routes = RouteTable((f.trigger.route, f) for f in self._functions.values()
                                              if isinstance(f.trigger, HttpTrigger))
        if template is not None:
            for route, spec in table._templates.get(template, ()):
                methods = spec.trigger.methods
                if method in methods or (method == "HEAD" and "GET" in methods):
                    params = route.match(path)
                    if params is not None:
                        return spec, params, methods
        allowed: list[str] = []
        for route, spec in table.candidates(path):
            params = route.match(path)
            if params is None:
                continue
            methods = spec.trigger.methods
            if method in methods or (method == "HEAD" and "GET" in methods):
                return spec, params, methods
            allowed.extend(methods)
        return None, {}, allowed

    def middleware(self, fn: Callable[..., Any] | None = None, *,
                   kinds: Iterable[str] | None = None) -> Any:
        """Register ``mw(event, call_next)`` to wrap every invocation of this app's (or router's) functions.

        It receives the event (an ``HttpRequest``, each ``Message`` of a batch, a ``ScheduleEvent`` or
        ``StorageEvent``) and returns ``call_next(event)`` — for HTTP an ``HttpResponse`` it may change — or its
        own result, without calling the function (short-circuit). What it raises is the invocation's failure, handled
        as the function's would be. Middleware run in registration order, the app's around a router's; ``async def``
        middleware ``await call_next(event)``. Use as ``@app.middleware`` or ``@app.middleware(kinds=("http",))``.

        Args:
            fn: The middleware function (when used without arguments).
            kinds: Only wrap functions of these kinds: ``http``, ``queue``, ``topic``, ``schedule``, ``storage``;
                ``None``: all.

        Returns:
            The function unchanged, or a decorator doing the registration when called with ``kinds`` only.

        Raises:
            RegistrationError: An unknown kind, or a function that does not take ``(event, call_next)``.
        """
        from .middleware import Middleware, check_kinds

        chosen = check_kinds(kinds)

        def register(mw: Callable[..., Any]) -> Callable[..., Any]:
            self._middleware.append(Middleware(mw, chosen))
            return mw

        return register if fn is None else register(fn)

    def exception_handler(self, key: type[BaseException] | int) -> Callable[[F], F]:
        """Register ``handler(req, exc)`` answering HTTP requests whose function raised ``key`` (or a subclass), or
        the app's ``404`` / ``405`` for requests no function serves.

        It returns an ``HttpResponse`` (or anything a handler may return). The most specific class registered wins;
        for 404/405 ``exc`` is a ``BadRequest`` with the standard ``status``, ``title`` and ``detail``, and a 405
        answer keeps the ``Allow`` header. A handler that raises gives the standard answer (500, 404 or 405).

        Args:
            key: An exception class, or the status ``404`` or ``405``.

        Returns:
            A decorator that registers the handler and returns it unchanged.

        Raises:
            RegistrationError: Neither an exception class nor 404/405, or a key registered twice.
        """
        if not (isinstance(key, type) and issubclass(key, BaseException)) and key not in (404, 405):
            raise RegistrationError(f"exception_handler takes an exception class or 404/405, not {key!r}")
        if key in self._exception_handlers:
            raise RegistrationError(f"app {self.name!r}: an exception handler for {key!r} is registered already")

        def register(handler: F) -> F:
            self._exception_handlers[key] = handler
            return handler

        return register

    def include_router(self, router: Router, *, prefix: str = "", tags: Iterable[str] = ()) -> None:
        """Register every function of ``router`` in this app; its HTTP routes are served under ``prefix``.

        Args:
            router: A [`Router`][portafunc.Router] whose module registered its functions already.
            prefix: Prepended to each HTTP route of the router (``"/v1"``: ``/orders`` is served as
                ``/v1/orders``); ``""``: the routes as written. Queue, topic, schedule and storage functions are
                included unchanged.
            tags: OpenAPI tags of the router's HTTP functions, before the router's own ``Router(tags=...)``.

        Raises:
            RegistrationError: A bad prefix, or a function name or route the app has already (the same checks as
                registering them on the app).
        """
        from .routers import include

        include(self, router, prefix, (tags,) if isinstance(tags, str) else tuple(tags))

    def mount(self, prefix: str, asgi_or_wsgi_app: Any, *, name: str | None = None) -> None:
        """Serve an existing ASGI 3 (FastAPI, Starlette) or WSGI (Flask, Django) app under ``prefix``, unchanged.

        One HTTP function with the catch-all route ``{prefix}/{path+}`` (every method) reaches the app, packaged
        and served like any other route; the app sees the full path with ``prefix`` as its ``root_path`` (ASGI) or
        ``SCRIPT_NAME`` (WSGI), so the URLs it generates are right. The response is buffered. An ASGI app's
        lifespan starts once, before its first request, and shuts down at interpreter exit where the platform
        allows; a request returns once the app has returned, background tasks included (see docs/asgi.md).

        Args:
            prefix: Where the app is served, ``"/api"``; ``"/"`` for the root (then ``/`` itself is not served:
                a catch-all route needs at least one segment on every cloud).
            asgi_or_wsgi_app: The app: an async callable ``(scope, receive, send)`` or ``(environ,
                start_response)`` callable.
            name: The function's name (default: ``mount_`` and the prefix's words, ``mount_api``).

        Raises:
            RegistrationError: A bad prefix, an object that is neither ASGI 3 nor WSGI, or a name or route the
                app has already.
        """
        from .mount import mount

        mount(self, prefix, asgi_or_wsgi_app, name=name)

    def openapi(self, *, title: str | None = None, version: str = "0.1.0",
                target: str | None = None) -> dict[str, Any]:
        """The app's OpenAPI 3.1 document: every HTTP route and method, typed path, query and header parameters,
        request and response schemas from the pydantic models (in ``components/schemas``), the problem+json
        answers of the pipeline, security schemes and router tags; a mounted FastAPI app's own schema under its
        prefix. Sorted, so the same app always gives the same document (see docs/openapi.md).

        Args:
            title: ``info.title`` (default: the app's name).
            version: ``info.version``.
            target: Describe ``auth="function"`` as that installed target checks it
                (``Target.function_auth_schemes``: an IAM signature, a function key, an ID token); ``None``: every
                installed target's scheme, as alternatives.
        """
        from .openapi import document

        return document(self, title=title, version=version, target=target)

    def resources(self, config: Config | None = None) -> Deployment:
        """Every resource the app reaches, each function's grants and settings: the one cloud-neutral description
        the local runner, the contract kit, ``portafunc inspect`` and the packagers read (see docs/resources.md)."""
        from .resources import describe

        return describe(self, config)

    def _register(self, trigger: Trigger | RegistrationError, name: str | None, idempotency_key: str | None = None,
                  uses: Uses = None) -> Callable[[F], F]:
        def decorator(handler: F) -> F:
            fname = name or getattr(handler, "__name__", None)
            if not fname or not fname.replace("_", "").replace("-", "").isalnum():
                raise RegistrationError(f"function name {fname!r} must be letters, digits, '-' or '_'")
            if isinstance(trigger, RegistrationError):  # a trigger refused before the function's name was known
                raise type(trigger)(f"function {fname!r}: {trigger}")
            declared: tuple[Use, ...] = ()
            if uses is not None:  # the resource model loads with the first declaration, not with every app
                from .resources import normalise_uses

                declared = normalise_uses(uses, fname)  # here, where the function's name is known
            if fname in self._functions:
                raise RegistrationError(f"app {self.name!r}: function {fname!r} is registered twice; "
                                        "pass name=... to one of them")
            self._check_conflicts(fname, trigger)
            code = getattr(handler, "__code__", None)
            spec = FunctionSpec(fname, handler, trigger, self,
                                is_async=bool(code is not None and code.co_flags & _CO_COROUTINE),
                                idempotency_key=idempotency_key, uses=declared)
            try:
                spec.call_plan()
            except NameError:
                spec.params = None  # annotations name something defined later: resolved on first call
            self._functions[fname] = spec
            self._routes = None
            return handler

        return decorator

    def _check_conflicts(self, fname: str, trigger: Trigger) -> None:
        """Refuse a trigger another function already serves. Routes and queues are looked up by key (an app with
        many routes builds in linear time); a claim left by a registration that failed after this check is stale
        and replaced."""
        claims = self._claims
        if isinstance(trigger, HttpTrigger):
            keys = [("http", f"{method} {trigger.route.shape}") for method in trigger.methods]
        elif isinstance(trigger, QueueTrigger):
            keys = [("queue", trigger.queue)]
        else:
            keys = []
        for key in keys:
            claim = claims.get(key)
            if claim is None:
                continue
            other = self._functions.get(claim[0])
            if other is None or other.trigger is not claim[1]:
                continue  # stale: that registration did not complete
            t = other.trigger
            if isinstance(trigger, HttpTrigger) and isinstance(t, HttpTrigger):
                same = set(trigger.methods) & set(t.methods)
                raise RegistrationError(
                    f"app {self.name!r}: {fname!r} and {other.name!r} both handle "
                    f"{','.join(sorted(same))} {trigger.route.template}")
            raise RegistrationError(
                f"app {self.name!r}: {fname!r} and {other.name!r} both consume queue {key[1]!r}; "
                "competing consumers would each see only part of it: use a topic for fan-out")
        if isinstance(trigger, StorageTrigger):  # few per app: compared pairwise
            for other in self._functions.values():
                t = other.trigger
                if isinstance(t, StorageTrigger) and trigger.bucket == t.bucket \
                        and set(trigger.events) & set(t.events) and _prefixes_overlap(trigger, t):
                    raise RegistrationError(
                        f"app {self.name!r}: {fname!r} and {other.name!r} both handle "
                        f"{','.join(sorted(set(trigger.events) & set(t.events)))} events of bucket "
                        f"{trigger.bucket!r}; object stores refuse overlapping notifications: give them distinct prefixes or "
                        "suffixes")
        for key in keys:
            claims[key] = (fname, trigger)

    # -- decorators ---------------------------------------------------------------------------------------------
    def http(self, method: str | list[str] | tuple[str, ...], route: str, *, name: str | None = None,
             auth: Literal["anonymous", "function"] | JwtAuth | None = None,
             idempotent: bool = False, uses: Uses = None,
             cors: Cors | None = None, response_model: Any = None,
             content_types: Iterable[str] | None = None,
             responses: Mapping[int, Any] | None = None) -> Callable[[F], F]:
        """Serve ``route`` for one or several HTTP methods; ``{param}`` segments fill ``req.path_params``.

        The handler takes the [`HttpRequest`][portafunc.HttpRequest] and, optionally, typed path, query and header
        parameters (``limit: int = 10``, ``x_tenant: Annotated[str, Header()]``; see [`Query`][portafunc.Query],
        [`Header`][portafunc.Header], [`Path`][portafunc.Path]) and a pydantic model parameter that receives the JSON
        body validated; a request that does not match is answered 400 ``application/problem+json`` listing every
        failing parameter. A return annotation naming a pydantic model (``-> Order``) is the response model.

        Args:
            method: One method or several (``"GET"``, ``["GET", "HEAD"]``): GET, POST, PUT, PATCH, DELETE, HEAD or
                OPTIONS. A GET route also answers HEAD on every cloud.
            route: The path template, ``/orders/{shop}``; ``{rest+}`` matches the remaining segments. The same
                URL on every cloud: **AWS** an API Gateway HTTP API route (payload 2.0); **Azure** an HTTP trigger
                route (``{rest+}`` becomes ``{*rest}``; ``host.json`` drops Azure's ``/api`` prefix); **GCP** a route of
                the app's one HTTP Cloud Function, ``<app>-http``, which routes every HTTP function inside.
            name: The function's name (default: the handler's ``__name__``): the Lambda function, the Azure
                function and the route's entry point in the GCP ``main.py`` are named after it.
            auth: Who may call; ``None``: the app's ``auth`` (``"anonymous"`` unless ``App(..., auth=...)`` says
                otherwise). ``"anonymous"``: anyone. A [`JwtAuth`][portafunc.JwtAuth]: end users with a valid bearer
                JWT of your identity provider, checked by the function on every cloud and in ``portafunc run`` (401
                otherwise), the claims in ``req.principal``. ``"function"``: callers the *cloud* authenticates with
                its own credentials, different on each (not end users; ``portafunc run`` checks nothing):
                **AWS** an ``AWS_IAM`` authorizer: requests must be SigV4-signed by an IAM principal allowed to invoke
                the API; a ``JwtAuth`` route also gets the HTTP API's JWT authorizer, so requests without a valid
                token are refused before the function runs. **Azure** ``AuthLevel.FUNCTION``: a function key (a
                shared secret from the function app's keys) in ``?code=`` or the ``x-functions-key`` header.
                **GCP** the HTTP service is deployed with ``--no-allow-unauthenticated``: the caller needs the Cloud
                Run invoker IAM role and sends a Google-signed ID token. The service has one access policy, so on GCP
                all HTTP functions of an app need the same ``auth`` level (packaging refuses a mix of ``"function"``
                with public routes; a ``JwtAuth`` route is public to IAM).
            idempotent: Run at most once per ``Idempotency-Key`` request header and replay the first response to
                retries (the same as ``idempotency_key="header.Idempotency-Key"`` on the message decorators); a
                request without the header runs normally. Needs ``PORTAFUNC_IDEMPOTENCY_STORE`` on a cloud:
                **AWS** ``dynamodb://TABLE``, **Azure** ``aztable://TABLE``, **GCP** ``firestore://PROJECT/COLL``.
            uses: What the handler reaches besides its trigger, checked here and at run time:
                ``[publishes("topic"), sends("queue"), reads(bucket=...), writes(kv=...)]``. Opening an undeclared
                topic, queue, bucket or table inside the handler raises ``BindingError`` naming the entry to add;
                every packager creates, binds and grants exactly these (see docs/resources.md).
            cors: This route's [`Cors`][portafunc.Cors] policy, instead of the app's ``App(..., cors=...)``.
                Preflights are answered by the function on every cloud (see docs/http.md).
            response_model: The type the handler's result is validated as and serialised from (a pydantic model,
                ``list[Order]``, any type pydantic validates); ``None``: the return annotation when it names a
                model (``-> Order``, ``-> list[Order]``, or ``-> tuple[Order, Literal[201]]`` /
                ``-> tuple[Order, int]`` for a handler returning ``(result, status)``). Fields outside the model
                are not sent; a result that does not match is a 500.
            content_types: The request content types this route accepts when a request has a body
                (``["application/json", "application/*+json"]``; ``"*/*"``: any); others are answered 415
                ``Unsupported Media Type``. ``None``: the app's ``content_types``, else JSON for a typed body and
                anything for a handler that reads ``req.body`` itself. Checked by the function on every cloud.
            responses: Other answers of the route, for the OpenAPI document (``app.openapi()``; nothing is checked
                at run time): status (100-599) → a description, or the pydantic model (``list[Model]`` too) its
                body is. ``{404: "no such link", 301: "redirect to the target", 201: Link}``: a described 4xx or
                5xx is an ``application/problem+json`` problem (what ``HttpError`` answers), a model JSON.

        Returns:
            A decorator that registers the handler and returns it unchanged.

        Raises:
            RegistrationError: An unknown method or ``auth``, a bad route template, a name already used, another
                function serving the same method and route shape, or a ``responses`` entry that is not a status
                100-599 with a description or a model.
        """
        methods = (method,) if isinstance(method, str) else tuple(method)
        methods = tuple(dict.fromkeys(m.upper() for m in methods))
        bad = [m for m in methods if m not in HTTP_METHODS]
        if not methods or bad:
            raise RegistrationError(f"route {route!r}: unknown HTTP method(s) {bad or methods}; "
                                    f"use {', '.join(HTTP_METHODS)}")
        _check_auth(auth, f"route {route!r}")
        resolved = auth if auth is not None else self.auth
        _check_cors(cors)
        if cors is not None:
            self._cors_used = True
        accepted = _check_content_types(content_types, f"route {route!r}")
        documented = _check_responses(responses, f"route {route!r}")
        return self._register(HttpTrigger(methods, compile_route(route), resolved, cors, response_model, accepted,
                                          documented),
                              name,
                              "header.Idempotency-Key" if idempotent else None, uses)

    def topic(self, topic: str | TopicHandle, *, name: str | None = None, max_attempts: int = 5,
              dead_letter: str | QueueHandle | None = None, idempotency_key: str | None = None,
              uses: Uses = None) -> Callable[[F], F]:
        """Subscribe to a logical topic: every subscriber sees every message (fan-out).

        The handler takes a [`Message`][portafunc.Message] (``Message[Order]`` validates ``msg.body`` as
        ``Order``), or a pydantic model parameter that receives the payload validated. A handler that raises has
        that message retried; a payload that does not validate, or
        [`NonRetryableError`][portafunc.NonRetryableError], is never retried.

        Args:
            topic: The logical topic name, bound at run time by ``PORTAFUNC_TOPIC_<NAME>``. **AWS** an SNS topic,
                delivered through one SQS subscription queue per subscribing function (so failures are retried per
                message with exact attempts). **Azure** an Event Grid topic with an event subscription to this
                function (Event Grid or CloudEvents schema). **GCP** a Pub/Sub topic, delivered by an Eventarc
                trigger (``--trigger-topic``, ``--retry``).
            name: The function's name (default: the handler's ``__name__``); also the name of its subscription.
            max_attempts: Deliveries of one message before it is dead-lettered, 1-100. **AWS** the subscription
                queue's redrive policy ``maxReceiveCount``. **Azure** the Event Grid subscription's
                ``retryPolicy.maxDeliveryAttempts`` in the ARM template (then its dead-letter container). **GCP**
                the subscription's dead-letter policy ``max_delivery_attempts``, which Pub/Sub accepts from 5 to
                100 only: lower values are refused when packaging for GCP.
            dead_letter: Where a non-retryable message goes at once (then acknowledged): a logical *queue*
                name (declared by naming it: created, bound and granted by every packager, and for a queue trigger
                also the broker's redrive target after ``max_attempts``), or a binding URL (``sqs://…``,
                ``pubsub://…``). ``None``: the ``PORTAFUNC_DEADLETTER_<FUNC>``
                variable, else the message is reported failed so the broker's own dead-letter policy takes it
                after ``max_attempts``. **AWS** the subscription queue's DLQ. **Azure** Event Grid's dead-letter
                container. **GCP** ``deploy.sh`` sets ``PORTAFUNC_DEADLETTER_<FUNC>`` to the function's dead-letter
                topic, so the message is moved there at once.
            idempotency_key: Run the handler at most once per key and give duplicates the first result: ``"id"``
                (the message id), ``"body.order_id"`` (a JSON path into the payload), ``"attribute.NAME"``.
                ``None``: no duplicate check. Needs ``PORTAFUNC_IDEMPOTENCY_STORE`` on a cloud: **AWS**
                ``dynamodb://TABLE``, **Azure** ``aztable://TABLE``, **GCP** ``firestore://PROJECT/COLL``.
            uses: What the handler reaches besides its trigger, checked here and at run time:
                ``[publishes("topic"), sends("queue"), reads(bucket=...), writes(kv=...)]``. Opening an undeclared
                topic, queue, bucket or table inside the handler raises ``BindingError`` naming the entry to add;
                every packager creates, binds and grants exactly these (see docs/resources.md).

        Returns:
            A decorator that registers the handler and returns it unchanged.

        Raises:
            RegistrationError: A bad topic name, ``max_attempts`` outside 1-100, or a name already used.
        """
        topic = _resource_name("topic", topic)
        _check_attempts(max_attempts)
        dead_letter = _check_dead_letter(dead_letter)
        return self._register(TopicTrigger(topic, max_attempts, dead_letter), name, idempotency_key, uses)

    def queue(self, queue: str | QueueHandle, *, name: str | None = None, batch_size: int = 10,
              max_batching_window: int = 0, max_attempts: int = 5, visibility_timeout: int = 30, ordered: bool = False,
              dead_letter: str | QueueHandle | None = None, idempotency_key: str | None = None,
              uses: Uses = None) -> Callable[[F], F]:
        """Consume a logical work queue: each message is handled by one invocation, at least once.

        The handler takes a [`Message`][portafunc.Message] (``Message[Order]`` validates ``msg.body`` as
        ``Order``), or a pydantic model parameter that receives the payload validated. In a batch only the messages
        that failed are retried; a payload that does not validate, or
        [`NonRetryableError`][portafunc.NonRetryableError], is never retried.
        One queue has one consumer: use a topic for fan-out.

        Args:
            queue: The logical queue name, bound at run time by ``PORTAFUNC_QUEUE_<NAME>``. **AWS** an SQS queue
                and its event source mapping (``ReportBatchItemFailures``). **Azure** a Storage Queue trigger (the
                name lower-cased, other characters as ``-``). **GCP** a Pub/Sub topic with a push subscription to
                this function.
            name: The function's name (default: the handler's ``__name__``).
            batch_size: The most messages one invocation receives, 1-10000; each target refuses what its
                service cannot deliver when packaging (``portafunc inspect`` says why). **AWS** the event source's
                ``BatchSize``: up to 10 for an ordered (FIFO) queue, up to 10000 for a standard queue, above 10
                only with ``max_batching_window``. **Azure** ``host.json`` ``queues.batchSize``, up to 32, one
                value for the whole app (the largest of its queues). **GCP** no effect: a push subscription sends
                one message per request.
            max_batching_window: Seconds to gather a batch before invoking, 0-300. **AWS** the event source's
                ``MaximumBatchingWindowInSeconds`` (needed for a ``batch_size`` above 10). **Azure**, **GCP** no
                effect: their triggers deliver what is there.
            max_attempts: Deliveries of one message before it is dead-lettered, 1-100. **AWS** the queue's redrive
                policy ``maxReceiveCount`` (to a DLQ the template creates); a queue configured as existing keeps
                its own redrive policy and visibility timeout instead (``inspect`` and ``package`` warn). **Azure**
                the runtime moves the message on this attempt to ``dead_letter=``, or to ``<queue>-poison``
                without one or when the dead letter does not take it (``host.json`` ``maxDequeueCount`` is the
                largest of the app's queues). **GCP** the push subscription's
                ``max_delivery_attempts`` (Pub/Sub accepts 5-100 only: lower values are refused when packaging for
                GCP).
            visibility_timeout: Seconds a delivered message stays hidden from other consumers before it is
                redelivered, 1-43200: keep it above the handler's run time. **AWS** the queue's
                ``VisibilityTimeout``, raised to the function's timeout when that is longer. **Azure** ``host.json``
                ``queues.visibilityTimeout``, the delay before a failed message is retried (the host keeps a
                message hidden while it runs); one value for the app: the smallest of its queues. **GCP** the
                subscription's ack deadline, clamped to 10-600 s.
            ordered: Deliver messages with the same ``ordering_key`` in order; after a failure, that message and
                every later one of the batch are retried, so order is kept. **AWS** a FIFO queue (``.fifo``;
                ``ordering_key`` is the ``MessageGroupId``). **Azure** refused when packaging: Storage Queues keep
                no order and the trigger runs messages in parallel. **GCP** the subscription is created with
                ``--enable-message-ordering``.
            dead_letter: Where a non-retryable message goes at once (then acknowledged): a logical *queue*
                name (declared by naming it: created, bound and granted by every packager, and for a queue trigger
                also the broker's redrive target after ``max_attempts``), or a binding URL (``sqs://…``,
                ``pubsub://…``). ``None``: the ``PORTAFUNC_DEADLETTER_<FUNC>``
                variable, else the message is reported failed so the broker's own dead-letter policy takes it.
                **AWS** the redrive DLQ, after ``max_attempts``. **Azure** the runtime moves it to
                ``<queue>-poison`` at once. **GCP** ``deploy.sh`` sets ``PORTAFUNC_DEADLETTER_<FUNC>`` to the
                subscription's dead-letter topic, so the message is moved there at once.
            idempotency_key: Run the handler at most once per key and give duplicates the first result: ``"id"``
                (the message id), ``"body.order_id"`` (a JSON path into the payload), ``"attribute.NAME"``.
                ``None``: no duplicate check. Needs ``PORTAFUNC_IDEMPOTENCY_STORE`` on a cloud: **AWS**
                ``dynamodb://TABLE``, **Azure** ``aztable://TABLE``, **GCP** ``firestore://PROJECT/COLL``.
            uses: What the handler reaches besides its trigger, checked here and at run time:
                ``[publishes("topic"), sends("queue"), reads(bucket=...), writes(kv=...)]``. Opening an undeclared
                topic, queue, bucket or table inside the handler raises ``BindingError`` naming the entry to add;
                every packager creates, binds and grants exactly these (see docs/resources.md).

        Returns:
            A decorator that registers the handler and returns it unchanged.

        Raises:
            RegistrationError: A bad queue name, ``batch_size``, ``max_attempts`` or ``visibility_timeout`` out of
                range, a name already used, or another function consuming the same queue.
        """
        queue = _resource_name("queue", queue)
        _check_attempts(max_attempts)
        if not 1 <= batch_size <= 10000:
            raise RegistrationError(f"queue {queue!r}: batch_size {batch_size} must be 1-10000 "
                                    "(the largest batch any target delivers, with a batching window)")
        if not 0 <= max_batching_window <= 300:
            raise RegistrationError(f"queue {queue!r}: max_batching_window must be 0-300 seconds")
        if not 1 <= visibility_timeout <= 43200:
            raise RegistrationError(f"queue {queue!r}: visibility_timeout must be 1-43200 seconds")
        dead_letter = _check_dead_letter(dead_letter)
        if dead_letter == queue:
            raise RegistrationError(f"queue {queue!r}: dead_letter must be another queue, not the queue itself")
        return self._register(QueueTrigger(queue, batch_size, max_attempts, visibility_timeout, ordered,
                                           dead_letter, max_batching_window), name, idempotency_key, uses)

    def schedule(self, expression: str | None = None, *, cron: str | None = None,
                 name: str | None = None, uses: Uses = None) -> Callable[[F], F]:
        """Run on a schedule: ``rate(5 minutes)`` or ``cron="0 3 * * *"`` (UTC).

        The handler takes a [`ScheduleEvent`][portafunc.ScheduleEvent] whose ``time`` is the scheduled instant. A
        schedule fires at the same instants on every cloud; one that a cloud cannot express exactly is refused
        here, with the reason.

        Args:
            expression: ``rate(N minutes|hours|days)``, aligned to the clock (``rate(15 minutes)`` fires at :00,
                :15, :30, :45), or a 5-field cron; give this or ``cron``. **AWS** an EventBridge rule with the
                equivalent ``cron(...)`` (never ``rate()``, whose phase depends on when the rule was created).
                **Azure** a Timer trigger with the 6-field NCRONTAB. **GCP** a Cloud Scheduler job (unix-cron, UTC)
                calling the function with an OIDC token.
            cron: A 5-field cron, ``minute hour day-of-month month day-of-week`` in UTC; give this or
                ``expression``. Restricting both day-of-month and day-of-week is refused (AWS cannot express it).
            name: The function's name (default: the handler's ``__name__``).
            uses: What the handler reaches besides its trigger, checked here and at run time:
                ``[publishes("topic"), sends("queue"), reads(bucket=...), writes(kv=...)]``. Opening an undeclared
                topic, queue, bucket or table inside the handler raises ``BindingError`` naming the entry to add;
                every packager creates, binds and grants exactly these (see docs/resources.md).

        Returns:
            A decorator that registers the handler and returns it unchanged.

        Raises:
            ScheduleError: The expression is invalid or would fire at different instants on some cloud.
            RegistrationError: Neither or both of ``expression`` and ``cron``, or a name already used.
        """
        if (expression is None) == (cron is None):
            raise RegistrationError("schedule needs exactly one of an expression ('rate(5 minutes)') or cron=...")
        from .errors import ScheduleError
        from .schedule import parse_schedule

        try:
            trigger: Trigger | ScheduleError = ScheduleTrigger(parse_schedule(expression or cron or ""))
        except ScheduleError as exc:
            trigger = exc  # raised when the decorator is applied, naming the function
        return self._register(trigger, name, None, uses)

    def storage(self, bucket: str | Bucket, *, events: list[str] | tuple[str, ...] = ("created",), prefix: str = "",
                suffix: str = "", name: str | None = None,
                uses: Uses = None) -> Callable[[F], F]:
        """React to object changes in a logical bucket (``created``, ``deleted``, ``archived``, ...).

        The handler takes a [`StorageEvent`][portafunc.StorageEvent] (bucket, decoded key, kind, size, etag, time).

        Args:
            bucket: The logical bucket name. **AWS** an S3 bucket with an event notification to the function.
                **Azure** a Blob Storage container, its events delivered by Event Grid. **GCP** a Cloud Storage
                bucket with an Eventarc trigger.
            events: Which changes to receive: ``created``, ``deleted``, ``archived``, ``metadata_updated``.
                **AWS** ``s3:ObjectCreated:*``, ``s3:ObjectRemoved:*``, ``s3:LifecycleTransition``,
                ``s3:ObjectTagging:*``. **Azure** ``Microsoft.Storage.BlobCreated``, ``BlobDeleted``,
                ``BlobTierChanged``; ``metadata_updated`` is refused (Blob Storage publishes no such event).
                **GCP** ``google.cloud.storage.object.v1.finalized``, ``deleted``, ``archived``,
                ``metadataUpdated``.
            prefix: Only keys that start with this. **AWS** an S3 ``prefix`` filter rule. **Azure** the event
                subscription's ``subjectBeginsWith``. **GCP** filtered in the function (Eventarc cannot filter by
                name): other objects still invoke it, and are acknowledged without running the handler.
            suffix: Only keys that end with this; per cloud as ``prefix`` (S3 ``suffix`` rule, Event Grid
                ``subjectEndsWith``, filtered in the function on GCP).
            name: The function's name (default: the handler's ``__name__``).
            uses: What the handler reaches besides its trigger, checked here and at run time:
                ``[publishes("topic"), sends("queue"), reads(bucket=...), writes(kv=...)]``. Opening an undeclared
                topic, queue, bucket or table inside the handler raises ``BindingError`` naming the entry to add;
                every packager creates, binds and grants exactly these (see docs/resources.md).

        Returns:
            A decorator that registers the handler and returns it unchanged.

        Raises:
            RegistrationError: A bad bucket name, an unknown event kind, a name already used, or another function
                receiving the same events of an overlapping prefix/suffix in the same bucket (S3 refuses that).
        """
        bucket = _resource_name("bucket", bucket)
        evts = tuple(dict.fromkeys(events))
        bad = [e for e in evts if e not in STORAGE_KINDS]
        if not evts or bad:
            raise RegistrationError(f"storage {bucket!r}: unknown event(s) {bad}; use {', '.join(STORAGE_KINDS)}")
        return self._register(StorageTrigger(bucket, evts, prefix, suffix), name, None, uses)


def _prefixes_overlap(a: StorageTrigger, b: StorageTrigger) -> bool:
    prefix_overlap = a.prefix.startswith(b.prefix) or b.prefix.startswith(a.prefix)
    suffix_overlap = a.suffix.endswith(b.suffix) or b.suffix.endswith(a.suffix)
    return prefix_overlap and suffix_overlap


def _check_resource(what: str, name: str) -> None:
    if not isinstance(name, str) or not name or not all(c.isalnum() or c in "-_." for c in name):
        raise RegistrationError(f"{what} name {name!r} must be letters, digits, '-', '_' or '.'")


def _resource_name(kind: str, value: Any, what: str | None = None) -> str:
    """A trigger's resource by its logical name, or by a handle of that kind (``@app.queue(jobs)`` with ``jobs =
    portafunc.queue("jobs")``): its name."""
    if value.__class__ is not str and hasattr(value, "__portafunc_use__") and not isinstance(value, type):
        if value.kind != kind:  # without the resource model: a trigger alone does not load it
            raise RegistrationError(f"{value!r} is a {value.kind}, not a {kind}: pass portafunc.{kind}(...) or "
                                    f"the {kind}'s name")
        value = value.name
    _check_resource(what or kind, value)
    return value  # type: ignore[no-any-return]


def _check_dead_letter(dead_letter: Any) -> str | None:
    """A dead letter is a *queue* (declared by naming it, or by its handle): it keeps what failed until someone
    reads or redrives it, where a topic with no subscriber would drop it. An explicit URL (``sqs://…``) names an
    existing destination. Its name (or URL)."""
    if dead_letter is None or dead_letter.__class__ is str and "://" in dead_letter:
        return dead_letter
    return _resource_name("queue", dead_letter, "dead-letter queue")


def _check_cors(cors: object) -> None:
    if cors is None:
        return
    from .cors import Cors

    if not isinstance(cors, Cors):
        raise RegistrationError(f"cors must be a portafunc.Cors(...), not {type(cors).__name__}")


def _check_content_types(content_types: Iterable[str] | None, where: str) -> tuple[str, ...] | None:
    if content_types is None:
        return None
    from .params import check_content_types

    return check_content_types(content_types, where)


def _check_responses(responses: object, where: str) -> tuple[tuple[int, str | None, Any], ...]:
    """``responses=`` as (status, description, model) triples by status; a bad key or value raises
    RegistrationError."""
    if responses is None:
        return ()
    items = getattr(responses, "items", None)
    if not callable(items):
        raise RegistrationError(f"{where}: responses must be a dict of status → description or model, not "
                                f"{type(responses).__name__}")
    out: list[tuple[int, str | None, Any]] = []
    for status, value in items():
        if type(status) is not int or not 100 <= status <= 599:
            raise RegistrationError(f"{where}: responses key {status!r} is not an HTTP status (an int, 100-599)")
        if isinstance(value, str):
            if not value.strip():
                raise RegistrationError(f"{where}: responses[{status}] is an empty description")
            out.append((status, value, None))
        elif _is_model(value) or (not isinstance(value, type) and hasattr(value, "__origin__")):
            out.append((status, None, value))  # a model, or a parametrised type such as list[Model]
        else:
            raise RegistrationError(f"{where}: responses[{status}] must be a description (str) or a pydantic model "
                                    f"(or list[Model]), not {value!r}")
    return tuple(sorted(out, key=lambda entry: entry[0]))


def _check_auth(auth: object, where: str) -> None:
    if auth is None or auth == "anonymous" or auth == "function":  # noqa: PLR1714 - no import for the usual values
        return
    from .auth import check_auth

    check_auth(auth, where)


def _check_attempts(max_attempts: int) -> None:
    if not 1 <= max_attempts <= 100:
        raise RegistrationError(f"max_attempts {max_attempts} must be 1-100")
