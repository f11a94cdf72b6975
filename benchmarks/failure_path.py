"""CPU cost of the message failure path: a retried message (traceback formatted and scrubbed) and a rejected one
(payload validation failed; the rejection is logged), per failing message, and the scrubber alone on a traceback.

    .venv/bin/python benchmarks/failure_path.py

Process CPU time (``time.process_time``), best of 5, so that other jobs on a shared machine weigh less on it. Log lines
go to an in-memory stream.
"""

from __future__ import annotations

import io
import sys
import time
import timeit
import traceback

from pydantic import BaseModel

from portafunc import App, logs
from portafunc.events import Message
from portafunc.invoke import invoke_batch


class Order(BaseModel):
    id: int


app = App("failure-path")


@app.queue("retry")
def retry(msg: Message) -> None:
    raise ConnectionError("downstream at postgres://svc:pw@db:5432/x unavailable")


@app.queue("typed")
def typed(msg: Message[Order]) -> None:
    pass


N = 50
BATCH = [Message(id=f"m{i}", data=b'{"id": "x", "card": "4111111111111111", "note": "' + b"n" * 200 + b'"}')
         for i in range(N)]


def run(function: str) -> None:
    for msg in BATCH:
        msg._has_body = False
    invoke_batch(app.function(function), BATCH)


def main() -> None:
    real, sink = sys.stderr, io.StringIO()
    sys.stderr = sink
    try:
        lines = []
        for function, what in (("retry", "retried message (handler raised)"),
                               ("typed", "rejected message (validation failed)")):
            def once(name: str = function) -> None:
                sink.seek(0)
                sink.truncate()
                run(name)

            once()
            best = min(timeit.repeat(once, number=20, repeat=5, timer=time.process_time))
            lines.append(f"{what}: {best / 20 / N * 1e6:.1f} us per failing message")

        def fail(n: int) -> None:
            if n == 0:
                raise ConnectionError("downstream at postgres://svc:pw@db:5432/x unavailable")
            fail(n - 1)

        text = ""
        try:
            fail(3)
        except ConnectionError as exc:
            text = "".join(traceback.format_exception(exc))
        best = min(timeit.repeat(lambda: logs.scrub_text(text), number=2000, repeat=5, timer=time.process_time))
        lines.append(f"scrub_text of a {len(text)}-character traceback: {best / 2000 * 1e6:.1f} us")
    finally:
        sys.stderr = real
    print("\n".join(lines))


if __name__ == "__main__":
    main()
