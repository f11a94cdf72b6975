"""An app whose functions print from several threads at once while the runner writes its own lines, and one that
leaves a line without its newline."""

import logging
import threading

from portafunc import App, ScheduleEvent
from portafunc.runner.console import say

app = App("chatty")
THREADS, LINES = 4, 1000
PAD = "x" * 60


@app.schedule("rate(1 day)")
def chatter(evt: ScheduleEvent) -> None:
    def printer(n: int) -> None:
        for i in range(LINES):
            print(f"print {n} {i}", PAD)  # several writes: the words, the separator, the newline

    def runner_lines() -> None:
        for i in range(LINES):
            say(f"say {i} {PAD}")
            logging.getLogger("chatty").info("logged %d %s", i, PAD)

    threads = [threading.Thread(target=printer, args=(n,)) for n in range(THREADS)]
    threads.append(threading.Thread(target=runner_lines))
    for t in threads:
        t.start()
    for t in threads:
        t.join()


@app.schedule("rate(1 day)")
def unfinished(evt: ScheduleEvent) -> None:
    print("no newline here", end="")
