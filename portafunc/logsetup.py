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
import json.encoder as _json_encoder
import logging
import os
import sys
import threading
import time

from . import logs
from .caches import keep
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
    _add_late_ids(ctx, values)


def _add_late_ids(ctx: Any, values: dict[str, Any]) -> None:
    """The trace ids and the cloud's request id of the running invocation (``ctx``), unless already set."""
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
        values = record.__dict__
        own = values.get("_portafunc_fields")
        if own is None:
            fields = extras(record)
        else:  # own records list their fields (no scan of the record); the filter added the trace ids after
            fields = dict(own)
            for key in _LATE_IDS:
                if key in values:
                    fields.setdefault(key, values[key])
        message = record.getMessage()
        if record.exc_text:
            fields.setdefault("traceback", record.exc_text)
        if self.shape == "text":
            return _text_line(record, message, fields)
        return self.line(record.name, record.levelname, record.created, message, fields,
                         getattr(record, "aws_request_id", None))

    def line(self, name: str, levelname: str, created: float, message: str, fields: dict[str, Any],
             aws_request_id: Any = None) -> str:
        """The JSON line of a record given by its parts (``fields`` is consumed); ``text`` is not built here."""
        shape = self.shape
        out: dict[str, Any]
        if shape == "aws":  # the keys of Lambda's own JSON log format
            out = {"timestamp": _iso(created), "level": levelname, "message": message, "logger": name}
            request_id = aws_request_id or fields.get("request_id")
            fields.pop("request_id", None)
            if request_id:
                out["requestId"] = request_id
            fields.pop("aws_request_id", None)
            tenant = fields.pop("tenant_id", None)
            if tenant is not None:
                out["tenantId"] = tenant
        elif shape == "gcp":  # https://cloud.google.com/logging/docs/structured-logging
            out = {"severity": _GCP_SEVERITY.get(levelname, "DEFAULT"), "message": message,
                   "time": _iso(created), "logger": name}
            trace_id = fields.get("trace_id")
            if trace_id:
                project = os.environ.get("GOOGLE_CLOUD_PROJECT") or os.environ.get("GCP_PROJECT")
                out["logging.googleapis.com/trace"] = f"projects/{project}/traces/{trace_id}" if project else trace_id
                if fields.get("span_id"):
                    out["logging.googleapis.com/spanId"] = fields["span_id"]
        else:
            out = {"ts": round(created, 3), "level": levelname, "logger": name, "message": message}
        for key, value in fields.items():
            out.setdefault(key, value)
        return _encode(out)

_LATE_IDS = ("trace_id", "span_id", "request_id")


def _iso(created: float) -> str:
    """``2026-01-02T03:04:05.678Z``: the second's text is remembered (lines come in bursts), and so is each
    millisecond's ``.678Z`` (formatting three digits costs more than the rest of the timestamp)."""
    second = int(created)
    last = _last_second
    if last[0] != second:
        last[1] = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        last[0] = second
    milli = int((created - second) * 1000)
    tail = _millis[milli]
    if tail is None:
        tail = _millis[milli] = f".{milli:03d}Z"
    return last[1] + tail


_last_second: list[Any] = [None, ""]
_millis: list[str | None] = [None] * 1000


def _unserialisable(value: Any) -> str:
    return logs.scrub_text(str(value)[:logs.MAX_TEXT])


_encode = logs.encode  # one JSON line: the same encoder as portafunc's direct writes


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
            self._write(self.format(record))
        except Exception:  # noqa: BLE001 - a broken stream must not fail the invocation
            pass

    def write_line(self, line: str) -> None:
        """Write an already formatted line, under the handler's lock like ``handle`` would. Never raises."""
        try:
            with self.lock:  # type: ignore[union-attr]  # created by Handler.__init__
                try:
                    sys.stderr.write(line + "\n")
                except UnicodeEncodeError:
                    sys.stderr.write(line.encode("utf-8", "backslashreplace").decode("utf-8") + "\n")
        except Exception:  # noqa: BLE001 - a broken stream must not fail the invocation
            pass

    @staticmethod
    def _write(line: str) -> None:
        try:
            sys.stderr.write(line + "\n")
        except UnicodeEncodeError:
            sys.stderr.write(line.encode("utf-8", "backslashreplace").decode("utf-8") + "\n")


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
_LEVELS = {"DEBUG": logging.DEBUG, "INFO": logging.INFO, "WARNING": logging.WARNING, "ERROR": logging.ERROR,
           "CRITICAL": logging.CRITICAL}


