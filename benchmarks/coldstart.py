"""Suite 1 + 5: cold start and peak memory of a fresh process per contender, with and without .pyc.

Each run is a new interpreter (``coldstart_child.py``) that imports one contender's entry module and handles its
first event. Contenders are interleaved in a new random order on every round so that the noise of this shared
machine falls on all of them alike; the contenders of one workload (portafunc, the native handler, the peers) run
back to back in each round, in random order, so that portafunc's cost **added over native** is the median of
per-round differences between runs seconds apart (``added``, with min–max and the module counts of both).
The Azure and GCP HTTP pairs, whose processes import a whole web framework and spread the widest, get
``web_rounds`` rounds (three times ``rounds`` by default) instead of ``rounds``. The code root every child imports from is a copy made here, laid out like a
deployment package (the app module, the portafunc core and adapters vendored beside it, the generated entry files).

* ``pyc``: everything precompiled (compileall on the code root; site-packages was compiled by pip; one unmeasured
  warm-up run per contender).
* ``nopyc``: ``PYTHONDONTWRITEBYTECODE=1`` and ``PYTHONPYCACHEPREFIX`` pointing at an empty folder, so no cached
  bytecode is found for any module — the core, the adapters, the peers, the stdlib (frozen stdlib modules excepted)
  — and every import compiles from source, for every contender alike.
"""

from __future__ import annotations

import compileall
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import workloads
from common import HERE, summary

REPO = HERE.parents[0]
TIME_BIN = shutil.which("time", path="/usr/bin:/bin") or None  # GNU time: -f %M is the child's maximum RSS in KiB
APPS = HERE / "apps"

# contender -> (target, workload, environment, event kind)
CONTENDERS: dict[str, tuple[str, str, dict[str, str], str]] = {
    "bare": ("-", "bare interpreter", {}, "none"),
    "aws_native_http": ("aws", "http", {}, "v2"),
    "aws_portafunc_http": ("aws", "http", {"PORTAFUNC_APP": "pf_http:app"}, "v2"),
    "aws_powertools_http": ("aws", "http", {}, "v2"),
    "aws_mangum_http": ("aws", "http", {}, "v2"),
    "aws_chalice_http": ("aws", "http", {}, "v1"),
    "aws_native_sqs": ("aws", "sqs", {}, "sqs"),
    "aws_portafunc_sqs": ("aws", "sqs", {"PORTAFUNC_APP": "pf_msgs:app", "PORTAFUNC_FUNCTION": "work"}, "sqs"),
    "aws_powertools_sqs": ("aws", "sqs", {}, "sqs"),
    "aws_native_sqs_typed": ("aws", "sqs_typed", {}, "sqs"),
    "aws_portafunc_sqs_typed": ("aws", "sqs_typed", {"PORTAFUNC_APP": "pf_typed:app", "PORTAFUNC_FUNCTION": "work"},
                                "sqs"),
    "aws_powertools_sqs_typed": ("aws", "sqs_typed", {}, "sqs"),
    "gcp_native_http": ("gcp", "http", {}, "path"),
    "gcp_portafunc_http": ("gcp", "http", {}, "path"),
    "azure_native_http": ("azure", "http", {}, "path"),
    "azure_portafunc_http": ("azure", "http", {}, "path"),
}


def build_root(dest: Path) -> Path:
    """A deployment-like code root: apps, vendored core + adapters, generated GCP main.py / Azure function_app.py."""
    root = dest / "root"
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    shutil.copytree(REPO / "portafunc", root / "portafunc", ignore=ignore)
    for adapter in ("aws", "azure", "gcp"):
        shutil.copytree(REPO / "adapters" / adapter / f"portafunc_{adapter}", root / f"portafunc_{adapter}",
                        ignore=ignore)
    for app in APPS.glob("*.py"):
        shutil.copy2(app, root / app.name)
    (root / "gcp_native").mkdir()
    shutil.copy2(APPS / "gcp_native_main.py", root / "gcp_native" / "main.py")
    (root / "azure_native").mkdir()
    shutil.copy2(APPS / "azure_native_function_app.py", root / "azure_native" / "function_app.py")
    (root / "gcp_portafunc").mkdir()
    (root / "azure_portafunc").mkdir()
    generate_entries(root)
    return root


