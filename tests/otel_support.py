"""OpenTelemetry SDK set-ups for the tests: spans and metrics kept in memory, or exported over OTLP/HTTP to a small
receiver started by the test, which decodes the protobuf requests with opentelemetry-proto (the wire format a
collector's ``otlphttp`` receiver accepts: ``POST /v1/traces`` and ``/v1/metrics``, ``application/x-protobuf``)."""

from __future__ import annotations

import gzip
import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterator

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from portafunc import otel


class Recorded:
    """What one instrumented stretch of a test recorded."""

    def __init__(self, exporter: InMemorySpanExporter, reader: InMemoryMetricReader,
                 tracer_provider: TracerProvider) -> None:
        self.exporter = exporter
        self.reader = reader
        self.tracer_provider = tracer_provider

    def spans(self, kind: str | None = None) -> list[ReadableSpan]:
        """portafunc's spans (of this kind)."""
        found = [s for s in self.exporter.get_finished_spans()
                 if s.instrumentation_scope is not None and s.instrumentation_scope.name == "portafunc"]
        return [s for s in found if kind is None or s.kind.name == kind]

    def span(self, kind: str) -> ReadableSpan:
        [found] = self.spans(kind)
        return found

    def metric_points(self, name: str) -> list[Any]:
        data = self.reader.get_metrics_data()
        points: list[Any] = []
        for resource in data.resource_metrics if data else ():
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    if metric.name == name:
                        points.extend(metric.data.data_points)
        return points

    def total(self, name: str, **attributes: str) -> float:
        """The sum of a counter's points (a histogram's: the number of recordings) whose attributes include these."""
        total = 0.0
        for point in self.metric_points(name):
            if all(point.attributes.get(k) == v for k, v in attributes.items()):
                total += point.count if hasattr(point, "bucket_counts") else point.value
        return total


@contextmanager
def recording() -> Iterator[Recorded]:
    """portafunc instrumented with an SDK tracer provider (in-memory span exporter) and meter provider (in-memory
    reader) for the duration; not instrumented afterwards."""
    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider(resource=Resource.create({"service.name": "portafunc-tests"}))
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    otel.instrument(tracer_provider, meter_provider)
    try:
        yield Recorded(exporter, reader, tracer_provider)
    finally:
        otel.uninstrument()
        tracer_provider.shutdown()
        meter_provider.shutdown()


def hex_ids(span: ReadableSpan) -> tuple[str, str, str | None]:
    """(trace id, span id, parent span id) as the W3C header writes them."""
    context = span.get_span_context()
    assert context is not None
    parent = span.parent
    return f"{context.trace_id:032x}", f"{context.span_id:016x}", f"{parent.span_id:016x}" if parent else None


class OtlpReceiver:
    """An OTLP/HTTP endpoint on 127.0.0.1: keeps every span and metric it is sent, decoded."""

    def __init__(self) -> None:
        from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (ExportTraceServiceRequest,
                                                                              ExportTraceServiceResponse)

        self.trace_requests: list[Any] = []
        self.metric_requests: list[Any] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                if self.headers.get("Content-Type") != "application/x-protobuf":
                    self.send_response(415)
                    self.end_headers()
                    return
                if self.path == "/v1/traces":
                    request = ExportTraceServiceRequest.FromString(body)
                    with receiver.lock:
                        receiver.trace_requests.append(request)
                elif self.path == "/v1/metrics":
                    with receiver.lock:
                        receiver.metric_requests.append(ExportMetricsServiceRequest.FromString(body))
                else:
                    self.send_response(404)
                    self.end_headers()
                    return
                answer = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def spans(self) -> list[dict[str, Any]]:
        """Every span received, flattened: name, kind, ids as hex, attributes, status code, event names, and the
        resource's service.name."""
        out = []
        with self.lock:
            requests = list(self.trace_requests)
        for request in requests:
            for resource_spans in request.resource_spans:
                service = {a.key: _value(a.value) for a in resource_spans.resource.attributes}.get("service.name")
                for scope_spans in resource_spans.scope_spans:
                    for span in scope_spans.spans:
                        out.append({
                            "name": span.name, "kind": span.kind, "trace_id": span.trace_id.hex(),
                            "span_id": span.span_id.hex(), "parent_id": span.parent_span_id.hex() or None,
                            "attributes": {a.key: _value(a.value) for a in span.attributes},
                            "status": span.status.code, "events": [e.name for e in span.events],
                            "service": service, "scope": scope_spans.scope.name})
        return out

    def metric_names(self) -> set[str]:
        with self.lock:
            requests = list(self.metric_requests)
        return {m.name for r in requests for rm in r.resource_metrics for sm in rm.scope_metrics for m in sm.metrics}


def _value(value: Any) -> Any:
    return getattr(value, value.WhichOneof("value")) if value.WhichOneof("value") else None


@contextmanager
def exporting(service: str) -> Iterator[tuple[OtlpReceiver, TracerProvider, Any]]:
    """portafunc instrumented with SDK providers that export over OTLP/HTTP (the SDK's own exporters) to an
    :class:`OtlpReceiver`; yields (receiver, tracer provider, meter provider) — flush them before reading."""
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader

    receiver = OtlpReceiver()
    resource = Resource.create({"service.name": service})
    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=f"{receiver.url}/v1/traces")))
    reader = PeriodicExportingMetricReader(OTLPMetricExporter(endpoint=f"{receiver.url}/v1/metrics"),
                                           export_interval_millis=3_600_000)
    meter_provider = MeterProvider(resource=resource, metric_readers=[reader])
    otel.instrument(tracer_provider, meter_provider)
    try:
        yield receiver, tracer_provider, meter_provider
    finally:
        otel.uninstrument()
        tracer_provider.shutdown()
        meter_provider.shutdown()
        receiver.close()


CALLER = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"  # the W3C specification's example
CALLER_TRACE, CALLER_SPAN = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
_KINDS = {2: "SERVER", 3: "CLIENT", 4: "PRODUCER", 5: "CONSUMER"}  # opentelemetry-proto's Span.SpanKind


def one_trace(receiver: OtlpReceiver, service: str) -> list[dict[str, Any]]:
    """The spans portafunc exported for one request (SERVER → PRODUCER → CONSUMER, each the parent of the next, in
    the caller's trace), checked; printed as a table (``pytest -s`` shows it)."""
    ours = [s for s in receiver.spans() if s["scope"] == "portafunc"]
    by_kind = {_KINDS.get(s["kind"], str(s["kind"])): s for s in ours}
    assert sorted(by_kind) == ["CONSUMER", "PRODUCER", "SERVER"] and len(ours) == 3, ours
    server, producer, consumer = by_kind["SERVER"], by_kind["PRODUCER"], by_kind["CONSUMER"]
    assert {s["trace_id"] for s in ours} == {CALLER_TRACE}  # one trace from the caller to the consumer
    assert server["parent_id"] == CALLER_SPAN
    assert producer["parent_id"] == server["span_id"]
    assert consumer["parent_id"] == producer["span_id"]
    assert {s["service"] for s in ours} == {service}
    for span in (server, producer, consumer):
        print(f"{span['trace_id']} {span['span_id']} parent={span['parent_id']} {_KINDS[span['kind']]:8} "
              f"{span['name']:22} " + " ".join(f"{k}={v}" for k, v in sorted(span["attributes"].items())
                                               if k.startswith(("messaging.system", "faas.trigger", "cloud.",
                                                                "http.route", "http.response"))))
    return [server, producer, consumer]
