"""Whether OpenTelemetry is set up in this process, asked without loading :mod:`portafunc.otel`.

Libraries load the OpenTelemetry API for their own instrumentation (FastAPI does at import), so in ``auto`` mode the
first invocation usually finds it loaded with nothing set up. Answering that from the API's own two getters keeps
portafunc's instrumentation module (and its tracing helpers) off the cold start of such an app.
"""

from __future__ import annotations

import os


def exporter_named() -> bool:
    """``OTEL_TRACES_EXPORTER`` or ``OTEL_METRICS_EXPORTER`` names an exporter (other than ``none``)."""
    return any(os.environ.get(name, "none").strip().lower() not in ("", "none")
               for name in ("OTEL_TRACES_EXPORTER", "OTEL_METRICS_EXPORTER"))


def configured() -> bool:
    """True when a tracer or meter provider other than the API's default (its proxy, or the no-op one) is set."""
    from opentelemetry import metrics, trace

    tracer_provider = trace.get_tracer_provider()
    meter_provider = metrics.get_meter_provider()
    return (not isinstance(tracer_provider, (trace.ProxyTracerProvider, trace.NoOpTracerProvider))
            or type(meter_provider).__name__ not in ("_ProxyMeterProvider", "NoOpMeterProvider"))
