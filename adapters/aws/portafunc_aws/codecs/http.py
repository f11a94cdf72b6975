"""HTTP codecs: API Gateway REST (v1), HTTP API (v2), ALB (single- and multi-value) and Function URL, both ways.

Decoding gives one neutral :class:`HttpRequest` whose ``path`` is percent-decoded and whose ``query`` and ``headers``
keep repeated values; encoding a response answers in the same variant, and for ALB in the same header mode, as the
request, because ALB drops a response that mixes modes.

Where the native form cannot hold the neutral one, the loss is the cloud's, and is listed in :data:`LOSSY`: HTTP API
and Function URL join repeated headers with commas, and ALB in single-value mode keeps only the last value.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable
from urllib.parse import parse_qsl, quote, unquote, unquote_plus, urlencode

from portafunc.caches import keep
from portafunc.errors import EventDecodeError
from portafunc.events import (_UNREAD, Headers, HttpFields, HttpRequest, HttpResponse, forwarded_scheme, origin,
                              quote_path)

from .fields import new_id, b64decode, b64encode, obj, opt_obj, opt_text, text

VARIANTS = ["apigw-v2", "apigw-v1", "alb", "alb-multi", "function-url"]
EXPECTED = ("an API Gateway REST (httpMethod + requestContext), HTTP API / Function URL (version 2.0 + rawPath) or "
            "ALB (requestContext.elb) event")

LOSSY: dict[str, dict[str, str]] = {
    "apigw-v2": {"headers.repeated": "repeated request headers arrive joined with ','"},
    "function-url": {"headers.repeated": "repeated request headers arrive joined with ','"},
    "alb": {"headers": "single-value mode keeps the last value of a repeated header",
            "query": "single-value mode keeps the last value of a repeated query parameter"},
}

_TEXT_TYPES = ("text/", "json", "xml", "javascript", "x-www-form-urlencoded", "yaml", "csv")


def detect(native: Any) -> str | None:
    """The HTTP variant of ``native``, or None when it is no HTTP event.

    Lambda inputs shaped like requests that are not requests raise EventDecodeError: API Gateway Lambda authorizer
    inputs (``type`` REQUEST/TOKEN with ``methodArn`` or ``routeArn``) and WebSocket API events (``eventType`` in
    the request context). Serving them as HTTP would run a route for a connection or an authorization check.
    """
    if native.__class__ is not dict and not isinstance(native, Mapping):
        return None
    ctx: Any = native.get("requestContext")
    ctx_is_map = ctx.__class__ is dict or ctx is not None and isinstance(ctx, Mapping)  # no ABC check for a dict
    if ctx_is_map and "elb" in ctx:
        return "alb-multi" if "multiValueHeaders" in native or "multiValueQueryStringParameters" in native else "alb"
    if native.get("version") == "2.0" and "rawPath" in native:
        if "routeArn" in native:
            raise not_http(native)
        domain = ctx.get("domainName", "") if ctx_is_map else ""
        return "function-url" if isinstance(domain, str) and ".lambda-url." in domain else "apigw-v2"
    if "httpMethod" in native and ctx_is_map:
        if "methodArn" in native or "eventType" in ctx:
            raise not_http(native)
        return "apigw-v1"
    return None


def not_http(native: Mapping[str, Any]) -> EventDecodeError:
    """The refusal of a Lambda input that looks like an HTTP request and is not one."""
    ctx = native.get("requestContext")
    event_type = ctx.get("eventType") if isinstance(ctx, Mapping) else None
    if event_type is not None:
        route = ctx.get("routeKey") if isinstance(ctx, Mapping) else None
        return EventDecodeError(f"an API Gateway WebSocket API event ({event_type} {route}) is not an HTTP request; "
                                "WebSocket APIs are not a portafunc trigger",
                                expected="an HTTP request from a REST or HTTP API, an ALB or a Function URL")
    return EventDecodeError(f"an API Gateway Lambda authorizer input (type {native.get('type')!r}) is not an HTTP "
                            "request; a portafunc function is not an authorizer",
                            expected="an HTTP request; protect routes with auth= on the route (JwtAuth) instead")


def refusal(native: Any) -> EventDecodeError | None:
    """For an event no decoder took: the refusal when it is an authorizer input or a WebSocket event that does not
    look like a request (TOKEN authorizers, WebSocket ``$disconnect`` and messages); else None."""
    if not isinstance(native, Mapping):
        return None
    ctx = native.get("requestContext")
    if native.get("type") in ("TOKEN", "REQUEST") and ("methodArn" in native or "routeArn" in native) \
            or isinstance(ctx, Mapping) and "eventType" in ctx and "connectionId" in ctx:
        return not_http(native)
    return None


# -- requests: native → neutral --------------------------------------------------------------------------------------

def decode_request(native: Any, variant: str | None = None) -> tuple[HttpRequest, str]:
    """The neutral request and the variant (``variant`` when the caller detected it already)."""
    variant = variant or detect(native)
    if variant is None:
        raise EventDecodeError("not an HTTP event", expected=EXPECTED)
    if variant == "apigw-v2" or variant == "function-url":
        req = _lazy_v2(native, variant)
        return (req if req is not None else _decode_v2_fields(native, variant)), variant
    req = _lazy_v1_alb(native, variant)
    return (req if req is not None else _decode_v1_alb(native, variant)), variant


def decode_complete(native: Any, variant: str | None = None) -> HttpRequest:
    """:func:`decode_request` with every field read now, so that a malformed header map is refused here rather than
    on first read: what ``Target.decode`` (``portafunc events decode``, the contract kit) gives."""
    req, _ = decode_request(native, variant)
    req.headers, req.query, req.path_params, req.client_ip, req.raw_query  # noqa: B018 - read to check
    return req


def matched_route(event: Any) -> str | None:
    """The route template API Gateway matched: ``routeKey`` ``"GET /orders/{id}"`` (HTTP API) or ``resource``
    (REST API); None for ``$default``, ALB and Function URL events. The core looks it up directly and falls back to
    its own matching when the template is not one of the app's routes (e.g. a ``/{proxy+}`` catch-all)."""
    if event.__class__ is not dict:
        return None
    key = event.get("routeKey")
    if key.__class__ is str:
        _, space, template = key.partition(" ")
        return template if space and template.startswith("/") else None
    resource = event.get("resource")
    return resource if resource.__class__ is str and resource.startswith("/") else None


