"""OpenTelemetry spans and metrics around every invocation, when the application has set OpenTelemetry up.

``pip install portafunc[otel]`` adds ``opentelemetry-api`` only; the SDK, exporters and distros are the application's
choice. Turned on, portafunc creates:

* one span per invocation: an HTTP ``SERVER`` span (``POST /orders``) with the HTTP semantic-convention attributes,
  a messaging ``CONSUMER`` span per message (``process orders``) whose parent is the producer's span named by the
  message's ``traceparent``, a ``SERVER`` span per storage or schedule event; each with ``faas.trigger``,
  ``faas.coldstart``, ``faas.invocation_id``, ``faas.name``, ``cloud.provider`` and ``cloud.region``;
* a ``PRODUCER`` span per ``portafunc.topic().publish`` / ``queue().send`` (and their batches), whose context is the
  ``traceparent`` the message carries;
* failures recorded: status ``ERROR``, an ``exception`` event, ``error.type``;
* metrics: ``faas.invocations``, ``faas.errors``, ``faas.invoke_duration`` (s), ``faas.coldstarts``,
  ``portafunc.batch.size`` and ``portafunc.messages.dead_lettered``.

When it is on (decided once, at the first invocation): ``PORTAFUNC_OTEL=on`` always (spans go to whatever provider
is set, even later); ``PORTAFUNC_OTEL=off`` never; otherwise (``auto``) when OpenTelemetry is already imported and a
tracer or meter provider other than the API's default is set — what every distro and ``opentelemetry-instrument``
do before the handler's module runs — or when ``OTEL_TRACES_EXPORTER``/``OTEL_METRICS_EXPORTER`` names an exporter
(the SDK is then set up from the ``OTEL_*`` variables by opentelemetry-distro). :func:`instrument` turns it on with
explicit providers.

The pipeline holds one reference, ``None`` while this is off: the hot path pays one ``is None`` check, and this
module is never imported unless it is on (whether a provider is set is asked through :mod:`portafunc.otel_probe`,
so an app whose libraries merely load the API does not pay for it).
"""

from __future__ import annotations

import os
import time
from typing import Any, Callable

try:
    from opentelemetry import context as otel_context
    from opentelemetry import metrics, trace
    from opentelemetry.trace import (Link, NonRecordingSpan, SpanContext, SpanKind, Status, StatusCode, TraceFlags,
                                     TraceState)
except ImportError as exc:  # pragma: no cover - exercised by the cold start tests' subprocess without the API
    raise ImportError("portafunc.otel needs the OpenTelemetry API: pip install 'portafunc[otel]'") from exc

from . import __version__
from .events import settled_scheme
from .otel_probe import configured, exporter_named
from .tracing import TraceContext, add, from_headers, from_message, outgoing

_SERVER, _CONSUMER, _PRODUCER = SpanKind.SERVER, SpanKind.CONSUMER, SpanKind.PRODUCER
_INVOCATION_SPAN = otel_context.create_key("portafunc-invocation-span")
_OFF = ("off", "0", "false", "no")

_TRIGGERS = {"http": "http", "queue": "pubsub", "topic": "pubsub", "storage": "datasource", "schedule": "timer"}
_PROVIDERS = {"aws": "aws", "azure": "azure", "gcp": "gcp"}
_REGION_VARIABLES = {"aws": ("AWS_REGION", "AWS_DEFAULT_REGION"), "azure": ("REGION_NAME",),
                     "gcp": ("FUNCTION_REGION", "GOOGLE_CLOUD_REGION")}
# messaging.system: the semantic conventions' names where one exists (Azure Storage Queue and portafunc's memory
# broker have none).
_CONSUMED_FROM = {("aws", "queue"): "aws_sqs", ("aws", "topic"): "aws.sns", ("gcp", "queue"): "gcp_pubsub",
                  ("gcp", "topic"): "gcp_pubsub", ("azure", "queue"): "azure_storage_queue",
                  ("azure", "topic"): "eventgrid"}
_SENT_TO = {"sqs": "aws_sqs", "sns": "aws.sns", "pubsub": "gcp_pubsub", "azqueue": "azure_storage_queue",
            "eventgrid": "eventgrid", "memory": "portafunc_memory"}
_METHODS = frozenset(("GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"))


