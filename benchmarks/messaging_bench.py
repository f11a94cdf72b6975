"""Suite 4: messaging throughput — portafunc ``Topic``/``Queue`` against the raw SDK call on the same stand-in.

Contenders, each pair on one stand-in started through ``tests/standins.py`` (a fresh one per suite run):

* moto server, SQS: ``portafunc.queue(...).send_batch`` (``sqs://``) vs ``boto3 sqs.send_message_batch``, 10 per call.
* moto server, SQS, noise control: the raw boto3 call against a second, identical raw client (its own queue) in the
  same kind of race, so the spread of a ratio that should be 1.00 shows what this machine can resolve.
* moto server, SNS: ``portafunc.topic(...).publish_batch`` (``sns://``) vs ``boto3 sns.publish_batch``, 10 per call;
  each topic has an SQS queue subscribed (raw delivery) so delivery can be counted.
* Pub/Sub emulator: ``portafunc.topic(...).publish_batch`` (``pubsub://``) of 100 against two raw baselines, each
  in its own race: ``google.cloud.pubsub_v1.PublisherClient.publish`` of the same 100 then ``future.result()`` on
  each (the batching client most code uses, with portafunc's batch settings: 100 messages, 1 MB, 10 ms), and the
  generated client's synchronous ``Publish`` RPC of 100 (``google.pubsub_v1.PublisherClient``, the same requests a
  synchronous portafunc publish_batch makes).
* Azurite: ``portafunc.queue(...).send_batch`` (``azqueue://``) of 10 vs ``QueueClient.send_message`` 10 times
  (``TextBase64EncodePolicy``, the encoding the Functions host expects; portafunc base64-encodes itself), in
  segments of 2,500 messages a side, each on a fresh Azurite (Azurite stops answering after some 16,000–25,000
  requests in one process).
* memory: ``memory://`` vs appending the same JSON bytes to a ``collections.deque`` (the floor: no broker semantics,
  so the ratio shows the in-process broker's cost; it is not a goal).

Both sides send the same compact-JSON payloads to their own queue/topic on the same stand-in, with one client each,
created and warmed up (connection, credentials, channels) before timing. The messages go in blocks, raw and portafunc
alternating block by block (which one starts is swapped every block), so drift and neighbours' load hit both alike;
the ratio is taken per block pair. Only the send calls are timed. Between calls, untimed, each side's delivery is
counted (SQS ``ApproximateNumberOfMessages``, Pub/Sub pull + ack, Storage Queue approximate count) and the queue
emptied; a count that does not match what was sent stops the stand-in's measurement (a contender that drops messages
cannot look fast). A send that fails (a stand-in stalling past the client's timeout, seen now and then with Azurite
on the loaded machine) voids its block pair, which is drained and run again; such stalls are listed in the results.
Emptying matters on moto: its SendMessage recomputes every queue attribute over all stored messages for each message
sent, so a queue that keeps growing makes each call slower than the last (quadratic) and the broker, not the client,
is what gets measured.
"""

from __future__ import annotations

import collections
import json
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from common import summary

REPO = Path(__file__).resolve().parents[1]
ACCOUNT = "123456789012"
REGION = "us-east-1"
PROJECT = "portafunc-bench"


class DeliveryError(RuntimeError):
    """A contender's messages did not all arrive: its figure would be meaningless."""


@dataclass
class Side:
    """One contender on one stand-in: the timed send of a chunk, and an untimed delivery check.

    ``check(n)`` returns how many messages arrived since the last check (and empties the queue); it runs after every
    chunk when ``check_each_chunk`` (moto, where a growing queue slows the broker), else after every block.
    """

    send: Callable[[list[Any]], Any]
    check: Callable[[int], int]
    check_each_chunk: bool = False
    drain: Callable[[], Any] | None = None  # empties the queue after a failed block (default: ``check(0)``)
    sent: int = 0  # including the warm-up
    delivered: int = 0


@dataclass
class Plan:
    total: int  # messages per contender
    block: int  # messages per block (one side sends a whole block, then the other)
    chunk: int  # messages per send call


