"""Routing many routes: the indexed lookup chooses exactly what a scan of every route in registration order chooses,
registering routes compiles no regex, a request compiles only the routes its path can reach, and a route template
the platform already matched is used directly."""

from __future__ import annotations

import random
from typing import Annotated

import pytest

from portafunc import App, HttpRequest, Path, RegistrationError
from portafunc.app import HttpTrigger
from portafunc.routing import compile_route

METHODS = ("GET", "POST", "PUT", "DELETE")


def _scan(app: App, method: str, path: str):
    """The reference: every HTTP route in registration order, the first matching path and method wins."""
    allowed: list[str] = []
    for spec in app:
        trig = spec.trigger
        if not isinstance(trig, HttpTrigger):
            continue
        params = compile_route(trig.route.template).match(path)
        if params is None:
            continue
        if method in trig.methods or (method == "HEAD" and "GET" in trig.methods):
            return spec, params, list(trig.methods)
        allowed.extend(trig.methods)
    return None, {}, allowed


def _random_app(rng: random.Random, n: int) -> App:
    app = App("many")
    words = ["orders", "items", "users", "files", "v1", "new", "a.json", "x-y"]
    seen: set[tuple[str, str]] = set()
    while len(app.functions) < n:
        segments = []
        for depth in range(rng.randint(0, 4)):
            kind = rng.random()
            if kind < 0.55:
                segments.append(rng.choice(words))
            elif kind < 0.8:
                segments.append(f"{{p{depth}}}")
            elif kind < 0.9:
                segments.append(f"x{{p{depth}}}.json")
            else:
                segments.append(f"{{rest{depth}+}}")
                break
        template = "/" + "/".join(segments)
        methods = tuple(rng.sample(METHODS, rng.randint(1, 2)))
        try:
            app.http(list(methods), template, name=f"f{len(app.functions)}")(lambda req: None)
        except RegistrationError:  # the same method and shape twice: refused, as it must be
            continue
        seen.add((template, methods[0]))
    return app


def _random_path(rng: random.Random) -> str:
    parts = [rng.choice(["orders", "items", "users", "files", "v1", "new", "a.json", "x-y", "xq.json", "42", ""])
             for _ in range(rng.randint(0, 5))]
    return "/" + "/".join(parts)


@pytest.mark.parametrize("seed", range(6))
def test_indexed_routing_chooses_what_a_scan_in_registration_order_chooses(seed: int) -> None:
    rng = random.Random(seed)
    app = _random_app(rng, 300)
    for _ in range(3000):
        method = rng.choice(METHODS + ("HEAD",))
        path = _random_path(rng)
        spec, params, allowed = app.route(method, path)
        ref_spec, ref_params, ref_allowed = _scan(app, method, path)
        assert (spec and spec.name, params, sorted(allowed)) == \
            (ref_spec and ref_spec.name, ref_params, sorted(ref_allowed)), (method, path)


def test_registering_routes_compiles_no_regex_and_a_request_compiles_only_reachable_routes() -> None:
    app = App("wide")
    for i in range(1000):  # a parameter before the last segment: matched by the route's regex
        app.http("GET", f"/r{i}/items/{{id}}/lines", name=f"f{i}")(lambda req: None)
    routes = [spec.trigger.route for spec in app if isinstance(spec.trigger, HttpTrigger)]
    assert all(route._pattern is None for route in routes)
    spec, params, _ = app.route("GET", "/r999/items/7/lines")
    assert spec is not None and spec.name == "f999" and params == {"id": "7"}
    assert [r.template for r in routes if r._pattern is not None] == ["/r999/items/{id}/lines"]
    one = App("one-parameter")
    one.http("GET", "/orders/{id}", name="order")(lambda req: None)
    assert one.route("GET", "/orders/7")[1] == {"id": "7"}
    trigger = one.function("order").trigger
    assert isinstance(trigger, HttpTrigger) and trigger.route._pattern is None  # the usual shape needs no regex at all


def test_conflicts_are_still_refused_by_shape_and_method() -> None:
    app = App("c")
    app.http("GET", "/orders/{id}", name="one")(lambda req: None)
    app.http("POST", "/orders/{other}", name="two")(lambda req: None)  # another method: fine
    with pytest.raises(RegistrationError, match="'three' and 'one' both handle GET /orders/{key}"):
        app.http(["GET", "PUT"], "/orders/{key}", name="three")(lambda req: None)
    with pytest.raises(RegistrationError, match="both consume queue 'q'"):
        app.queue("q", name="c1")(lambda msg: None)
        app.queue("q", name="c2")(lambda msg: None)


def test_a_failed_registration_leaves_no_claim_on_its_route() -> None:
    app = App("stale")
    with pytest.raises(RegistrationError):  # refused after the conflict check: a Path() the route does not have
        app.http("GET", "/a/{id}", name="bad")(_reads_a_missing_path_parameter)
    app.http("GET", "/a/{id}", name="good")(lambda req: None)
    assert app.route("GET", "/a/1")[0].name == "good"  # type: ignore[union-attr]


def _reads_a_missing_path_parameter(req: HttpRequest, key: Annotated[str, Path()]) -> None: ...


def test_the_template_the_platform_matched_is_used_directly() -> None:
    app = App("hint")

    @app.http("GET", "/orders/{id}")
    def by_id(req: HttpRequest) -> None: ...

    @app.http("GET", "/orders/new")
    def new(req: HttpRequest) -> None: ...

    # Registration order puts the parameter route first; API Gateway matched the literal one (its more specific
    # route wins there), and the function it chose is the one that runs.
    assert app.route("GET", "/orders/new")[0] is app.function("by_id")
    assert app.route("GET", "/orders/new", template="/orders/new")[0] is app.function("new")
    spec, params, _ = app.route("GET", "/orders/7", template="/orders/{id}")
    assert spec is app.function("by_id") and params == {"id": "7"}
    # A template that is none of the app's routes (a catch-all, $default) falls back to the app's own matching.
    assert app.route("GET", "/orders/7", template="/{proxy+}")[0] is app.function("by_id")
    # A method the matched route does not serve: the fallback answers with what the path allows.
    assert app.route("DELETE", "/orders/7", template="/orders/{id}") == (None, {}, ["GET"])


@pytest.mark.parametrize("template", ["/orders/{id}", "/{id}", "/a/b/{c}", "/a", "/", "/a/{b}/c", "/x{y}", "/a/x{y}",
                                      "/a.b/{id}", "/files/{path+}", "/a/{b}/{c}", "/(/{id}", "/a+/{x}"])
def test_routes_matched_without_their_regex_match_what_the_regex_matches(template: str) -> None:
    """Literal routes and routes ending in one parameter segment (``/orders/{id}``) are matched by comparing text;
    the regex the template compiles to is the reference."""
    route = compile_route(template)
    paths = ["/", "/orders", "/orders/", "/orders/1", "/orders/1/", "/orders/1/2", "/orders//1", "/a", "/a/",
             "/a/b", "/a/b/c", "/a/b/c/d", "/a/xy", "/a/x", "/xy", "/x", "/a.b/7", "/aXb/7", "/files/a/b", "/a/b\n",
             "/orders/%2F", "/orders/ü", "/(/1", "/a+/q", "/aa/q", ""]
    for path in paths:
        found = route.pattern.fullmatch(path)
        assert route.match(path) == (None if found is None else found.groupdict()), (template, path)
