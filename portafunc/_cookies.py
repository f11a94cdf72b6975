"""``Set-Cookie`` serialisation for :meth:`HttpResponse.set_cookie` and the matching unquoting for request cookies.

Loaded on first use: most handlers never set a cookie.
"""

from __future__ import annotations

from datetime import datetime, timezone

from .errors import InvalidHeader

# RFC 6265 §4.1.1 cookie-octet: visible ASCII except DQUOTE, comma, semicolon and backslash.
_COOKIE_OCTETS = frozenset(chr(c) for c in range(0x21, 0x7F)) - set('",;\\')
_TOKEN = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_SAMESITE = {"lax": "Lax", "strict": "Strict", "none": "None"}
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _refuse_controls(what: str, text: str) -> None:
    """Control characters and ``;`` end or split a ``Set-Cookie`` line (``a=1; Domain=evil``): never sent."""
    for ch in text:
        if ch == ";" or ord(ch) < 0x20 or ord(ch) == 0x7F:
            raise InvalidHeader(f"cookie {what} contains a control character or ';' (refused, not escaped)")


def quote(value: str) -> str:
    """The value as is when every character is a cookie-octet, else double-quoted with ``\\"`` and ``\\\\``
    escaped and every other character outside the cookie-octets written as octal escapes of its UTF-8 bytes
    (Python's ``http.cookies`` convention, which werkzeug and :func:`unquote` read back)."""
    if value and all(ch in _COOKIE_OCTETS for ch in value):
        return value
    out = []
    for ch in value:
        if ch in _COOKIE_OCTETS or ch == ",":
            out.append(ch)
        elif ch == '"' or ch == "\\":
            out.append("\\" + ch)
        else:
            out.extend(f"\\{b:03o}" for b in ch.encode("utf-8", "surrogatepass"))
    return '"' + "".join(out) + '"'


def unquote(value: str) -> str:
    """Undo :func:`quote` for a double-quoted value (``\\ooo`` octal bytes, ``\\x`` for any other character)."""
    inner = value[1:-1]
    if "\\" not in inner:
        return inner
    raw = bytearray()
    i, n = 0, len(inner)
    while i < n:
        ch = inner[i]
        if ch == "\\" and i + 1 < n:
            octal = inner[i + 1:i + 4]
            if len(octal) == 3 and all(c in "01234567" for c in octal) and int(octal, 8) < 256:
                raw.append(int(octal, 8))
                i += 4
                continue
            raw += inner[i + 1].encode("utf-8", "surrogatepass")
            i += 2
            continue
        raw += ch.encode("utf-8", "surrogatepass")
        i += 1
    return raw.decode("utf-8", "replace")


def http_date(value: datetime) -> str:
    """IMF-fixdate (RFC 9110 §5.6.7), the only ``Expires`` form every browser and parser reads."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    v = value.astimezone(timezone.utc)
    return f"{_DAYS[v.weekday()]}, {v.day:02d} {_MONTHS[v.month - 1]} {v.year:04d} " \
           f"{v.hour:02d}:{v.minute:02d}:{v.second:02d} GMT"


def format_set_cookie(name: str, value: str, *, max_age: int | None, expires: datetime | str | None,
                      path: str | None, domain: str | None, secure: bool, httponly: bool, samesite: str | None,
                      partitioned: bool) -> str:
    """One ``Set-Cookie`` header value; refuses what browsers would reject or misread (see ``set_cookie``)."""
    if not isinstance(name, str) or not name or not all(ch in _TOKEN for ch in name):
        raise InvalidHeader(f"cookie name {name!r:.40} is not an HTTP token")
    if not isinstance(value, str):
        raise InvalidHeader(f"cookie {name} value is a {type(value).__name__}, not a string")
    _refuse_controls(f"{name} value", value)
    parts = [f"{name}={quote(value)}"]
    if max_age is not None:
        if isinstance(max_age, bool) or not isinstance(max_age, int):
            raise InvalidHeader(f"cookie {name} max_age must be an int (seconds)")
        parts.append(f"Max-Age={max_age}")
    if expires is not None:
        if isinstance(expires, datetime):
            parts.append(f"Expires={http_date(expires)}")
        elif isinstance(expires, str):
            _refuse_controls(f"{name} expires", expires)
            parts.append(f"Expires={expires}")
        else:
            raise InvalidHeader(f"cookie {name} expires must be a datetime or an HTTP date string")
    if domain:
        _refuse_controls(f"{name} domain", domain)
        parts.append(f"Domain={domain}")
    if path:
        _refuse_controls(f"{name} path", path)
        parts.append(f"Path={path}")
    if secure:
        parts.append("Secure")
    if httponly:
        parts.append("HttpOnly")
    if samesite is not None:
        canonical = _SAMESITE.get(str(samesite).lower())
        if canonical is None:
            raise InvalidHeader(f"cookie {name} samesite must be 'Lax', 'Strict', 'None' or None")
        if canonical == "None" and not secure:
            raise InvalidHeader(f"cookie {name}: SameSite=None needs secure=True (browsers drop it otherwise)")
        parts.append(f"SameSite={canonical}")
    if partitioned:
        if not secure:
            raise InvalidHeader(f"cookie {name}: Partitioned needs secure=True (browsers drop it otherwise)")
        parts.append("Partitioned")
    if name.startswith("__Secure-") and not secure:
        raise InvalidHeader(f"cookie {name}: the __Secure- prefix needs secure=True")
    if name.startswith("__Host-") and (not secure or path != "/" or domain):
        raise InvalidHeader(f"cookie {name}: the __Host- prefix needs secure=True, path='/' and no domain")
    return "; ".join(parts)
