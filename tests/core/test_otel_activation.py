"""When portafunc's OpenTelemetry instrumentation is on, and that it costs nothing when it is not: each case runs in a
fresh interpreter, because the global providers can be set once per process and the decision is taken once, at the
first invocation."""

from __future__ import annotations

import subprocess
import sys
import textwrap

APP = """
import logging, os, sys
import portafunc
from portafunc import invoke
from portafunc.invoke import handle_http
app = portafunc.App('a')
@app.http('GET', '/x')
def h(req: portafunc.HttpRequest) -> dict: return {'ok': True}
def call() -> None:
    assert handle_http(app, portafunc.HttpRequest('GET', '/x')).status == 200
"""

SDK = """
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
exporter = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(exporter))
"""


def _run(code: str, env: dict[str, str] | None = None) -> str:
    import os

    environment = {k: v for k, v in os.environ.items() if not k.startswith(("PORTAFUNC_", "OTEL_"))}
    environment.update(env or {})
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          env=environment, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def test_a_global_tracer_provider_set_before_the_first_invocation_turns_it_on() -> None:
    out = _run(APP + SDK + """
trace.set_tracer_provider(provider)
call()
print(invoke._otel is not None, [s.name for s in exporter.get_finished_spans()])
""")
    assert out == "True ['GET /x']"


def test_without_a_provider_nothing_is_created() -> None:
    """OpenTelemetry loaded (as google-cloud-pubsub loads it) but no provider set: not turned on; a provider set
    after the first invocation does not turn it on either (the decision is taken once)."""
    out = _run(APP + SDK + """
call()
trace.set_tracer_provider(provider)
call()
print(invoke._otel is None, len(exporter.get_finished_spans()))
""")
    assert out == "True 0"


def test_the_api_loaded_by_a_library_without_a_provider_leaves_the_instrumentation_unloaded() -> None:
    """FastAPI imports the OpenTelemetry API for its own instrumentation: with no provider set, the first invocation
    answers "off" from the API's getters without importing portafunc.otel (nor its tracing helpers)."""
    out = _run(APP + """
import opentelemetry.trace, opentelemetry.metrics
call()
print(invoke._otel is None, 'portafunc.otel' in sys.modules)
""")
    assert out == "True False"


def test_portafunc_otel_off_wins_over_a_configured_provider() -> None:
    out = _run(APP + SDK + """
trace.set_tracer_provider(provider)
call()
print(invoke._otel is None, len(exporter.get_finished_spans()))
""", {"PORTAFUNC_OTEL": "off"})
    assert out == "True 0"


def test_portafunc_otel_on_uses_a_provider_set_later() -> None:
    out = _run(APP + SDK + """
call()
trace.set_tracer_provider(provider)
call()
print(invoke._otel is not None, [s.name for s in exporter.get_finished_spans()])
""", {"PORTAFUNC_OTEL": "on"})
    assert out == "True ['GET /x']"  # the API's proxy tracer delegates to the provider once one is set


def test_off_by_default_opentelemetry_is_never_imported() -> None:
    """Logging loaded (as on every platform, so the first-invocation set-up runs) and OpenTelemetry not: neither it
    nor portafunc.otel is imported, and the hook stays None."""
    out = _run(APP + """
call()
call()
print(invoke._otel is None, sorted(m for m in sys.modules if m.startswith(('opentelemetry', 'portafunc.otel'))))
""")
    assert out == "True []"


def test_asked_for_without_the_api_installed_is_a_warning_not_a_failure() -> None:
    out = _run("""
import sys
sys.modules['opentelemetry'] = None  # as if opentelemetry-api were not installed
""" + APP + """
call()
print(invoke._otel is None)
""", {"PORTAFUNC_OTEL": "on"})
    assert out == "True"


def test_asked_for_without_the_api_says_what_to_install() -> None:
    proc = subprocess.run([sys.executable, "-c", "import sys; sys.modules['opentelemetry'] = None\n" + APP
                           + "call()\n"], capture_output=True, text=True, timeout=120,
                          env={"PATH": "/usr/bin:/bin", "PORTAFUNC_OTEL": "on"})
    assert proc.returncode == 0, proc.stderr
    assert "OpenTelemetry set-up failed" in proc.stderr and "portafunc[otel]" in proc.stderr


def test_an_exporter_named_in_the_environment_sets_the_sdk_up_and_exports() -> None:
    """No code sets a provider (a platform whose start command cannot be wrapped in ``opentelemetry-instrument``):
    ``OTEL_TRACES_EXPORTER`` makes opentelemetry-distro set the SDK up from the ``OTEL_*`` variables at the first
    invocation, and the span reaches an OTLP/HTTP endpoint (flushed at interpreter exit)."""
    from otel_support import OtlpReceiver

    receiver = OtlpReceiver()
    try:
        out = _run(APP + "call()\nprint(invoke._otel is not None)\n", {
            "OTEL_TRACES_EXPORTER": "otlp_proto_http", "OTEL_METRICS_EXPORTER": "none", "OTEL_LOGS_EXPORTER": "none",
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": f"{receiver.url}/v1/traces", "OTEL_SERVICE_NAME": "shop"})
        assert out == "True"
        [span] = [s for s in receiver.spans() if s["scope"] == "portafunc"]
        assert (span["name"], span["service"]) == ("GET /x", "shop")
    finally:
        receiver.close()
