"""HTTP for Google Cloud Functions: the Flask request functions-framework hands over ↔ HttpRequest, HttpResponse →
Flask response, plus a JSON form of both so events can be saved to files, decoded and replayed.

GCF has no JSON event for HTTP (the function gets a real request), so the JSON form is ours and mirrors the wire:
``{"method", "path" (percent-encoded, as on the request line), "query_string" (raw), "headers": [[name, value], ...]
(repeated names kept), "body", "isBase64Encoded"}``. The response form is ``{"statusCode", "headers": [[...]], "body",
"isBase64Encoded"}``. Cloud Scheduler HTTP jobs arrive as such requests (read in :mod:`.schedule`).
"""

from __future__ import annotations

from collections.abc import Mapping  # isinstance against it is several times cheaper than typing's alias
from typing import Any
from urllib.parse import parse_qs

from portafunc.errors import EventDecodeError
from portafunc.events import Headers, HttpFields, HttpRequest, HttpResponse, decode_path
from portafunc.kit import http_json
from portafunc.kit.http_json import body_of, header_text, headers_of, put_body

from .fields import need_map

HTTP_EXPECTED = http_json.EXPECTED
encode_request = http_json.encode_request  # HttpRequest → the JSON form: one writer for every such target


def is_http(native: Any) -> bool:
    return isinstance(native, Mapping) and "method" in native and "path" in native and "kind" not in native \
        and "specversion" not in native


def parse_query(query_string: str) -> dict[str, list[str]]:
    return parse_qs(query_string, keep_blank_values=True) if query_string else {}


def decode_request(native: Any) -> HttpRequest:
    """The JSON form of a request (portafunc's own: GCF hands the function a real request) → HttpRequest."""
    return http_json.decode_request(native)


def _client_ip(headers: Headers, remote: Any) -> str | None:
    """The last ``X-Forwarded-For`` entry: Google's front end appends the address it accepted the connection from,
    so everything before it is whatever the client sent (docs/gcp.md). Without the header (functions-framework
    run locally), the socket's peer."""
    return http_json.client_ip(headers, remote)


def from_flask(request: Any, body: bytes | None = None) -> HttpRequest:
    """The Flask/Werkzeug request functions-framework passes → HttpRequest (body bytes kept as sent): method, path
    and body read now (``body``: already read from its stream), headers, query, raw query and client IP on first
    access (:class:`_FlaskFields`); cookies parsed from the Cookie header on first read by
    :func:`portafunc.events.parse_cookies`, as on every target (werkzeug's parser drops a pair it finds malformed
    instead). Same result as :func:`from_flask_eager` (``tests/gcp/test_gcp_http_codec.py``)."""
    path = request.path
    return _lazy(request.method, path, request, _FLASK_FIELDS, request.get_data(cache=True) if body is None else body,
                 None, raw_path(request.environ, path))


def raw_path(environ: Mapping[str, Any], path: str) -> str | None:
    """The path as sent, escapes kept, when it has one: the request target gunicorn and werkzeug keep in
    ``RAW_URI`` / ``REQUEST_URI`` (``PATH_INFO`` is decoded, an escaped "/" with the rest); None when it has no
    escape or does not spell ``path`` (a prefix the front end took off)."""
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if raw.__class__ is not str or "%" not in raw:
        return None
    raw = raw.partition("?")[0]
    return raw if raw[:1] == "/" and decode_path(raw) == path else None


def from_flask_eager(request: Any) -> HttpRequest:
    """:func:`from_flask` with every field read at once, through werkzeug's own header view: the reference the
    lazy reader is tested against."""
    headers = Headers([(name, header_text(value)) for name, value in request.headers.items()])
    raw = request.query_string
    query = raw.decode("utf-8", "replace") if raw else ""
    req = HttpRequest(method=request.method, path=request.path, query=parse_query(query), headers=headers,
                      body=request.get_data(cache=True), client_ip=_client_ip(headers, request.remote_addr),
                      native=request, raw_query=_raw_query(raw), raw_path=raw_path(request.environ, request.path))
    req._fields = _FLASK_FIELDS  # every field is given: base_url alone is read from the environ
    return req


_ENTITY = {"CONTENT_TYPE": "Content-Type", "CONTENT_LENGTH": "Content-Length"}


def _environ_headers(environ: Mapping[str, Any]) -> Headers:
    """The request headers of a WSGI environ, named and ordered as werkzeug's ``EnvironHeaders`` yields them,
    read in one pass over the environ; a value's bytes read as UTF-8 where they are (:func:`header_text`)."""
    items = []
    for key, value in environ.items():
        if key[:5] == "HTTP_":
            if key != "HTTP_CONTENT_TYPE" and key != "HTTP_CONTENT_LENGTH":
                items.append((key[5:].replace("_", "-").title(), value if value.isascii() else header_text(value)))
        elif value and key in _ENTITY:
            items.append((_ENTITY[key], value if value.isascii() else header_text(value)))
    return Headers(items)


