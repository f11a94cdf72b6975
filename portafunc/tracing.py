"""Trace context through every hop: read from what triggered the invocation, written onto what it sends.

Read (first found wins): W3C ``traceparent``/``tracestate``; AWS ``X-Amzn-Trace-Id`` (HTTP) and ``AWSTraceHeader``
(SQS system attribute); Google ``X-Cloud-Trace-Context``; Azure's legacy ``Request-Id`` (``|<trace>.<span>.``).
Messages carry them as attributes (SQS/SNS message attributes, Pub/Sub attributes, CloudEvents extensions).
Each invocation gets its own span id under the caller's trace, or a new trace when nothing came in; every message
sent through ``portafunc.topic()``/``queue()`` inside it carries ``traceparent`` (and the correlation id), so the
consuming handler continues the same trace.
"""

from __future__ import annotations

import re

from .context import new_id

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Mapping

_TRACEPARENT = re.compile(r"^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")
_AMZN_ROOT = re.compile(r"Root=1-([0-9a-fA-F]{8})-([0-9a-fA-F]{24})")
_AMZN_PARENT = re.compile(r"Parent=([0-9a-fA-F]{16})")
_AMZN_SAMPLED = re.compile(r"Sampled=([01])")
_CLOUD_TRACE = re.compile(r"^([0-9a-fA-F]{32})(?:/(\d{1,20}))?(?:;o=([01]))?")
_REQUEST_ID = re.compile(r"^\|([0-9a-f]{32})\.([0-9a-f]{16})\.")
_ZERO_TRACE = "0" * 32
_ZERO_SPAN = "0" * 16

# Request headers whose value identifies a request across services, in the order a correlation id is taken from.
CORRELATION_HEADERS = ("x-correlation-id", "x-request-id", "x-amzn-trace-id", "traceparent")

# The attributes :func:`outgoing` adds to a message, the most needed first: a backend whose broker caps the number of
# attributes keeps the caller's own and then as many of these as fit, in this order.
TRACE_ATTRIBUTES = ("traceparent", "correlation_id", "tracestate")


class Stamped(dict[str, str]):
    """Message attributes with trace attributes portafunc added; ``added`` names those (the caller's own are the
    others), so a backend whose broker caps the count can give the caller's own the room first."""

    __slots__ = ("added",)
    added: tuple[str, ...]


def added(attributes: Mapping[str, str] | None) -> tuple[str, ...]:
    """The names in ``attributes`` that portafunc added (:class:`Stamped`); none for attributes built any other way,
    which are all the caller's own."""
    if not isinstance(attributes, Stamped):
        return ()
    return tuple(name for name in getattr(attributes, "added", ()) if name in attributes)  # none on a bare copy


def add(attributes: Mapping[str, str] | None, extra: Mapping[str, str]) -> Stamped:
    """``attributes`` with ``extra`` set on them, the names of ``extra`` counted as added (as are those
    ``attributes`` had as added already)."""
    out = Stamped(attributes) if attributes else Stamped()
    out.update(extra)
    before = added(attributes)
    out.added = before + tuple(name for name in extra if name not in before)
    return out


class TraceContext:
    """One invocation's place in a trace: the trace id, the caller's span id (``parent_id``, if any), this
    invocation's own ``span_id``, the sampled flag and the vendor ``tracestate``."""

    __slots__ = ("trace_id", "parent_id", "span_id", "sampled", "state")

    def __init__(self, trace_id: str, parent_id: str | None, span_id: str, sampled: bool = True,
                 state: str | None = None) -> None:
        self.trace_id = trace_id
        self.parent_id = parent_id
        self.span_id = span_id
        self.sampled = sampled
        self.state = state

    def traceparent(self) -> str:
        """The W3C ``traceparent`` naming this invocation's span as the parent of what it sends."""
        return f"00-{self.trace_id}-{self.span_id}-{'01' if self.sampled else '00'}"

    def __repr__(self) -> str:
        return f"TraceContext({self.traceparent()}, parent={self.parent_id})"


def _parent(trace_id: str, parent_id: str | None, sampled: bool, state: str | None) -> TraceContext | None:
    if trace_id == _ZERO_TRACE or parent_id == _ZERO_SPAN:
        return None  # invalid by the W3C rules: start a new trace instead
    return TraceContext(trace_id, parent_id, "", sampled, state)


def parse_traceparent(value: str, state: str | None = None) -> TraceContext | None:
    match = _TRACEPARENT.match(value.strip().lower())
    if match is None or match.group(1) == "ff":
        return None
    return _parent(match.group(2), match.group(3), int(match.group(4), 16) & 1 == 1, state)