def generate_entries(root: Path) -> None:
    """Write portafunc's generated entry files for the hello app with the adapters' own generators."""
    code = (
        "import sys\n"
        f"sys.path.insert(0, {str(root)!r})\n"
        "import pf_http\n"
        "from portafunc_gcp.deploy.main_py import render_main\n"
        "from portafunc_azure.deploy.function_app import generate_function_app\n"
        f"open({str(root / 'gcp_portafunc' / 'main.py')!r}, 'w').write(render_main(pf_http.app, 'pf_http:app', "
        "root='..'))\n"
        f"open({str(root / 'azure_portafunc' / 'function_app.py')!r}, 'w').write("
        "generate_function_app(pf_http.app, 'pf_http:app'))\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=str(root))


def write_events(dest: Path) -> dict[str, Path]:
    events = {"v2": workloads.http_v2_event(), "v1": workloads.http_v1_event(), "sqs": workloads.sqs_event(10),
              "path": {"path": "/hello/world"}, "none": {}}
    paths = {}
    for kind, ev in events.items():
        paths[kind] = dest / f"event-{kind}.json"
        paths[kind].write_text(json.dumps(ev), encoding="utf-8")
    return paths


def run_one(name: str, root: Path, events: dict[str, Path], mode: str, cache_prefix: Path) -> dict[str, Any]:
    _, _, extra, event_kind = CONTENDERS[name]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PORTAFUNC_", "PYTHON"))}
    env.update(extra)
    env["PYTHONPATH"] = str(root)
    if CONTENDERS[name][0] == "aws":  # set in every Lambda process (what portafunc's entry reads to load during init)
        env["AWS_LAMBDA_RUNTIME_API"] = "127.0.0.1:9001"
    if mode == "nopyc":
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        env["PYTHONPYCACHEPREFIX"] = str(cache_prefix)
    cmd = [sys.executable, str(HERE / "coldstart_child.py"), name, str(root), str(events[event_kind])]
    peak_file = cache_prefix.parent / f"peak-{name}-{mode}.txt"
    if TIME_BIN:  # the child's peak RSS as its own parent sees it: a small C program, not this big process
        cmd = [TIME_BIN, "-f", "%M", "-o", str(peak_file), *cmd]
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=str(root))
    wall = (time.perf_counter() - start) * 1000
    if proc.returncode != 0:
        return {"error": (proc.stderr or proc.stdout).strip()[-1500:]}
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    out["wall_ms"] = wall
    out["time_v_kb"] = int(peak_file.read_text().split()[-1]) if TIME_BIN and peak_file.is_file() else None
    # peak RSS: /usr/bin/time's (wait4 rusage of a child forked by a ~2 MiB process), else the child's own VmHWM
    out["peak_rss_kb"] = out["time_v_kb"] or out.get("hwm_kb") or out["rss_kb"]
    return out


WEB_PAIRS = ("gcp", "azure")  # targets whose HTTP pair gets web_rounds rounds


def workload_groups(names: list[str]) -> list[list[str]]:
    """The contenders that are compared with each other (same target and workload), one list per workload."""
    groups: dict[tuple[str, str], list[str]] = {}
    for name in names:
        target, workload, _, _ = CONTENDERS[name]
        groups.setdefault((target, workload), []).append(name)
    return list(groups.values())


def round_order(names: list[str], r: int, rounds: int, rng: random.Random) -> list[tuple[str, str]]:
    """Round ``r``'s runs: workloads and modes in random order, each workload's contenders back to back (in random
    order) so that a paired difference compares runs seconds apart. Rounds past ``rounds`` run the web pairs only."""
    units = []
    for group in workload_groups(names):
        if r >= rounds and CONTENDERS[group[0]][0] not in WEB_PAIRS:
            continue
        for mode in ("pyc", "nopyc"):
            unit = [(n, mode) for n in group]
            rng.shuffle(unit)
            units.append(unit)
    rng.shuffle(units)
    return [run for unit in units for run in unit]


