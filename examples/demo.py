"""`make demo`: run the shop example locally with `portafunc run`, drive every kind of trigger, stop cleanly.

Starts the real local runner on a free 127.0.0.1 port, sends real HTTP requests, fires the schedule and the upload
trigger, then stops the runner with Ctrl-C (SIGINT) and shows what it logged.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
PORTAFUNC = [sys.executable, "-m", "portafunc.cli"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def request(method: str, url: str, body: object | None = None) -> tuple[int, str]:
    data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def main() -> int:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "PORTAFUNC_RUN_RETRY_DELAY": "0.2", "PYTHONUNBUFFERED": "1"}
    runner = subprocess.Popen([*PORTAFUNC, "run", str(HERE / "shop"), "--port", str(port), "--no-reload"],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if runner.poll() is not None:
                    print(runner.stdout.read() if runner.stdout else "")
                    return 1
                time.sleep(0.1)
        print(f"$ curl -X POST {base}/orders/acme -H 'Content-Type: application/json' "
              "-d '{\"id\": \"o-1\", \"total\": 9.5}'")
        print("  ->", *request("POST", f"{base}/orders/acme", {"id": "o-1", "total": 9.5}))
        print(f"$ curl {base}/orders/acme/o-1")
        print("  ->", *request("GET", f"{base}/orders/acme/o-1"))
        print(f"$ curl -X POST {base}/orders/acme -H 'Content-Type: application/json' "
              "-d '{\"id\": \"o-2\"}'    # invalid: no total")
        print("  ->", *request("POST", f"{base}/orders/acme", {"id": "o-2"}))
        print(f"$ curl '{base}/orders/acme?limit=5'    # a typed query parameter, the answer a list[Order]")
        print("  ->", *request("GET", f"{base}/orders/acme?limit=5"))
        print(f"$ curl -X DELETE {base}/orders/acme/o-1    # signed-in users only: no bearer token")
        print("  ->", *request("DELETE", f"{base}/orders/acme/o-1"))
        status, document = request("GET", f"{base}/docs/openapi.json")
        print(f"$ curl {base}/docs/openapi.json    # Swagger UI at {base}/docs")
        print("  ->", status, f"OpenAPI {json.loads(document)['openapi']}: {', '.join(json.loads(document)['paths'])}")
        time.sleep(1.0)  # let the queue and topic consumers run
    finally:
        runner.send_signal(signal.SIGINT)
        try:
            out, _ = runner.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            runner.kill()
            out, _ = runner.communicate()
    print("\n--- portafunc run (its log) ---")
    print(out.rstrip())
    for function in ("nightly", "on_upload"):
        print(f"\n$ portafunc run examples/shop --trigger {function}")
        fired = subprocess.run([*PORTAFUNC, "run", str(HERE / "shop"), "--trigger", function, "--no-reload"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
        print(fired.stdout.rstrip())  # one stream, in the order written, as in a terminal
        if fired.returncode != 0:
            return fired.returncode
    return 0 if runner.returncode == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
