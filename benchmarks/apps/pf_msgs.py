"""portafunc message app, untyped: a work queue and a topic subscriber that parse the JSON payload."""

from portafunc import App, Message

app = App("bench-msgs")
SEEN = [0.0]


@app.queue("work", name="work")
def work(msg: Message) -> None:
    SEEN[0] += msg.json()["total"]


@app.topic("events", name="on_event")
def on_event(msg: Message) -> None:
    msg.json()