def handle(level: str, message: str, ctx: Any, fields: dict[str, Any]) -> bool:
    """Emit one of portafunc's own records through logger ``portafunc``: ``message`` and ``fields`` as
    :func:`portafunc.logs.log` was given them (scrubbed and redacted here, as that function would: the one-pass line
    does it while it writes), ``ctx`` the running invocation or None. False if ``PORTAFUNC_LOGGING=off`` (the caller
    then writes it directly). Never raises."""
    try:
        if _installed is None and install(_shape_of(ctx)) is None:
            return False
        logger = _own_logger or _get_own_logger()
        levelno = _LEVELS.get(level, logging.INFO)
        if logger.disabled or (logger.level and levelno < logger.level):
            return True  # silenced by the application: its choice
        only = _sole_listener(logger, levelno)
        if only is None:
            logger.handle(_own_record(logger.name, levelno, logs.scrub_text(message), ctx, logs.redact(fields)))
        else:  # the record's only destination is our own handler: its line, without building a record
            only.write_line(_own_line(only, logger.name, levelno, message, ctx, fields))
        return True
    except Exception:  # noqa: BLE001 - the direct write is the fallback
        return False


def _shape_of(ctx: Any) -> str | None:
    """The shape of the invocation's target when this first line sets logging up (a process that had not loaded
    ``logging`` before it), as the invocation's own set-up would choose it: the next lines keep the same shape."""
    target = getattr(ctx, "target", None)
    return target if target in SHAPES else None


_PROCESS: dict[str, Any] = {}
_own_logger: logging.Logger | None = None


def _get_own_logger() -> logging.Logger:
    """Logger ``portafunc``, looked up once (``getLogger`` takes the logging module's lock on every call)."""
    global _own_logger
    _own_logger = logging.getLogger("portafunc")
    return _own_logger


def _own_fields(ctx: Any, fields: dict[str, Any]) -> dict[str, Any]:
    """The invocation's ids, then the line's fields (a field named like a LogRecord attribute gets ``field_``)."""
    out: dict[str, Any] = {}
    if ctx is not None:
        out["invocation_id"] = ctx.invocation_id
        out["correlation_id"] = ctx.correlation_id
        out["function"] = ctx.function
    for key, value in fields.items():
        if key in _STANDARD:
            key = f"field_{key}"
        if key not in out:
            out[key] = value
    return out


def _own_record(name: str, levelno: int, message: str, ctx: Any, fields: dict[str, Any]) -> OwnRecord:
    """A record with every standard attribute a handler or formatter reads, set in one step: ``LogRecord.__init__``
    works out the caller's file, thread and process names per record, which costs more than the line it describes.
    The fields go in as attributes (platform formatters write every extra attribute) and, listed, as
    ``_portafunc_fields`` (so :class:`JsonFormatter` does not scan the record)."""
    if not _PROCESS:
        sample = logging.LogRecord("", 0, "", 0, "", None, None)
        _PROCESS.update(pathname="", filename="", module="", lineno=0, funcName=None, args=None, exc_info=None,
                        exc_text=None, stack_info=None, process=sample.process, processName=sample.processName,
                        taskName=None)
    now = time.time()
    own = _own_fields(ctx, fields)
    record = OwnRecord.__new__(OwnRecord)
    values = record.__dict__
    values.update(_PROCESS)
    values.update(own)
    values.update(name=name, msg=message, levelno=levelno, levelname=logging.getLevelName(levelno),
                  created=now, msecs=int(now * 1000) % 1000, relativeCreated=(now - _START) * 1000,
                  thread=threading.get_ident(), threadName=threading.current_thread().name,
                  _portafunc_fields=own)
    return record


_START = getattr(logging, "_startTime", time.time())


