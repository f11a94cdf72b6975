"""Suite 2: warm per-invocation overhead, timeit-style, every contender in one process, interleaved.

Each scenario feeds the same native event to every contender; the floor is ``json.loads`` of that event's JSON text
(what the platform's runtime itself does before any handler runs). Per contender the loop count is calibrated once
(~``budget`` seconds per repeat); then ``repeats`` rounds run every scenario, and every contender of a scenario, in a
new random order, with the garbage collector off during a timed loop (as ``timeit`` does), each loop timed in CPU
time (see ``_time``). Each contender's output is checked before and after timing, so a contender that silently fails
cannot look fast.

Run by run.py: ``python warm.py OUT.json [--quick] [--only azure_,gcp_]``.
"""

from __future__ import annotations

import gc
import importlib
import importlib.util
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "apps"))
sys.path.insert(0, str(HERE))

import workloads  # noqa: E402
from common import summary  # noqa: E402


SUCCEEDING = "same message succeeding"  # the reference a failure's cost is compared with, timed interleaved
# a batch with a failure: the native handler that logs it (one JSON line), as portafunc does and production code must
LOGGING_NATIVE = "native, logging the failure (one JSON line)"


def _load_file(name: str, path: Path) -> Any:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


class _Missing:
    """A peer that is not installed (e.g. ``--smoke`` in the test venv): its contenders report why, the others run."""

    def __init__(self, why: str) -> None:
        self.why = why

    def __getattr__(self, name: str) -> Any:
        raise ImportError(self.why)