def _decode_v2(native: Any, variant: str) -> HttpRequest:
    """An HTTP API (payload 2.0) or Function URL event → HttpRequest, or EventDecodeError saying what is wrong: a
    request built by :meth:`HttpRequest.lazy` when every field has the type Lambda sends, else read field by field."""
    req = _lazy_v2(native, variant)
    return req if req is not None else _decode_v2_fields(native, variant)


class _V2Fields(HttpFields):
    """The fields of an HTTP API / Function URL event :func:`_lazy_v2` has checked, read as :func:`_decode_v2_fields`
    reads them (``tests/aws/test_lazy_http.py`` compares the two). The header map is checked when first read (a
    name or value that is not text: converted or refused with the field-by-field decoder's EventDecodeError): a
    request whose headers nobody reads does not pay for walking them."""

    __slots__ = ("what",)

    def __init__(self, variant: str) -> None:
        self.what = f"{variant} event"

    def query(self, native: Any) -> dict[str, list[str]]:
        raw_query = native["rawQueryString"]
        return _query_map(raw_query) if raw_query else {}

    def raw_query(self, native: Any) -> str | None:
        raw_query: str = native["rawQueryString"]
        return raw_query

    def headers(self, native: Any) -> Headers:
        native_headers = native.get("headers")
        cookies = native.get("cookies")
        if native_headers.__class__ is dict and _all_text(native_headers):  # what Lambda sends
            if cookies:
                items = [item for item in native_headers.items() if item[0].lower() != "cookie"]
                items.append(("cookie", "; ".join(cookies)))  # checked sendable by _lazy_v2
            else:
                items = list(native_headers.items())
            return _text_headers(items)
        if native_headers is None:
            headers = Headers()
        elif _all_text(native_headers):
            headers = Headers(native_headers)
        else:
            headers = Headers(_str_map(native_headers, f"{self.what}.headers"))
        if cookies:
            items = headers._items
            if items:
                headers._items = [item for item in items if item[0].lower() != "cookie"]
            headers._items.append(("cookie", "; ".join(cookies)))  # checked sendable by _lazy_v2
        return headers

    def path_params(self, native: Any) -> dict[str, str]:
        params = native.get("pathParameters")
        return _path_params(params) if params else {}

    def client_ip(self, native: Any) -> str | None:
        client_ip: str | None = native["requestContext"]["http"].get("sourceIp")
        return client_ip

    def base_url(self, native: Any, req: HttpRequest) -> str | None:
        """``https://`` (or what API Gateway's ``X-Forwarded-Proto`` says) and ``requestContext.domainName`` (else
        the ``Host`` header), with the stage when ``rawPath`` starts with it: an HTTP API's named stage on its
        ``execute-api`` domain (the codec routes the path without it); a custom domain sends none."""
        ctx = native.get("requestContext")
        ctx = ctx if isinstance(ctx, Mapping) else {}
        return _aws_origin(ctx, req, "https") + _stage_prefix(native.get("rawPath"), ctx.get("stage"))

    def header_values(self, native: Any, names: tuple[str, ...]) -> list[str | None] | None:
        """Each name's value in the header map of text Lambda sends: the value of the first name equal to it in
        any case, as ``Headers.get`` finds it, and the cookies joined for ``cookie``, as :meth:`headers` reads
        them. None for a map holding anything else (:meth:`headers` converts or refuses it)."""
        return self.first_values(native, (), names)

    def first_values(self, native: Any, query: tuple[str, ...], headers: tuple[str, ...]) -> list[str | None] | None:
        """The first value of each query name, as ``_query_map`` of the raw query string gives it, for a query
        string without escapes (no ``%``, no ``+``; None for any other), then :meth:`header_values`: one call."""
        found: list[str | None]
        if query:
            raw_query: str = native["rawQueryString"]
            if "%" in raw_query or "+" in raw_query:
                return None
            firsts: dict[str, str] = {}
            if "&" not in raw_query:  # one pair (or none): no list to split it into
                if raw_query:
                    name, _, value = raw_query.partition("=")
                    firsts[name] = value
            else:
                for part in raw_query.split("&"):  # where _query_map splits it; the first value of each name
                    name, _, value = part.partition("=")
                    if part and name not in firsts:
                        firsts[name] = value
            found = list(map(firsts.get, query))
        else:
            found = []
        if not headers:
            return found
        native_headers = native.get("headers")
        if native_headers is None:
            native_headers = {}
        elif native_headers.__class__ is not dict:
            return None
        try:  # TypeError for a value that is not text; a tuple is joined faster than the dict's view (40 ns of 140)
            "".join(tuple(native_headers.values()))
        except TypeError:
            return None
        names = tuple(native_headers)
        keys = _HEADER_KEYS.get((names, headers), _UNKNOWN)
        if keys is _UNKNOWN:
            keys = _header_keys(names, headers)
        if keys is None:
            return None
        found += map(native_headers.get, keys)
        cookies = native.get("cookies")
        if cookies and "cookie" in headers:
            found[len(query) + headers.index("cookie")] = "; ".join(cookies)  # checked joinable by _lazy_v2
        return found

    def first_values_reader(self, query: tuple[str, ...], headers: tuple[str, ...]) -> Callable[[Any], Any]:
        """:meth:`first_values` of one query name and header names other than ``cookie``, the usual typed route, as
        one function built for them; any other names, and any event it does not read (a query string with escapes,
        a header map that is no dict), go to :meth:`first_values` itself."""
        general = super().first_values_reader(query, headers)
        if len(query) != 1 or not query[0] or "cookie" in headers:
            return general
        wanted = query[0]
        one = len(headers) == 1
        known: dict[tuple[Any, ...], tuple[str | None, ...] | None] = {}

        def read(native: Any) -> list[str | None] | None:
            raw_query: str = native["rawQueryString"]
            native_headers = native.get("headers")
            if "%" in raw_query or "+" in raw_query or native_headers.__class__ is not dict:
                return general(native)
            value: str | None = None
            if "&" not in raw_query:  # one pair (or none)
                name, _, first = raw_query.partition("=")
                if name == wanted:
                    value = first
            else:
                for part in raw_query.split("&"):  # the first pair of that name (no empty name is wanted)
                    name, _, first = part.partition("=")
                    if name == wanted:
                        value = first
                        break
            if not headers:
                return [value]
            try:
                "".join(tuple(native_headers.values()))  # TypeError for a value that is not text
            except TypeError:
                return None
            names = tuple(native_headers)
            keys = known.get(names, _UNKNOWN)  # _header_keys' answer, kept by this reader per set of names
            if keys is _UNKNOWN:
                keys = keep(known, names, _header_keys(names, headers), 256)
            if keys is None:
                return None
            if one:  # one header name: its value beside the query's, without a map over the keys
                return [value, native_headers.get(keys[0])]
            found = [value]
            found += map(native_headers.get, keys)
            return found

        return read