class _FlaskFields(HttpFields):
    """The fields of a werkzeug request, read on first access as :func:`from_flask_eager` reads them."""

    __slots__ = ()

    def headers(self, native: Any) -> Headers:
        return _environ_headers(native.environ)

    def query(self, native: Any) -> dict[str, list[str]]:
        raw = native.query_string
        return parse_query(raw.decode("utf-8", "replace")) if raw else {}

    def raw_query(self, native: Any) -> str | None:
        return _raw_query(native.query_string)

    def client_ip(self, native: Any) -> str | None:
        forwarded = [value for key, value in native.environ.items()  # any key werkzeug names X-Forwarded-For
                     if len(key) == 20 and key[:5] == "HTTP_" and key[5:].replace("_", "-").lower() == "x-forwarded-for"]
        if forwarded:
            return forwarded[-1].rsplit(",", 1)[-1].strip() or None  # as _client_ip reads it
        remote = native.remote_addr
        return remote if isinstance(remote, str) else None

    def base_url(self, native: Any, req: HttpRequest) -> str | None:
        return http_json.environ_base_url(native.environ)


_FLASK_FIELDS = _FlaskFields()
_lazy = HttpRequest.lazy


def _raw_query(raw: bytes) -> str:
    """The query string as the client sent it, as ASCII text: bytes outside printable ASCII (which a client should
    have escaped) percent-encoded, so its escapes still decode to the bytes that were sent."""
    if not raw:
        return ""
    if raw.isascii() and b" " not in raw:
        text = raw.decode("ascii")
        if text.isprintable():
            return text
    from urllib.parse import quote_from_bytes

    return quote_from_bytes(raw, safe="".join(chr(c) for c in range(0x21, 0x7F)))


def to_flask(resp: HttpResponse) -> Any:
    """HttpResponse → Flask response with repeated headers (Set-Cookie) and the exact body bytes. A body still being
    produced (``resp.streamed``) is handed over as an iterable: without a Content-Length, the server sends each piece
    as a chunk as soon as it comes, and closes the iterable (stopping the producer) if the client goes away."""
    import flask

    try:
        return _flask_response(flask, resp)
    except ValueError:  # a header werkzeug refuses (newline): never Flask's HTML 500 page
        if resp.streamed:
            resp.close()  # type: ignore[attr-defined]
        problem = HttpResponse.problem(500, "Internal Server Error", "the function set a header that cannot be sent")
        return _flask_response(flask, problem)


def _flask_response(flask: Any, resp: HttpResponse) -> Any:
    if resp.streamed:
        out = flask.Response(resp.chunks(), status=resp.status)  # type: ignore[attr-defined]
    else:
        items = resp.headers._items
        if len(items) == 1 and items[0][0] == "Content-Type":
            # The usual answer, its content type alone: given to Flask as is, instead of replacing Flask's default
            out = flask.Response(resp.body, status=resp.status, content_type=items[0][1])
            return _head_length(flask, resp, out) if not resp.body else out
        out = flask.Response(resp.body, status=resp.status)
    out.headers.remove("Content-Type")  # Flask's text/html default is wrong for a response that set none
    for name, value in resp.headers.items():
        if name.lower() == "content-length":
            continue
        out.headers.add(name, value)
    return _head_length(flask, resp, out) if not resp.streamed and not resp.body else out


def _head_length(flask: Any, resp: HttpResponse, out: Any) -> Any:
    """A HEAD answer (its body dropped by the pipeline) with the Content-Length the pipeline gave it, the length of
    GET's body (``portafunc.invoke.head_answer``; a mounted app's own), instead of werkzeug's ``Content-Length: 0``,
    which would say GET's body is empty; none when the answer states none (RFC 9110 lets a HEAD answer leave it
    out)."""
    if not flask.has_request_context() or flask.request.method != "HEAD":
        return out
    out.automatically_set_content_length = False
    out.headers.remove("Content-Length")
    given = resp.headers.get("content-length")
    if given is not None:
        out.headers["Content-Length"] = given
    return out


def response_json(status: int, headers: list[tuple[str, str]], body: bytes) -> dict[str, Any]:
    return put_body(body, {"statusCode": status, "headers": [[k, v] for k, v in headers]})


def decode_response(native: Any) -> HttpResponse:
    resp = need_map(native, "HTTP response", '{"statusCode": 200, "headers": [...], "body": ""}')
    status = resp.get("statusCode")
    if not isinstance(status, int):
        raise EventDecodeError("HTTP response has no statusCode", expected='{"statusCode": 200, ...}')
    headers = Headers([(k, v) for k, v in headers_of(resp.get("headers")).items() if k.lower() != "content-length"])
    return HttpResponse(status=status, headers=headers, body=body_of(resp, "HTTP response"))
