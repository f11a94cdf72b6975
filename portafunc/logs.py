"""Structured JSON logs: one line per record, with the invocation and correlation ids, secrets redacted.

Every cloud's log pipeline (CloudWatch, Application Insights, Cloud Logging) parses a JSON line into fields, so one
format serves all three. ``logging`` is imported on first use, not by ``import portafunc``.

Redaction has two halves: fields whose *name* looks secret are replaced whole (:func:`redact`), and free text
(exception messages, tracebacks, any logged string) is scrubbed of credentials by their *shape* (:func:`scrub_text`):
``Bearer``/``Basic`` credentials, ``name=value`` pairs with a secret-looking name, URL passwords, AWS access key ids,
Google API keys, Slack webhook paths, JWTs and PEM private keys. Logging never raises: a record that cannot be built
or written is replaced by a minimal one, so a log line can never fail the invocation it describes.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from collections.abc import Mapping

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

from .caches import keep, keep_member
from .context import current

_SECRET_WORDS = ("authorization", "cookie", "signature", "token", "password", "passwd", "secret", "sas", "sig",
                 "api-key", "apikey", "api_key", "x-api-key", "aeg-sas-key", "credential", "accountkey", "jwt",
                 "assertion", "session")
REDACTED = "[REDACTED]"
MAX_DEPTH = 20  # deeper subtrees are replaced by a marker (walking them costs time; skipping them would leak)
MAX_TEXT = 8192  # characters kept of one logged string; the rest is cut before it is scrubbed
DEEP = "[TRUNCATED: nested more than 20 levels]"


class _Lazy:
    """A regular expression compiled the first time it is used."""

    __slots__ = ("pattern", "flags", "_compiled")

    def __init__(self, pattern: str, flags: int = 0) -> None:
        self.pattern, self.flags = pattern, flags
        self._compiled: re.Pattern[str] | None = None

    def get(self) -> re.Pattern[str]:
        compiled = self._compiled
        if compiled is None:
            compiled = self._compiled = re.compile(self.pattern, self.flags)
        return compiled


# Credential shapes, each a pattern that starts with a literal (so the regex engine skips ahead at C speed) and each
# run only when a substring check (cheaper still) says the text can hold it: most logged text holds none, and a
# case-insensitive alternation run over every traceback was the slowest part of a failing invocation. They are
# compiled on first use (:class:`_Lazy`): compiling them all costs over a millisecond, on every cold start, and most
# processes log no text that can hold a credential.
_SHAPES = (
    ("://", _Lazy(r"(//[^\s/:@\"'<>]*):[^\s/?#\"'<>]*@"), rf"\1:{REDACTED}@"),  # scheme://user:password@host
    ("PRIVATE KEY-----", _Lazy(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----(?s:.*?)"
                               r"(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|\Z)"), "[REDACTED PRIVATE KEY]"),
    ("AKIA", _Lazy(r"AKIA[A-Z0-9]{16}"), REDACTED),  # AWS access key ids (long-term)
    ("ASIA", _Lazy(r"ASIA[A-Z0-9]{16}"), REDACTED),  # AWS access key ids (temporary)
    ("AIza", _Lazy(r"AIza[0-9A-Za-z_-]{35}"), REDACTED),  # Google API keys
    ("hooks.slack.com/", _Lazy(r"(hooks\.slack\.com/)(?:services|workflows|triggers)/[^\s\"'<>]+"),
     rf"\1{REDACTED}"),
    ("eyJ", _Lazy(r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*"), REDACTED),  # JWTs
)
_SCHEMES = ("bearer", "basic", "sharedaccesssignature")
_SCHEME = _Lazy(r"(?i)\b(bearer|basic|sharedaccesssignature)(\s+)[A-Za-z0-9._~+/=%&:-]+")
# ``name: value`` / ``name=value`` with a secret-looking name, matched on the lower-cased text (a case-insensitive
# pattern is several times slower): a secret word, the rest of the name, the separator, and the value in a lookahead.
_PAIR_WORDS = ("authorization", "cookie", "signature", "token", "password", "passwd", "passphrase", "secret",
               "apikey", "api-key", "api_key", "credential", "accountkey", "jwt", "assertion", "session")
_PAIR_ENDINGS = ("key", "code", "pwd", "pw", "sig", "sas")  # only at the end of a name: not "KeyError: 'id'"
_PAIR = _Lazy("(?:(?:" + "|".join(sorted(map(re.escape, _PAIR_WORDS), key=len, reverse=True)) + ")"
              r"[a-z0-9_.-]*|(?:" + "|".join(_PAIR_ENDINGS) + r"))[\"']?\s*[:=]\s*[\"']?"
              r"(?=((?:(?:bearer|basic|sharedaccesssignature)\s+)?[^\s\"',;&]+))")
_PAIR_HINTS = _PAIR_WORDS + _PAIR_ENDINGS
_PAIR_CI = _Lazy(_PAIR.pattern, re.IGNORECASE)


def scrub_text(text: str) -> str:
    """Mask credentials that appear inside free text (``Bearer …``, ``password=…``, URL passwords, AWS key ids,
    Google API keys, Slack webhook paths, JWTs, PEM private keys)."""
    if text in _clean:
        return text
    original = text
    for needle, pattern, replacement in _SHAPES:
        if needle in text:
            text = pattern.get().sub(replacement, text)
    lowered = text.lower()
    for scheme in _SCHEMES:  # loops, not any(): a generator costs more than the search it runs
        if scheme in lowered:
            text = _SCHEME.get().sub(rf"\1\2{REDACTED}", text)
            lowered = text.lower()
            break
    if "=" in text or ":" in text:
        for word in _PAIR_HINTS:
            if word in lowered:
                text = _mask_secret_pairs(text, lowered)
                break
    if text == original and len(text) <= _CLEAN_MAX_LEN:
        keep_member(_clean, text, _CLEAN_MAX)
    return text


# Texts found to hold no credential, remembered so a line logged again (a failure repeating on every delivery, the
# pipeline's own messages) is not scanned again. Only clean texts: no secret is kept in memory longer than before.
# Emptied when full: texts that hold an id are seen once, and must not crowd out those that repeat.
_CLEAN_MAX, _CLEAN_MAX_LEN = 2048, 1024
_clean: set[str] = set()


def _mask_secret_pairs(text: str, lowered: str) -> str:
    # str.lower() keeps the length except for a few letters (e.g. "İ"); then the slower case-insensitive pattern.
    found = _PAIR.get().finditer(lowered) if len(lowered) == len(text) else _PAIR_CI.get().finditer(text)
    out: list[str] = []
    pos = 0
    for match in found:
        if match.start() < pos:  # inside a value masked already
            continue
        end = match.end()
        out += (text[pos:end], REDACTED)
        pos = end + len(match.group(1))
    if not out:
        return text
    out.append(text[pos:])
    return "".join(out)


_level_names = {"DEBUG": 10, "INFO": 20, "WARNING": 30, "ERROR": 40}
_threshold = _level_names.get(os.environ.get("PORTAFUNC_LOG_LEVEL", "INFO").upper(), 20)


class _SecretNames(dict[str, bool]):
    """Whether a field name looks secret, worked out on the first look-up of the name: field names repeat (the
    pipeline's own, a payload's schema), and a hit is one dictionary look-up, without a call."""

    def __missing__(self, name: str) -> bool:
        lowered = name.lower()
        known = any(word in lowered for word in _SECRET_WORDS)
        return keep(self, name, known, 4096)


_secret_names = _SecretNames()


def is_secret_name(name: str) -> bool:
    return bool(_secret_names[name])


_SCALARS = frozenset((int, float, bool, type(None)))  # nothing to redact: skip the isinstance checks (Mapping's is slow)


class Redacted:
    """A field's value that redaction leaves as it is, with the JSON text a line writes for it: made once for a value
    logged again and again (a rejection's validation errors), so the one-pass line neither walks nor encodes it.
    :func:`redact` gives a fresh copy of a container ``value`` (what a handler or filter sees can be changed without
    changing this) and a text as it is (already scrubbed, or with nothing to scrub, as a payload's SHA-256 in hex);
    pass one only as a field of :func:`log`."""

    __slots__ = ("value", "json")

    def __init__(self, value: Any) -> None:
        self.value = value
        self.json = encode(value)

    def __repr__(self) -> str:
        return f"Redacted({self.json})"


def redact(value: Any, _depth: int = 0) -> Any:
    """Copy ``value`` with every secret-looking field (by name) replaced by ``[REDACTED]``, strings scrubbed of
    credentials and cut to ``MAX_TEXT`` characters, and subtrees deeper than ``MAX_DEPTH`` replaced by a marker.

    Containers are copied by plain loops in this one frame, not by comprehensions: before Python 3.12 each
    comprehension is a frame of its own, and a rejection's nested validation errors cost twice as much with them."""
    kind = value.__class__
    if kind in _SCALARS:
        return value
    if kind is str or isinstance(value, str):
        if len(value) > MAX_TEXT:
            value = f"{value[:MAX_TEXT]}…[{len(value) - MAX_TEXT} more characters]"
        return value if value in _clean else scrub_text(value)
    # the usual containers, told by their class: the Mapping ABC's isinstance costs more than redacting a small dict
    is_dict = kind is dict
    is_list = not is_dict and (kind is list or kind is tuple)
    if _depth >= MAX_DEPTH and (is_dict or is_list or isinstance(value, (Mapping, list, tuple))):
        return DEEP
    depth = _depth + 1
    if is_dict or (not is_list and isinstance(value, Mapping)):
        fields: dict[Any, Any] = {}
        for k, v in value.items():  # the usual field costs no call; a text known clean, a set look-up
            if (k.__class__ is str or isinstance(k, str)) and _secret_names[k]:
                fields[k] = REDACTED
            elif v.__class__ in _SCALARS:
                fields[k] = v
            elif v.__class__ is str and len(v) <= MAX_TEXT:
                fields[k] = v if v in _clean else scrub_text(v)
            else:
                fields[k] = redact(v, depth)
        return fields
    if is_list or isinstance(value, (list, tuple)):
        if len(value) == 2 and isinstance(value[0], str) and _secret_names[value[0]]:
            return [value[0], REDACTED]
        items: list[Any] = []
        append = items.append
        for v in value:  # as for a dict's fields
            if v.__class__ in _SCALARS:
                append(v)
            elif v.__class__ is str and len(v) <= MAX_TEXT:
                append(v if v in _clean else scrub_text(v))
            else:
                append(redact(v, depth))
        return items
    if isinstance(value, (bytes, bytearray)):
        return f"<{len(value)} bytes>"
    if kind is Redacted:  # redacted already: a container is copied (a reader may change it), a text is as it is
        inner = value.value
        return inner if inner.__class__ is str else redact(inner, _depth)
    return value


def log(level: str, message: str, **fields: Any) -> None:
    """Write one JSON log line to stderr (the stream every serverless runtime collects). Never raises."""
    if _level_names.get(level, 20) < _threshold:
        return
    try:
        ctx = current()
        if _through_logging is not None and _through_logging(level, message, ctx, fields):
            return  # redacted and written by the logging set-up (the line built in one pass where it can be)
        line = _direct_line(level, message, ctx, fields)
    except Exception as exc:  # noqa: BLE001 - a record that cannot be built must not fail the invocation
        line = _unloggable(level, message, fields, exc)
    _write(line)


def log_fields(level: str, message: str, fields: dict[str, Any]) -> None:
    """:func:`log` for fields the caller has in a dict already and hands over (it neither reads nor changes it
    after): no copy of them packed as keyword arguments. Never raises."""
    if _level_names.get(level, 20) < _threshold:
        return
    try:
        ctx = current()
        if _through_logging is not None and _through_logging(level, message, ctx, fields):
            return
        line = _direct_line(level, message, ctx, fields)
    except Exception as exc:  # noqa: BLE001 - a record that cannot be built must not fail the invocation
        line = _unloggable(level, message, fields, exc)
    _write(line)


def _direct_line(level: str, message: str, ctx: Any, fields: dict[str, Any]) -> str:
    """The line :func:`log` writes itself when ``logging`` does not (``PORTAFUNC_LOGGING=off``)."""
    safe = redact(fields)
    text = scrub_text(message)
    record: dict[str, Any] = {"ts": round(time.time(), 3), "level": level, "logger": "portafunc", "message": text}
    if ctx is not None:
        record["invocation_id"] = ctx.invocation_id
        record["correlation_id"] = ctx.correlation_id
        record["function"] = ctx.function
    for key, value in safe.items():
        if key not in record:
            record[key] = value
    return encode(record)


def _unloggable(level: str, message: str, fields: dict[str, Any], exc: Exception) -> str:
    return json.dumps({"ts": round(time.time(), 3), "level": level, "logger": "portafunc",
                       "message": scrub_text(str(message)[:MAX_TEXT]),
                       "unloggable_fields": sorted(str(k) for k in fields), "log_error": type(exc).__name__})


def _route(level: str, message: str, ctx: Any, fields: dict[str, Any]) -> bool:
    """Hand a record (its message and fields as given: redacted there) to the stdlib ``logging`` tree as logger
    ``portafunc`` (loaded on the first line), so applications route, filter and silence it like any other; False when
    it could not be (then redacted and written directly)."""
    global _through_logging
    try:
        from .logsetup import handle
    except Exception:  # noqa: BLE001 - logging unavailable: the direct write still works
        _through_logging = None
        return False
    _through_logging = handle
    return handle(level, message, ctx, fields)


_through_logging: Any = _route


def set_level(name: str) -> None:
    """Set the level of portafunc's own lines (``DEBUG``, ``INFO``, ``WARNING``, ``ERROR``)."""
    global _threshold
    _threshold = _level_names.get(name.upper(), _threshold)


def _unserialisable(value: Any) -> str:
    """What ``json.dumps`` writes for a value it cannot serialise: its text, scrubbed and cut like any string."""
    text = str(value)
    return redact(text)


_encode_checked = json.JSONEncoder(default=_unserialisable, ensure_ascii=False).encode


def _c_encoder() -> Any:
    """``JSONEncoder.encode`` builds its C encoder on every call; this one is built once (no circular-reference
    check: a record's fields are fresh copies cut at a fixed depth, and any failure falls back to the checked path)."""
    from json.encoder import c_make_encoder, encode_basestring  # type: ignore[attr-defined]  # not in typeshed

    if c_make_encoder is None:
        return None
    return c_make_encoder(None, _unserialisable, encode_basestring, None, ": ", ", ", False, False, False)


_c_encode = _c_encoder()


def encode(record: dict[str, Any]) -> str:
    """One JSON line, ``json.dumps``-compatible (``ensure_ascii=False``); a value JSON cannot hold is written as its
    scrubbed text."""
    if _c_encode is not None:
        try:
            return "".join(_c_encode(record, 0))
        except Exception:  # noqa: BLE001 - e.g. a cycle or a default that raised: the checked encoder says why
            pass
    return _encode_checked(record)


def _write(line: str) -> None:
    try:
        sys.stderr.write(line + "\n")
    except UnicodeEncodeError:  # a stream without a fallback for lone surrogates: escape them
        try:
            sys.stderr.write(line.encode("utf-8", "backslashreplace").decode("utf-8") + "\n")
        except Exception:  # noqa: BLE001 - nowhere left to report it
            pass
    except Exception:  # noqa: BLE001 - a closed or broken stream must not fail the invocation
        pass


def enabled(level: str) -> bool:
    """Whether a record at ``level`` is written: callers skip building costly fields for a record that is not."""
    return _level_names.get(level, 20) >= _threshold


def debug_enabled() -> bool:
    """Cheap check so hot paths build DEBUG records only when they will be written."""
    return _threshold <= 10


def info(message: str, **fields: Any) -> None:
    log("INFO", message, **fields)


def warning(message: str, **fields: Any) -> None:
    log("WARNING", message, **fields)


def error(message: str, **fields: Any) -> None:
    log("ERROR", message, **fields)
