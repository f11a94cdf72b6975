"""A request the Functions host hands a function whose route does not match its path as the app matches routes is
answered as every other target answers it.

The host matches literal segments ignoring case (ASP.NET routing), in function-name order (see
``azure_host_routing``); the app matches them as written and serves a path with its most specific route, as API
Gateway does. With ``GET /products/list`` (``a_list``) and ``GET /products/{id}`` (``b_details``), an app packaging
accepts, the host hands ``/products/LIST`` to ``a_list``; the app, and every other target, serves it with
``b_details`` (``id`` = ``LIST``). Each request below goes to the function the host picks, from the metadata the
real ``azure.functions`` indexes from the generated ``function_app.py``, as a real ``func.HttpRequest``; its answer
must be the app's own (``handle_http`` without a function name)."""

from __future__ import annotations

import itertools
import json
from typing import Any

import azure.functions as func
import pytest
from azure_host_routing import host_pick, host_routes, refusals

from portafunc import App, Cors, HttpRequest
from portafunc.invoke import handle_http
from portafunc_azure.deploy.function_app import load_function_app
from portafunc_azure.driver import AzureDriver, host_function
from portafunc_azure.triggers import function_name, unmatched_function_name

Layout = list[tuple[str, str, str]]  # (methods, template, function name), in registration order

#: layouts packaging accepts (the host picks the app's function for every path in the templates' own case)
LAYOUTS: dict[str, Layout] = {
    "literal named first": [("GET", "/products/list", "a_list"), ("GET", "/products/{id}", "b_details")],
    "parameter registered first": [("GET", "/products/{id}", "details"), ("GET", "/products/list", "a_list")],
    "greedy": [("GET", "/files/{path+}", "zz_files"), ("GET", "/files/readme", "readme"),
               ("GET", "/files/{folder}/index", "index")],
    "three levels": [("GET", "/shops/{shop}/{item}", "product"), ("GET", "/shops/{shop}/stats", "overview"),
                     ("GET", "/shops/main/{item}", "main_product")],
    "methods": [("POST", "/orders/latest", "a_post_latest"), ("GET,DELETE", "/orders/{id}", "order"),
                ("GET", "/orders/latest", "latest")],
}


def _app(layout: Layout, **options: Any) -> App:
    app = App("case")
    for methods, template, name in layout:
        def handler(req: HttpRequest, name: str = name) -> dict[str, Any]:
            return {"function": name, "params": req.path_params}
        app.http(methods.split(","), template, name=name, **options.get(name, {}))(handler)
    return app


def _spellings(segment: str) -> list[str]:
    return sorted({segment, segment.upper(), segment.capitalize()})


def _paths(layout: Layout) -> list[str]:
    """Every template with each parameter replaced by each literal of any template, each literal spelt as written,
    upper-case and capitalised; and each greedy template's bare prefix."""
    literals = {seg for _, t, _ in layout for seg in t.strip("/").split("/") if "{" not in seg} | {"zz"}
    values = sorted({spelt for literal in literals for spelt in _spellings(literal)})
    out: set[str] = set()
    for _, template, _ in layout:
        segments = template.strip("/").split("/")
        choices = [values + (["q/r"] if seg.endswith("+}") else []) if "{" in seg else _spellings(seg)
                   for seg in segments]
        out.update("/" + "/".join(combo) for combo in itertools.product(*choices))
        if segments[-1].endswith("+}"):
            out.add("/" + "/".join(segments[:-1]))
    return sorted(out)


def _call(functions: dict[str, Any], name: str, method: str, path: str, headers: dict[str, str] | None = None
          ) -> func.HttpResponse:
    return functions[name].get_user_function()(
        func.HttpRequest(method, f"https://x.azurewebsites.net{path}", headers=headers or {}, body=b""))


def _answer(resp: Any) -> tuple[int, Any]:
    body = resp.get_body() if isinstance(resp, func.HttpResponse) else resp.body
    return (resp.status_code if isinstance(resp, func.HttpResponse) else resp.status), json.loads(body or b"null")


@pytest.mark.parametrize("name", LAYOUTS)
def test_the_function_the_host_picks_answers_as_the_app_routes(name: str) -> None:
    layout = LAYOUTS[name]
    app = _app(layout)
    assert refusals(app) == []
    _, functions, _ = load_function_app(app)
    routes = host_routes(app)
    reached = 0
    for path in _paths(layout):
        for method in ("GET", "POST", "DELETE"):
            picked = host_pick(routes, method, path)
            if picked is None or picked == unmatched_function_name(app):
                continue
            expected = _answer(handle_http(app, HttpRequest(method, path), target="azure"))
            assert _answer(_call(functions, picked, method, path)) == expected, (picked, method, path)
            routed = app.route(method, path)[0]
            reached += routed is None or picked != function_name(routed.name)
    assert reached  # some request was handed to a function the app does not route it to


def test_the_literal_routes_function_does_not_run_for_a_path_spelt_in_another_case() -> None:
    app = _app(LAYOUTS["literal named first"])
    _, functions, _ = load_function_app(app)
    routes = host_routes(app)
    assert host_pick(routes, "GET", "/products/LIST") == "a_list"
    assert _answer(_call(functions, "a_list", "GET", "/products/LIST")) == \
        (200, {"function": "b_details", "params": {"id": "LIST"}})
    assert _answer(_call(functions, "a_list", "GET", "/products/list")) == (200, {"function": "a_list", "params": {}})
    head = _call(functions, "a_list", "HEAD", "/products/LIST")
    assert (head.status_code, head.get_body()) == (200, b"")
    missing = _call(functions, "a_list", "GET", "/PRODUCTS/list")
    assert missing.status_code == 404 and json.loads(missing.get_body())["detail"] == \
        "no function serves GET /PRODUCTS/list"


