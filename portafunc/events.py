"""The provider-neutral event model.

Adapters turn every native event into one of these types and back. Each type has a public JSON form (``to_dict`` /
``from_dict``, documented in docs/events.md and printed by ``portafunc events decode``) and maps onto a CloudEvents 1.0
envelope (``to_cloudevent``). ``native`` keeps the raw native event and context as an escape hatch; it is never part
of equality or of the JSON form.
"""

from __future__ import annotations

import base64
import json as _json
import sys
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from types import GenericAlias

from .caches import keep_member
from .errors import BadRequest, EventDecodeError, InvalidHeader, InvalidStatus

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing is not imported at run time: it costs a few ms of every cold start
    from typing import Any, BinaryIO, Callable, Iterable, Iterator, TypeAlias, overload

    from .data.bucket import Bucket
    from .forms import FormData

    HeaderInput: TypeAlias = "Headers | Mapping[str, str | Iterable[str]] | Iterable[tuple[str, str]] | None"


_TOKEN_CHARS = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


_token_names: set[str] = set()  # names already found to be tokens (a handler sets the same few again and again)


def check_header(name: str, value: str) -> None:
    """Refuse a header that would split the response: a name that is not an RFC 9110 token, or a value holding
    CR, LF or NUL. Raises :class:`~portafunc.errors.InvalidHeader` (a ``ValueError``); the message names the
    header, never its value."""
    if name.__class__ is not str or not name or name.strip(_TOKEN_CHARS):
        raise InvalidHeader(f"header name {name!r:.40} is not an HTTP token")
    if value.__class__ is not str:
        raise InvalidHeader(f"header {name} value is a {type(value).__name__}, not a string")
    if "\r" in value or "\n" in value or "\x00" in value:
        raise InvalidHeader(f"header {name} value contains CR, LF or NUL (it would split the response)")
    keep_member(_token_names, name, 512)


def check_headers(items: Iterable[tuple[str, str]]) -> None:
    for name, value in items:
        # The usual header costs a set lookup and one C pass over the value; the rest is checked exactly.
        if name.__class__ is not str or name not in _token_names or value.__class__ is not str \
                or not value.isprintable():
            check_header(name, value)


def _text_multi(pairs: list[tuple[Any, Any]]) -> list[tuple[str, str]] | None:
    """``[(name, value or [values])]`` flattened when every name and value is text; None otherwise."""
    out: list[tuple[str, str]] = []
    append = out.append
    for name, value in pairs:
        if name.__class__ is not str:
            return None
        if value.__class__ is str:
            append((name, value))
        elif value.__class__ is list:
            for v in value:
                if v.__class__ is not str:
                    return None
                append((name, v))
        else:
            return None
    return out


class Headers:
    """Case-insensitive, multi-valued, order-preserving HTTP header collection.

    ``headers["x-a"]`` gives the first value (like most frameworks); ``get_all`` gives every value, so repeated
    headers such as several ``Set-Cookie`` survive every codec.

    The constructor takes what it is given (adapters build request headers from what the platform delivered);
    ``add``/``set`` refuse a name or value that would split a response, :class:`HttpResponse` checks every header
    it is built with, and the pipeline checks a ``Headers`` a handler assigned to ``resp.headers`` itself, so a
    handler can never emit one.
    """

    __slots__ = ("_items", "_sendable")

    def __init__(self, items: HeaderInput = None) -> None:
        self._items: list[tuple[str, str]] = []
        self._sendable = False  # every item checked (HttpResponse sets it); the pipeline checks the rest
        if items is None:
            return
        if isinstance(items, Headers):
            self._items = list(items._items)
            return
        if type(items) is dict:  # the usual input: {str: str}, taken as is when every name and value is text
            pairs_ = list(items.items())
            for name, value in pairs_:
                if name.__class__ is not str or value.__class__ is not str:
                    break
            else:
                self._items = pairs_
                return
            multi = _text_multi(pairs_)  # {str: [str, ...]} (multi-value headers) without a conversion per value
            if multi is not None:
                self._items = multi
                return
        pairs = items.items() if isinstance(items, Mapping) else items
        for name, value in pairs:
            if isinstance(value, (list, tuple)):
                for v in value:
                    self._items.append((str(name), str(v)))
            else:
                self._items.append((str(name), str(value)))

    def __getitem__(self, name: str) -> str:
        lname = name.lower()
        for k, v in self._items:
            if k.lower() == lname:
                return v
        raise KeyError(name)

    if TYPE_CHECKING:  # typing is not imported at run time (cold start): the overloads are for type checkers
        @overload
        def get(self, name: str) -> str | None: ...
        @overload
        def get(self, name: str, default: str) -> str: ...
        @overload
        def get(self, name: str, default: str | None) -> str | None: ...

    def get(self, name: str, default: str | None = None) -> str | None:
        """The first value of ``name`` (any case), else ``default``: a ``str`` when the default is one."""
        lname = name.lower()
        for k, v in self._items:  # the loop of __getitem__, without its KeyError for a missing name
            if k == name or k.lower() == lname:
                return v
        return default

    def get_all(self, name: str) -> list[str]:
        lname = name.lower()
        return [v for k, v in self._items if k.lower() == lname]

    def add(self, name: str, value: str) -> None:
        if name.__class__ is not str or name not in _token_names or value.__class__ is not str \
                or not value.isprintable():
            check_header(name, value)
        self._items.append((name, value))

    def set(self, name: str, value: str) -> None:
        """Replace every value of ``name`` by one value."""
        check_header(name, value)
        self.remove(name)
        self._items.append((name, value))

    def remove(self, name: str) -> None:
        lname = name.lower()
        self._items = [(k, v) for k, v in self._items if k.lower() != lname]

    def __setitem__(self, name: str, value: str) -> None:
        self.set(name, value)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and any(k.lower() == name.lower() for k, _ in self._items)

    def __iter__(self) -> Iterator[str]:
        seen: set[str] = set()
        for k, _ in self._items:
            if k.lower() not in seen:
                seen.add(k.lower())
                yield k

    def __len__(self) -> int:
        return len(self._items)

    def items(self) -> list[tuple[str, str]]:
        """Every (name, value) pair in order, repeated names included."""
        return list(self._items)

    def to_multi(self) -> dict[str, list[str]]:
        """``{lower-case name: [values]}`` — the public JSON form."""
        out: dict[str, list[str]] = {}
        for k, v in self._items:
            out.setdefault(k.lower(), []).append(v)
        return out

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Headers):
            return self.to_multi() == other.to_multi()
        return NotImplemented

    def __repr__(self) -> str:
        return f"Headers({self._items!r})"


_scan_once = _json.JSONDecoder().scan_once  # type: ignore[attr-defined]  # not in typeshed; the C scanner json.loads ends in, without its two regex passes
_JSON_OPENERS = (b"{", b"[")
_TEXT_OPENERS = ("{", "[")


def _loads_payload(data: bytes) -> Any:
    """``json.loads(data)`` for a payload, about twice as fast for the common case of a UTF-8 object or array.

    Same result and same errors as ``json.loads``: a payload that starts with ``{``/``[`` and has no NUL second byte
    is what ``json.detect_encoding`` calls UTF-8, and a document that the scanner does not consume exactly (leading
    or trailing whitespace, extra data, an error) is handed to ``json.loads`` itself.
    """
    if type(data) is bytes and data[:1] in _JSON_OPENERS and data[1:2] != b"\x00":
        text = data.decode("utf-8", "surrogatepass")
        try:
            value, end = _scan_once(text, 0)
        except (StopIteration, ValueError):
            return _json.loads(text)
        if end == len(text):
            return value
        return _json.loads(text)
    return _json.loads(data)


class NonFiniteNumber(ValueError):
    """``NaN``, ``Infinity``, ``-Infinity`` or a number too large for a float (``1e999``) in a JSON document:
    Python's json accepts them (as NaN or infinity), JSON (RFC 8259) has no such numbers, and echoing one back would
    produce a document no other parser reads."""


def _refuse_constant(name: str) -> Any:
    raise NonFiniteNumber(f"{name} is not a JSON number")


