"""portafunc HTTP app with the web-API features in use: typed path, query and header parameters validated by
pydantic, a response model, and a pass-through middleware (``app``); beside it the same route read by hand, with no
middleware (``bare``)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field

from portafunc import App, Header, HttpRequest

app = App("bench-http-typed")


class OrderView(BaseModel):
    id: int
    limit: int
    tenant: str


@app.middleware
def passthrough(event, call_next):  # noqa: ANN001, ANN201 - the cheapest middleware: what every one costs at least
    return call_next(event)


@app.http("GET", "/orders/{id}")
def get_order(id: int, limit: Annotated[int, Field(ge=1, le=100)] = 10,
              x_tenant: Annotated[str, Header()] = "public") -> OrderView:
    return OrderView(id=id, limit=limit, tenant=x_tenant)


bare = App("bench-http-bare")


@bare.http("GET", "/orders/{id}")
def get_order_by_hand(req: HttpRequest) -> dict:
    return {"id": int(req.path_params["id"]), "limit": int(req.query_one("limit") or 10),
            "tenant": req.headers.get("x-tenant") or "public"}
