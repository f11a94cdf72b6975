"""A mounted web app on each cloud beside that cloud's own way of hosting it: warm cost per request and cold start.

Peers, each fed exactly what its platform hands the function:

* AWS: one FastAPI app behind ``app.mount`` (portafunc's Lambda handler) and behind Mangum, the same API Gateway
  HTTP API (v2) event ``GET /hello/world`` as the packaged mount's route ``GET /{path+}`` receives it;
* Azure: the same FastAPI app behind ``app.mount`` (the generated ``function_app.py``'s function) and as an
  ``AsgiFunctionApp`` (azure-functions' own ASGI adapter), the same ``func.HttpRequest`` objects; both functions are
  found by indexing the ``FunctionApp`` as the worker does; the ``AsgiFunctionApp`` function is a coroutine, driven
  on one kept event loop as the worker drives it;
* GCP: one Flask app behind ``app.mount`` (the generated ``main.py``) and as functions-framework's Flask target (one
  HTTP function dispatching to the Flask app in a request context of the request's environ), both served by
  functions-framework's own Flask app, each call one WSGI request into it.

The web app called directly (ASGI, or WSGI for Flask) is the floor. Warm: µs per request, every contender of every
cloud in one process, timed interleaved in a new random order each round (outputs checked before and after).
Cold: a fresh interpreter per contender and round imports the entry (and indexes it, as the platform would) and
answers the first request; in-process ms (import, first request) and the process's wall time. portafunc ÷ peer is
taken within each round and reported as the median of the rounds' ratios with min–max, which cancels most of the
load other processes put on the machine.

    python benchmarks/mount_bench.py [--quick | --smoke] [--out results.json]

Needs fastapi, flask, mangum, azure-functions and functions-framework (``make bench``'s venv has them); a peer that is
not installed is reported not measured.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import io
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

HERE = Path(__file__).resolve().parent
APPS = HERE / "apps"
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(APPS))

import workloads  # noqa: E402
from common import not_measured, summary  # noqa: E402

EXPECTED = {"message": "hello world"}
# contender -> (cloud, role); role "portafunc" is compared with role "peer" of its cloud
CONTENDERS = {
    "aws: FastAPI called directly (floor)": ("aws", "floor"),
    "aws: portafunc app.mount": ("aws", "portafunc"),
    "aws: Mangum": ("aws", "peer"),
    "azure: FastAPI called directly (floor)": ("azure", "floor"),
    "azure: portafunc app.mount": ("azure", "portafunc"),
    "azure: AsgiFunctionApp": ("azure", "peer"),
    "gcp: Flask called directly (floor)": ("gcp", "floor"),
    "gcp: portafunc app.mount": ("gcp", "portafunc"),
    "gcp: functions-framework Flask target": ("gcp", "peer"),
}
GC_ON = "portafunc, collector on during load"
COLD = {  # contender -> (cloud, role)
    "aws_portafunc": ("aws", "portafunc"), "aws_mangum": ("aws", "peer"),
    "azure_portafunc": ("azure", "portafunc"), "azure_asgi_function_app": ("azure", "peer"),
    "gcp_portafunc": ("gcp", "portafunc"), "gcp_ff_flask": ("gcp", "peer"),
    # portafunc's entries with the collector left running while the app is imported (PORTAFUNC_GC_DURING_LOAD=on):
    # how much of the cold figure the entries' pause and freeze make (portafunc.loader.load_deployed_app)
    "aws_portafunc_gc_on": ("aws", GC_ON), "azure_portafunc_gc_on": ("azure", GC_ON),
    "gcp_portafunc_gc_on": ("gcp", GC_ON),
}
GCP_SERVICE = "_portafunc_http"  # the generated main.py's HTTP target


def _adapter(*candidates: tuple[str, str]) -> Any:
    """The first of ``(module, attribute)`` that imports: generators found whichever module layout is installed."""
    import importlib

    for module, attr in candidates:
        try:
            return getattr(importlib.import_module(module), attr)
        except ImportError:
            continue
    raise ImportError(f"none of {candidates} is installed")


def azure_generator() -> Callable[..., str]:
    return _adapter(("portafunc_azure.deploy.function_app", "generate_function_app"),  # type: ignore[no-any-return]
                    ("portafunc_azure.generate", "generate_function_app"))


def gcp_generator() -> Callable[..., str]:
    return _adapter(("portafunc_gcp.deploy.main_py", "render_main"),  # type: ignore[no-any-return]
                    ("portafunc_gcp.entry", "render_main"))


def code_root() -> Path:
    """The apps and the entries generated from them, laid out as the platforms load them."""
    root = Path(tempfile.mkdtemp(prefix="pf-mount-bench-"))
    for name in ("mount_web.py", "pf_mount.py", "aws_mangum_mount.py", "azure_asgi_function_app.py",
                 "gcp_ff_flask_main.py"):
        shutil.copy2(APPS / name, root / name)
    code = (
        "import sys\n"
        f"sys.path.insert(0, {str(root)!r})\n"
        f"sys.path.insert(0, {str(HERE)!r})\n"
        "import pf_mount\n"
        "from mount_bench import azure_generator, gcp_generator\n"
        f"open({str(root / 'pf_function_app.py')!r}, 'w').write(azure_generator()(pf_mount.app, 'pf_mount:app'))\n"
        f"open({str(root / 'pf_gcp_main.py')!r}, 'w').write(gcp_generator()(pf_mount.flask, 'pf_mount:flask', "
        "root='.'))\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=str(root))
    return root


def _load(name: str, path: Path) -> Any:
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def azure_request() -> Any:
    import azure.functions as func

    return func.HttpRequest(method="GET", url="https://bench.azurewebsites.net/hello/world",
                            headers={"host": "bench.azurewebsites.net", "accept": "*/*"}, params={},
                            route_params={"route": "hello/world", "path": "hello/world"}, body=b"")


def azure_functions(module: Any) -> dict[str, Callable[..., Any]]:
    """The functions of a ``function_app.py``, found as the worker's indexing finds them."""
    return {f.get_function_name(): f.get_user_function() for f in module.app.get_functions()}