_INFINITY = float("inf")


def _finite_float(text: str) -> float:
    value = float(text)
    if value == _INFINITY or value == -_INFINITY:
        raise NonFiniteNumber(f"{text[:40]} is too large for a number")
    return value


_strict_decoder = _json.JSONDecoder(parse_constant=_refuse_constant, parse_float=_finite_float)
# The C scanner calls parse_constant only when it meets NaN/Infinity, and parse_float only for numbers with a
# fraction or an exponent (one Python call each); integers, strings and structure keep its fast path.
_strict_scan = _strict_decoder.scan_once  # type: ignore[attr-defined]

_FLOATS_KEPT = 1024
_FLOAT_MISSES_ALLOWED = 10_000
_float_misses = 0


class _FiniteFloats(dict):  # type: ignore[type-arg]
    """The ``parse_float`` of request bodies (its ``__getitem__``): :func:`_finite_float` remembered per text.

    A body of records repeats the same few numbers (prices, quantities, 0.0 and 1.0): a number seen before costs the
    C dict lookup instead of a Python call, which is most of the cost that refusing non-finite numbers adds to
    ``json.loads`` (12 % of a 6 MB body of records). At most ``_FLOATS_KEPT`` texts are kept; once
    ``_FLOAT_MISSES_ALLOWED`` numbers were not found in the full table (numbers that rarely repeat, such as
    coordinates, where the lookup only adds to the call) the process parses with :func:`_finite_float` directly."""

    __slots__ = ()

    def __missing__(self, text: str) -> float:
        value = _finite_float(text)  # NonFiniteNumber for what overflows: never kept
        if len(self) < _FLOATS_KEPT:
            self[text] = value
        else:
            global _float_misses
            _float_misses += 1
        return value


_remembering_decoder = _json.JSONDecoder(parse_constant=_refuse_constant, parse_float=_FiniteFloats().__getitem__)
_remembering_scan = _remembering_decoder.scan_once  # type: ignore[attr-defined]


def _loads_request(data: bytes | str) -> Any:
    """``json.loads(data)`` refusing non-finite numbers (:class:`NonFiniteNumber`), with :func:`_loads_payload`'s
    fast path."""
    if _float_misses < _FLOAT_MISSES_ALLOWED:
        decoder, scan = _remembering_decoder, _remembering_scan
    else:
        decoder, scan = _strict_decoder, _strict_scan
    if type(data) is bytes and data[:1] in _JSON_OPENERS and data[1:2] != b"\x00":
        text = data.decode("utf-8", "surrogatepass")
    else:
        text = data.decode(_json.detect_encoding(data), "surrogatepass") if isinstance(data, bytes) else data
        if text.startswith("\ufeff"):
            raise ValueError("Unexpected UTF-8 BOM (decode using utf-8-sig)")
        if text[:1] not in _TEXT_OPENERS:
            return decoder.decode(text)
    try:  # the C scanner directly: json.loads' two whitespace regex passes only for a document it does not end
        value, end = scan(text, 0)
    except StopIteration:
        value, end = None, -1
    if end == len(text):
        return value
    return decoder.decode(text)


_find = bytes.find  # not ``in``: bytes.__contains__ first tries the needle as an int, and pays for the TypeError


def may_hold_non_finite(body: bytes) -> bool:
    """Whether ``body`` contains the words NaN or Infinity: two substring scans, so the usual body costs ~0.1 µs."""
    return _find(body, b"NaN") != -1 or _find(body, b"Infinity") != -1


def refuse_non_finite(body: bytes) -> None:
    """Raise :class:`BadRequest` when the JSON ``body`` holds NaN/Infinity. For bodies a validator parses on its
    own (pydantic accepts them as floats); a body that is not JSON at all is left to that validator to report."""
    if may_hold_non_finite(body):
        try:
            _loads_request(body)
        except NonFiniteNumber as exc:
            raise BadRequest(f"request body is not valid JSON: {exc}") from None
        except (ValueError, RecursionError):
            pass


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str | None, what: str) -> bytes:
    if not text:
        return b""
    try:
        return base64.b64decode(text, validate=True)
    except (ValueError, TypeError) as exc:
        raise EventDecodeError(f"{what} is not valid base64", expected="base64 text") from exc


def format_time(value: datetime | None) -> str | None:
    """RFC 3339 in UTC with a ``Z``, the form every cloud accepts."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    text = value.astimezone(timezone.utc).isoformat()
    return text.replace("+00:00", "Z")


def parse_time(value: Any) -> datetime | None:
    """Parse RFC 3339 (with ``Z`` or offset, any fraction length) or epoch milliseconds into an aware datetime."""
    if value.__class__ is str:
        if _READS_Z:
            if value.endswith("Z") and value[10:11] == "T":
                # What SNS, S3 and Pub/Sub send (UTC, a "Z"), read at once: from 3.11 on fromisoformat reads any
                # fraction length and the "Z" itself, and every such text it reads, the general path (which pads the
                # fraction to six digits and writes the "Z" as +00:00) reads to the same datetime. The "T" after a
                # ten-character date: fromisoformat takes any separator there, the general path no ".".
                try:
                    return _fromisoformat(value)
                except ValueError:
                    pass  # said as the general path says it
        elif len(value) == 24 and value[19] == "." and value[23] == "Z" and value.isascii() \
                and value[20:23].isdigit():
            try:  # 3.10: the millisecond form only, its "Z" written as an offset
                return _fromisoformat(value[:23] + "+00:00")
            except ValueError:
                pass
    elif value.__class__ is datetime and value.tzinfo is not None:  # what the Azure worker hands over: as is
        return value
    return _parse_time_general(value)


def _parse_time_general(value: Any) -> datetime | None:
    """:func:`parse_time` for every form, field by field."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return _from_epoch_ms(value, value)
    if not isinstance(value, str):
        raise EventDecodeError(f"time of type {type(value).__name__} is not a string",
                               expected="an RFC 3339 timestamp")
    text = value.strip()
    if text.isdecimal():  # not isdigit: int() refuses digits such as superscripts
        if len(text) > 17:  # beyond any datetime; also keeps int() away from its digit limit
            raise EventDecodeError(f"time {value!r:.40} is out of range", expected="epoch milliseconds")
        return _from_epoch_ms(int(text), value)
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    # Python 3.10's fromisoformat accepts only 3 or 6 fraction digits; clouds send 0-9.
    if "." in text:
        head, _, rest = text.partition(".")
        digits = ""
        for ch in rest:
            if ch.isdigit():
                digits += ch
            else:
                break
        tail = rest[len(digits):]
        text = f"{head}.{(digits + '000000')[:6]}{tail}"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError as exc:
        raise EventDecodeError(f"time {value!r} is not RFC 3339", expected="an RFC 3339 timestamp") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_fromisoformat = datetime.fromisoformat
_READS_Z = sys.version_info >= (3, 11)  # fromisoformat reads a "Z" offset (as timezone.utc): no string to build


def _from_epoch_ms(ms: float, original: object) -> datetime:
    try:  # timedelta, not fromtimestamp(ms / 1000): integer milliseconds stay exact
        return _EPOCH + timedelta(milliseconds=ms)
    except (OverflowError, ValueError, OSError) as exc:
        raise EventDecodeError(f"time {original!r} is out of range", expected="epoch milliseconds") from exc


def parse_cookies(header_values: Iterable[str]) -> dict[str, str]:
    """Parse ``Cookie`` request header values (``a=1; b=2``) into a dict; later names win. A double-quoted value
    is unquoted as :meth:`HttpResponse.set_cookie` quotes it (and as werkzeug reads it on GCP)."""
    cookies: dict[str, str] = {}
    for header in header_values:
        for part in header.split(";"):
            name, sep, value = part.strip().partition("=")
            if sep and name:
                if len(value) > 1 and value[0] == '"' and value[-1] == '"':
                    from ._cookies import unquote

                    value = unquote(value)
                cookies[name] = value
    return cookies


