"""The JSON form of a plain HTTP request, read into an :class:`HttpRequest` and written from one: one reader and one
writer for every target whose function receives a real HTTP request (so the JSON form is portafunc's own, saved to
files and replayed).

The form mirrors the wire: ``{"method", "path" (percent-encoded, as on the request line), "query_string" (raw),
"headers": [[name, value], ...] (repeated names kept; an object is accepted too), "body", "isBase64Encoded",
"remote_addr" (optional: the socket's peer), "scheme" and "script_name" (optional: the WSGI environ's
``wsgi.url_scheme`` and ``SCRIPT_NAME``, for :attr:`HttpRequest.base_url`)}``. Header names and values are read as text whatever JSON type they
were given as, so a value written as a number (``"content-length": 12``) reads the same as ``"12"``.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping  # isinstance against it is several times cheaper than typing's alias
from typing import Any

from ..errors import EventDecodeError
from ..events import Headers, HttpFields, HttpRequest, forwarded_scheme, origin

EXPECTED = ('{"method": "GET", "path": "/", "query_string": "", "headers": [["name", "value"]], "body": "", '
            '"isBase64Encoded": false}')


def header_text(value: str) -> str:
    """A header value as a server read it off the wire (its bytes as latin-1 characters: PEP 3333, ``http.server``)
    as text: the characters its bytes spell in UTF-8, as AWS, Azure and the container target give them; bytes that
    are not UTF-8 stay as read. A mounted web app gets the same bytes back (``portafunc.mount``)."""
    if value.isascii():
        return value
    try:
        return value.encode("latin-1").decode("utf-8")
    except UnicodeError:
        return value


def is_request(native: Any) -> bool:
    """Whether ``native`` has the shape of the JSON form (a method and a path)."""
    return isinstance(native, Mapping) and isinstance(native.get("method"), str) and isinstance(native.get("path"), str)


def headers_of(value: Any) -> Headers:
    """``headers`` as ``[[name, value], ...]`` or an object; names and values as text."""
    if value is None:
        return Headers()
    if isinstance(value, Mapping):
        return Headers({str(k): str(v) for k, v in value.items()})
    if isinstance(value, list) and all(isinstance(p, (list, tuple)) and len(p) == 2 for p in value):
        return Headers([(str(k), str(v)) for k, v in value])
    raise EventDecodeError("headers must be a list of [name, value] pairs or an object", expected=EXPECTED)


def body_of(native: Mapping[str, Any], what: str) -> bytes:
    """``body`` as bytes: UTF-8 text, or base64 text when ``isBase64Encoded``."""
    body = native.get("body")
    if body is None:
        return b""
    if not isinstance(body, str):
        raise EventDecodeError(f"{what} body is {type(body).__name__}, not a string", expected=EXPECTED)
    if native.get("isBase64Encoded"):
        try:
            return base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise EventDecodeError(f"{what} body is not valid base64", expected="standard base64") from None
    return body.encode("utf-8")


def put_body(body: bytes, out: dict[str, Any]) -> dict[str, Any]:
    """``out`` with ``body`` (UTF-8 text, else base64) and ``isBase64Encoded`` set."""
    try:
        out["body"], out["isBase64Encoded"] = body.decode("utf-8"), False
    except UnicodeDecodeError:
        out["body"], out["isBase64Encoded"] = base64.b64encode(body).decode("ascii"), True
    return out


PATH_SAFE = "/:@!$&'()*+,;=-._~"  # what a request line carries unescaped in a path


def encode_request(req: HttpRequest) -> dict[str, Any]:
    """:class:`HttpRequest` → the JSON form: the path percent-encoded as on a request line, the raw query string as
    received when the request kept one (else built from ``query``), cookies as a ``Cookie`` header, the client
    address as ``remote_addr``."""
    from urllib.parse import quote, urlencode

    headers = Headers(req.headers)
    if req.cookies and "cookie" not in headers:
        headers.add("Cookie", "; ".join(f"{k}={v}" for k, v in req.cookies.items()))
    out: dict[str, Any] = {
        "method": req.method,
        "path": req.raw_path,
        "query_string": req.raw_query if req.raw_query is not None else
        urlencode([(k, v) for k, vs in req.query.items() for v in vs], quote_via=quote, safe=""),
        "headers": [[k, v] for k, v in headers.items()],
    }
    if req.client_ip:
        out["remote_addr"] = req.client_ip
    return put_body(req.body, out)


def client_ip(headers: Headers, remote: Any) -> str | None:
    """The last ``X-Forwarded-For`` entry: a front end appends the address it accepted the connection from, so
    what comes before it is the client's own claim. Without the header, the socket's peer."""
    forwarded = headers.get_all("x-forwarded-for")
    if forwarded:
        return forwarded[-1].rsplit(",", 1)[-1].strip() or None
    return remote if isinstance(remote, str) else None


def decode_request(native: Any) -> HttpRequest:
    """The JSON form → :class:`HttpRequest` (method upper-cased, path percent-decoded, query parsed with blank
    values kept and the raw query string kept beside it)."""
    if not isinstance(native, Mapping):
        raise EventDecodeError(f"HTTP request is {type(native).__name__}, not a JSON object", expected=EXPECTED)
    method, path = native.get("method"), native.get("path")
    if not isinstance(method, str) or not method or not isinstance(path, str) or not path.startswith("/"):
        raise EventDecodeError("HTTP request needs a method and a path starting with '/'", expected=EXPECTED)
    query = native.get("query_string", "")
    if not isinstance(query, str):
        raise EventDecodeError("query_string must be the raw query string", expected=EXPECTED)
    from urllib.parse import parse_qs, unquote

    headers = headers_of(native.get("headers"))
    req = HttpRequest(method=method.upper(), path=unquote(path), raw_path=path if "%" in path else None,
                      query=parse_qs(query, keep_blank_values=True) if query else {}, headers=headers,
                      body=body_of(native, "HTTP request"), client_ip=client_ip(headers, native.get("remote_addr")),
                      native=native, raw_query=query)
    req._fields = _JSON_FIELDS  # every field is given: base_url alone is read from the JSON form
    return req


def base_url(scheme: Any, host: str | None, forwarded_proto: str | None, script_name: Any) -> str:
    """``scheme://host[:port]`` and ``SCRIPT_NAME`` of a request a WSGI server read: the scheme the front end
    names in ``X-Forwarded-Proto`` (Google's, Cloud Run's: it replaces a client's own), else the server's own
    (``wsgi.url_scheme``); the ``Host`` header, else ``localhost``."""
    from urllib.parse import quote

    scheme = forwarded_scheme(forwarded_proto) or (scheme if scheme in ("http", "https") else "http")
    base = origin(scheme, host, default_host="localhost")
    if isinstance(script_name, str) and script_name.strip("/"):
        base += quote(script_name.rstrip("/"), safe=PATH_SAFE)
    return base


def environ_base_url(environ: Mapping[str, Any]) -> str:
    """:func:`base_url` of a WSGI environ (``HTTP_HOST``, else ``SERVER_NAME`` and ``SERVER_PORT``)."""
    host = environ.get("HTTP_HOST")
    if not host and environ.get("SERVER_NAME"):
        host = f"{environ['SERVER_NAME']}:{environ.get('SERVER_PORT') or ''}".rstrip(":")
    return base_url(environ.get("wsgi.url_scheme"), host, environ.get("HTTP_X_FORWARDED_PROTO"),
                    environ.get("SCRIPT_NAME"))


class _JsonFields(HttpFields):
    __slots__ = ()

    def base_url(self, native: Any, req: HttpRequest) -> str | None:
        return base_url(native.get("scheme"), req.headers.get("host"), req.headers.get("x-forwarded-proto"),
                        native.get("script_name"))


_JSON_FIELDS = _JsonFields()
