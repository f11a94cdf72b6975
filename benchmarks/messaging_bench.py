"""Suite 4: messaging throughput — portafunc ``Queue.send_batch`` against the raw SDK call on the same stand-in.

* moto server (SQS), started like tests/aws/conftest.py does (``python -m moto.server`` on a free 127.0.0.1 port):
  raw ``boto3 sqs.send_message_batch`` (10 entries per call, JSON bodies) against
  ``portafunc.queue("work").send_batch`` bound through ``PORTAFUNC_QUEUE_WORK=sqs://...`` and ``AWS_ENDPOINT_URL``.
* memory backend: ``portafunc.queue`` on ``memory://`` against appending the same JSON bytes to a
  ``collections.deque`` (the floor: no broker semantics at all, so this ratio shows the in-process broker's cost,
  it is not a goal).

The messages go in blocks of 1,000, raw and portafunc alternating block by block (which one starts is swapped every
block), so drift and neighbours' load hit both alike; the ratio is taken per block pair.
"""

from __future__ import annotations

import collections
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any, Callable

from common import summary

BLOCK = 1000


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _payloads(n: int) -> list[dict[str, Any]]:
    return [{"id": f"o-{i}", "total": 1.5} for i in range(n)]


def _alternate(raw: Callable[[list[Any]], None], pf: Callable[[list[Any]], None], total: int) -> dict[str, Any]:
    raw_rates, pf_rates, ratios = [], [], []
    for block in range(total // BLOCK):
        msgs = _payloads(BLOCK)
        pair = [("raw", raw), ("pf", pf)] if block % 2 == 0 else [("pf", pf), ("raw", raw)]
        rates = {}
        for name, fn in pair:
            start = time.perf_counter()
            for i in range(0, BLOCK, 10):
                fn(msgs[i:i + 10])
            rates[name] = BLOCK / (time.perf_counter() - start)
        raw_rates.append(rates["raw"])
        pf_rates.append(rates["pf"])
        ratios.append(rates["pf"] / rates["raw"])
    return {"messages": total, "raw_rate": summary(raw_rates), "pf_rate": summary(pf_rates),
            "ratio": summary(ratios)}


def bench_memory(total: int) -> dict[str, Any]:
    os.environ["PORTAFUNC_QUEUE_BENCHMEM"] = "memory://benchmem"
    import portafunc

    q = portafunc.queue("benchmem")
    sink: collections.deque[bytes] = collections.deque()

    def raw(batch: list[Any]) -> None:
        for m in batch:
            sink.append(json.dumps(m).encode())

    return _alternate(raw, lambda batch: q.send_batch(batch), total)


def bench_moto(total: int) -> dict[str, Any]:
    try:
        import boto3
        import moto.server  # noqa: F401
    except ImportError as exc:
        return {"not_measured": f"moto[server]/boto3 missing in the benchmark venv: {exc}"}
    port = _free_port()
    log = Path(tempfile.mkdtemp(prefix="pf-bench-moto-")) / "moto.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                                stdout=out, stderr=subprocess.STDOUT)
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1).read()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    return {"not_measured": f"moto server did not start: {log.read_text()[-300:]}"}
                time.sleep(0.2)
        os.environ.update({"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "testing",
                           "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
                           "AWS_REGION": "us-east-1"})
        sqs = boto3.client("sqs", region_name="us-east-1", endpoint_url=endpoint)
        raw_url = sqs.create_queue(QueueName="bench-raw")["QueueUrl"]
        sqs.create_queue(QueueName="bench-pf")
        os.environ["PORTAFUNC_QUEUE_BENCHPF"] = "sqs://sqs.us-east-1.amazonaws.com/123456789012/bench-pf"
        import portafunc

        q = portafunc.queue("benchpf")

        def raw(batch: list[Any]) -> None:
            entries = [{"Id": str(i), "MessageBody": json.dumps(m)} for i, m in enumerate(batch)]
            resp = sqs.send_message_batch(QueueUrl=raw_url, Entries=entries)
            if resp.get("Failed"):
                raise RuntimeError(f"raw send failed: {resp['Failed']}")

        raw(_payloads(10))  # warm both clients up (connection, credentials, endpoint resolution)
        q.send_batch(_payloads(10))
        result = _alternate(raw, lambda batch: q.send_batch(batch), total)
        counts = {}
        for name in ("bench-raw", "bench-pf"):
            url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
            attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
            counts[name] = int(attrs["Attributes"]["ApproximateNumberOfMessages"])
        expected = total + 10
        if counts["bench-raw"] != expected or counts["bench-pf"] != expected:
            return {"not_measured": f"message counts in moto do not match what was sent: {counts}, want {expected}"}
        result["delivered"] = counts
        return result
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def run(quick: bool) -> dict[str, Any]:
    total = 2000 if quick else 10000
    backends: dict[str, Any] = {}
    for name, fn in (("SQS on moto server", bench_moto), ("memory:// (vs deque append)", bench_memory)):
        try:
            backends[name] = fn(total)
        except Exception as exc:  # noqa: BLE001
            backends[name] = {"not_measured": f"{type(exc).__name__}: {exc}"[:400]}
        print(f"  messaging: {name} done", file=sys.stderr)
    backends["Pub/Sub emulator"] = {"not_measured": "not implemented in the harness yet (the emulator is on this "
                                                    "machine; time ran out) — see the report"}
    backends["Azure Storage Queue on Azurite"] = {"not_measured": "not implemented in the harness yet (Azurite is "
                                                                  "installed under .tools; time ran out)"}
    return {"backends": backends, "method": (__doc__ or "").split("\n\n", 1)[1].replace("\n", " ")}
