"""What HTTP input/output checks cost on the Lambda HTTP API v2 path: two revisions of the code, compared in pairs.

Each revision's ``portafunc`` and ``portafunc_aws`` are taken from git (``git archive``) into a temporary folder;
every round runs both, in alternating order, each in a fresh interpreter, timing four handlers with process time
(3,000 calls, best of 7). Prints the best time per revision and the median of the paired after/before ratios,
which is what survives a machine shared with other jobs.

    python benchmarks/http_input_cost.py BEFORE_REV AFTER_REV [--rounds 20]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

CHILD = r'''
import json, time, timeit
from pydantic import BaseModel
from portafunc import App, HttpRequest, HttpResponse
try:  # the adapter layout since the runtime/codecs split; older revisions: entry.py, http.py
    from portafunc_aws import runtime as entry
    from portafunc_aws.codecs import http
except ImportError:
    from portafunc_aws import entry, http
from portafunc_aws.target import LambdaContext

app = App("bench")

class Order(BaseModel):
    id: str
    total: float

@app.http("POST", "/orders/{shop}")
def create(req: HttpRequest, order: Order) -> dict:
    return {"shop": req.path_params["shop"], "id": order.id}

@app.http("GET", "/items/{id}")
def get(req: HttpRequest) -> dict:
    return {"id": req.path_params["id"]}

@app.http("POST", "/parse")
def parse(req: HttpRequest) -> dict:
    return {"n": len(req.json())}

@app.http("GET", "/hdr")
def hdr(req: HttpRequest) -> HttpResponse:
    resp = HttpResponse(200, {"Content-Type": "text/plain", "Cache-Control": "no-store"}, b"ok")
    resp.headers.add("X-Request", "abc")
    return resp

ctx = LambdaContext(function_name="bench")

def event(method, path, body=b""):
    headers = {"content-type": "application/json", "user-agent": "curl/8", "accept": "*/*"}
    return http.encode_request(HttpRequest(method, path, headers=headers, body=body), "apigw-v2")

cases = {
    "GET -> return {...}": (entry.bind(app, "get"), event("GET", "/items/7")),
    "POST typed body": (entry.bind(app, "create"), event("POST", "/orders/acme", b'{"id": "o-1", "total": 9.5}')),
    "POST req.json(), 2 floats": (entry.bind(app, "parse"), event(
        "POST", "/parse", b'{"id": "o-1", "total": 9.5, "items": [{"sku": "a", "qty": 2, "price": 1.25}]}')),
    "3 handler-set headers": (entry.bind(app, "hdr"), event("GET", "/hdr")),
}
out = {}
for name, (handler, native) in cases.items():
    assert handler(native, ctx)["statusCode"] == 200
    timer = timeit.Timer(lambda: handler(native, ctx), timer=time.process_time)
    out[name] = min(timer.repeat(number=3000, repeat=7)) / 3000
print(json.dumps(out))
'''


def _extract(rev: str, into: Path) -> None:
    archive = subprocess.run(["git", "archive", rev, "portafunc", "adapters/aws/portafunc_aws"], cwd=REPO,
                             capture_output=True, check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("before")
    parser.add_argument("after")
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        trees = {}
        for label, rev in (("before", args.before), ("after", args.after)):
            trees[label] = Path(tmp) / label
            _extract(rev, trees[label])
        script = Path(tmp) / "child.py"
        script.write_text(CHILD)
        results: dict[str, dict[str, list[float]]] = {"before": {}, "after": {}}
        for r in range(args.rounds):
            for label in (("before", "after") if r % 2 == 0 else ("after", "before")):
                tree = trees[label]
                env = dict(os.environ, PYTHONPATH=f"{tree}{os.pathsep}{tree / 'adapters' / 'aws'}",
                           PORTAFUNC_LOG_LEVEL="ERROR")
                proc = subprocess.run([sys.executable, str(script)], cwd=tmp, env=env, capture_output=True,
                                      text=True, check=True)
                for name, seconds in json.loads(proc.stdout).items():
                    results[label].setdefault(name, []).append(seconds)
    for name, before in results["before"].items():
        after = results["after"][name]
        ratio = statistics.median(a / b for a, b in zip(after, before, strict=True)) - 1
        print(f"{name:26} before {min(before) * 1e6:6.2f} µs   after {min(after) * 1e6:6.2f} µs   "
              f"median paired ratio {ratio * 100:+.1f} %")


if __name__ == "__main__":
    main()