def encode_payload(data: Any) -> tuple[bytes, str]:
    """Turn what a user hands to publish/respond into bytes plus a content type.

    bytes stay bytes, str is UTF-8 text, pydantic models and JSON-able values become JSON.
    """
    if data.__class__ is dict or data.__class__ is list:  # the usual handler result: straight to JSON
        return _json_bytes(data), "application/json"
    if isinstance(data, (bytes, bytearray, memoryview)):
        return bytes(data), "application/octet-stream"
    if isinstance(data, str):
        # A lone surrogate (from a malformed native event echoed back) cannot be UTF-8: replace it, do not crash.
        return data.encode("utf-8", "replace"), "text/plain; charset=utf-8"
    dump = getattr(data, "model_dump_json", None)
    if dump is not None:
        return dump().encode("utf-8"), "application/json"
    return _json_bytes(data), "application/json"


def _json_bytes(data: Any) -> bytes:
    """Compact JSON (``json.dumps(data, separators=(",", ":"), ensure_ascii=False, allow_nan=False)``) as UTF-8.
    NaN and Infinity raise ``ValueError``: they are not JSON, and a response or message carrying one could not be
    read by any other parser (in a handler, that is a 500, like any other handler error)."""
    if _c_encode is not None:
        try:
            text = "".join(_c_encode(data, 0))
        except RecursionError:  # a cycle: let the checking encoder say so (ValueError), as json.dumps does
            text = _checked_encoder().encode(data)
    else:
        text = _checked_encoder().encode(data)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates: \u escapes keep the JSON valid and lossless
        return _json.dumps(data, separators=(",", ":"), default=_json_default, allow_nan=False).encode("ascii")


def json_text(data: Any) -> str:
    """``_json_bytes(data).decode("utf-8")`` without the bytes: the compact JSON text of a response body for a front
    door that carries text (the same text, the same errors)."""
    if _c_encode is not None:
        try:
            text = "".join(_c_encode(data, 0))
        except RecursionError:
            text = _checked_encoder().encode(data)
    else:
        text = _checked_encoder().encode(data)
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:  # lone surrogates: as _json_bytes writes them
            return _json.dumps(data, separators=(",", ":"), default=_json_default, allow_nan=False)
    return text


_encoder: Any = None


def _checked_encoder() -> Any:
    global _encoder
    if _encoder is None:
        _encoder = _json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, default=_json_default,
                                     allow_nan=False)
    return _encoder


def _make_c_encoder() -> Any:
    """The C encoder ``json.dumps`` builds on every call, built once. Without the circular-reference check (its
    shared state would not be thread-safe): a cycle surfaces as RecursionError and is re-encoded by the checking
    encoder. None where the C accelerator is missing."""
    from json.encoder import c_make_encoder, encode_basestring  # type: ignore[attr-defined]  # not in typeshed

    if c_make_encoder is None:
        return None
    return c_make_encoder(None, _json_default, encode_basestring, None, ":", ",", False, False, False)


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return format_time(value)
    dump = getattr(value, "model_dump", None)
    if dump is not None:
        return dump(mode="json")
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


_c_encode = _make_c_encoder()
_new_object = object.__new__


class HttpFields:
    """How a request built by :meth:`HttpRequest.lazy` reads the fields it was not given from its native event: one
    method per field, each called at most once per request, on first access. A codec subclasses it for a native shape it has already
    checked, so none of these methods fails for an event it accepted (a malformed event is refused, or decoded
    eagerly, before a request is built). The defaults are an empty request's."""

    __slots__ = ()

    def query(self, native: Any) -> dict[str, list[str]]:
        return {}

    def headers(self, native: Any) -> Headers:
        return Headers()

    def path_params(self, native: Any) -> dict[str, str]:
        return {}

    def client_ip(self, native: Any) -> str | None:
        return None

    def raw_query(self, native: Any) -> str | None:
        return None

    def header_values(self, native: Any, names: tuple[str, ...]) -> list[str | None] | None:
        """What ``headers(native).get(name)`` gives for each of ``names`` (lower case), read without building the
        headers; None when the codec cannot read this event's headers so (the caller then reads
        :attr:`HttpRequest.headers`)."""
        return None

    def first_values(self, native: Any, query: tuple[str, ...], headers: tuple[str, ...]) -> list[str | None] | None:
        """The first value of each of ``query`` in ``query(native)``, then :meth:`header_values` of ``headers``, in
        one list (None for a name without one), read in one call; None when the codec cannot read this event's
        fields so (the caller then reads the request's)."""
        return None

    def base_url(self, native: Any, req: HttpRequest) -> str | None:
        """``scheme://host[:port]`` plus any prefix the front door took off the path before routing (an API Gateway
        stage, a route prefix), as :attr:`HttpRequest.base_url` gives it; None: read from the request's ``Host``
        header (see there). Called on every read of the property: nothing is kept."""
        return None

    def scheme(self, native: Any) -> str | None:
        """The scheme (``http`` or ``https``) the server that read the request settled on, where that server decides
        itself which peers may name it in ``X-Forwarded-Proto`` (a client reaching it directly may not): the scheme
        of :attr:`HttpRequest.base_url`. None where the front end before the function sets that header itself,
        replacing a client's own, so that the header names it. What passes the request's scheme on (a mounted app's
        scope or environ, the OpenTelemetry span) asks :func:`settled_scheme` before reading the header."""
        return None

    def first_values_reader(self, query: tuple[str, ...], headers: tuple[str, ...]) -> Callable[[Any], Any]:
        """``read(native)``: :meth:`first_values` of these names, in a call a codec may build for them (asked once
        per route and kept by the caller)."""
        first_values = self.first_values

        def read(native: Any) -> list[str | None] | None:
            return first_values(native, query, headers)

        return read


