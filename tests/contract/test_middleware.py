"""Middleware through every target's real entry point: ``mw(event, call_next)`` wraps each HTTP request and each
message of a batch, in registration order (the app's around a router's), may short-circuit or replace the result,
may be limited to kinds, and may be ``async``."""

from __future__ import annotations

import pytest

from portafunc import App, HttpRequest, HttpResponse, Message, NonRetryableError, RegistrationError, Router
from portafunc import ScheduleEvent


def traced_app(trace: list[str]) -> App:
    app = App("mw")

    @app.middleware
    def outer(event, call_next):
        trace.append(f"outer>{type(event).__name__}")
        result = call_next(event)
        trace.append("outer<")
        return result

    @app.middleware(kinds=("http",))
    async def timing(event, call_next):
        trace.append("timing>")
        resp = await call_next(event)
        resp.headers.add("X-Timed", "yes")
        return resp

    @app.middleware(kinds=("queue",))
    def guard(event, call_next):
        if event.json().get("block"):
            raise NonRetryableError("blocked by middleware")
        return call_next(event)

    @app.http("GET", "/hello/{name}")
    def hello(req: HttpRequest) -> dict:
        trace.append("handler")
        return {"hello": req.path_params["name"]}

    @app.http("GET", "/async")
    async def slow(req: HttpRequest) -> str:
        trace.append("async handler")
        return "done"

    @app.queue("work")
    def work(msg: Message) -> None:
        trace.append(f"work {msg.json()['n']}")

    @app.schedule("rate(5 minutes)")
    def tick(evt: ScheduleEvent) -> None:
        trace.append("tick")

    return app


def test_http_requests_pass_through_every_middleware_in_order(cloud) -> None:
    trace: list[str] = []
    resp = cloud.http(traced_app(trace), "GET", "/hello/ada")
    assert resp.status == 200 and resp.json_body() == {"hello": "ada"}
    assert resp.headers.get("x-timed") == "yes"  # the async middleware changed the response
    assert trace == ["outer>HttpRequest", "timing>", "handler", "outer<"]


def test_an_async_middleware_wraps_an_async_handler(cloud) -> None:
    trace: list[str] = []
    resp = cloud.http(traced_app(trace), "GET", "/async")
    assert resp.status == 200 and resp.body == b"done" and resp.headers.get("x-timed") == "yes"
    assert trace == ["outer>HttpRequest", "timing>", "async handler", "outer<"]


def test_each_message_of_a_batch_is_wrapped_and_a_middleware_failure_is_that_message_only(cloud) -> None:
    trace: list[str] = []
    result = cloud.enqueue(traced_app(trace), "work", [{"n": 1}, {"n": 2, "block": True}, {"n": 3}])
    assert result.failed_ids == [result.ids[1]]  # non-retryable, reported failed for the broker's dead-letter policy
    assert trace == ["outer>Message", "work 1", "outer<", "outer>Message", "outer>Message", "work 3", "outer<"]


def test_kinds_limit_where_a_middleware_runs(cloud) -> None:
    trace: list[str] = []
    assert cloud.schedule(traced_app(trace), "tick").ok
    assert trace == ["outer>ScheduleEvent", "tick", "outer<"]  # neither the http nor the queue middleware


def test_a_middleware_can_short_circuit_and_router_middleware_wrap_their_functions_only(cloud) -> None:
    admin = Router()

    @admin.middleware
    def require_token(req, call_next):
        if req.headers.get("authorization") != "Bearer s3cret":
            return HttpResponse.problem(401, "Unauthorized", "a bearer token is required")
        return call_next(req)

    @admin.http("GET", "/stats")
    def stats(req: HttpRequest) -> dict:
        return {"orders": 3}

    app = App("admin")

    @app.middleware
    def tag(req, call_next):
        resp = call_next(req)
        resp.headers.add("X-App", "admin")
        return resp

    @app.http("GET", "/public")
    def public(req: HttpRequest) -> str:
        return "hi"

    app.include_router(admin, prefix="/admin")
    refused = cloud.http(app, "GET", "/admin/stats")
    assert refused.status == 401 and refused.headers.get("x-app") == "admin"  # app middleware around the router's
    allowed = cloud.http(app, "GET", "/admin/stats", headers={"Authorization": "Bearer s3cret"})
    assert allowed.status == 200 and allowed.json_body() == {"orders": 3}
    assert cloud.http(app, "GET", "/public").status == 200  # the router's middleware is not the app's


def test_an_exception_in_a_middleware_is_a_500_without_internals(cloud) -> None:
    app = App("broken-mw")

    @app.middleware
    def broken(req, call_next):
        raise RuntimeError("secret detail")

    @app.http("GET", "/x")
    def x(req: HttpRequest) -> str:
        return "x"

    resp = cloud.http(app, "GET", "/x")
    assert resp.status == 500 and b"secret detail" not in resp.body


def test_bad_middleware_registrations_are_refused() -> None:
    app = App("bad")
    with pytest.raises(RegistrationError, match="kinds"):
        app.middleware(kinds=("htp",))
    with pytest.raises(RegistrationError, match="call_next"):
        app.middleware(lambda event: event)
