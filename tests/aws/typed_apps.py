"""The typed order route the HTTP API lane, request plan and typed lane tests share: path, query and header parameters
and a response model, the usual typed route, with answers chosen by the id (a failure, a result failing the model, a
status, a response, a result with a field the model drops)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, Field

from portafunc import App, Header, HttpResponse


class OrderView(BaseModel):
    id: int
    limit: int
    tenant: str


def get_order(id: int, limit: Annotated[int, Field(ge=1, le=100)] = 10,
              x_tenant: Annotated[str, Header()] = "public") -> OrderView:
    if id == 500:
        raise RuntimeError("boom")
    if id == 400:
        return {"id": "x", "limit": limit, "tenant": x_tenant}  # type: ignore[return-value]  # fails the model
    if id == 201:
        return OrderView(id=id, limit=limit, tenant=x_tenant), 201  # type: ignore[return-value]
    if id == 418:
        return HttpResponse.text("teapot", status=418)  # type: ignore[return-value]
    if id == 202:
        return {"id": id, "limit": limit, "tenant": x_tenant, "extra": 1}  # type: ignore[return-value]
    return OrderView(id=id, limit=limit, tenant=x_tenant)


def passthrough(event: Any, call_next: Any) -> Any:
    return call_next(event)


def order_app(name: str, middleware: bool) -> App:
    """An app with ``GET /orders/{id}`` (:func:`get_order`), wrapped in a pass-through middleware or not."""
    app = App(name)
    if middleware:
        app.middleware(passthrough)
    app.http("GET", "/orders/{id}")(get_order)
    return app
