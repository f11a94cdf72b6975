"""What the OpenTelemetry hook costs: ``import portafunc`` + the Lambda entry, and warm HTTP and SQS invocations
through the Lambda handler, for two source trees (e.g. before and after a change to the pipeline) and, on the
newer tree, with OpenTelemetry on (SDK tracer and meter providers, spans dropped by a no-op exporter).

Each measurement runs in a fresh interpreter; the variants are interleaved round by round so that load on a shared
machine hits them alike. Per round and variant: the import's wall time once, then the best of 5 timed loops of each
warm workload.

    python benchmarks/otel_overhead.py [--before DIR] [--rounds N]

``--before DIR``: a tree holding ``portafunc/`` and ``adapters/aws/portafunc_aws`` (e.g. ``git archive`` of the
commit before); without it only this tree is measured, with and without OpenTelemetry.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent

CHILD = r"""
import sys, time
started = time.perf_counter()
import portafunc
try:
    from portafunc_aws.runtime import bind  # the adapter's layout since the Lambda handler moved
except ImportError:
    from portafunc_aws.entry import bind
imported = time.perf_counter() - started
sys.path[:0] = [BENCH, BENCH + "/apps"]
import json, gc, timeit
import workloads, pf_http, pf_msgs
if OTEL:
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
    from portafunc import otel

    class Drop(SpanExporter):
        def export(self, spans): return SpanExportResult.SUCCESS

    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(Drop()))
    otel.instrument(provider, MeterProvider())
ctx = workloads.LambdaContext()
http, sqs = workloads.http_v2_event(), workloads.sqs_event(10)
h, q = bind(pf_http.app), bind(pf_msgs.app, "work")
assert h(http, ctx)["statusCode"] == 200 and q(sqs, ctx) == {"batchItemFailures": []}
out = {"import_ms": imported * 1000}
for name, call in (("http_us", lambda: h(http, ctx)), ("sqs10_us", lambda: q(sqs, ctx))):
    timer = timeit.Timer(call)
    loops, _ = timer.autorange()
    out[name] = min(timer.repeat(5, loops)) / loops * 1e6
print(json.dumps(out))
"""


def _run(tree: Path, otel: bool) -> dict[str, float]:
    env = dict(os.environ)
    env.pop("PORTAFUNC_OTEL", None)
    env["PORTAFUNC_LOG_LEVEL"] = "WARNING"
    env["PYTHONPATH"] = os.pathsep.join([str(tree), str(tree / "adapters" / "aws")])
    code = CHILD.replace("BENCH", repr(str(HERE))).replace("OTEL", repr(otel))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=str(tree),
                          timeout=600)
    if proc.returncode != 0:
        raise SystemExit(proc.stderr)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, default=None)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    variants = {"this tree": (REPO, False), "this tree, OpenTelemetry on": (REPO, True)}
    if args.before is not None:
        variants = {"before": (args.before.resolve(), False), **variants}
    results: dict[str, list[dict[str, float]]] = {name: [] for name in variants}
    for _ in range(args.rounds):
        order = list(variants)
        random.shuffle(order)
        for name in order:
            results[name].append(_run(*variants[name]))
    print(f"{'variant':32} {'import ms':>22} {'HTTP µs':>22} {'SQS x10 µs':>22}")
    for name, runs in results.items():
        cells = []
        for key in ("import_ms", "http_us", "sqs10_us"):
            values = [r[key] for r in runs]
            cells.append(f"{statistics.median(values):6.1f} ({min(values):.1f}–{max(values):.1f})")
        print(f"{name:32} {cells[0]:>22} {cells[1]:>22} {cells[2]:>22}")


if __name__ == "__main__":
    main()