def parse_amzn(value: str) -> TraceContext | None:
    """``Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1`` (X-Ray's header)."""
    root = _AMZN_ROOT.search(value)
    if root is None:
        return None
    parent = _AMZN_PARENT.search(value)
    sampled = _AMZN_SAMPLED.search(value)
    return _parent((root.group(1) + root.group(2)).lower(), parent.group(1).lower() if parent else None,
                   sampled is None or sampled.group(1) == "1", None)


def parse_cloud_trace(value: str) -> TraceContext | None:
    """``TRACE_ID/SPAN_ID;o=1`` (Google's header; the span id is decimal)."""
    match = _CLOUD_TRACE.match(value.strip())
    if match is None:
        return None
    span = match.group(2)
    parent = f"{int(span) & 0xFFFFFFFFFFFFFFFF:016x}" if span else None
    return _parent(match.group(1).lower(), parent, match.group(3) != "0", None)


def parse_request_id(value: str) -> TraceContext | None:
    """Azure's legacy hierarchical ``Request-Id``: ``|<32 hex>.<16 hex>.``."""
    match = _REQUEST_ID.match(value.strip().lower())
    return None if match is None else _parent(match.group(1), match.group(2), True, None)


def from_headers(headers: Any) -> TraceContext | None:
    """The caller's trace context from HTTP headers (``Headers`` or any mapping with case-insensitive ``get``)."""
    value = headers.get("traceparent")
    if value:
        return parse_traceparent(value, headers.get("tracestate"))
    value = headers.get("x-amzn-trace-id")
    if value:
        return parse_amzn(value)
    value = headers.get("x-cloud-trace-context")
    if value:
        return parse_cloud_trace(value)
    value = headers.get("request-id")
    return parse_request_id(value) if value else None


def from_attributes(attributes: Mapping[str, str] | None) -> TraceContext | None:
    """The producer's trace context from message attributes / CloudEvents extensions."""
    if not attributes:
        return None
    value = attributes.get("traceparent") or attributes.get("googclient_traceparent")
    if value:
        return parse_traceparent(value, attributes.get("tracestate"))
    value = attributes.get("AWSTraceHeader")
    return parse_amzn(value) if value else None


def from_message(attributes: Mapping[str, str] | None, native: Any) -> TraceContext | None:
    """From a message's attributes, else from the X-Ray header Lambda puts on an SQS record as the system attribute
    ``AWSTraceHeader`` (``native`` is the record as delivered)."""
    found = from_attributes(attributes)
    if found is None and isinstance(native, dict):
        system = native.get("attributes")
        if isinstance(system, dict) and isinstance(system.get("AWSTraceHeader"), str):
            return parse_amzn(system["AWSTraceHeader"])
    return found


_otel: Any = None
"""portafunc.otel's Instrumentation while OpenTelemetry is on: the invocation's ids are then those of its span."""


def begin(parent: TraceContext | None) -> TraceContext:
    """This invocation's span: a child of ``parent``, or the root of a new trace (with OpenTelemetry on: the
    invocation's OpenTelemetry span)."""
    if _otel is not None:
        found: TraceContext | None = _otel.trace_context()
        if found is not None:
            return found
    # random ids from the block invocation ids are taken from (one urandom read per 64): a read per span cost about
    # as much as the rest of a failing message's log line
    if parent is None:
        return TraceContext(new_id(), None, new_id()[:16])
    return TraceContext(parent.trace_id, parent.parent_id, new_id()[:16], parent.sampled, parent.state)


def outgoing(attributes: dict[str, str] | None) -> dict[str, str] | None:
    """``attributes`` plus ``traceparent``/``tracestate`` and ``correlation_id`` of the running invocation (those the
    caller set are kept), as :class:`Stamped` naming what was added; unchanged outside an invocation."""
    from .context import current

    ctx = current()
    trace = getattr(ctx, "trace", None)
    if ctx is None or trace is None:
        return attributes
    extra = {"traceparent": trace.traceparent(), "correlation_id": ctx.correlation_id}
    if trace.state:
        extra["tracestate"] = trace.state
    return with_trace(attributes, extra)


def with_trace(attributes: Mapping[str, str] | None, extra: Mapping[str, str]) -> Stamped:
    """``attributes`` plus the trace attributes of ``extra`` the caller did not set: a caller's own ``traceparent``
    keeps its own ``tracestate`` (or none), and a correlation id in either spelling is the caller's. One rule for a
    single send and for each message of a batch."""
    own = attributes or {}
    missing: dict[str, str] = {}
    if "traceparent" not in own:
        for name in ("traceparent", "tracestate"):
            if name in extra and name not in own:
                missing[name] = extra[name]
    if "correlation_id" in extra and "correlation_id" not in own and "correlation-id" not in own:
        missing["correlation_id"] = extra["correlation_id"]
    return add(attributes, missing)
