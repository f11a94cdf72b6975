"""The HTTP API's ``$default`` route goes to the template's router function, which answers what API Gateway matched
to no route (404, 405 with ``Allow``, CORS preflights) and never runs a function: a path API Gateway and portafunc
read differently must not reach an ``auth="function"`` (IAM) route past API Gateway's authorizer."""

from __future__ import annotations

import json

import pytest

from aws_test_support import load_fixture
from portafunc import App, Cors, HttpRequest
from portafunc_aws import runtime
from portafunc_aws.deploy.sam import ROUTER, build_template
from portafunc_aws.lambda_context import LambdaContext

CALLED: list[str] = []


def _app() -> App:
    app = App("guarded", cors=Cors(allow_origins=["https://shop.example"]))

    @app.http("GET", "/admin/{item}", auth="function")
    def admin(req: HttpRequest) -> dict[str, str]:
        CALLED.append("admin")
        return {"secret": "yes"}

    @app.http("GET", "/public")
    def public(req: HttpRequest) -> str:
        CALLED.append("public")
        return "ok"

    return app


def _default_route(method: str, path: str, headers: dict[str, str] | None = None) -> dict:
    """An HTTP API event as API Gateway sends it for its ``$default`` route (routeKey ``$default``)."""
    ev = load_fixture("http-apigw-v2/sam-HttpApi.json")
    ev.update({"routeKey": "$default", "rawPath": path, "rawQueryString": "", "body": None,
               "isBase64Encoded": False, "headers": {"host": "api.example", **(headers or {})}})
    ev["requestContext"]["http"].update({"method": method, "path": path})
    ev["requestContext"]["routeKey"] = "$default"
    ev.pop("cookies", None)
    return ev


def test_the_template_marks_the_router_function() -> None:
    template = build_template(_app(), app_ref="main:app", code_uri="x.zip", python="3.12", arch="x86_64")
    router = template["Resources"][ROUTER]["Properties"]
    assert router["Environment"]["Variables"] == {"PORTAFUNC_ROUTER": "unmatched"}
    assert template["Globals"]["Function"]["Environment"]["Variables"]["PORTAFUNC_APP"] == "main:app"


def test_the_router_function_imports_the_app_with_the_app_wide_env_and_secrets(tmp_path) -> None:
    """It imports the whole app, as each function does: what the app reads at import (a CORS origin its preflight
    answers carry, a required setting) must be there too, from the configuration's app-wide layers."""
    from portafunc.config import load_config

    (tmp_path / "portafunc.toml").write_text(
        'env = { ORIGIN = "https://shop.example" }\n[secrets]\nAPI_KEY = "shop/api-key"\n\n'
        '[functions.public]\nenv = { ONLY_PUBLIC = "1" }\n\n'
        '[stages.prod]\nenv = { ORIGIN = "https://prod.shop.example" }\n')
    app = _app()
    template = build_template(app, app_ref="main:app", code_uri="x.zip", python="3.12", arch="x86_64",
                              deployment=app.resources(load_config(tmp_path, "prod")))
    assert template["Resources"][ROUTER]["Properties"]["Environment"]["Variables"] == {
        "PORTAFUNC_ROUTER": "unmatched", "ORIGIN": "https://prod.shop.example", "PORTAFUNC_STAGE": "prod",
        "API_KEY": "{{resolve:secretsmanager:shop/api-key}}"}


@pytest.fixture
def router(monkeypatch: pytest.MonkeyPatch) -> runtime.LambdaHandler:
    monkeypatch.setenv("PORTAFUNC_ROUTER", "unmatched")
    CALLED.clear()
    return runtime.LambdaHandler(_app())


def test_a_guarded_route_reached_through_default_is_not_run(router: runtime.LambdaHandler) -> None:
    out = router(_default_route("GET", "/admin/keys"), LambdaContext())
    assert out["statusCode"] == 404 and "secret" not in out.get("body", "")
    assert CALLED == []


def test_unknown_paths_wrong_methods_and_preflights_are_answered(router: runtime.LambdaHandler) -> None:
    assert router(_default_route("GET", "/nowhere"), LambdaContext())["statusCode"] == 404
    wrong = router(_default_route("DELETE", "/public"), LambdaContext())
    assert wrong["statusCode"] == 405 and wrong["headers"]["allow"] == "GET, HEAD"
    preflight = router(_default_route("OPTIONS", "/public", {
        "origin": "https://shop.example", "access-control-request-method": "GET"}), LambdaContext())
    assert preflight["statusCode"] == 204
    assert preflight["headers"]["access-control-allow-origin"] == "https://shop.example"
    assert json.loads(wrong["body"])["status"] == 405
    assert CALLED == []


def test_an_app_wide_function_without_the_marker_still_routes(monkeypatch: pytest.MonkeyPatch) -> None:
    """One Lambda serving every route (no per-route functions, no API Gateway routes) keeps full routing."""
    monkeypatch.delenv("PORTAFUNC_ROUTER", raising=False)
    CALLED.clear()
    out = runtime.LambdaHandler(_app())(_default_route("GET", "/public"), LambdaContext())
    assert out["statusCode"] == 200 and CALLED == ["public"]
