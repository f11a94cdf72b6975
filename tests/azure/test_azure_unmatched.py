"""The catch-all function the Azure packaging adds is tried last by the Functions host.

The host orders HTTP routes by function name (``FunctionMetadataManager``: ``OrderBy(f => f.Name,
StringComparer.OrdinalIgnoreCase)``), adds them in that order to an ASP.NET ``RouteCollection``
(``WebScriptHostHttpRoutesManager``), and the first route whose template and method constraint match wins, whatever
its specificity (https://github.com/Azure/azure-functions-host/issues/9876). This test reads the function metadata the real ``azure.functions``
library indexes from the generated ``function_app.py`` (``get_function_json()``, what the worker sends the host),
applies that rule, and checks that the catch-all takes exactly the requests no other route takes — also when the app's
own function names sort late."""

from __future__ import annotations

import pytest

from azure_host_routing import host_pick as _host_pick
from azure_host_routing import host_routes as _host_routes

from portafunc import App, HttpRequest
from portafunc_azure.deploy.function_app import load_function_app
from portafunc_azure.triggers import UNMATCHED_ROUTE, unmatched_function_name


def _app(*names: str) -> App:
    app = App("precedence")
    for i, name in enumerate(names):
        app.http("GET", f"/items{i}/{{id}}", name=name)(lambda req: None)
    app.http(["POST", "PUT"], "/orders", name="zzzz_orders")(lambda req: None)
    app.http("GET", "/files/{rest+}", name="ZZ_files")(lambda req: None)
    return app


@pytest.mark.parametrize("names", [("a_item",), ("zz_portafunc_unmatched", "zzzzzzzz"), ("zz_portafunc_unmatchee",)])
def test_the_catch_all_is_the_hosts_last_route(names: tuple[str, ...]) -> None:
    app = _app(*names)
    routes = _host_routes(app)
    catch_all = unmatched_function_name(app)
    assert routes[-1] == (catch_all, UNMATCHED_ROUTE, ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"])
    for method, path in [("GET", "/items0/1"), ("HEAD", "/items0/1"), ("POST", "/orders"), ("GET", "/files/a/b"),
                         ("GET", "/orders"), ("DELETE", "/items0/1"), ("GET", "/nowhere"), ("GET", "/"),
                         ("OPTIONS", "/orders")]:
        served = app.route(method, path)[0]
        picked = _host_pick(routes, method, path)
        assert picked == (catch_all if served is None else served.name), (method, path)


def test_the_catch_all_answers_404_and_405_and_never_runs_a_function() -> None:
    """What the host hands the catch-all is answered by routing alone; a path the app would route (the host's
    matching differs, e.g. a method constraint it applied) is a 404, the function does not run."""
    import azure.functions as func

    app = App("never-runs")
    ran: list[str] = []

    @app.http("GET", "/secret", auth="function")
    def secret(req: HttpRequest) -> str:
        ran.append("secret")
        return "secret"

    _, functions, _ = load_function_app(app)
    catch_all = functions[unmatched_function_name(app)].get_user_function()

    def call(method: str, path: str) -> func.HttpResponse:
        return catch_all(func.HttpRequest(method, f"https://x.azurewebsites.net{path}", headers={}, body=b""))

    assert call("GET", "/nowhere").status_code == 404
    wrong = call("POST", "/secret")
    assert wrong.status_code == 405 and wrong.headers["Allow"] == "GET, HEAD"
    assert call("GET", "/secret").status_code == 404 and ran == []


def test_an_app_with_a_cors_policy_turns_platform_cors_off_in_the_arm_template() -> None:
    """App Service's CORS (``siteConfig.cors.allowedOrigins``) would answer preflights and replace the app's CORS
    headers; the template writes it empty for an app with a policy, and leaves it alone otherwise."""
    from portafunc import Cors
    from portafunc_azure.deploy import arm_check, infra

    app = App("cors-arm")
    app.http("GET", "/x", name="x", cors=Cors(allow_origins=["https://shop.example"]))(lambda req: None)
    template = infra.template(app, "3.11")
    assert arm_check.check(template, infra.API) == []
    (site,) = [r for r in template["resources"] if r["type"] == "Microsoft.Web/sites"]
    assert site["properties"]["siteConfig"]["cors"] == {"allowedOrigins": [], "supportCredentials": False}
    plain = App("no-cors")
    plain.http("GET", "/x", name="x")(lambda req: None)
    (site,) = [r for r in infra.template(plain, "3.11")["resources"] if r["type"] == "Microsoft.Web/sites"]
    assert "cors" not in site["properties"]["siteConfig"]


def test_an_options_the_host_hands_the_preflight_function_is_answered_for_the_whole_path() -> None:
    """The generated app lists ``OPTIONS`` on one function of a route with a CORS policy, so the host hands it every
    ``OPTIONS`` of that route: a plain one, and a preflight for a method that function does not serve. Each is
    answered as the catch-all answers (routing alone, for every function of the path), never by that function."""
    import azure.functions as func

    from portafunc import Cors
    from portafunc_azure.codecs import natives

    app = App("items")
    ran: list[str] = []

    @app.http("GET", "/items/{id}", cors=Cors(allow_origins=["https://shop.example"]))
    def get_item(req: HttpRequest) -> dict:
        ran.append("get_item")
        return {"id": req.path_params["id"]}

    @app.http(["DELETE", "PATCH"], "/items/{id}")
    def delete_item(req: HttpRequest) -> None:
        ran.append("delete_item")

    routes = _host_routes(app)
    assert _host_pick(routes, "OPTIONS", "/items/i-1") == "get_item"
    _, functions, _ = load_function_app(app)
    function = functions["get_item"].get_user_function()

    def call(headers: dict[str, str]) -> dict:
        req = func.HttpRequest("OPTIONS", "https://x.azurewebsites.net/items/i-1", headers=headers, body=b"",
                               route_params={"id": "i-1"})
        return natives.response_datum_to_json(function(req))  # what the worker sends the host

    for headers in ({}, {"Origin": "https://shop.example"},
                    {"Origin": "https://shop.example", "Access-Control-Request-Method": "PATCH"}):
        sent = call(headers)
        assert sent["status_code"] == 405 and sent["headers"]["allow"] == "DELETE, GET, HEAD, PATCH", headers
        assert "access-control-allow-origin" not in sent["headers"], headers
    preflight = call({"Origin": "https://shop.example", "Access-Control-Request-Method": "GET"})
    assert preflight["status_code"] == 204
    assert preflight["headers"]["access-control-allow-origin"] == "https://shop.example"
    assert ran == []
