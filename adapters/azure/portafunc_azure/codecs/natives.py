"""JSON native forms ⇄ the ``azure.functions`` objects the Python worker hands a function.

Objects are built with the library's own worker-side converters (``HttpRequestConverter``,
``QueueMessageInConverter``, ``EventGridEventInConverter``, ``TimerRequestConverter``) fed with the ``Datum`` values
the host sends, so a test function receives exactly what it would in Azure. ``azure.functions`` is imported here
only, on first use.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping  # isinstance against it is several times cheaper than typing's alias
from typing import Any

from portafunc.errors import EventDecodeError

from .http import _body_field, _put_body, _str_map


def _meta() -> Any:
    from azure.functions import meta

    return meta


def to_func_http(native: Mapping[str, Any]) -> Any:
    """JSON form → ``func.HttpRequest`` exactly as the worker's ``HttpRequestConverter`` builds it."""
    from azure.functions.http import HttpRequestConverter

    meta = _meta()
    D = meta.Datum
    method, url = native.get("method"), native.get("url")
    if not isinstance(method, str) or not isinstance(url, str):
        from .http import HTTP_EXPECTED

        raise EventDecodeError("HTTP request has no method or url", expected=HTTP_EXPECTED)
    value = {
        "method": D(method, "string"),
        "url": D(url, "string"),
        "headers": {k: D(v, "string") for k, v in _str_map(native.get("headers"), "headers").items()},
        "query": {k: D(v, "string") for k, v in _str_map(native.get("params"), "params").items()},
        "params": {k: D(v, "string") for k, v in _str_map(native.get("route_params"), "route_params").items()},
        "body": D(_body_field(native, "HTTP request"), "bytes"),
    }
    return HttpRequestConverter.decode(D(value, "http"), trigger_metadata={})


def from_func_http(req: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"method": req.method, "url": req.url, "headers": dict(req.headers.items()),
                           "params": dict(req.params), "route_params": dict(req.route_params)}
    _put_body(out, req.get_body() or b"")
    return out


def response_datum_to_json(resp: Any) -> dict[str, Any]:
    """A ``func.HttpResponse`` → what the worker's ``HttpResponseConverter`` sends the host, as JSON."""
    from azure.functions.http import HttpResponseConverter

    datum = HttpResponseConverter.encode(resp, expected_type=None)
    if datum.type == "string":
        out: dict[str, Any] = {"status_code": 200, "headers": {}, "cookies": []}
        _put_body(out, datum.value.encode("utf-8"))
        return out
    value = datum.value
    cookies: list[str] = []
    for cookie in value.get("cookies") or []:
        cookies.extend(m.OutputString() for m in cookie.values())
    out = {"status_code": int(value["status_code"].value),
           "headers": {k: v.value for k, v in value["headers"].items()}, "cookies": cookies}
    _put_body(out, value["body"].value or b"")
    return out


def to_func_response(native: Mapping[str, Any]) -> Any:
    import azure.functions as func

    headers = _str_map(native.get("headers"), "headers")
    typed = any(name.lower() == "content-type" for name in headers)
    resp = func.HttpResponse(body=_body_field(native, "HTTP response"), status_code=int(native["status_code"]),
                             mimetype=None if typed else "")  # "": no Content-Type (outcome.NO_CONTENT_TYPE)
    for name, value in headers.items():
        resp.headers.add_header(name, value)
    for cookie in native.get("cookies") or []:
        resp.headers.add_header("Set-Cookie", str(cookie))
    return resp


def to_func_queue(native: Mapping[str, Any]) -> Any:
    """JSON form → ``func.QueueMessage``: the host base64-decodes MessageText and passes metadata separately."""
    from azure.functions.queue import QueueMessageInConverter

    from .queue import decode_message

    decode_message(native)  # validates the shape with a clear error
    D = _meta().Datum
    body = base64.b64decode(native["MessageText"])
    md = {"Id": D(native["Id"], "string"), "DequeueCount": D(int(native.get("DequeueCount") or 1), "int"),
          "PopReceipt": D(str(native.get("PopReceipt") or ""), "string")}
    for key in ("InsertionTime", "ExpirationTime", "NextVisibleTime"):
        if native.get(key):
            md[key] = D(json.dumps(native[key]), "json")
    return QueueMessageInConverter.decode(D(body, "bytes"), trigger_metadata=md)