def test_a_greedy_routes_function_handed_its_bare_prefix_answers_404() -> None:
    """The host's catch-all ``{*path}`` also matches no segment at all; the app's ``{path+}`` needs one."""
    app = _app(LAYOUTS["greedy"])
    _, functions, _ = load_function_app(app)
    assert host_pick(host_routes(app), "GET", "/files") == "zz_files"
    assert _call(functions, "zz_files", "GET", "/files").status_code == 404


def test_a_function_key_is_not_skipped_by_spelling_a_path_in_another_case() -> None:
    """The host checks a function key for the function it routes a request to: a key-protected function runs only
    for requests the host routed to it; one the host handed another function is refused, not run."""
    app = _app(LAYOUTS["literal named first"], b_details={"auth": "function"})
    _, functions, _ = load_function_app(app)
    refused = _call(functions, "a_list", "GET", "/products/LIST")
    assert refused.status_code == 401 and "function key" in json.loads(refused.get_body())["detail"]
    assert _call(functions, "a_list", "GET", "/products/list").status_code == 200
    protected_first = _app(LAYOUTS["literal named first"], a_list={"auth": "function"})
    _, functions, _ = load_function_app(protected_first)
    assert _answer(_call(functions, "a_list", "GET", "/products/LIST")) == \
        (200, {"function": "b_details", "params": {"id": "LIST"}})


def test_the_route_prefix_matches_in_any_case(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORTAFUNC_AZURE_ROUTE_PREFIX", "api")
    app = _app(LAYOUTS["literal named first"])
    _, functions, _ = load_function_app(app)
    for prefix in ("/api", "/API", "/Api"):
        assert _answer(_call(functions, "a_list", "GET", prefix + "/products/list")) == \
            (200, {"function": "a_list", "params": {}})
        assert _answer(_call(functions, "a_list", "GET", prefix + "/products/LIST")) == \
            (200, {"function": "b_details", "params": {"id": "LIST"}})


# -- OPTIONS and CORS preflights -----------------------------------------------------------------------------------

def _cors_app() -> App:
    """``/items/special`` has a CORS policy and no ``OPTIONS`` function: the generated app lists OPTIONS on its
    function for the route's preflights. ``/items/{id}`` serves ``OPTIONS`` itself. ``/things/{id}`` and
    ``/things/special`` each have a policy of their own, the first registered named to sort last."""
    app = App("preflights")
    cors = Cors(allow_origins=["https://shop.example"])

    @app.http("OPTIONS", "/items/{id}", name="b_options")
    def options(req: HttpRequest) -> dict[str, Any]:
        return {"function": "b_options", "params": req.path_params}

    for name in ("z_special_first", "a_special"):
        template = "/items/special" if name == "a_special" else "/items/{id}/special"

        def handler(req: HttpRequest, name: str = name) -> dict[str, Any]:
            return {"function": name}
        app.http("GET", template, name=name, cors=cors)(handler)
    for name, template, origin in (("z_thing", "/things/{id}", "https://a.example"),
                                   ("a_thing_special", "/things/special", "https://shop.example")):
        app.http("GET", template, name=name, cors=Cors(allow_origins=[origin]))(lambda req: None)
    return app


CORS_PATHS = ["/items/special", "/items/SPECIAL", "/items/7", "/items/7/special", "/items/7/Special",
              "/things/special", "/things/Special", "/things/7"]


PREFLIGHT = {"origin": "https://shop.example", "access-control-request-method": "GET"}


@pytest.mark.parametrize("path", CORS_PATHS)
@pytest.mark.parametrize("headers", [{}, PREFLIGHT], ids=["plain", "preflight"])
def test_an_options_the_host_hands_a_preflight_function_is_answered_as_the_app_routes_it(
        path: str, headers: dict[str, str]) -> None:
    app = _cors_app()
    assert refusals(app) == []
    _, functions, _ = load_function_app(app)
    picked = host_pick(host_routes(app), "OPTIONS", path)
    assert picked is not None
    resp = _call(functions, picked, "OPTIONS", path, headers)
    expected = handle_http(app, HttpRequest("OPTIONS", path, headers=headers), target="azure")
    assert (resp.status_code, resp.get_body()) == (expected.status, expected.body), picked
    assert {k.lower(): v for k, v in resp.headers.items()}.get("access-control-allow-origin") == \
        expected.headers.get("access-control-allow-origin")


@pytest.mark.parametrize("layout", [*LAYOUTS, "cors"])
def test_the_driver_hands_each_request_to_the_function_the_host_picks(layout: str) -> None:
    """The contract driver calls the function the host would: in function-name order, literals ignoring case, an
    ``OPTIONS`` on the route's CORS preflight function; the catch-all for what no route takes."""
    app = _cors_app() if layout == "cors" else _app(LAYOUTS[layout])
    paths = [*CORS_PATHS, "/nowhere"] if layout == "cors" else _paths(LAYOUTS[layout])
    routes = host_routes(app)
    for path in paths:
        for method in ("GET", "HEAD", "POST", "DELETE", "OPTIONS"):
            spec, _ = host_function(app, HttpRequest(method, path))
            picked = host_pick(routes, method, path)
            assert (function_name(spec.name) if spec else unmatched_function_name(app)) == picked, (method, path)


def test_the_driver_answers_a_preflight_as_the_deployed_app() -> None:
    app = _cors_app()
    driver = AzureDriver()
    for path in CORS_PATHS:
        for headers in ({}, PREFLIGHT):
            got = driver.http(app, HttpRequest("OPTIONS", path, headers=headers)).response
            expected = handle_http(app, HttpRequest("OPTIONS", path, headers=headers), target="azure")
            assert (got.status, got.body) == (expected.status, expected.body), (path, headers)
