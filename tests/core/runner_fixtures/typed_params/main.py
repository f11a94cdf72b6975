"""An app with typed parameters, a response model and a form route, served by ``portafunc run`` in
tests/core/test_runner_typed_params.py."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel

from portafunc import App, Header, HttpRequest

app = App("typed-params")


class Order(BaseModel):
    id: str
    total: float


@app.http("GET", "/orders/{number}")
def get_order(number: int, limit: int = 10, x_tenant: Annotated[str, Header()] = "public") -> dict[str, Any]:
    return {"number": number, "limit": limit, "tenant": x_tenant}


@app.http("POST", "/orders")
def create(order: Order) -> Order:
    return order


@app.http("POST", "/upload")
def upload(req: HttpRequest) -> dict[str, Any]:
    form = req.form()
    doc = form.file("doc")
    return {"title": form.get("title"), "size": doc.size if doc else None}
