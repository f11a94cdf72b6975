"""HTTP trigger codec: the JSON form of ``func.HttpRequest`` / ``func.HttpResponse`` ⇄ neutral.

What the Python worker hands a function (azure-functions ``HttpRequestConverter``): ``method``, the full ``url``
(percent-encoded path and the raw query string), ``headers`` as a *single-valued* mapping (the Functions host joins
repeated request headers with ``", "``), ``params`` (query, single-valued: repeated values are joined by the host),
``route_params`` (the host's route match) and the body bytes. The host fills both maps with ASP.NET Core's
``StringValues.ToString()``, which joins repeated values with ``","`` (the App Service front end may already have
merged repeated lines with ``", "``). The neutral query is read from the URL, which keeps every repeated value;
repeated headers arrive joined and stay joined (RFC 9110 §5.3: equivalent for list-valued headers).

The JSON form used by ``events decode/new`` and ``invoke`` mirrors that constructor::

    {"method": "POST", "url": "http://localhost:7071/orders/acme?x=1", "headers": {"content-type": "..."},
     "params": {"x": "1"}, "route_params": {"shop": "acme"}, "body": "<utf-8 text>"}   # or "body_base64"

Responses: ``func.HttpResponse`` headers are a multi-valued werkzeug ``Headers``, but the worker's converter sends
the host a plain dict (last value wins) plus every ``Set-Cookie`` as a separate cookie; so repeated response headers
other than ``Set-Cookie`` are joined with ``", "`` here, and each ``Set-Cookie`` stays separate.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping  # isinstance against it is several times cheaper than typing's alias
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

from portafunc.errors import EventDecodeError
from portafunc.events import (Headers, HttpFields, HttpRequest, HttpResponse, decode_path, forwarded_scheme, origin,
                              quote_path)

HTTP_EXPECTED = ('a func.HttpRequest JSON form {"method", "url", "headers", "params", "route_params", '
                 '"body" | "body_base64"}')
DEFAULT_BASE = "http://localhost:7071"


def _body_field(data: Mapping[str, Any], what: str) -> bytes:
    if "body_base64" in data and data["body_base64"] is not None:
        text = data["body_base64"]
        if not isinstance(text, str):
            raise EventDecodeError(f"{what} body_base64 is not a string", expected="base64 text")
        try:
            return base64.b64decode(text, validate=True)
        except ValueError as exc:
            raise EventDecodeError(f"{what} body_base64 is not valid base64", expected="base64 text") from exc
    body = data.get("body")
    if body is None:
        return b""
    if isinstance(body, str):
        try:
            return body.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise EventDecodeError(f"{what} body is not valid Unicode", expected="body as UTF-8 text") from exc
    raise EventDecodeError(f"{what} body is {type(body).__name__}", expected="body as a string")


def _put_body(out: dict[str, Any], body: bytes) -> None:
    try:
        out["body"] = body.decode("utf-8")
    except UnicodeDecodeError:
        out["body_base64"] = base64.b64encode(body).decode("ascii")


def _str_map(value: Any, what: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise EventDecodeError(f"{what} is {type(value).__name__}", expected=f"{what} as an object of strings")
    return {str(k): "" if v is None else str(v) for k, v in value.items()}


def request_from_json(native: Mapping[str, Any], route_prefix: str = "") -> HttpRequest:
    """The JSON form of a ``func.HttpRequest`` → neutral request."""
    method = native.get("method")
    url = native.get("url")
    if not isinstance(method, str) or not method or not isinstance(url, str) or not url:
        raise EventDecodeError("HTTP request has no method or url", expected=HTTP_EXPECTED)
    headers = _str_map(native.get("headers"), "headers")
    params = _str_map(native.get("params"), "params")
    route_params = _str_map(native.get("route_params"), "route_params")
    body = _body_field(native, "HTTP request")
    return request_from_parts(method, url, headers, params, route_params, body, native, route_prefix)


def request_from_parts(method: str, url: str, headers: Mapping[str, str], params: Mapping[str, str],
                       route_params: Mapping[str, str], body: bytes, native: Any,
                       route_prefix: str = "") -> HttpRequest:
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise EventDecodeError(f"HTTP request url {url!r} is not a URL", expected=HTTP_EXPECTED) from exc
    raw_path = parts.path or "/"
    path = decode_path(raw_path)
    prefix = "/" + route_prefix.strip("/") if route_prefix.strip("/") else ""
    if prefix and _under(path, prefix):
        path = path[len(prefix):] or "/"
        raw_path = _without_prefix(raw_path, prefix)
    query: dict[str, list[str]] = {}
    if parts.query:
        for key, value in parse_qsl(parts.query, keep_blank_values=True):
            query.setdefault(key, []).append(value)
    else:
        for key, value in params.items():
            query[key] = [value]
    hdrs = Headers([(k, v) for k, v in headers.items()])
    req = HttpRequest(method=method, path=path, query=query, headers=hdrs, body=body,
                      path_params=dict(route_params), client_ip=client_ip(hdrs), native=native,
                      raw_query=parts.query, raw_path=raw_path if "%" in raw_path else None)
    req._fields = _UrlFields(url)  # every field is given: base_url alone is read from the url
    return req


def base_url(url: str, req: HttpRequest) -> str:
    """The Functions host's ``url`` up to the request's :attr:`~HttpRequest.raw_path`: its scheme (or the one
    App Service's front end names in ``X-Forwarded-Proto``), host and port, and the route prefix (``/api``) the
    host matched before the app's routes."""
    scheme_end = url.find("://")
    path_start = url.find("/", scheme_end + 3) if scheme_end >= 0 else -1
    if scheme_end < 0:
        return origin("http", req.headers.get("host"), default_host="localhost")
    authority = url[scheme_end + 3:] if path_start < 0 else url[scheme_end + 3:path_start]
    authority = authority.rpartition("@")[2]
    scheme = url[:scheme_end]
    forwarded = forwarded_scheme(req.headers.get("x-forwarded-proto"))
    if forwarded is not None and forwarded != scheme.lower():  # the host's own port is not the one the client called
        host, colon, port = authority.rpartition(":")
        if colon and port.isdecimal() and not host.endswith(":"):
            authority = host
        scheme = forwarded
    base = origin(scheme, authority, default_host="localhost")
    if path_start < 0:
        return base
    sent = url[path_start:].partition("#")[0].partition("?")[0]
    routed = req.raw_path
    if sent != routed and sent.endswith(routed):
        return base + sent[:len(sent) - len(routed)].rstrip("/")
    if routed == "/" and sent != "/":
        return base + sent.rstrip("/")
    return base


class _UrlFields(HttpFields):
    """The base URL of a request built from the parts of a ``func.HttpRequest`` (every other field given)."""

    __slots__ = ("url",)

    def __init__(self, url: str) -> None:
        self.url = url

    def base_url(self, native: Any, req: HttpRequest) -> str | None:
        return base_url(self.url, req)


def _under(path: str, prefix: str) -> bool:
    """Whether ``path`` starts with the route prefix ``/api`` as the host matches it: in any case (its routes'
    literal segments ignore case), followed by ``/`` or nothing."""
    head = path[:len(prefix)]
    return (head == prefix or head.upper() == prefix.upper()) and path[len(prefix):][:1] in ("/", "")


def _without_prefix(raw_path: str, prefix: str) -> str:
    """The raw path after the route prefix (cut from the decoded path already): the path as sent, as the routes
    see it, or the decoded path's encoding when the prefix is spelt with escapes in it."""
    if _under(raw_path, prefix):
        return raw_path[len(prefix):] or "/"
    return quote_path(decode_path(raw_path)[len(prefix):] or "/")


def request_from_func(req: Any, route_prefix: str = "") -> HttpRequest:
    """A ``func.HttpRequest`` → neutral request: method, path and body read now (routing needs the path), the path
    cut from the url without a URL parser (the host always passes an absolute url); headers (the host's lower-cased
    dict as is), query, raw query, route parameters and client IP read on first access (:class:`_FuncFields`). Same
    result as :func:`request_from_parts` on the same parts (``tests/azure/test_azure_http_codec.py``)."""
    url = req.url
    scheme_end = url.find("://")
    path_start = url.find("/", scheme_end + 3) if scheme_end >= 0 else -1
    if scheme_end < 0 or path_start < 0:
        headers = getattr(req.headers, "__http_headers__", None)
        return request_from_parts(req.method, url, dict(req.headers.items()) if headers is None else headers,
                                  dict(req.params), dict(req.route_params), req.get_body() or b"", req, route_prefix)
    query_at = url.find("?", path_start)
    raw_path = url[path_start:] if query_at < 0 else url[path_start:query_at]
    if "#" in raw_path:  # a fragment (never sent by the host) ends the path too
        raw_path = raw_path.partition("#")[0]
    path = decode_path(raw_path) if "%" in raw_path else raw_path
    if route_prefix:
        prefix = "/" + route_prefix.strip("/") if route_prefix.strip("/") else ""
        if prefix and _under(path, prefix):
            path = path[len(prefix):] or "/"
            raw_path = _without_prefix(raw_path, prefix)
    return _lazy(req.method, path, req, _FUNC_FIELDS, req.get_body() or b"", None,
                 raw_path if "%" in raw_path else None)


class _FuncFields(HttpFields):
    """The fields of a ``func.HttpRequest`` whose url :func:`request_from_func` has checked, read on first access."""

    __slots__ = ()

    def raw_query(self, native: Any) -> str | None:
        url: str = native.url
        rest = url[url.find("/", url.find("://") + 3):].partition("#")[0]
        return rest.partition("?")[2]

    def query(self, native: Any) -> dict[str, list[str]]:
        raw_query = self.raw_query(native)
        query: dict[str, list[str]] = {}
        if raw_query:
            for key, value in parse_qsl(raw_query, keep_blank_values=True):
                query.setdefault(key, []).append(value)
        elif native.params:  # no query in the url (the host always puts it there): the host's parsed params
            query = {key: [value] for key, value in native.params.items()}
        return query

    def headers(self, native: Any) -> Headers:
        host_headers = getattr(native.headers, "__http_headers__", None)  # the worker's own {lower-case name: value}
        return Headers(host_headers if type(host_headers) is dict else dict(native.headers.items()))

    def path_params(self, native: Any) -> dict[str, str]:
        return dict(native.route_params)

    def base_url(self, native: Any, req: HttpRequest) -> str | None:
        return base_url(native.url, req)

    def client_ip(self, native: Any) -> str | None:
        host_headers = getattr(native.headers, "__http_headers__", None)
        forwarded = host_headers.get("x-forwarded-for") if type(host_headers) is dict else \
            native.headers.get("x-forwarded-for")
        return _last_hop(forwarded) if forwarded else None


_FUNC_FIELDS = _FuncFields()
_lazy = HttpRequest.lazy


def client_ip(headers: Headers) -> str | None:
    """The last ``X-Forwarded-For`` entry, without its port: App Service's front end appends the address it
    accepted the connection from (``203.0.113.7:51234``, ``[2001:db8::1]:51234``), so everything before it is
    whatever the client sent (docs/azure.md). None without the header (Core Tools locally)."""
    forwarded = headers.get_all("x-forwarded-for")
    if not forwarded:
        return None
    return _last_hop(forwarded[-1])


def _last_hop(forwarded: str) -> str | None:
    last = forwarded.rsplit(",", 1)[-1].strip()
    if last.startswith("["):  # [IPv6]:port
        return last[1:].partition("]")[0] or None
    if last.count(":") == 1:  # IPv4:port (a bare IPv6 address has several colons)
        last = last.partition(":")[0]
    return last or None


def request_to_json(req: HttpRequest, base_url: str = DEFAULT_BASE, route_prefix: str = "") -> dict[str, Any]:
    """Neutral request → the JSON form of the ``func.HttpRequest`` the Functions host would build (its ``url`` on
    the host the request names, as the host writes the URL the client called; ``base_url`` without one)."""
    prefix = "/" + route_prefix.strip("/") if route_prefix.strip("/") else ""
    host = req.headers.get("host")
    if host and base_url == DEFAULT_BASE:
        base_url = origin("http", host, default_host="localhost:7071")
    url = base_url.rstrip("/") + prefix + req.raw_path
    pairs = [(k, v) for k, values in req.query.items() for v in values]
    if pairs:
        url += "?" + urlencode(pairs, quote_via=quote, safe="")
    headers: dict[str, str] = {}
    for name, values in req.headers.to_multi().items():
        headers[name] = ("; " if name == "cookie" else ",").join(values)
    out: dict[str, Any] = {
        "method": req.method,
        "url": url,
        "headers": headers,
        "params": {k: ",".join(v) for k, v in req.query.items()},
        "route_params": dict(req.path_params),
    }
    _put_body(out, req.body)
    return out


def response_to_json(resp: HttpResponse) -> dict[str, Any]:
    """Neutral response → the JSON form of what the worker sends the host (headers dict + cookies list)."""
    headers: dict[str, str] = {}
    cookies: list[str] = []
    for name, values in resp.headers.to_multi().items():
        if name == "set-cookie":
            cookies.extend(carried_cookie(v) for v in values)
        else:
            headers[name] = ", ".join(values)
    if None in cookies:
        cookies = [c for c in cookies if c is not None]
    out: dict[str, Any] = {"status_code": resp.status, "headers": headers, "cookies": cookies}
    _put_body(out, resp.body)
    return out


def response_from_json(native: Mapping[str, Any]) -> HttpResponse:
    """What the worker sends the host (the JSON form) → the response the host answers with. An empty
    ``content-type`` is no header: the host sets it as ASP.NET Core's ``HttpResponse.ContentType``, which removes
    the header for an empty value (what a response without a content type is sent with, ``outcome.NO_CONTENT_TYPE``).
    """
    if not isinstance(native, Mapping) or "status_code" not in native:
        raise EventDecodeError("not an HTTP response", expected='{"status_code", "headers", "cookies", "body"}')
    try:
        status = int(native["status_code"])
    except (TypeError, ValueError) as exc:
        raise EventDecodeError("HTTP response status_code is not a number", expected="an integer") from exc
    pairs = [(k, v) for k, v in _str_map(native.get("headers"), "headers").items()
             if v or k.lower() != "content-type"]
    pairs += [("Set-Cookie", str(c)) for c in native.get("cookies") or []]
    return HttpResponse(status=status, headers=Headers(pairs), body=_body_field(native, "HTTP response"))


def carried_cookie(header: str) -> Any:
    """The ``Set-Cookie`` value the Python worker will pass on, with a warning when it cannot carry it as given.

    The worker re-parses every ``Set-Cookie`` with the standard library's ``http.cookies.SimpleCookie``, which
    silently drops a cookie it cannot parse: an attribute it does not know (``Partitioned`` before Python 3.14),
    an unquoted value with spaces or non-ASCII characters, an ``Expires`` that is not an HTTP date. The same
    parser runs here first (same interpreter as the worker): a cookie it keeps is sent unchanged; a
    ``Partitioned`` cookie is sent without that attribute, with a warning; anything else it would drop is
    dropped here with a warning naming the cookie, instead of silently. Returns None for a dropped cookie.
    """
    from http.cookies import CookieError, SimpleCookie

    def parses(text: str) -> bool:
        try:
            return bool(SimpleCookie(text))
        except CookieError:
            return False

    name = header.partition("=")[0].strip()
    if parses(header):
        return header
    from portafunc import logs

    attributes = [a.strip() for a in header.split(";")]
    without = "; ".join(a for a in attributes if a.lower() != "partitioned")
    if without != header and parses(without):
        logs.warning("Azure's Python worker cannot carry the Partitioned cookie attribute; cookie sent without it",
                     name=name)
        return without
    logs.warning("Azure's Python worker cannot carry this Set-Cookie (http.cookies refuses it); cookie not sent",
                 name=name)
    return None
