"""A JwtAuth route is public to Cloud Run IAM (the function verifies the bearer token itself): it shares the one HTTP
service with anonymous routes, and mixing it with IAM-authenticated routes is refused like any public route."""

from __future__ import annotations

import pytest

from portafunc import App, HttpRequest, JwtAuth
from portafunc.packaging.build import PackagingError
from portafunc_gcp.deploy.script import http_access
from portafunc_gcp.target import Target

USERS = JwtAuth(issuer="https://login.example.com/", audience="api://orders")


def _app(other_auth: str) -> App:
    app = App("jwt-gcp", auth=USERS)

    @app.http("GET", "/me")
    def me(req: HttpRequest) -> dict:
        return {}

    @app.http("GET", "/other", auth=other_auth)  # type: ignore[arg-type]
    def other(req: HttpRequest) -> str:
        return "ok"

    return app


def test_jwt_routes_are_public_to_iam_beside_anonymous_ones() -> None:
    app = _app("anonymous")
    assert http_access(app) == "public"
    assert "bearer JWT verified by the function" in Target().native_trigger(app.function("me")).detail


def test_jwt_routes_cannot_share_the_service_with_iam_routes() -> None:
    with pytest.raises(PackagingError, match="auth='function'"):
        http_access(_app("function"))
