"""What the generated ``main.py`` calls: one :class:`Entry` per deployment, serving every function of the app.

Every function is an ``@functions_framework.http`` target. A topic, queue or storage function reads the request
Eventarc or a Pub/Sub push sends itself (:mod:`.inbound.cloudevent_request`): a binary-mode CloudEvent is built from
the request's ``ce-*`` headers and its one parsed body, and anything else is converted exactly as functions-framework
converts it for a ``@functions_framework.cloud_event`` target. Failure semantics (Pub/Sub push and Eventarc both
redeliver on non-2xx):

* a message the broker must see failed (retryable error, non-retryable with no dead-letter destination, skipped)
  → HTTP 500, so Pub/Sub redelivers it and, after ``max_attempts``, its dead-letter policy moves it to the DLQ topic
  (a queue's ``max_attempts`` below the 5 a policy takes: the function moves it on that delivery itself and acks it,
  :func:`.outcome.counting_attempts`);
* a non-retryable failure that the core forwarded to the dead-letter destination, or a success → 200 (acked);
* an event that cannot be decoded → 400 (still a nack: the dead-letter policy ends it, it is never silently lost).

Push verification fails closed: once ``PORTAFUNC_PUSH_AUDIENCE`` is set, every request to an event function (topic,
queue, storage, schedule) must carry a valid Google OIDC token (:mod:`portafunc_gcp.inbound.push_auth`) whatever its shape
— raw push envelope, structured or binary CloudEvent, legacy background event, Cloud Scheduler call — or it is
refused (401/403) before anything is decoded. Without the audience, the entry says once at cold start that cloud IAM
(``--no-allow-unauthenticated``) is then the only gate.

Imports stay light: Flask is already loaded by functions-framework; the Pub/Sub client is never imported here.
"""

from __future__ import annotations

import functools
import os
import sys
from datetime import datetime, timezone
from typing import Any, Callable

from portafunc import logs
from portafunc.app import App, FunctionSpec, HttpTrigger, StorageTrigger
from portafunc.errors import EventDecodeError
from portafunc.events import HttpResponse, Message, ScheduleEvent, StorageEvent
from portafunc.invoke import (FunctionEntries, Outcome, handle_http_direct, head_answer, invoke_event, message_runner,
                              not_found)
from portafunc.routing import slash_escaped

from . import codecs
from .codecs import http  # the event codecs load with the first event function's entry (codecs.shapes)
from .outcome import (counting_attempts, direct_encoder, event_failed, http_answer, http_error, message_failed,
                      schedule_answer)

TARGET = "gcp"
_SUCCESS = Outcome.SUCCESS
AUDIENCE_ENV = "PORTAFUNC_PUSH_AUDIENCE"  # push_auth.AUDIENCE_ENV, kept off the cold-start import path
SERVICE_ACCOUNTS_ENV = "PORTAFUNC_PUSH_SERVICE_ACCOUNTS"
_EXECUTION_ID = "HTTP_FUNCTION_EXECUTION_ID"  # the Function-Execution-Id header, read from the WSGI environ
EVENT_KINDS = ("topic", "queue", "storage", "schedule")  # functions pushed to by Pub/Sub, Eventarc or Scheduler
_registered: dict[str, App] = {}
_warned_unverified = False


def register(key: str, app: App) -> None:
    """Make an in-memory App loadable as ``registered:KEY`` (the contract-test driver uses this)."""
    _registered[key] = app


def load(app_ref: str, root: str | None = None) -> App:
    """Import the app ``module:attr`` from ``root``, even when its module is called ``main`` like the entry file."""
    if app_ref.startswith("registered:"):
        return _registered[app_ref.partition(":")[2]]
    from portafunc.loader import load_deployed_app

    if root and root not in sys.path:
        sys.path.insert(0, root)
    top = app_ref.partition(":")[0].split(".")[0]
    shadow = sys.modules.get(top)
    # imported from ``root`` itself: with the working directory ahead of it, the app's ``main`` would be the
    # generated main.py beside it again (functions-framework loads that one by path, a plain ``import main`` by name)
    if shadow is not None and root and not _inside(getattr(shadow, "__file__", None), root):
        del sys.modules[top]  # the generated main.py, registered under this name
        try:
            app, _, _ = load_deployed_app(app_ref, root)
        finally:
            sys.modules[top] = shadow
        return app
    app, _, _ = load_deployed_app(app_ref, root)
    return app


def _mount_lane(app: App) -> Any:
    """:func:`.codecs.mount.lane` for an app that mounts a web app (its module loaded only then)."""
    if "portafunc.mount" not in sys.modules:
        return None
    from .codecs.mount import lane

    return lane(app)