def wsgi_caller(app: Any, path: str = "/hello/world") -> Callable[[], Any]:
    """One GET straight into a WSGI app (no HTTP, no test client); returns (status line, body)."""
    from werkzeug.test import EnvironBuilder

    environ = EnvironBuilder(path=path, base_url="https://bench.run.app").get_environ()
    status: list[str] = []

    def start_response(line: str, headers: Any, exc_info: Any = None) -> None:
        status.append(line)

    def call() -> Any:
        env = dict(environ)
        env["wsgi.input"] = io.BytesIO(b"")
        status.clear()
        result = app(env, start_response)
        try:
            body = b"".join(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        return status[0], body
    return call


def mount_event() -> dict[str, Any]:
    """The HTTP API event a mount at ``/`` receives once packaged: its route ``GET /{path+}`` matched."""
    event = workloads.http_v2_event()
    event["routeKey"] = event["requestContext"]["routeKey"] = "GET /{path+}"
    event["pathParameters"] = {"path": "hello/world"}
    return event


# -- warm ---------------------------------------------------------------------------------------------------------
def warm_contenders(root: Path) -> tuple[dict[str, Callable[[], Any]], dict[str, str]]:
    sys.path.insert(0, str(root))
    from mount_web import api, flask_app

    runs: dict[str, Callable[[], Any]] = {}
    missing: dict[str, str] = {}
    loop = asyncio.new_event_loop()

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "https",
             "path": "/hello/world", "raw_path": b"/hello/world", "query_string": b"", "root_path": "",
             "headers": [(b"host", b"bench.example")], "client": None, "server": ("bench.example", 443)}

    async def direct() -> Any:
        out: dict[str, Any] = {"body": b""}

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                out["status"] = message["status"]
            else:
                out["body"] += message.get("body", b"")

        await api(dict(scope), receive, send)
        return out["status"], out["body"]

    def floor() -> Any:
        return loop.run_until_complete(direct())

    runs["aws: FastAPI called directly (floor)"] = runs["azure: FastAPI called directly (floor)"] = floor

    # AWS
    event = mount_event()
    ctx = workloads.LambdaContext()
    import pf_mount

    pf_lambda = workloads.lambda_handler(pf_mount.app)
    runs["aws: portafunc app.mount"] = lambda: pf_lambda(event, ctx)
    try:
        mangum = _load("aws_mangum_mount", root / "aws_mangum_mount.py").handler
        # Mangum logs each request at INFO; deployed alone, Lambda's root logger stays at WARNING and drops the line.
        # portafunc's logging set-up in this shared process lowered the root to INFO: keep Mangum's own level.
        import logging

        logging.getLogger("mangum").setLevel(logging.WARNING)
        runs["aws: Mangum"] = lambda: mangum(event, ctx)
    except ImportError as exc:
        missing["aws: Mangum"] = f"not installed: {exc}"

    # Azure
    req = azure_request()
    pf_fn = next(f for name, f in azure_functions(_load("pf_function_app", root / "pf_function_app.py")).items()
                 if "mount" in name)
    runs["azure: portafunc app.mount"] = lambda: pf_fn(req)
    asgi_fn = azure_functions(_load("azure_asgi_function_app", root / "azure_asgi_function_app.py"))["http_app_func"]
    runs["azure: AsgiFunctionApp"] = lambda: loop.run_until_complete(asgi_fn(req, None))

    # GCP
    from functions_framework import create_app

    runs["gcp: Flask called directly (floor)"] = wsgi_caller(flask_app)
    runs["gcp: portafunc app.mount"] = wsgi_caller(create_app(GCP_SERVICE, str(root / "pf_gcp_main.py"), "http"))
    runs["gcp: functions-framework Flask target"] = wsgi_caller(
        create_app("handler", str(root / "gcp_ff_flask_main.py"), "http"))
    return runs, missing


