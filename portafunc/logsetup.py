"""Every log record of the process — portafunc's and the application's — as one structured line with the invocation's
ids, in the form the cloud's log pipeline parses, credentials scrubbed.

:func:`install` runs once, on the first invocation (``logging`` is not imported by ``import portafunc``). It adds
:class:`InvocationFilter` to the handlers of the root logger and installs a formatter only where the platform has not
installed a structured one:

* AWS Lambda: the runtime's JSON formatter (``AWS_LAMBDA_LOG_FORMAT=JSON``) is kept — it writes every extra field of
  a record, so the filter's fields appear; its text formatter is replaced by :class:`JsonFormatter` in CloudWatch's
  shape. ``AWS_LAMBDA_LOG_LEVEL`` (the function's application log level) sets portafunc's level too.
* Google Cloud Functions: functions-framework adds plain stream handlers (stdout below WARNING, stderr above); they
  get the Cloud Logging shape (``severity``, ``logging.googleapis.com/trace``, ``logging.googleapis.com/spanId``).
* Azure Functions: the Python worker's handler forwards records to the host, which keeps Application Insights'
  ``operation_Id``; it is left as it is and only gets the filter.
* Elsewhere (no handler on the root logger): one stderr handler with :class:`JsonFormatter`; ``portafunc run`` asks
  for the readable ``text`` shape instead.

Handlers the application configured itself keep their formatter; ``PORTAFUNC_LOGGING=off`` leaves logging alone.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time

from . import logs
from .context import current

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

SHAPES = ("json", "aws", "gcp", "azure", "text")
IDS = ("invocation_id", "correlation_id", "function", "trace_id", "span_id", "request_id")
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "taskName"}
_GCP_SEVERITY = {"WARNING": "WARNING", "ERROR": "ERROR", "CRITICAL": "CRITICAL", "INFO": "INFO", "DEBUG": "DEBUG"}

_installed: str | None = None
_LAMBDA_LEVELS = {"TRACE": "DEBUG", "WARN": "WARNING", "FATAL": "ERROR"}  # Lambda's names → logging's


def detect_shape() -> str:
    """The log shape of the platform this process runs on, from the variables each platform sets."""
    if os.environ.get("AWS_LAMBDA_FUNCTION_NAME"):
        return "aws"
    if os.environ.get("FUNCTIONS_WORKER_RUNTIME"):
        return "azure"
    if os.environ.get("K_SERVICE") or os.environ.get("FUNCTION_TARGET"):
        return "gcp"
    return "json"


def extras(record: logging.LogRecord) -> dict[str, Any]:
    """The fields a record carries beyond the standard ones (``extra={...}``, the filter's ids)."""
    return {k: v for k, v in record.__dict__.items() if k not in _STANDARD and k[0] != "_"}


class InvocationFilter(logging.Filter):
    """Adds the running invocation's ids to a record and scrubs credentials from its text and fields (once per
    record, however many handlers it passes)."""

    _last: logging.LogRecord | None = None  # a record passes a process's handlers one after the other

    def filter(self, record: logging.LogRecord) -> bool:
        if record is self._last:  # enriched and scrubbed at its first handler (no marker: a platform's JSON
            return True            # formatter writes every attribute of the record)
        self._last = record
        try:
            _enrich(record)
            _scrub(record)
        except Exception:  # noqa: BLE001 - a record that cannot be enriched is still written, minimally
            record.msg, record.args = logs.scrub_text(str(record.msg)[:logs.MAX_TEXT]), None
        return True


def _enrich(record: logging.LogRecord) -> None:
    ctx = current()
    if ctx is None:
        return
    values = record.__dict__
    values.setdefault("invocation_id", ctx.invocation_id)
    values.setdefault("correlation_id", ctx.correlation_id)
    values.setdefault("function", ctx.function)
    trace = getattr(ctx, "trace", None)
    if trace is not None:
        values.setdefault("trace_id", trace.trace_id)
        values.setdefault("span_id", trace.span_id)
    native = ctx.native_context
    request_id = getattr(native, "aws_request_id", None) or getattr(native, "invocation_id", None)
    if isinstance(request_id, str):
        values.setdefault("request_id", request_id)


def _scrub(record: logging.LogRecord) -> None:
    if not isinstance(record, OwnRecord):  # portafunc's own lines are redacted when built
        text = record.getMessage()
        record.msg, record.args = logs.scrub_text(text[:logs.MAX_TEXT] if len(text) > logs.MAX_TEXT else text), None
        for key, value in extras(record).items():
            if key in IDS:
                continue
            record.__dict__[key] = logs.REDACTED if logs.is_secret_name(key) else logs.redact(value)
    if record.exc_info and not record.exc_text:
        record.exc_text = logs.scrub_text(logging.Formatter().formatException(record.exc_info))[-4000:]
        record.exc_info = None  # a formatter must not print the unscrubbed original


class OwnRecord(logging.LogRecord):
    """A record of portafunc's own, its fields redacted already by :func:`portafunc.logs.log`."""


class JsonFormatter(logging.Formatter):
    """One JSON object per record, in the shape of a cloud's log pipeline (``aws``, ``gcp``) or portafunc's own
    (``json``: ``ts``, ``level``, ``logger``, ``message`` and the fields); ``text`` is a readable line for a terminal."""

    def __init__(self, shape: str = "json", end: str = "") -> None:
        super().__init__()
        self.shape = shape
        self.end = end  # "\n" for the Lambda runtime's handler, whose text format ends every record with one

    def format(self, record: logging.LogRecord) -> str:
        try:
            return self._format(record) + self.end
        except Exception as exc:  # noqa: BLE001 - never lose the line: write what can be written
            return json.dumps({"level": record.levelname, "logger": record.name,
                               "message": logs.scrub_text(str(record.msg)[:logs.MAX_TEXT]),
                               "log_error": type(exc).__name__})

    def _format(self, record: logging.LogRecord) -> str:
        fields = extras(record)
        message = record.getMessage()
        if record.exc_text:
            fields.setdefault("traceback", record.exc_text)
        shape = self.shape
        if shape == "text":
            return _text_line(record, message, fields)
        out: dict[str, Any]
        if shape == "aws":  # the keys of Lambda's own JSON log format
            out = {"timestamp": self._iso(record), "level": record.levelname, "message": message,
                   "logger": record.name}
            request_id = getattr(record, "aws_request_id", None) or fields.get("request_id")
            fields.pop("request_id", None)
            if request_id:
                out["requestId"] = request_id
            fields.pop("aws_request_id", None)
            tenant = fields.pop("tenant_id", None)
            if tenant is not None:
                out["tenantId"] = tenant
        elif shape == "gcp":  # https://cloud.google.com/logging/docs/structured-logging
            out = {"severity": _GCP_SEVERITY.get(record.levelname, "DEFAULT"), "message": message,
                   "time": self._iso(record), "logger": record.name}
            trace_id = fields.get("trace_id")
            if trace_id:
                project = os.environ.get("GOOGLE_CLOUD_PROJECT") or os.environ.get("GCP_PROJECT")
                out["logging.googleapis.com/trace"] = f"projects/{project}/traces/{trace_id}" if project else trace_id
                if fields.get("span_id"):
                    out["logging.googleapis.com/spanId"] = fields["span_id"]
        else:
            out = {"ts": round(record.created, 3), "level": record.levelname, "logger": record.name,
                   "message": message}
        for key, value in fields.items():
            out.setdefault(key, value)
        return json.dumps(out, default=_unserialisable, ensure_ascii=False)

    @staticmethod
    def _iso(record: logging.LogRecord) -> str:
        return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z"


def _unserialisable(value: Any) -> str:
    return logs.scrub_text(str(value)[:logs.MAX_TEXT])


def _text_line(record: logging.LogRecord, message: str, fields: dict[str, Any]) -> str:
    """``12:00:01 INFO  shop.orders: paid order=42 [create_order 3f2a9c1e]`` — ids shortened, other fields as
    ``key=value``, a traceback on the lines below."""
    traceback = fields.pop("traceback", None)
    ids = [str(fields.pop(k))[:8] if k == "invocation_id" else str(fields.pop(k))
           for k in ("function", "invocation_id") if fields.get(k)]
    for key in ("correlation_id", "trace_id", "span_id", "request_id"):
        fields.pop(key, None)
    rest = " ".join(f"{k}={v if isinstance(v, (int, float)) else json.dumps(v, default=str, ensure_ascii=False)}"
                    for k, v in fields.items())
    line = f"{time.strftime('%H:%M:%S', time.localtime(record.created))} {record.levelname:<7} {record.name}: " \
           f"{message}" + (f" {rest}" if rest else "") + (f" [{' '.join(ids)}]" if ids else "")
    return line + (f"\n{traceback}" if traceback else "")


class StderrHandler(logging.Handler):
    """Writes to whatever ``sys.stderr`` is when the record is emitted (test capture, a redirected stream)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record)
            try:
                sys.stderr.write(line + "\n")
            except UnicodeEncodeError:
                sys.stderr.write(line.encode("utf-8", "backslashreplace").decode("utf-8") + "\n")
        except Exception:  # noqa: BLE001 - a broken stream must not fail the invocation
            pass


def _capture_only(handler: logging.Handler) -> bool:
    """pytest's capture handlers record, they do not write a log: they do not count as the platform's."""
    return type(handler).__module__.startswith("_pytest")


def _replaceable(handler: logging.Handler) -> bool:
    """A platform handler writing unstructured text: functions-framework's stream handlers (no formatter) and
    the Lambda runtime's handler in its text format."""
    if isinstance(handler, StderrHandler) or isinstance(handler.formatter, JsonFormatter):
        return False
    if handler.formatter is None:
        return isinstance(handler, logging.StreamHandler) and type(handler).__module__ == "logging"
    return type(handler).__module__.startswith("awslambdaric") and type(handler.formatter) is logging.Formatter


def install(shape: str | None = None) -> str | None:
    """Route every record through the invocation filter and a structured formatter (see the module docstring).
    Idempotent; returns the shape installed, or ``None`` when ``PORTAFUNC_LOGGING=off``."""
    global _installed
    if _installed is not None and (shape is None or shape == _installed):
        return _installed
    if os.environ.get("PORTAFUNC_LOGGING", "").strip().lower() in ("off", "0", "false", "no"):
        return None
    shape = shape or detect_shape()
    root = logging.getLogger()
    ours = [h for h in root.handlers if isinstance(h, StderrHandler)]
    platform = [h for h in root.handlers if not _capture_only(h) and h not in ours]
    the_filter = _the_filter()
    for handler in platform:
        if the_filter not in handler.filters:
            handler.addFilter(the_filter)
        if shape != "azure" and _replaceable(handler):
            lambda_runtime = type(handler).__module__.startswith("awslambdaric")
            handler.setFormatter(JsonFormatter(shape, "\n" if lambda_runtime else ""))
    if not platform:
        handler = ours[0] if ours else StderrHandler()
        handler.setFormatter(JsonFormatter(shape))
        if the_filter not in handler.filters:
            handler.addFilter(the_filter)
        if not ours:
            root.addHandler(handler)
    lambda_level = os.environ.get("AWS_LAMBDA_LOG_LEVEL", "").upper()
    if root.level == logging.WARNING and not lambda_level:  # Python's default, which no platform chose: the
        root.setLevel(_level_from_env() or logging.INFO)     # application's INFO lines would be dropped
    if shape == "aws" and lambda_level and not os.environ.get("PORTAFUNC_LOG_LEVEL"):
        logs.set_level(_LAMBDA_LEVELS.get(lambda_level, lambda_level))
    _installed = shape
    return shape


def _level_from_env() -> int | None:
    name = os.environ.get("LOG_LEVEL", "").upper()  # PORTAFUNC_LOG_LEVEL is portafunc's own, not the app's
    value = logging.getLevelName(name) if name else None
    return value if isinstance(value, int) else None


_filter: InvocationFilter | None = None


def _the_filter() -> InvocationFilter:
    global _filter
    if _filter is None:
        _filter = InvocationFilter()
    return _filter


def get_logger(name: str = "app") -> logging.Logger:
    """A stdlib logger whose records carry the invocation's ids: ``get_logger(__name__).info("paid",
    extra={"order": 42})`` writes one structured line with ``order`` as a field (installs the formatter first)."""
    install()
    return logging.getLogger(name)


_PORTAFUNC_KEYS = ("ts", "level", "logger", "message")


def handle(level: str, built: dict[str, Any]) -> bool:
    """Emit one of portafunc's own records (built and redacted by :func:`portafunc.logs.log`) through logger
    ``portafunc``; False if ``PORTAFUNC_LOGGING=off`` (the caller then writes it directly). Never raises."""
    try:
        if install() is None:
            return False
        logger = logging.getLogger(built.get("logger", "portafunc"))
        levelno = logging.getLevelName(level)
        levelno = levelno if isinstance(levelno, int) else logging.INFO
        if logger.disabled or (logger.level and levelno < logger.level):
            return True  # silenced by the application: its choice
        record = OwnRecord(logger.name, levelno, "", 0, built.get("message", ""), None, None)
        values = record.__dict__
        for key, value in built.items():
            if key not in _PORTAFUNC_KEYS:
                values[f"field_{key}" if key in _STANDARD else key] = value
        logger.handle(record)
        return True
    except Exception:  # noqa: BLE001 - the direct write is the fallback
        return False
