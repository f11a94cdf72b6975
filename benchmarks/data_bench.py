"""Bucket and key-value throughput: ``portafunc.bucket``/``portafunc.kv`` against the raw SDK call on the same stand-in.

Pairs, each on one stand-in started through ``tests/standins.py`` (fresh for the run):

* moto server: ``s3://`` vs boto3 ``put_object`` / ``get_object().read()``; ``dynamodb://`` vs boto3 ``put_item`` /
  ``get_item(ConsistentRead=True)`` (portafunc reads consistently too).
* Azurite: ``azblob://`` vs ``BlobClient.upload_blob(overwrite=True)`` / ``download_blob().readall()``; ``aztable://``
  vs ``TableClient.upsert_entity`` / ``get_entity``.
* the Cloud Storage emulator (gcp-storage-emulator): ``gs://`` vs ``Blob.upload_from_string`` /
  ``download_as_bytes``.
* the Firestore emulator: ``firestore://`` vs ``DocumentReference.set`` / ``get``.

Both sides write the same bytes (a 1 KiB object; a small JSON document) to their own keys with one client each, built
and warmed up before timing. Operations go in blocks, raw and portafunc alternating block by block (which one starts
is swapped every block), so drift and the neighbours' load hit both alike; the ratio (portafunc ops/s ÷ raw ops/s) is
taken per block pair and its median reported, with the spread. The client's own CPU time per operation (this
process only: the stand-ins run in their own) is reported beside it: on a loaded machine it shows what portafunc adds
far more steadily than wall-clock rates do. Every get is checked against what was put, so a side that returned wrong
data cannot look fast. Goal: median ratio ≥ 0.95.

    .venv/bin/python benchmarks/data_bench.py [--quick] [--only s3,dynamodb,...]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack
from pathlib import Path
from typing import Any, Callable

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path[:0] = [str(HERE), str(REPO / "tests")]

import standins  # noqa: E402
from common import summary, write_result  # noqa: E402

PROJECT = "portafunc-bench"
OBJECT = os.urandom(1024)
DOCUMENT = {"id": "o-1", "total": 9.5, "items": ["cat", "hat"], "shop": "acme"}
Op = Callable[[str], Any]


def race(name: str, raw: dict[str, Op], ours: dict[str, Op], blocks: int, per_block: int) -> dict[str, Any]:
    """Time ``put`` then ``get`` of both sides in alternating blocks; ratios per block pair."""
    out: dict[str, Any] = {}
    for op in ("put", "get"):
        ratios, raw_rates, our_rates = [], [], []
        cpu: dict[str, float] = {"raw": 0.0, "portafunc": 0.0}
        for block in range(blocks):
            times = {}
            order = [("raw", raw), ("portafunc", ours)] if block % 2 == 0 else [("portafunc", ours), ("raw", raw)]
            for side, fns in order:
                keys = [f"{side}/{block}/{i}" for i in range(per_block)]
                if op == "get":  # untimed: the objects to read
                    for key in keys:
                        fns["put"](key)
                fn = fns[op]
                started, cpu_started = time.perf_counter(), time.process_time()
                for key in keys:
                    fn(key)
                times[side] = time.perf_counter() - started
                cpu[side] += time.process_time() - cpu_started
            raw_rates.append(per_block / times["raw"])
            our_rates.append(per_block / times["portafunc"])
            ratios.append(times["raw"] / times["portafunc"])
        n = blocks * per_block
        client_us = {side: cpu[side] / n * 1e6 for side in cpu}
        out[op] = {"ratio": summary(ratios), "raw_ops_per_s": summary(raw_rates),
                   "portafunc_ops_per_s": summary(our_rates), "ops_per_side": n,
                   "client_cpu_us_per_op": client_us}
        print(f"  {name:10} {op}: ratio {statistics.median(ratios):.3f} (min {min(ratios):.3f}, max "
              f"{max(ratios):.3f}); raw {statistics.median(raw_rates):.0f} ops/s, portafunc "
              f"{statistics.median(our_rates):.0f} ops/s; client CPU per op raw {client_us['raw']:.0f} us, "
              f"portafunc {client_us['portafunc']:.0f} us", flush=True)
    return out


def checked(get: Callable[[str], Any], expect: Any) -> Op:
    def read(key: str) -> None:
        got = get(key)
        if got != expect:
            raise AssertionError(f"read back {got!r:.60} for {key}, expected {expect!r:.60}")
    return read


def aws(endpoint: str) -> tuple[dict[str, Op], dict[str, Op], dict[str, Op], dict[str, Op]]:
    import boto3
    from portafunc_aws.backends import dynamodb

    import portafunc

    os.environ.update({"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_REGION": "us-east-1",
                       "AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL": endpoint})
    s3 = boto3.client("s3")
    ddb = boto3.client("dynamodb")
    bucket, table = f"bench-{uuid.uuid4().hex[:8]}", f"bench-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    dynamodb.create_table(ddb, table)
    os.environ["PORTAFUNC_BUCKET_BENCH_S3"] = f"s3://{bucket}"
    os.environ["PORTAFUNC_KV_BENCH_DDB"] = f"dynamodb://{table}"
    b, kv = portafunc.bucket("bench-s3"), portafunc.kv("bench-ddb")
    text = json.dumps(DOCUMENT, separators=(",", ":"))
    raw_s3 = {"put": lambda k: s3.put_object(Bucket=bucket, Key="raw-" + k, Body=OBJECT,
                                             ContentType="application/octet-stream"),
              "get": checked(lambda k: s3.get_object(Bucket=bucket, Key="raw-" + k)["Body"].read(), OBJECT)}
    our_s3 = {"put": lambda k: b.put(k, OBJECT), "get": checked(b.get, OBJECT)}
    raw_ddb = {"put": lambda k: ddb.put_item(TableName=table, Item={"id": {"S": "raw-" + k}, "value": {"S": text}}),
               "get": checked(lambda k: json.loads(ddb.get_item(TableName=table, Key={"id": {"S": "raw-" + k}},
                                                                ConsistentRead=True)["Item"]["value"]["S"]),
                              DOCUMENT)}
    our_ddb = {"put": lambda k: kv.put(k, DOCUMENT), "get": checked(kv.get, DOCUMENT)}
    return raw_s3, our_s3, raw_ddb, our_ddb


def azure(blob_conn: str, table_conn: str) -> tuple[dict[str, Op], dict[str, Op], dict[str, Op], dict[str, Op]]:
    from azure.data.tables import TableClient, UpdateMode
    from azure.storage.blob import BlobServiceClient

    import portafunc

    container, table = f"bench-{uuid.uuid4().hex[:8]}", f"bench{uuid.uuid4().hex[:8]}"
    blobs = BlobServiceClient.from_connection_string(blob_conn).get_container_client(container)
    blobs.create_container()
    tables = TableClient.from_connection_string(table_conn, table_name=table)
    tables.create_table()
    os.environ.update({"PORTAFUNC_AZBLOB_CONNECTION": blob_conn, "PORTAFUNC_AZTABLE_CONNECTION": table_conn,
                       "PORTAFUNC_BUCKET_BENCH_BLOB": f"azblob://{standins.AZURITE_ACCOUNT}/{container}",
                       "PORTAFUNC_KV_BENCH_TABLE": f"aztable://{standins.AZURITE_ACCOUNT}/{table}"})
    b, kv = portafunc.bucket("bench-blob"), portafunc.kv("bench-table")
    text = json.dumps(DOCUMENT, separators=(",", ":"))
    raw_blob = {"put": lambda k: blobs.get_blob_client("raw-" + k).upload_blob(OBJECT, overwrite=True),
                "get": checked(lambda k: blobs.get_blob_client("raw-" + k).download_blob().readall(), OBJECT)}
    our_blob = {"put": lambda k: b.put(k, OBJECT), "get": checked(b.get, OBJECT)}
    raw_table = {"put": lambda k: tables.upsert_entity({"PartitionKey": "raw-" + k.replace("/", "_"), "RowKey": "r",
                                                        "value": text}, mode=UpdateMode.REPLACE),
                 "get": checked(lambda k: json.loads(tables.get_entity("raw-" + k.replace("/", "_"), "r")["value"]),
                                DOCUMENT)}
    our_table = {"put": lambda k: kv.put(k, DOCUMENT), "get": checked(kv.get, DOCUMENT)}
    return raw_blob, our_blob, raw_table, our_table


def gcs(endpoint: str) -> tuple[dict[str, Op], dict[str, Op]]:
    from google.cloud import storage

    import portafunc

    os.environ.update({"STORAGE_EMULATOR_HOST": endpoint, "GOOGLE_CLOUD_PROJECT": PROJECT})
    client = storage.Client(project=PROJECT)
    name = f"bench-{uuid.uuid4().hex[:8]}"
    bucket = client.create_bucket(name)
    os.environ["PORTAFUNC_BUCKET_BENCH_GS"] = f"gs://{name}"
    b = portafunc.bucket("bench-gs")
    raw = {"put": lambda k: bucket.blob("raw-" + k).upload_from_string(OBJECT,
                                                                      content_type="application/octet-stream"),
           "get": checked(lambda k: bucket.blob("raw-" + k).download_as_bytes(), OBJECT)}
    ours = {"put": lambda k: b.put(k, OBJECT), "get": checked(b.get, OBJECT)}
    return raw, ours


def firestore(host: str) -> tuple[dict[str, Op], dict[str, Op]]:
    from google.cloud import firestore as fs

    import portafunc

    os.environ["FIRESTORE_EMULATOR_HOST"] = host
    collection = f"bench{uuid.uuid4().hex[:8]}"
    docs = fs.Client(project=PROJECT).collection(collection + "raw")
    os.environ["PORTAFUNC_KV_BENCH_FS"] = f"firestore://{PROJECT}/{collection}"
    kv = portafunc.kv("bench-fs")
    text = json.dumps(DOCUMENT, separators=(",", ":"))
    raw = {"put": lambda k: docs.document(k.replace("/", "_")).set({"key": k, "value": text}),
           "get": checked(lambda k: json.loads(docs.document(k.replace("/", "_")).get().to_dict()["value"]),
                          DOCUMENT)}
    ours = {"put": lambda k: kv.put(k, DOCUMENT), "get": checked(kv.get, DOCUMENT)}
    return raw, ours


def warm(*sides: dict[str, Op]) -> None:
    for side in sides:
        for i in range(20):
            side["put"](f"warm/{i}")
            side["get"](f"warm/{i}")


def run(quick: bool = False, only: set[str] | None = None) -> dict[str, Any]:
    blocks, per_block = (6, 30) if quick else (30, 20)
    wanted = only or {"s3", "dynamodb", "azblob", "aztable", "gs", "firestore"}
    results: dict[str, Any] = {"blocks": blocks, "per_block": per_block, "object_bytes": len(OBJECT),
                               "document": DOCUMENT, "pairs": {}}
    logs = Path(tempfile.mkdtemp(prefix="portafunc-data-bench-"))
    with ExitStack() as stack:
        if wanted & {"s3", "dynamodb"}:
            endpoint = stack.enter_context(standins.moto_server(logs))
            raw_s3, our_s3, raw_ddb, our_ddb = aws(endpoint)
            for name, raw, ours in (("s3", raw_s3, our_s3), ("dynamodb", raw_ddb, our_ddb)):
                if name in wanted:
                    warm(raw, ours)
                    results["pairs"][name] = race(name, raw, ours, blocks, per_block)
        if wanted & {"azblob", "aztable"}:
            blob_conn = stack.enter_context(standins.azurite(logs, "blob"))
            table_conn = stack.enter_context(standins.azurite(logs, "table"))
            raw_blob, our_blob, raw_table, our_table = azure(blob_conn, table_conn)
            for name, raw, ours in (("azblob", raw_blob, our_blob), ("aztable", raw_table, our_table)):
                if name in wanted:
                    warm(raw, ours)
                    results["pairs"][name] = race(name, raw, ours, blocks, per_block)
        if "gs" in wanted:
            raw, ours = gcs(stack.enter_context(standins.gcs_emulator(logs)))
            warm(raw, ours)
            results["pairs"]["gs"] = race("gs", raw, ours, blocks, per_block)
        if "firestore" in wanted:
            raw, ours = firestore(stack.enter_context(standins.firestore_emulator(logs)))
            warm(raw, ours)
            results["pairs"]["firestore"] = race("firestore", raw, ours, blocks, per_block)
    results["loadavg"] = os.getloadavg()
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="6 blocks of 30 operations per side instead of 30 of 20")
    parser.add_argument("--only", default="", help="comma-separated: s3,dynamodb,azblob,aztable,gs,firestore")
    args = parser.parse_args()
    only = {s.strip() for s in args.only.split(",") if s.strip()} or None
    started = time.perf_counter()
    data = run(args.quick, only)
    data["mode"] = "quick" if args.quick else "full"
    data["seconds"] = time.perf_counter() - started
    path = write_result("data", data)
    print(f"wrote {path.relative_to(REPO)}")
    missed = [f"{name} {op}" for name, pair in data["pairs"].items() for op in ("put", "get")
              if pair[op]["ratio"]["median"] < 0.95]
    print("goal (median ratio >= 0.95): " + ("met by every pair" if not missed else f"missed by {', '.join(missed)}"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