def round_ratios(roles: dict[str, tuple[str, str]], measured: dict[str, float]) -> dict[str, float]:
    """portafunc ÷ peer per cloud, of one round's figures (each cloud whose two contenders were measured); the
    entry with the collector running during the app's import ÷ peer under ``<cloud>:gc-on``."""
    by_cloud: dict[str, dict[str, float]] = {}
    for name, value in measured.items():
        cloud, role = roles[name]
        by_cloud.setdefault(cloud, {})[role] = value
    out = {cloud: mine["portafunc"] / mine["peer"] for cloud, mine in by_cloud.items()
           if "portafunc" in mine and "peer" in mine}
    out.update({f"{cloud}:{GC_ON}": mine[GC_ON] / mine["peer"] for cloud, mine in by_cloud.items()
                if GC_ON in mine and "peer" in mine})
    return out


def answer(out: Any) -> tuple[int, Any]:
    """(status, parsed body) of any contender's native answer."""
    if isinstance(out, dict):  # Lambda proxy response
        return int(out["statusCode"]), json.loads(out["body"])
    if isinstance(out, tuple):  # (status, bytes) from the floor and the WSGI callers
        status = out[0] if isinstance(out[0], int) else int(out[0].split()[0])
        return status, json.loads(out[1])
    return int(out.status_code), json.loads(out.get_body())  # func.HttpResponse


def check(name: str, out: Any) -> None:
    assert answer(out) == (200, EXPECTED), (name, out)


