"""Fuzz the three clouds' decoders and entry points with mutated real events; report crashes and hangs.

    python -m tests.reliability.fuzz --events 50000            # the long run (from the repository root)
    python -m tests.reliability.fuzz --events 3000 --seed 7    # a short one

Seeds are the real native samples in ``tests/fixtures/events/<cloud>/`` plus each target's own encoding of every
variant it declares. Each event is a seed mutated 1-4 times (keys dropped or duplicated in another case, values
replaced by random JSON or another type, strings cut or given a lone surrogate, huge strings and numbers, non-finite
numbers, Unicode digits, nesting 50 to 5,000 levels deep, subtrees swapped between seeds) and then sent one way:

* ``decode``: ``Target.decode`` — must return neutral events whose JSON form can be built, or raise EventDecodeError;
* ``invoke``: ``Target.invoke`` — the adapter's real entry point (the Lambda handler; the generated Azure
  ``function_app.py`` with ``azure.functions`` objects; the generated GCP ``main.py`` under functions-framework),
  for the function that takes the seed's kind of event (sometimes another one) — must answer natively or raise a
  typed portafunc error (PortafuncError).

A *crash* is any other exception: raised by ``decode``/``invoke``, raised inside the Azure runtime (the driver's
answer names its type), or escaping the GCP function into Flask (``got_request_exception``; an error functions-framework
raises before portafunc's entry runs is listed apart, as ``outside portafunc``). A *hang* is an event that takes longer
than ``--hang`` seconds (default 2). Crashes are grouped by exception type and innermost portafunc frame, and one input
per group is written to ``--out`` for replay. Exit status 1 when anything crashed or hung.
"""

from __future__ import annotations

import argparse
import base64
import copy
import json
import os
import random
import signal
import sys
import time
import traceback
from collections import Counter
from pathlib import Path
from typing import Any

TARGETS = ("aws", "azure", "gcp")
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "events"
HARD_LIMIT = 30.0  # seconds: past this an event is stopped (and counted as a hang) so the run goes on


class Hung(BaseException):
    """Raised by the alarm; a BaseException so that no ``except Exception`` on the way swallows it."""


# -- seeds -----------------------------------------------------------------------------------------------------------

def _neutral_samples() -> list[Any]:
    from datetime import datetime, timezone

    from portafunc.events import HttpRequest, Message, ScheduleEvent, StorageEvent

    when = datetime(2026, 3, 4, 5, 6, 7, tzinfo=timezone.utc)
    return [
        HttpRequest("POST", "/orders/7", query={"a": ["1", "2"]},
                    headers=[("Content-Type", "application/json"), ("Cookie", "s=1")], body=b'{"id": 7}'),
        HttpRequest("GET", "/orders/bin", body=b"\x00\xff\x10"),
        Message(id="m-1", data=b'{"id": 7}', attributes={"k": "v"}, ordering_key="g", delivery_attempt=2,
                published_at=when),
        Message(id="m-2", data=b"\x00\xffbinary", attributes={}),
        StorageEvent(bucket="uploads", key="a b/c+d.txt", size=12, etag="e"),
        ScheduleEvent(time=when),
    ]


def seeds(target: str) -> list[Any]:
    from portafunc.errors import EventDecodeError
    from portafunc.events import HttpRequest, Message, StorageEvent
    from portafunc.targets import get_target

    out = [json.loads(p.read_text(encoding="utf-8")) for p in sorted((FIXTURES / target).glob("*/*.json"))]
    tgt = get_target(target)
    for event in _neutral_samples():
        kind = "http" if isinstance(event, HttpRequest) else "message" if isinstance(event, Message) else \
            "storage" if isinstance(event, StorageEvent) else "schedule"
        for variant in tgt.variants(kind):
            try:
                native = tgt.encode(event, variant or None)
                out.append(json.loads(json.dumps(native)))
            except (EventDecodeError, TypeError, ValueError):
                continue  # not JSON (an SDK object): the fixtures cover that codec's JSON form
    return out


# -- mutations -------------------------------------------------------------------------------------------------------

ODD_TEXT = ["", "=", "%", "\x00", "\udcff", "é", "²", "١٢", "Infinity", "NaN", "-1", "0", "9" * 30, "null", "{",
            "\u202e", "a\r\nb: c", "../../etc/passwd", "A" * 300]
ODD_NUMBERS = [0, -1, 1.5, 2 ** 31, 2 ** 63, 2 ** 64 + 1, 10 ** 30, -(10 ** 30), 1e308, -1e308, float("inf"),
               float("-inf"), float("nan"), 5e-324, True, False]
HUGE = ["A" * 2_000_000, "9" * 5000, 10 ** 400, "%" * 10_000, "\udcff" * 1000]


