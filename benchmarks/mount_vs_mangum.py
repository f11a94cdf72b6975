"""Warm per-request cost of one FastAPI app on AWS: behind ``app.mount`` (portafunc's Lambda entry) and behind Mangum,
side by side, with the app called directly over ASGI as the floor (what any adapter must pay at least).

The same API Gateway HTTP API (v2) event ``GET /hello/world`` (routed ``$default``, as a catch-all integration
receives it) goes to each contender; outputs are checked before timing. Contenders are timed interleaved in a new
random order each round, the garbage collector off during a timed loop; medians and min–max are reported in µs.

    .venv/bin/python benchmarks/mount_vs_mangum.py [--rounds 15] [--loops 2000]

Needs fastapi and mangum installed (``make bench``'s venv has both).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import random
import sys
import time
from pathlib import Path
from typing import Any, Callable

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import workloads  # noqa: E402
from common import summary  # noqa: E402


def contenders() -> dict[str, Callable[[], Any]]:
    from fastapi import FastAPI
    from mangum import Mangum

    from portafunc import App
    from portafunc_aws.runtime import bind

    api = FastAPI()

    @api.get("/hello/{name}")
    async def hello(name: str) -> dict[str, str]:
        return {"message": "hello " + name}

    event = workloads.http_v2_event()
    event["routeKey"] = event["requestContext"]["routeKey"] = "$default"
    event.pop("pathParameters", None)
    ctx = workloads.LambdaContext()

    app = App("bench")
    app.mount("/", api)
    portafunc_handler = bind(app)
    mangum_handler = Mangum(api, lifespan="off")

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "https",
             "path": "/hello/world", "raw_path": b"/hello/world", "query_string": b"", "root_path": "",
             "headers": [(b"host", b"example.com")], "client": None, "server": ("example.com", 443)}
    loop = asyncio.new_event_loop()

    async def direct() -> dict[str, Any]:
        out: dict[str, Any] = {"body": b""}

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                out["statusCode"] = message["status"]
            else:
                out["body"] += message.get("body", b"")

        await api(dict(scope), receive, send)
        return out

    return {
        "FastAPI called directly (floor)": lambda: loop.run_until_complete(direct()),
        "portafunc app.mount": lambda: portafunc_handler(event, ctx),
        "Mangum": lambda: mangum_handler(event, ctx),
    }


def check(name: str, out: Any) -> None:
    body = out["body"]
    doc = json.loads(body if isinstance(body, (bytes, str)) else "")
    assert out["statusCode"] == 200 and doc == {"message": "hello world"}, (name, out)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--loops", type=int, default=2000)
    args = parser.parse_args()
    runs = contenders()
    for name, call in runs.items():
        check(name, call())
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(args.rounds):
        order = list(runs)
        random.shuffle(order)
        for name in order:
            call = runs[name]
            gc.collect()
            gc.disable()
            start = time.perf_counter()
            for _ in range(args.loops):
                call()
            elapsed = time.perf_counter() - start
            gc.enable()
            times[name].append(elapsed / args.loops * 1e6)
    for name, call in runs.items():
        check(name, call())
    floor = summary(times["FastAPI called directly (floor)"])["median"]
    print(f"{'contender':34} {'median µs':>10} {'min–max µs':>16} {'over floor µs':>14}")
    for name, values in times.items():
        s = summary(values)
        print(f"{name:34} {s['median']:10.1f} {s['min']:7.1f}–{s['max']:<8.1f} {s['median'] - floor:14.1f}")


if __name__ == "__main__":
    main()