def _payloads(start: int, n: int) -> list[dict[str, Any]]:
    return [{"id": f"o-{i}", "total": 1.5, "sku": "A-1"} for i in range(start, start + n)]


_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)  # built once, as a careful raw user would


def _body(m: Any) -> str:
    """The JSON text the raw sides send: the same bytes portafunc sends (compact separators, UTF-8)."""
    return _ENCODER.encode(m)


def _run_side(side: Side, msgs: list[Any], chunk: int, who: str) -> float:
    """Seconds spent in the send calls for ``msgs``; delivery checked as the side asks."""
    elapsed = 0.0
    clock = time.perf_counter
    unchecked = 0
    for i in range(0, len(msgs), chunk):
        part = msgs[i:i + chunk]
        t0 = clock()
        side.send(part)
        elapsed += clock() - t0
        side.sent += len(part)
        unchecked += len(part)
        if side.check_each_chunk:
            _check(side, unchecked, who)
            unchecked = 0
    if unchecked:
        _check(side, unchecked, who)
    return elapsed


def _check(side: Side, expected: int, who: str) -> None:
    got = side.check(expected)
    side.delivered += got
    if got != expected:
        raise DeliveryError(f"{who}: {got} message(s) arrived, {expected} were sent")


MAX_STALLS = 3


@dataclass
class Tally:
    """Per-block timings of one race, possibly gathered over several segments (fresh stand-ins)."""

    plan: Plan
    raw_secs: list[float] = field(default_factory=list)
    pf_secs: list[float] = field(default_factory=list)
    stalls: list[str] = field(default_factory=list)
    sent: dict[str, int] = field(default_factory=lambda: {"raw": 0, "portafunc": 0})
    delivered: dict[str, int] = field(default_factory=lambda: {"raw": 0, "portafunc": 0})

    def result(self) -> dict[str, Any]:
        block = self.plan.block
        n = len(self.raw_secs)
        sent = n * block
        return {"messages": sent, "block": block, "chunk": self.plan.chunk, "pairs": n,
                "raw_rate": summary([block / s for s in self.raw_secs]),
                "pf_rate": summary([block / s for s in self.pf_secs]),
                "ratio": summary([r / p for r, p in zip(self.raw_secs, self.pf_secs, strict=True)]),
                "raw_overall": sent / sum(self.raw_secs), "pf_overall": sent / sum(self.pf_secs),
                "sent": self.sent, "delivered": self.delivered, "stalls": self.stalls}