class Instrumentation:
    """The spans and instruments portafunc records, from one tracer provider and one meter provider (the global ones
    when not given)."""

    def __init__(self, tracer_provider: Any = None, meter_provider: Any = None) -> None:
        self.tracer = trace.get_tracer("portafunc", __version__, tracer_provider=tracer_provider)
        meter = metrics.get_meter("portafunc", __version__, meter_provider=meter_provider)
        self.invocations = meter.create_counter("faas.invocations", "{invocation}",
                                                "Invocations: HTTP requests, messages, events")
        self.errors = meter.create_counter("faas.errors", "{error}",
                                           "Failed invocations: HTTP 5xx, messages not processed, events failed")
        self.duration = meter.create_histogram("faas.invoke_duration", "s", "Duration of an invocation")
        self.coldstarts = meter.create_counter("faas.coldstarts", "{coldstart}", "Cold starts")
        self.batch_size = meter.create_histogram("portafunc.batch.size", "{message}",
                                                 "Messages per batch delivered to a function")
        self.dead_lettered = meter.create_counter("portafunc.messages.dead_lettered", "{message}",
                                                  "Messages forwarded to the function's dead-letter queue")
        self._cold = True

    # -- invocations --------------------------------------------------------------------------------------------
    def _start(self, name: str, kind: SpanKind, spec: Any, target: str, inv_id: str, parent: Any,
               attributes: dict[str, Any], links: list[Link] | None = None) -> Open:
        trigger = _TRIGGERS.get(spec.kind, "other")
        attributes["faas.trigger"] = trigger
        attributes["faas.invocation_id"] = inv_id
        attributes["faas.name"] = spec.name
        attributes["faas.coldstart"] = cold = self._cold
        provider = _PROVIDERS.get(target)
        if provider is not None:
            attributes["cloud.provider"] = provider
            region = _region(target)
            if region:
                attributes["cloud.region"] = region
        if cold:
            self._cold = False
            self.coldstarts.add(1, {"faas.trigger": trigger, "faas.name": spec.name})
        span = self.tracer.start_span(name, parent, kind, attributes, links)
        token = otel_context.attach(otel_context.set_value(_INVOCATION_SPAN, span, trace.set_span_in_context(span,
                                                                                                             parent)))
        return Open(span, token, {"faas.trigger": trigger, "faas.name": spec.name})

    def http_start(self, spec: Any, req: Any, target: str, inv_id: str) -> Open:
        headers = req.headers
        route = spec.trigger.route.template
        method = req.method if req.method in _METHODS else "_OTHER"
        attributes: dict[str, Any] = {"http.request.method": method, "url.path": req.path, "http.route": route,
                                      "url.scheme": _scheme(req, target)}
        host = headers.get("host")
        if host:
            attributes["server.address"] = _host(host)
        agent = headers.get("user-agent")
        if agent:
            attributes["user_agent.original"] = agent[:256]
        return self._start(f"{method} {route}" if method != "_OTHER" else f"HTTP {route}", _SERVER, spec, target,
                           inv_id, _remote_parent(from_headers(headers), True), attributes)

    def http_end(self, open_: Open, status: int) -> None:
        span = open_.span
        span.set_attribute("http.response.status_code", status)
        failed = status >= 500
        if failed:
            if open_.error_type is None:
                span.set_attribute("error.type", str(status))
            span.set_status(Status(StatusCode.ERROR))
        self._end(open_, failed)

    def message_start(self, spec: Any, msg: Any, target: str, inv_id: str) -> Open:
        trigger = spec.trigger
        destination = getattr(trigger, "queue", None) or getattr(trigger, "topic", "")
        attributes: dict[str, Any] = {
            "messaging.system": _CONSUMED_FROM.get((target, spec.kind), "portafunc_memory"),
            "messaging.operation.type": "process", "messaging.operation.name": "process",
            "messaging.destination.name": destination, "messaging.message.id": msg.id,
            "messaging.message.body.size": len(msg.data)}
        producer = _remote_parent(from_message(msg.attributes, msg.native), False)
        links = None
        if producer is not None:  # the message's producer is the parent; a host's own span around us, a link
            enclosing = trace.get_current_span().get_span_context()
            if enclosing.is_valid:
                links = [Link(enclosing)]
        return self._start(f"process {destination}", _CONSUMER, spec, target, inv_id, producer, attributes, links)

    def message_end(self, open_: Open, outcome: str) -> None:
        span = open_.span
        span.set_attribute("portafunc.outcome", outcome)
        failed = outcome != "success"
        if failed:
            span.set_status(Status(StatusCode.ERROR, outcome))
            if open_.error_type is None:
                span.set_attribute("error.type", outcome)
            if outcome == "dead_lettered":
                self.dead_lettered.add(1, open_.metric_attributes)
        self._end(open_, failed)

    def event_start(self, spec: Any, event: Any, target: str, inv_id: str) -> Open:
        attributes: dict[str, Any] = {}
        if spec.kind == "storage":
            attributes["faas.document.collection"] = event.bucket
            attributes["faas.document.name"] = event.key
            attributes["faas.document.operation"] = {"created": "insert", "deleted": "delete"}.get(event.kind, "edit")
        when = getattr(event, "time", None)
        if when is not None:
            attributes["faas.time"] = when.isoformat()
        return self._start(spec.name, _SERVER, spec, target, inv_id, None, attributes)

    def failed(self, open_: Open, exc: BaseException) -> None:
        """Record a handler's exception on the invocation's span (its status follows from the outcome)."""
        open_.error_type = f"{type(exc).__module__}.{type(exc).__qualname__}"
        open_.span.set_attribute("error.type", open_.error_type)
        open_.span.record_exception(exc)

    def batch_end(self, spec: Any, target: str, size: int) -> None:
        self.batch_size.record(size, {"faas.name": spec.name, "faas.trigger": "pubsub",
                                      "messaging.system": _CONSUMED_FROM.get((target, spec.kind), "portafunc_memory")})

    def _end(self, open_: Open, failed: bool) -> None:
        try:
            otel_context.detach(open_.token)
        finally:
            open_.span.end()
            attributes = open_.metric_attributes
            self.invocations.add(1, attributes)
            if failed:
                self.errors.add(1, attributes)
            self.duration.record(time.perf_counter() - open_.started, attributes)

    # -- what handlers send -------------------------------------------------------------------------------------
    def send(self, backend: Any, operation: str, count: int, run: Callable[[], Any]) -> Any:
        """Run ``run`` (the backend's publish/send) inside a PRODUCER span; ``stamp`` gives it the attributes."""
        destination = getattr(backend, "name", "") or ""
        attributes: dict[str, Any] = {
            "messaging.system": _SENT_TO.get(getattr(backend, "_portafunc_scheme", ""), "other"),
            "messaging.operation.type": "send", "messaging.operation.name": operation,
            "messaging.destination.name": destination}
        if count != 1:
            attributes["messaging.batch.message_count"] = count
        span = self.tracer.start_span(f"{operation} {destination}", None, _PRODUCER, attributes)
        token = otel_context.attach(trace.set_span_in_context(span))
        try:
            result = run()
            if isinstance(result, str):
                span.set_attribute("messaging.message.id", result)
            return result
        except BaseException as exc:
            span.set_attribute("error.type", f"{type(exc).__module__}.{type(exc).__qualname__}")
            span.record_exception(exc)
            span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
            raise
        finally:
            otel_context.detach(token)
            span.end()

    @staticmethod
    def stamp(attributes: dict[str, str] | None) -> dict[str, str] | None:
        """``attributes`` with the invocation's correlation id (:func:`portafunc.tracing.outgoing`) and the current
        span — the PRODUCER span around the send — as ``traceparent``; a ``traceparent`` the caller set is kept."""
        out = outgoing(attributes)
        if attributes and "traceparent" in attributes:
            return out
        found = trace.get_current_span().get_span_context()
        if not found.is_valid:
            return out
        extra = {"traceparent": f"00-{found.trace_id:032x}-{found.span_id:016x}-{int(found.trace_flags) & 1:02x}"}
        state = found.trace_state.to_header()
        if state:
            extra["tracestate"] = state
        return add(out, extra)

    # -- portafunc.tracing ---------------------------------------------------------------------------------------
    @staticmethod
    def trace_context() -> TraceContext | None:
        """The running invocation's TraceContext from its span (so log lines and sent messages name the span a
        trace backend shows), or None outside one."""
        span: Any = otel_context.get_value(_INVOCATION_SPAN)
        if span is None:
            return None
        found = span.get_span_context()
        if not found.is_valid:
            return None
        parent = getattr(span, "parent", None)  # the SDK's spans know their parent; the API's do not
        parent_id = f"{parent.span_id:016x}" if parent is not None and parent.is_valid else None
        return TraceContext(f"{found.trace_id:032x}", parent_id, f"{found.span_id:016x}",
                            found.trace_flags.sampled, found.trace_state.to_header() or None)


