"""The CloudEvent of a request Eventarc or a Pub/Sub push sends to an event function, read by the entry itself.

Every function of a generated ``main.py`` is an ``@functions_framework.http`` target. For a CloudEvent target,
functions-framework reads each request with cloudevents' ``from_http``: a generic marshaller that lower-cases and
copies the headers twice and builds an option object per attribute, about a third of a served Pub/Sub event. A
binary-mode request (``ce-specversion: 1.0`` and the other required ``ce-*`` headers) — what Eventarc sends for Pub/Sub,
Cloud Storage and every other Google event — is read here straight from the WSGI environ into the same
``cloudevents.http.CloudEvent``: the same attributes in the same order, the same data (the body parsed once), built by
the same constructor. Any other request (structured mode, a raw push, a legacy background event, a header that
``from_http`` reads differently) is converted exactly as functions-framework converts it; a request that is none of
them, or that makes the conversion itself fail (functions-framework answered 500 for a structured event whose fields
have the wrong types, or a legacy event without a field it reads), is answered 400, its content never logged.
"""

from __future__ import annotations

import json
from typing import Any

from portafunc import logs

from ..outcome import http_error

_PREFIX = "HTTP_CE_"  # a ce-* header in the WSGI environ
# from_http's attribute order: the CloudEvents 1.0 attributes as cloudevents' v1 event declares them, then extensions
_ORDER = ("specversion", "id", "source", "type", "datacontenttype", "dataschema", "subject", "time")
# header names from_http reads otherwise than as an attribute (the body or Content-Type wins, or the name is taken)
_NOT_PLAIN = frozenset(("data", "datacontenttype", "extensions"))


def cloud_event_of(request: Any, function: str) -> Any:
    """The CloudEvent ``request`` carries, as functions-framework would hand it to a CloudEvent target."""
    event = binary_event(request)
    return converted(request, function) if event is None else event


def binary_event(request: Any) -> Any | None:
    """The CloudEvent of a binary-mode request whose body is JSON, as ``from_http`` builds it; None for any other
    request (then :func:`converted` reads it)."""
    environ = request.environ
    if environ.get("HTTP_CE_SPECVERSION") != "1.0" or not environ.get("HTTP_CE_ID") \
            or not environ.get("HTTP_CE_SOURCE") or not environ.get("HTTP_CE_TYPE"):
        return None
    found: dict[str, str] = {}
    for key, value in environ.items():
        if key.startswith(_PREFIX):
            name = key[8:].lower()
            # a header with '-' in its name comes as '_' (WSGI), where from_http reads it with '-': not ours to guess
            if not name or "_" in name or name in _NOT_PLAIN:
                return None
            found[name] = value
    body = request.get_data()
    if not body:
        return None  # from_http's data is then None: its own path says so
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None  # not JSON: from_http hands the bytes over
    if data == "":
        data = None  # from_http's rule for an empty data value
    content_type = environ.get("CONTENT_TYPE")
    if content_type:
        found["datacontenttype"] = content_type
    attributes = {name: found.pop(name) for name in _ORDER if name in found}
    attributes.update(found)  # the extensions, in the request's order
    return _event_class()(attributes, data)


def converted(request: Any, function: str) -> Any:
    """functions-framework's own reading of a request for a CloudEvent target: ``from_http``, else the conversion
    of a legacy background event or raw Pub/Sub push; 400 when it is neither."""
    from cloudevents import exceptions as cloudevent_errors
    from cloudevents.http import from_http

    from werkzeug.exceptions import HTTPException

    refusal: Exception
    try:
        return from_http(request.headers, request.get_data())
    except (cloudevent_errors.MissingRequiredFields, cloudevent_errors.InvalidRequiredFields) as exc:
        refusal = exc
    except HTTPException:
        raise
    except Exception as exc:  # noqa: BLE001 - a CloudEvent, but malformed (cloudevents raises TypeError for some)
        raise _refused(function, exc) from None
    from functions_framework import event_conversion
    from functions_framework.exceptions import EventConversionException

    try:
        return event_conversion.background_event_to_cloud_event(request)
    except EventConversionException:
        raise _refused(function, refusal) from None
    except HTTPException:  # Flask's own answer, as functions-framework gives it (415 for a body that is not JSON)
        raise
    except Exception as exc:  # noqa: BLE001 - a legacy event of the wrong shape (KeyError, TypeError inside it)
        raise _refused(function, exc) from None


def _refused(function: str, error: Exception) -> Exception:
    """The 400 for a request that is no event (the broker retries and dead-letters it). Only the error's type is
    logged: cloudevents' messages quote the body."""
    kind = type(error).__name__
    logs.error("event could not be decoded; answered 400 so the broker retries and dead-letters it",
               function=function, error=kind)
    return http_error(400, f"the request is not a CloudEvent (binary or structured mode), a Pub/Sub push or a "
                           f"legacy background event ({kind})")


_CloudEvent: Any = None


def _event_class() -> Any:
    """cloudevents' CloudEvent, the class functions-framework hands over (imported once, on the first event)."""
    global _CloudEvent
    if _CloudEvent is None:
        from cloudevents.http import CloudEvent

        _CloudEvent = CloudEvent
    return _CloudEvent
