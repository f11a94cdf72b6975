"""What the generated ``function_app.py`` calls: one small method per Azure trigger kind.

Each method decodes the ``azure.functions`` object into a neutral event, runs the portafunc pipeline and turns the
outcome into what the Functions host understands:

* HTTP → a ``func.HttpResponse`` (the pipeline never raises; a plain handler's usual result takes the direct lane,
  :func:`portafunc.invoke.handle_http_direct` with :func:`.outcome.direct_encoder`).
* Storage Queue → return normally to have the host delete the message; raise :class:`MessageFailed` to have it
  retried (the host makes it visible again and moves it to ``<queue>-poison`` after ``maxDequeueCount``).
  A retryable failure on the function's own last attempt (``max_attempts``) is moved by the runtime itself, so each
  function's ``max_attempts`` holds even though ``host.json`` has one ``maxDequeueCount`` for the whole app: to the
  function's dead letter (``dead_letter=`` or ``PORTAFUNC_DEADLETTER_<FUNC>``) with the attributes every target
  adds (:mod:`portafunc.kit.dead_letter`), as the other targets move it; without one, or when the dead letter does
  not take it, to ``<queue>-poison``. Non-retryable failures go to the dead letter through the core, or, with none
  (or when that move fails), to ``<queue>-poison`` at once (never retried). If the poison move fails too, the
  runtime raises instead and the host's own poison handling takes over.
* Event Grid (topic and blob events) → raise to have Event Grid retry the delivery (its subscription retry policy and
  dead-letter container decide the rest).
* Timer → raise on failure (logged by the host; the next occurrence runs as scheduled).
"""

from __future__ import annotations

import functools
import os
import sys
from threading import get_ident
from pathlib import Path
from typing import Any, Callable

from portafunc import logs
from portafunc.app import App, FunctionSpec, HttpTrigger, QueueTrigger, StorageTrigger, TopicTrigger
from portafunc.errors import EventDecodeError, RegistrationError
from portafunc.events import HttpRequest, HttpResponse, Message, StorageEvent
from portafunc.invoke import (FunctionEntries, MessageResult, Outcome, dead_letter_destination, handle_http_direct,
                              invoke_event, invoke_message, invoke_message_failure, message_runner)
from portafunc.routing import slash_escaped, unescape

from . import triggers
from .codecs.http import request_from_func
from .outcome import LastOutcome, MessageFailed, direct_encoder, http_response, problem_response

TARGET = "azure"
_SUCCESS = Outcome.SUCCESS
_registry: dict[str, App] = {}
_runtimes: dict[str, Runtime] = {}


# The queue and Event Grid codecs (with the envelope and blob codecs they import) load with the first message, not
# on an HTTP app's cold start. The stand-in below puts the codec's function in its place on its first call, so
# later messages call the codec directly, at no cost; an Event Grid function's entry is built with its first event
# (Runtime.event_grid_lanes).
def decode_body(*args: Any, **kwargs: Any) -> Message[Any]:
    """:func:`.codecs.queue.decode_body`, imported by the first queue message."""
    from .codecs.queue import decode_body as codec

    globals()["decode_body"] = codec
    return codec(*args, **kwargs)


def register_app(ref: str, app: App) -> None:
    """Make an in-memory App reachable by ``ref`` (tests and the driver; deployments import by reference)."""
    _registry[ref] = app
    _runtimes.pop(ref, None)


def runtime_for(app_ref: str, root: str | None = None) -> Runtime:
    """The (cached) runtime for ``module:attr``; ``root`` (the function app folder) is put on ``sys.path``."""
    rt = _runtimes.get(app_ref)
    if rt is None:
        rt = _runtimes[app_ref] = Runtime(app_ref, root)
    return rt


def _mount_lane(app: App) -> Any:
    """:func:`.codecs.mount.lane` for an app that mounts a web app (its module loaded only then)."""
    if "portafunc.mount" not in sys.modules:
        return None
    from .codecs.mount import lane

    return lane(app)