class HttpRequest:
    """An HTTP request, whichever front door (API Gateway, ALB, Function URL, Azure, GCF) it came through.

    A codec may build it with :meth:`lazy`: ``query``, ``headers``, ``path_params``, ``client_ip`` and ``raw_query``
    are then read from the native event on first access (and can be assigned as always), so a handler that reads
    only its path parameters does not pay for parsing the query or copying the headers."""

    __slots__ = ("method", "path", "_query", "_headers", "_body", "_text", "_path_params", "_cookies", "_client_ip",
                 "native", "_raw_query", "_raw_path", "principal", "_form", "_fields")
    kind = "http"

    def __init__(self, method: str, path: str, query: dict[str, list[str]] | None = None,
                 headers: HeaderInput = None, body: bytes = b"", path_params: dict[str, str] | None = None,
                 cookies: dict[str, str] | None = None, client_ip: str | None = None, native: Any = None,
                 raw_query: str | None = None, raw_path: str | None = None) -> None:
        self.method = method.upper()
        self.path = path
        self._query = query if query is not None else {}
        self._headers = headers if isinstance(headers, Headers) else Headers(headers)
        self._body: bytes | None = body
        self._text: str | None = None
        self._path_params = path_params if path_params is not None else {}
        self._cookies = cookies or None
        self._client_ip = client_ip
        self.native = native
        self._raw_query = raw_query
        self._raw_path = raw_path
        self._fields: HttpFields  # set by lazy() only
        #: The verified caller (e.g. a JWT's claims) once an authenticator accepted the request; None before.
        self.principal: dict[str, Any] | None = None
        self._form: FormData | None = None

    @classmethod
    def lazy(cls, method: str, path: str, native: Any, fields: HttpFields, body: bytes = b"",
             text: str | None = None, raw_path: str | None = None) -> HttpRequest:
        """A request whose query, headers, path parameters, client IP and raw query ``fields`` reads from ``native``
        on first access. ``text``: an ASCII body kept as the text it arrived as (see :meth:`keep_ascii_body`);
        ``raw_path``: the path as sent, when it differs from ``path`` (see :attr:`raw_path`).

        A field not read yet holds the marker ``_UNREAD`` (a value test on read, where an unset slot would cost an
        exception per field: 1.5 µs each)."""
        req: HttpRequest = _new_object(cls)
        req.method = method.upper()
        req.path = path
        req.native = native
        req._fields = fields
        req._query = req._headers = req._path_params = req._client_ip = req._raw_query = _UNREAD
        req._body = body if text is None else None
        req._text = text
        req._cookies = None
        req._raw_path = raw_path
        req.principal = None
        req._form = None
        return req

    # The fields a lazy request reads from its native event on first access (a plain request has them all).

    @property
    def query(self) -> dict[str, list[str]]:
        value = self._query
        if value is _UNREAD:
            self._query = value = self._fields.query(self.native)
        return value

    @query.setter
    def query(self, value: dict[str, list[str]]) -> None:
        self._query = value

    @property
    def headers(self) -> Headers:
        value = self._headers
        if value is _UNREAD:
            self._headers = value = self._fields.headers(self.native)
        return value

    @headers.setter
    def headers(self, value: Headers) -> None:
        self._headers = value

    @property
    def path_params(self) -> dict[str, str]:
        value = self._path_params
        if value is _UNREAD:
            self._path_params = value = self._fields.path_params(self.native)
        return value

    @path_params.setter
    def path_params(self, value: dict[str, str]) -> None:
        self._path_params = value

    @property
    def client_ip(self) -> str | None:
        value = self._client_ip
        if value is _UNREAD:
            self._client_ip = value = self._fields.client_ip(self.native)
        return value

    @client_ip.setter
    def client_ip(self, value: str | None) -> None:
        self._client_ip = value

    @property
    def raw_query(self) -> str | None:
        """The query string exactly as the client sent it (percent-escapes and key order kept), where the front door
        passes it on; None where it only hands over parsed parameters."""
        value = self._raw_query
        if value is _UNREAD:
            self._raw_query = value = self._fields.raw_query(self.native)
        return value

    @raw_query.setter
    def raw_query(self, value: str | None) -> None:
        self._raw_query = value

    @property
    def raw_path(self) -> str:
        """The path as the client sent it, percent-escapes kept (``/files/a%2Fb`` where :attr:`path` is
        ``/files/a/b``), as every front door passes it on; for a request built without one, :attr:`path`
        percent-encoded as UTF-8. Routes match :attr:`path`, except that an escaped ``/`` here stays inside its
        segment: ``/files/{name}`` takes ``/files/a%2Fb`` with ``name`` ``a/b``."""
        value = self._raw_path
        if value is None:
            return quote_path(self.path)
        return value

    @raw_path.setter
    def raw_path(self, value: str | None) -> None:
        self._raw_path = value

    @property
    def base_url(self) -> str:
        """``scheme://host[:port]`` the client called, plus any prefix the front door removed before routing, so
        that ``req.base_url + "/orders/42"`` reaches this app's route ``/orders/42`` (no trailing ``/``; the port
        only when it is not the scheme's default). Read from the native event on each access (it costs a request
        that never reads it nothing), from what the platform's own front end says:

        - API Gateway (HTTP and REST API), Function URL: ``requestContext.domainName`` (else ``Host``),
          ``X-Forwarded-Proto`` / ``X-Forwarded-Port`` (set by API Gateway; https by default), and the stage in the
          path where the client sent it (a named stage on the ``execute-api`` domain; on a custom domain, the API
          mapping's path, for a REST API); ALB: ``Host``, ``X-Forwarded-Proto`` and ``X-Forwarded-Port`` (set by
          the load balancer).
        - Azure: the URL the Functions host hands over, with the host's route prefix (``/api``); its scheme as
          App Service's front end says in ``X-Forwarded-Proto``.
        - Google Cloud: the WSGI environ (``Host``, ``wsgi.url_scheme``, ``SCRIPT_NAME``), the scheme as Google's
          front end says in ``X-Forwarded-Proto``.
        - The container: the WSGI environ, the scheme the server settled on (``wsgi.url_scheme``: its server counts
          ``X-Forwarded-Proto`` only from the peers it trusts; :meth:`HttpFields.scheme`).
        - ``portafunc run``: ``http://`` and the ``Host`` the client sent (else the server's own address).
        - A request built by hand (the test kit, :meth:`from_dict`): ``http://`` and its ``Host`` header, else
          ``http://testserver``.

        ``Host`` is the client's own claim wherever it is read; no target trusts a forwarded header its own front
        end does not set (``X-Forwarded-Host`` is never read)."""
        fields = getattr(self, "_fields", None)  # unset on a request built by the constructor
        base = fields.base_url(self.native, self) if fields is not None else None
        if base is None:
            base = origin("http", self.headers.get("host") or "testserver")
        return base

    @property
    def url(self) -> str:
        """The absolute URL the client called: :attr:`base_url`, :attr:`raw_path` (the path as sent, escapes kept)
        and ``?`` with :attr:`raw_query` when there is one. Where the front door hands over parsed parameters only
        (REST API, ALB), the query string is rebuilt from :attr:`query`, percent-encoded."""
        query = self.raw_query
        if query is None:
            from urllib.parse import quote, urlencode

            query = urlencode([(k, v) for k, vs in self.query.items() for v in vs], quote_via=quote, safe="")
        url = self.base_url + self.raw_path
        return f"{url}?{query}" if query else url

    def keep_ascii_body(self, text: str) -> None:
        """Hold the body as the ASCII text it arrived as (a Lambda event's ``body`` string): :meth:`json` parses that
        text without a copy, and :attr:`body` encodes it only if something reads the bytes. The caller has checked
        ``text.isascii()``: ASCII text is its own UTF-8, so nothing can fail later and the size is ``len(text)``."""
        self._body = None
        self._text = text

    @property
    def body(self) -> bytes:
        body = self._body
        if body is None:
            body = self._body = self._text.encode("ascii")  # type: ignore[union-attr]
        return body

    @body.setter
    def body(self, value: bytes) -> None:
        self._body = value
        self._text = None

    @property
    def body_size(self) -> int:
        """Bytes in the body, without encoding a body kept as text."""
        return len(self._text) if self._body is None else len(self._body)  # type: ignore[arg-type]

    @property
    def cookies(self) -> dict[str, str]:
        """Cookies given to the constructor, else parsed from the ``Cookie`` headers on first read."""
        cookies = self._cookies
        if cookies is None:
            cookies = self._cookies = parse_cookies(self.headers.get_all("cookie"))
        return cookies

    @cookies.setter
    def cookies(self, value: dict[str, str]) -> None:
        self._cookies = value

    def __repr__(self) -> str:
        return f"HttpRequest({self.method} {self.path!r}, {len(self.body)} bytes)"

    @property
    def text(self) -> str:
        """The body decoded as UTF-8; invalid UTF-8 is a 400, not a crash."""
        if self._body is None:
            return self._text  # type: ignore[return-value]
        try:
            return self._body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BadRequest(f"request body is not valid UTF-8: {exc.reason} at byte {exc.start}") from exc

    def json(self) -> Any:
        """The body parsed as JSON; malformed JSON, NaN/Infinity (not JSON) and nesting too deep to parse are a 400
        problem response, not a 500."""
        data: bytes | str | None = self._body
        if data is None:
            data = self._text  # ASCII text, parsed as it came: no copy of a large body
        if not data:
            raise BadRequest("request body is empty; a JSON document was expected")
        try:
            return _loads_request(data)
        except ValueError as exc:
            raise BadRequest(f"request body is not valid JSON: {exc}") from None
        except RecursionError:
            raise BadRequest("request body is not valid JSON: nested too deeply") from None

    def form(self) -> FormData:
        """The body as an HTML form (``application/x-www-form-urlencoded`` or ``multipart/form-data``): its fields
        and uploaded files, parsed on first call. Another content type is a 415 problem, a malformed form a 400
        (multipart needs the ``portafunc[forms]`` extra: python-multipart)."""
        form = self._form
        if form is None:
            from .forms import parse_form

            form = self._form = parse_form(self)
        return form

    def query_one(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default

    def to_dict(self, context: bool = False) -> dict[str, Any]:
        """The public JSON form; ``context=True`` adds what the front door said beyond the request itself
        (``path_params``, ``client_ip``, ``raw_query``, and ``raw_path`` when it is not :attr:`path` percent-encoded,
        as ``/files/a%2Fb`` for ``/files/a/b``), as ``portafunc events decode`` prints it."""
        out: dict[str, Any] = {
            "kind": "http",
            "method": self.method,
            "path": self.path,
            "query": {k: list(v) for k, v in self.query.items()},
            "headers": self.headers.to_multi(),
            "cookies": dict(self.cookies),
            "body_base64": _b64(self.body),
        }
        if context:
            out.update(path_params=dict(self.path_params), client_ip=self.client_ip, raw_query=self.raw_query)
            raw_path = self._raw_path
            if raw_path is not None and raw_path != quote_path(self.path):
                out["raw_path"] = raw_path  # says more than the path (an escaped "/" routes differently): kept
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> HttpRequest:
        _check_form(data)
        raw_path = data.get("raw_path")
        path = data.get("path")
        if path is None:
            path = "/" if raw_path is None else decode_path(raw_path) or "/"
        return cls(
            method=data.get("method") or "GET",
            path=path,
            query={k: list(v) for k, v in (data.get("query") or {}).items()},
            headers=Headers(data.get("headers") or {}),
            cookies=dict(data.get("cookies") or {}),
            body=_unb64(data.get("body_base64"), "body_base64"),
            path_params=dict(data.get("path_params") or {}),
            client_ip=data.get("client_ip"),
            raw_query=data.get("raw_query"),
            raw_path=raw_path,
        )

    def to_cloudevent(self) -> dict[str, Any]:
        return _cloudevent("io.portafunc.http.request", self.headers.get("x-request-id") or "", self.path,
                           None, self.to_dict())

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, HttpRequest):
            return NotImplemented
        return self.to_dict() == other.to_dict()