class Open:
    """An invocation's span while it runs: the span, the context token to detach, when it started."""

    __slots__ = ("span", "token", "started", "metric_attributes", "error_type")

    def __init__(self, span: Any, token: Any, metric_attributes: dict[str, str]) -> None:
        self.span = span
        self.token = token
        self.started = time.perf_counter()
        self.metric_attributes = metric_attributes
        self.error_type: str | None = None


def _remote_parent(parent: TraceContext | None, keep_enclosing: bool) -> Any:
    """The OpenTelemetry context to start an invocation's span in: a span already current (a host's own
    instrumentation around portafunc) when ``keep_enclosing``, else the caller's context read by portafunc.tracing,
    else None (the current context: a root span when nothing is current)."""
    if keep_enclosing and trace.get_current_span().get_span_context().is_valid:
        return None
    if parent is None or parent.parent_id is None:
        return None
    try:
        state = TraceState.from_header([parent.state]) if parent.state else None
    except ValueError:
        state = None
    remote = SpanContext(int(parent.trace_id, 16), int(parent.parent_id, 16), True,
                         TraceFlags(TraceFlags.SAMPLED if parent.sampled else TraceFlags.DEFAULT), state)
    return trace.set_span_in_context(NonRecordingSpan(remote))


def _region(target: str) -> str | None:
    for variable in _REGION_VARIABLES.get(target, ()):
        value = os.environ.get(variable)
        if value:
            return value
    return None


