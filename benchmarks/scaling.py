"""Suite 6: how costs scale — with the number of routes, the batch size and the body size — portafunc beside the
native handler and the peers.

Every measurement is a fresh interpreter (``scaling_child.py``), so one contender's imports, caches and heap never
touch another's; contenders and sizes run in a new random order every round, so the noise of the shared machine falls
on all of them alike. Reported: median (min–max) over the rounds and portafunc's ratio to native and to the best peer.

Run by run.py: ``scaling.run(quick)``.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
from typing import Any

from common import HERE, summary

# kind -> (sizes full, sizes quick, contenders, metric reported per size, its unit)
PLAN: dict[str, tuple[list[int], list[int], list[str], str, str]] = {
    "routes": ([10, 100, 1000], [10, 1000], ["native", "portafunc", "portafunc trie", "powertools", "chalice"],
               "request_us", "µs per request to the last route"),
    "batch": ([10, 100, 1000, 10000], [10, 1000], ["native", "portafunc", "portafunc typed", "powertools"],
              "record_us", "µs per record"),
    "body": ([1000, 100_000, 1_000_000, 6_000_000], [1000, 1_000_000], ["native", "portafunc", "powertools"],
             "request_us", "µs per request"),
}
EXTRA = {"routes": ["build_ms", "first_request_us", "build_peak_kib"], "batch": ["peak_kib", "gc_collections"],
         "body": []}


def run_child(kind: str, contender: str, size: int) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, str(HERE / "scaling_child.py"), kind, contender, str(size)],
                          capture_output=True, text=True, cwd=str(HERE))
    if proc.returncode != 0:
        return {"error": (proc.stderr or proc.stdout).strip()[-800:]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def run(quick: bool, log: Any = print, smoke: bool = False) -> dict[str, Any]:
    rounds = 1 if smoke else 2 if quick else 5
    jobs = [(kind, c, size) for kind, (full, fast, contenders, _, _) in PLAN.items()
            for c in contenders for size in (fast[:1] if smoke else fast if quick else full)]
    raw: dict[str, list[dict[str, Any]]] = {}
    errors: dict[str, str] = {}
    rng = random.Random(6)
    for r in range(rounds):
        order = list(jobs)
        rng.shuffle(order)
        for kind, contender, size in order:
            key = f"{kind}|{contender}|{size}"
            if key in errors:
                continue
            res = run_child(kind, contender, size)
            if "error" in res:
                errors[key] = res["error"]
                log(f"  scaling: {key} fails: {res['error'][-300:]}")
                continue
            raw.setdefault(key, []).append(res)
        log(f"  scaling: round {r + 1}/{rounds} done")
    stats: dict[str, Any] = {}
    for key, runs in raw.items():
        kind = key.split("|")[0]
        stats[key] = {m: summary([x[m] for x in runs]) for m in [PLAN[kind][3], *EXTRA[kind]]}
    return {"rounds": rounds, "plan": {k: {"sizes": v[1][:1] if smoke else v[1] if quick else v[0],
                                           "contenders": v[2], "metric": v[3], "unit": v[4]}
                                       for k, v in PLAN.items()},
            "stats": stats, "raw": raw, "errors": errors}


if __name__ == "__main__":
    print(json.dumps(run("--quick" in sys.argv)["stats"], indent=1))
