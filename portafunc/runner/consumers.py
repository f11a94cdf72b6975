"""Queue and topic consumers: one worker thread per function, pulling from the in-memory broker.

The broker holds the delivery rules (visibility, receive counts, dead-lettering after ``max_attempts`` receives); the
worker does what a cloud's poller does around the function: receive a batch, run it through the pipeline, ack the
successes, nack the failures with a growing delay, so retries and dead letters behave as on the clouds.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass

from ..app import FunctionSpec, QueueTrigger, TopicTrigger
from ..invoke import Outcome, invoke_batch
from ..messaging.base import ReceivedMessage
from ..messaging.memory import MemoryQueue, broker
from .bindings import Binding
from .console import InFlight, invocation_line, say

RETRY_BASE = float(os.environ.get("PORTAFUNC_RUN_RETRY_DELAY", "1"))  # seconds before the 1st redelivery
RETRY_CAP = 60.0


def backoff(attempt: int, base: float = RETRY_BASE) -> float:
    """Delay before redelivering a message whose ``attempt``-th delivery failed: base, 2·base, 4·base … ≤ 60 s."""
    return min(RETRY_CAP, base * (2 ** max(0, attempt - 1)))


@dataclass
class Consumer:
    spec: FunctionSpec
    queue: MemoryQueue
    source: str  # "queue orders" / "topic order-events"
    batch_size: int
    max_attempts: int


def consumers_for(specs: list[FunctionSpec], bindings: dict[tuple[str, str], Binding]) -> tuple[
        list[Consumer], list[str]]:
    """Build a consumer per queue/topic function bound to memory://; explain the ones that are bound elsewhere."""
    out: list[Consumer] = []
    notes: list[str] = []
    b = broker()
    for spec in specs:
        trig = spec.trigger
        if isinstance(trig, QueueTrigger):
            binding = bindings[("queue", trig.queue)]
            if not binding.is_memory:
                notes.append(f"{spec.name}: queue {trig.queue!r} is bound to {binding.url} by {binding.variable}; "
                             "not consumed locally (unset it to run this function here)")
                continue
            q = b.queue(binding.resource)
            if q.max_attempts is None:
                q.max_attempts = trig.max_attempts
            out.append(Consumer(spec, q, f"queue {trig.queue}", trig.batch_size, q.max_attempts))
        elif isinstance(trig, TopicTrigger):
            binding = bindings[("topic", trig.topic)]
            if not binding.is_memory:
                notes.append(f"{spec.name}: topic {trig.topic!r} is bound to {binding.url} by {binding.variable}; "
                             "not consumed locally (unset it to run this function here)")
                continue
            q = b.subscribe(binding.resource, f"{trig.topic}.{spec.name}")
            q.max_attempts = trig.max_attempts
            out.append(Consumer(spec, q, f"topic {trig.topic}", 10, trig.max_attempts))
    return out, notes


class ConsumerWorker(threading.Thread):
    def __init__(self, consumer: Consumer, in_flight: InFlight, stop: threading.Event) -> None:
        super().__init__(name=f"portafunc-{consumer.spec.name}", daemon=True)
        self.consumer = consumer
        self.in_flight = in_flight
        self.stop = stop

    def run(self) -> None:
        c = self.consumer
        while not self.stop.is_set():
            dead_before = c.queue.stats.dead_lettered
            messages = c.queue.receive(c.batch_size, wait=0.2)
            if c.queue.stats.dead_lettered > dead_before:
                dlq = broker().dead_letter_queue(c.queue)
                say(f"  DEAD-LETTER {c.queue.stats.dead_lettered - dead_before} message(s) of {c.source} moved to "
                    f"memory queue {dlq.name!r} after {c.max_attempts} failed deliveries "
                    f"({len(dlq)} message(s) there now)")
            if not messages:
                continue
            if self.stop.is_set():  # stopping: hand them straight back, uncounted as failures
                for msg in messages:
                    c.queue.nack(msg)
                break
            self._run_batch(messages)

    def _run_batch(self, messages: list[ReceivedMessage]) -> None:
        c = self.consumer
        name = c.spec.name
        self.in_flight.begin(name, len(messages))
        started = time.perf_counter()
        try:
            batch = invoke_batch(c.spec, messages, target="local")
        finally:
            self.in_flight.end(name, len(messages))
        elapsed = time.perf_counter() - started
        counts: dict[str, int] = {}
        details: list[str] = []
        for msg, result in zip(messages, batch.results, strict=True):
            counts[result.outcome.value] = counts.get(result.outcome.value, 0) + 1
            attempt = msg.delivery_attempt
            if not result.must_redeliver:
                c.queue.ack(msg)
                if result.outcome is Outcome.DEAD_LETTERED:
                    details.append(f"  {msg.id} attempt {attempt}: non-retryable, sent to the function's "
                                   f"dead-letter destination ({result.error})")
                continue
            why = result.error or result.outcome.value
            if attempt >= c.max_attempts:
                c.queue.nack(msg, 0)  # the broker dead-letters it on its next receive
                details.append(f"  {msg.id} attempt {attempt}/{c.max_attempts} failed ({why}); max attempts "
                               "reached: going to the dead-letter queue")
            else:
                delay = backoff(attempt)
                c.queue.nack(msg, delay)
                details.append(f"  {msg.id} attempt {attempt}/{c.max_attempts} {result.outcome.value} ({why}); "
                               f"redelivery in {delay:g}s")
        if len(messages) == 1:
            outcome = f"{batch.results[0].outcome.value} (message {messages[0].id}, attempt " \
                      f"{messages[0].delivery_attempt})"
        else:
            outcome = f"{len(messages)} messages: " + ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))
        invocation_line(c.source, name, outcome, elapsed)
        for line in details:
            say(line)


def queued_summary(consumers: list[Consumer], bindings: list[Binding]) -> list[str]:
    """``orders: 3 queued (1 in flight)`` for every memory queue that still holds messages."""
    b = broker()
    seen: dict[str, MemoryQueue] = {}
    for c in consumers:
        seen[c.queue.name] = c.queue
    for binding in bindings:
        if binding.is_memory and binding.kind == "queue":
            seen.setdefault(binding.resource, b.queue(binding.resource))
    for q in list(seen.values()):
        dlq_name = q.dead_letter or f"{q.name}-dead-letter"
        if dlq_name in b._queues:  # noqa: SLF001 - only report dead-letter queues that exist
            seen.setdefault(dlq_name, b.queue(dlq_name))
    lines = []
    for name, q in sorted(seen.items()):
        if len(q):
            lines.append(f"{name}: {len(q)} message(s) queued ({q.in_flight()} in flight)")
    return lines