def _aws_origin(ctx: Mapping[str, Any], req: HttpRequest, scheme: str) -> str:
    """``scheme://host[:port]`` of an API Gateway, Function URL or ALB request: the request context's
    ``domainName`` (else the ``Host`` header), and the ``X-Forwarded-Proto`` / ``X-Forwarded-Port`` the AWS front
    end sets (it replaces a client's own), ``scheme`` without one."""
    headers = req.headers
    domain = ctx.get("domainName")
    host = domain if domain.__class__ is str and domain else headers.get("host")
    return origin(forwarded_scheme(headers.get("x-forwarded-proto")) or scheme, host,
                  headers.get("x-forwarded-port"), default_host="localhost")


def _stage_prefix(raw_path: Any, stage: Any) -> str:
    """``/<stage>`` when the codec takes it off ``raw_path`` (:func:`_without_stage`), else ``""``."""
    if stage.__class__ is not str or not stage or stage == "$default" or raw_path.__class__ is not str \
            or not raw_path.startswith(stage, 1):
        return ""
    if len(raw_path) == len(stage) + 1:
        return raw_path
    return raw_path[:len(stage) + 1] if raw_path[len(stage) + 1] == "/" else ""


def _header_keys(names: tuple[Any, ...], wanted: tuple[str, ...]) -> tuple[str | None, ...] | None:
    """For each of ``wanted``, the first of a header map's ``names`` equal to it in any case, as ``Headers.get``
    finds it (None: no such name); None when a name is not text (the request's headers convert or refuse it). Kept
    per set of names (a client sends the same names request after request), 256 sets at most: emptied when full."""
    keys: tuple[str | None, ...] | None = None
    if all(isinstance(name, str) for name in names):
        found: list[str | None] = []
        for want in wanted:
            low = want.lower()
            found.append(next((name for name in names if name == want or name.lower() == low), None))
        keys = tuple(found)
    return keep(_HEADER_KEYS, (names, wanted), keys, 256)


_HEADER_KEYS: dict[tuple[tuple[Any, ...], tuple[str, ...]], tuple[str | None, ...] | None] = {}
_UNKNOWN: Any = object()


def _text_headers(items: list[tuple[str, str]]) -> Headers:
    """``Headers(items)`` for pairs of text, without the constructor's walk over them (the caller checked them)."""
    headers: Headers = _new_object(Headers)
    headers._items = items
    headers._sendable = False
    return headers


_new_object = object.__new__
_V2 = {variant: _V2Fields(variant) for variant in ("apigw-v2", "function-url")}
_lazy = HttpRequest.lazy


def _lazy_v2(event: Any, variant: str) -> HttpRequest | None:
    """The request, its fields read on first access, when every field has the type Lambda sends: what
    :func:`api_v2_request` reads, for the variant :func:`detect` (or the caller) chose. None otherwise (then
    :func:`_decode_v2_fields` converts what it can and refuses the rest: for the events only
    :func:`api_v2_request` declines, the same request). Only the body can still be refused here, for the reasons the
    field-by-field reader refuses it."""
    found = api_v2_request(event) if event.__class__ is dict else None
    return found[0] if found is not None and found[2] == variant else None


def api_v2_request(event: Any) -> tuple[HttpRequest, str | None, str] | None:
    """An HTTP API (payload 2.0) or Function URL event as :func:`detect`, :func:`decode_request` and the Lambda
    handler read it (a lazy request; the template :func:`matched_route` gives, None for a Function URL; the
    variant), read in one pass for the usual event: fields of the types Lambda sends. None for any other event,
    which the general path then reads (and refuses when it must): ``tests/aws/test_api_v2_lane.py`` compares the two
    on every golden case and mutation. Plain ``get`` calls and class tests: on 3.11 they cost less than ``map`` or a
    set of shapes. The fields Lambda always sends are read by subscript (15 ns under ``get`` each): an event
    missing one is declined (the general path reads it)."""
    try:
        ctx = event["requestContext"]
        raw_path = event["rawPath"]
        if ctx.__class__ is not dict or raw_path.__class__ is not str \
                or event["rawQueryString"].__class__ is not str or event["version"] != "2.0" or "routeArn" in event \
                or "elb" in ctx:
            return None
        http = ctx["http"]
        if http.__class__ is not dict:
            return None
        domain = ctx["domainName"]
        method = http["method"]
        client_ip = http["sourceIp"]
        headers = event["headers"]
        stage = ctx["stage"]
    except KeyError:
        return None
    if domain.__class__ is not str and domain is not None or method.__class__ is not str \
            or client_ip.__class__ is not str and client_ip is not None \
            or headers.__class__ is not dict and headers is not None:
        return None
    cookies = event.get("cookies")
    if cookies is not None:
        if cookies.__class__ is not list:
            return None
        if cookies:
            try:
                joined = "; ".join(cookies)
            except TypeError:
                return None
            if "\r" in joined or "\n" in joined or "\x00" in joined:  # Headers.add would refuse it
                return None
    template: str | None = None
    if domain is not None and ".lambda-url." in domain:
        variant = "function-url"  # no platform router: the handler routes it by its path
    else:
        variant = "apigw-v2"
        route_key = event.get("routeKey")
        if route_key.__class__ is str:  # matched_route: "GET /orders/{id}" → "/orders/{id}", one lookup per route
            template = _ROUTE_TEMPLATES.get(route_key, _UNKNOWN)
            if template is _UNKNOWN:
                template = _route_template(route_key)
        elif "resource" in event:
            return None
    if stage.__class__ is str and stage != "$default" and raw_path.startswith(stage, 1):
        raw_path = _without_stage(raw_path, stage)
    if "%" in raw_path:  # rawPath is sent undecoded: kept as the request's raw_path
        path = unquote(raw_path)
        escaped: str | None = raw_path
    else:
        path = raw_path or "/"
        escaped = None
    raw_body = event.get("body")
    if raw_body is None or raw_body == "":
        # HttpRequest.lazy(method, path, event, fields) written out for the usual request, one frame less (40 ns;
        # slot by slot, not a tuple assignment, which costs that again): test_api_v2_lane compares the two
        req = _new_object(HttpRequest)
        req.method = method.upper()
        req.path = path
        req.native = event
        req._fields = _V2[variant]
        req._query = req._headers = req._path_params = req._client_ip = req._raw_query = _UNREAD
        req._body = b""
        req._text = req._cookies = req.principal = req._form = None
        req._raw_path = escaped
        return req, template, variant
    if raw_body.__class__ is not str:
        return None
    fields = _V2[variant]
    if event.get("isBase64Encoded"):  # refused as _lazy_v2 refuses it when it is no base64
        return _lazy(method, path, event, fields, _body(event, f"{variant} event"), None, escaped), template, variant
    if raw_body.isascii():  # kept as the text it is: no copy of a large body
        return _lazy(method, path, event, fields, b"", raw_body, escaped), template, variant
    return _lazy(method, path, event, fields, raw_body.encode("utf-8"), None, escaped), template, variant


