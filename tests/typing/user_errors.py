"""Mistakes a type checker must catch in a user's app: each line marked ``# error`` must be reported, no other.

Never imported by the tests: tests/typing/test_typing.py hands it to mypy and pyright and compares the lines.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel

import portafunc
from portafunc import App, Header, HttpError, HttpRequest, HttpResponse, Message

app = App("typed")


class Order(BaseModel):
    id: str
    total: float


@app.queue("orders")
def fulfil(msg: Message[Order]) -> None:
    print(msg.body.totl)  # error: a misspelt field of the model
    label: str = msg.body.total  # error: total is a float
    print(label)


@app.http("GET", "/orders/{id}")
def get_order(req: HttpRequest) -> HttpResponse:
    resp = HttpResponse.json({"id": req.path_params["id"]})
    return resp.set_cookie("seen", "1", max_age="1h")  # error: max_age is seconds, an int


fulfil("not a message")  # error: the decorated handler still takes a Message[Order]
count: int = get_order(HttpRequest("GET", "/orders/1"))  # error: and still returns an HttpResponse
app.queue("orders", batch_size="10")  # error: decorator parameters are typed
app.http("POST", "/o", content_types="application/json", cors="*")  # error: cors is a Cors, not a string
app.http("POST", "/p", content_types=["application/json", 415])  # error: media types are strings


@app.http("GET", "/tenants")
def tenant(req: HttpRequest, x_tenant: Annotated[str, Header(alias="X-Tenant-Id")]) -> str:
    return req.form().get("name", 0) or x_tenant  # error: a form field's default is a str


app.http("GET", "/links", responses={"404": "no such link"})  # error: responses are keyed by int statuses
HttpError("404", "no such link")  # error: the status is an int
HttpError(503, "busy", headers={"Retry-After": 5})  # error: header values are str
app.queue(portafunc.bucket("b"))  # error: a queue trigger takes a queue's name or handle
