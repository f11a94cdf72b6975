"""The App registry and its decorators.

Decorators only record a :class:`FunctionSpec`; nothing cloud-specific happens here. Everything that can be checked
without a cloud is checked at import time (duplicate names, conflicting routes, bad schedules, bad options), so a
mistake fails on the developer's machine rather than after a deploy.
"""

from __future__ import annotations

from .errors import RegistrationError
from .events import STORAGE_KINDS, HttpRequest, Message
from .routing import Route, compile_route

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing and dataclasses are not imported at run time: they cost milliseconds of cold start
    from typing import Any, Callable, Iterator, Literal, TypeVar

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
    __slots__ = ("methods", "route", "auth")
    kind = "http"

    def __init__(self, methods: tuple[str, ...], route: Route, auth: str = "anonymous") -> None:
        self.methods = methods
        self.route = route
        self.auth = auth

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
    __slots__ = ("queue", "batch_size", "max_attempts", "visibility_timeout", "ordered", "dead_letter")
    kind = "queue"

    def __init__(self, queue: str, batch_size: int = 10, max_attempts: int = 5, visibility_timeout: int = 30,
                 ordered: bool = False, dead_letter: str | None = None) -> None:
        self.queue = queue
        self.batch_size = batch_size
        self.max_attempts = max_attempts
        self.visibility_timeout = visibility_timeout
        self.ordered = ordered
        self.dead_letter = dead_letter

    def describe(self) -> str:
        return f"queue {self.queue}" + (" (ordered)" if self.ordered else "")


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
    """How to fill one handler parameter: with the event itself, or with the payload validated as ``model``."""

    __slots__ = ("name", "source", "model")

    def __init__(self, name: str, source: Literal["event", "payload"], model: Any = None) -> None:
        self.name = name
        self.source = source
        self.model = model


class FunctionSpec:
    """One portafunc function: a handler plus the neutral trigger that invokes it."""

    __slots__ = ("name", "handler", "trigger", "app", "is_async", "message_model", "params", "idempotency_key")

    def __init__(self, name: str, handler: Callable[..., Any], trigger: Trigger, app: App, is_async: bool = False,
                 message_model: Any = None, params: list[Param] | None = None,
                 idempotency_key: str | None = None) -> None:
        self.name = name
        self.handler = handler
        self.trigger = trigger
        self.app = app
        self.is_async = is_async
        self.message_model = message_model  # T of Message[T], when given
        self.params = params  # resolved lazily when annotations name classes defined later
        self.idempotency_key = idempotency_key

    def __repr__(self) -> str:
        return f"FunctionSpec({self.name!r}, {self.trigger.describe()})"

    @property
    def kind(self) -> str:
        return self.trigger.kind

    def call_plan(self) -> list[Param]:
        if self.params is None:
            self.params, self.message_model = _plan(self.handler, self.trigger, self.name)
        return self.params


def _plan(handler: Callable[..., Any], trigger: Trigger, name: str) -> tuple[list[Param], Any]:
    code = getattr(handler, "__code__", None)
    if code is None:
        raise RegistrationError(f"function {name!r}: handler must be a plain function, got {type(handler).__name__}")
    arg_names = code.co_varnames[: code.co_argcount + code.co_kwonlyargcount]
    hints = _type_hints(handler)
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


def _is_model(tp: Any) -> bool:
    """A pydantic model (checked by duck type so pydantic is not imported here)."""
    return isinstance(tp, type) and hasattr(tp, "model_validate_json")