def _route_template(route_key: str) -> str | None:
    """The template of an HTTP API ``routeKey``, as :func:`matched_route` reads it, kept for the next request with
    the same key (an API has one key per route; 1,024 kept at most, emptied when full)."""
    _, space, template = route_key.partition(" ")
    found = template if space and template.startswith("/") else None
    return keep(_ROUTE_TEMPLATES, route_key, found, 1024)


_ROUTE_TEMPLATES: dict[str, str | None] = {}


def _decode_v2_fields(native: Any, variant: str) -> HttpRequest:
    """An HTTP API (payload 2.0) or Function URL event → HttpRequest, or EventDecodeError saying what is wrong.

    One path for every event: each field is taken as is when it has the type Lambda sends (the common case costs a
    type check), and otherwise read by the defensive helpers of :mod:`.fields`, which convert what can be converted
    (a number where text is expected) and refuse the rest. ``tests/aws/codec_golden.json`` pins the result.
    """
    what = f"{variant} event"
    event = native if native.__class__ is dict else obj(native, what, EXPECTED)
    ctx = event.get("requestContext")
    if ctx.__class__ is not dict:
        ctx = opt_obj(ctx, f"{what}.requestContext", "an object")
    http = ctx.get("http")
    if http.__class__ is not dict:
        http = obj(http, f"{what}.requestContext.http", "an object with method, path and sourceIp")
    method = http.get("method")
    if method.__class__ is not str:
        method = text(http, "method", f"{what}.requestContext.http", "the HTTP method")
    raw_path = event.get("rawPath")
    if raw_path.__class__ is not str:
        raw_path = text(event, "rawPath", what, "rawPath")
    stage = ctx.get("stage")
    if stage.__class__ is str and stage != "$default" and raw_path.startswith(stage, 1):
        raw_path = _without_stage(raw_path, stage)
    raw_query = event.get("rawQueryString")
    if raw_query.__class__ is not str:
        raw_query = opt_text(event, "rawQueryString", what)
    if raw_query is None:
        query = {k: [v] for k, v in _str_map(event.get("queryStringParameters"), what).items()}
    else:
        query = _group(parse_qsl(raw_query, keep_blank_values=True)) if raw_query else {}
    native_headers = event.get("headers")
    shape = _header_shape(native_headers) if native_headers.__class__ is dict else _MIXED
    headers = Headers(native_headers if shape is not _MIXED else _str_map(native_headers, f"{what}.headers"))
    cookies = event.get("cookies")
    if cookies is not None:
        if cookies.__class__ is not list:
            raise EventDecodeError(f"{what}.cookies is not a list of strings", expected="cookies: [\"a=1\", ...]")
        for cookie in cookies:
            if cookie.__class__ is not str and not isinstance(cookie, str):
                raise EventDecodeError(f"{what}.cookies is not a list of strings",
                                       expected="cookies: [\"a=1\", ...]")
        if cookies:
            if shape is not _TEXT:  # a Cookie header beside the cookies list (or headers not checked above)
                headers.remove("cookie")
            headers.add("cookie", "; ".join(cookies))
    client_ip = http.get("sourceIp")
    if client_ip is not None and client_ip.__class__ is not str:
        client_ip = opt_text(http, "sourceIp", what)
    raw_body = event.get("body")
    ascii_body = None
    if raw_body is None or raw_body == "":
        body = b""
    elif raw_body.__class__ is str and not event.get("isBase64Encoded"):
        if raw_body.isascii():  # kept as the text it is: no copy of a large body (HttpRequest.keep_ascii_body)
            body, ascii_body = b"", raw_body
        else:
            body = raw_body.encode("utf-8")
    else:
        body = _body(event, what)
    escaped = raw_path if "%" in raw_path else None
    path = unquote(raw_path) if escaped else raw_path
    req = HttpRequest(method, path or "/", query, headers, body, None, None, client_ip, native, raw_query, escaped)
    req._fields = _V2[variant]  # every field is given: its base_url alone is read from the event
    if ascii_body is not None:
        req.keep_ascii_body(ascii_body)
    path_params = event.get("pathParameters")
    if path_params:
        req.path_params = _path_params(path_params)
    return req


def _path_params(params: Any) -> dict[str, str]:
    """``pathParameters`` as text (a copy: the request must not alias the native event); {} for what is no object."""
    if params.__class__ is dict and _all_text(params):
        return params.copy()
    return {str(k): str(v) for k, v in params.items()} if isinstance(params, Mapping) else {}


_TEXT, _TEXT_WITH_COOKIE, _MIXED = "text", "text with a Cookie header", "mixed"