def checked_status(status: Any) -> int:
    """``status`` as a response's status: an ``int`` from 100 to 599 as it is, an ``int`` subclass's member (an
    ``IntEnum`` such as ``HTTPStatus.CREATED``) as its plain int. Called where a status came from a handler and is
    not a plain int in range (the caller tests that first: nothing is paid on the usual path).

    Raises:
        InvalidStatus: Anything else: an int outside 100-599, a bool, a float, a str ("201"), None. The message
            names the int or the type, never another value (it is logged).
    """
    if isinstance(status, int) and not isinstance(status, bool):
        value = int(status)
        if 100 <= value <= 599:
            return value
        raise InvalidStatus(f"HTTP status {value} is not one a response can carry: it must be 100-599")
    raise InvalidStatus(f"HTTP status must be an int from 100 to 599, not {type(status).__name__}")


_OK = 200  # HttpResponse.json's default status: the same object as any 200 a caller writes (CPython's small ints)


def json_response(status: int, body: bytes) -> HttpResponse:
    """``HttpResponse(status, None, body)`` with ``Content-Type: application/json`` added, for JSON bytes written by
    portafunc: the same response, without the constructor's checks of what a handler may give it (nothing here comes
    from one)."""
    headers: Headers = _new_object(Headers)
    headers._items = [("Content-Type", "application/json")]
    headers._sendable = True
    resp: HttpResponse = _new_object(HttpResponse)
    resp.status = status
    resp.headers = headers
    resp.body = body
    return resp


class HttpResponse:
    """An HTTP response. ``headers`` keeps repeated names; ``body`` is always bytes, so binary is safe.

    ``status`` is an ``int`` from 100 to 599 (``HTTPStatus.CREATED`` is kept as its int); anything else raises
    :class:`~portafunc.errors.InvalidStatus` (a ``ValueError``) where the response is built, which the pipeline
    answers as the function's failure: a 500 problem, the reason logged."""

    __slots__ = ("status", "headers", "body")
    #: True for a body still being produced (:class:`portafunc.streaming.StreamedResponse`)
    streamed = False

    def __init__(self, status: int = 200, headers: HeaderInput = None, body: Any = b"") -> None:
        if status.__class__ is not int or not 99 < status < 600:  # the usual status pays these two tests
            status = checked_status(status)
        self.status = status
        self.headers = headers if isinstance(headers, Headers) else Headers(headers)
        if headers is not None:
            check_headers(self.headers._items)
        self.headers._sendable = True
        self.body = body
        if isinstance(body, bytes):
            return
        if isinstance(self.body, str):
            self.body = self.body.encode("utf-8")
            if "content-type" not in self.headers:
                self.headers.add("Content-Type", "text/plain; charset=utf-8")
        elif not isinstance(self.body, (bytes, bytearray)):
            payload, ctype = encode_payload(self.body)
            self.body = payload
            if "content-type" not in self.headers:
                self.headers.add("Content-Type", ctype)
        else:
            self.body = bytes(self.body)

    @classmethod
    def json(cls, data: Any, status: int = 200, headers: HeaderInput = None) -> HttpResponse:
        body, _ = encode_payload(data)
        if headers is None:  # the usual handler result: one header of ours, nothing to check
            if cls is HttpResponse:
                if status is not _OK and (status.__class__ is not int or not 99 < status < 600):
                    status = checked_status(status)  # (the constructor's check, which json_response skips)
                return json_response(status, body)
            resp = cls(status, None, body)
            resp.headers._items.append(("Content-Type", "application/json"))
            return resp
        hdrs = Headers(headers)
        if "content-type" not in hdrs:
            hdrs._items.append(("Content-Type", "application/json"))
        return cls(status, hdrs, body)

    @classmethod
    def text(cls, text: str, status: int = 200, headers: HeaderInput = None) -> HttpResponse:
        hdrs = Headers(headers)
        if "content-type" not in hdrs:
            hdrs.add("Content-Type", "text/plain; charset=utf-8")
        return cls(status=status, headers=hdrs, body=text.encode("utf-8"))

    @classmethod
    def problem(cls, status: int, title: str, detail: str | None = None, **extra: Any) -> HttpResponse:
        """An RFC 9457 ``application/problem+json`` response."""
        doc: dict[str, Any] = {"type": "about:blank", "title": title, "status": status}
        if detail:
            doc["detail"] = detail
        doc.update(extra)
        body, _ = encode_payload(doc)
        resp = cls(status, None, body)
        resp.headers._items.append(("Content-Type", "application/problem+json"))
        return resp

    def set_cookie(self, name: str, value: str, *, max_age: int | None = None,
                   expires: datetime | str | None = None, path: str | None = "/", domain: str | None = None,
                   secure: bool = True, httponly: bool = True, samesite: str | None = "Lax",
                   partitioned: bool = False) -> HttpResponse:
        """Add a ``Set-Cookie`` header (RFC 6265). Safe by default: ``Secure`` (HTTPS only; Chrome and Firefox treat
        ``http://localhost`` as secure too), ``HttpOnly`` (scripts cannot read it), ``SameSite=Lax`` (not sent on
        cross-site subrequests) and ``Path=/`` (without it the browser scopes the cookie to the request's folder).
        Turn one off explicitly (``secure=False``...). A value outside RFC 6265's cookie-octets is sent in double
        quotes with backslash escapes (as Python's ``http.cookies`` and werkzeug do, and as ``req.cookies`` reads
        it back); a control character or ``;`` in any part raises :class:`~portafunc.errors.InvalidHeader`."""
        from ._cookies import format_set_cookie

        header = format_set_cookie(name, value, max_age=max_age, expires=expires, path=path, domain=domain,
                                   secure=secure, httponly=httponly, samesite=samesite, partitioned=partitioned)
        self.headers._items.append(("Set-Cookie", header))
        return self

    @property
    def content_type(self) -> str | None:
        return self.headers.get("content-type")

    @property
    def is_text(self) -> bool:
        """True when the body can travel as text; binary bodies are base64-encoded by adapters that need it."""
        ctype = (self.headers.get("content-type") or "").lower()
        if ctype.startswith("text/") or "json" in ctype or "xml" in ctype or "javascript" in ctype \
                or "x-www-form-urlencoded" in ctype:
            try:
                self.body.decode("utf-8")
            except UnicodeDecodeError:
                return False
            return True
        return not self.body

    def json_body(self) -> Any:
        """The body parsed as JSON, None when it is empty: what a test reads of an answer (``HttpResponse.json(data)``
        builds a response)."""
        return _json.loads(self.body) if self.body else None

    def __repr__(self) -> str:
        return f"HttpResponse({self.status}, {len(self.body)} bytes)"

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "headers": self.headers.to_multi(),
            "body_base64": _b64(self.body),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> HttpResponse:
        return cls(status=int(data.get("status", 200)), headers=Headers(data.get("headers") or {}),
                   body=_unb64(data.get("body_base64"), "body_base64"))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, HttpResponse):
            return NotImplemented
        return self.to_dict() == other.to_dict()