def _mount_front(app: App) -> Any:
    """:func:`.codecs.mount.front` for an app that mounts a web app."""
    from .codecs.mount import front

    return front(app)


def _inside(path: str | None, root: str) -> bool:
    if not path:
        return False
    return os.path.realpath(path).startswith(os.path.realpath(root) + os.sep)


class Entry:
    """Serves the functions of one App; ``main.py`` creates it once, at import (cold start), and reuses it."""

    def __init__(self, app_ref: str, root: str | None = None) -> None:
        self.app_ref = app_ref
        self.app = load(app_ref, root)
        self._encode: Any = None  # the direct lane's encoder (outcome.direct_encoder), built on the first request
        _warn_when_unverified(self.app)
        self._mount_lane = _mount_lane(self.app)
        # the same lane in front of functions-framework's Flask dispatch, put there by the first request (which
        # tells which function this functions-framework app serves): codecs.mount.install_front
        self._front = None if self._mount_lane is None else _mount_front(self.app)
        self._front_pending = self._front is not None
        self.event_lanes = FunctionEntries(self._event_entry)  # each CloudEvent function's entry, by name
        self.event_requests = FunctionEntries(self._event_request_entry)  # each event function's served entry

    # -- @functions_framework.http ---------------------------------------------------------------------------------
    def http_service(self, request: Any) -> Any:
        """The app's one HTTP service: route ``request`` among every HTTP function (404 / 405 with ``Allow``). A
        plain handler's usual result takes the direct lane (:func:`.outcome.direct_encoder`); a body produced in
        pieces is sent in chunks, as they come."""
        if self._mount_lane is not None:  # a mounted WSGI app, served from functions-framework's own environ
            if self._front_pending:
                self._install_front(None)
            answer = self._mount_lane(request)
            if answer is not None:
                return answer
        answer = handle_http_direct(self.app, http.from_flask(request), self._encode or self._encoder(), None, TARGET,
                                    request.environ.get(_EXECUTION_ID), request, None, True)
        return http.to_flask(answer) if isinstance(answer, HttpResponse) else answer

    def _install_front(self, function: str | None) -> None:
        """The mount lane in front of this functions-framework app's dispatch, for the next requests (once)."""
        from .codecs.mount import install_front

        self._front_pending = False
        if self._front is not None:
            install_front(self._front, function)

    def _encoder(self) -> Any:
        self._encode = direct_encoder()
        return self._encode

    def http(self, name: str, request: Any) -> Any:
        """One function deployed on its own (the per-route layout, and schedule functions)."""
        spec = self.app.function(name)
        if spec.kind == "schedule":
            return self._schedule(spec, request)
        if self._mount_lane is not None:  # a mounted app's own function: its route matched once, in the lane
            if self._front_pending and vars(spec.handler).get("portafunc_mount"):
                self._install_front(name)
            answer = self._mount_lane(request, name)
            if answer is not None:
                return answer
        req = http.from_flask(request)
        trig = spec.trigger
        escaped = slash_escaped(req._raw_path)  # an escaped "/" stays in its segment, as routing matches it
        if isinstance(trig, HttpTrigger) and trig.route.match(req.path if escaped is None else escaped) is None:
            # Same answer as the routed service: the function's name is an internal detail, never shown.
            resp = not_found(req)
            if req.method == "HEAD":
                resp = head_answer(resp)
        else:
            answer = handle_http_direct(self.app, req, self._encode or self._encoder(), name, TARGET,
                                        request.environ.get(_EXECUTION_ID), request, None, True)
            if not isinstance(answer, HttpResponse):
                return answer
            resp = answer
        return http.to_flask(resp)

    def _schedule(self, spec: FunctionSpec, request: Any) -> Any:
        req = http.from_flask(request)
        refused = _refuse_unverified(req)
        if refused is not None:
            return http.to_flask(refused)
        try:
            if codecs.schedule.is_scheduler(req.headers):
                event: Any = codecs.schedule.schedule_from_headers(req.headers, request)
            else:  # a manual POST (e.g. "force run" through a plain HTTP call), unless it is another event
                codecs.schedule.refuse_other_event(req.headers, request.get_json(force=True, silent=True))
                event = ScheduleEvent(time=datetime.now(timezone.utc), native=request)
        except EventDecodeError as exc:
            return http.to_flask(HttpResponse.problem(400, "Bad Request", str(exc)))
        return http.to_flask(schedule_answer(invoke_event(spec, event, target=TARGET, native_context=request)))

    # -- event functions: the request Eventarc or Pub/Sub push sends --------------------------------------------------
    def _event_request_entry(self, name: str) -> Callable[[Any], str]:
        """The served entry of the event function ``name`` (RegistrationError if the app has none): ``POST`` only,
        the push verified when configured, then the request read as a CloudEvent
        (:func:`.inbound.cloudevent_request.cloud_event_of`) and run by the function's CloudEvent lane. Answers
        ``OK``, as functions-framework does for a CloudEvent function.

        A raw Pub/Sub push (a push subscription's JSON envelope, no ``ce-*`` headers) to a topic or queue function is
        decoded from its body at once (:meth:`_run_push`): the CloudEvent functions-framework would convert it to
        drops the ordering key, the delivery attempt and the subscription, so the lane read the body back anyway."""
        lane = self._event_entry(name, verify=False)
        read = _cloud_event_of or _load_cloud_event_of()
        spec = self.app.function(name)
        run = counting_attempts(spec, message_runner(spec, TARGET)) if spec.kind in ("topic", "queue") else None
        is_push = codecs.pubsub.is_push_envelope

        def serve(request: Any) -> str:
            environ = request.environ
            if environ.get("REQUEST_METHOD") != "POST":
                raise _method_not_allowed()
            if env_audience_set():
                _verify_cloud_event_request()  # the request functions-framework is serving, before anything is read
            if run is not None and not environ.get(_CE_SPECVERSION) \
                    and not (environ.get("CONTENT_TYPE") or "").lower().startswith(_STRUCTURED):
                raw = request.get_json(silent=True)  # None unless a JSON body; Flask keeps it for the lane
                if is_push(raw):
                    self._run_push(name, run, raw, request)
                    return "OK"
            lane(read(request, name))
            return "OK"

        return serve

    @staticmethod
    def _run_push(name: str, run: Any, raw: Any, request: Any) -> None:
        """One raw push envelope through the function's runner (the request is the invocation's native context):
        400 when it cannot be decoded, 500 when the message must be redelivered."""
        try:
            event = codecs.pubsub.decode_envelope(raw)
        except EventDecodeError as exc:
            raise _undecodable(name, exc) from None
        failure = run(event, None, request)
        if failure is not None:
            failed = message_failed(failure, event.id)
            if failed is not None:
                raise failed

    # -- a CloudEvent, as functions-framework hands it over ------------------------------------------------------------
    def event(self, name: str, cloud_event: Any) -> None:
        """One CloudEvent for the function ``name``: what a main.py generated before the per-function entries
        (``_portafunc_entry.event_lanes[name](cloud_event)``) calls."""
        self.event_lanes[name](cloud_event)

    def _event_entry(self, name: str, verify: bool = True) -> Callable[[Any], None]:
        """The entry of the CloudEvent function ``name`` (RegistrationError if the app has none): for a topic or
        queue function, one function that reads the usual Pub/Sub event itself and runs it with the function's
        :func:`message_runner`; a storage or schedule function's events go through :meth:`_other_event`. With
        ``verify`` False the caller has verified the push already (the served entry)."""
        spec = self.app.function(name)
        kind = spec.trigger.kind
        if kind != "topic" and kind != "queue":
            return functools.partial(self._other_event, spec, verify=verify)
        run = counting_attempts(spec, message_runner(spec, TARGET))
        decoded = self._decoded
        decode_published, published = codecs.pubsub.decode_published, codecs.pubsub.PUBLISHED

        def lane(cloud_event: Any) -> None:
            env = os.environ  # unset, the usual answer, told here as env_audience_set tells it: no frame
            if verify and (env.__class__ is not _Environ or _AUDIENCE_KEY in env._data):  # type: ignore[attr-defined]
                if _verification_configured():
                    _verify_cloud_event_request()
            event: Any = None
            if cloud_event.__class__ is _plain_event:  # functions-framework's CloudEvent, its attributes a dict
                context = _request_context(None)  # flask's request context, without the proxy's frames
                # no pushed body to read back; a binary-mode request is told by its environ here, without a frame
                if context is None or context.request.environ.get(_CE_SPECVERSION) \
                        or _is_cloudevent_request(context.request):
                    attributes, data = cloud_event._attributes, cloud_event.data
                    source = attributes.get("source")
                    if data.__class__ is dict and source.__class__ is str and attributes.get("type") == published:
                        event = decode_published(data, source, cloud_event)  # decode_cloudevent's first try
            if event is None:
                event = decoded(name, cloud_event)
                if event.__class__ is not Message and not isinstance(event, Message):
                    raise http_error(400, str(spec.wrong_event(f"a {type(event).__name__}")))
            failure = run(event, None, cloud_event)
            if failure is not None:  # None: a success, acknowledged
                failed = message_failed(failure, event.id)
                if failed is not None:
                    raise failed

        return lane

    def _decoded(self, name: str, cloud_event: Any) -> Any:
        """:meth:`_decode`, a refusal logged and answered 400 (so the broker retries and dead-letters it)."""
        try:
            return self._decode(cloud_event)
        except EventDecodeError as exc:
            raise _undecodable(name, exc) from None

    def _other_event(self, spec: FunctionSpec, cloud_event: Any, verify: bool = True) -> None:
        """A CloudEvent for a storage or schedule function (or refused: an HTTP function takes none)."""
        if verify and _verification_configured():
            _verify_cloud_event_request()
        event = self._decoded(spec.name, cloud_event)
        if spec.kind == "schedule":
            event = _as_schedule(event)
        elif spec.kind == "storage":
            if not isinstance(event, StorageEvent):
                raise http_error(400, str(spec.wrong_event(f"a {type(event).__name__}")))
            if not _storage_matches(spec, event):
                return None  # Eventarc cannot filter by prefix/suffix: done here, acked
        else:
            raise http_error(400, f"{spec.name} is an HTTP function; it cannot take CloudEvents")
        failed = event_failed(invoke_event(spec, event, target=TARGET, native_context=cloud_event), spec.kind)
        if failed is not None:
            raise failed
        return None

    @staticmethod
    def _decode(cloud_event: Any) -> Any:
        raw = None
        flask = _flask or _load_flask()
        if flask is not None and flask.has_request_context():
            request = flask.request._get_current_object()  # each read through the proxy costs about 0.5 µs
            if not _is_cloudevent_request(request):
                raw = request.get_json(silent=True)  # functions-framework parsed it with get_json: cached
        if raw is not None and codecs.pubsub.is_push_envelope(raw):
            # functions-framework turned a raw push into a CloudEvent and dropped orderingKey, deliveryAttempt and
            # the subscription on the way; decode the original body instead.
            return codecs.pubsub.decode_envelope(raw)
        # functions-framework's CloudEvent (cloudevents' own) hands its attribute dict over as is, where
        # get_attributes() wraps it in a read-only view per call; it is only read here
        if cloud_event.__class__ is _CloudEvent:
            attributes = cloud_event._get_attributes()
            if _plain_event is None:
                _learn_event_class(cloud_event, attributes)
        else:
            attributes = cloud_event.get_attributes()
        return codecs.decode_cloudevent(attributes, cloud_event, cloud_event.data)