def _own_line(handler: StderrHandler, name: str, levelno: int, message: str, ctx: Any,
              fields: dict[str, Any]) -> str:
    """The line ``handler`` would write for this record — the same fields, ids and shape — built directly
    (``message`` and ``fields`` not scrubbed yet)."""
    formatter = handler.formatter
    assert isinstance(formatter, JsonFormatter)  # checked by _sole_listener
    if formatter.shape == "text":
        record = _own_record(name, levelno, logs.scrub_text(message), ctx, logs.redact(fields))
        _the_filter().filter(record)
        return formatter.format(record)
    levelname = _LEVEL_NAMES.get(levelno) or logging.getLevelName(levelno)
    try:
        now = time.time()
        line = _plain_line(formatter.shape, name, levelname, now, message, ctx, fields)
        if line is None:
            line = _general_line(formatter, name, levelname, now, logs.scrub_text(message), ctx,
                                 logs.redact(fields))
        return line + formatter.end
    except Exception as exc:  # noqa: BLE001 - never lose the line: write what can be written
        return json.dumps({"level": levelname, "logger": name, "message": logs.scrub_text(str(message)[:logs.MAX_TEXT]),
                           "log_error": type(exc).__name__})


def _general_line(formatter: JsonFormatter, name: str, levelname: str, now: float, message: str, ctx: Any,
                  fields: dict[str, Any]) -> str:
    """The line of :meth:`JsonFormatter.line` for portafunc's own record: ids, fields (renamed where they clash with
    a LogRecord attribute), late ids, then the shape's rules."""
    own = _own_fields(ctx, fields)
    if ctx is not None:
        _add_late_ids(ctx, own)
    return formatter.line(name, levelname, now, message, own)


_LEVEL_NAMES = {logging.DEBUG: "DEBUG", logging.INFO: "INFO", logging.WARNING: "WARNING", logging.ERROR: "ERROR",
                logging.CRITICAL: "CRITICAL"}
# Field names :func:`_general_line` treats specially in some shape (renamed, moved to the head, taken by an id):
# a line with none of them is built by :func:`_plain_line` in one pass.
_NOT_PLAIN = _STANDARD | {"invocation_id", "correlation_id", "function", "trace_id", "span_id", "request_id",
                          "aws_request_id", "tenant_id", "ts", "timestamp", "level", "logger", "requestId", "tenantId"}


def _plain_line(shape: str, name: str, levelname: str, now: float, message: str, ctx: Any,
                fields: dict[str, Any]) -> str | None:
    """:func:`_general_line`'s result, for ``message`` scrubbed and ``fields`` redacted as :func:`portafunc.logs.log`
    does, in the ``aws`` and ``json`` shapes when no field name needs its special rules (the usual case: the
    pipeline's own fields), written in the line's order in one pass; None otherwise.
    ``tests/core/test_log_direct_path.py`` runs both on the same inputs.

    The line is joined from ``"key": value`` pieces rather than encoded as one dictionary: a key's text and the
    line's head (level, message, logger) are encoded once and remembered, a text value is looked up among the texts
    known clean and escaped by one C call, and only other values are redacted and go through the JSON encoder (whose
    per-item work made it most of a failure's line). The redaction is :func:`portafunc.logs.redact`'s, field by field
    as the line is written: no redacted copy of the fields is built first."""
    if not fields.keys().isdisjoint(_NOT_PLAIN):
        return None
    if shape == "aws":
        head = _heads.get((levelname, message, name))
        if head is None:
            head = _head(levelname, message, name)
        parts = ['{"timestamp": "' + _iso(now) + head]
    elif shape == "json":
        parts = ['{"ts": ' + _value(round(now, 3)) + ', "level": ' + _value(levelname) + ', "logger": ' + _value(name)
                 + ', "message": ' + _value(logs.scrub_text(message))]
    else:
        return None
    append = parts.append
    request_id = None
    if ctx is not None:
        native = ctx.native_context
        request_id = getattr(native, "aws_request_id", None) or getattr(native, "invocation_id", None)
        if shape == "aws" and request_id and isinstance(request_id, str):
            append('"requestId": ' + _escape(request_id))
        ids = ctx.invocation_id, ctx.correlation_id, ctx.function
        if ids[0].__class__ is str and ids[1].__class__ is str and ids[2].__class__ is str:
            append('"invocation_id": ' + _escape(ids[0]) + ', "correlation_id": ' + _escape(ids[1])
                   + ', "function": ' + _escape(ids[2]))
        else:
            append('"invocation_id": ' + _value(ids[0]))
            append('"correlation_id": ' + _value(ids[1]))
            append('"function": ' + _value(ids[2]))
    keys, clean, scrub, max_text = _keys, logs._clean, logs.scrub_text, logs.MAX_TEXT
    for key, value in fields.items():
        piece = keys.get(key)  # only names that do not look secret are remembered
        if piece is None:
            piece = _key(key)
            if logs._secret_names[key]:
                append(piece + _REDACTED)
                continue
        kind = value.__class__
        if kind is str and len(value) <= max_text:
            append(piece + _escape(value if value in clean else scrub(value)))
        elif kind is int:
            append(piece + int.__repr__(value))
        elif kind is _Redacted:  # redacted and encoded ahead
            append(piece + value.json)
        elif kind is dict and (text := _text_dict(value)) is not None:  # e.g. a message's attributes
            append(piece + text)
        else:  # containers, other scalars and objects: as redact() leaves them, through the JSON encoder
            append(piece + _value(logs.redact(value, 1)))
    if ctx is not None:
        trace = getattr(ctx, "trace", None)
        if trace is not None:
            trace_id, span_id = trace.trace_id, trace.span_id
            if trace_id.__class__ is str and span_id.__class__ is str:
                append('"trace_id": ' + _escape(trace_id) + ', "span_id": ' + _escape(span_id))
            else:
                append('"trace_id": ' + _value(trace_id))
                append('"span_id": ' + _value(span_id))
        if shape == "json" and isinstance(request_id, str):
            append('"request_id": ' + _escape(request_id))
    return ", ".join(parts) + "}"


