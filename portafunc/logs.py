"""Structured JSON logs: one line per record, with the invocation and correlation ids, secrets redacted.

Every cloud's log pipeline (CloudWatch, Application Insights, Cloud Logging) parses a JSON line into fields, so one
format serves all three. ``logging`` is imported on first use, not by ``import portafunc``.
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

from .context import current

_SECRET_WORDS = ("authorization", "cookie", "signature", "token", "password", "passwd", "secret", "sas", "sig",
                 "api-key", "apikey", "api_key", "x-api-key", "aeg-sas-key", "credential", "accountkey", "jwt",
                 "assertion", "session")
# Secrets quoted inside free text (exception messages, tracebacks, SDK errors with connection strings or SAS URLs).
_TEXT_PATTERNS = [
    (re.compile(r"(?i)\b(bearer|basic|sharedaccesssignature)\s+[A-Za-z0-9._~+/=%&:-]+"), r"\1 [REDACTED]"),
    (re.compile(r"(?i)((?:authorization|cookie|token|password|passwd|secret|signature|sig|sas|api[-_]?key|"
                r"accountkey|sharedaccesskey|code|aeg-sas-key|aeg-sas-token)[\"']?\s*[:=]\s*[\"']?)"
                r"([^\s\"',;&]+)"), r"\1[REDACTED]"),
    (re.compile(r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*"), "[REDACTED-JWT]"),
]


def scrub_text(text: str) -> str:
    """Mask credentials that appear inside free text (``Bearer …``, ``password=…``, JWTs)."""
    for pattern, replacement in _TEXT_PATTERNS:
        text = pattern.sub(replacement, text)
    return text
REDACTED = "[REDACTED]"
_level_names = {"DEBUG": 10, "INFO": 20, "WARNING": 30, "ERROR": 40}
_threshold = _level_names.get(os.environ.get("PORTAFUNC_LOG_LEVEL", "INFO").upper(), 20)


def is_secret_name(name: str) -> bool:
    lowered = name.lower()
    return any(word in lowered for word in _SECRET_WORDS)


def redact(value: Any, _depth: int = 0) -> Any:
    """Copy ``value`` with every secret-looking field (by name) replaced by ``[REDACTED]``."""
    if _depth > 20:
        return value
    if isinstance(value, Mapping):
        return {k: (REDACTED if isinstance(k, str) and is_secret_name(k) else redact(v, _depth + 1))
                for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        if len(value) == 2 and isinstance(value[0], str) and is_secret_name(value[0]):
            return [value[0], REDACTED]
        return [redact(v, _depth + 1) for v in value]
    if isinstance(value, str):
        return scrub_text(value)
    return value


def log(level: str, message: str, **fields: Any) -> None:
    """Write one JSON log line to stderr (the stream every serverless runtime collects)."""
    if _level_names.get(level, 20) < _threshold:
        return
    record: dict[str, Any] = {"ts": round(time.time(), 3), "level": level, "logger": "portafunc",
                              "message": message}
    ctx = current()
    if ctx is not None:
        record["invocation_id"] = ctx.invocation_id
        record["correlation_id"] = ctx.correlation_id
        record["function"] = ctx.function
    record.update(redact(fields))
    record["message"] = scrub_text(message)
    try:
        line = json.dumps(record, default=str, ensure_ascii=False)
    except (TypeError, ValueError):
        line = json.dumps({"level": level, "message": message, "unserialisable_fields": list(fields)})
    sys.stderr.write(line + "\n")


def debug_enabled() -> bool:
    """Cheap check so hot paths build DEBUG records only when they will be written."""
    return _threshold <= 10


def info(message: str, **fields: Any) -> None:
    log("INFO", message, **fields)


def warning(message: str, **fields: Any) -> None:
    log("WARNING", message, **fields)


def error(message: str, **fields: Any) -> None:
    log("ERROR", message, **fields)
