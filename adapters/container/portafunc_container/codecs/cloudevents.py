"""CloudEvents 1.0 over HTTP, both content modes (the HTTP protocol binding, version 1.0.2).

Binary mode: context attributes as ``ce-*`` headers (values percent-encoded where not printable ASCII), the data as
the body, ``Content-Type`` as ``datacontenttype``. Structured mode: ``Content-Type: application/cloudevents+json``
and one JSON object holding the attributes and ``data`` (JSON) or ``data_base64``. Both decode to one
:class:`CloudEvent`; the family codecs (queue, storage, schedule) read that.
"""

from __future__ import annotations

import json
import re
from typing import Any, Mapping
from urllib.parse import quote, unquote

from portafunc.errors import EventDecodeError
from portafunc.events import Headers

from .fields import b64decode, b64encode, body_of, headers_of, put_body

STRUCTURED = "application/cloudevents+json"
BATCH = "application/cloudevents-batch+json"
REQUIRED = ("id", "source", "specversion", "type")
CONTEXT = frozenset({"id", "source", "specversion", "type", "datacontenttype", "dataschema", "subject", "time"})
EXPECTED = ("a CloudEvent: ce-specversion, ce-id, ce-source and ce-type headers with the data as the body (binary "
            "mode), or Content-Type application/cloudevents+json with one JSON object (structured mode)")
_EXTENSION_NAME = re.compile(r"^[a-z0-9]{1,20}$")
_HEADER_SAFE = "".join(chr(c) for c in range(0x21, 0x7F) if chr(c) not in '"%')


class CloudEvent:
    """Context attributes (all as strings, as on the wire) and the data as bytes."""

    __slots__ = ("attributes", "data")

    def __init__(self, attributes: dict[str, str], data: bytes = b"") -> None:
        self.attributes = attributes
        self.data = data

    @property
    def type(self) -> str:
        return self.attributes["type"]

    @property
    def content_type(self) -> str:
        return self.attributes.get("datacontenttype", "application/json")

    def json(self) -> Any:
        try:
            return json.loads(self.data) if self.data else None
        except ValueError:
            raise EventDecodeError(f"CloudEvent {self.attributes.get('id')} data is not JSON",
                                   expected=f"JSON data for type {self.type}") from None

    def extensions(self) -> dict[str, str]:
        return {k: v for k, v in self.attributes.items() if k not in CONTEXT}


def is_extension_name(name: str) -> bool:
    return bool(_EXTENSION_NAME.match(name)) and name not in CONTEXT


def mode(headers: Headers) -> str | None:
    """``binary``, ``structured``, ``batch`` or None (not a CloudEvent)."""
    content_type = (headers.get("content-type") or "").split(";", 1)[0].strip().lower()
    if content_type == STRUCTURED:
        return "structured"
    if content_type == BATCH:
        return "batch"
    if headers.get("ce-specversion") is not None:
        return "binary"
    return None


def is_cloudevent(native: Any) -> bool:
    if not isinstance(native, Mapping):
        return False
    try:
        return mode(headers_of(native.get("headers"))) is not None
    except EventDecodeError:
        return False


def decode(request: Mapping[str, Any]) -> list[CloudEvent]:
    """The CloudEvents an HTTP request carries (a batch may carry several)."""
    headers = headers_of(request.get("headers"))
    how = mode(headers)
    body = body_of(request, "CloudEvent")
    if how == "binary":
        attributes = {}
        for name, value in headers.items():
            lower = name.lower()
            if lower.startswith("ce-") and len(lower) > 3:
                attributes[lower[3:]] = unquote(value)
        content_type = headers.get("content-type")
        if content_type:
            attributes["datacontenttype"] = content_type
        return [_checked(attributes, body)]
    if how in ("structured", "batch"):
        try:
            doc = json.loads(body)
        except ValueError:
            raise EventDecodeError(f"a {how}-mode CloudEvent body is not JSON", expected=EXPECTED) from None
        docs = doc if how == "batch" else [doc]
        if not isinstance(docs, list) or not docs:
            raise EventDecodeError("a CloudEvents batch is a non-empty JSON array", expected=EXPECTED)
        return [from_structured(d) for d in docs]
    raise EventDecodeError("the request is not a CloudEvent", expected=EXPECTED)


def from_structured(doc: Any) -> CloudEvent:
    if not isinstance(doc, Mapping):
        raise EventDecodeError("a structured CloudEvent is a JSON object", expected=EXPECTED)
    attributes: dict[str, str] = {}
    for name, value in doc.items():
        if name in ("data", "data_base64"):
            continue
        if not isinstance(value, (str, int, bool)):  # the JSON format's types of attributes
            raise EventDecodeError(f"CloudEvent attribute {name!r} is {type(value).__name__}, not a string",
                                   expected=EXPECTED)
        attributes[str(name).lower()] = str(value).lower() if isinstance(value, bool) else str(value)
    if "data_base64" in doc:
        data = b64decode(doc["data_base64"], "CloudEvent data_base64")
    elif "data" in doc:
        value = doc["data"]
        content_type = attributes.get("datacontenttype", "application/json")
        if isinstance(value, str) and not _is_json(content_type):
            data = value.encode("utf-8")
        else:
            data = json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    else:
        data = b""
    return _checked(attributes, data)


def _is_json(content_type: str) -> bool:
    base = content_type.split(";", 1)[0].strip().lower()
    return base == "application/json" or base.endswith("+json") or base == "text/json"


def _checked(attributes: dict[str, str], data: bytes) -> CloudEvent:
    missing = [name for name in REQUIRED if not attributes.get(name)]
    if missing:
        raise EventDecodeError(f"CloudEvent lacks {', '.join(missing)}", expected=EXPECTED)
    if attributes["specversion"] != "1.0":
        raise EventDecodeError(f"CloudEvents specversion {attributes['specversion']!r} is not supported",
                               expected="specversion 1.0")
    return CloudEvent(attributes, data)


def binary(event: CloudEvent, path: str = "/") -> dict[str, Any]:
    """The binary-mode HTTP request for ``event``."""
    headers = [[f"ce-{name}", quote(value, safe=_HEADER_SAFE + " ")] for name, value in event.attributes.items()
               if name != "datacontenttype"]
    headers.append(["Content-Type", event.content_type])
    return put_body(event.data, {"method": "POST", "path": path, "query_string": "", "headers": headers})


def structured(event: CloudEvent, path: str = "/") -> dict[str, Any]:
    """The structured-mode HTTP request for ``event`` (JSON data inline, anything else as ``data_base64``)."""
    doc: dict[str, Any] = dict(event.attributes)
    if event.data:
        if _is_json(event.content_type):
            try:
                doc["data"] = json.loads(event.data)
            except ValueError:
                doc["data_base64"] = b64encode(event.data)
        else:
            try:
                doc["data"] = event.data.decode("utf-8") if event.content_type.startswith("text/") else None
            except UnicodeDecodeError:
                doc["data"] = None
            if doc["data"] is None:
                del doc["data"]
                doc["data_base64"] = b64encode(event.data)
    body = json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return put_body(body, {"method": "POST", "path": path, "query_string": "",
                           "headers": [["Content-Type", f"{STRUCTURED}; charset=utf-8"]]})