_flask: Any = None
_CloudEvent: Any = None  # cloudevents.http.CloudEvent, the class functions-framework hands over
_plain_event: Any = None  # _CloudEvent once an event of it is seen to keep its attribute dict in _attributes
_request_context: Any = None  # flask's request context variable's get, when Flask has one
_CE_SPECVERSION = "HTTP_CE_SPECVERSION"  # a binary-mode CloudEvent's ce-specversion header, in the WSGI environ
_STRUCTURED = "application/cloudevents"  # a structured-mode CloudEvent's content type (+json, -batch+json)


def _learn_event_class(cloud_event: Any, attributes: Any) -> None:
    """Let :meth:`Entry.event` read functions-framework's CloudEvent itself (its ``_attributes`` dict and ``data``)
    once an event shows that dict is what ``_get_attributes()`` returns, and Flask gives its request context
    variable (how :meth:`Entry._decode` tells a request whose body says more than the CloudEvent)."""
    global _plain_event
    if _request_context is not None and getattr(cloud_event, "__dict__", {}).get("_attributes") is attributes \
            and attributes.__class__ is dict:
        _plain_event = cloud_event.__class__


def _load_flask() -> Any:
    """Flask and the CloudEvent class, imported once (functions-framework has loaded both already); None without
    Flask."""
    global _flask, _CloudEvent
    try:
        import flask
    except ImportError:  # pragma: no cover - functions-framework always brings Flask
        return None
    event_class: Any = None
    try:
        from cloudevents import http as cloudevents_http

        event_class = cloudevents_http.CloudEvent
    except ImportError:  # pragma: no cover - functions-framework always brings cloudevents
        pass
    global _request_context
    variable = getattr(getattr(flask, "globals", None), "_cv_request", None)  # flask.request's own variable
    _request_context = variable.get if variable is not None and hasattr(variable, "get") else None
    _flask, _CloudEvent = flask, event_class
    return flask


