"""Event Grid webhook receiver for apps served over plain HTTP (outside the Functions host).

Inside Azure Functions the host's EventGridTrigger endpoint does all of this; an app served by any other HTTP server
(``portafunc run``, a container, a VM) subscribes an Event Grid *webhook* and mounts this receiver:

* Every request must carry the configured credential first (:mod:`portafunc_azure.inbound.eventgrid_auth`): the shared secret
  ``PORTAFUNC_EVENTGRID_SECRET`` (subscribe with ``...?code=SECRET``) or the SAS key ``PORTAFUNC_EVENTGRID_SAS_KEY``
  (``aeg-sas-key`` / ``aeg-sas-token``), or ``secret=`` / ``sas_key=`` here. With none configured every request is
  refused 401 — the validation handshake included, so nobody can subscribe their own topic to the endpoint — unless
  ``allow_unauthenticated=True`` is passed on purpose.
* ``POST`` with ``aeg-event-type: SubscriptionValidation`` (Event Grid schema) → ``200 {"validationResponse": code}``
  (synchronous validation; a 202 is not accepted). A validation event in any other request is refused (400).
* ``OPTIONS`` with ``WebHook-Request-Origin`` (CloudEvents 1.0 abuse protection) → ``200`` with
  ``WebHook-Allowed-Origin`` and ``WebHook-Allowed-Rate`` only when the origin is on the allow-list
  (``allowed_origins``, default ``PORTAFUNC_EVENTGRID_ALLOWED_ORIGINS`` or Event Grid's own ``eventgrid.azure.net``);
  any other origin → 403, never an echo.
* ``POST`` deliveries (``aeg-event-type: Notification``; an Event Grid array, a single CloudEvent
  ``application/cloudevents+json`` or a batch ``application/cloudevents-batch+json``) → each event runs through the
  pipeline; ``200`` when all succeeded, ``500`` to make Event Grid retry the delivery otherwise, ``400`` for a body
  that is not an event (Event Grid dead-letters it rather than retrying forever).
"""

from __future__ import annotations

import json
import os
from typing import Any, Callable, Iterable

from portafunc import logs
from portafunc.app import App, StorageTrigger, TopicTrigger
from portafunc.errors import EventDecodeError
from portafunc.events import Headers, HttpRequest, HttpResponse, Message, StorageEvent
from portafunc.invoke import Outcome, invoke_event, invoke_message

from ..codecs.topic import VALIDATION_TYPE, decode_event, event_type

ALLOWED_ORIGINS_ENV = "PORTAFUNC_EVENTGRID_ALLOWED_ORIGINS"
EVENTGRID_ORIGIN = "eventgrid.azure.net"  # the WebHook-Request-Origin Event Grid sends
MAX_BODY_BYTES = 1024 * 1024 + 64 * 1024  # Event Grid delivers at most 1 MB per request


def handle(app: App, function: str, req: HttpRequest, *, secret: str | None = None, sas_key: str | None = None,
           allow_unauthenticated: bool = False, auth: Any = None, allowed_origins: Iterable[str] | None = None,
           allowed_rate: str = "*") -> HttpResponse:
    """Answer one webhook request for ``function`` (a topic or storage function of ``app``).

    ``auth``: an :class:`~portafunc_azure.inbound.eventgrid_auth.EventGridAuth`; by default one built from ``secret``,
    ``sas_key`` and ``allow_unauthenticated``, reading the environment for whatever is not given."""
    from .eventgrid_auth import EventGridAuth, verify_delivery

    if auth is None:
        auth = EventGridAuth(secret=secret, sas_key=sas_key, allow_unauthenticated=allow_unauthenticated)
    refused = verify_delivery(req, auth)  # constant-time comparison; before anything is parsed or answered
    if refused is not None:
        return refused
    if req.method == "OPTIONS":
        return _abuse_protection(req, allowed_origins, allowed_rate)
    if req.method != "POST":
        resp = HttpResponse.problem(405, "Method Not Allowed", "Event Grid webhooks accept POST and OPTIONS")
        resp.headers.add("Allow", "OPTIONS, POST")
        return resp
    try:
        body = json.loads(req.body) if req.body else None
    except (ValueError, RecursionError):
        return HttpResponse.problem(400, "Bad Request", "the body is not JSON (or is nested too deeply)")
    found = body if isinstance(body, list) else [body]
    events: list[dict[str, Any]] = [e for e in found if isinstance(e, dict)]
    if not events or len(events) != len(found):
        return HttpResponse.problem(400, "Bad Request", "expected an Event Grid array or a CloudEvent object")
    handshake = (req.headers.get("aeg-event-type") or "").lower() == "subscriptionvalidation"
    if not handshake and any(event_type(e) == VALIDATION_TYPE for e in events):
        return HttpResponse.problem(400, "Bad Request", "a subscription validation event outside the "
                                                        "SubscriptionValidation handshake")
    if handshake:
        for event in events:
            data = event.get("data") or {}
            code = data.get("validationCode") if isinstance(data, dict) else None
            if event_type(event) == VALIDATION_TYPE and isinstance(code, str):
                logs.log("INFO", "Event Grid subscription validated", function=function, topic=event.get("topic"))
                return HttpResponse.json({"validationResponse": code})
        return HttpResponse.problem(400, "Bad Request", "subscription validation event without validationCode")
    return _deliver(app, function, events, req)


