"""The container target's deployment tests package this app: every kind of resource a Cloud Run binding points at.

An upload of a CSV to bucket ``inbox`` is indexed in key-value table ``files`` and each row is sent to queue ``rows``;
the queue's consumer (``dead_letter="rows-failed"``) publishes to topic ``row-events``, whose consumer declares no
dead letter and is idempotent; a nightly job archives the index into bucket ``archive``; one HTTP route reads it.
"""

from __future__ import annotations

import json

import portafunc
from portafunc import App, HttpRequest, Message, ScheduleEvent, StorageEvent

app = App("ledger")
inbox = portafunc.bucket("inbox")
archive = portafunc.bucket("archive")
files = portafunc.kv("files")
rows = portafunc.queue("rows")
row_events = portafunc.topic("row-events")


@app.http("GET", "/files/{name}", uses=[portafunc.reads(kv="files")])
def get_file(req: HttpRequest) -> dict:
    return {"name": req.path_params["name"], "rows": files.get(req.path_params["name"])}


@app.storage(inbox, events=["created", "deleted"], suffix=".csv", uses=[files, rows])
def on_csv(evt: StorageEvent) -> None:
    lines = evt.read().decode().splitlines()
    for line in lines:
        rows.send({"file": evt.key, "line": line})
    files.put(evt.key, len(lines))


@app.queue(rows, max_attempts=3, dead_letter="rows-failed", uses=[row_events])
def handle_row(msg: Message) -> None:
    row_events.publish(msg.json())


@app.topic(row_events, idempotency_key="id")
def count_stock(msg: Message) -> None:
    print(msg.json())


@app.schedule(cron="0 2 * * *", uses=[files, archive])
def nightly(evt: ScheduleEvent) -> None:
    archive.put(f"{evt.time:%Y-%m-%d}.json", json.dumps({k: files.get(k) for k in files.keys()}).encode())
