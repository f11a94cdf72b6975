"""An app whose handlers log through the standard library, with and without structured fields."""

import logging

import portafunc
from portafunc import App, HttpRequest, Message

app = App("logs")
log = logging.getLogger("shop.orders")


@app.http("POST", "/pay", uses=[portafunc.sends("receipts")])
def pay(req: HttpRequest) -> dict:
    log.info("paid", extra={"order": 42, "password": "hunter2"})
    portafunc.queue("receipts").send({"order": 42})
    return {"ok": True}


@app.queue("receipts")
def receipt(msg: Message) -> None:
    portafunc.get_logger("shop.receipts").info("receipt for %s sent", msg.json()["order"])