def _header_shape(headers: dict[Any, Any]) -> str:
    """Whether every header name and value is text (and whether one is a Cookie header), in one pass."""
    shape = _TEXT
    for name, value in headers.items():
        if value.__class__ is not str or name.__class__ is not str:
            return _MIXED
        if len(name) == 6 and name.lower() == "cookie":
            shape = _TEXT_WITH_COOKIE
    return shape


def _all_text_lists(mapping: dict[Any, Any]) -> bool:
    for name, values in mapping.items():
        if values.__class__ is not list or name.__class__ is not str:
            return False
        for value in values:
            if value.__class__ is not str:
                return False
    return True


def _all_text(mapping: dict[Any, Any]) -> bool:
    # a loop: for the one or two path parameters every routed request reads it beats joining the map in C, and it
    # is about even with that for a header map
    for name, value in mapping.items():
        if value.__class__ is not str or name.__class__ is not str:
            return False
    return True


class _V1Fields(HttpFields):
    """The fields of a REST API (v1) event :func:`_lazy_v1_alb` has checked, read as :func:`_decode_v1_alb` reads
    them (``tests/aws/test_lazy_http.py`` compares the two); the header map is checked when first read, as for
    :class:`_V2Fields`."""

    __slots__ = ("what",)

    def __init__(self, variant: str) -> None:
        self.what = f"{variant} event"

    def query(self, native: Any) -> dict[str, list[str]]:
        multi = native.get("multiValueQueryStringParameters")
        if multi is not None:
            return {name: values.copy() for name, values in multi.items()}
        return {name: [value] for name, value in (native.get("queryStringParameters") or {}).items()}

    def headers(self, native: Any) -> Headers:
        multi = native.get("multiValueHeaders")
        if multi is not None:
            return Headers(multi if _all_text_lists(multi) else _list_map(multi, f"{self.what}.multiValueHeaders"))
        return Headers(_str_map(native.get("headers"), f"{self.what}.headers"))

    def path_params(self, native: Any) -> dict[str, str]:
        params = native.get("pathParameters")
        return _path_params(params) if params else {}

    def client_ip(self, native: Any) -> str | None:
        identity = (native.get("requestContext") or {}).get("identity")
        client_ip: str | None = None if identity is None else identity.get("sourceIp")
        return client_ip

    def base_url(self, native: Any, req: HttpRequest) -> str | None:
        """``https://`` (or API Gateway's ``X-Forwarded-Proto``) and ``requestContext.domainName`` (else ``Host``),
        with what the client's path (``requestContext.path``) has before the routed ``path``: the stage on the
        ``execute-api`` domain, a custom domain's base path mapping. Without ``requestContext.path``, the stage
        on an ``execute-api`` domain."""
        ctx = native.get("requestContext")
        ctx = ctx if isinstance(ctx, Mapping) else {}
        base = _aws_origin(ctx, req, "https")
        sent, routed = ctx.get("path"), native.get("path")
        if sent.__class__ is str and routed.__class__ is str and sent.startswith("/"):
            if routed == "/" and not sent.endswith("/"):
                return base + sent
            if sent.endswith(routed):
                return base + sent[:len(sent) - len(routed)].rstrip("/")
        stage = ctx.get("stage")
        if stage.__class__ is str and stage and stage != "$default" and ".execute-api." in base:
            return f"{base}/{stage}"
        return base


class _AlbFields(_V1Fields):
    """An ALB event's fields: the query as the client escaped it, decoded; the client IP from X-Forwarded-For."""

    __slots__ = ()

    def query(self, native: Any) -> dict[str, list[str]]:
        return {unquote_plus(k): [unquote_plus(v) for v in vs] for k, vs in super().query(native).items()}

    def client_ip(self, native: Any) -> str | None:
        return (self.headers(native).get("x-forwarded-for") or "").split(",")[-1].strip() or None

    def base_url(self, native: Any, req: HttpRequest) -> str | None:
        """The ``Host`` header, with the ``X-Forwarded-Proto`` and ``X-Forwarded-Port`` the load balancer sets
        (``http`` without them); no prefix: an ALB forwards the path as sent."""
        return _aws_origin({}, req, "http")


_V1, _ALB, _ALB_MULTI = _V1Fields("apigw-v1"), _AlbFields("alb"), _AlbFields("alb-multi")


def _text_lists(mapping: dict[Any, Any]) -> bool:
    """Whether ``mapping`` is ``{text: [text, ...]}``, in C loops: the lists concatenated (``[] + x`` refuses
    anything but a list), then every name and value joined (refusing anything but text)."""
    try:
        "".join(sum(mapping.values(), []))
        "".join(mapping)
    except TypeError:
        return False
    return True


def _texts(mapping: dict[Any, Any]) -> bool:
    """Whether ``mapping`` is ``{text: text}``, in C loops."""
    try:
        "".join(mapping)
        "".join(mapping.values())
    except TypeError:
        return False
    return True


def _lazy_v1_alb(event: Any, variant: str) -> HttpRequest | None:
    """The request, its fields read on first access, when every field has the type Lambda sends; None otherwise
    (then :func:`_decode_v1_alb` converts what it can and refuses the rest). Only the body can still be refused
    here, for the reasons the field-by-field reader refuses it."""
    if event.__class__ is not dict:
        return None
    ctx = event.get("requestContext")
    method = event.get("httpMethod")
    path = event.get("path")
    if ctx is not None and ctx.__class__ is not dict or method.__class__ is not str or path.__class__ is not str:
        return None
    multi = event.get("multiValueHeaders")
    if multi is not None:
        if multi.__class__ is not dict:
            return None
    else:
        headers = event.get("headers")
        if headers is not None and headers.__class__ is not dict:
            return None
    multi = event.get("multiValueQueryStringParameters")
    if multi is not None:
        if multi.__class__ is not dict or multi and not _text_lists(multi):
            return None
    else:
        query = event.get("queryStringParameters")
        if query is not None and (query.__class__ is not dict or query and not _texts(query)):
            return None
    if variant == "apigw-v1":
        identity = ctx.get("identity") if ctx else None
        if identity is not None:
            if identity.__class__ is not dict:
                return None
            client_ip = identity.get("sourceIp")
            if client_ip is not None and client_ip.__class__ is not str:
                return None
        fields: HttpFields = _V1
    else:
        fields = _ALB if variant == "alb" else _ALB_MULTI
    escaped = path if "%" in path else None
    path = (unquote(path) if escaped else path) or "/"
    raw_body = event.get("body")
    if raw_body is None or raw_body == "":
        return _lazy(method, path, event, fields, b"", None, escaped)
    if raw_body.__class__ is str and not event.get("isBase64Encoded") and raw_body.isascii():
        return _lazy(method, path, event, fields, b"", raw_body, escaped)  # no copy of a large body
    return _lazy(method, path, event, fields, _body(event, f"{variant} event"), None, escaped)


