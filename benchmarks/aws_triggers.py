"""Suite ``aws``: the cost portafunc adds over a hand-written native handler, on every AWS trigger.

For each trigger the same native event (a sample from tests/fixtures/events with only the route, path parameters and
bodies changed) goes to a plain Lambda handler doing the same work and to ``portafunc_aws.runtime`` bound to a
portafunc app. The two run interleaved: every repeat times a loop of each (garbage collector off, as ``timeit``
does) in a new random order, and the added cost is the difference *within* a repeat, so the machine's load, which
changes from second to second, cancels out; every repeat runs every trigger, so each trigger's repeats are spread over
the whole run (see ``interleaved``). Reported: median of the repeats' differences with min–max, per request
for HTTP and per record for batches; for the 6 MB JSON body the ratio portafunc ÷ native per repeat. Times are the
process's CPU time (see ``_loop``).

Goals: ≤ 3 µs per HTTP request (REST v1, HTTP API v2, ALB, Function URL), ≤ 1 µs per SQS or SNS record, 6 MB body
≤ 1.05× native. Run by run.py (``--only aws``), or alone: ``python benchmarks/aws_triggers.py [--quick|--smoke]``.
"""

from __future__ import annotations

import copy
import gc
import json
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import workloads  # noqa: E402
from portafunc import App, HttpRequest, Message  # noqa: E402 (module level: the handlers' annotations resolve)

HTTP_GOAL_US = 3.0
RECORD_GOAL_US = 1.0
BODY_GOAL_RATIO = 1.05
BATCH = 10
BODY_BYTES = 6 * 1024 * 1024

# -- native handlers: what a developer writes by hand for each trigger -------------------------------------------


def _json_response(payload: dict[str, Any]) -> dict[str, Any]:
    return {"statusCode": 200, "headers": {"content-type": "application/json"}, "body": json.dumps(payload)}