def _is_cloudevent_request(request: Any) -> bool:
    """A request that carried a CloudEvent as such (binary mode: ``ce-*`` headers; structured mode: an
    ``application/cloudevents`` body), so functions-framework's CloudEvent is the whole event and the body need not be
    parsed again. Anything else was converted from a raw push or legacy event, whose original body says more."""
    environ = request.environ  # the WSGI environ the headers are read from, without the header map's key mapping
    return bool(environ.get(_CE_SPECVERSION)) or (environ.get("CONTENT_TYPE") or "").lower().startswith(_STRUCTURED)


def _verification_configured() -> bool:
    # Unset, the usual answer without verification, is told by env_audience_set: os.environ.get costs about as much
    # as the rest of a message's decoding
    return env_audience_set() and bool(os.environ.get(AUDIENCE_ENV, "").strip())


def _undecodable(function: str, error: EventDecodeError) -> Exception:
    """The 400 for an event that cannot be decoded, logged (the broker retries it, then dead-letters it)."""
    logs.error("event could not be decoded; answered 400 so the broker retries and dead-letters it",
               function=function, error=str(error))
    return http_error(400, str(error))


_Environ = os._Environ
_AUDIENCE_KEY = os.environ.encodekey(AUDIENCE_ENV)


def env_audience_set() -> bool:
    """Whether :data:`AUDIENCE_ENV` may be set: False, the usual answer, is told by one look in ``os.environ``'s own
    store (no ``os.environ.get``), so an unverified deployment's event pays nothing for the check."""
    env = os.environ
    return env.__class__ is not _Environ or _AUDIENCE_KEY in env._data  # type: ignore[attr-defined]