if TYPE_CHECKING:
    from typing import Generic

    from typing_extensions import TypeVar  # PEP 696 defaults on 3.10; for type checkers only, never imported

    T = TypeVar("T", default=Any)  # a bare ``Message`` is ``Message[Any]``: body is the parsed JSON

    class _TypedBody(Generic[T]):
        """What type checkers see: ``Message[Order]`` is a message whose ``body`` is an ``Order``."""
else:
    T = object

    class _TypedBody:  # the same at run time without importing typing: Message[Order] is a types.GenericAlias
        __slots__ = ()
        __class_getitem__ = classmethod(GenericAlias)


class _Unread:
    """The value of a deferred message field not decoded yet (one object; pickles and copies as itself)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<unread>"

    def __reduce__(self) -> str:
        return "_UNREAD"


_UNREAD: Any = _Unread()


class Message(_TypedBody[T]):
    """One message from a topic or a queue. ``Message[Order]`` asks the pipeline to validate ``body`` as ``Order``."""

    __slots__ = ("id", "data", "_attributes", "_ordering_key", "_delivery_attempt", "_published", "_source",
                 "native", "_body", "_has_body", "_rest")
    kind = "message"
    _text: str | None = None  # the payload as text, on a message that arrived as text (_TextMessage); None: see data

    def __init__(self, id: str, data: bytes = b"", attributes: dict[str, str] | None = None,
                 ordering_key: str | None = None, delivery_attempt: int = 1,
                 published_at: datetime | int | None = None, source: str | None = None, native: Any = None) -> None:
        """``published_at`` may be epoch milliseconds (an int), as brokers send it: converted on first read."""
        self.id = id
        self.data = data
        self._attributes: Any = attributes if attributes is not None else {}
        self._ordering_key: Any = ordering_key
        self._delivery_attempt: Any = delivery_attempt
        self._published: Any = published_at
        self._source: Any = source
        self.native = native
        self._body: Any = None
        self._has_body = False
        self._rest: Callable[[Any], tuple[Any, ...]] | None = None  # every field decoded

    @classmethod
    def deferred(cls, id: str, data: bytes, native: Any, rest: Callable[[Any], tuple[Any, ...]]) -> Message[Any]:
        """A message whose id and payload are decoded and whose other fields are decoded from ``native`` when one of
        them is first read: ``rest(native)`` gives ``(attributes, ordering_key, delivery_attempt, published_at,
        source)``. Most handlers read only the payload, and decoding the rest costs about as much as the handler's own
        work. The adapter defers only what it has checked decodes without error, so a malformed record is still
        refused when the batch is decoded, and the fields read the same as an eager decode.

        A field not read yet holds the marker ``_UNREAD`` (a plain value test on read, where an unset slot would cost
        an exception per field); a field the caller sets before the first read keeps the caller's value."""
        msg: Message[Any] = _unread(_new_message(cls), id, native, rest)
        msg.data = data
        return msg

    @classmethod
    def deferred_text(cls, id: str, text: str, native: Any, rest: Callable[[Any], tuple[Any, ...]]
                      ) -> Message[Any]:
        """:meth:`deferred` for a payload that arrived as text, which the caller has checked encodes to UTF-8 (e.g.
        ASCII): ``data`` is that text's UTF-8 bytes, encoded when first read; ``json()`` parses the text as it is."""
        made: Message[Any] = _unread(_TextMessage(), id, native, rest, text)  # every slot set there
        return made

    def _read_rest(self) -> None:
        """Decode the deferred fields (every one at once) into those still unread. Run by the first read; a reader in
        another thread that finds the decoder gone finds the fields set."""
        rest = self._rest
        if rest is None:
            return
        attributes, ordering_key, delivery_attempt, published, source = rest(self.native)
        if self._attributes is _UNREAD:
            self._attributes = attributes
        if self._ordering_key is _UNREAD:
            self._ordering_key = ordering_key
        if self._delivery_attempt is _UNREAD:
            self._delivery_attempt = delivery_attempt
        if self._published is _UNREAD:
            self._published = published
        if self._source is _UNREAD:
            self._source = source
        self._rest = None  # after the fields

    @property
    def attributes(self) -> dict[str, str]:
        value = self._attributes
        if value is _UNREAD:
            self._read_rest()
            value = self._attributes
        attributes: dict[str, str] = value
        return attributes

    @attributes.setter
    def attributes(self, value: dict[str, str]) -> None:
        self._attributes = value

    @property
    def ordering_key(self) -> str | None:
        value = self._ordering_key
        if value is _UNREAD:
            self._read_rest()
            value = self._ordering_key
        key: str | None = value
        return key

    @ordering_key.setter
    def ordering_key(self, value: str | None) -> None:
        self._ordering_key = value

    @property
    def delivery_attempt(self) -> int:
        value = self._delivery_attempt
        if value is _UNREAD:
            self._read_rest()
            value = self._delivery_attempt
        attempt: int = value
        return attempt

    @delivery_attempt.setter
    def delivery_attempt(self, value: int) -> None:
        self._delivery_attempt = value

    @property
    def source(self) -> str | None:
        value = self._source
        if value is _UNREAD:
            self._read_rest()
            value = self._source
        source: str | None = value
        return source

    @source.setter
    def source(self, value: str | None) -> None:
        self._source = value

    @property
    def published_at(self) -> datetime | None:
        """When the message was published (UTC). Adapters may store epoch milliseconds (an int), converted here on
        first read: building a datetime per message costs about as much as the rest of decoding it."""
        value = self._published
        if value is _UNREAD:
            self._read_rest()
            value = self._published
        if type(value) is int:
            value = self._published = _from_epoch_ms(value, value)
        published: datetime | None = value
        return published

    @published_at.setter
    def published_at(self, value: datetime | None) -> None:
        self._published = value

    def __repr__(self) -> str:
        return f"{type(self).__name__}(id={self.id!r}, {len(self.data)} bytes, attempt {self.delivery_attempt})"

    @property
    def text(self) -> str:
        return self.data.decode("utf-8")

    def json(self) -> Any:
        """The data parsed as JSON ([`PayloadValidationError`][portafunc.PayloadValidationError] if not JSON)."""
        data = self.data
        try:
            # _loads_payload inlined (this runs once per message in most handlers)
            if data.__class__ is bytes and data[:1] in _JSON_OPENERS and data[1:2] != b"\x00":
                text = data.decode("utf-8", "surrogatepass")
                try:
                    value, end = _scan_once(text, 0)
                except (StopIteration, ValueError):
                    return _json.loads(text)
                return value if end == len(text) else _json.loads(text)
            return _json.loads(data)
        except ValueError as exc:
            from .errors import PayloadValidationError

            raise PayloadValidationError(
                f"message {self.id} is not valid JSON: {exc}",
                [{"loc": [], "msg": str(exc), "type": "json_invalid"}],
            ) from exc

    @property
    def body(self) -> T:
        """The typed payload (when the handler declared ``Message[Model]``), else the parsed JSON."""
        body: T = self._body if self._has_body else self.json()  # Any inside: the pipeline validated it as T
        return body

    def with_body(self, body: Any) -> Message[Any]:
        self._body = body
        self._has_body = True
        return self

    def to_dict(self, context: bool = False) -> dict[str, Any]:
        """The public JSON form; ``context=True`` adds the ``source`` (the queue, topic or subscription the broker
        names), as ``portafunc events decode`` prints it."""
        out: dict[str, Any] = {
            "kind": "message",
            "id": self.id,
            "data_base64": _b64(self.data),
            "attributes": dict(self.attributes),
            "ordering_key": self.ordering_key,
            "delivery_attempt": self.delivery_attempt,
            "published_at": format_time(self.published_at),
        }
        if context:
            out["source"] = self.source
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Message[Any]:
        _check_form(data)
        return cls(
            id=data.get("id") or "",
            data=_unb64(data.get("data_base64"), "data_base64"),
            attributes=dict(data.get("attributes") or {}),
            ordering_key=data.get("ordering_key"),
            delivery_attempt=data.get("delivery_attempt") or 1,
            published_at=parse_time(data.get("published_at")),
            source=data.get("source"),
        )

    def to_cloudevent(self) -> dict[str, Any]:
        return _cloudevent("io.portafunc.message", self.id, self.source or "", self.published_at,
                           {"data_base64": _b64(self.data), "attributes": self.attributes})

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Message):
            return NotImplemented
        return self.to_dict() == other.to_dict()


