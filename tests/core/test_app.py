"""Registration: decorators, routing, typed payloads, conflicts rejected at import time."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from portafunc import App, HttpRequest, Message, RegistrationError, ScheduleError


class Order(BaseModel):
    id: str
    total: float


def test_decorators_register_specs_with_triggers():
    app = App("shop")

    @app.http(["get", "POST"], "/orders/{shop}")
    def orders(req: HttpRequest): ...

    @app.queue("orders", batch_size=5, max_attempts=3, ordered=True)
    def fulfil(msg: Message[Order]): ...

    @app.topic("events")
    async def audit(msg: Message): ...

    @app.schedule(cron="0 3 * * *")
    def nightly(evt): ...

    @app.storage("uploads", events=["created", "deleted"], prefix="in/")
    def upload(evt): ...

    specs = app.functions
    assert list(specs) == ["orders", "fulfil", "audit", "nightly", "upload"]
    assert specs["orders"].trigger.methods == ("GET", "POST")
    assert specs["fulfil"].trigger.batch_size == 5 and specs["fulfil"].trigger.ordered
    assert specs["fulfil"].message_model is Order
    assert specs["audit"].is_async and not specs["fulfil"].is_async
    assert specs["audit"].message_model is None
    assert specs["nightly"].trigger.schedule.cron == "0 3 * * *"
    assert specs["upload"].trigger.events == ("created", "deleted")


def test_routing_matches_params_and_reports_allowed_methods():
    app = App("a")

    @app.http("GET", "/orders/{shop}/{id}")
    def get(req): ...

    @app.http("GET", "/files/{path+}")
    def files(req): ...

    spec, params, _ = app.route("GET", "/orders/acme/42")
    assert spec.name == "get" and params == {"shop": "acme", "id": "42"}
    spec, params, _ = app.route("GET", "/files/a/b/c.txt")
    assert spec.name == "files" and params == {"path": "a/b/c.txt"}
    spec, _, allowed = app.route("DELETE", "/orders/acme/42")
    assert spec is None and allowed == ["GET"]
    assert app.route("GET", "/nope")[0] is None


@pytest.mark.parametrize("register, message", [
    (lambda app: app.http("GET", "/x/{a}", name="n")(lambda req: None), "both handle GET /x/{a}"),
    (lambda app: app.queue("q", name="n")(lambda m: None), "both consume queue 'q'"),
    (lambda app: app.storage("b", events=["created"], name="n")(lambda e: None), "object stores refuse overlapping"),
])
def test_conflicting_registrations_are_rejected(register, message):
    app = App("a")

    @app.http("GET", "/x/{b}")
    def first(req): ...

    @app.queue("q", name="consumer")
    def second(m): ...

    @app.storage("b", events=["created"], name="up")
    def third(e): ...

    with pytest.raises(RegistrationError) as info:
        register(app)
    assert message in str(info.value)


def test_duplicate_function_name_rejected():
    app = App("a")

    @app.http("GET", "/a")
    def f(req): ...

    with pytest.raises(RegistrationError, match="registered twice"):
        app.http("GET", "/b", name="f")(lambda req: None)


@pytest.mark.parametrize("make", [
    lambda app: app.http("FETCH", "/a"),
    lambda app: app.http("GET", "no-slash"),
    lambda app: app.http("GET", "/a/{x}/{x}"),
    lambda app: app.http("GET", "/a/{p+}/b"),
    lambda app: app.queue("q", batch_size=10001),
    lambda app: app.queue("q", batch_size=100, max_batching_window=301),
    lambda app: app.queue("bad name"),
    lambda app: app.topic("t", max_attempts=0),
    lambda app: app.storage("b", events=["modified"]),
    lambda app: app.schedule("rate(7 minutes)")(lambda evt: None),
    lambda app: app.schedule("rate(7 minutes)", name="tick")(lambda evt: None),
    lambda app: app.schedule(),
])
def test_bad_options_fail_at_decoration(make):
    with pytest.raises(RegistrationError):
        make(App("a"))


def test_schedule_error_is_a_registration_error_with_reason_naming_the_function():
    app = App("a")
    with pytest.raises(ScheduleError, match=r"^function 'tick': rate\(7 minutes\) cannot fire .*N must divide 60"):
        @app.schedule("rate(7 minutes)")
        def tick(evt): ...
    with pytest.raises(ScheduleError, match=r"^function 'nightly': '0 3 \* \* \* \*' has 6 fields"):
        app.schedule(cron="0 3 * * * *", name="nightly")(lambda evt: None)
    assert list(app) == []


def test_typed_payload_parameter_and_unfillable_parameters():
    app = App("a")

    @app.http("POST", "/o")
    def create(req: HttpRequest, order: Order): ...

    plan = app.function("create").call_plan()
    assert [p.source for p in plan] == ["http"]  # HTTP handlers are filled by their RouteSignature
    signature = plan[0].model
    assert signature.request_arg == "req" and signature.body.arg == "order" and signature.body.model is Order
    with pytest.raises(RegistrationError, match="cannot fill parameter"):
        app.queue("q", name="n")(lambda msg, other: None)
    with pytest.raises(RegistrationError, match="carry no payload"):
        app.schedule("rate(1 hour)")(_schedule_with_payload)


def _schedule_with_payload(evt, order: Order): ...


def test_unknown_function_lookup_names_the_known_ones():
    app = App("a")
    app.http("GET", "/a", name="one")(lambda req: None)
    with pytest.raises(RegistrationError, match="functions: one"):
        app.function("two")


def test_a_function_registered_after_the_first_route_is_found() -> None:
    """route() caches the HTTP table; registering must invalidate it."""
    from portafunc import App

    app = App("late")

    @app.http("GET", "/a")
    def a(req):  # noqa: ANN001
        return {}

    assert app.route("GET", "/b")[0] is None
    spec = app.route("GET", "/a")[0]
    assert spec is not None and spec.name == "a"

    @app.http("GET", "/b")
    def b(req):  # noqa: ANN001
        return {}

    spec = app.route("GET", "/b")[0]
    assert spec is not None and spec.name == "b"
    assert app.route("POST", "/b")[2] == ["GET"]
