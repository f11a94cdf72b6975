"""Overlapping routes on Azure: packaging refuses exactly the apps whose requests the Functions host would hand to
another function than the app routes them to.

The app serves a path with the most specific route that matches (a literal segment before a parameter before a
greedy one, from the left), whatever the registration order; the host tries routes in function-name order (see
``azure_host_routing``). Each layout below is judged both ways on every path built from its templates: the
host's pick (from the metadata the real ``azure.functions`` indexes) against ``App.route``. The trigger check must
refuse the layout exactly when some path is picked differently, and name both functions and the fix."""

from __future__ import annotations

import itertools

import pytest
from azure_host_routing import host_pick, host_routes, refusals

from portafunc import App
from portafunc_azure import route_order
from portafunc_azure.route_order import overlap

Layout = list[tuple[str, str, str]]  # (methods, template, function name), in registration order

LAYOUTS: dict[str, Layout] = {
    "literal first, named to sort last": [("GET", "/products/list", "list_products"),
                                          ("GET", "/products/{id}", "details")],
    "literal first, named to sort first": [("GET", "/products/list", "a_list"), ("GET", "/products/{id}", "details")],
    "parameter first": [("GET", "/products/{id}", "details"), ("GET", "/products/list", "list_products")],
    "other methods": [("POST", "/products/list", "zz_list"), ("GET", "/products/{id}", "details")],
    "greedy after a literal": [("GET", "/files/readme", "zz_readme"), ("GET", "/files/{path+}", "files")],
    "greedy first": [("GET", "/files/{path+}", "zz_files"), ("GET", "/files/readme", "readme")],
    "deeper overlap": [("GET", "/a/b/{y}", "zz_deep"), ("GET", "/a/{x}/c", "shallow")],
    "no overlap": [("GET", "/a/b/{y}", "zz_deep"), ("GET", "/a/{x}", "shallow")],
    "case of a literal": [("GET", "/Products/list", "zz_list"), ("GET", "/products/{id}", "details")],
    "case of a literal, named to sort first": [("GET", "/Products/list", "a_list"), ("GET", "/products/{id}", "details")],
    "parameter first, literal named to sort first": [("GET", "/products/{id}", "details"),
                                                     ("GET", "/products/list", "a_list")],
    "deeper overlap, named to agree": [("GET", "/a/{x}/c", "shallow"), ("GET", "/a/b/{y}", "deep")],
    "greedy first, named to sort last": [("GET", "/files/{path+}", "files"), ("GET", "/files/readme", "zz_readme")],
    "three routes, each more specific named first": [
        ("GET", "/shops/{shop}/{item}", "product"), ("GET", "/shops/{shop}/stats", "overview"),
        ("GET", "/shops/main/{item}", "main_product")],
    "three routes, the leftmost literal named last": [
        ("GET", "/shops/{shop}/{item}", "product"), ("GET", "/shops/{shop}/stats", "overview"),
        ("GET", "/shops/main/{item}", "z_main_product")],
}

#: the layouts the host routes as the app does (every other one is refused)
AGREEING = {"literal first, named to sort first", "other methods", "greedy first", "no overlap",
            "parameter first, literal named to sort first", "deeper overlap, named to agree",
            "three routes, each more specific named first"}


def _app(layout: Layout) -> App:
    app = App("order")
    for methods, template, name in layout:
        app.http(methods.split(","), template, name=name)(lambda req: None)
    return app


def _paths(layout: Layout) -> list[str]:
    """Every template with each parameter replaced by each literal of any template (and a value of its own)."""
    literals = {seg for _, t, _ in layout for seg in t.strip("/").split("/") if "{" not in seg} | {"zz"}
    out: set[str] = set()
    for _, template, _ in layout:
        segments = template.strip("/").split("/")
        choices = [sorted(literals) + (["q/r"] if seg.endswith("+}") else []) if "{" in seg else [seg]
                   for seg in segments]
        out.update("/" + "/".join(combo) for combo in itertools.product(*choices))
    return sorted(out)


def _host_routes_unchecked(app: App, monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str, list[str]]]:
    """The host's routes of the function_app.py the generator would write without the check (which refuses it)."""
    with monkeypatch.context() as patched:
        patched.setattr(route_order, "overtaken_by", lambda spec: None)
        return host_routes(app)


@pytest.mark.parametrize("name", LAYOUTS)
def test_packaging_refuses_exactly_the_layouts_the_host_routes_differently(name: str,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    layout = LAYOUTS[name]
    app = _app(layout)
    routes = _host_routes_unchecked(app, monkeypatch)
    differ = [(method, path) for path in _paths(layout) for method in ("GET", "POST")
              if (app.route(method, path)[0] or None) is not None
              and host_pick(routes, method, path) != app.route(method, path)[0].name]  # type: ignore[union-attr]
    refused = refusals(app)
    assert bool(refused) == bool(differ), (differ, refused)
    assert not refused if name in AGREEING else refused


def test_a_parameter_route_registered_first_is_refused_when_its_name_sorts_first() -> None:
    """The more specific route serves the path wherever it was registered: /products/list is list_products' on
    every target, so details, whose name the host tries first, would take it on Azure."""
    app = _app(LAYOUTS["parameter first"])
    assert app.route("GET", "/products/list")[0] is app.function("list_products")
    (refused,) = refusals(app)
    assert refused.function == "details" and "'list_products'" in refused.reason
    assert "more specific" in refused.reason and "name='a_list_products'" in refused.instead


def test_routes_that_differ_only_in_the_case_of_a_literal_are_refused_whatever_the_names() -> None:
    for layout in ("case of a literal", "case of a literal, named to sort first"):
        (refused,) = refusals(_app(LAYOUTS[layout]))
        assert "case of a literal segment" in refused.reason and "same case" in refused.instead


def test_the_refusal_names_both_functions_and_a_fix_that_works() -> None:
    app = _app(LAYOUTS["literal first, named to sort last"])
    (refused,) = refusals(app)
    assert refused.function == "details"
    assert "'list_products'" in refused.reason and "function-name order" in refused.reason
    assert "more specific" in refused.reason
    assert "name='a_list_products'" in refused.instead
    fixed = _app([("GET", "/products/list", "a_list_products"), ("GET", "/products/{id}", "details")])
    assert refusals(fixed) == []
    assert host_pick(host_routes(fixed), "GET", "/products/list") == "a_list_products"


@pytest.mark.parametrize(("first", "second", "expected"), [
    ("/a/{x}", "/a/b", True), ("/a/b", "/a/c", False), ("/A/b", "/a/{y}", True), ("/a/{x}", "/a/b/c", False),
    ("/a/{p+}", "/a/b/c", True), ("/a/{p+}", "/a", False), ("/", "/", True), ("/", "/a", False),
])
def test_overlap_of_two_templates(first: str, second: str, expected: bool) -> None:
    assert overlap(first, second) is expected
    assert overlap(second, first) is expected