_new_message = object.__new__
_MESSAGE_DATA = Message.__dict__["data"]  # the slot under Message.data


class _TextMessage(Message):
    """A deferred message whose payload arrived as text that encodes to UTF-8 (SQS and SNS bodies): ``data`` is
    encoded when first read, and ``json()`` parses the text itself, so a handler reading the JSON pays for neither
    the encode nor decoding it back. Reads and compares as the Message of the encoded bytes; built by
    :meth:`Message.deferred_text`."""

    __slots__ = ("_text",)
    _text: str | None
    # made only by Message.deferred_text, which sets every slot: the class call then only allocates (object.__new__
    # called by name checks the class's bases first, and costs as much again)
    __init__ = object.__init__

    @property
    def data(self) -> bytes:
        text = self._text
        if text is not None:
            _MESSAGE_DATA.__set__(self, text.encode("utf-8"))
            self._text = None  # after the bytes: a reader in another thread finds one or the other
        raw: bytes = _MESSAGE_DATA.__get__(self)
        return raw

    @data.setter
    def data(self, value: bytes) -> None:
        _MESSAGE_DATA.__set__(self, value)
        self._text = None

    def json(self) -> Any:
        text = self._text
        if text is None or text[:1] not in _TEXT_OPENERS:
            return Message.json(self)  # what json.loads makes of the bytes (a BOM, UTF-16) is theirs to say
        try:  # Message.json's reading of the same text, without the bytes in between
            try:
                value, end = _scan_once(text, 0)
            except (StopIteration, ValueError):
                if text[1:2] == "\x00":  # never read by the scanner; json.loads reads such bytes as UTF-16 or -32
                    return Message.json(self)
                return _json.loads(text)
            return value if end == len(text) else _json.loads(text)
        except ValueError as exc:
            from .errors import PayloadValidationError

            raise PayloadValidationError(
                f"message {self.id} is not valid JSON: {exc}",
                [{"loc": [], "msg": str(exc), "type": "json_invalid"}],
            ) from exc


def _unread(msg: Any, id: str, native: Any, rest: Callable[[Any], tuple[Any, ...]], text: str | None = None) -> Any:
    """A new message's id, native object and ``rest`` set, its other fields marked unread (see Message.deferred);
    ``text``: a _TextMessage's payload. A batch decoder may call it as Message.deferred_text does, saving that
    frame per record: ``_unread(_TextMessage(), id, native, rest, text)``."""
    if text is not None:
        msg._text = text
    msg.id = id
    msg.native = native
    msg._attributes = msg._ordering_key = msg._delivery_attempt = msg._published = msg._source = _UNREAD
    msg._body = None
    msg._has_body = False
    msg._rest = rest
    return msg


_TextMessage.__name__ = "Message"  # what it stands for, to code telling events by type(event).__name__ (a
# middleware's trace, a repr); its __qualname__ stays, which pickle and copy look it up by


STORAGE_KINDS = ("created", "deleted", "archived", "metadata_updated")
"""The kinds a storage function registers for (``@app.storage(events=...)``); every target can deliver them."""

STORAGE_EVENT_KINDS = STORAGE_KINDS + ("restore_started", "restored", "restore_expired", "replicated",
                                       "replication_delayed", "replication_failed", "other")
"""Every ``StorageEvent.kind`` a target decodes (docs/events.md has the per-cloud table). The kinds after
``STORAGE_KINDS`` are decoded (``portafunc events decode``, ``Target.decode``) but cannot be registered for, so a
storage function never receives them; ``other`` is a native event with no neutral meaning (its name is in
``native``)."""


class StorageEvent:
    """An object-storage change. ``key`` is always decoded (S3 sends ``+`` for space and ``%XX`` escapes).

    ``kind`` is what happened: ``created``, ``deleted``, ``archived`` or ``metadata_updated`` (the kinds a function
    registers for; :data:`STORAGE_EVENT_KINDS` lists the few more a decoder can report). :meth:`read` and
    :meth:`open` fetch the object through the logical bucket of the trigger that delivered the event
    (``trigger_bucket``, set by the pipeline), so a handler needs no cloud SDK to look at what was uploaded.
    """

    __slots__ = ("bucket", "key", "kind", "size", "etag", "time", "id", "native", "trigger_bucket")

    def __init__(self, bucket: str, key: str, kind: str = "created", size: int | None = None,
                 etag: str | None = None, time: datetime | None = None, id: str | None = None,
                 native: Any = None) -> None:
        self.bucket = bucket
        self.key = key
        self.kind = kind
        self.size = size
        self.etag = etag
        self.time = time
        self.id = id
        self.native = native
        self.trigger_bucket: str | None = None

    def __repr__(self) -> str:
        return f"StorageEvent({self.kind} {self.bucket}/{self.key})"

    def read(self) -> bytes:
        """The object's bytes, through ``portafunc.bucket(<the trigger's bucket>)``; KeyNotFound once it is gone."""
        return self._through().get(self.key)

    def open(self) -> BinaryIO:
        """A streaming binary reader of the object (for large objects), through the trigger's bucket."""
        return self._through().open(self.key)

    def _through(self) -> Bucket:
        from .data import bucket

        # an event built by hand (no trigger) reads through the binding named like its bucket
        return bucket(self.trigger_bucket or self.bucket)

    def to_dict(self, context: bool = False) -> dict[str, Any]:
        """The public JSON form; ``context=True`` adds the event's ``id`` and ``time``, as ``portafunc events
        decode`` prints it."""
        out: dict[str, Any] = {
            "kind": "storage",
            "bucket": self.bucket,
            "key": self.key,
            "event": self.kind,
            "size": self.size,
            "etag": self.etag,
        }
        if context:
            out.update(id=self.id, time=format_time(self.time))
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StorageEvent:
        _check_form(data)
        kind = data.get("event")
        if kind is None:
            kind = "created"
        elif kind not in STORAGE_EVENT_KINDS:
            raise ValueError(f"event {kind!r:.40} is not a storage event kind; use one of "
                             f"{', '.join(STORAGE_EVENT_KINDS)}")
        return cls(bucket=data["bucket"], key=data["key"], kind=kind, size=data.get("size"), etag=data.get("etag"),
                   time=parse_time(data.get("time")), id=data.get("id"))

    def to_cloudevent(self) -> dict[str, Any]:
        return _cloudevent(f"io.portafunc.storage.{self.kind}", self.id or "", self.bucket, self.time,
                           self.to_dict(), subject=self.key)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, StorageEvent):
            return NotImplemented
        return self.to_dict() == other.to_dict()


