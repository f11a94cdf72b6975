"""Routing many routes: the indexed lookup chooses exactly what a scan of every route, most specific first, chooses,
registering routes compiles no regex, a request compiles only the routes its path can reach, and a route template
the platform already matched is used directly."""

from __future__ import annotations

import random
import re
from typing import Annotated

import pytest

from portafunc import App, HttpRequest, Path, RegistrationError
from portafunc.app import HttpTrigger
from portafunc.invoke import handle_http
from portafunc.routing import compile_route, specificity, with_bare_path

METHODS = ("GET", "POST", "PUT", "DELETE")


def _segment_rank(segment: str) -> int:
    """A literal segment before one mixing text and a parameter, before a parameter, before a greedy parameter."""
    if "{" not in segment:
        return 0
    if segment.endswith("+}"):
        return 3
    return 2 if re.fullmatch(r"\{\w+\}", segment) else 1


def _most_specific_first(app: App) -> list:
    """Every HTTP function, its route compared with the others segment by segment from the left; registration order
    breaks ties (sorted() is stable)."""
    specs = [spec for spec in app if isinstance(spec.trigger, HttpTrigger)]
    return sorted(specs, key=lambda spec: [_segment_rank(s) for s in spec.trigger.route.template[1:].split("/")])


def _scan(app: App, method: str, path: str):
    """The reference: every HTTP route, most specific first, the first matching path and method wins; when none
    serves the method, every route matching the path gives its methods."""
    allowed: list[str] = []
    for spec in _most_specific_first(app):
        trig = spec.trigger
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
def test_indexed_routing_chooses_what_a_scan_most_specific_first_chooses(seed: int) -> None:
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

    # API Gateway matched the literal one, as the app's own matching picks it (the more specific route wins), and
    # the function it chose is the one that runs; the template is the platform's choice, whichever it is.
    assert app.route("GET", "/orders/new")[0] is app.function("new")
    assert app.route("GET", "/orders/new", template="/orders/new")[0] is app.function("new")
    assert app.route("GET", "/orders/new", template="/orders/{id}") == (app.function("by_id"), {"id": "new"}, ["GET"])
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


# -- the most specific route wins -----------------------------------------------------------------------------------

# (methods, template, function) in the order registered, then (path, function expected or None, its parameters); each
# layout is registered in this order and reversed, and must answer the same.
PRECEDENCE: dict[str, tuple[list[tuple[str, str, str]], list[tuple[str, str | None, dict[str, str]]]]] = {
    "a literal after a parameter": (
        [("GET", "/orders/{id}", "one"), ("GET", "/orders/latest", "latest")],
        [("/orders/latest", "latest", {}), ("/orders/7", "one", {"id": "7"}), ("/orders/latest/x", None, {})]),
    "a greedy route before more specific ones": (
        [("GET", "/files/{path+}", "tree"), ("GET", "/files/readme", "readme"), ("GET", "/files/{dir}/index", "index")],
        [("/files/readme", "readme", {}), ("/files/docs/index", "index", {"dir": "docs"}),
         ("/files/docs/other", "tree", {"path": "docs/other"}), ("/files/a/b/index", "tree", {"path": "a/b/index"}),
         ("/files/readme/index", "index", {"dir": "readme"})]),
    "two parameters, a literal in the middle": (
        [("GET", "/shops/{shop}/{item}", "item"), ("GET", "/shops/{shop}/stats", "stats"),
         ("GET", "/shops/main/{item}", "main_item")],
        [("/shops/s1/i1", "item", {"shop": "s1", "item": "i1"}), ("/shops/s1/stats", "stats", {"shop": "s1"}),
         ("/shops/main/i1", "main_item", {"item": "i1"}),
         ("/shops/main/stats", "main_item", {"item": "stats"})]),  # the leftmost difference decides
    "greedy routes of different depths": (
        [("GET", "/{all+}", "everything"), ("GET", "/api/{rest+}", "api"), ("GET", "/api/v1/{rest+}", "v1")],
        [("/x/y", "everything", {"all": "x/y"}), ("/api/x", "api", {"rest": "x"}),
         ("/api/v1/x/y", "v1", {"rest": "x/y"}), ("/api/v1", "api", {"rest": "v1"})]),
    "text beside a parameter": (
        [("GET", "/reports/{name}", "report"), ("GET", "/reports/{name}.csv", "csv"),
         ("GET", "/reports/all.csv", "all_csv")],
        [("/reports/q1", "report", {"name": "q1"}), ("/reports/q1.csv", "csv", {"name": "q1"}),
         ("/reports/all.csv", "all_csv", {})]),
}


