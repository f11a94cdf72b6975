"""Contract-test driver and ``portafunc invoke``: neutral input → Azure native objects → the generated FunctionApp.

Every call goes through the real ``function_app.py`` source the packager writes (generated and executed in memory),
with ``azure.functions`` objects built by the library's own worker-side converters, and decodes what the worker would
send back to the host (``HttpResponseConverter``). A queue message counts as failed when the function raised (the
host redelivers it) or when the runtime moved it to the poison queue; one moved to the function's dead letter is
acknowledged, as on every target, and the answer names where it went.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from portafunc.app import App, FunctionSpec, HttpTrigger, QueueTrigger, ScheduleTrigger, StorageTrigger, TopicTrigger
from portafunc.errors import EventDecodeError, PortafuncError
from portafunc.events import HttpRequest, Message, ScheduleEvent, StorageEvent
from portafunc.invoke import Outcome
from portafunc.routing import _PARAM, slash_escaped, unescape
from portafunc.targets import Driver, Exchange

from . import triggers
from .codecs import http, natives, queue, schedule, storage, topic
from .outcome import LastOutcome


class AzureDriver(Driver):
    target = "azure"

    def __init__(self) -> None:
        self._loaded: dict[int, tuple[App, dict[str, Any], Any]] = {}

    def _load(self, app: App) -> tuple[dict[str, Any], Any]:
        hit = self._loaded.get(id(app))
        if hit is None or hit[0] is not app:
            from .deploy.function_app import load_function_app

            _, functions, rt = load_function_app(app)
            hit = self._loaded[id(app)] = (app, functions, rt)
        return hit[1], hit[2]

    def _call(self, app: App, function: str, arg: Any, generated: bool = False) -> Any:
        """Call the generated function for portafunc function ``function`` (``generated``: named as generated)."""
        functions, _ = self._load(app)
        fn = functions.get(function if generated else triggers.function_name(function))
        if fn is None:
            raise PortafuncError(f"the generated function_app.py has no function {function!r}")
        return fn.get_user_function()(arg)

    # -- HTTP -----------------------------------------------------------------------------------------------------
    def http(self, app: App, request: HttpRequest) -> Exchange:
        spec, params = host_function(app, request)  # the function the host hands the request to
        native = http.request_to_json(request)
        if spec is None:  # no route of the app's functions takes it: the host tries the catch-all function last
            native_resp = self._http_native(app, triggers.unmatched_function_name(app), native, generated=True)
            return Exchange("azure", native, native_resp, response=http.response_from_json(native_resp))
        request.path_params = params
        native = http.request_to_json(request)  # again: the path parameters are part of it
        native_resp = self._http_native(app, spec.name, native)
        return Exchange("azure", native, native_resp, response=http.response_from_json(native_resp))

    def _http_native(self, app: App, function: str, native: dict[str, Any], generated: bool = False
                     ) -> dict[str, Any]:
        resp = self._call(app, function, _built(natives.to_func_http, native, "a func.HttpRequest"), generated)
        return natives.response_datum_to_json(resp)

    # -- messages -------------------------------------------------------------------------------------------------
    def messages(self, app: App, function: str, messages: list[Message[Any]]) -> Exchange:
        spec = app.function(function)
        if isinstance(spec.trigger, QueueTrigger):
            events = [queue.encode_message(m) for m in messages]
        elif isinstance(spec.trigger, TopicTrigger):
            events = [topic.encode_message(m) for m in messages]
        else:
            raise PortafuncError(f"function {function!r} is not a queue or topic function")
        answers = [self._deliver(app, function, e) for e in events]
        ids = [m.id for m in messages]
        failed = [m.id for m, a in zip(messages, answers, strict=True) if a["failed"]]
        return Exchange("azure", events, answers, ids=ids, failed_ids=failed)

    def event(self, app: App, function: str, event: StorageEvent | ScheduleEvent) -> Exchange:
        spec = app.function(function)
        if isinstance(event, StorageEvent) and isinstance(spec.trigger, StorageTrigger):
            native = storage.encode_storage(event)
        elif isinstance(event, ScheduleEvent) and isinstance(spec.trigger, ScheduleTrigger):
            native = schedule.encode_timer(event)
        else:
            raise PortafuncError(f"function {function!r} does not take a {type(event).__name__}")
        answer = self._deliver(app, function, native)
        event_id = event.id or answer["id"]
        return Exchange("azure", native, answer, ids=[event_id], failed_ids=[event_id] if answer["failed"] else [])

    def _deliver(self, app: App, function: str, native: dict[str, Any]) -> dict[str, Any]:
        """Run one non-HTTP function invocation; the answer says whether the host would retry or poison it."""
        spec = app.function(function)
        trig = spec.trigger
        if isinstance(trig, QueueTrigger):
            arg = _built(natives.to_func_queue, native, "a func.QueueMessage")
            native_id = native.get("Id")
        elif isinstance(trig, (TopicTrigger, StorageTrigger)):
            arg = _built(natives.to_func_eventgrid, native, "a func.EventGridEvent")
            native_id = native.get("id")
        elif isinstance(trig, ScheduleTrigger):
            arg = _built(natives.to_func_timer, native, "a func.TimerRequest")
            native_id = None
        else:
            raise PortafuncError(f"function {function!r} is not triggered by events")
        _, rt = self._load(app)
        rt.forget_last()
        try:
            self._call(app, function, arg)
        except Exception as exc:  # noqa: BLE001 - the host would log it and retry
            last = rt.last
            return {"id": native_id or (last.message_id if last else None), "result": "raised",
                    "error": f"{type(exc).__name__}: {exc}", "failed": True}
        last = rt.last
        poisoned = bool(last and last.poisoned)
        return {"id": native_id or (last.message_id if last else None), "result": _result(spec, last),
                "outcome": last.outcome.value if last else None, "failed": poisoned}

    # -- portafunc invoke -----------------------------------------------------------------------------------------
    def invoke_native(self, app: App, function: str, native: Any) -> Any:
        spec = app.function(function)
        native = _built(natives.to_json, native, "the function's input")
        if isinstance(spec.trigger, HttpTrigger):
            if not isinstance(native, dict):
                raise EventDecodeError("HTTP function needs one request", expected=http.HTTP_EXPECTED)
            _checked(http.request_from_json, native)  # clear error on a malformed event
            return self._http_native(app, function, native)
        if isinstance(spec.trigger, (TopicTrigger, StorageTrigger)):
            events = native if isinstance(native, list) else [native]
            _checked(topic.decode_payload, events)  # validates every event first
            answers = [self._deliver(app, function, e) for e in events]
            return answers if isinstance(native, list) else answers[0]
        if isinstance(spec.trigger, QueueTrigger):
            _checked(queue.decode_message, native)
            return self._deliver(app, function, native)
        _checked(schedule.decode_timer, native)
        return self._deliver(app, function, native)

def _result(spec: FunctionSpec, last: LastOutcome | None) -> str:
    """What became of a delivery the function did not raise on: completed, or where the runtime (or the core, for
    a non-retryable message) moved the message: the function's dead letter, or the queue's poison queue."""
    if last is None:
        return "completed"
    if last.poisoned:
        return f"moved to poison queue {last.moved_to}" if last.moved_to else "moved to poison queue"
    if last.outcome is Outcome.DEAD_LETTERED:
        from portafunc.invoke import dead_letter_destination

        destination = last.moved_to or dead_letter_destination(spec)
        return f"moved to dead letter {destination}" if destination else "dead-lettered"
    return "completed"


def _built(build: Any, native: Any, what: str) -> Any:
    """``build(native)``, with a native event the converters cannot take (nested too deep, a field of the wrong
    type, text that is not valid Unicode) reported as EventDecodeError rather than the converter's own error."""
    try:
        return build(native)
    except PortafuncError:
        raise
    except (RecursionError, UnicodeError, OverflowError, TypeError, ValueError, KeyError, AttributeError) as exc:
        raise EventDecodeError(f"{what} cannot be built from this event ({type(exc).__name__})",
                               expected="a native event as `portafunc events new --target azure` prints it") \
            from None


