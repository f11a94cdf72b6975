"""The shop's order API: a router of HTTP functions that main.py includes in the app.

It shows the web-API side of portafunc: a typed query parameter (``limit``), a JSON body validated into ``Order``, a
response model (``-> list[Order]``), router tags for the OpenAPI document, and one route that only signed-in users may
call (a bearer JWT verified by the function; on AWS the HTTP API's JWT authorizer checks it first).
"""

from __future__ import annotations

import os
from typing import Annotated

import portafunc
from portafunc import HttpRequest, HttpResponse, JwtAuth, Query, Router
from pydantic import BaseModel, Field


class Order(BaseModel):
    id: str
    total: float


# What the functions reach, made once per instance and bound on each call: orders by ``SHOP/ID``
# (``PORTAFUNC_KV_ORDERS``: DynamoDB, Azure Table, Firestore, or memory:// locally), the fulfilment queue and the
# order-events topic.
orders = portafunc.kv("orders", model=Order)
fulfilment = portafunc.queue("orders")
order_events = portafunc.topic("order-events")

# Signed-in users of the shop's identity provider: its issuer URL (a Cognito user pool, Entra ID, Google Identity
# Platform, Auth0, ...) and the audience its tokens carry for this API, set per stage in portafunc.toml's env.
signed_in = JwtAuth(issuer=os.environ.get("SHOP_ISSUER", "https://login.shop.example/"),
                    audience=os.environ.get("SHOP_AUDIENCE", "api://shop"))

api = Router(tags=["orders"])


@api.http("POST", "/orders/{shop}", uses=[fulfilment, order_events, orders])
def create_order(req: HttpRequest, order: Order) -> HttpResponse:
    """Place an order.

    Keeps the order, hands it to the fulfilment queue and announces it on the order-events topic."""
    orders.put(f"{req.path_params['shop']}/{order.id}", order)
    fulfilment.send(order, attributes={"shop": req.path_params["shop"]})
    order_events.publish({"id": order.id}, attributes={"kind": "created"})
    return HttpResponse.json({"shop": req.path_params["shop"], "id": order.id}, status=201)


@api.http("GET", "/orders/{shop}", uses=[portafunc.reads(kv="orders")])
def list_orders(shop: str, limit: Annotated[int, Field(ge=1, le=100),
                                            Query(description="At most this many orders, 1-100")] = 20
                ) -> list[Order]:
    """List a shop's orders, by id."""
    return [orders.get(key) for key in sorted(orders.keys(prefix=f"{shop}/"))[:limit]]


@api.http(["GET", "HEAD"], "/orders/{shop}/{order_id}")
def get_order(req: HttpRequest) -> HttpResponse:
    """Look up an order."""
    return HttpResponse.json({"shop": req.path_params["shop"], "id": req.path_params["order_id"]})


@api.http("DELETE", "/orders/{shop}/{order_id}", auth=signed_in, uses=[portafunc.writes(kv="orders")])
def cancel_order(req: HttpRequest) -> None:
    """Cancel an order (signed-in users only)."""
    assert req.principal is not None  # the function runs only for a verified token
    orders.delete(f"{req.path_params['shop']}/{req.path_params['order_id']}")
    print(f"order {req.path_params['shop']}/{req.path_params['order_id']} cancelled by {req.principal['sub']}")