def _layout_app(layout: list[tuple[str, str, str]]) -> App:
    app = App("precedence")
    for methods, template, name in layout:
        app.http(methods.split(","), template, name=name)(lambda req: None)
    return app


@pytest.mark.parametrize("name", PRECEDENCE)
@pytest.mark.parametrize("reverse", [False, True])
def test_the_most_specific_route_serves_a_path_whatever_the_registration_order(name: str, reverse: bool) -> None:
    layout, expected = PRECEDENCE[name]
    app = _layout_app(layout[::-1] if reverse else layout)
    for path, function, params in expected:
        spec, found, _ = app.route("GET", path)
        assert (spec and spec.name, found if spec else {}) == (function, params), path
        assert (app.route("HEAD", path)[0] or None) is spec, path  # HEAD goes where GET goes


def test_specificity_ranks_each_segment_from_the_left() -> None:
    assert specificity("/") == specificity("/orders") == (0,)
    assert specificity("/orders/latest") == (0, 0)
    assert specificity("/orders/{id}") == (0, 2)
    assert specificity("/a/x{y}.json/{z}/{rest+}") == (0, 1, 2, 3)
    assert specificity("/orders/latest") < specificity("/orders/{id}") < specificity("/orders/{path+}")
    assert specificity("/shops/main/{item}") < specificity("/shops/{shop}/stats")  # the leftmost difference decides
    assert specificity("/api") < specificity("/api/{path+}")  # a route before the catch-all that also serves it
    assert compile_route("/a/{b}").key == specificity("/a/{b}")
    assert with_bare_path(compile_route("/api/{path+}")).key == specificity("/api/{path+}")


def test_a_literal_route_beats_a_catch_all_serving_its_bare_path() -> None:
    app = App("bare")
    app.http("GET", "/api/{path+}", name="catch_all")(lambda req: None)
    app.http("GET", "/api", name="root")(lambda req: None)
    spec = app.function("catch_all")
    spec.trigger.route = with_bare_path(spec.trigger.route)  # type: ignore[union-attr]
    app._routes = None
    assert app.route("GET", "/api")[0] is app.function("root")
    assert app.route("GET", "/api/")[0] is spec and app.route("GET", "/api/x")[0] is spec


def test_a_method_the_most_specific_route_does_not_serve_goes_to_a_route_that_serves_it() -> None:
    """As API Gateway matches a route and its method together: a less specific route serving the method takes the
    request, and a method no matching route serves is 405 with every method the path is served with."""
    app = App("methods")
    app.http("GET", "/orders/{id}", name="one")(lambda req: "one")
    app.http("POST", "/orders/latest", name="refresh")(lambda req: "refresh")
    assert app.route("GET", "/orders/latest")[0] is app.function("one")
    assert app.route("POST", "/orders/latest")[0] is app.function("refresh")
    assert app.route("POST", "/orders/7") == (None, {}, ["GET"])
    spec, _, allowed = app.route("DELETE", "/orders/latest")
    assert spec is None and sorted(allowed) == ["GET", "POST"]
    resp = handle_http(app, HttpRequest("DELETE", "/orders/latest"))
    assert resp.status == 405 and resp.headers["allow"] == "GET, HEAD, POST"
    head = handle_http(app, HttpRequest("HEAD", "/orders/latest"))
    assert (head.status, head.body) == (200, b"")


def test_routing_among_many_overlapping_routes_stays_one_walk() -> None:
    """1,000 parameter routes with a literal route each registered after them: each path reaches its literal route,
    and the table searched lists only the few routes the path can reach."""
    app = App("overlaps")
    for i in range(1000):
        app.http("GET", f"/r{i}/{{id}}", name=f"by_id{i}")(lambda req: None)
    for i in range(1000):
        app.http("GET", f"/r{i}/latest", name=f"latest{i}")(lambda req: None)
    assert app.route("GET", "/r999/latest")[0] is app.function("latest999")
    assert app.route("GET", "/r999/7")[0] is app.function("by_id999")
    table = app._routes
    assert table is not None
    assert [route.template for route, _ in table.candidates("/r999/latest")] == ["/r999/latest", "/r999/{id}"]