def _checked(decode: Any, native: Any) -> Any:
    """``decode(native)`` under the decode contract of ``Target.decode``: nesting too deep to walk and text that is
    not valid Unicode are EventDecodeError too."""
    try:
        return decode(native)
    except (RecursionError, UnicodeError) as exc:
        raise EventDecodeError(f"native event cannot be decoded: {type(exc).__name__}",
                               expected="JSON of valid Unicode text, nested less than a few hundred levels") \
            from None


def host_function(app: App, request: HttpRequest) -> tuple[FunctionSpec | None, dict[str, str]]:
    """The function the Functions host hands ``request`` to, with the route parameters it passes (None: no route
    takes it, the catch-all function does). The host orders HTTP routes by function name (ordinal, ignoring case)
    and takes the first whose methods, as the generated app lists them (:func:`.triggers.http_methods`: HEAD with
    GET, OPTIONS on a route's CORS preflight function), include the request's and whose template matches its path
    as ASP.NET routing matches it: literal segments ignoring case, a parameter one segment, a catch-all ``{*p}``
    the rest of the path (none too), a trailing ``/`` ignored; an escaped ``/`` stays inside its segment."""
    escaped = slash_escaped(request._raw_path)
    path = request.path if escaped is None else escaped
    functions = sorted(app.http_functions(), key=lambda f: triggers.function_name(f.name).upper())
    for spec in functions:
        if request.method in triggers.http_methods(spec):
            found = _host_pattern(spec.trigger.route.template).fullmatch(path)  # type: ignore[union-attr]
            if found is not None:
                params = {name: value or "" for name, value in found.groupdict().items()}
                return spec, params if escaped is None else unescape(params)
    return None, {}


@functools.lru_cache(maxsize=1024)
def _host_pattern(template: str) -> re.Pattern[str]:
    """The path regex of ``template`` (``/files/{path+}``) as the host matches its route (``files/{*path}``)."""
    source = []
    for segment in template.strip("/").split("/") if template.strip("/") else []:
        parts = _PARAM.split(segment)  # literal, name, "+" or "", literal, ...
        if len(parts) == 4 and parts[2] and not parts[0] and not parts[3]:
            source.append(f"(?:/(?P<{parts[1]}>.*))?")
            break
        source.append("/" + "".join(re.escape(part) if i % 3 == 0 else f"(?P<{part}>[^/]+)" if i % 3 == 1 else ""
                                    for i, part in enumerate(parts)))
    return re.compile("".join(source) + "/?", re.IGNORECASE)