def _abuse_protection(req: HttpRequest, allowed_origins: Iterable[str] | None, rate: str) -> HttpResponse:
    origin = req.headers.get("webhook-request-origin")
    if not origin:
        return HttpResponse(status=200, headers=Headers([("Allow", "OPTIONS, POST")]))
    allowed = [o.strip().lower() for o in (allowed_origins if allowed_origins is not None else _origins_from_env())]
    if origin.strip().lower() not in allowed:
        logs.warning("Event Grid abuse-protection handshake refused", origin=origin[:200])
        return HttpResponse.problem(403, "Forbidden", "this origin may not deliver to this endpoint (allow it with "
                                                      f"{ALLOWED_ORIGINS_ENV})")
    headers = Headers([("WebHook-Allowed-Origin", origin), ("WebHook-Allowed-Rate", rate),
                       ("Allow", "OPTIONS, POST")])
    return HttpResponse(status=200, headers=headers)


def _origins_from_env() -> list[str]:
    listed = [o.strip() for o in os.environ.get(ALLOWED_ORIGINS_ENV, "").split(",") if o.strip()]
    return listed or [EVENTGRID_ORIGIN]


def _deliver(app: App, function: str, events: list[dict[str, Any]], req: HttpRequest) -> HttpResponse:
    spec = app.function(function)
    count = req.headers.get("aeg-delivery-count")
    attempt = int(count) + 1 if count and count.isascii() and count.isdecimal() and len(count) < 10 else 1
    trig = spec.trigger
    try:
        decoded = [decode_event(e, delivery_attempt=attempt, as_message=isinstance(trig, TopicTrigger))
                   for e in events]
    except EventDecodeError as exc:
        return HttpResponse.problem(400, "Bad Request", str(exc))
    failed: list[str] = []
    for item in decoded:
        if isinstance(item, Message) and isinstance(trig, TopicTrigger):
            result = invoke_message(spec, item, target="azure", native_context=req)
            bad = result.outcome in (Outcome.RETRY, Outcome.REJECTED)
        elif isinstance(item, StorageEvent) and isinstance(trig, StorageTrigger):
            if item.kind not in trig.events or not item.key.startswith(trig.prefix) \
                    or not item.key.endswith(trig.suffix):
                continue
            result = invoke_event(spec, item, target="azure", native_context=req)
            bad = result.outcome is Outcome.RETRY
        else:
            return HttpResponse.problem(400, "Bad Request", f"function {function!r} cannot take this event")
        if bad:
            failed.append(result.message_id)
    if failed:
        return HttpResponse.problem(500, "Delivery failed", "Event Grid will retry", failed=failed)
    return HttpResponse(status=200)


def wsgi_app(app: App, routes: dict[str, str], *, secret: str | None = None, sas_key: str | None = None,
             allow_unauthenticated: bool = False, resource: str | None = None,
             allowed_origins: Iterable[str] | None = None, allowed_rate: str = "*") -> Callable[..., Iterable[bytes]]:
    """A WSGI application serving ``{path: function}`` webhooks (any WSGI server; the tests use wsgiref).

    The credential comes from ``secret``/``sas_key`` or the environment (``PORTAFUNC_EVENTGRID_SECRET``,
    ``PORTAFUNC_EVENTGRID_SAS_KEY``); with none, every request is answered 401 unless ``allow_unauthenticated``."""
    from urllib.parse import parse_qsl

    from .eventgrid_auth import EventGridAuth

    auth = EventGridAuth(secret=secret, sas_key=sas_key, resource=resource,
                         allow_unauthenticated=allow_unauthenticated)
    origins = list(allowed_origins) if allowed_origins is not None else None
    if auth.secret is None and auth.sas_key is None:
        if allow_unauthenticated:
            logs.warning("Event Grid webhook serves UNAUTHENTICATED deliveries (allow_unauthenticated=True)")
        else:
            logs.warning("Event Grid webhook has no credential configured: every request will be refused (401); set "
                         "PORTAFUNC_EVENTGRID_SECRET or PORTAFUNC_EVENTGRID_SAS_KEY")

    def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO") or "/"
        headers = Headers([(k[5:].replace("_", "-").lower(), v) for k, v in environ.items()
                           if k.startswith("HTTP_")])
        if environ.get("CONTENT_TYPE"):
            headers.add("content-type", environ["CONTENT_TYPE"])
        length_text = str(environ.get("CONTENT_LENGTH") or "0").strip()
        length = int(length_text) if length_text.isdecimal() and len(length_text) < 12 else -1
        query: dict[str, list[str]] = {}
        for k, v in parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True):
            query.setdefault(k, []).append(v)
        function = routes.get(path)
        if length < 0:
            resp = HttpResponse.problem(400, "Bad Request", "Content-Length is not a number")
        elif length > MAX_BODY_BYTES:
            resp = HttpResponse.problem(413, "Content Too Large", f"Event Grid delivers at most {MAX_BODY_BYTES} "
                                                                  "bytes")
        elif not function:
            resp = HttpResponse.problem(404, "Not Found", f"no webhook at {path}")
        else:
            body = environ["wsgi.input"].read(length) if length else b""
            req = HttpRequest(method=environ.get("REQUEST_METHOD", "GET"), path=path, query=query, headers=headers,
                              body=body)
            resp = handle(app, function, req, auth=auth, allowed_origins=origins, allowed_rate=allowed_rate)
        start_response(f"{resp.status} {_reason(resp.status)}", resp.headers.items())
        return [resp.body]

    return application


def _reason(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"