class Runtime:
    def __init__(self, app_ref: str, root: str | None = None) -> None:
        self.app_ref = app_ref
        self.root = str(Path(root).resolve().parent if root and root.endswith(".py") else root) if root else None
        self._app: App | None = _registry.get(app_ref)
        self._keep_successes = False  # see forget_last
        self._last: dict[int, Any] = {}  # each thread's last outcome (see .last), by thread id: cheaper than a
        # threading.local's attribute on the per-event path
        self._poison_senders: dict[tuple[str, str], Any] = {}
        self._route_prefix: str | None = None  # host.json's routePrefix, read on the first request
        self._encode: Any = None  # the direct lane's encoder (outcome.direct_encoder), built on the first request
        self._mount_lane: Any = False  # .codecs.mount.lane(app) (None: no mounted app), found on the first request
        self._specs: dict[str, FunctionSpec] = {}  # the queue and Event Grid functions, by name (see _spec)
        self._route_matchers: dict[str, Callable[[str], dict[str, str] | None]] = {}  # see _route_matcher
        self.event_grid_lanes = FunctionEntries(self._grid_entry)  # each Event Grid function's entry, by name

    @property
    def app(self) -> App:
        if self._app is None:
            if self.root and self.root not in sys.path:
                sys.path.insert(0, self.root)
            from portafunc.loader import load_deployed_app

            self._app, _, _ = load_deployed_app(self.app_ref)
        return self._app

    def _spec(self, name: str) -> FunctionSpec:
        """The function ``name`` (RegistrationError if the app has none), kept for the next message: an app's
        functions are registered once, at import."""
        spec = self._specs[name] = self.app.function(name)
        return spec

    @property
    def last(self) -> LastOutcome | None:
        ident = get_ident()
        last = self._last.get(ident)
        if last.__class__ is str:  # a success, kept as its message id: described when someone asks
            last = self._last[ident] = LastOutcome(last, _SUCCESS, False, None)
        elif last.__class__ is MessageResult:  # an event's result, kept as is
            last = self._last[ident] = LastOutcome(last.message_id, last.outcome, False, last.error)
        return last

    def forget_last(self) -> None:
        """Forget this thread's last outcome (what the driver does before each event it hands a function). A success
        is kept as the last outcome only once this was called (by any runtime of the process): a deployment never
        reads it, and the per-message paths then do not write it; failures are always kept."""
        self._last.pop(get_ident(), None)
        self._keep_successes = True
        from .codecs import grid_lane

        grid_lane.keep_successes = True

    def _record(self, outcome: LastOutcome) -> None:
        self._last[get_ident()] = outcome

    # -- HTTP -----------------------------------------------------------------------------------------------------
    def http(self, name: str, req: Any) -> Any:
        prefix = self._route_prefix
        if prefix is None:
            prefix = self._route_prefix = os.environ.get(triggers.ROUTE_PREFIX_SETTING, "")
        try:
            neutral = request_from_func(req, prefix)
        except EventDecodeError as exc:
            return problem_response(400, "Bad Request", str(exc))
        match = self._route_matchers.get(name) or self._route_matcher(name)
        raw = neutral._raw_path
        escaped = None if raw is None else slash_escaped(raw)
        params = match(neutral.path if escaped is None else escaped)  # the core takes them: matched once
        if params is None or neutral.method == "OPTIONS" and self._options_for_preflights(name):
            return self._rerouted(name, neutral, req)
        lane = self._mount_lane
        if lane is False:
            lane = self._mount_lane = _mount_lane(self.app)
        if lane is not None:  # a mounted web app, served without the pipeline's wrapping where nothing of it acts
            answer = lane(name, neutral, req)
            if answer is not None:
                return answer
        encode = self._encode
        if encode is None:
            encode = self._encode = direct_encoder()
        answer = handle_http_direct(self.app, neutral, encode, name, TARGET, None, req, None, False,
                                    params if escaped is None else unescape(params))
        return http_response(answer) if isinstance(answer, HttpResponse) else answer

    def unmatched(self, req: Any) -> Any:
        """The app's catch-all function (route ``{*path}``, named to sort after every other HTTP function, so the
        host tries it last): what no other route took gets the app's 404/405, never a function run."""
        prefix = self._route_prefix
        if prefix is None:
            prefix = self._route_prefix = os.environ.get(triggers.ROUTE_PREFIX_SETTING, "")
        try:
            neutral = request_from_func(req, prefix)
        except EventDecodeError as exc:
            return problem_response(400, "Bad Request", str(exc))
        return self._unmatched(neutral, req)

    def _route_matcher(self, name: str) -> Callable[[str], dict[str, str] | None]:
        """The ``match`` of function ``name``'s route, kept for its next request (an app's functions are registered
        once, at import); for a function that is no HTTP function, one matching every path (the pipeline answers
        500 for it)."""
        trig = self.app.function(name).trigger
        match = self._route_matchers[name] = trig.route.match if isinstance(trig, HttpTrigger) else _any_path
        return match

    def _rerouted(self, name: str, neutral: HttpRequest, req: Any) -> Any:
        """A request the host handed function ``name`` that the app does not route to it, answered as every other
        target answers it: by the function the app's own rule picks (the most specific route matching the path as
        written), or the app's 404/405 or CORS preflight answer.

        The host matches literal segments ignoring case (``/products/LIST`` reaches the function of
        ``/products/list``), the app as written, as API Gateway does (``/products/{id}`` serves it, ``id`` =
        ``LIST``); and an ``OPTIONS`` the generated app lists on a function only for its route's CORS preflights
        is the whole path's (:meth:`_options_for_preflights`). Function keys are checked by the host for the
        function it routed the request to: a function with ``auth="function"`` is run only by the requests the
        host routed to it, any other it would serve is answered 401."""
        from portafunc.invoke import match_request

        app = self.app
        neutral.path_params = {}  # the host's route parameters are those of ``name``'s route
        found = match_request(app, neutral)[0]
        if found is not None and found.name != name and getattr(found.trigger, "auth", None) == "function" \
                and not _preflight_answered(app, neutral):
            return problem_response(401, "Unauthorized",
                                    f"{neutral.method} {neutral.path} is served by a function that takes a "
                                    "function key, which the Functions host checks only on requests it routes to "
                                    "that function: send the path as that function's route spells it")
        lane = self._mount_lane
        if lane is False:
            lane = self._mount_lane = _mount_lane(app)
        if lane is not None and found is not None:
            answer = lane(found.name, neutral, req)
            if answer is not None:
                return answer
        encode = self._encode
        if encode is None:
            encode = self._encode = direct_encoder()
        answer = handle_http_direct(app, neutral, encode, None, TARGET, None, req)
        return http_response(answer) if isinstance(answer, HttpResponse) else answer

    def _options_for_preflights(self, name: str) -> bool:
        """Whether the generated app lists ``OPTIONS`` on function ``name`` only for its route's CORS preflights
        (:func:`.triggers.http_methods`): the host then hands it every ``OPTIONS`` of that route, a plain one and a
        preflight for any method, which is answered for the whole path (:meth:`_rerouted`), as the other clouds
        answer it, and never by this function."""
        trig = self.app.function(name).trigger
        return isinstance(trig, HttpTrigger) and "OPTIONS" not in trig.methods

    def _unmatched(self, neutral: HttpRequest, req: Any) -> Any:
        from portafunc.invoke import handle_unmatched

        neutral.path_params = {}
        return http_response(handle_unmatched(self.app, neutral, target=TARGET, native_context=req))

    # -- Storage Queue --------------------------------------------------------------------------------------------
    def queue(self, name: str, msg: Any) -> None:
        spec = self._specs.get(name) or self._spec(name)
        trig = spec.trigger
        if not isinstance(trig, QueueTrigger):
            raise MessageFailed(f"function {name!r} is not a queue function")
        body = msg.get_body() or b""
        try:
            neutral = decode_body(body, message_id=msg.id or "", dequeue_count=msg.dequeue_count,
                                  insertion_time=msg.insertion_time, native=msg)
        except EventDecodeError as exc:
            logs.error("queue message is malformed; moving it to the poison queue", message_id=msg.id,
                       error=str(exc))
            self._finish_queue(spec, trig, msg.id or "", body, Outcome.REJECTED, str(exc))
            return
        result = invoke_message_failure(spec, neutral, TARGET, None, msg)
        if result is None:  # a success
            if self._keep_successes:  # see forget_last
                self._last[get_ident()] = neutral.id  # read as a LastOutcome by .last
            return
        outcome = result.outcome
        if outcome is Outcome.REJECTED:  # the core said "reported failed"; here that is the poison queue, at once
            logs.warning("non-retryable message: moving it to the poison queue at once", message_id=neutral.id,
                         poison_queue=triggers.poison_queue_name(triggers.queue_name(trig.queue)))
        if outcome is Outcome.RETRY and neutral.delivery_attempt >= trig.max_attempts:
            destination = dead_letter_destination(spec)
            if destination is not None and self._dead_letter(spec, trig, destination, neutral, result.error):
                self._record(LastOutcome(neutral.id, Outcome.DEAD_LETTERED, error=result.error, moved_to=destination))
                return
            if destination is None:
                logs.warning("last attempt failed; moving the message to the poison queue (the function has no "
                             "dead letter)", message_id=neutral.id, delivery_attempt=neutral.delivery_attempt,
                             max_attempts=trig.max_attempts,
                             poison_queue=triggers.poison_queue_name(triggers.queue_name(trig.queue)))
            outcome = Outcome.REJECTED
        self._finish_queue(spec, trig, neutral.id, body, outcome, result.error)

    def _dead_letter(self, spec: FunctionSpec, trig: QueueTrigger, destination: str, msg: Message[Any],
                     error: str | None) -> bool:
        """Move a message that failed its last attempt to the function's dead letter, as the other targets move it;
        False, logged with why, when the dead letter does not take it (the caller moves it to the poison queue)."""
        from portafunc.kit.dead_letter import move_after_last_attempt

        try:
            move_after_last_attempt(spec.name, destination, msg, error or Outcome.RETRY.value)
        except Exception as exc:  # noqa: BLE001 - the poison queue takes it instead: never lost
            logs.error("last attempt failed and the dead letter did not take the message; moving it to the poison "
                       "queue instead", message_id=msg.id, delivery_attempt=msg.delivery_attempt,
                       max_attempts=trig.max_attempts, dead_letter=destination,
                       poison_queue=triggers.poison_queue_name(triggers.queue_name(trig.queue)),
                       error=f"{type(exc).__name__}: {exc}")
            return False
        logs.warning("last attempt failed; moved the message to the dead letter", message_id=msg.id,
                     delivery_attempt=msg.delivery_attempt, max_attempts=trig.max_attempts, dead_letter=destination,
                     reason=error)
        return True

    def _finish_queue(self, spec: FunctionSpec, trig: QueueTrigger, message_id: str, body: bytes,
                      outcome: Outcome, error: str | None) -> None:
        if outcome is Outcome.SUCCESS:
            self._record(LastOutcome(message_id, outcome, error=error))
            return
        if outcome is Outcome.DEAD_LETTERED:  # a non-retryable message the core moved to the dead letter
            self._record(LastOutcome(message_id, outcome, error=error, moved_to=dead_letter_destination(spec)))
            return
        if outcome is Outcome.REJECTED:
            try:
                self._poison(trig, body)
            except Exception as exc:  # noqa: BLE001 - fall back to the host's own poison handling
                logs.error("could not move the message to the poison queue; raising so the host retries it and "
                           "poisons it after maxDequeueCount", message_id=message_id,
                           error=f"{type(exc).__name__}: {exc}")
                self._record(LastOutcome(message_id, outcome, error=error))
                raise MessageFailed(f"message {message_id} failed for good and could not be poisoned: "
                                    f"{error}") from exc
            self._record(LastOutcome(message_id, outcome, poisoned=True, error=error,
                                     moved_to=triggers.poison_queue_name(triggers.queue_name(trig.queue))))
            return
        self._record(LastOutcome(message_id, outcome, error=error))
        raise MessageFailed(f"message {message_id} failed and will be retried: {error}")

    def _poison(self, trig: QueueTrigger, body: bytes) -> None:
        from .backends.storage_queue import raw_queue_client

        conn = os.environ.get(triggers.STORAGE_CONNECTION)
        if not conn:
            raise RuntimeError(f"{triggers.STORAGE_CONNECTION} is not set")
        poison = triggers.poison_queue_name(triggers.queue_name(trig.queue))
        key = (conn, poison)
        client = self._poison_senders.get(key)
        if client is None:
            client = self._poison_senders[key] = raw_queue_client(conn, poison, create=True)
        import base64

        client.send_message(base64.b64encode(body).decode("ascii"))  # the same base64 text the host would copy

    def create_trigger_queues(self, queues: list[str]) -> None:
        """Create the queues the app's queue triggers listen on (logical names), each where its binding asks for
        it (``PORTAFUNC_QUEUE_<NAME>`` with ``?create=1``), as the worker loads function_app.py: before the host
        starts listening.

        ``local.settings.json.example`` binds every queue with ``?create=1`` for Azurite, which starts empty where
        the ARM template creates the queues. A queue the app sends to is created by its first send; one that only
        another program writes to never would be, and the host's trigger would poll a queue that does not exist
        (a producer's put fails with QueueNotFound). A deployed app's settings never carry the option: nothing is
        imported nor called then. A queue that cannot be created (Azurite not started) is logged and left to the
        host, which waits for it to appear: loading the functions goes on."""
        env = os.environ
        if not any(key.startswith("PORTAFUNC_QUEUE_") and "create=" in value for key, value in env.items()):
            return
        from portafunc.messaging.binding import env_name

        from .backends.storage_queue import backend

        for name in queues:
            url = env.get(env_name("QUEUE", name), "")
            if not url.startswith("azqueue://"):
                continue
            try:
                queue = backend("queue", url, name)
                if queue.creates:
                    _ = queue.client  # connecting creates it (the binding's own retries and timeout)
            except Exception as exc:  # noqa: BLE001 - the host still starts; its listener waits for the queue
                logs.warning("could not create the queue a queue trigger listens on; create it, or start Azurite "
                             "and restart the host", queue=name, binding=url, error=f"{type(exc).__name__}: {exc}")

    # -- Event Grid: topics and blob events -----------------------------------------------------------------------
    def event_grid(self, name: str, event: Any) -> None:
        """One event for the function ``name``: what a function_app.py generated before the per-function entries
        (``rt.event_grid_lanes[name](event)``) calls."""
        self.event_grid_lanes[name](event)

    def _grid_entry(self, name: str) -> Callable[[Any], None]:
        """The entry of the Event Grid function ``name`` (RegistrationError if the app has none): for a topic
        function, :func:`.codecs.topic.event_lane` with the function's :func:`message_runner`, the usual event read
        and run in one frame; every other event, and a blob function's, through :meth:`_event_grid`."""
        spec = self._specs.get(name) or self._spec(name)
        general = functools.partial(self._event_grid, spec)
        if spec.trigger.__class__ is not TopicTrigger:
            return general
        from .codecs.topic import event_lane

        return event_lane(message_runner(spec, TARGET), self._last, self._finish_event, general)

    def event_grid_function(self, name: str) -> Callable[[Callable[..., Any]], Callable[[Any], Any]]:
        """What ``function_app.py`` decorates a topic function's stub with: the function's Event Grid entry
        (:func:`.codecs.grid_lane.event_lane`), carrying the stub's name, signature and annotations, so that the
        worker indexes it as the stub and then calls the entry itself, one frame fewer per event than a stub that
        calls ``event_grid_lanes[name]``. The app is still loaded with the first event: the entry asks for the
        function's runner then (:meth:`_topic_runner`)."""

        def install(stub: Callable[..., Any]) -> Callable[[Any], Any]:
            from .codecs.grid_lane import event_lane

            lane = event_lane(None, self._last, self._finish_event,
                              lambda event: self._event_grid(self._specs.get(name) or self._spec(name), event),
                              resolve=lambda: self._topic_runner(name))
            functools.update_wrapper(lane, stub)  # __wrapped__: inspect.signature reads the stub's parameters
            self.event_grid_lanes[name] = lane  # rt.event_grid(name, ...) and the lanes by name: this same entry
            return lane

        return install

    def _topic_runner(self, name: str) -> Callable[[Message[Any], str | None, Any], Any]:
        """The runner of the topic function ``name``; a function_app.py that calls another kind of function a topic
        function was not generated from this app, and says so on every event."""
        spec = self._specs.get(name) or self._spec(name)
        if spec.trigger.__class__ is not TopicTrigger:
            raise RegistrationError(f"function {name!r} is {spec.trigger.describe()}, not a topic function: "
                                    "function_app.py was generated from another version of the app; regenerate it "
                                    "with `portafunc package --target azure`")
        return message_runner(spec, TARGET)

    def _event_grid(self, spec: FunctionSpec, event: Any) -> None:
        """An event for ``spec`` decoded from its JSON form (:func:`.codecs.topic.decode_event`)."""
        from .codecs.natives import from_func_eventgrid
        from .codecs.topic import decode_event

        trig = spec.trigger
        native = from_func_eventgrid(event)
        if isinstance(trig, StorageTrigger):
            try:
                decoded = decode_event(native)
            except EventDecodeError as exc:
                logs.error("Event Grid event is not a blob event; ignored", error=str(exc), event_id=native.get("id"))
                self._record(LastOutcome(str(native.get("id")), Outcome.DEAD_LETTERED, error=str(exc)))
                return
            if not isinstance(decoded, StorageEvent) or not _wanted(trig, decoded):
                logs.log("INFO", "blob event outside this function's filter; ignored", event_id=native.get("id"))
                self._record(LastOutcome(str(native.get("id")), Outcome.SUCCESS))
                return
            result = invoke_event(spec, decoded, target=TARGET, native_context=event)
        elif isinstance(trig, TopicTrigger):
            try:
                decoded = decode_event(native, as_message=True)
            except EventDecodeError as exc:
                logs.error("Event Grid event is malformed; not retried", error=str(exc), event_id=native.get("id"))
                self._record(LastOutcome(str(native.get("id")), Outcome.REJECTED, error=str(exc)))
                return
            assert isinstance(decoded, Message)
            result = invoke_message(spec, decoded, target=TARGET, native_context=event)
        else:
            raise MessageFailed(f"function {spec.name!r} is not an Event Grid function")
        self._finish_event(result)

    def _finish_event(self, result: Any) -> None:
        self._last[get_ident()] = result  # read as a LastOutcome by .last
        if result.outcome is Outcome.RETRY or result.outcome is Outcome.REJECTED:
            raise MessageFailed(f"event {result.message_id} failed; Event Grid will retry it: {result.error}")

    # -- Timer ----------------------------------------------------------------------------------------------------
    def timer(self, name: str, timer: Any) -> None:
        from .codecs.schedule import decode_timer
        from .codecs.natives import from_func_timer

        spec = self.app.function(name)
        evt = decode_timer(from_func_timer(timer))
        evt.native = timer
        result = invoke_event(spec, evt, target=TARGET, native_context=timer)
        self._record(LastOutcome(result.message_id, result.outcome, error=result.error))
        if result.outcome is Outcome.RETRY:
            raise MessageFailed(f"schedule run {result.message_id} failed: {result.error}")


def _any_path(path: str) -> dict[str, str]:
    return {}


def _preflight_answered(app: App, req: HttpRequest) -> bool:
    """Whether ``req`` is a CORS preflight the app answers from a policy, without running a function."""
    if not app._cors_used:
        return False
    from portafunc import cors

    return cors.is_preflight(req) and cors.preflight_target(app, req, None) is not None


def _wanted(trig: StorageTrigger, evt: StorageEvent) -> bool:
    from portafunc.kit.storage_filter import wanted  # the one rule every target applies

    return wanted(trig, evt)