def added_over_native(raw: dict[str, dict[str, list[dict[str, Any]]]]) -> dict[str, Any]:
    """Per portafunc contender and mode: portafunc minus the native handler of the same workload, paired by round
    (``total_ms``: import + first event in the child; ``cpu_ms``: its CPU time, which a loaded
    machine inflates least; ``wall_ms``: the whole process), and both module counts."""
    out: dict[str, Any] = {}
    for name in raw:
        if "_portafunc_" not in name:
            continue
        native = name.replace("_portafunc_", "_native_")
        if native not in raw:
            continue
        out[name] = {"native": native}
        for mode in ("pyc", "nopyc"):
            ours = {x["round"]: x for x in raw[name][mode]}
            theirs = {x["round"]: x for x in raw[native][mode]}
            both = sorted(set(ours) & set(theirs))
            out[name][mode] = {key: summary([ours[i][key] - theirs[i][key] for i in both])
                               for key in ("total_ms", "cpu_ms", "wall_ms")
                               if all(key in x for x in (*ours.values(), *theirs.values()))}
            out[name][mode]["modules"] = {"portafunc": summary([ours[i]["modules"] for i in both]),
                                          "native": summary([theirs[i]["modules"] for i in both])}
    return out


def run(rounds: int, log: Any = print, contenders: list[str] | None = None, warmup: bool = True,
        web_rounds: int | None = None) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="pf-bench-cold-"))
    try:
        root = build_root(work)
        compileall.compile_dir(str(root), quiet=1)
        events = write_events(work)
        empty_cache = work / "no-pyc-cache"
        empty_cache.mkdir()
        names = contenders or list(CONTENDERS)
        errors: dict[str, str] = {}
        for name in names:  # warm-up (unmeasured): fills the page cache and any missing .pyc
            if not warmup:
                break
            res = run_one(name, root, events, "pyc", empty_cache)
            if "error" in res:
                errors[name] = res["error"]
                log(f"  cold start: {name} fails: {res['error'][-300:]}")
        live = [n for n in names if n not in errors]
        raw: dict[str, dict[str, list[dict[str, Any]]]] = {n: {"pyc": [], "nopyc": []} for n in live}
        rng = random.Random(8)
        total = max(rounds, rounds * 3 if web_rounds is None else web_rounds)
        if not any(CONTENDERS[n][0] in WEB_PAIRS for n in live):
            total = rounds
        for r in range(total):
            for name, mode in round_order(live, r, rounds, rng):
                res = run_one(name, root, events, mode, empty_cache)
                if "error" in res:
                    errors.setdefault(name, res["error"])
                    continue
                res["round"] = r
                raw[name][mode].append(res)
            if any(p.is_file() for p in empty_cache.rglob("*.pyc")):
                raise RuntimeError("bytecode was written into the no-pyc cache prefix; the nopyc mode is broken")
            log(f"  cold start: round {r + 1}/{total} done" + (" (web pairs)" if r >= rounds else ""))
        stats: dict[str, Any] = {}
        for name in live:
            stats[name] = {"target": CONTENDERS[name][0], "workload": CONTENDERS[name][1]}
            for mode in ("pyc", "nopyc"):
                runs = raw[name][mode]
                stats[name][mode] = {key: summary([x[key] for x in runs])
                                     for key in ("import_ms", "first_ms", "total_ms", "cpu_ms", "wall_ms", "rss_kb",
                                                 "peak_rss_kb", "modules") if all(x.get(key) is not None for x in runs)}
        return {"rounds": rounds, "web_rounds": total, "stats": stats, "added": added_over_native(raw), "raw": raw,
                "errors": errors}
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    print(json.dumps(run(int(sys.argv[1]) if len(sys.argv) > 1 else 2)["stats"], indent=1))