def _method_not_allowed() -> Exception:
    """The 405 (``Allow: POST``) functions-framework's routing gives a CloudEvent function for any other method."""
    from werkzeug.exceptions import MethodNotAllowed

    return MethodNotAllowed(valid_methods=["POST"])


_cloud_event_of: Any = None  # inbound.cloudevent_request.cloud_event_of, loaded with the first event function


def _load_cloud_event_of() -> Any:
    global _cloud_event_of
    from .inbound.cloudevent_request import cloud_event_of

    _cloud_event_of = cloud_event_of
    return cloud_event_of


def _refuse_unverified(req: Any) -> HttpResponse | None:
    """The 401/403 answer for a request without a valid push token, when verification is configured; else None."""
    if not _verification_configured():
        return None
    from .inbound import push_auth

    return push_auth.verify_push(req)


def _verify_cloud_event_request() -> None:
    """Verify the HTTP request behind a CloudEvent, whatever its shape; raise the refusal as an HTTP error."""
    if not _verification_configured():
        return
    import flask

    if not flask.has_request_context():  # no request to check the token of: refuse rather than trust
        raise http_error(401, "push verification is configured but no HTTP request carries this event")
    refused = _refuse_unverified(http.from_flask(flask.request))
    if refused is not None:
        raise http_answer(refused)  # its problem+json as it is, with WWW-Authenticate on a 401


def _warn_when_unverified(app: App) -> None:
    """One warning per process when event functions are served without push verification (or cannot pass it)."""
    global _warned_unverified
    if _warned_unverified or not any(spec.kind in EVENT_KINDS for spec in app):
        return
    _warned_unverified = True
    if not _verification_configured():
        logs.warning(f"{AUDIENCE_ENV} is not set: Pub/Sub push, Eventarc and Cloud Scheduler requests are NOT "
                     "verified by portafunc; deploy with --no-allow-unauthenticated so cloud IAM is the only gate, "
                     f"or set {AUDIENCE_ENV} and {SERVICE_ACCOUNTS_ENV} to verify their OIDC tokens", app=app.name)
    elif not os.environ.get(SERVICE_ACCOUNTS_ENV, "").strip():
        logs.warning(f"{AUDIENCE_ENV} is set but {SERVICE_ACCOUNTS_ENV} is not: every push request will be refused "
                     "(403)", app=app.name)


def _as_schedule(event: Any) -> ScheduleEvent:
    if isinstance(event, ScheduleEvent):
        return event
    if isinstance(event, Message):  # Cloud Scheduler → Pub/Sub job: the publish time is the firing time
        return ScheduleEvent(time=event.published_at or datetime.now(timezone.utc), id=event.id, native=event.native)
    raise EventDecodeError(f"a schedule function received a {type(event).__name__}",
                           expected="a Cloud Scheduler HTTP request or Pub/Sub message")


def _storage_matches(spec: FunctionSpec, event: StorageEvent) -> bool:
    from portafunc.kit.storage_filter import wanted  # the one rule every target applies

    trig = spec.trigger
    assert isinstance(trig, StorageTrigger)
    return wanted(trig, event)