def race(raw: Side, pf: Side, plan: Plan, tally: Tally | None = None) -> dict[str, Any]:
    """Alternate raw and portafunc block by block; msg/s per block and the per-pair ratio portafunc ÷ raw.

    A send that fails (the stand-in stalled past a client timeout, say) voids its block pair: both queues are
    drained, the pair is run again and the failure is listed under ``stalls``; after ``MAX_STALLS`` the error is
    raised. A delivery mismatch is never retried. With ``tally``, the blocks are added to it (a segment of a longer
    race) and the whole tally's result is returned.
    """
    tally = tally if tally is not None else Tally(plan)
    _run_side(raw, _payloads(0, plan.chunk), plan.chunk, "raw (warm-up)")
    _run_side(pf, _payloads(0, plan.chunk), plan.chunk, "portafunc (warm-up)")
    blocks = max(1, plan.total // plan.block)
    base = len(tally.raw_secs)  # blocks of earlier segments: keeps the alternation going across segments
    b = 0
    while b < blocks:
        msgs = _payloads(b * plan.block, plan.block)
        order = [("raw", raw), ("pf", pf)] if (base + b) % 2 == 0 else [("pf", pf), ("raw", raw)]
        before = [(side.sent, side.delivered) for side in (raw, pf)]
        try:
            secs = {who: _run_side(side, msgs, plan.chunk, who) for who, side in order}
        except DeliveryError:
            raise
        except Exception as exc:  # noqa: BLE001 - a stalled stand-in voids the pair; see the docstring
            first = str(exc).splitlines()[0][:300] if str(exc) else ""
            tally.stalls.append(f"block {base + b}: {type(exc).__name__}: {first}")
            if len(tally.stalls) > MAX_STALLS:
                raise
            for side, (sent, delivered) in zip((raw, pf), before, strict=True):
                side.drain() if side.drain else side.check(0)
                side.sent, side.delivered = sent, delivered
            continue
        b += 1
        tally.raw_secs.append(secs["raw"])
        tally.pf_secs.append(secs["pf"])
    for key, side in (("raw", raw), ("portafunc", pf)):
        tally.sent[key] += side.sent
        tally.delivered[key] += side.delivered
    return tally.result()


# -- moto: SQS and SNS ------------------------------------------------------------------------------------------------

def _sqs_counter(sqs: Any, url: str) -> Callable[[int], int]:
    def check(expected: int) -> int:
        attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
        sqs.purge_queue(QueueUrl=url)
        return int(attrs["Attributes"]["ApproximateNumberOfMessages"])

    return check


def bench_moto(log_dir: Path, quick: bool) -> dict[str, Any]:
    import standins

    try:
        import boto3
    except ImportError as exc:
        return {"not_measured": f"boto3 missing in the benchmark venv: {exc}"}
    # emptying the queues after every call needs more than one PurgeQueue a minute (moto enforces AWS's limit)
    os.environ["MOTO_SQS_ENFORCE_STRICT_QUEUE_PURGE_BEHAVIOUR"] = "false"
    with standins.moto_server(log_dir) as endpoint:
        os.environ.update({"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "testing",
                           "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": REGION, "AWS_REGION": REGION})
        import portafunc
        from portafunc_aws.backends import clients

        clients.reset()
        admin_sqs = boto3.client("sqs", region_name=REGION)  # counting/purging only, never timed
        admin_sns = boto3.client("sns", region_name=REGION)
        out: dict[str, Any] = {}
        plan = Plan(total=2000 if quick else 10000, block=50, chunk=10)

        # SQS
        urls = {n: admin_sqs.create_queue(QueueName=f"bench-{n}")["QueueUrl"] for n in ("raw", "raw2", "pf")}
        os.environ["PORTAFUNC_QUEUE_BENCH_SQS"] = f"sqs://{urls['pf'].split('://', 1)[1]}?region={REGION}"
        queue = portafunc.queue("bench-sqs")

        def raw_sqs(url: str) -> Callable[[list[Any]], None]:
            sqs = boto3.client("sqs", region_name=REGION)  # what a raw-SDK user writes: one default client

            def send(batch: list[Any]) -> list[str]:
                resp = sqs.send_message_batch(QueueUrl=url, Entries=[
                    {"Id": str(i), "MessageBody": _body(m)} for i, m in enumerate(batch)])
                if resp.get("Failed"):
                    raise RuntimeError(f"raw send failed: {resp['Failed']}")
                return [e["MessageId"] for e in resp["Successful"]]  # portafunc returns the ids too

            return send

        for key, other in (("sqs", Side(queue.send_batch, _sqs_counter(admin_sqs, urls["pf"]), True)),
                           ("sqs_control", Side(raw_sqs(urls["raw2"]), _sqs_counter(admin_sqs, urls["raw2"]), True))):
            try:
                out[key] = race(Side(raw_sqs(urls["raw"]), _sqs_counter(admin_sqs, urls["raw"]), True), other, plan)
            except DeliveryError as exc:
                out[key] = {"not_measured": f"delivery check failed: {exc}"}
            print(f"  messaging: {key} on moto done", file=sys.stderr, flush=True)

        # SNS, each topic with a subscribed queue (raw delivery) to count what arrived
        arns, sinks = {}, {}
        for n in ("raw", "pf"):
            arns[n] = admin_sns.create_topic(Name=f"bench-{n}")["TopicArn"]
            sinks[n] = admin_sqs.create_queue(QueueName=f"bench-sns-{n}")["QueueUrl"]
            admin_sns.subscribe(TopicArn=arns[n], Protocol="sqs", ReturnSubscriptionArn=True,
                                Endpoint=f"arn:aws:sqs:{REGION}:{ACCOUNT}:bench-sns-{n}",
                                Attributes={"RawMessageDelivery": "true"})
        sns = boto3.client("sns", region_name=REGION)
        os.environ["PORTAFUNC_TOPIC_BENCH_SNS"] = f"sns://{arns['pf']}"
        topic = portafunc.topic("bench-sns")

        def raw_sns(batch: list[Any]) -> list[str]:
            resp = sns.publish_batch(TopicArn=arns["raw"], PublishBatchRequestEntries=[
                {"Id": str(i), "Message": _body(m)} for i, m in enumerate(batch)])
            if resp.get("Failed"):
                raise RuntimeError(f"raw publish failed: {resp['Failed']}")
            return [e["MessageId"] for e in resp["Successful"]]

        try:
            out["sns"] = race(Side(raw_sns, _sqs_counter(admin_sqs, sinks["raw"]), True),
                              Side(topic.publish_batch, _sqs_counter(admin_sqs, sinks["pf"]), True), plan)
        except DeliveryError as exc:
            out["sns"] = {"not_measured": f"delivery check failed: {exc}"}
        print("  messaging: SNS on moto done", file=sys.stderr, flush=True)
        clients.reset()
        return out


# -- Google Pub/Sub emulator ------------------------------------------------------------------------------------------

def _pull_counter(subscriber: Any, path: str) -> Callable[[int], int]:
    def check(expected: int) -> int:
        seen: set[str] = set()
        deadline = time.monotonic() + 30
        while len(seen) < expected and time.monotonic() < deadline:
            resp = subscriber.pull(request={"subscription": path, "max_messages": 1000}, timeout=10)
            got = resp.received_messages
            if got:
                seen.update(r.message.message_id for r in got)
                subscriber.acknowledge(request={"subscription": path, "ack_ids": [r.ack_id for r in got]})
        return len(seen)

    return check


def _pull_drain(subscriber: Any, path: str) -> Callable[[], None]:
    def drain() -> None:
        empty = 0
        while empty < 2:
            got = subscriber.pull(request={"subscription": path, "max_messages": 1000}, timeout=10).received_messages
            if got:
                subscriber.acknowledge(request={"subscription": path, "ack_ids": [r.ack_id for r in got]})
            else:
                empty += 1
                time.sleep(0.2)

    return drain


def bench_pubsub(log_dir: Path, quick: bool) -> dict[str, Any]:
    """Two raw baselines: the batching ``PublisherClient`` (what most code uses) and the generated client's
    synchronous Publish RPC of 100 messages (the same RPCs portafunc's synchronous publish_batch makes)."""
    import standins

    try:
        from google.cloud import pubsub_v1
        from google.pubsub_v1 import PublisherClient as GapicPublisher
    except ImportError as exc:
        return {"not_measured": f"google-cloud-pubsub missing in the benchmark venv: {exc}"}
    with standins.pubsub_emulator(log_dir) as host:
        os.environ["PUBSUB_EMULATOR_HOST"] = host  # both SDK clients and portafunc's read it
        import portafunc

        admin = pubsub_v1.PublisherClient()
        subscriber = pubsub_v1.SubscriberClient()
        topics, subs = {}, {}
        for n in ("futures", "gapic", "pf"):
            topics[n] = admin.create_topic(name=f"projects/{PROJECT}/topics/bench-{n}").name
            subs[n] = subscriber.create_subscription(name=f"projects/{PROJECT}/subscriptions/bench-{n}",
                                                     topic=topics[n]).name
        # portafunc's defaults (100 messages, 1 MB, 10 ms), given to the raw client and the binding explicitly
        settings = pubsub_v1.types.BatchSettings(max_messages=100, max_bytes=1_000_000, max_latency=0.01)
        publisher = pubsub_v1.PublisherClient(batch_settings=settings)
        gapic = GapicPublisher()
        os.environ["PORTAFUNC_TOPIC_BENCH_PUBSUB"] = (f"pubsub://{topics['pf']}?max_messages=100&max_bytes=1000000"
                                                      "&max_latency=0.01")
        topic = portafunc.topic("bench-pubsub")

        def raw_futures(batch: list[Any]) -> list[str]:
            futures = [publisher.publish(topics["futures"], _body(m).encode("utf-8")) for m in batch]
            return [f.result(timeout=30) for f in futures]

        def raw_gapic(batch: list[Any]) -> list[str]:
            resp = gapic.publish(request={"topic": topics["gapic"], "messages": [
                {"data": _body(m).encode("utf-8")} for m in batch]}, timeout=30)
            ids = list(resp.message_ids)
            if len(ids) != len(batch):
                raise RuntimeError(f"raw publish answered {len(ids)} ids for {len(batch)} messages")
            return ids

        plan = Plan(total=5000 if quick else 10000, block=500, chunk=100)
        out: dict[str, Any] = {}
        try:
            for key, fn in (("pubsub", raw_futures), ("pubsub_gapic", raw_gapic)):
                name = "futures" if key == "pubsub" else "gapic"
                try:
                    out[key] = race(
                        Side(fn, _pull_counter(subscriber, subs[name]), drain=_pull_drain(subscriber, subs[name])),
                        Side(topic.publish_batch, _pull_counter(subscriber, subs["pf"]),
                             drain=_pull_drain(subscriber, subs["pf"])), plan)
                except DeliveryError as exc:
                    out[key] = {"not_measured": f"delivery check failed: {exc}"}
                print(f"  messaging: Pub/Sub ({name}) done", file=sys.stderr, flush=True)
        finally:
            publisher.stop()
            os.environ.pop("PUBSUB_EMULATOR_HOST", None)
        return out


# -- Azurite (Storage Queue) ------------------------------------------------------------------------------------------

def _azure_counter(client: Any) -> Callable[[int], int]:
    def check(expected: int) -> int:
        count = int(client.get_queue_properties().approximate_message_count)
        client.clear_messages()
        return count

    return check


AZURITE_SEGMENT = 2500  # messages per side per Azurite instance; see bench_azurite


def bench_azurite(log_dir: Path, quick: bool) -> dict[str, Any]:
    """In segments of ``AZURITE_SEGMENT`` messages per side, each on a fresh Azurite: Azurite 3.35 (in-memory, as
    tests/standins.py runs it) stops answering for good, one CPU core spinning, after some 16,000–25,000 requests in
    one process (reproduced with nothing but ``send_message`` + ``clear_messages`` in a loop), which a race of
    10,000 messages a side (20,000 sends plus the counts) reaches."""
    import standins

    try:
        from azure.storage.queue import QueueClient, TextBase64EncodePolicy
    except ImportError as exc:
        return {"not_measured": f"azure-storage-queue missing in the benchmark venv: {exc}"}
    import portafunc
    from portafunc.messaging import reset

    total = 1000 if quick else 10000
    tally = Tally(Plan(total=total, block=50, chunk=10))
    result: dict[str, Any] = {}
    try:
        for start in range(0, total, AZURITE_SEGMENT):
            segment = Plan(total=min(AZURITE_SEGMENT, total - start), block=50, chunk=10)
            with standins.azurite(log_dir, "queue") as conn:
                admins = {}
                for n in ("raw", "pf"):
                    admins[n] = QueueClient.from_connection_string(conn, f"bench-{n}")
                    admins[n].create_queue()
                client = QueueClient.from_connection_string(conn, "bench-raw",
                                                            message_encode_policy=TextBase64EncodePolicy())
                os.environ["PORTAFUNC_AZQUEUE_CONNECTION"] = conn
                os.environ["PORTAFUNC_QUEUE_BENCH_AZ"] = "azqueue://devstoreaccount1/bench-pf"
                reset()  # a new Azurite, a new connection string: portafunc must build its client again
                queue = portafunc.queue("bench-az")

                def raw(batch: list[Any]) -> list[str]:
                    return [client.send_message(_body(m)).id for m in batch]  # noqa: B023 - used in this segment only

                result = race(Side(raw, _azure_counter(admins["raw"])),
                              Side(queue.send_batch, _azure_counter(admins["pf"])), segment, tally)
        result["segments"] = -(-total // AZURITE_SEGMENT)
        return result
    except DeliveryError as exc:
        return {"not_measured": f"delivery check failed: {exc}"}


# -- memory floor -------------------------------------------------------------------------------------------------------

def bench_memory(quick: bool) -> dict[str, Any]:
    os.environ["PORTAFUNC_QUEUE_BENCH_MEM"] = "memory://bench-mem"
    import portafunc

    queue = portafunc.queue("bench-mem")
    sink: collections.deque[bytes] = collections.deque()
    counted = {"raw": 0, "pf": 0}

    def raw(batch: list[Any]) -> None:
        for m in batch:
            sink.append(_body(m).encode("utf-8"))

    def count(who: str, now: Callable[[], int]) -> Callable[[int], int]:
        def check(expected: int) -> int:
            n = now()
            got, counted[who] = n - counted[who], n
            return got

        return check

    stats = queue.stats  # type: ignore[attr-defined]
    return race(Side(raw, count("raw", lambda: len(sink))), Side(queue.send_batch, count("pf", lambda: stats.sent)),
                Plan(total=20000 if quick else 100000, block=1000, chunk=10))


STANDINS: dict[str, str] = {
    "sqs": "SQS on moto server",
    "sqs_control": "noise control: raw boto3 vs raw boto3, SQS on moto server",
    "sns": "SNS on moto server",
    "pubsub": "Pub/Sub emulator (raw: PublisherClient.publish + futures)",
    "pubsub_gapic": "Pub/Sub emulator (raw: generated client's Publish of 100)",
    "azqueue": "Azure Storage Queue on Azurite",
    "memory": "memory:// (vs deque append)",
}


def run(quick: bool) -> dict[str, Any]:
    sys.path.insert(0, str(REPO / "tests"))  # tests/standins.py starts every stand-in
    log_dir = Path(tempfile.mkdtemp(prefix="pf-bench-messaging-"))
    backends: dict[str, Any] = {}
    saved_env = dict(os.environ)

    def guarded(keys: list[str], fn: Callable[[], dict[str, Any]]) -> None:
        try:
            got = fn()
        except Exception as exc:  # noqa: BLE001 - a stand-in that cannot run is reported, the others still run
            why = f"{type(exc).__name__}: {exc}"[:600]
            got = {k: {"not_measured": why} for k in keys} if len(keys) > 1 else {"not_measured": why}
        if len(keys) > 1:
            for k in keys:
                backends[STANDINS[k]] = got.get(k, {"not_measured": got.get("not_measured", "did not run")})
        else:
            backends[STANDINS[keys[0]]] = got
        print(f"  messaging: {', '.join(keys)} done", file=sys.stderr, flush=True)

    guarded(["sqs", "sqs_control", "sns"], lambda: bench_moto(log_dir, quick))
    guarded(["pubsub", "pubsub_gapic"], lambda: bench_pubsub(log_dir, quick))
    guarded(["azqueue"], lambda: bench_azurite(log_dir, quick))
    guarded(["memory"], lambda: bench_memory(quick))
    os.environ.clear()  # endpoints, bindings and credentials set above must not leak into a later suite
    os.environ.update(saved_env)
    from portafunc.messaging import reset

    reset()
    return {"backends": backends, "order": list(backends),
            "method": (__doc__ or "").split("\n\n", 1)[1].replace("``", "`").strip()}


if __name__ == "__main__":  # a quick look without run.py: python benchmarks/messaging_bench.py [--quick]
    print(json.dumps(run("--quick" in sys.argv), indent=1, default=str))