def rest_alb_request(event: Any, sns: bool = False) -> tuple[HttpRequest, str | None, str] | None:
    """A REST API (payload 1.0) or ALB event, single- or multi-value, as :func:`detect`, :func:`decode_request` and
    the Lambda handler read it (a lazy request; the template :func:`matched_route` gives, None for ALB; the
    variant), read in one pass for the usual event: fields of the types Lambda sends. None for any other event,
    which the general path then reads (and refuses when it must): ``tests/aws/test_rest_alb_lane.py`` compares the
    two on every golden case and mutation. The checks are :func:`_lazy_v1_alb`'s; the fields every REST API and
    ALB event carries (``requestContext``, ``httpMethod``, ``path``) are read by subscript. ``sns``: an SNS HTTP(S)
    delivery (an ``x-amz-sns-message-type`` header, spelled as SNS or API Gateway spells it, in either header map)
    is declined too, for the general path to offer it to the topic functions."""
    try:
        ctx = event["requestContext"]
        method = event["httpMethod"]
        path = event["path"]
    except KeyError:
        return None
    if ctx.__class__ is not dict or method.__class__ is not str or path.__class__ is not str or "rawPath" in event:
        return None
    multi = event.get("multiValueHeaders")
    if sns:
        headers = event.get("headers")
        if headers.__class__ is dict and (_SNS_TYPE in headers or _SNS_TYPE_V1 in headers) \
                or multi.__class__ is dict and (_SNS_TYPE in multi or _SNS_TYPE_V1 in multi):
            return None
    multi_query = event.get("multiValueQueryStringParameters")
    template: str | None = None
    fields: HttpFields
    if "elb" in ctx:
        if multi is not None or multi_query is not None or "multiValueHeaders" in event \
                or "multiValueQueryStringParameters" in event:
            variant, fields = "alb-multi", _ALB_MULTI
        else:
            variant, fields = "alb", _ALB
    else:
        if "methodArn" in event or "eventType" in ctx or "routeKey" in event:
            return None  # an authorizer input, a WebSocket event: refused by detect; a routeKey: matched_route's
        identity = ctx.get("identity")
        if identity is not None:
            if identity.__class__ is not dict:
                return None
            client_ip = identity.get("sourceIp")
            if client_ip is not None and client_ip.__class__ is not str:
                return None
        variant, fields = "apigw-v1", _V1
        resource = event.get("resource")
        if resource.__class__ is str and resource.startswith("/"):
            template = resource
    if multi is not None:
        if multi.__class__ is not dict:
            return None
    else:
        headers = event.get("headers")
        if headers is not None and headers.__class__ is not dict:
            return None
    if multi_query is not None:
        if multi_query.__class__ is not dict or multi_query and not _text_lists(multi_query):
            return None
    else:
        query = event.get("queryStringParameters")
        if query is not None and (query.__class__ is not dict or query and not _texts(query)):
            return None
    if "%" in path:  # the path is sent undecoded: kept as the request's raw_path
        escaped: str | None = path
        path = unquote(path) or "/"
    else:
        escaped = None
        path = path or "/"
    raw_body = event.get("body")
    if raw_body is None or raw_body == "":
        # HttpRequest.lazy(method, path, event, fields) written out, as api_v2_request does
        req = _new_object(HttpRequest)
        req.method = method.upper()
        req.path = path
        req.native = event
        req._fields = fields
        req._query = req._headers = req._path_params = req._client_ip = req._raw_query = _UNREAD
        req._body = b""
        req._text = req._cookies = req.principal = req._form = None
        req._raw_path = escaped
        return req, template, variant
    if raw_body.__class__ is str and not event.get("isBase64Encoded") and raw_body.isascii():
        return _lazy(method, path, event, fields, b"", raw_body, escaped), template, variant  # no copy of the body
    return _lazy(method, path, event, fields, _body(event, f"{variant} event"), None, escaped), template, variant


_SNS_TYPE, _SNS_TYPE_V1 = "x-amz-sns-message-type", "X-Amz-Sns-Message-Type"  # SNS's and API Gateway's spelling


def _decode_v1_alb(native: Any, variant: str) -> HttpRequest:
    """A REST API (v1) or ALB event → HttpRequest, or EventDecodeError saying what is wrong."""
    what = f"{variant} event"
    event = obj(native, what, EXPECTED)
    ctx = opt_obj(event.get("requestContext"), f"{what}.requestContext", "an object")
    # REST (v1) and ALB events carry no raw query string: REST hands over decoded parameters, ALB the client's
    # escapes split into name/value lists (order across names and the `a` / `a=` difference are gone), so
    # HttpRequest.raw_query stays None for them.
    raw_query = None
    method = text(event, "httpMethod", what, "httpMethod")
    raw_path = text(event, "path", what, "path")
    escaped = raw_path if "%" in raw_path else None
    path = unquote(raw_path) if escaped else raw_path
    multi = event.get("multiValueHeaders")
    if multi is not None:
        headers = Headers(multi if multi.__class__ is dict and _all_text_lists(multi)
                          else _list_map(multi, f"{what}.multiValueHeaders"))
    else:
        headers = Headers(_str_map(event.get("headers"), f"{what}.headers"))
    mq = event.get("multiValueQueryStringParameters")
    query = _list_map(mq, f"{what}.multiValueQueryStringParameters") if mq is not None else \
        {k: [v] for k, v in _str_map(event.get("queryStringParameters"), f"{what}.query").items()}
    if variant.startswith("alb"):  # ALB passes the query through exactly as the client encoded it
        query = {unquote_plus(k): [unquote_plus(v) for v in vs] for k, vs in query.items()}
        client_ip = (headers.get("x-forwarded-for") or "").split(",")[-1].strip() or None
    else:
        identity = opt_obj(ctx.get("identity"), f"{what}.requestContext.identity", "an object")
        client_ip = opt_text(identity, "sourceIp", what)
    raw_body = event.get("body")
    ascii_body = raw_body if raw_body.__class__ is str and raw_body and not event.get("isBase64Encoded") \
        and raw_body.isascii() else None
    body = b"" if ascii_body is not None else _body(event, what)
    req = HttpRequest(method=method, path=path or "/", query=query, headers=headers, body=body, client_ip=client_ip,
                      native=native, raw_query=raw_query, raw_path=escaped)
    req._fields = _V1 if variant == "apigw-v1" else _ALB  # every field is given: base_url alone is read from the event
    if ascii_body is not None:
        req.keep_ascii_body(ascii_body)  # no copy of a large body
    path_params = event.get("pathParameters")
    if path_params:
        req.path_params = _path_params(path_params)
    return req


