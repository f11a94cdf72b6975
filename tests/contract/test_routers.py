"""Routers through every target's real entry point: a Router's functions, included with a prefix, are served and
delivered exactly as the app's own (HTTP under the prefix; queue, topic, schedule and storage unchanged)."""

from __future__ import annotations

import pytest

from portafunc import App, Cors, HttpRequest, Message, RegistrationError, Router, ScheduleEvent, StorageEvent


def orders_router(seen: list[str]) -> Router:
    orders = Router()

    @orders.http("GET", "/orders/{id}")
    def get_order(req: HttpRequest) -> dict:
        return {"id": req.path_params["id"]}

    @orders.http("GET", "/")
    def index(req: HttpRequest) -> str:
        return "orders"

    @orders.queue("orders")
    def fulfil(msg: Message) -> None:
        seen.append(f"queue {msg.json()['id']}")

    @orders.topic("order-events")
    def audit(msg: Message) -> None:
        seen.append(f"topic {msg.json()['id']}")

    @orders.schedule("rate(5 minutes)")
    def sweep(evt: ScheduleEvent) -> None:
        seen.append("schedule")

    @orders.storage("uploads")
    def on_upload(evt: StorageEvent) -> None:
        seen.append(f"storage {evt.key}")

    return orders


def shop(seen: list[str]) -> App:
    app = App("routed")

    @app.http("GET", "/health")
    def health(req: HttpRequest) -> str:
        return "ok"

    app.include_router(orders_router(seen), prefix="/v1")
    return app


def test_router_http_routes_are_served_under_the_prefix(cloud) -> None:
    app = shop([])
    resp = cloud.http(app, "GET", "/v1/orders/o-1")
    assert resp.status == 200 and resp.json_body() == {"id": "o-1"}
    assert cloud.http(app, "GET", "/v1").body == b"orders"  # the router's "/" is the prefix itself
    assert cloud.http(app, "GET", "/orders/o-1").status == 404  # only under the prefix
    assert cloud.http(app, "GET", "/health").body == b"ok"
    assert cloud.http(app, "DELETE", "/v1/orders/o-1").status == 405


def test_router_message_and_event_functions_are_delivered_unchanged(cloud) -> None:
    seen: list[str] = []
    app = shop(seen)
    assert cloud.enqueue(app, "orders", [{"id": "q-1"}]).ok
    assert cloud.publish(app, "order-events", {"id": "t-1"}).ok
    assert cloud.schedule(app, "sweep").ok
    assert cloud.storage(app, "uploads", "cat.png").ok
    assert seen == ["queue q-1", "topic t-1", "schedule", "storage cat.png"]


def test_a_router_policy_covers_its_routes_only(cloud) -> None:
    api = Router(cors=Cors(allow_origins=["https://shop.example"]))

    @api.http("GET", "/items")
    def items(req: HttpRequest) -> list:
        return []

    app = App("cors-router")

    @app.http("GET", "/private")
    def private(req: HttpRequest) -> str:
        return "p"

    app.include_router(api, prefix="/api")
    origin = {"Origin": "https://shop.example"}
    assert cloud.http(app, "GET", "/api/items", headers=origin).headers.get("access-control-allow-origin") \
        == "https://shop.example"
    assert cloud.http(app, "GET", "/private", headers=origin).headers.get("access-control-allow-origin") is None


def test_clashes_with_the_app_are_refused_like_the_app_refuses_them() -> None:
    app = App("clash")

    @app.http("GET", "/v1/orders/{order}")
    def other(req: HttpRequest) -> None: ...

    with pytest.raises(RegistrationError, match="both handle GET"):
        app.include_router(orders_router([]), prefix="/v1")  # same route shape as the router's /orders/{id}
    app2 = App("clash2")

    @app2.queue("work")
    def fulfil(msg: Message) -> None: ...

    with pytest.raises(RegistrationError, match="fulfil"):
        app2.include_router(orders_router([]))
    with pytest.raises(RegistrationError, match="prefix"):
        App("p").include_router(Router(), prefix="v1/")
    with pytest.raises(RegistrationError, match="Router"):
        App("q").include_router(App("r"))  # type: ignore[arg-type]
    queues = App("queues")

    @queues.queue("orders")
    def consume(msg: Message) -> None: ...

    with pytest.raises(RegistrationError, match="both consume queue"):
        queues.include_router(orders_router([]))