def warm(rounds: int, loops: int, root: Path) -> dict[str, Any]:
    runs, missing = warm_contenders(root)
    for name, call in runs.items():
        check(name, call())
    times: dict[str, list[float]] = {name: [] for name in runs}
    ratios: dict[str, list[float]] = {}
    for _ in range(rounds):
        order = list(runs)
        random.shuffle(order)
        for name in order:
            call = runs[name]
            gc.collect()
            gc.disable()
            start = time.perf_counter()
            for _ in range(loops):
                call()
            elapsed = time.perf_counter() - start
            gc.enable()
            times[name].append(elapsed / loops * 1e6)
        for cloud, ratio in round_ratios(CONTENDERS, {name: values[-1] for name, values in times.items()}).items():
            ratios.setdefault(cloud, []).append(ratio)
    for name, call in runs.items():
        check(name, call())
    out: dict[str, Any] = {"rounds": rounds, "loops": loops, "contenders": {},
                           "ratios": {cloud: summary(values) for cloud, values in ratios.items()}}
    for name, (cloud, role) in CONTENDERS.items():
        out["contenders"][name] = {"cloud": cloud, "role": role,
                                   **(summary(times[name]) if name in times else not_measured(missing.get(name, "?")))}
    return out


# -- cold ---------------------------------------------------------------------------------------------------------
def cold_child(name: str, root: str) -> None:
    """In a fresh interpreter: import the contender's entry, index it as its platform does, answer one request."""
    sys.path.insert(0, root)
    if name.endswith("_gc_on"):
        os.environ["PORTAFUNC_GC_DURING_LOAD"] = "on"
        name = name.removesuffix("_gc_on")
    started = time.perf_counter()
    if name.startswith("aws_"):
        if name == "aws_portafunc":
            os.environ["PORTAFUNC_APP"] = "pf_mount:app"
            os.environ["AWS_LAMBDA_RUNTIME_API"] = "127.0.0.1:9001"  # as in every Lambda process: loaded during init
            from portafunc_aws.runtime import handler
        else:
            from aws_mangum_mount import handler  # type: ignore[import-not-found]

        event = json.loads(os.environ["MOUNT_BENCH_EVENT"])
        ready = time.perf_counter()
        out = handler(event, workloads.LambdaContext())
    elif name.startswith("azure_"):
        file = "pf_function_app" if name == "azure_portafunc" else "azure_asgi_function_app"
        fns = azure_functions(_load(file, Path(root) / f"{file}.py"))
        fn = next(f for n, f in fns.items() if "mount" in n or n == "http_app_func")
        req = azure_request()
        ready = time.perf_counter()
        out = fn(req) if name == "azure_portafunc" else asyncio.new_event_loop().run_until_complete(fn(req, None))
    else:
        from functions_framework import create_app

        if name == "gcp_portafunc":
            app = create_app(GCP_SERVICE, os.path.join(root, "pf_gcp_main.py"), "http")
        else:
            app = create_app("handler", os.path.join(root, "gcp_ff_flask_main.py"), "http")
        call = wsgi_caller(app)
        ready = time.perf_counter()
        out = call()
    done = time.perf_counter()
    check(name, out)
    print(json.dumps({"import_ms": (ready - started) * 1e3, "first_ms": (done - ready) * 1e3}), flush=True)
    # no interpreter teardown, for any contender: a platform freezes or kills the process, and AsgiFunctionApp's
    # finaliser would wait forever for a lifespan shutdown on a loop no longer running
    os._exit(0)


def at_stack_offset(frames: int, fn: Callable[..., Any], *args: Any) -> Any:
    """Call ``fn`` ``frames`` small Python frames deeper than here.

    CPython keeps its frames in 16 KiB chunks and frees a chunk as soon as its first frame returns; a call and return
    that straddle a chunk boundary pay a page mapping each time. A pydantic-heavy import (FastAPI's models) makes
    thousands of such calls, so its cost swings by 10-20 % with the depth it starts from (measured on 3.11, 3.12 and
    3.13.0; later 3.13 and 3.14 releases keep a spare chunk). A platform's bootstrap starts each contender's import
    at a depth that owes nothing to either, so each round starts both at the same offset and the rounds spread their
    offsets over one chunk's worth of frames."""
    if frames <= 0:
        return fn(*args)
    return at_stack_offset(frames - 1, fn, *args)


