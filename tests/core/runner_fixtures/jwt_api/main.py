"""An app guarded by JwtAuth, served by ``portafunc run`` in tests/core/test_jwt_rules.py; the issuer is the test's
local identity provider (``TEST_ISSUER``)."""

import os

from portafunc import App, HttpRequest, JwtAuth

app = App("jwt-api", auth=JwtAuth(issuer=os.environ["TEST_ISSUER"], audience="api://orders"))


@app.http("GET", "/me")
def me(req: HttpRequest) -> dict:
    assert req.principal is not None  # the route requires a verified token
    return {"sub": req.principal["sub"]}


@app.http("GET", "/health", auth="anonymous")
def health(req: HttpRequest) -> str:
    return "ok"
