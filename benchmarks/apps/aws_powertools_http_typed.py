"""Powertools for AWS Lambda: APIGatewayHttpResolver with data validation on (``enable_validation=True``): typed
path, query and header parameters, a response model and a pass-through middleware, like pf_http_typed.app."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from aws_lambda_powertools.event_handler.openapi.params import Header, Path, Query
from pydantic import BaseModel

app = APIGatewayHttpResolver(enable_validation=True)


class OrderView(BaseModel):
    id: int
    limit: int
    tenant: str


def passthrough(app, next_middleware):  # noqa: ANN001, ANN201
    return next_middleware(app)


app.use(middlewares=[passthrough])


@app.get("/orders/<id>")
def get_order(id: Annotated[int, Path()], limit: Annotated[int, Query(ge=1, le=100)] = 10,
              x_tenant: Annotated[str, Header()] = "public") -> OrderView:
    return OrderView(id=id, limit=limit, tenant=x_tenant)


def handler(event, context):  # noqa: ANN001, ANN201
    return app.resolve(event, context)