STACK_CHUNK_FRAMES = 128  # frames of ``at_stack_offset`` (about 140 bytes each) that span one 16 KiB chunk or more


def stack_offsets(rounds: int) -> list[int]:
    """One offset per round, stratified over one chunk's worth of frames and shuffled: every round a different
    position of the chunk boundary, the same for every contender of that round."""
    offsets = [int((i + random.random()) * STACK_CHUNK_FRAMES / rounds) for i in range(rounds)]
    random.shuffle(offsets)
    return offsets


def _cold_command(name: str, root: Path) -> list[str]:
    """One cold run of ``name``, started (by the caller) in the code root: every platform starts its process there
    (Lambda ``/var/task``, Cloud Functions ``/workspace``, Azure ``/home/site/wwwroot``), and portafunc's loader puts
    the working directory on ``sys.path`` when it is not there already, ahead of every import the app then makes."""
    return [sys.executable, str(HERE / "mount_bench.py"), "--cold-child", name, str(root)]


def cold(rounds: int, root: Path, warmup: bool = True) -> dict[str, Any]:
    event = mount_event()
    env = {**os.environ, "MOUNT_BENCH_EVENT": json.dumps(event), "PYTHONDONTWRITEBYTECODE": ""}
    env.pop("PYTHONDONTWRITEBYTECODE")
    results: dict[str, dict[str, list[float]]] = {n: {"import_ms": [], "first_ms": [], "wall_ms": []} for n in COLD}
    ratios: dict[str, list[float]] = {}
    errors: dict[str, str] = {}
    names = list(COLD)
    for name in names if warmup else ():  # once untimed: .pyc written for every module, as a deployment ships them
        subprocess.run(_cold_command(name, root), cwd=root, env=env, capture_output=True, text=True, check=False)
    offsets = stack_offsets(rounds)
    for offset in offsets:
        random.shuffle(names)
        this_round: dict[str, float] = {}
        for name in names:
            if name in errors:
                continue
            started = time.perf_counter()
            proc = subprocess.run(_cold_command(name, root), cwd=root,
                                  env={**env, "MOUNT_BENCH_STACK_OFFSET": str(offset)}, capture_output=True,
                                  text=True, check=False)
            wall = (time.perf_counter() - started) * 1e3
            if proc.returncode != 0:
                errors[name] = proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else f"exit {proc.returncode}"
                continue
            row = json.loads(proc.stdout.strip().splitlines()[-1])
            results[name]["import_ms"].append(row["import_ms"])
            results[name]["first_ms"].append(row["first_ms"])
            results[name]["wall_ms"].append(wall)
            this_round[name] = row["import_ms"] + row["first_ms"]
        for cloud, ratio in round_ratios(COLD, this_round).items():
            ratios.setdefault(cloud, []).append(ratio)
    out: dict[str, Any] = {"rounds": rounds, "stack_offsets": offsets, "contenders": {},
                           "ratios": {cloud: summary(values) for cloud, values in ratios.items()}}
    for name, (cloud, role) in COLD.items():
        if name in errors:
            out["contenders"][name] = {"cloud": cloud, "role": role, **not_measured(errors[name])}
            continue
        values = results[name]
        out["contenders"][name] = {"cloud": cloud, "role": role,
                                   "import_plus_first_ms": summary([a + b for a, b in
                                                                    zip(values["import_ms"], values["first_ms"],
                                                                        strict=True)]),
                                   "import_ms": summary(values["import_ms"]),
                                   "first_ms": summary(values["first_ms"]), "wall_ms": summary(values["wall_ms"])}
    return out


