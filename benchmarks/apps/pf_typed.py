"""portafunc message app, typed: the queue payload is validated as a pydantic model (Message[Order])."""

from pydantic import BaseModel

from portafunc import App, Message

app = App("bench-typed")
SEEN = [0.0]


class Order(BaseModel):
    id: str
    total: float


@app.queue("work", name="work")
def work(msg: Message[Order]) -> None:
    SEEN[0] += msg.body.total