def _without_stage(raw_path: str, stage: str) -> str:
    """An HTTP API on a named stage prefixes every path with ``/<stage>`` (requestContext.stage; ``$default`` adds
    nothing): the path the routes see has it removed, only when it is the whole first segment."""
    end = len(stage) + 1
    if len(raw_path) == end:
        return "/"
    return raw_path[end:] if raw_path[end] == "/" else raw_path


def _body(event: Mapping[str, Any], what: str) -> bytes:
    raw = event.get("body")
    if raw is None or raw == "":
        return b""
    if not isinstance(raw, str):
        raise EventDecodeError(f"{what}.body is {type(raw).__name__}, not a string", expected="body as a string")
    if event.get("isBase64Encoded"):
        return b64decode(raw, f"{what}.body")
    return raw.encode("utf-8")


def _str_map(value: Any, what: str) -> dict[str, str]:
    """``{name: text}`` as sent (the same dict when every name and value is text: callers copy what they keep)."""
    if value is None:
        return {}
    if value.__class__ is dict and _all_text(value):
        return value
    if not isinstance(value, Mapping):
        raise EventDecodeError(f"{what} is {type(value).__name__}, not an object", expected="{name: value}")
    out = {}
    for k, v in value.items():
        if not isinstance(v, str):
            raise EventDecodeError(f"{what}[{k!r}] is {type(v).__name__}, not a string", expected="{name: value}")
        out[str(k)] = v
    return out


def _list_map(value: Any, what: str) -> dict[str, list[str]]:
    """``{name: [text, ...]}`` as sent, each list copied (the request's query must not alias the native event)."""
    if value is None:
        return {}
    if value.__class__ is dict:
        out_: dict[str, list[str]] = {}
        for k, vs in value.items():
            if vs.__class__ is not list or k.__class__ is not str:
                break
            for v in vs:
                if v.__class__ is not str:
                    break
            else:
                out_[k] = vs.copy()
                continue
            break
        else:
            return out_
    if not isinstance(value, Mapping):
        raise EventDecodeError(f"{what} is {type(value).__name__}, not an object", expected="{name: [values]}")
    out: dict[str, list[str]] = {}
    for k, vs in value.items():
        if not isinstance(vs, list) or not all(isinstance(v, str) for v in vs):
            raise EventDecodeError(f"{what}[{k!r}] is not a list of strings", expected="{name: [values]}")
        out[str(k)] = list(vs)
    return out


def _query_map(raw_query: str) -> dict[str, list[str]]:
    """``_group(parse_qsl(raw_query, keep_blank_values=True))``: a query string with no escapes (no ``%``, no ``+``)
    is split where ``parse_qsl`` splits it, which is all it does to such text; any other goes to ``parse_qsl``."""
    if "%" in raw_query or "+" in raw_query:
        return _group(parse_qsl(raw_query, keep_blank_values=True))
    out: dict[str, list[str]] = {}
    for part in raw_query.split("&"):
        if part:
            name, _, value = part.partition("=")
            values = out.get(name)
            if values is None:
                out[name] = [value]
            else:
                values.append(value)
    return out