def run(quick: bool = False, smoke: bool = False) -> dict[str, Any]:
    """The suite as ``benchmarks/run.py`` runs it (``mount``)."""
    root = code_root()
    try:
        if smoke:
            return {"warm": warm(1, 5, root), "cold": cold(1, root, warmup=False)}
        return {"warm": warm(8 if quick else 25, 300 if quick else 1000, root), "cold": cold(4 if quick else 16, root)}
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _ratio(part: dict[str, Any], cloud: str, of_medians: float) -> str:
    """The median of the per-round ratios with min–max (results without them: the ratio of the medians)."""
    ratio = part.get("ratios", {}).get(cloud)
    if not ratio or "median" not in ratio:
        return f"{of_medians:.2f}"
    return f"{ratio['median']:.2f} ({ratio['min']:.2f}–{ratio['max']:.2f})"


def table(data: dict[str, Any]) -> str:
    """The two tables docs/benchmarks.md shows: warm µs and cold ms per cloud, portafunc beside its peer."""
    lines = ["| cloud | contender | warm µs, median (min–max) | over the floor µs | portafunc ÷ peer, per round |",
             "|---|---|---|---|---|"]
    rows = data["warm"]["contenders"]
    for cloud in ("aws", "azure", "gcp"):
        mine = {r["role"]: (n, r) for n, r in rows.items() if r["cloud"] == cloud}
        floor = mine.get("floor", ("", {}))[1].get("median")
        for role in ("floor", "portafunc", "peer"):
            if role not in mine:
                continue
            name, row = mine[role]
            if "median" not in row:
                lines.append(f"| {cloud} | {name.split(': ', 1)[1]} | not measured: {row.get('not_measured')} | | |")
                continue
            over = f"{row['median'] - floor:.1f}" if floor is not None and role != "floor" else ""
            ratio = ""
            if role == "portafunc" and "median" in mine.get("peer", ("", {}))[1]:
                ratio = _ratio(data["warm"], cloud, row["median"] / mine["peer"][1]["median"])
            lines.append(f"| {cloud} | {name.split(': ', 1)[1]} | {row['median']:.1f} ({row['min']:.1f}–"
                         f"{row['max']:.1f}) | {over} | {ratio} |")
    lines += ["", "| cloud | contender | cold: import + first request ms, median (min–max) | process wall ms | "
              "portafunc ÷ peer, per round |", "|---|---|---|---|---|"]
    cold_rows = data["cold"]["contenders"]
    for cloud in ("aws", "azure", "gcp"):
        mine = {r["role"]: (n, r) for n, r in cold_rows.items() if r["cloud"] == cloud}
        for role in ("portafunc", GC_ON, "peer"):
            if role not in mine:
                continue
            name, row = mine[role]
            if "import_plus_first_ms" not in row:
                lines.append(f"| {cloud} | {name} | not measured: {row.get('not_measured')} | | |")
                continue
            s, w = row["import_plus_first_ms"], row["wall_ms"]
            ratio = ""
            peer = mine["peer"][1]
            if role != "peer" and "import_plus_first_ms" in peer:
                key = cloud if role == "portafunc" else f"{cloud}:{GC_ON}"
                ratio = _ratio(data["cold"], key, s["median"] / peer["import_plus_first_ms"]["median"])
            lines.append(f"| {cloud} | {name} | {s['median']:.1f} ({s['min']:.1f}–{s['max']:.1f}) | "
                         f"{w['median']:.0f} | {ratio} |")
    return "\n".join(lines)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--cold-child":
        at_stack_offset(int(os.environ.get("MOUNT_BENCH_STACK_OFFSET", "0")), cold_child, sys.argv[2], sys.argv[3])
        return
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    data = run(args.quick, args.smoke)
    if args.out:
        args.out.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(table(data), flush=True)
    os._exit(0)  # no teardown: AsgiFunctionApp's finaliser waits forever for a lifespan shutdown (see cold_child)


if __name__ == "__main__":
    main()
