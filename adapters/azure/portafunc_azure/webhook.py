"""Event Grid webhook receiver for apps served over plain HTTP (outside the Functions host).

Inside Azure Functions the host's EventGridTrigger endpoint does all of this; an app served by any other HTTP server
(``portafunc run``, a container, a VM) subscribes an Event Grid *webhook* and mounts this receiver:

* ``POST`` with ``aeg-event-type: SubscriptionValidation`` (Event Grid schema) → ``200 {"validationResponse": code}``
  (synchronous validation; a 202 is not accepted).
* ``OPTIONS`` with ``WebHook-Request-Origin`` (CloudEvents 1.0 abuse protection) → ``200`` with
  ``WebHook-Allowed-Origin`` (the origin, or the configured list) and ``WebHook-Allowed-Rate``.
* ``POST`` deliveries (``aeg-event-type: Notification``; an Event Grid array, a single CloudEvent
  ``application/cloudevents+json`` or a batch ``application/cloudevents-batch+json``) → each event runs through the
  pipeline; ``200`` when all succeeded, ``500`` to make Event Grid retry the delivery otherwise, ``400`` for a body
  that is not an event (Event Grid dead-letters it rather than retrying forever).
* An optional shared secret: subscribe with ``...?code=SECRET`` and pass ``secret=SECRET``; others get ``401``.
"""

from __future__ import annotations

import json
from typing import Any, Callable, Iterable

from portafunc import logs
from portafunc.app import App, StorageTrigger, TopicTrigger
from portafunc.errors import EventDecodeError
from portafunc.events import Headers, HttpRequest, HttpResponse, Message, StorageEvent
from portafunc.invoke import Outcome, invoke_event, invoke_message

from .codec_eventgrid import VALIDATION_TYPE, decode_event, event_type


def handle(app: App, function: str, req: HttpRequest, *, secret: str | None = None,
           allowed_origins: Iterable[str] | None = None, allowed_rate: str = "*") -> HttpResponse:
    """Answer one webhook request for ``function`` (a topic or storage function of ``app``)."""
    if secret is not None:
        from .eventgrid_auth import EventGridAuth, verify_delivery

        refused = verify_delivery(req, EventGridAuth(secret=secret))  # constant-time comparison
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
    except ValueError:
        return HttpResponse.problem(400, "Bad Request", "the body is not JSON")
    items = body if isinstance(body, list) else [body]
    events: list[dict[str, Any]] = [e for e in items if isinstance(e, dict)]
    if not events or len(events) != len(items):
        return HttpResponse.problem(400, "Bad Request", "expected an Event Grid array or a CloudEvent object")
    if (req.headers.get("aeg-event-type") or "").lower() == "subscriptionvalidation" or \
            any(event_type(e) == VALIDATION_TYPE for e in events):
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
    allowed = list(allowed_origins) if allowed_origins is not None else None
    if allowed is not None and origin not in allowed and "*" not in allowed:
        return HttpResponse.problem(403, "Forbidden", f"origin {origin!r} may not deliver to this endpoint")
    headers = Headers([("WebHook-Allowed-Origin", origin), ("WebHook-Allowed-Rate", rate),
                       ("Allow", "OPTIONS, POST")])
    return HttpResponse(status=200, headers=headers)


def _deliver(app: App, function: str, events: list[dict[str, Any]], req: HttpRequest) -> HttpResponse:
    spec = app.function(function)
    count = req.headers.get("aeg-delivery-count")
    attempt = int(count) + 1 if count and count.isdigit() else 1
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


def wsgi_app(app: App, routes: dict[str, str], **options: Any) -> Callable[..., Iterable[bytes]]:
    """A WSGI application serving ``{path: function}`` webhooks (any WSGI server; the tests use wsgiref)."""
    from urllib.parse import parse_qsl

    def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO") or "/"
        headers = Headers([(k[5:].replace("_", "-").lower(), v) for k, v in environ.items()
                           if k.startswith("HTTP_")])
        if environ.get("CONTENT_TYPE"):
            headers.add("content-type", environ["CONTENT_TYPE"])
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        query: dict[str, list[str]] = {}
        for k, v in parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True):
            query.setdefault(k, []).append(v)
        req = HttpRequest(method=environ.get("REQUEST_METHOD", "GET"), path=path, query=query, headers=headers,
                          body=body)
        function = routes.get(path)
        resp = handle(app, function, req, **options) if function else \
            HttpResponse.problem(404, "Not Found", f"no webhook at {path}")
        start_response(f"{resp.status} {_reason(resp.status)}", resp.headers.items())
        return [resp.body]

    return application


def _reason(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"
