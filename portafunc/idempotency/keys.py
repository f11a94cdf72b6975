"""Idempotency key expressions and payload fingerprints.

Expressions (the ``idempotency_key=`` of a decorator):

* ``"id"`` (or ``"message.id"``): the message id the broker assigned — the default for messages; a redelivery keeps it.
* ``"body.order_id"``, ``"body.items.0.sku"``: a path into the JSON payload (message data or HTTP body); digits
  index lists. A string/number/bool value is used as is; an object or list as its canonical JSON.
* ``"header.Idempotency-Key"``: an HTTP request header (case-insensitive) — what ``@app.http(idempotent=True)`` sets.
* ``"attribute.NAME"``: a message attribute. ``"query.NAME"``: an HTTP query parameter.

The store key is ``APP.FUNCTION:VALUE`` so two subscribers of one topic each run once; long values are hashed. HTTP
keys are also scoped to the caller (``APP.FUNCTION@CALLER:VALUE``, see :func:`caller_scope`): one client's
``Idempotency-Key`` never replays another client's response.
"""

from __future__ import annotations

import hashlib
import json

from ..errors import RegistrationError
from ..events import HttpRequest, Message
from .errors import IdempotencyKeyMissing

SOURCES = ("id", "body", "header", "attribute", "query")
MAX_KEY_CHARS = 400


class KeyExpression:
    """A parsed ``idempotency_key=`` expression."""

    __slots__ = ("text", "source", "path")

    def __init__(self, text: str, source: str, path: tuple[str, ...]) -> None:
        self.text = text
        self.source = source
        self.path = path

    def __repr__(self) -> str:
        return f"KeyExpression({self.text!r})"

    @property
    def optional(self) -> bool:
        """An HTTP ``Idempotency-Key`` header is the client's opt-in: without it the request simply runs."""
        return self.source == "header"


_parsed: dict[str, KeyExpression] = {}


def parse_key(text: str) -> KeyExpression:
    """Parse (and cache) an expression; a malformed one is a :class:`RegistrationError` naming the valid forms."""
    found = _parsed.get(text)
    if found is not None:
        return found
    if not isinstance(text, str) or not text.strip():
        raise RegistrationError(f"idempotency_key {text!r} must be 'id', 'body.<path>', 'header.<name>', "
                                "'attribute.<name>' or 'query.<name>'")
    stripped = text.strip()
    if stripped in ("id", "message.id"):
        expr = KeyExpression(text, "id", ())
    else:
        source, _, rest = stripped.partition(".")
        source = {"headers": "header", "attributes": "attribute", "data": "body"}.get(source, source)
        parts = tuple(rest.split(".")) if rest else ()
        if source not in SOURCES[1:] or not parts or any(not p for p in parts) \
                or (source != "body" and len(parts) != 1):
            raise RegistrationError(f"idempotency_key {text!r} is not understood: use 'id' (the message id), "
                                    "'body.<field>[.<field>...]', 'header.<name>', 'attribute.<name>' or "
                                    "'query.<name>'")
        expr = KeyExpression(text, source, parts)
    _parsed[text] = expr
    return expr


def _from_body(expr: KeyExpression, raw: bytes) -> str:
    try:
        node = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise IdempotencyKeyMissing(expr.text, "the payload is not JSON") from None
    for depth, part in enumerate(expr.path):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            where = ".".join(("body",) + expr.path[:depth]) or "body"
            raise IdempotencyKeyMissing(expr.text, f"{where} has no {part!r}")
    if node is None or node == "":
        raise IdempotencyKeyMissing(expr.text, "the value is empty")
    if isinstance(node, str):
        return node
    return json.dumps(node, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def key_value(expr: KeyExpression, event: HttpRequest | Message) -> str | None:
    """The key's value for ``event``; None when an optional key (the HTTP header) is absent."""
    if isinstance(event, HttpRequest):
        if expr.source == "header":
            value = (event.headers.get(expr.path[0]) or "").strip()
            return value or None
        if expr.source == "query":
            value = (event.query_one(expr.path[0]) or "").strip()
            if not value:
                raise IdempotencyKeyMissing(expr.text, f"the request has no query parameter {expr.path[0]!r}")
            return value
        if expr.source == "body":
            return _from_body(expr, event.body)
        raise IdempotencyKeyMissing(expr.text, f"HTTP requests have no {expr.source!r}; use header.<name>, "
                                               "query.<name> or body.<path>")
    if expr.source == "id":
        if not event.id:
            raise IdempotencyKeyMissing(expr.text, "the message has no id")
        return event.id
    if expr.source == "attribute":
        value = event.attributes.get(expr.path[0], "")
        if not value:
            raise IdempotencyKeyMissing(expr.text, f"the message has no attribute {expr.path[0]!r}")
        return value
    if expr.source == "body":
        return _from_body(expr, event.data)
    raise IdempotencyKeyMissing(expr.text, f"messages have no {expr.source!r}; use id, attribute.<name> or "
                                           "body.<path>")


def store_key(app: str, function: str, value: str, caller: str | None = None) -> str:
    """``APP.FUNCTION:VALUE`` (``APP.FUNCTION@CALLER:VALUE`` with a caller scope); a value that would make the key
    too long for every store is replaced by its SHA-256."""
    prefix = f"{app}.{function}" if caller is None else f"{app}.{function}@{caller}"
    key = f"{prefix}:{value}"
    if len(key) > MAX_KEY_CHARS:
        key = f"{prefix}:sha256:{hashlib.sha256(value.encode('utf-8')).hexdigest()}"
    return key


def caller_scope(req: HttpRequest) -> str | None:
    """Who sent ``req``, as far as the request says: a hash of its ``Authorization`` header (a bearer token, Basic
    credentials, a signature — whatever the app authenticates with), else of its ``Cookie`` header (a session), else
    None (anonymous: the key is ``APP.FUNCTION:VALUE``, which no scoped key ``APP.FUNCTION@...`` can equal). Only a
    hash is kept: the store never holds a credential. Anonymous callers share one scope; replays never carry
    ``Set-Cookie`` (see the guard). A caller verified by ``JwtAuth`` is its issuer and subject, so a retry with a
    refreshed token is still that caller's."""
    principal = req.principal
    if principal and principal.get("sub") is not None:
        who = f"principal\n{principal.get('iss')}\n{principal['sub']}"
        return hashlib.sha256(who.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    for header in ("authorization", "cookie"):
        value = req.headers.get(header)
        if value:
            digest = hashlib.sha256(f"{header}\n{value}".encode("utf-8", "surrogatepass")).hexdigest()
            return digest[:32]
    return None


def payload_hash(event: HttpRequest | Message) -> str:
    """The fingerprint a reused key is checked against: method, path, query string and body for HTTP; the data for
    messages."""
    digest = hashlib.sha256()
    if isinstance(event, HttpRequest):
        digest.update(f"{event.method} {event.path}\n".encode("utf-8", "surrogatepass"))
        query = sorted([name, list(values)] for name, values in event.query.items())  # repeated values keep order
        digest.update(json.dumps(query, ensure_ascii=True).encode() + b"\n")
        digest.update(event.body)
    else:
        digest.update(event.data)
    return digest.hexdigest()