def from_func_queue(msg: Any) -> dict[str, Any]:
    from .envelope import status_time

    out: dict[str, Any] = {"Id": msg.id, "DequeueCount": msg.dequeue_count or 1}
    for key, value in (("InsertionTime", msg.insertion_time), ("ExpirationTime", msg.expiration_time),
                       ("NextVisibleTime", msg.time_next_visible)):
        if value is not None:
            out[key] = status_time(value)
    out["PopReceipt"] = msg.pop_receipt or ""
    out["MessageText"] = base64.b64encode(msg.get_body() or b"").decode("ascii")
    return out


def to_func_eventgrid(event: Mapping[str, Any]) -> Any:
    """One event (either schema) → ``func.EventGridEvent`` or ``func.CloudEvent``, as the worker builds it."""
    from azure.functions.eventgrid import EventGridEventInConverter

    D = _meta().Datum
    return EventGridEventInConverter.decode(D(json.dumps(event), "json"), trigger_metadata={})


def from_func_eventgrid(event: Any) -> dict[str, Any]:
    """``func.EventGridEvent`` / ``func.CloudEvent`` → the event JSON (either schema)."""
    from .envelope import status_time

    if hasattr(event, "specversion"):
        out: dict[str, Any] = {"specversion": event.specversion, "id": event.id, "source": event.source,
                               "type": event.type}
        if event.time is not None:
            out["time"] = status_time(event.time)
        if event.subject is not None:
            out["subject"] = event.subject
        for key in ("datacontenttype", "dataschema"):
            if getattr(event, key, None) is not None:
                out[key] = getattr(event, key)
        extensions = dict(getattr(event, "extension_attrs", None) or {})
        out.update(extensions)  # data_base64 travels here: the worker keeps unknown keys as extensions
        data = event.get_json() if hasattr(event, "get_json") else getattr(event, "data", None)
        if data is not None:
            out["data"] = data
        return out
    out = {"id": event.id, "topic": event.topic, "subject": event.subject, "eventType": event.event_type}
    if event.event_time is not None:
        out["eventTime"] = status_time(event.event_time)
    out["data"] = event.get_json()
    out["dataVersion"] = event.data_version
    return out


def to_func_timer(native: Mapping[str, Any]) -> Any:
    from azure.functions.timer import TimerRequestConverter

    D = _meta().Datum
    return TimerRequestConverter.decode(D(json.dumps(native), "json"), trigger_metadata={})


def from_func_timer(timer: Any) -> dict[str, Any]:
    """The timer's JSON form; a schedule or status that is not an object (the host always sends objects) is left out
    rather than failing the run."""
    schedule, status = timer.schedule, timer.schedule_status
    return {"Schedule": dict(schedule) if isinstance(schedule, Mapping) else {},
            "ScheduleStatus": dict(status) if isinstance(status, Mapping) else {},
            "IsPastDue": bool(timer.past_due)}


def to_json(native: Any) -> Any:
    """Any ``azure.functions`` trigger object → its JSON form; other values unchanged."""
    module = type(native).__module__ or ""
    if not module.startswith("azure.functions"):
        return native
    name = type(native).__name__
    if name == "HttpRequest":
        return from_func_http(native)
    if name == "QueueMessage":
        return from_func_queue(native)
    if name in ("EventGridEvent", "CloudEvent"):
        return from_func_eventgrid(native)
    if name == "TimerRequest":
        return from_func_timer(native)
    if name == "HttpResponse":
        return response_datum_to_json(native)
    raise EventDecodeError(f"azure.functions.{name} is not a trigger object portafunc handles",
                           expected="HttpRequest, QueueMessage, EventGridEvent, CloudEvent or TimerRequest")