def _text_dict(value: dict[Any, Any]) -> str | None:
    """A dict of texts (a message's attributes) redacted and written as the JSON encoder writes it, in one loop:
    a secret-looking name's value as ``[REDACTED]``, a text looked up among those known clean; None for any other
    dict (nested values, other keys, long text), which goes through :func:`portafunc.logs.redact` and the encoder."""
    if not value:
        return "{}"
    clean, keys, max_text = logs._clean, _keys, logs.MAX_TEXT
    parts = []
    for key, item in value.items():
        if item.__class__ is not str or len(item) > max_text:
            return None
        piece = keys.get(key)  # a field name's piece: the same text for an attribute's name
        if piece is None:
            if key.__class__ is not str:
                return None
            piece = _key(key)
            if logs._secret_names[key]:
                parts.append(piece + _REDACTED)
                continue
        parts.append(piece + _escape(item if item in clean else logs.scrub_text(item)))
    return "{" + ", ".join(parts) + "}"


def _value(value: Any) -> str:
    """One value as the line's JSON encoder writes it inside the line."""
    kind = value.__class__
    if kind is str:
        return _escape(value)
    if kind is int:
        return int.__repr__(value)
    return _encode(value)


def _key(key: str) -> str:
    """``"key": `` for a field name, remembered when the name does not look secret (field names repeat: the
    pipeline's own, an application's)."""
    text = _escape(key) + ": "
    if not logs._secret_names[key]:
        keep(_keys, key, text, 4096)
    return text


def _head(levelname: str, message: str, name: str) -> str:
    """The rest of an ``aws`` line's head after the timestamp's text, for (level, message as given, logger): the
    message scrubbed, remembered for the messages portafunc writes again and again."""
    text = f'", "level": {_value(levelname)}, "message": {_value(logs.scrub_text(message))}, "logger": {_value(name)}'
    return keep(_heads, (levelname, message, name), text, 256)


_escape: Any = _json_encoder.encode_basestring  # the escape the C encoder applies to text (ensure_ascii=False)
_REDACTED = _escape(logs.REDACTED)
_Redacted = logs.Redacted
_keys: dict[str, str] = {}
_heads: dict[tuple[str, str, str], str] = {}


def _sole_listener(logger: logging.Logger, levelno: int) -> StderrHandler | None:
    """portafunc's own stderr handler when it is the only place the record can go (no other handler on the way to
    the root, no logger filter, nothing disabled): then the record skips the logger tree's walk."""
    root = logging.root
    if logger.handlers or logger.filters or not logger.propagate or root.filters or len(root.handlers) != 1:
        return None
    if logger is not root and logger.parent is not root:
        return None
    handler = root.handlers[0]
    if type(handler) is not StderrHandler or handler.filters != [_filter] or levelno < handler.level:
        return None
    if type(handler.formatter) is not JsonFormatter:
        return None
    if root.manager.disable >= levelno:
        return None
    return handler