class ScheduleEvent:
    """A schedule fired. ``time`` is the scheduled instant the cloud reports (UTC)."""

    __slots__ = ("time", "past_due", "id", "native")
    kind = "schedule"

    def __init__(self, time: datetime, past_due: bool = False, id: str | None = None, native: Any = None) -> None:
        self.time = time
        self.past_due = past_due
        self.id = id
        self.native = native

    def __repr__(self) -> str:
        return f"ScheduleEvent({format_time(self.time)})"

    def to_dict(self, context: bool = False) -> dict[str, Any]:
        """The public JSON form; ``context=True`` adds the run's ``id`` and whether it is ``past_due``, as
        ``portafunc events decode`` prints it."""
        out: dict[str, Any] = {"kind": "schedule", "time": format_time(self.time)}
        if context:
            out.update(id=self.id, past_due=self.past_due)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ScheduleEvent:
        _check_form(data)
        parsed = parse_time(data.get("time"))
        if parsed is None:
            raise EventDecodeError("schedule event has no time", expected='{"time": "<RFC 3339>"}')
        return cls(time=parsed, past_due=data.get("past_due") or False, id=data.get("id"))

    def to_cloudevent(self) -> dict[str, Any]:
        return _cloudevent("io.portafunc.schedule", self.id or "", "", self.time, self.to_dict())

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ScheduleEvent):
            return NotImplemented
        return self.to_dict() == other.to_dict()


if TYPE_CHECKING:
    Event = HttpRequest | Message[Any] | StorageEvent | ScheduleEvent
else:
    Event = object  # annotations only; the Union above is what type checkers see

_FROM_DICT: dict[str, Callable[[Mapping[str, Any]], Event]] = {
    "http": HttpRequest.from_dict, "message": Message.from_dict, "storage": StorageEvent.from_dict,
    "schedule": ScheduleEvent.from_dict}


def event_kind(event: Event) -> str:
    return "storage" if isinstance(event, StorageEvent) else event.kind


#: The fields of each kind's public JSON form (``to_dict(context=True)``): what ``from_dict`` reads.
_FIELDS: dict[str, tuple[str, ...]] = {
    "http": ("kind", "method", "path", "raw_path", "query", "headers", "cookies", "body_base64", "path_params",
             "client_ip", "raw_query"),
    "message": ("kind", "id", "data_base64", "attributes", "ordering_key", "delivery_attempt", "published_at",
                "source"),
    "storage": ("kind", "bucket", "key", "event", "size", "etag", "time", "id"),
    "schedule": ("kind", "time", "past_due", "id"),
}
_PAYLOAD_FIELD = {"http": "body_base64", "message": "data_base64"}
#: The JSON type of each field of the form but its times (parse_time's): str, int, bool, or an object of strings
#: (""), of string lists ("[]") or of either ("h").
_FORM_TYPES: dict[str, Any] = {
    **dict.fromkeys(("method", "path", "raw_path", "body_base64", "client_ip", "raw_query", "id", "data_base64",
                     "ordering_key", "source", "bucket", "key", "event", "etag"), str),
    "delivery_attempt": int, "size": int, "past_due": bool, "query": "[]", "headers": "h", "cookies": "",
    "path_params": "", "attributes": ""}
_WANTED = {str: "a string", int: "a whole number", bool: "true or false", "": "an object of strings",
           "[]": "an object of string lists", "h": "an object of strings or string lists"}


def _check_form(data: Mapping[str, Any]) -> None:
    """Refuse a field of the wrong JSON type by name (a TypeError: a malformed event to event_from_dict), rather than
    pass it on to fail inside an encoder; a null field is an absent one."""
    for name, value in data.items():
        want = _FORM_TYPES.get(name)
        if want is None or value is None:
            continue
        if want.__class__ is type:
            ok = value.__class__ is want if want is not str else isinstance(value, str)
        else:
            ok = isinstance(value, Mapping) and all(
                k.__class__ is str and (v.__class__ is str and want != "[]" or want != "" and v.__class__ is list
                                        and all(i.__class__ is str for i in v)) for k, v in value.items())
        if not ok:
            raise TypeError(f"{name} must be {_WANTED[want]}, not {value!r:.40}")


def event_from_dict(data: Mapping[str, Any]) -> Event:
    """Rebuild a neutral event from its public JSON form. A field the form does not have is refused, not ignored:
    ``{"data": ...}`` for a message's ``data_base64`` would otherwise make an event with an empty payload."""
    if not isinstance(data, Mapping):
        raise EventDecodeError("neutral event is not a JSON object", expected='{"kind": ...}')
    kind = data.get("kind", "")
    from_dict = _FROM_DICT.get(kind) if isinstance(kind, str) else None
    if from_dict is None:
        raise EventDecodeError(f"unknown neutral event kind {data.get('kind')!r}",
                               expected="kind http, message, storage or schedule")
    unknown = [str(name) for name in data if name not in _FIELDS[kind]]
    if unknown:
        payload = _PAYLOAD_FIELD.get(kind)
        hint = f" (the payload is {payload}: its bytes in base64)" if payload else ""
        raise EventDecodeError(f"neutral {kind} event has no field {', '.join(map(repr, unknown))}{hint}",
                               expected="fields " + ", ".join(_FIELDS[kind]))
    try:
        return from_dict(data)
    except (KeyError, TypeError, ValueError) as exc:
        raise EventDecodeError(f"neutral {data.get('kind')} event is malformed: {exc}") from exc


_DEFAULT_PORTS = {"http": "80", "https": "443"}
_HOST_STOPS = "/?#@\\ \t"  # what would end a URL's authority: a Host holding one is not used


def origin(scheme: str, host: str | None, port: str | int | None = None, default_host: str = "testserver") -> str:
    """``scheme://host[:port]``: ``port`` added when ``host`` carries none, either left out when it is the
    scheme's default (``https://a.example`` for ``a.example:443``). A host that would end the URL's authority
    early (``/``, ``?``, ``@``, a space) is replaced by ``default_host``."""
    scheme = scheme.strip().lower() or "http"
    host = (host or "").strip()
    if not host or any(c in _HOST_STOPS for c in host) or not host.isprintable():
        host = default_host
    name, colon, given = host.rpartition(":")
    if colon and given.isdecimal() and (not name.startswith("[") or name.endswith("]")):  # host:port, [v6]:port
        host, port = name, given
    port = str(port).strip() if port is not None else ""
    if port and port != _DEFAULT_PORTS.get(scheme) and port.isdecimal():
        return f"{scheme}://{host}:{port}"
    return f"{scheme}://{host}"


def settled_scheme(req: HttpRequest) -> str | None:
    """The scheme ``req``'s server settled on (:meth:`HttpFields.scheme`); None where ``X-Forwarded-Proto``, which
    the front end sets, names it, and for a request built by hand."""
    fields = getattr(req, "_fields", None)  # unset on a request built by the constructor
    return None if fields is None else fields.scheme(req.native)


def forwarded_scheme(value: str | None) -> str | None:
    """The scheme an ``X-Forwarded-Proto`` value names (its first entry: ``https`` of ``https,http``), None for no
    value or one that is neither ``http`` nor ``https``."""
    if not value:
        return None
    scheme = value.partition(",")[0].strip().lower()
    return scheme if scheme in _DEFAULT_PORTS else None


def decode_path(raw_path: str) -> str:
    """Percent-decode a URL path (``+`` stays ``+`` in paths, unlike query strings)."""
    if "%" not in raw_path:
        return raw_path
    from urllib.parse import unquote

    return unquote(raw_path)


PATH_SAFE = "/:@!$&'()*+,;=-._~"  # what a request line carries unescaped in a path (RFC 3986 pchar and "/")


def quote_path(path: str) -> str:
    """A decoded path as a request line carries it: percent-encoded as UTF-8, ``%`` itself as ``%25``. The usual
    path needs no escape, which one regex search (compiled on first use) tells."""
    global _needs_quoting
    if _needs_quoting is None:
        import re

        _needs_quoting = re.compile(r"[^A-Za-z0-9" + re.escape(PATH_SAFE) + "]").search
    if _needs_quoting(path) is None:
        return path
    from urllib.parse import quote

    return quote(path, safe=PATH_SAFE)


_needs_quoting: Any = None


def _cloudevent(ce_type: str, ce_id: str, source: str, time: datetime | None, data: Any,
                subject: str | None = None) -> dict[str, Any]:
    envelope: dict[str, Any] = {
        "specversion": "1.0",
        "id": ce_id,
        "source": source or "portafunc",
        "type": ce_type,
        "datacontenttype": "application/json",
        "data": data,
    }
    if time is not None:
        envelope["time"] = format_time(time)
    if subject is not None:
        envelope["subject"] = subject
    return envelope
