"""The pull worker: consumes queue functions where the platform does not push (an Azure Storage Queue behind a
KEDA scaler on Container Apps, an SQS queue), through the same ``portafunc.queue`` backends handlers send with.

Semantics match the function targets: a batch of up to ``batch_size`` runs through the pipeline; only the messages
that failed are made visible again (``nack`` with a growing delay); a message failing on its ``max_attempts``-th
delivery is moved to the function's dead letter (``dead_letter=`` or ``PORTAFUNC_DEADLETTER_<FUNC>``) with the
reason in its attributes, as a broker's redrive would; a non-retryable failure is dead-lettered at once by the
pipeline. A queue function with no dead-letter destination is refused at start: a message could otherwise only be
retried forever or lost. ``--fire FUNCTION`` runs a schedule function once (a scheduled job on Container Apps).

    python -m portafunc_container.worker [--app MODULE:ATTR] [--function NAME ...] [--once]
    python -m portafunc_container.worker --fire NAME
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from datetime import datetime, timezone
from typing import Any, Callable, Sequence

from portafunc import logs
from portafunc.app import App, FunctionSpec, QueueTrigger, ScheduleTrigger
from portafunc.events import Message, ScheduleEvent
from portafunc.invoke import dead_letter_destination, invoke_batch, invoke_event
from portafunc.messaging.base import ReceivedMessage

from . import outcome
from .runtime import TARGET

MAX_RETRY_DELAY = 300.0


def backoff(attempt: int) -> float:
    """Seconds before a failed message is visible again: 2, 4, 8 ... up to five minutes."""
    return min(MAX_RETRY_DELAY, 2.0 ** attempt)


class Consumer:
    """One queue function and the queue it pulls from."""

    def __init__(self, spec: FunctionSpec, queue: Any = None, *, require_dead_letter: bool = True,
                 retry_delay: Callable[[int], float] | None = None) -> None:
        if not isinstance(spec.trigger, QueueTrigger):
            raise ValueError(f"function {spec.name!r} is not a queue function")
        self.spec = spec
        self.trigger: QueueTrigger = spec.trigger
        self.retry_delay = retry_delay or backoff
        self.dead_letter = dead_letter_destination(spec)
        if self.dead_letter is None and require_dead_letter:
            from portafunc.messaging.binding import env_name

            raise ValueError(f"queue function {spec.name!r} has no dead-letter destination: set dead_letter= on "
                             f"its decorator or {env_name('DEADLETTER', spec.name)}, so a message that fails "
                             f"{self.trigger.max_attempts} times is kept, not retried forever")
        if queue is None:
            import portafunc

            queue = portafunc.queue(self.trigger.queue)
        self.queue = queue

    def poll(self, wait: float = 20.0) -> dict[str, list[str]]:
        """Receive one batch (long-polling up to ``wait`` seconds) and settle every message of it."""
        return self.process(list(self.queue.receive(self.trigger.batch_size, wait)))

    def process(self, messages: Sequence[ReceivedMessage]) -> dict[str, list[str]]:
        """Run a received batch; ack, retry or dead-letter each message. Returns the ids per action."""
        done: dict[str, list[str]] = {outcome.ACK: [], outcome.RETRY: [], outcome.DEAD_LETTER: []}
        if not messages:
            return done
        # the handler gets a Message, as on every target; the received one (with its receipt) is settled here
        plain = [Message(m.id, m.data, m.attributes, m.ordering_key, m.delivery_attempt, m.published_at, m.source,
                         native=m.native) for m in messages]
        results = invoke_batch(self.spec, plain, target=TARGET).results
        for msg, result in zip(messages, results, strict=True):
            action = outcome.pull_action(result, msg.delivery_attempt, self.trigger.max_attempts)
            if action == outcome.DEAD_LETTER and not (self.dead_letter and outcome.move_to_dead_letter(
                    self.spec.name, self.dead_letter, msg, result.error or result.outcome.value)):
                action = outcome.RETRY
            if action == outcome.RETRY:
                self.queue.nack(msg, delay=self.retry_delay(msg.delivery_attempt))
            else:
                self.queue.ack(msg)
            done[action].append(msg.id)
        return done


def consumers(app: App, names: Sequence[str] | None = None) -> list[Consumer]:
    specs = [app.function(n) for n in names] if names else \
        [s for s in app if isinstance(s.trigger, QueueTrigger)]
    return [Consumer(spec) for spec in specs]


def fire(app: App, function: str, when: datetime | None = None) -> int:
    """Run a schedule function once (exit code 0 on success, 1 when it failed)."""
    spec = app.function(function)
    if not isinstance(spec.trigger, ScheduleTrigger):
        raise ValueError(f"function {function!r} is not a schedule function")
    tick = (when or datetime.now(timezone.utc)).replace(second=0, microsecond=0)
    result = invoke_event(spec, ScheduleEvent(time=tick), target=TARGET)
    return 1 if result.must_redeliver else 0


def run(pool: list[Consumer], stop: threading.Event, *, once: bool = False, wait: float = 20.0) -> None:
    while not stop.is_set():
        for consumer in pool:
            try:
                consumer.poll(0.0 if once else wait / max(1, len(pool)))
            except Exception as exc:  # noqa: BLE001 - a broker hiccup must not stop the worker
                logs.error("receiving failed; trying again", function=consumer.spec.name, error=repr(exc)[:300])
                stop.wait(1.0)
        if once:
            return


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="portafunc-container-worker", description=__doc__.split("\n\n")[0])
    parser.add_argument("--app", help="MODULE:ATTR of the App (default: PORTAFUNC_APP)")
    parser.add_argument("--function", action="append", help="a queue function to consume (default: all)")
    parser.add_argument("--once", action="store_true", help="receive one batch per function and exit")
    parser.add_argument("--fire", metavar="FUNCTION", help="run a schedule function once and exit")
    args = parser.parse_args(argv)
    import os

    from portafunc.loader import load_deployed_app

    app, _, _ = load_deployed_app(args.app or os.environ.get("PORTAFUNC_APP") or None)
    if args.fire:
        return fire(app, args.fire)
    try:
        pool = consumers(app, args.function)
    except ValueError as exc:
        print(f"portafunc-container-worker: {exc}", file=sys.stderr)
        return 2
    if not pool:
        print("portafunc-container-worker: the app has no queue function", file=sys.stderr)
        return 2
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    run(pool, stop, once=args.once)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
