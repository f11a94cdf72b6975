"""The HTTP API's native configuration from the app: a JWT authorizer for JwtAuth routes (same issuer and audience,
the Authorization header as identity source), the IAM authorizer for ``auth="function"``, and a CorsConfiguration when
every route has the same policy. Checked on what CloudFormation receives: the template transformed by SAM's own
translator (aws-sam-translator) and linted by cfn-lint, both unmodified."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from portafunc import App, Cors, HttpRequest, JwtAuth
from portafunc_aws.deploy.sam import TemplateError, build_template, to_yaml

ISSUER = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf"
USERS = JwtAuth(issuer=ISSUER, audience=["client-1", "client-2"])
CORS = Cors(allow_origins=["https://shop.example"], allow_headers=["Authorization", "Content-Type"],
            expose_headers=["X-Request-Id"], allow_credentials=True, max_age=600)


def _app(cors_per_route: bool = False, extra_auth: Any = None) -> App:
    app = App("jwt-api", auth=USERS, cors=CORS)

    @app.http(["GET", "PUT"], "/me")
    def me(req: HttpRequest) -> dict:
        return {}

    @app.http("GET", "/health", auth="anonymous")
    def health(req: HttpRequest) -> str:
        return "ok"

    @app.http("POST", "/internal", auth="function")
    def internal(req: HttpRequest) -> str:
        return "ok"

    if extra_auth is not None:
        @app.http("GET", "/other", auth=extra_auth)
        def other(req: HttpRequest) -> str:
            return "ok"

    if cors_per_route:
        @app.http("GET", "/public", auth="anonymous", cors=Cors(allow_origins=["*"]))
        def public(req: HttpRequest) -> str:
            return "ok"

    return app


def _transformed(app: App, tmp_path: Path) -> dict[str, Any]:
    """The template as CloudFormation receives it, after cfn-lint found no error in it."""
    import os

    import yaml
    from samtranslator.translator.transform import transform

    class Policies:
        def load(self) -> dict[str, str]:
            return {"AWSLambdaBasicExecutionRole": "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"}

    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    template = build_template(app, app_ref="main:app", code_uri="s3://artifacts-bucket/x.zip", python="3.12",
                              arch="x86_64")
    out = tmp_path / "cfn.json"
    cfn = transform(yaml.safe_load(to_yaml(template)), {}, Policies())
    out.write_text(json.dumps(cfn))
    lint = subprocess.run([str(Path(sys.executable).parent / "cfn-lint"), str(out)], capture_output=True, text=True,
                          timeout=300)
    assert lint.returncode == 0, lint.stdout
    return cfn["Resources"]


def _api_body(resources: dict[str, Any]) -> dict[str, Any]:
    (api,) = [r for r in resources.values() if r["Type"] == "AWS::ApiGatewayV2::Api"]
    return api["Properties"]["Body"]


def test_jwt_routes_get_the_jwt_authorizer_and_iam_routes_the_iam_one(tmp_path: Path) -> None:
    body = _api_body(_transformed(_app(), tmp_path))
    schemes = body["components"]["securitySchemes"]
    jwt = schemes["Jwt1"]["x-amazon-apigateway-authorizer"]
    assert jwt == {"type": "jwt", "identitySource": "$request.header.Authorization",
                   "jwtConfiguration": {"issuer": ISSUER, "audience": ["client-1", "client-2"]}}
    assert "AWS_IAM" in schemes
    security = {f"{m.upper()} {p}": op.get("security") for p, ops in body["paths"].items() for m, op in ops.items()
                if m != "x-amazon-apigateway-any-method"}
    assert security == {"GET /me": [{"Jwt1": []}], "HEAD /me": [{"Jwt1": []}], "PUT /me": [{"Jwt1": []}],
                        "GET /health": None, "HEAD /health": None, "POST /internal": [{"AWS_IAM": []}]}
    default = body["paths"]["$default"]["x-amazon-apigateway-any-method"]
    assert "security" not in default  # 404/405 and preflights are answered by the router, unauthenticated


def test_one_cors_policy_becomes_the_apis_cors_configuration(tmp_path: Path) -> None:
    body = _api_body(_transformed(_app(), tmp_path))
    assert body["x-amazon-apigateway-cors"] == {
        "allowOrigins": ["https://shop.example"], "allowMethods": ["GET", "HEAD", "POST", "PUT"],
        "allowHeaders": ["authorization", "content-type"], "exposeHeaders": ["X-Request-Id"],
        "allowCredentials": True, "maxAge": 600}


def test_differing_cors_policies_are_left_to_the_function(tmp_path: Path) -> None:
    body = _api_body(_transformed(_app(cors_per_route=True), tmp_path))
    assert "x-amazon-apigateway-cors" not in body


def test_a_jwt_auth_api_gateway_cannot_verify_gets_no_native_authorizer(tmp_path: Path) -> None:
    ec_users = JwtAuth(issuer="https://login.example.com/", audience="api", algorithms=["ES256"])
    body = _api_body(_transformed(_app(extra_auth=ec_users), tmp_path))
    assert set(body["components"]["securitySchemes"]) == {"Jwt1", "AWS_IAM"}
    assert body["paths"]["/other"]["get"].get("security") is None


def test_the_same_settings_share_one_authorizer_and_others_get_their_own(tmp_path: Path) -> None:
    same = JwtAuth(issuer=ISSUER, audience=["client-1", "client-2"])
    assert set(_api_body(_transformed(_app(extra_auth=same), tmp_path))["components"]["securitySchemes"]) == \
        {"Jwt1", "AWS_IAM"}
    other = JwtAuth(issuer=ISSUER, audience="admin-client")
    schemes = _api_body(_transformed(_app(extra_auth=other), tmp_path))["components"]["securitySchemes"]
    assert schemes["Jwt2"]["x-amazon-apigateway-authorizer"]["jwtConfiguration"]["audience"] == ["admin-client"]


def test_a_local_issuer_is_refused_for_the_cloud() -> None:
    app = App("local", auth=JwtAuth(issuer="http://127.0.0.1:9000", audience="api"))
    app.http("GET", "/me", name="me")(lambda req: None)
    with pytest.raises(TemplateError, match="not https"):
        build_template(app, app_ref="main:app", code_uri="x.zip", python="3.12", arch="x86_64")