def _scheme(req: Any, target: str) -> str:
    """What the client used: the scheme the request's server settled on, where it decides which peers may name it
    (a client reaching it directly cannot claim https); else the clouds' front doors speak HTTPS (and say so in
    X-Forwarded-Proto where they forward); ``portafunc run`` serves plain HTTP."""
    settled = settled_scheme(req)
    if settled is not None:
        return settled
    forwarded = req.headers.get("x-forwarded-proto")
    if forwarded:
        return forwarded.split(",")[0].strip().lower()
    return "http" if target == "local" else "https"


def _host(value: str) -> str:
    if value.startswith("["):  # [::1]:8080
        return value[1:value.find("]")] if "]" in value else value
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


# -- turning it on -----------------------------------------------------------------------------------------------

def instrument(tracer_provider: Any = None, meter_provider: Any = None) -> Instrumentation:
    """Create spans and metrics for every invocation from now on, through these providers (the global ones when
    not given: a provider set later is used too, through the API's proxies)."""
    from . import invoke, tracing
    from .messaging import traced

    hook = Instrumentation(tracer_provider, meter_provider)
    invoke._otel = tracing._otel = traced._otel = hook
    return hook


def uninstrument() -> None:
    """Stop creating spans and metrics (the hot path is back to one ``is None`` check)."""
    from . import invoke, tracing
    from .messaging import traced

    invoke._otel = tracing._otel = traced._otel = None


def configure_from_environment() -> Instrumentation | None:
    """At the first invocation: ``PORTAFUNC_OTEL`` on/off, or ``auto``: on when a provider is configured. With no
    provider set and an exporter named by ``OTEL_TRACES_EXPORTER``/``OTEL_METRICS_EXPORTER``, the SDK is first set
    up from the ``OTEL_*`` variables by opentelemetry-distro, as ``opentelemetry-instrument`` would have done at
    start-up (for platforms whose start command cannot be wrapped)."""
    from . import invoke

    if invoke._otel is not None:
        return invoke._otel
    setting = os.environ.get("PORTAFUNC_OTEL", "auto").strip().lower()
    if setting in _OFF:
        return None
    if exporter_named() and not configured():
        _set_up_sdk()
    if setting in ("on", "1", "true", "yes") or configured():
        return instrument()
    return None


def _set_up_sdk() -> None:
    from . import logs

    try:
        from opentelemetry.instrumentation.auto_instrumentation import initialize
    except ImportError:
        logs.warning("OTEL_TRACES_EXPORTER/OTEL_METRICS_EXPORTER is set but no OpenTelemetry SDK set-up is installed; "
                     "no spans or metrics are exported", hint="pip install opentelemetry-distro and the exporter")
        return
    initialize()