class App:
    """A named set of functions. Adapters and tooling read ``app.functions``."""

    def __init__(self, name: str) -> None:
        if not name or not name.replace("-", "").replace("_", "").isalnum():
            raise RegistrationError(f"app name {name!r} must be letters, digits, '-' or '_'")
        self.name = name
        self._functions: dict[str, FunctionSpec] = {}
        self._routes: tuple[tuple[FunctionSpec, HttpTrigger], ...] | None = None  # built on first route(), for speed

    # -- registry -----------------------------------------------------------------------------------------------
    @property
    def functions(self) -> dict[str, FunctionSpec]:
        return dict(self._functions)

    def __iter__(self) -> Iterator[FunctionSpec]:
        return iter(self._functions.values())

    def function(self, name: str) -> FunctionSpec:
        try:
            return self._functions[name]
        except KeyError:
            known = ", ".join(sorted(self._functions)) or "none"
            raise RegistrationError(f"app {self.name!r} has no function {name!r} (functions: {known})") from None

    def http_functions(self) -> list[FunctionSpec]:
        return [f for f in self._functions.values() if isinstance(f.trigger, HttpTrigger)]

    def route(self, method: str, path: str) -> tuple[FunctionSpec | None, dict[str, str], list[str]]:
        """Find the HTTP function for ``method path``: (spec, path params, methods allowed on that path)."""
        routes = self._routes
        if routes is None:
            routes = self._routes = tuple((f, f.trigger) for f in self._functions.values()
                                          if isinstance(f.trigger, HttpTrigger))
        allowed: list[str] = []
        for spec, trig in routes:
            params = trig.route.match(path)
            if params is None:
                continue
            if method.upper() in trig.methods or (method.upper() == "HEAD" and "GET" in trig.methods):
                return spec, params, list(trig.methods)
            allowed.extend(trig.methods)
        return None, {}, allowed

    def _register(self, trigger: Trigger, name: str | None, idempotency_key: str | None = None
                  ) -> Callable[[F], F]:
        def decorator(handler: F) -> F:
            fname = name or getattr(handler, "__name__", None)
            if not fname or not fname.replace("_", "").replace("-", "").isalnum():
                raise RegistrationError(f"function name {fname!r} must be letters, digits, '-' or '_'")
            if fname in self._functions:
                raise RegistrationError(f"app {self.name!r}: function {fname!r} is registered twice; "
                                        "pass name=... to one of them")
            self._check_conflicts(fname, trigger)
            code = getattr(handler, "__code__", None)
            spec = FunctionSpec(fname, handler, trigger, self,
                                is_async=bool(code is not None and code.co_flags & _CO_COROUTINE),
                                idempotency_key=idempotency_key)
            try:
                spec.call_plan()
            except NameError:
                spec.params = None  # annotations name something defined later: resolved on first call
            self._functions[fname] = spec
            self._routes = None
            return handler

        return decorator

    def _check_conflicts(self, fname: str, trigger: Trigger) -> None:
        for other in self._functions.values():
            t = other.trigger
            if isinstance(trigger, HttpTrigger) and isinstance(t, HttpTrigger):
                same = set(trigger.methods) & set(t.methods)
                if same and trigger.route.shape == t.route.shape:
                    raise RegistrationError(
                        f"app {self.name!r}: {fname!r} and {other.name!r} both handle "
                        f"{','.join(sorted(same))} {trigger.route.template}")
            if isinstance(trigger, QueueTrigger) and isinstance(t, QueueTrigger) and trigger.queue == t.queue:
                raise RegistrationError(
                    f"app {self.name!r}: {fname!r} and {other.name!r} both consume queue {trigger.queue!r}; "
                    "competing consumers would each see only part of it: use a topic for fan-out")
            if isinstance(trigger, StorageTrigger) and isinstance(t, StorageTrigger) and trigger.bucket == t.bucket \
                    and set(trigger.events) & set(t.events) and _prefixes_overlap(trigger, t):
                raise RegistrationError(
                    f"app {self.name!r}: {fname!r} and {other.name!r} both handle "
                    f"{','.join(sorted(set(trigger.events) & set(t.events)))} events of bucket {trigger.bucket!r}; "
                    "S3 refuses overlapping notifications: give them distinct prefixes or suffixes")

    # -- decorators ---------------------------------------------------------------------------------------------
    def http(self, method: str | list[str] | tuple[str, ...], route: str, *, name: str | None = None,
             auth: Literal["anonymous", "function"] = "anonymous",
             idempotent: bool = False) -> Callable[[F], F]:
        """Serve ``route`` for one or several HTTP methods; ``{param}`` segments fill ``req.path_params``."""
        methods = (method,) if isinstance(method, str) else tuple(method)
        methods = tuple(dict.fromkeys(m.upper() for m in methods))
        bad = [m for m in methods if m not in HTTP_METHODS]
        if not methods or bad:
            raise RegistrationError(f"route {route!r}: unknown HTTP method(s) {bad or methods}; "
                                    f"use {', '.join(HTTP_METHODS)}")
        if auth not in ("anonymous", "function"):
            raise RegistrationError(f"route {route!r}: auth must be 'anonymous' or 'function'")
        return self._register(HttpTrigger(methods, compile_route(route), auth), name,
                              "header.Idempotency-Key" if idempotent else None)

    def topic(self, topic: str, *, name: str | None = None, max_attempts: int = 5,
              dead_letter: str | None = None, idempotency_key: str | None = None) -> Callable[[F], F]:
        """Subscribe to a logical topic: every subscriber sees every message (fan-out)."""
        _check_resource("topic", topic)
        _check_attempts(max_attempts)
        return self._register(TopicTrigger(topic, max_attempts, dead_letter), name, idempotency_key)

    def queue(self, queue: str, *, name: str | None = None, batch_size: int = 10, max_attempts: int = 5,
              visibility_timeout: int = 30, ordered: bool = False, dead_letter: str | None = None,
              idempotency_key: str | None = None) -> Callable[[F], F]:
        """Consume a logical work queue: each message is handled by one invocation, at least once."""
        _check_resource("queue", queue)
        _check_attempts(max_attempts)
        if not 1 <= batch_size <= 10:
            raise RegistrationError(f"queue {queue!r}: batch_size {batch_size} must be 1-10 "
                                    "(the largest batch every cloud delivers)")
        if not 1 <= visibility_timeout <= 43200:
            raise RegistrationError(f"queue {queue!r}: visibility_timeout must be 1-43200 seconds")
        return self._register(QueueTrigger(queue, batch_size, max_attempts, visibility_timeout, ordered,
                                           dead_letter), name, idempotency_key)

    def schedule(self, expression: str | None = None, *, cron: str | None = None,
                 name: str | None = None) -> Callable[[F], F]:
        """Run on a schedule: ``rate(5 minutes)`` or ``cron="0 3 * * *"`` (UTC)."""
        if (expression is None) == (cron is None):
            raise RegistrationError("schedule needs exactly one of an expression ('rate(5 minutes)') or cron=...")
        from .schedule import parse_schedule

        return self._register(ScheduleTrigger(parse_schedule(expression or cron or "")), name)

    def storage(self, bucket: str, *, events: list[str] | tuple[str, ...] = ("created",), prefix: str = "",
                suffix: str = "", name: str | None = None) -> Callable[[F], F]:
        """React to object changes in a logical bucket (``created``, ``deleted``, ``archived``, ...)."""
        _check_resource("bucket", bucket)
        evts = tuple(dict.fromkeys(events))
        bad = [e for e in evts if e not in STORAGE_KINDS]
        if not evts or bad:
            raise RegistrationError(f"storage {bucket!r}: unknown event(s) {bad}; use {', '.join(STORAGE_KINDS)}")
        return self._register(StorageTrigger(bucket, evts, prefix, suffix), name)


def _prefixes_overlap(a: StorageTrigger, b: StorageTrigger) -> bool:
    prefix_overlap = a.prefix.startswith(b.prefix) or b.prefix.startswith(a.prefix)
    suffix_overlap = a.suffix.endswith(b.suffix) or b.suffix.endswith(a.suffix)
    return prefix_overlap and suffix_overlap


def _check_resource(what: str, name: str) -> None:
    if not isinstance(name, str) or not name or not all(c.isalnum() or c in "-_." for c in name):
        raise RegistrationError(f"{what} name {name!r} must be letters, digits, '-', '_' or '.'")


def _check_attempts(max_attempts: int) -> None:
    if not 1 <= max_attempts <= 100:
        raise RegistrationError(f"max_attempts {max_attempts} must be 1-100")
