"""Render docs/benchmarks.md and its PNG plots from the raw JSON results in benchmarks/results/.

Nothing here measures: every figure comes from a results file written by a suite in the same run. Missing suites
and contenders appear as "not measured: <why>".
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any

GOAL_IMPORT_MS = 40
GOAL_HTTP_US = 10
GOAL_SQS_US = 8
GOAL_SQS_TYPED_US = 30
GOAL_MSG_RATIO = 0.95
GOAL_COLD_ADDED_MS = 15
GOAL_TYPED_VS_POWERTOOLS = 0.5  # typed parameters + middleware, against Powertools with validation on
GOAL_ADDED_HTTP_US = 3  # Azure and GCP HTTP: added over the native handler, per request

COLD_GROUPS = {
    "AWS Lambda, HTTP API v2 hello-world": ["aws_native_http", "aws_portafunc_http", "aws_powertools_http",
                                            "aws_mangum_http", "aws_chalice_http"],
    "AWS Lambda, SQS batch of 10 (untyped)": ["aws_native_sqs", "aws_portafunc_sqs", "aws_powertools_sqs"],
    "AWS Lambda, SQS batch of 10 (pydantic)": ["aws_native_sqs_typed", "aws_portafunc_sqs_typed",
                                               "aws_powertools_sqs_typed"],
    "Google Cloud Functions (functions-framework), HTTP": ["gcp_native_http", "gcp_portafunc_http"],
    "Azure Functions (Python v2 model), HTTP": ["azure_native_http", "azure_portafunc_http"],
}
LABELS = {
    "bare": "bare interpreter", "aws_native_http": "native Lambda handler", "aws_portafunc_http": "portafunc",
    "aws_powertools_http": "Powertools APIGatewayHttpResolver", "aws_mangum_http": "Mangum + FastAPI",
    "aws_chalice_http": "Chalice (v1 event)", "aws_native_sqs": "native Lambda handler",
    "aws_portafunc_sqs": "portafunc", "aws_powertools_sqs": "Powertools BatchProcessor",
    "aws_native_sqs_typed": "native handler + pydantic", "aws_portafunc_sqs_typed": "portafunc Message[Order]",
    "aws_powertools_sqs_typed": "Powertools BatchProcessor + parser model",
    "gcp_native_http": "native functions-framework function", "gcp_portafunc_http": "portafunc (generated main.py)",
    "azure_native_http": "native v2 function", "azure_portafunc_http": "portafunc (generated function_app.py)",
}
LOGGING_NATIVE = "native, logging the failure (one JSON line)"  # warm.LOGGING_NATIVE
TYPED_FLOOR = "pydantic floor (native + TypeAdapter + model_dump_json)"  # the typed route's native, same validation
WARM_TITLES = {
    "aws_http_v2": "AWS: API Gateway HTTP API v2 event → JSON response",
    "aws_http_v2_typed": "AWS: HTTP API v2 GET with typed path, query and header parameters (pydantic), a response "
                         "model and a pass-through middleware",
    "aws_sqs10_untyped": "AWS: SQS batch of 10 → batchItemFailures (untyped JSON)",
    "aws_sqs10_typed": "AWS: SQS batch of 10 → batchItemFailures (pydantic model)",
    "aws_sqs1_failing": "AWS: one SQS message whose handler raises (KeyError) → batchItemFailures, untyped",
    "aws_sqs10_one_failing": "AWS: SQS batch of 10, one handler raises → that one message in batchItemFailures",
    "aws_sqs1_failing_typed": "AWS: one SQS message that fails validation (pydantic model) → batchItemFailures",
    "gcp_pubsub_cloudevent": "GCP: Pub/Sub messagePublished CloudEvent (direct call of the function's CloudEvent "
                             "lane)",
    "gcp_pubsub_cloudevent_served": "GCP: the same CloudEvent POSTed (binary mode) into functions-framework's WSGI "
                                    "app: the entry inside a real Flask request; native is the documented "
                                    "`@functions_framework.cloud_event` target, and the same handler written as an "
                                    "HTTP target that parses the body itself is shown beside it",
    "gcp_pubsub_push_served": "GCP: a push subscription's raw envelope POSTed into functions-framework's WSGI app "
                              "(a queue function); native is the `@functions_framework.cloud_event` target "
                              "functions-framework converts the push for",
    "azure_eventgrid": "Azure: Event Grid event (direct call of the v2 function)",
    "azure_http": "Azure: HTTP request (func.HttpRequest → func.HttpResponse)",
    "azure_storage_queue": "Azure: Storage Queue message (func.QueueMessage as the worker builds it, direct call)",
    "gcp_http_served": "GCP: HTTP GET into functions-framework's WSGI app (the app's one HTTP service)",
}


def _load(results: Path, name: str) -> dict[str, Any] | None:
    path = results / f"{name}.json"
    if not path.is_file():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def _f(x: float | None, digits: int = 1) -> str:
    return "–" if x is None else f"{x:.{digits}f}"


def _mm(s: dict[str, Any], digits: int = 1, scale: float = 1.0) -> str:
    if not s or not s.get("n"):
        return "not measured"
    return (f"{s['median'] * scale:.{digits}f} ({s['min'] * scale:.{digits}f}–{s['max'] * scale:.{digits}f})")


def paired(cold: dict[str, Any], a: str, b: str, mode: str, key: str = "total_ms") -> dict[str, Any] | None:
    """Per-round differences a − b (same round, so machine noise largely cancels): median, min, max. Runs carry
    their round (a contender that failed once must not shift the pairing); older results are paired by position."""
    ra, rb = cold["raw"].get(a, {}).get(mode, []), cold["raw"].get(b, {}).get(mode, [])
    if not all(key in x for x in ra + rb):  # a figure older results do not carry
        return None
    if all("round" in x for x in ra + rb):
        by_round = {x["round"]: x for x in rb}
        pairs = [(x, by_round[x["round"]]) for x in ra if x["round"] in by_round]
    else:
        pairs = list(zip(ra, rb, strict=False))  # unequal lengths: the shorter one
    if not pairs:
        return None
    diffs = [x[key] - y[key] for x, y in pairs]
    return {"n": len(diffs), "median": statistics.median(diffs), "min": min(diffs), "max": max(diffs)}


def added_over_native(res: dict[str, Any]) -> dict[str, Any] | None:
    """A warm scenario's portafunc − native per repeat (the two timed in the same repeat, so load largely cancels):
    median, min, max; None when either did not run."""
    pf, nat = res.get("portafunc", {}).get("samples"), res.get("native", {}).get("samples")
    if not pf or not nat:
        return None
    diffs = [a - b for a, b in zip(pf, nat, strict=True)]  # one sample of each per repeat
    return {"n": len(diffs), "median": statistics.median(diffs), "min": min(diffs), "max": max(diffs)}


def _ratio(a: float | None, b: float | None) -> str:
    if a is None or b is None or b == 0:
        return "–"
    return f"{a / b:.2f}×"


def _med(stats: dict[str, Any], name: str, mode: str, key: str = "total_ms") -> float | None:
    s = stats.get(name, {}).get(mode, {}).get(key, {})
    return s.get("median") if s.get("n") else None


# -- sections ------------------------------------------------------------------------------------------------------

def machine_section(m: dict[str, Any] | None) -> list[str]:
    if not m:
        return ["Machine facts not recorded (run `python benchmarks/run.py`).", ""]
    out = ["## Machine and versions", "",
           f"* CPU: {m['cpu']}, {m['cores']} cores (shared with other jobs running beside the benchmarks); "
           f"load average at start {', '.join(f'{x:.2f}' for x in m['loadavg_start'])}, at end "
           f"{', '.join(f'{x:.2f}' for x in m.get('loadavg_end', []))}",
           f"* {m['implementation']} {m['python']} on {m['platform']}",
           f"* run: {m['mode']} mode, {m['date']}, commit {m['commit']}, {m.get('seconds', 0):.0f} s in all",
           "* packages: " + ", ".join(f"{k} {v}" for k, v in m["packages"].items()), ""]
    return out


def goals_section(cold: Any, warm: Any, msg: Any) -> list[str]:
    rows = []

    def row(goal: str, value: str, met: bool | None, why: str) -> None:
        state = "not measured" if met is None else ("**met**" if met else "**missed**")
        rows.append(f"| {goal} | {value} | {state} | {why} |")

    if cold and "stats" in cold:
        d = paired(cold, "aws_portafunc_http", "bare", "pyc", "wall_ms")
        imp = _med(cold["stats"], "aws_portafunc_http", "pyc", "total_ms")
        if d:
            row(f"core + one adapter import < {GOAL_IMPORT_MS} ms above bare interpreter start (AWS, hello app, .pyc)",
                f"{d['median']:.1f} ms process wall time above bare (in-process import + first event "
                f"{_f(imp)} ms)", d["median"] < GOAL_IMPORT_MS, "see *Why* below" if d["median"] >= GOAL_IMPORT_MS
                else "")
        for target, pf, nat in (("AWS", "aws_portafunc_http", "aws_native_http"),
                                ("GCP", "gcp_portafunc_http", "gcp_native_http"),
                                ("Azure", "azure_portafunc_http", "azure_native_http")):
            d = paired(cold, pf, nat, "pyc")
            if d is None:
                row(f"added cold start over native < {GOAL_COLD_ADDED_MS} ms ({target})", "–", None,
                    cold.get("errors", {}).get(pf, "not run")[:200])
                continue
            mods = [_med(cold["stats"], n, "pyc", "modules") for n in (pf, nat)]
            counted = f"; {mods[0]:.0f} vs {mods[1]:.0f} modules" if None not in mods else ""
            cpu = paired(cold, pf, nat, "pyc", "cpu_ms")
            if cpu:
                counted += f"; CPU time {cpu['median']:+.1f} ({cpu['min']:+.1f}…{cpu['max']:+.1f})"
            row(f"added cold start over native < {GOAL_COLD_ADDED_MS} ms ({target}, HTTP, .pyc)",
                f"{d['median']:+.1f} ms (min {d['min']:+.1f}, max {d['max']:+.1f}; {d['n']} rounds{counted})",
                d["median"] < GOAL_COLD_ADDED_MS,
                "" if d["median"] < GOAL_COLD_ADDED_MS else "see *Why* below")
    else:
        row("cold-start goals", "–", None, (cold or {}).get("not_measured", "cold suite not run"))
    if warm and "scenarios" in warm:
        sc = warm["scenarios"]

        def w(scen: str, who: str) -> float | None:
            v = sc.get(scen, {}).get(who, {})
            return v.get("median")

        for scen, goal, label in (("aws_http_v2", GOAL_HTTP_US, "HTTP v2 event → response"),
                                  ("aws_sqs10_untyped", GOAL_SQS_US, "SQS batch of 10 with failure reporting, untyped"),
                                  ("aws_sqs10_typed", GOAL_SQS_TYPED_US, "SQS batch of 10, typed (pydantic)")):
            pf, pt, fl = w(scen, "portafunc"), w(scen, "powertools"), w(scen, "json.loads floor")
            if pf is None:
                row(f"{label} < {goal} µs", "–", None, "portafunc contender did not run")
                continue
            row(f"{label} < {goal} µs", f"{pf:.1f} µs (Powertools {_f(pt)} µs, json.loads floor {_f(fl)} µs; "
                f"portafunc/Powertools {_ratio(pf, pt)})", pf < goal, "" if pf < goal else "see *Why* below")
        typed = sc.get("aws_http_v2_typed", {})
        pf, pt = w("aws_http_v2_typed", "portafunc"), w("aws_http_v2_typed", "powertools (enable_validation=True)")
        bare = w("aws_http_v2_typed", "portafunc bare (read by hand, no middleware)")
        floor = w("aws_http_v2_typed", TYPED_FLOOR)
        if typed and pf is not None and pt is not None:
            ratio = pf / pt
            row(f"HTTP v2 with typed parameters, response model and middleware ≤ {GOAL_TYPED_VS_POWERTOOLS}× "
                "Powertools (enable_validation=True)",
                f"{ratio:.2f}× ({pf:.1f} vs {pt:.1f} µs; the same route read by hand, no middleware: {_f(bare)} µs; "
                f"a native handler validating the same values with pydantic: {_f(floor)} µs)",
                ratio <= GOAL_TYPED_VS_POWERTOOLS, "" if ratio <= GOAL_TYPED_VS_POWERTOOLS else "see *Why* below")
        for scen, label in (("azure_http", "Azure HTTP (func.HttpRequest → func.HttpResponse)"),
                            ("gcp_http_served", "GCP HTTP (functions-framework, WSGI)")):
            d = added_over_native(sc.get(scen, {}))
            if d is None:
                row(f"{label}: added over native ≤ {GOAL_ADDED_HTTP_US} µs", "–", None, "not measured")
                continue
            row(f"{label}: added over native ≤ {GOAL_ADDED_HTTP_US} µs",
                f"{d['median']:+.1f} µs (min {d['min']:+.1f}, max {d['max']:+.1f}; native {_f(w(scen, 'native'))} µs)",
                d["median"] <= GOAL_ADDED_HTTP_US, "" if d["median"] <= GOAL_ADDED_HTTP_US else "see *Why* below")
    else:
        row("warm goals", "–", None, (warm or {}).get("not_measured", "warm suite not run"))
    if msg and "backends" in msg:
        control = next((b for n, b in msg["backends"].items() if n.startswith("noise control")), None)
        noise = (f"noise control (raw vs raw, moto): {_mm(control['ratio'], 2)}" if control and control.get("ratio")
                 else "")
        for name in msg.get("order", msg["backends"]):
            b = msg["backends"][name]
            if not _msg_goal(name):
                continue  # the deque floor and the raw-vs-raw control are not goals: shown in section 4
            r = b.get("ratio")
            goal = f"messaging throughput ≥ {GOAL_MSG_RATIO} of raw SDK ({name})"
            if r is None:
                row(goal, "–", None, b.get("not_measured", ""))
                continue
            met = r["median"] >= GOAL_MSG_RATIO
            row(goal, f"{r['median']:.2f} (min {r['min']:.2f}, max {r['max']:.2f}); {b['pf_rate']['median']:.0f} vs "
                f"{b['raw_rate']['median']:.0f} msg/s", met, "; ".join(x for x in (
                    "" if met else "see *Messaging* in the analysis below", noise if "moto" in name else "") if x))
    else:
        row("messaging throughput goal", "–", None, (msg or {}).get("not_measured", "messaging suite not run"))
    return ["## Goals", "", "| goal | measured (median of this run) | verdict | note |", "|---|---|---|---|",
            *rows, ""]


def cold_section(cold: Any, img: Path) -> list[str]:
    out = ["## 1. Cold start", ""]
    if not cold or "stats" not in cold:
        return out + [f"not measured: {(cold or {}).get('not_measured', 'suite not run')}", ""]
    st = cold["stats"]
    web = cold.get("web_rounds", cold["rounds"])
    out += [f"{cold['rounds']} fresh processes per contender and mode"
            + (f" ({web} for the Azure and GCP HTTP pairs)" if web != cold["rounds"] else "")
            + ", all contenders interleaved in a new random order each round. **import + first event** is measured inside the child with `perf_counter` (from "
            "before the entry module's import to after the first response); **process** is the wall time of the "
            "whole process as the parent sees it (interpreter start, site, import, first event, exit). "
            "**added over native** is the median of per-round differences (same round, the workload's contenders "
            "run back to back, so shared noise cancels), with min–max and the number of rounds (the Azure and GCP "
            "HTTP pairs get more rounds: their processes spread the widest); **modules** is `len(sys.modules)` "
            "after the first event; **CPU** is the paired difference of the same span's CPU time (user + system, "
            "which waiting for a core on the shared machine does not inflate). "
            "Ratios are portafunc ÷ that contender (below 1 = portafunc is faster). Medians, (min–max).", ""]
    bare = st.get("bare")
    if bare:
        out += [f"Bare interpreter (`python` + site + json, no handler): process {_mm(bare['pyc']['wall_ms'])} ms "
                f"with .pyc, {_mm(bare['nopyc']['wall_ms'])} ms without.", ""]
    for mode, title in (("pyc", "with .pyc (precompiled)"), ("nopyc", "without .pyc (every module compiled from "
                                                                       "source)")):
        out += [f"### {title}", ""]
        for group, names in COLD_GROUPS.items():
            pf = next((n for n in names if "portafunc" in n), None)
            native = names[0]
            out += [f"**{group}**", "", "| contender | import + first event, ms | process, ms | modules "
                    "| added over native, ms | portafunc ÷ contender |", "|---|---|---|---|---|---|"]
            for n in names:
                if n not in st:
                    why = cold.get("errors", {}).get(n, "did not run").splitlines()[-1][:200]
                    out.append(f"| {LABELS.get(n, n)} | not measured: {why} | | | | |")
                    continue
                s = st[n][mode]
                d = paired(cold, n, native, mode) if n != native else None
                added = "" if d is None else f"{d['median']:+.1f} ({d['min']:+.1f}…{d['max']:+.1f}), {d['n']} rounds"
                cpu = paired(cold, n, native, mode, "cpu_ms") if n != native else None
                added += "" if cpu is None else f"; CPU {cpu['median']:+.1f} ({cpu['min']:+.1f}…{cpu['max']:+.1f})"
                ratio = "" if n == pf else _ratio(_med(st, pf, mode), _med(st, n, mode))
                modules = f"{s['modules']['median']:.0f}" if s.get("modules", {}).get("n") else "–"
                out.append(f"| {LABELS.get(n, n)} | {_mm(s['total_ms'])} | {_mm(s['wall_ms'])} | {modules} | {added} "
                           f"| {ratio} |")
            out.append("")
    out += ["![cold start](benchmarks/cold_start.png)", ""]
    _plot_cold(st, img / "cold_start.png")
    if cold.get("errors"):
        out += ["Contenders that failed (not measured):", ""]
        out += [f"* `{n}`: {e.splitlines()[-1][:300]}" for n, e in cold["errors"].items()]
        out.append("")
    return out


def memory_section(cold: Any) -> list[str]:
    out = ["## 5. Memory: peak RSS after the first event", ""]
    if not cold or "stats" not in cold:
        return out + ["not measured: the cold-start suite did not run", ""]
    st = cold["stats"]
    key = "peak_rss_kb" if any(st[n].get("pyc", {}).get("peak_rss_kb") for n in st) else "rss_kb"
    how = ("maximum RSS of each fresh cold-start process as reported by `/usr/bin/time -f %M` (its own parent: "
           "`ru_maxrss` read inside a child includes the RSS its parent had when it forked, which is why a table "
           "read from it showed +0.0 MiB everywhere)" if key == "peak_rss_kb" else
           "`ru_maxrss` of the cold-start child (no `/usr/bin/time` on this machine: includes the parent's peak)")
    out += [f"Peak RSS = {how}, .pyc mode, median (min–max) over the rounds; modules = `len(sys.modules)` after "
            "the first event.", "",
            "| workload | contender | peak RSS, MiB | vs native | modules loaded |", "|---|---|---|---|---|"]
    for group, names in COLD_GROUPS.items():
        base = _med(st, names[0], "pyc", key)
        for n in names:
            s = st.get(n, {}).get("pyc", {}).get(key)
            if not s or not s.get("n"):
                continue
            r = s["median"]
            delta = "" if n == names[0] or base is None else f"{(r - base) / 1024:+.1f} MiB, {_ratio(r, base)}"
            out.append(f"| {group} | {LABELS.get(n, n)} | {_mm(s, 1, 1 / 1024)} | {delta} | "
                       f"{_f(_med(st, n, 'pyc', 'modules'), 0)} |")
    return out + [""]


def warm_section(warm: Any, img: Path) -> list[str]:
    out = ["## 2. Warm overhead per invocation", ""]
    if not warm or "scenarios" not in warm:
        return out + [f"not measured: {(warm or {}).get('not_measured', 'suite not run')}", ""]
    out += [f"timeit-style loops in one process (loop count calibrated to ~{warm['budget_s'] * 1000:.0f} ms per "
            f"repeat, GC off while timing, the process's CPU time: waiting for a core on a shared machine is not counted), "
            f"{warm['repeats']} repeats, each running every scenario and every contender of a "
            "scenario in a new random order (a scenario's repeats spread over the whole run). µs per invocation, median (min–max). The floor is `json.loads` of "
            "the event's JSON text. Each contender's output is checked before and after timing.", ""]
    for scen, res in warm["scenarios"].items():
        pf = res.get("portafunc", {}).get("median")
        fl = res.get("json.loads floor", {}).get("median")
        out += [f"**{WARM_TITLES.get(scen, scen)}**", "", "| contender | µs / invocation | × json.loads floor | "
                "portafunc ÷ contender |", "|---|---|---|---|"]
        for name, v in res.items():
            if "not_measured" in v:
                out.append(f"| {name} | not measured: {v['not_measured']} | | |")
                continue
            out.append(f"| {name} | {_mm(v, 2)} | {_ratio(v['median'], fl)} | "
                       f"{'' if name == 'portafunc' else _ratio(pf, v['median'])} |")
        out.append("")
    for name, err in warm.get("errors", {}).items():
        out.append(f"* not measured ({name}): {err}")
    out += ["![warm overhead](benchmarks/warm.png)", ""]
    _plot_warm(warm["scenarios"], img / "warm.png")
    return out


def packaging_section(pk: Any) -> list[str]:
    out = ["## 3. Packaging", ""]
    if not pk:
        return out + ["not measured: the packaging suite did not run", ""]
    if "not_measured" in pk:
        return out + [f"not measured: {pk['not_measured']}", ""]
    out += [pk.get("method", ""), "", "| packager | artifact size, KiB | files | build cold, s | build warm, s | "
            "byte-identical rebuild |", "|---|---|---|---|---|---|"]
    for name, r in pk["packagers"].items():
        if "not_measured" in r:
            out.append(f"| {name} | not measured: {r['not_measured']} | | | | |")
            continue
        out.append(f"| {name} | {r['size_bytes'] / 1024:.1f} | {r['files']} | {_mm(r['cold_s'], 2)} | "
                   f"{_mm(r['warm_s'], 2)} | {r['identical']} |")
    return out + [""]


def _msg_goal(name: str) -> bool:
    """Rows that are portafunc against a raw SDK (the goal); not the deque floor nor the raw-vs-raw control."""
    return not (name.startswith("memory") or name.startswith("noise control"))


def messaging_section(msg: Any) -> list[str]:
    out = ["## 4. Messaging throughput", ""]
    if not msg:
        return out + ["not measured: the messaging suite did not run", ""]
    if "not_measured" in msg:
        return out + [f"not measured: {msg['not_measured']}", ""]
    out += [msg.get("method", ""), "",
            "msg/s per block (only the send calls timed), median (min–max) over the blocks; **portafunc ÷ raw** is the "
            "median (min–max) of the per-pair ratios, **of totals** is all messages ÷ all send time of one side "
            "against the other. Goal: portafunc ÷ raw ≥ " f"{GOAL_MSG_RATIO}.", "",
            "| stand-in | messages per side (block, per call) | raw SDK, msg/s | portafunc, msg/s | portafunc ÷ raw | "
            "of totals | goal | delivered raw / portafunc |", "|---|---|---|---|---|---|---|---|"]
    stalls = []
    for name in msg.get("order", msg["backends"]):
        b = msg["backends"][name]
        if "not_measured" in b:
            out.append(f"| {name} | not measured: {b['not_measured']} | | | | | | |")
            continue
        r = b["ratio"]
        goal = ("–" if not _msg_goal(name) else ("**met**" if r["median"] >= GOAL_MSG_RATIO else "**missed**"))
        totals = _ratio(b.get("pf_overall"), b.get("raw_overall")).rstrip("×")
        sent, got = b.get("sent", {}), b.get("delivered", {})
        delivered = (f"{got.get('raw', '–')}/{sent.get('raw', '–')}, {got.get('portafunc', '–')}/"
                     f"{sent.get('portafunc', '–')}" if got else "–")
        out.append(f"| {name} | {b['messages']} ({b.get('block', '–')}, {b.get('chunk', '–')}) | "
                   f"{_mm(b['raw_rate'], 0)} | {_mm(b['pf_rate'], 0)} | {_mm(r, 3)} | {totals} | {goal} | "
                   f"{delivered} |")
        stalls += [f"* {name}, {s}" for s in b.get("stalls", [])]
    out += ["", "*delivered* = messages counted at the broker ÷ messages sent, warm-up included; the raw-vs-raw "
            "control's \"portafunc\" column is a second raw client.", ""]
    if stalls:
        out += ["Block pairs voided because a send failed (drained and run again, not in the figures):", "", *stalls, ""]
    return out


# -- plots ---------------------------------------------------------------------------------------------------------

def _plots() -> bool:
    """matplotlib is in the benchmark venv; a smoke run in the test venv renders the tables without plots."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def _plot_cold(st: dict[str, Any], path: Path) -> None:
    if not _plots():
        return
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [n for names in COLD_GROUPS.values() for n in names if n in st]
    fig, ax = plt.subplots(figsize=(10, 0.45 * len(names) + 1.5))
    ys = range(len(names))
    for off, mode, color in ((-0.2, "pyc", "#2a7ab0"), (0.2, "nopyc", "#e0a030")):
        med = [st[n][mode]["total_ms"]["median"] for n in names]
        lo = [st[n][mode]["total_ms"]["median"] - st[n][mode]["total_ms"]["min"] for n in names]
        hi = [st[n][mode]["total_ms"]["max"] - st[n][mode]["total_ms"]["median"] for n in names]
        ax.barh([y + off for y in ys], med, height=0.4, xerr=[lo, hi], color=color, label=mode, capsize=2)
    ax.set_yticks(list(ys))
    ax.set_yticklabels([f"{n.split('_')[0]}: {LABELS.get(n, n)}" for n in names], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("import + first event, ms (median, min–max bars)")
    ax.set_title("Cold start per contender")
    ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _plot_warm(scenarios: dict[str, Any], path: Path) -> None:
    if not _plots():
        return
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(scenarios), 1, figsize=(9, 2.0 * len(scenarios) + 0.5))
    if len(scenarios) == 1:
        axes = [axes]
    for ax, (scen, res) in zip(axes, scenarios.items(), strict=True):
        names = [n for n, v in res.items() if "median" in v]
        med = [res[n]["median"] for n in names]
        colors = ["#c0392b" if n == "portafunc" else ("#999999" if "floor" in n else "#2a7ab0") for n in names]
        ax.barh(names, med, color=colors, xerr=[[res[n]["median"] - res[n]["min"] for n in names],
                                                [res[n]["max"] - res[n]["median"] for n in names]], capsize=2)
        ax.invert_yaxis()
        ax.set_title(WARM_TITLES.get(scen, scen), fontsize=9)
        ax.tick_params(labelsize=8)
    axes[-1].set_xlabel("µs per invocation (median, min–max bars)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


SCALING_TITLES = {
    "routes": "Cost vs number of routes (AWS, HTTP API v2; Chalice takes the REST v1 event)",
    "batch": "Cost vs batch size (AWS SQS, every record succeeds)",
    "body": "Cost vs JSON body size (AWS HTTP API v2 POST, the handler parses the body)",
}
SCALING_NOTES = {
    "routes": "`portafunc` routes by API Gateway's `routeKey`; `portafunc trie` gets `$default` and finds the route "
              "itself; `native` is a hand-written dict from routeKey to handler. Build = registering the routes "
              "(the framework already imported); first request includes any lazily built index.",
    "batch": "peak = `tracemalloc` peak during one call; GC = collections during one call.",
    "body": "",
}


def scaling_section(sc: Any, img: Path) -> list[str]:
    out = ["## 6. Scaling", ""]
    if not sc:
        return out + ["not measured: the scaling suite did not run", ""]
    if "not_measured" in sc:
        return out + [f"not measured: {sc['not_measured']}", ""]
    out += [f"Each figure is a fresh interpreter per contender and size, {sc['rounds']} rounds in a new random order; "
            "median (min–max). Ratios are medians over medians of the same run.", ""]
    st = sc["stats"]
    for kind, plan in sc["plan"].items():
        metric, sizes, names = plan["metric"], plan["sizes"], plan["contenders"]
        out += [f"**{SCALING_TITLES.get(kind, kind)}** — {plan['unit']}", ""]
        if SCALING_NOTES.get(kind):
            out += [SCALING_NOTES[kind], ""]
        extra = {"routes": ["build_ms", "first_request_us"], "batch": ["peak_kib", "gc_collections"]}.get(kind, [])
        head = ["size", "contender", plan["unit"], "÷ native"] + extra
        out += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for size in sizes:
            base = st.get(f"{kind}|native|{size}", {}).get(metric, {}).get("median")
            for name in names:
                row = st.get(f"{kind}|{name}|{size}")
                if not row:
                    out.append(f"| {size:,} | {name} | not measured | | " + " | " * len(extra))
                    continue
                cells = [f"{size:,}", name, _mm(row[metric], 2), "" if name == "native" else
                         _ratio(row[metric]["median"], base)]
                cells += [_mm(row[e], 1) for e in extra]
                out.append("| " + " | ".join(cells) + " |")
        out += ["", f"![{kind} scaling](benchmarks/scaling-{kind}.png)", ""]
        _plot_scaling(kind, plan, st, img / f"scaling-{kind}.png")
    for key, err in sc.get("errors", {}).items():
        out.append(f"* not measured ({key}): {err.splitlines()[-1][:300]}")
    return out + [""]


def _plot_scaling(kind: str, plan: dict[str, Any], st: dict[str, Any], path: Path) -> None:
    if not _plots():
        return
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.6))
    for name in plan["contenders"]:
        xs, ys, lo, hi = [], [], [], []
        for size in plan["sizes"]:
            s = st.get(f"{kind}|{name}|{size}", {}).get(plan["metric"])
            if s and s.get("n"):
                xs.append(size)
                ys.append(s["median"])
                lo.append(s["median"] - s["min"])
                hi.append(s["max"] - s["median"])
        if xs:
            style = {"color": "#c0392b", "linewidth": 2} if name.startswith("portafunc") else {}
            ax.errorbar(xs, ys, yerr=[lo, hi], marker="o", capsize=2, label=name,
                        linestyle="--" if name.endswith(("trie", "typed")) else "-", **style)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel({"routes": "routes in the app", "batch": "records per batch", "body": "body bytes"}[kind])
    ax.set_ylabel(plan["unit"])
    ax.set_title(SCALING_TITLES.get(kind, kind), fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _paired_ratio(a: dict[str, Any] | None, b: dict[str, Any] | None) -> dict[str, float] | None:
    """a ÷ b per repeat (both timed in the same repeat, interleaved): median, min, max."""
    if not a or not b or "samples" not in a or "samples" not in b:
        return None
    ratios = [x / y for x, y in zip(a["samples"], b["samples"], strict=False) if y]
    return {"median": statistics.median(ratios), "min": min(ratios), "max": max(ratios)} if ratios else None


def _paired_added(a: dict[str, Any], b: dict[str, Any]) -> dict[str, float]:
    """a − b per repeat (both timed in the same repeat, interleaved, as aws_triggers.py pairs them): median, min,
    max; the difference of the two medians when the samples are missing (an older result file)."""
    diffs = [x - y for x, y in zip(a.get("samples", ()), b.get("samples", ()), strict=False)]
    if not diffs:
        added = a["median"] - b["median"]
        return {"median": added, "min": added, "max": added}
    return {"median": statistics.median(diffs), "min": min(diffs), "max": max(diffs)}


def _rr(r: dict[str, float] | None) -> str:
    return "–" if r is None else f"{r['median']:.2f}× ({r['min']:.2f}–{r['max']:.2f})"


def scaling_goals_section(warm: Any, sc: Any) -> list[str]:
    """The goals about failures, scale and the cost over native on every trigger, each from one run."""
    out = ["### Failures, scale, and the cost over native on every trigger", "",
           "| goal | measured (median, min–max) | state |", "|---|---|---|"]

    def row(goal: str, value: str, met: bool | None | str) -> None:
        state = met if isinstance(met, str) else 'not measured' if met is None else '**met**' if met else '**missed**'
        out.append(f"| {goal} | {value} | {state} |")

    scen = (warm or {}).get("scenarios", {})
    ratios = (warm or {}).get("failure_ratios", {})
    for key, label in (("aws_sqs1_failing", "untyped, handler raises"),
                       ("aws_sqs1_failing_typed", "typed, payload fails validation")):
        res = scen.get(key, {})
        r = ratios.get(key) if "median" in ratios.get(key, {}) else None  # warm.failure_ratios: min-of-N per repeat
        nat = _paired_ratio(res.get("portafunc"), res.get("native"))
        value = "–"
        if r is not None:
            value = (f"{_rr(r)}; failing {_mm(r['failing_us'], 1)} µs, succeeding {_mm(r['succeeding_us'], 1)} µs "
                     f"(best of {ratios['calls']} single calls per repeat, {ratios['repeats']} repeats); "
                     f"{_rr(nat)} native's failure")
        row(f"a failing message ≤ 5× the same message succeeding ({label}, default log level)", value,
            None if r is None else r["median"] <= 5)
    st = (sc or {}).get("stats", {})

    def med(key: str, metric: str) -> float | None:
        return st.get(key, {}).get(metric, {}).get("median")

    b10, b1000 = med("routes|portafunc|10", "build_ms"), med("routes|portafunc|1000", "build_ms")
    if b10 is not None and b1000 is not None:
        row("building an app of 1,000 routes ≤ 20 ms above 10 routes",
            f"{b1000 - b10:+.1f} ms ({b10:.2f} → {b1000:.1f} ms; Chalice "
            f"{_f(med('routes|chalice|1000', 'build_ms'))} ms, Powertools "
            f"{_f(med('routes|powertools|1000', 'build_ms'))} ms at 1,000)", b1000 - b10 <= 20)
    r10, r1000 = med("routes|portafunc|10", "request_us"), med("routes|portafunc|1000", "request_us")
    if r10 and r1000:
        row("routing O(1) when API Gateway matched the route (request to the last of 1,000 ÷ of 10)",
            f"{r1000 / r10:.2f}× ({r10:.1f} → {r1000:.1f} µs)", r1000 / r10 <= 1.3)
    sizes = sorted(int(k.split("|")[2]) for k in st if k.startswith("batch|portafunc|"))
    if len(sizes) >= 2:
        lo, hi = med(f"batch|portafunc|{sizes[0]}", "record_us"), med(f"batch|portafunc|{sizes[-1]}", "record_us")
        if lo and hi:
            row(f"per-record cost flat within 1.3× from {sizes[0]:,} to {sizes[-1]:,} records (untyped)",
                f"{hi / lo:.2f}× ({lo:.2f} → {hi:.2f} µs/record; native "
                f"{_f(med(f'batch|native|{sizes[-1]}', 'record_us'), 2)})", hi / lo <= 1.3)
    bodies = sorted(int(k.split("|")[2]) for k in st if k.startswith("body|portafunc|"))
    if bodies:
        big = bodies[-1]
        pf, nat = med(f"body|portafunc|{big}", "request_us"), med(f"body|native|{big}", "request_us")
        raw = (sc or {}).get("raw", {})
        # per round: the two fresh processes ran in the same round (minutes apart at most), so slow drift cancels
        ratios = [p["request_us"] / n["request_us"] for p, n in zip(raw.get(f"body|portafunc|{big}", ()),
                                                                  raw.get(f"body|native|{big}", ()), strict=False)]
        if pf and nat and ratios:
            ratio = statistics.median(ratios)
            row(f"AWS JSON body of {big / 1e6:.0f} MB ≤ 1.05× native", f"{ratio:.2f}× ({min(ratios):.2f}–"
                f"{max(ratios):.2f}, per round; medians {pf / 1000:.1f} vs {nat / 1000:.1f} ms)", ratio <= 1.05)
    for key, res in scen.items():
        pf, nat = res.get("portafunc", {}), res.get("native", {})
        if "median" not in pf or "median" not in nat or key.startswith("aws_sqs1_failing"):
            continue
        per = 10 if "sqs10" in key else 1
        limit = 3.0 if "http" in key else 1.0 * per
        same_work = res.get(TYPED_FLOOR, {})
        if "median" in same_work:  # typed parameters: the native handler that validates them as the route does
            paired, plain = _paired_added(pf, same_work), _paired_added(pf, nat)
            row(f"{WARM_TITLES.get(key, key)}: ≤ {limit:g} µs over a native handler validating the same values "
                "(pydantic)", f"{paired['median']:+.2f} µs ({paired['min']:+.2f}–{paired['max']:+.2f}; "
                f"{_rr(_paired_ratio(pf, same_work))} that handler); over a native handler validating nothing: "
                f"{plain['median']:+.2f} µs ({plain['min']:+.2f}–{plain['max']:+.2f})", paired["median"] <= limit)
            continue
        logging_native = res.get(LOGGING_NATIVE, {})
        if "median" in logging_native:  # a batch with a failure: a failure path, whose goal is the ratio above
            paired, plain = _paired_added(pf, logging_native), _paired_added(pf, nat)
            row(f"{WARM_TITLES.get(key, key)}: added over native, beside a native handler that logs the failure "
                "(one JSON line)", f"{paired['median']:+.2f} µs over the logging handler ({paired['min']:+.2f}–"
                f"{paired['max']:+.2f}; {_rr(_paired_ratio(pf, logging_native))} that handler); {plain['median']:+.2f}"
                f" µs over one logging nothing ({plain['min']:+.2f}–{plain['max']:+.2f})",
                "reported (a failure path: its goal is the failing message ≤ 5× the same message succeeding, above; "
                "≤ 1 µs per message is the goal of messages that succeed)")
            continue
        paired = _paired_added(pf, nat)  # the median of the per-repeat differences: the load cancels
        added = paired["median"]
        row(f"{WARM_TITLES.get(key, key)}: ≤ {limit:g} µs over native" + (" (1 µs per message)" if per > 1 else ""),
            f"{added:+.2f} µs ({paired['min']:+.2f}–{paired['max']:+.2f}; {_rr(_paired_ratio(pf, nat))} native)",
            added <= limit)
    return out + [""]


def aws_section(aws: Any) -> list[str]:
    """Every AWS trigger beside its hand-written native handler (benchmarks/aws_triggers.py)."""
    lines = ["### AWS: the cost over a native handler on every trigger", ""]
    if not aws or "not_measured" in aws:
        return lines + [f"not measured: {(aws or {}).get('not_measured', 'no results (run the aws suite)')}", ""]
    import aws_triggers

    lines += [f"The same event to a hand-written handler and to `portafunc_aws.runtime`, timed in turn in each of "
              f"{aws['repeats']} repeats (random order, GC off, CPU time of the process); **added** is the median "
              "of the per-repeat differences (min–max), per request or per record. The 6 MB body row is the "
              "per-repeat ratio.", ""]
    return lines + aws_triggers.table(aws) + [""]


def mount_section(mount: Any) -> list[str]:
    """``app.mount`` on each cloud beside that cloud's own way of hosting the same web app (``mount_bench.py``)."""
    out = ["## Mounted web apps (`app.mount`) beside each cloud's own adapter", ""]
    if not mount or "warm" not in mount:
        return out + [f"not measured: {(mount or {}).get('not_measured', 'the mount suite did not run')}", ""]
    import mount_bench

    warm, cold = mount["warm"], mount["cold"]
    out += [f"One FastAPI app (AWS, Azure) and one Flask app (GCP), `GET /hello/world`: portafunc's entry with the "
            "app mounted at `/` against Mangum (AWS), azure-functions' `AsgiFunctionApp` (Azure) and "
            "functions-framework's Flask target (GCP), each fed what its platform hands the function; the web app "
            f"called directly is the floor. Warm: {warm['rounds']} rounds of {warm['loops']} requests, interleaved; "
            f"cold: {cold['rounds']} fresh interpreters per contender (import and index the entry, answer the "
            "first request). Goal: portafunc ÷ peer at most 1.00 on each cloud.", "",
            mount_bench.table(mount), ""]
    return out


def render(results: Path, docs: Path) -> Path:
    img = docs / "benchmarks"
    m, cold, warm = _load(results, "machine"), _load(results, "cold"), _load(results, "warm")
    pk, msg = _load(results, "packaging"), _load(results, "messaging")
    sc = _load(results, "scaling")
    aws = _load(results, "aws")
    analysis = results.parent / "ANALYSIS.md"
    lines = ["# Benchmarks", "",
             "Generated by `make bench` (`python benchmarks/run.py`) from the raw results in `benchmarks/results/`; "
             "do not edit by hand — the analysis section comes from `benchmarks/ANALYSIS.md`. This machine is shared "
             "and noisy, so every figure is compared with its peer measured side by side in the same run; read the "
             "ratios, not the absolute times. How each benchmark works: `benchmarks/README.md`.", ""]
    lines += machine_section(m)
    lines += goals_section(cold, warm, msg)
    lines += scaling_goals_section(warm, sc)
    lines += aws_section(aws)
    if analysis.is_file():
        lines += [analysis.read_text(encoding="utf-8").rstrip(), ""]
    lines += cold_section(cold, img)
    lines += warm_section(warm, img)
    lines += mount_section(_load(results, "mount"))
    lines += packaging_section(pk)
    lines += messaging_section(msg)
    lines += memory_section(cold)
    lines += scaling_section(sc, img)
    path = docs / "benchmarks.md"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