def native_apigw(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """REST v1 and HTTP API v2 both hand over pathParameters."""
    return _json_response({"message": "hello " + event["pathParameters"]["name"]})


def native_alb(event: dict[str, Any], context: Any) -> dict[str, Any]:
    name = event["path"].rsplit("/", 1)[1]
    out = _json_response({"message": "hello " + name})
    out["statusDescription"] = "200 OK"
    out["isBase64Encoded"] = False
    if "multiValueHeaders" in event:
        out["multiValueHeaders"] = {k: [v] for k, v in out.pop("headers").items()}
    return out


def native_function_url(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return _json_response({"message": "hello " + event["rawPath"].rsplit("/", 1)[1]})


TOTAL = [0.0]


def native_sqs(event: dict[str, Any], context: Any) -> dict[str, Any]:
    failures = []
    for rec in event["Records"]:
        try:
            TOTAL[0] += json.loads(rec["body"])["total"]
        except Exception:  # noqa: BLE001 - like a plain handler: any failure reports the record
            failures.append({"itemIdentifier": rec["messageId"]})
    return {"batchItemFailures": failures}


def native_sns_sqs(event: dict[str, Any], context: Any) -> dict[str, Any]:
    failures = []
    for rec in event["Records"]:
        try:
            TOTAL[0] += json.loads(json.loads(rec["body"])["Message"])["total"]
        except Exception:  # noqa: BLE001
            failures.append({"itemIdentifier": rec["messageId"]})
    return {"batchItemFailures": failures}


def native_sns(event: dict[str, Any], context: Any) -> None:
    for rec in event["Records"]:
        TOTAL[0] += json.loads(rec["Sns"]["Message"])["total"]


def native_body(event: dict[str, Any], context: Any) -> dict[str, Any]:
    doc = json.loads(event["body"])
    return {"statusCode": 200, "body": json.dumps({"items": len(doc["items"])})}


# -- the portafunc apps ------------------------------------------------------------------------------------------

def portafunc_handlers() -> dict[str, Callable[[Any, Any], Any]]:
    try:  # a revision from before the adapter layout (measuring "before" on an older checkout)
        from portafunc_aws.entry import bind
    except ImportError:
        from portafunc_aws.runtime import bind  # type: ignore[no-redef]

    app = App("bench-aws")

    @app.http("GET", "/hello/{name}")
    def hello(req: HttpRequest) -> dict[str, str]:
        return {"message": "hello " + req.path_params["name"]}

    @app.http("POST", "/items")
    def items(req: HttpRequest) -> dict[str, int]:
        return {"items": len(req.json()["items"])}

    @app.queue("orders")
    def work(msg: Message) -> None:
        TOTAL[0] += msg.json()["total"]

    @app.topic("events")
    def on_event(msg: Message) -> None:
        TOTAL[0] += msg.json()["total"]

    return {"http": bind(app), "body": bind(app, "items"), "queue": bind(app, "work"), "topic": bind(app, "on_event")}


# -- events --------------------------------------------------------------------------------------------------------

def _fixture(rel: str) -> Any:
    return json.loads((workloads.FIXTURES / "aws" / rel).read_text(encoding="utf-8"))


def alb_event(multi: bool) -> dict[str, Any]:
    ev = _fixture("http-alb/powertools-albMultiValueHeadersEvent.json" if multi else "http-alb/sam-ALBRequest.json")
    ev.update({"httpMethod": "GET", "path": "/hello/world", "body": "", "isBase64Encoded": False})
    if multi:
        ev["multiValueQueryStringParameters"] = {}
    else:
        ev["queryStringParameters"] = {}
    return ev


def function_url_event() -> dict[str, Any]:
    ev = _fixture("http-function-url/powertools-lambdaFunctionUrlEvent.json")
    ev.update({"rawPath": "/hello/world", "rawQueryString": ""})
    ev["requestContext"]["http"].update({"method": "GET", "path": "/hello/world"})
    return ev


def sns_sqs_event(n: int) -> dict[str, Any]:
    """SNS → SQS without raw delivery: each body is the SNS envelope around a JSON order (Powertools sample)."""
    template = _fixture("sqs/powertools-snsSqsEvent.json")["Records"][0]
    records = []
    for i in range(n):
        rec = copy.deepcopy(template)
        rec["messageId"] = f"2e1424d4-f796-459a-8184-{i:012d}"
        envelope = json.loads(rec["body"])
        envelope["Message"] = json.dumps({"id": f"o-{i}", "total": 1.5})
        rec["body"] = json.dumps(envelope)
        records.append(rec)
    return {"Records": records}


def sns_event() -> dict[str, Any]:
    ev = _fixture("sns/powertools-snsEvent.json")
    ev["Records"][0]["Sns"]["Message"] = json.dumps({"id": "o-1", "total": 1.5})
    ev["Records"][0]["Sns"]["MessageAttributes"] = {}
    return ev


def body_event(size: int) -> dict[str, Any]:
    item = {"id": "item-000000", "name": "a fairly ordinary item name", "price": 12.5, "tags": ["a", "b", "c"]}
    count = max(1, size // len(json.dumps(item)))
    body = json.dumps({"items": [item] * count})
    ev = workloads.http_v2_event()
    ev.update({"routeKey": "POST /items", "rawPath": "/items", "body": body, "pathParameters": None})
    ev["requestContext"]["http"].update({"method": "POST", "path": "/items"})
    ev["requestContext"]["routeKey"] = "POST /items"
    ev["headers"] = dict(ev["headers"], **{"content-type": "application/json", "content-length": str(len(body))})
    return ev


# -- measurement ---------------------------------------------------------------------------------------------------

def _loop(fn: Callable[[], Any], number: int) -> float:
    """CPU seconds of this process per call over ``number`` calls, the garbage collector off (timeit's rule).

    CPU time, not wall time: on a shared machine a loop is descheduled for as long as others run, and a long loop
    (portafunc's) is descheduled more often than a short one (a native handler's), which wall time would count
    against it."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        start = time.process_time()
        for _ in range(number):
            fn()
        return (time.process_time() - start) / number
    finally:
        if enabled:
            gc.enable()


def _calibrate(fn: Callable[[], Any], budget: float) -> int:
    number = 1
    while True:
        took = _loop(fn, number) * number
        if took >= budget / 4 or number >= 1 << 20:
            return max(1, int(number * budget / max(took, 1e-9)))
        number *= 4


def interleaved(scenarios: dict[str, dict[str, Any]], repeats: int, budget: float) -> dict[str, dict[str, list[float]]]:
    """Seconds per call of each scenario's native and portafunc handler, per repeat. Every repeat runs every scenario
    (in a new random order) and each scenario's pair in a random order: a scenario's repeats are spread over the
    whole run, so a slow spell of the shared machine (seconds long) falls on a few repeats of every scenario, which
    the medians pass over, rather than on all the repeats of the scenario it happened to meet."""
    numbers = {name: {who: _calibrate(sc[who][0], budget) for who in ("native", "portafunc")}
               for name, sc in scenarios.items()}
    runs: dict[str, dict[str, list[float]]] = {name: {"native": [], "portafunc": []} for name in scenarios}
    for _ in range(repeats):
        names = list(scenarios)
        random.shuffle(names)
        for name in names:
            order = ["native", "portafunc"]
            random.shuffle(order)
            for who in order:
                runs[name][who].append(_loop(scenarios[name][who][0], numbers[name][who]))
    return runs


def _stats(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def scenarios() -> dict[str, dict[str, Any]]:
    try:  # before the adapter layout
        from portafunc_aws import http
    except ImportError:
        from portafunc_aws.codecs import http  # type: ignore[no-redef]

    pf = portafunc_handlers()
    ctx = workloads.LambdaContext()
    v1, v2 = workloads.http_v1_event(), workloads.http_v2_event()
    alb, alb_multi, url = alb_event(False), alb_event(True), function_url_event()
    sqs, sns_sqs, sns = workloads.sqs_event(BATCH), sns_sqs_event(BATCH), sns_event()

    def http_ok(out: Any) -> bool:
        body = out.get("body")
        return out["statusCode"] == 200 and json.loads(body) == {"message": "hello world"}

    def batch_ok(out: Any) -> bool:
        return out == {"batchItemFailures": []}

    assert http.detect(alb) == "alb" and http.detect(alb_multi) == "alb-multi" and http.detect(url) == "function-url"
    return {
        "REST API (v1)": {"unit": "request", "per": 1, "native": (lambda: native_apigw(v1, ctx), http_ok),
                          "portafunc": (lambda: pf["http"](v1, ctx), http_ok)},
        "HTTP API (v2)": {"unit": "request", "per": 1, "native": (lambda: native_apigw(v2, ctx), http_ok),
                          "portafunc": (lambda: pf["http"](v2, ctx), http_ok)},
        "ALB": {"unit": "request", "per": 1, "native": (lambda: native_alb(alb, ctx), http_ok),
                "portafunc": (lambda: pf["http"](alb, ctx), http_ok)},
        "ALB (multi-value headers)": {"unit": "request", "per": 1,
                                      "native": (lambda: native_alb(alb_multi, ctx), http_ok),
                                      "portafunc": (lambda: pf["http"](alb_multi, ctx), http_ok)},
        "Function URL": {"unit": "request", "per": 1, "native": (lambda: native_function_url(url, ctx), http_ok),
                         "portafunc": (lambda: pf["http"](url, ctx), http_ok)},
        f"SQS batch of {BATCH}": {"unit": "record", "per": BATCH, "native": (lambda: native_sqs(sqs, ctx), batch_ok),
                                  "portafunc": (lambda: pf["queue"](sqs, ctx), batch_ok)},
        f"SNS → SQS batch of {BATCH} (envelopes)": {
            "unit": "record", "per": BATCH, "native": (lambda: native_sns_sqs(sns_sqs, ctx), batch_ok),
            "portafunc": (lambda: pf["topic"](sns_sqs, ctx), batch_ok)},
        "SNS (direct, one record)": {"unit": "record", "per": 1,
                                     "native": (lambda: native_sns(sns, ctx), lambda out: out is None),
                                     "portafunc": (lambda: pf["topic"](sns, ctx), lambda out: out is None)},
    }


def run(quick: bool = False, smoke: bool = False) -> dict[str, Any]:
    repeats, budget = (3, 0.002) if smoke else (9, 0.05) if quick else (25, 0.1)
    out: dict[str, Any] = {"repeats": repeats, "triggers": {}, "goals": {"http_us": HTTP_GOAL_US,
                                                                        "record_us": RECORD_GOAL_US,
                                                                        "body_ratio": BODY_GOAL_RATIO}}
    every = scenarios()
    for name, sc in every.items():
        for who in ("native", "portafunc"):
            fn, ok = sc[who]
            assert ok(fn()), f"{name}: {who} gave a wrong answer"
    timed = interleaved(every, repeats, budget)
    for name, sc in every.items():
        runs = timed[name]
        added = [(p - n) * 1e6 / sc["per"] for p, n in zip(runs["portafunc"], runs["native"], strict=True)]
        goal = HTTP_GOAL_US if sc["unit"] == "request" else RECORD_GOAL_US
        out["triggers"][name] = {
            "unit": sc["unit"], "per": sc["per"], "goal_us": goal,
            "native_us": _stats([n * 1e6 for n in runs["native"]]),
            "portafunc_us": _stats([p * 1e6 for p in runs["portafunc"]]),
            "added_us": _stats(added), "met": statistics.median(added) <= goal,
        }
        for who in ("native", "portafunc"):
            fn, ok = sc[who]
            assert ok(fn()), f"{name}: {who} gave a wrong answer after timing"
    size = 64 * 1024 if smoke else BODY_BYTES
    ev, ctx, pf = body_event(size), workloads.LambdaContext(), portafunc_handlers()["body"]
    assert json.loads(pf(ev, ctx)["body"]) == json.loads(native_body(ev, ctx)["body"])
    body_runs = {"native": [], "portafunc": []}  # type: dict[str, list[float]]
    for _ in range(3 if smoke else 7 if quick else 15):
        order = ["native", "portafunc"]
        random.shuffle(order)
        for who in order:
            fn = (lambda: native_body(ev, ctx)) if who == "native" else (lambda: pf(ev, ctx))
            body_runs[who].append(min(_loop(fn, 1) for _ in range(3)))
    ratios = [p / n for p, n in zip(body_runs["portafunc"], body_runs["native"], strict=True)]
    out["body"] = {"bytes": len(ev["body"]), "native_ms": _stats([n * 1e3 for n in body_runs["native"]]),
                   "portafunc_ms": _stats([p * 1e3 for p in body_runs["portafunc"]]), "ratio": _stats(ratios),
                   "met": statistics.median(ratios) <= BODY_GOAL_RATIO}
    return out


def table(data: dict[str, Any]) -> list[str]:
    lines = ["| trigger | native, µs per call | portafunc, µs per call | added per request/record, µs (median, min–max) "
             "| goal | state |", "|---|---|---|---|---|---|"]
    order = ["REST API (v1)", "HTTP API (v2)", "ALB", "ALB (multi-value headers)", "Function URL", "SQS", "SNS →", "SNS ("]
    names = sorted(data["triggers"], key=lambda n: next((i for i, o in enumerate(order) if n.startswith(o)), 99))
    for name in names:  # result files are written with sorted keys: the table keeps the triggers' own order
        t = data["triggers"][name]
        a = t["added_us"]
        lines.append(f"| {name} | {t['native_us']['median']:.1f} | {t['portafunc_us']['median']:.1f} | "
                     f"{a['median']:+.2f} ({a['min']:+.2f} – {a['max']:+.2f}) per {t['unit']} | "
                     f"≤ {t['goal_us']:g} µs | {'met' if t['met'] else '**missed**'} |")
    b = data["body"]
    r = b["ratio"]
    lines.append(f"| HTTP API (v2), JSON body of {b['bytes'] / 1048576:.1f} MiB parsed by the handler | "
                 f"{b['native_ms']['median']:.1f} ms | {b['portafunc_ms']['median']:.1f} ms | "
                 f"{r['median']:.3f}× native ({r['min']:.3f} – {r['max']:.3f}) | ≤ {BODY_GOAL_RATIO}× | "
                 f"{'met' if b['met'] else '**missed**'} |")
    return lines


if __name__ == "__main__":
    mode = sys.argv[1] if len(sys.argv) > 1 else ""
    result = run(quick=mode == "--quick", smoke=mode == "--smoke")
    print("\n".join(table(result)))
    if len(sys.argv) > 2:
        Path(sys.argv[2]).write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