def _paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if len(prefix) > 30:  # do not walk into nesting an earlier mutation made
        return found
    if isinstance(doc, dict):
        for key, value in doc.items():
            found += _paths(value, prefix + (key,))
    elif isinstance(doc, list):
        for index, value in enumerate(doc):
            found += _paths(value, prefix + (index,))
    return found


def _get(doc: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        doc = doc[part]
    return doc


def _set(doc: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    _get(doc, path[:-1])[path[-1]] = value
    return doc


def _random_json(rng: random.Random, depth: int = 0) -> Any:
    roll = rng.random()
    if depth > 3 or roll < 0.55:
        return rng.choice([None, True, False, rng.randint(-1000, 1000), rng.random() * 1e6, rng.choice(ODD_TEXT),
                           rng.choice(ODD_NUMBERS), "".join(chr(rng.randint(1, 0x2FFF)) for _ in range(rng.randint(0, 12)))])
    if roll < 0.8:
        return [_random_json(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    return {rng.choice(["id", "data", "body", "Records", "message", "type", "x", ""]) + str(rng.randint(0, 3)):
            _random_json(rng, depth + 1) for _ in range(rng.randint(0, 4))}


def _embedded_json(rng: random.Random, value: str) -> str | None:
    """A string holding JSON (an SQS body, an SNS Message, a push payload): mutate inside it sometimes."""
    if not value or value[:1] not in "{[":
        return None
    try:
        inner = json.loads(value)
        return json.dumps(mutate(rng, inner, [inner], rounds=1))
    except (ValueError, RecursionError):  # not JSON, or the mutation nested it past what json can write
        return None


def mutate(rng: random.Random, doc: Any, pool: list[Any], rounds: int | None = None) -> Any:
    doc = copy.deepcopy(doc)
    for _ in range(rounds or rng.randint(1, 4)):
        paths = _paths(doc)
        path = rng.choice(paths)
        value = _get(doc, path)
        op = rng.choice(["drop", "random", "retype", "truncate", "odd-text", "odd-number", "huge", "deep", "dup-case",
                         "swap", "embedded", "base64"])
        if op == "drop" and path:
            del _get(doc, path[:-1])[path[-1]]
        elif op == "random":
            doc = _set(doc, path, _random_json(rng))
        elif op == "retype":
            try:
                text = str(value)[:50]
            except (ValueError, RecursionError):
                text = "?"
            doc = _set(doc, path, rng.choice([None, 0, -1, 1.5, True, "", "x", [], {}, [value], {"value": value},
                                              text]))
        elif op == "truncate" and isinstance(value, str) and value:
            doc = _set(doc, path, value[:rng.randint(0, len(value) - 1)] + rng.choice(["", "=", "%", "\x00",
                                                                                       "\udcff", "é"]))
        elif op == "odd-text":
            doc = _set(doc, path, rng.choice(ODD_TEXT))
        elif op == "odd-number":
            doc = _set(doc, path, rng.choice(ODD_NUMBERS))
        elif op == "huge":
            doc = _set(doc, path, rng.choice(HUGE))
        elif op == "deep":
            depth = rng.choice([50, 200, 800, 5000])
            nested: Any = value if depth < 1000 else 0
            for _ in range(depth):
                nested = [nested] if depth % 3 else {"a": nested}
            doc = _set(doc, path, nested)
        elif op == "dup-case" and path and isinstance(path[-1], str):
            parent = _get(doc, path[:-1])
            key = path[-1]
            parent[key.upper() if key != key.upper() else key.lower()] = value
        elif op == "swap":
            other = rng.choice(pool)
            doc = _set(doc, path, copy.deepcopy(_get(other, rng.choice(_paths(other)))))
        elif op == "embedded" and isinstance(value, str):
            inner = _embedded_json(rng, value)
            if inner is not None:
                doc = _set(doc, path, inner)
        elif op == "base64" and isinstance(value, str):
            payload = rng.choice([b"[" * 5000 + b"]" * 5000, b"\xff\xfe\x00", b'{"id": "x"}', b"\x00" * 100,
                                  json.dumps({"Type": "Notification", "TopicArn": "t", "Message": "m"}).encode()])
            doc = _set(doc, path, base64.b64encode(payload).decode())
    return doc


# -- the app behind the entry points ------------------------------------------------------------------------------------

def fuzz_app() -> Any:
    from pydantic import BaseModel

    from portafunc import App
    from portafunc.events import HttpRequest, Message, ScheduleEvent, StorageEvent

    class Order(BaseModel):
        id: int

    app = App("fuzz")

    @app.http(["GET", "POST", "PUT", "DELETE"], "/orders/{id}")
    def order(req: HttpRequest) -> Any:
        return {"id": req.path_params.get("id"), "json": req.json() if req.body[:1] in (b"{", b"[") else None}

    @app.queue("work")
    def work(msg: Message[Order]) -> None:
        if msg.body.id < 0:
            raise ValueError("negative")

    @app.queue("raw")
    def raw(msg: Message) -> None:
        msg.json() if msg.data[:1] in (b"{", b"[") else msg.data.decode("ascii") if msg.data.isascii() else None

    @app.topic("events")
    def events(msg: Message) -> None:
        del msg

    @app.storage("uploads", events=["created", "deleted"])
    def uploads(evt: StorageEvent) -> None:
        del evt

    @app.schedule("rate(5 minutes)")
    def tick(evt: ScheduleEvent) -> None:
        del evt

    return app


FUNCTIONS = {"http": "order", "message": "raw", "storage": "uploads", "schedule": "tick"}


def _seed_functions(target: str, pool: list[Any]) -> list[list[str]]:
    """For each seed, the functions that take its kind of event (queue seeds go to the typed and untyped queue and
    the topic function)."""
    from portafunc.events import HttpRequest, Message, StorageEvent
    from portafunc.targets import get_target

    tgt = get_target(target)
    out = []
    for native in pool:
        try:
            event = tgt.decode(native)[0]
        except Exception:  # noqa: BLE001 - a seed that does not decode (e.g. a validation handshake)
            out.append(list(FUNCTIONS.values()))
            continue
        if isinstance(event, HttpRequest):
            out.append(["order"])
        elif isinstance(event, Message):
            out.append(["work", "raw", "events"])
        elif isinstance(event, StorageEvent):
            out.append(["uploads"])
        else:
            out.append(["tick"])
    return out


# -- crash detection -------------------------------------------------------------------------------------------------

class Report:
    def __init__(self, out: Path | None) -> None:
        self.counts: Counter[str] = Counter()
        self.outcomes: Counter[str] = Counter()
        self.crashes: dict[str, dict[str, Any]] = {}
        self.outside: dict[str, dict[str, Any]] = {}
        self.hangs: list[dict[str, Any]] = []
        self.slowest = (0.0, "")
        self.seconds = 0.0
        self.out = out

    def crash(self, where: str, exc: BaseException, native: Any, outside: bool = False,
              inner: str | None = None) -> None:
        frames = [f for f in traceback.extract_tb(exc.__traceback__)
                  if ("/portafunc/" in f.filename or "/portafunc_" in f.filename) and "/tests/" not in f.filename]
        if inner is None:
            inner = f"{frames[-1].filename.rsplit('/', 2)[-1]}:{frames[-1].lineno} {frames[-1].name}" if frames \
                else "?"
        key = f"{where} {type(exc).__name__} at {inner}"
        book = self.outside if outside else self.crashes
        entry = book.setdefault(key, {"count": 0, "message": _short(exc)})
        entry["count"] += 1
        if entry["count"] == 1 and self.out is not None:
            self.out.mkdir(parents=True, exist_ok=True)
            name = f"{len(self.crashes) + len(self.outside):03d}-{where.replace(' ', '-')}.json"
            try:
                (self.out / name).write_text(json.dumps(native, ensure_ascii=True)[:5_000_000], encoding="utf-8")
                entry["input"] = str(self.out / name)
            except (ValueError, RecursionError):
                entry["input"] = "(not serialisable)"


def _short(exc: BaseException) -> str:
    try:
        return str(exc)[:200]
    except Exception:  # noqa: BLE001
        return "(unprintable)"


def _gcp_crashes() -> list[BaseException]:
    """Exceptions that escape the GCP function into Flask (functions-framework turns them into a 500)."""
    import flask

    seen: list[BaseException] = []

    def record(sender: Any, exception: BaseException, **extra: Any) -> None:
        seen.append(exception)

    flask.got_request_exception.connect(record, weak=False)
    return seen


def _portafunc_frames(exc: BaseException) -> bool:
    return any(("/portafunc/" in f.filename or "/portafunc_" in f.filename)
               for f in traceback.extract_tb(exc.__traceback__))


TYPED_AZURE = ("MessageFailed:", "EventDecodeError:", "PortafuncError:")


def run_one(target: str, way: str, native: Any, function: str, app: Any, report: Report,
            gcp_seen: list[BaseException]) -> None:
    from portafunc.errors import EventDecodeError, PortafuncError
    from portafunc.targets import get_target

    tgt = get_target(target)
    key = f"{target} {way}"
    report.counts[key] += 1
    gcp_seen.clear()
    if way == "decode":
        try:
            events = tgt.decode(native)
            for event in events:
                event.to_dict()
            report.outcomes[f"{key}: decoded"] += 1
        except EventDecodeError:
            report.outcomes[f"{key}: EventDecodeError"] += 1
        except Exception as exc:  # noqa: BLE001 - the crash being looked for
            report.crash(key, exc, native)
        return
    try:
        answer = tgt.invoke(app, function, native)
    except PortafuncError as exc:
        report.outcomes[f"{key}: {type(exc).__name__}"] += 1
        return
    except Exception as exc:  # noqa: BLE001
        report.crash(key, exc, native)
        return
    for escaped in gcp_seen:
        report.crash(key, escaped, native, outside=not _portafunc_frames(escaped))
    answers = answer if isinstance(answer, list) else [answer]
    for item in answers:
        if target == "azure" and isinstance(item, dict) and item.get("result") == "raised":
            error = str(item.get("error", ""))
            if not error.startswith(TYPED_AZURE):
                report.crash(key, RuntimeError(error[:200]), native, inner="the Azure function")
                return
    report.outcomes[f"{key}: answered"] += 1


def fuzz(events: int, seed: int, hang: float, out: Path | None, progress: bool = True) -> Report:
    os.environ.setdefault("PORTAFUNC_LOG_LEVEL", "ERROR")
    os.environ.setdefault("PORTAFUNC_DEFAULT_BINDING", "memory://")
    rng = random.Random(seed)
    app = fuzz_app()
    report = Report(out)
    pools = {t: seeds(t) for t in TARGETS}
    functions = {t: _seed_functions(t, pools[t]) for t in TARGETS}
    gcp_seen = _gcp_crashes()

    def on_alarm(signum: int, frame: Any) -> None:
        raise Hung()

    previous = signal.signal(signal.SIGALRM, on_alarm)
    started = time.perf_counter()
    stderr = sys.stderr
    sink = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115 - the app's and runtimes' log lines, not needed
    try:
        for n in range(events):
            target = TARGETS[n % 3]
            index = rng.randrange(len(pools[target]))
            native = mutate(rng, pools[target][index], pools[target])
            way = "decode" if rng.random() < 0.5 else "invoke"
            choices = functions[target][index]
            function = rng.choice(choices) if rng.random() < 0.9 else rng.choice(list(FUNCTIONS.values()) + ["work"])
            t0 = time.perf_counter()
            signal.setitimer(signal.ITIMER_REAL, HARD_LIMIT)
            sys.stderr = sink
            try:
                run_one(target, way, native, function, app, report, gcp_seen)
            except Hung:
                pass
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
                sys.stderr = stderr
            took = time.perf_counter() - t0
            if took > report.slowest[0]:
                report.slowest = (took, f"{target} {way} {function}")
            if took > hang:
                report.hangs.append({"event": n, "where": f"{target} {way}", "function": function,
                                     "seconds": round(took, 2)})
            if progress and (n + 1) % 5000 == 0:
                print(f"  {n + 1} events, {time.perf_counter() - started:.0f} s, crashes {len(report.crashes)}, "
                      f"hangs {len(report.hangs)}", file=sys.stderr, flush=True)
    finally:
        signal.signal(signal.SIGALRM, previous)
        sink.close()
    report.seconds = time.perf_counter() - started
    return report


def summary(report: Report, events: int, seed: int, hang: float) -> str:
    lines = [f"fuzzed {events} events (seed {seed}) in {report.seconds:.0f} s; "
             f"slowest {report.slowest[0] * 1000:.0f} ms ({report.slowest[1]})"]
    for key in sorted(report.counts):
        detail = ", ".join(f"{k.split(': ', 1)[1]} {v}" for k, v in sorted(report.outcomes.items())
                           if k.startswith(key + ":"))
        lines.append(f"  {key}: {report.counts[key]} ({detail})")
    lines.append(f"crashes: {sum(c['count'] for c in report.crashes.values())} in {len(report.crashes)} place(s)")
    for key, entry in sorted(report.crashes.items()):
        lines.append(f"  {entry['count']:5d}  {key}: {entry['message']}  [{entry.get('input', '')}]")
    if report.outside:
        lines.append(f"errors outside portafunc (raised before its entry runs): "
                     f"{sum(c['count'] for c in report.outside.values())}")
        for key, entry in sorted(report.outside.items()):
            lines.append(f"  {entry['count']:5d}  {key}: {entry['message']}")
    lines.append(f"hangs over {hang:g} s: {len(report.hangs)}")
    for item in report.hangs[:20]:
        lines.append(f"  {item}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.reliability.fuzz", description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=50_000, help="how many mutated events (default 50000)")
    parser.add_argument("--seed", type=int, default=2026, help="random seed: a run is reproducible")
    parser.add_argument("--hang", type=float, default=2.0, help="seconds after which an event counts as a hang")
    parser.add_argument("--out", type=Path, default=None, help="directory for one input per crash group")
    args = parser.parse_args(argv)
    report = fuzz(args.events, args.seed, args.hang, args.out)
    print(summary(report, args.events, args.seed, args.hang))
    return 1 if report.crashes or report.hangs else 0


if __name__ == "__main__":
    sys.exit(main())