def _group(pairs: list[tuple[str, str]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for k, v in pairs:
        out.setdefault(k, []).append(v)
    return out


# -- requests: neutral → native --------------------------------------------------------------------------------------

def _is_textual(content_type: str | None) -> bool:
    ctype = (content_type or "").lower()
    return not ctype or any(t in ctype for t in _TEXT_TYPES)


def _native_body(body: bytes, content_type: str | None, *, always_text_if_utf8: bool) -> tuple[str | None, bool]:
    if not body:
        return None, False
    if always_text_if_utf8 or _is_textual(content_type):
        try:
            return body.decode("utf-8"), False
        except UnicodeDecodeError:
            pass
    return b64encode(body), True


def _request_headers(req: HttpRequest) -> Headers:
    headers = Headers(req.headers)
    if req.cookies and "cookie" not in headers:
        headers.add("cookie", "; ".join(f"{k}={v}" for k, v in req.cookies.items()))
    return headers


def encode_request(req: HttpRequest, variant: str | None = None, *, request_id: str | None = None,
                   route: str | None = None) -> dict[str, Any]:
    """A realistic native request event for ``variant`` (default ``apigw-v2``, the HTTP API SAM deploys).

    ``route``: the template of the route API Gateway matched (``/files/{name}``), for the HTTP API's ``routeKey``
    and the REST API's ``resource``, with ``req.path_params`` as ``pathParameters`` (decoded, as API Gateway sends
    them); None: the ``$default`` route (HTTP API) or ``/{proxy+}`` (REST API)."""
    variant = variant or "apigw-v2"
    if variant not in VARIANTS:
        raise EventDecodeError(f"unknown aws http variant {variant!r}", expected=", ".join(VARIANTS))
    request_id = request_id or new_id()
    now_ms = int(time.time() * 1000)
    headers = _request_headers(req)
    raw_path = req._raw_path or quote_path(req.path)  # the path as sent, else the path as a URL spells it
    if variant in ("apigw-v2", "function-url"):
        return _encode_v2(req, variant, headers, raw_path, request_id, now_ms, route)
    multi_headers: dict[str, list[str]] = {}
    for name, value in headers.items():
        multi_headers.setdefault(name, []).append(value)
    body, is_b64 = _native_body(req.body, headers.get("content-type"), always_text_if_utf8=variant == "apigw-v1")
    if variant == "apigw-v1":
        source_ip = req.client_ip or "203.0.113.10"
        domain = _api_domain(headers)
        return {
            "resource": route or "/{proxy+}",
            "path": raw_path,
            "httpMethod": req.method,
            "headers": {k: v[-1] for k, v in multi_headers.items()},
            "multiValueHeaders": multi_headers,
            "queryStringParameters": {k: v[-1] for k, v in req.query.items() if v} or None,
            "multiValueQueryStringParameters": {k: list(v) for k, v in req.query.items() if v} or None,
            "pathParameters": (dict(req.path_params) or None) if route else
            {"proxy": raw_path.lstrip("/")} if raw_path.strip("/") else None,
            "stageVariables": None,
            "requestContext": {
                "accountId": "123456789012", "apiId": "a1b2c3d4e5", "resourceId": "abc123",
                "resourcePath": route or "/{proxy+}", "httpMethod": req.method, "stage": "prod",
                "path": ("/prod" + raw_path) if domain == _EXECUTE_API else raw_path,  # a custom domain: no stage
                "protocol": "HTTP/1.1", "requestId": request_id, "extendedRequestId": request_id,
                "requestTimeEpoch": now_ms, "domainName": domain,
                "identity": {"sourceIp": source_ip, "userAgent": headers.get("user-agent"), "accountId": None,
                             "caller": None, "user": None, "userArn": None},
            },
            "body": body,
            "isBase64Encoded": is_b64,
        }
    event: dict[str, Any] = {
        "requestContext": {"elb": {"targetGroupArn": "arn:aws:elasticloadbalancing:us-east-1:123456789012:"
                                                     "targetgroup/portafunc/0123456789abcdef"}},
        "httpMethod": req.method,
        "path": raw_path,
    }
    query = {quote(k, safe=""): [quote(v, safe="") for v in vs] for k, vs in req.query.items() if vs}
    if variant == "alb-multi":
        event["multiValueQueryStringParameters"] = query
        event["multiValueHeaders"] = {k.lower(): v for k, v in _lower_multi(headers).items()}
    else:
        event["queryStringParameters"] = {k: v[-1] for k, v in query.items()}
        event["headers"] = {k: v[-1] for k, v in _lower_multi(headers).items()}
    event["body"] = body or ""
    event["isBase64Encoded"] = is_b64
    return event


_EXECUTE_API = "a1b2c3d4e5.execute-api.us-east-1.amazonaws.com"


def _api_domain(headers: Headers) -> str:
    """``requestContext.domainName`` of an API Gateway event for a request: the host it names (a custom domain, as
    API Gateway writes the domain the client called), else the API's default ``execute-api`` domain."""
    host = (headers.get("host") or "").rpartition(":")[0] or headers.get("host") or ""
    return host if host and "/" not in host and " " not in host else _EXECUTE_API


def _lower_multi(headers: Headers) -> dict[str, list[str]]:
    return headers.to_multi()


def _encode_v2(req: HttpRequest, variant: str, headers: Headers, raw_path: str, request_id: str,
               now_ms: int, route: str | None = None) -> dict[str, Any]:
    cookies: list[str] = []
    joined: dict[str, str] = {}
    for name, values in headers.to_multi().items():
        if name == "cookie":
            for value in values:
                cookies.extend(p.strip() for p in value.split(";") if p.strip())
            continue
        joined[name] = ",".join(values)
    pairs = [(k, v) for k, vs in req.query.items() for v in vs]
    domain = "abcdefghij.lambda-url.us-east-1.on.aws" if variant == "function-url" else \
        _api_domain(headers)
    body, is_b64 = _native_body(req.body, headers.get("content-type"), always_text_if_utf8=False)
    route_key = f"{req.method} {route}" if route and variant == "apigw-v2" else "$default"  # a Function URL: none
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": raw_path,
        "rawQueryString": urlencode(pairs, quote_via=quote),
    }
    if cookies:
        event["cookies"] = cookies
    event["headers"] = joined
    if req.query:
        event["queryStringParameters"] = {k: ",".join(vs) for k, vs in req.query.items() if vs}
    event["requestContext"] = {
        "accountId": "anonymous" if variant == "function-url" else "123456789012",
        "apiId": domain.split(".")[0], "domainName": domain, "domainPrefix": domain.split(".")[0],
        "http": {"method": req.method, "path": raw_path, "protocol": "HTTP/1.1",
                 "sourceIp": req.client_ip or "203.0.113.10", "userAgent": headers.get("user-agent") or ""},
        "requestId": request_id, "routeKey": route_key, "stage": "$default",
        "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now_ms / 1000)), "timeEpoch": now_ms,
    }
    if body is not None:
        event["body"] = body
    if route_key != "$default" and req.path_params:
        event["pathParameters"] = dict(req.path_params)
    event["isBase64Encoded"] = is_b64
    return event


# -- responses (the Lambda answer → neutral, for drivers; neutral → Lambda is ..outcome) -------------------------------------------------------------------------------------------------------

def decode_response(native: Any) -> HttpResponse:
    """A Lambda proxy response (any variant) back to neutral: headers, multiValueHeaders and cookies merged."""
    what = "Lambda HTTP response"
    resp = obj(native, what, '{"statusCode": ..., "headers": ..., "body": ...}')
    status = resp.get("statusCode")
    if not isinstance(status, int) or isinstance(status, bool):
        raise EventDecodeError(f"{what} has no integer statusCode", expected="statusCode as an integer")
    headers = Headers()
    multi = _list_map(resp.get("multiValueHeaders"), f"{what}.multiValueHeaders")
    for name, value in _str_map(resp.get("headers"), f"{what}.headers").items():
        if name not in multi:
            headers.add(name, value)
    for name, values in multi.items():
        for value in values:
            headers.add(name, value)
    for cookie in resp.get("cookies") or []:
        headers.add("set-cookie", str(cookie))
    return HttpResponse(status=status, headers=headers, body=_body(resp, what))