def _peer(module: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        return _Missing(f"{module}: {exc}")


def _floor(event: Any) -> Callable[[], Any]:
    text = json.dumps(event)
    return lambda: json.loads(text)


def aws_scenarios() -> dict[str, dict[str, tuple[Callable[[], Any], Callable[[Any], bool]]]]:
    import aws_native_http
    import aws_native_http_typed
    import aws_pydantic_http_typed
    import aws_native_sqs
    import aws_native_sqs_typed
    import pf_http
    import pf_http_typed
    import pf_msgs
    import pf_typed

    aws_chalice_http, aws_mangum_http = _peer("aws_chalice_http"), _peer("aws_mangum_http")
    aws_powertools_http, aws_powertools_sqs = _peer("aws_powertools_http"), _peer("aws_powertools_sqs")
    aws_powertools_sqs_typed = _peer("aws_powertools_sqs_typed")
    aws_powertools_http_typed = _peer("aws_powertools_http_typed")
    ctx = workloads.LambdaContext()
    v2, v1, sqs = workloads.http_v2_event(), workloads.http_v1_event(), workloads.sqs_event(10)

    def http_ok(out: Any) -> bool:
        return out["statusCode"] == 200 and json.loads(out["body"]) == {"message": "hello world"}

    typed = workloads.http_v2_typed_event()

    def typed_ok(out: Any) -> bool:
        return out["statusCode"] == 200 and json.loads(out["body"]) == {"id": 42, "limit": 5, "tenant": "acme"}

    def batch_ok(out: Any) -> bool:
        return out == {"batchItemFailures": []}

    one, bad_one, bad_in_ten = workloads.sqs_event(1), workloads.sqs_failing_event(1, 0), \
        workloads.sqs_failing_event(10, 3)
    bad_one_typed = workloads.sqs_failing_event(1, 0)

    def powertools_alone(event: dict[str, Any]) -> Callable[[], Any]:
        """Powertools raises BatchProcessingError when every record of the batch failed (Lambda then retries the
        whole batch): that exception is its answer here, caught like the Lambda runtime catches it."""
        peer = aws_powertools_sqs_typed if event is bad_one_typed else aws_powertools_sqs

        def call() -> Any:
            from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

            try:
                return peer.handler(event, ctx)
            except BatchProcessingError:
                return "BatchProcessingError"
        return call

    def raised(out: Any) -> bool:
        return out == "BatchProcessingError"

    def failed(event: dict[str, Any]) -> Callable[[Any], bool]:
        ids = [r["messageId"] for r in event["Records"] if "total" not in r["body"]]
        return lambda out: out == {"batchItemFailures": [{"itemIdentifier": i} for i in ids]}

    def any_ok(out: Any) -> bool:
        return True

    entry = workloads.lambda_handler
    pf_h, pf_q, pf_t = entry(pf_http.app), entry(pf_msgs.app, "work"), entry(pf_typed.app, "work")
    pf_typed_http, pf_bare_http = entry(pf_http_typed.app), entry(pf_http_typed.bare)
    return {
        "aws_http_v2": {
            "json.loads floor": (_floor(v2), any_ok),
            "native": (lambda: aws_native_http.handler(v2, ctx), http_ok),
            "portafunc": (lambda: pf_h(v2, ctx), http_ok),
            "powertools": (lambda: aws_powertools_http.handler(v2, ctx), http_ok),
            "mangum+fastapi": (lambda: aws_mangum_http.handler(v2, ctx), http_ok),
            "chalice (v1 event)": (lambda: aws_chalice_http.handler(v1, ctx), http_ok),
        },
        "aws_http_v2_typed": {
            "json.loads floor": (_floor(typed), any_ok),
            "native": (lambda: aws_native_http_typed.handler(typed, ctx), typed_ok),
            "portafunc": (lambda: pf_typed_http(typed, ctx), typed_ok),
            "portafunc bare (read by hand, no middleware)": (lambda: pf_bare_http(typed, ctx), typed_ok),
            "pydantic floor (native + TypeAdapter + model_dump_json)":
                (lambda: aws_pydantic_http_typed.handler(typed, ctx), typed_ok),
            "powertools (enable_validation=True)": (lambda: aws_powertools_http_typed.handler(typed, ctx), typed_ok),
        },
        "aws_sqs10_untyped": {
            "json.loads floor": (_floor(sqs), any_ok),
            "native": (lambda: aws_native_sqs.handler(sqs, ctx), batch_ok),
            "portafunc": (lambda: pf_q(sqs, ctx), batch_ok),
            "powertools": (lambda: aws_powertools_sqs.handler(sqs, ctx), batch_ok),
        },
        "aws_sqs1_failing": {
            "native": (lambda: aws_native_sqs.handler(bad_one, ctx), failed(bad_one)),
            "portafunc": (lambda: pf_q(bad_one, ctx), failed(bad_one)),
            "powertools (raises: all records failed)": (powertools_alone(bad_one), raised),
            SUCCEEDING + " (native)": (lambda: aws_native_sqs.handler(one, ctx), batch_ok),
            SUCCEEDING + " (portafunc)": (lambda: pf_q(one, ctx), batch_ok),
        },
        "aws_sqs10_one_failing": {
            "native": (lambda: aws_native_sqs.handler(bad_in_ten, ctx), failed(bad_in_ten)),
            LOGGING_NATIVE: (lambda: aws_native_sqs.handler_logging(bad_in_ten, ctx), failed(bad_in_ten)),
            "portafunc": (lambda: pf_q(bad_in_ten, ctx), failed(bad_in_ten)),
            "powertools": (lambda: aws_powertools_sqs.handler(bad_in_ten, ctx), failed(bad_in_ten)),
        },
        "aws_sqs1_failing_typed": {
            "native": (lambda: aws_native_sqs_typed.handler(bad_one_typed, ctx), failed(bad_one_typed)),
            "portafunc": (lambda: pf_t(bad_one_typed, ctx), failed(bad_one_typed)),
            "powertools (raises: all records failed)": (powertools_alone(bad_one_typed), raised),
            SUCCEEDING + " (native)": (lambda: aws_native_sqs_typed.handler(one, ctx), batch_ok),
            SUCCEEDING + " (portafunc)": (lambda: pf_t(one, ctx), batch_ok),
        },
        "aws_sqs10_typed": {
            "json.loads floor": (_floor(sqs), any_ok),
            "native": (lambda: aws_native_sqs_typed.handler(sqs, ctx), batch_ok),
            "portafunc": (lambda: pf_t(sqs, ctx), batch_ok),
            "powertools": (lambda: aws_powertools_sqs_typed.handler(sqs, ctx), batch_ok),
        },
    }


def gcp_scenarios(tmp: Path) -> dict[str, dict[str, tuple[Callable[[], Any], Callable[[Any], bool]]]]:
    from cloudevents.http import CloudEvent

    import pf_http
    import pf_msgs
    from functions_framework import create_app
    from portafunc_gcp.deploy.main_py import render_main

    native = _load_file("gcp_native_main", HERE / "apps" / "gcp_native_main.py")
    main_py = tmp / "gcp_main.py"
    main_py.write_text(render_main(pf_msgs.app, "pf_msgs:app", root=str(HERE / "apps")), encoding="utf-8")
    generated = _load_file("gcp_portafunc_main", main_py)
    ev = workloads.pubsub_cloudevent()
    attrs = {k: v for k, v in ev.items() if k != "data"}
    ce = CloudEvent(attrs, ev["data"])
    before = native.SEEN[0]

    def none_ok(out: Any) -> bool:
        return out is None

    native_wsgi, pf_wsgi = _ff_app(HERE / "apps" / "gcp_native_main.py"), _ff_app(main_py)
    native_http_target = create_app("on_event_http", str(HERE / "apps" / "gcp_native_main.py"), "http")
    # a push subscription's raw envelope: functions-framework converts it for the native CloudEvent target; the
    # generated main.py's queue function reads it itself
    push = workloads.pubsub_push()
    push_body, push_headers = json.dumps(push).encode(), {"content-type": "application/json"}
    pf_queue_wsgi = create_app("work", str(main_py), "cloudevent")
    # the generated main.py's on_event is an HTTP target now; the direct call is the function's CloudEvent lane
    lane = generated._portafunc_entry.event_lanes["on_event"]
    body = json.dumps(ev["data"]).encode()
    headers = {"ce-specversion": "1.0", "ce-id": ev["id"], "ce-source": ev["source"], "ce-type": ev["type"],
               "content-type": "application/json"}

    def served_ok(out: Any) -> bool:
        return out == b"OK"

    assert before >= 0
    native_http = create_app("hello", str(HERE / "apps" / "gcp_native_main.py"), "http")
    http_main = tmp / "gcp_http_main.py"
    http_main.write_text(render_main(pf_http.app, "pf_http:app", root=str(HERE / "apps")), encoding="utf-8")
    pf_http_app = create_app("_portafunc_http", str(http_main), "http")

    def http_ok(out: Any) -> bool:
        return json.loads(out) == {"message": "hello world"}

    return {
        "gcp_http_served": {
            "native": (_wsgi_get(native_http, "/hello/world"), http_ok),
            "portafunc": (_wsgi_get(pf_http_app, "/hello/world"), http_ok),
        },
        "gcp_pubsub_cloudevent": {
            "json.loads floor": (_floor(ev), lambda out: True),
            "native": (lambda: native.on_event(ce), none_ok),
            "portafunc": (lambda: lane(ce), none_ok),
        },
        "gcp_pubsub_cloudevent_served": {
            "json.loads floor": (_floor(ev), lambda out: True),
            "native": (_wsgi_call(native_wsgi, headers, body), served_ok),
            "portafunc": (_wsgi_call(pf_wsgi, headers, body), served_ok),
            NATIVE_HTTP_TARGET: (_wsgi_call(native_http_target, headers, body), served_ok),
        },
        "gcp_pubsub_push_served": {
            "json.loads floor": (_floor(push), lambda out: True),
            "native": (_wsgi_call(native_wsgi, push_headers, push_body), served_ok),
            "portafunc": (_wsgi_call(pf_queue_wsgi, push_headers, push_body), served_ok),
        },
    }


NATIVE_HTTP_TARGET = "native, written as an HTTP target"  # the leanest hand-written entry, beside the usual one


def _ff_app(main_py: Path) -> Any:
    """functions-framework's Flask app serving ``on_event`` of ``main_py`` as deployed on GCF: started with the
    CloudEvent signature, which a decorator in ``main_py`` overrides (portafunc's generated targets are HTTP ones)."""
    from functions_framework import create_app

    return create_app("on_event", str(main_py), "cloudevent")


def _wsgi_get(app: Any, path: str) -> Callable[[], Any]:
    """One GET straight into the WSGI app, as the Cloud Run front end hands it to functions-framework."""
    from werkzeug.test import EnvironBuilder

    environ = EnvironBuilder(path=path, method="GET", headers={"accept": "*/*"}).get_environ()

    def start_response(status: str, response_headers: Any, exc_info: Any = None) -> None:
        if not status.startswith("200"):
            raise AssertionError(status)

    def call() -> Any:
        return b"".join(app(dict(environ), start_response))
    return call


def _wsgi_call(app: Any, headers: dict[str, str], body: bytes) -> Callable[[], Any]:
    """One binary-mode CloudEvent POST straight into the WSGI app (no HTTP, no test client): the entry runs inside
    a real Flask request, as deployed."""
    import io

    from werkzeug.test import EnvironBuilder

    environ = EnvironBuilder(path="/", method="POST", headers=headers, data=body).get_environ()

    def start_response(status: str, response_headers: Any, exc_info: Any = None) -> None:
        if not status.startswith("200"):
            raise AssertionError(status)

    def call() -> Any:
        env = dict(environ)
        env["wsgi.input"] = io.BytesIO(body)
        return b"".join(app(env, start_response))
    return call


def azure_scenarios() -> dict[str, dict[str, tuple[Callable[[], Any], Callable[[Any], bool]]]]:
    from datetime import datetime, timezone

    import azure.functions as func

    import pf_http
    import pf_msgs
    from portafunc import Message
    from portafunc_azure.codecs import natives
    from portafunc_azure.codecs import queue as queue_codec
    from portafunc_azure.deploy.function_app import load_function_app

    native = _load_file("azure_native_function_app", HERE / "apps" / "azure_native_function_app.py")
    nfns = {f.get_function_name(): f.get_user_function() for f in native.app.get_functions()}
    _, pfns, _ = load_function_app(pf_msgs.app)
    _, hfns, _ = load_function_app(pf_http.app)
    ev = workloads.eventgrid_event()
    eg = func.EventGridEvent(id=ev["id"], data=ev["data"], topic=ev["topic"], subject=ev["subject"],
                             event_type=ev["eventType"], event_time=datetime(2017, 6, 26, 18, 41, tzinfo=timezone.utc),
                             data_version=ev["dataVersion"])
    # the URL a packaged app receives: its host.json sets routePrefix "" (no /api); the native handler reads only
    # route_params, so the same request serves both
    req = func.HttpRequest(method="GET", url="http://localhost:7071/hello/world", headers={"accept": "*/*"},
                           params={}, route_params={"name": "world"}, body=b"")
    on_event_pf = next(f.get_user_function() for name, f in pfns.items() if "event" in name.lower())
    work_pf = pfns["work"].get_user_function()
    hello_pf = next(f.get_user_function() for f in hfns.values())
    body = json.dumps(workloads.ORDER).encode()
    # what the worker's QueueMessageInConverter hands a function (body, DequeueCount, InsertionTime, ...)
    queue_msg = natives.to_func_queue(queue_codec.encode_message(
        Message("m-1", body, published_at=datetime(2024, 1, 1, tzinfo=timezone.utc))))

    def http_ok(resp: Any) -> bool:
        return resp.status_code == 200 and json.loads(resp.get_body()) == {"message": "hello world"}

    return {
        "azure_eventgrid": {
            "json.loads floor": (_floor(ev), lambda out: True),
            "native": (lambda: nfns["on_event"](eg), lambda out: out is None),
            "portafunc": (lambda: on_event_pf(eg), lambda out: out is None),
        },
        "azure_storage_queue": {
            "json.loads floor": (lambda: json.loads(body), lambda out: True),
            "native": (lambda: nfns["work"](queue_msg), lambda out: out is None),
            "portafunc": (lambda: work_pf(queue_msg), lambda out: out is None),
        },
        "azure_http": {
            "json.loads floor": (_floor({"method": "GET", "url": req.url, "headers": dict(req.headers),
                                         "params": {}, "route_params": {"name": "world"}}), lambda out: True),
            "native": (lambda: nfns["hello"](req), http_ok),
            "portafunc": (lambda: hello_pf(req), http_ok),
        },
    }


def _time(fn: Callable[[], Any], loops: int) -> float:
    """CPU seconds of this process for ``loops`` calls, the garbage collector off (timeit's rule).

    CPU time, as the ``aws`` suite measures: on a shared machine a loop is descheduled for as long as others run,
    and a long loop (portafunc's, a peer's) is descheduled more often than a short one (a native handler's), which
    wall time would count against it."""
    rng = range(loops)
    gc_was = gc.isenabled()
    gc.disable()
    try:
        start = time.process_time()
        for _ in rng:
            fn()
        return time.process_time() - start
    finally:
        if gc_was:
            gc.enable()


def calibrate(fn: Callable[[], Any], budget: float) -> int:
    loops = 1
    while True:
        elapsed = _time(fn, loops)
        if elapsed >= budget / 4:
            return max(1, int(loops * budget / elapsed))
        loops *= 4


def failure_ratios(repeats: int, calls: int) -> dict[str, Any]:
    """The cost of one failing SQS record ÷ the same record succeeding, through the Lambda entry
    (``workloads.lambda_handler``), at the default log level: per repeat, ``calls`` single calls of each, interleaved
    one by one (in a random order per pair), the minimum of each side, then their ratio; reported as the median of the per-repeat
    ratios with min–max. The minimum of single calls is what the path costs when nothing else interrupts it."""
    import pf_msgs
    import pf_typed

    ctx = workloads.LambdaContext()
    ok_event, bad_event = workloads.sqs_event(1), workloads.sqs_failing_event(1, 0)
    bad_id = bad_event["Records"][0]["messageId"]
    clock = time.perf_counter_ns
    rng = random.Random(3)
    out: dict[str, Any] = {"repeats": repeats, "calls": calls}
    for key, app in (("aws_sqs1_failing", pf_msgs.app), ("aws_sqs1_failing_typed", pf_typed.app)):
        entry = workloads.lambda_handler(app, "work")
        if entry(ok_event, ctx) != {"batchItemFailures": []} or \
                entry(bad_event, ctx) != {"batchItemFailures": [{"itemIdentifier": bad_id}]}:
            out[key] = {"not_measured": "wrong output"}
            continue
        ratios, failing_us, succeeding_us = [], [], []
        gc_was = gc.isenabled()
        gc.disable()
        try:
            for _ in range(repeats):
                best_bad = best_ok = 1 << 62
                for _ in range(calls):
                    first_bad = rng.random() < 0.5
                    for event in ((bad_event, ok_event) if first_bad else (ok_event, bad_event)):
                        start = clock()
                        entry(event, ctx)
                        took = clock() - start
                        if event is bad_event:
                            best_bad = min(best_bad, took)
                        else:
                            best_ok = min(best_ok, took)
                ratios.append(best_bad / best_ok)
                failing_us.append(best_bad / 1000)
                succeeding_us.append(best_ok / 1000)
        finally:
            if gc_was:
                gc.enable()
        out[key] = dict(summary(ratios), failing_us=summary(failing_us), succeeding_us=summary(succeeding_us))
    return out


def run(quick: bool, smoke: bool = False, only: tuple[str, ...] = ()) -> dict[str, Any]:
    """Every scenario, or those whose name starts with one of ``only`` (``--only azure_,gcp_``)."""
    budget, repeats = (0.002, 1) if smoke else (0.02, 5) if quick else (0.06, 15)
    # portafunc's failure log lines go where a function's stderr goes: a line-buffered stream, one write per line
    # (Lambda, Functions and Cloud Run collect stderr through a pipe); progress still reaches the terminal.
    progress = sys.stderr
    sys.stderr = open(os.devnull, "w", buffering=1, encoding="utf-8")
    tmp = Path(tempfile.mkdtemp(prefix="pf-bench-warm-"))
    scenarios: dict[str, Any] = {}
    errors: dict[str, str] = {}
    builders = {"aws_": aws_scenarios, "gcp_": lambda: gcp_scenarios(tmp), "azure_": azure_scenarios}
    for prefix, builder in builders.items():
        if only and not any(o.startswith(prefix) or prefix.startswith(o) for o in only):
            continue
        try:
            scenarios.update(builder())
        except Exception as exc:  # noqa: BLE001 - reported as "not measured" with the reason
            errors[getattr(builder, "__name__", "scenario")] = f"{type(exc).__name__}: {exc}"
    rng = random.Random(2)
    out: dict[str, Any] = {"budget_s": budget, "repeats": repeats, "scenarios": {}, "errors": errors}
    # checked and calibrated first; then every repeat runs every scenario, in a new random order, and each scenario's
    # contenders in a new random order: a scenario's repeats are spread over the whole run, so a slow spell of the
    # shared machine falls on a few repeats of every scenario (which the medians pass over), not on all of one's
    live: dict[str, dict[str, Callable[[], Any]]] = {}
    results: dict[str, dict[str, Any]] = {}
    loops: dict[str, dict[str, int]] = {}
    for scen, contenders in scenarios.items():
        if only and not scen.startswith(only):
            continue
        live[scen], results[scen] = {}, {}
        for name, (fn, ok) in contenders.items():
            try:
                if not ok(fn()):
                    raise AssertionError("wrong output: " + repr(fn())[:300])
                live[scen][name] = fn
            except Exception as exc:  # noqa: BLE001
                results[scen][name] = {"not_measured": f"fails: {type(exc).__name__}: {exc}"[:500]}
        loops[scen] = {name: calibrate(fn, budget) for name, fn in live[scen].items()}
    samples: dict[str, dict[str, list[float]]] = {scen: {name: [] for name in fns} for scen, fns in live.items()}
    for repeat in range(repeats):
        scens = list(live)
        rng.shuffle(scens)
        for scen in scens:
            order = list(live[scen])
            rng.shuffle(order)
            for name in order:
                samples[scen][name].append(_time(live[scen][name], loops[scen][name]) / loops[scen][name] * 1e6)
        print(f"  warm: repeat {repeat + 1}/{repeats} done", file=progress)
    for scen, fns in live.items():
        res = results[scen]
        for name, fn in fns.items():
            ok = scenarios[scen][name][1]
            if not ok(fn()):
                res[name] = {"not_measured": "output changed during timing (the contender mutates its event?)"}
                continue
            res[name] = dict(summary(samples[scen][name]), loops=loops[scen][name], samples=samples[scen][name])
        out["scenarios"][scen] = {name: res[name] for name in scenarios[scen] if name in res}
    if "aws_sqs1_failing" in out["scenarios"]:
        try:
            out["failure_ratios"] = failure_ratios(*((1, 20) if smoke else (5, 300) if quick else (15, 1000)))
        except Exception as exc:  # noqa: BLE001 - reported as "not measured" with the reason
            out["failure_ratios"] = {"not_measured": f"{type(exc).__name__}: {exc}"}
        print("  warm: failure ratios done", file=progress)
    return out


def _arguments() -> Any:
    import argparse

    parser = argparse.ArgumentParser(description="Warm per-invocation overhead, every contender interleaved.")
    parser.add_argument("out", type=Path, help="where the results go (JSON)")
    parser.add_argument("--quick", action="store_true", help="fewer repeats, shorter loops")
    parser.add_argument("--smoke", action="store_true", help="one short pass: proves every contender runs")
    parser.add_argument("--only", default="", help="comma-separated scenario name prefixes, e.g. azure_,gcp_")
    return parser.parse_args()


if __name__ == "__main__":
    args = _arguments()
    result = run(args.quick, args.smoke, tuple(c for c in args.only.split(",") if c))
    args.out.write_text(json.dumps(result, indent=1), encoding="utf-8")
