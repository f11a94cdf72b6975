"""JwtAuth through every target's real entry point: bearer JWTs signed by a test RSA key (written by google-auth's
encoder), the key set served by a real HTTP server on 127.0.0.1 started by the test (tests/idp.py)."""

from __future__ import annotations

import time
from typing import Iterator

import pytest

from idp import IdentityProvider, SigningKey
from portafunc import App, Cors, HttpRequest, HttpResponse, JwtAuth, Router

AUD = "api://orders"


@pytest.fixture
def idp() -> Iterator[IdentityProvider]:
    provider = IdentityProvider()
    yield provider
    provider.close()


def guarded_app(idp: IdentityProvider, **auth_options: object) -> App:
    auth = JwtAuth(issuer=idp.issuer, audience=AUD, **auth_options)  # type: ignore[arg-type]
    app = App("jwt", auth=auth, cors=Cors(allow_origins=["https://shop.example"], allow_headers=["Authorization"]))

    @app.http("GET", "/me")
    def me(req: HttpRequest) -> dict:
        assert req.principal is not None
        return {"sub": req.principal["sub"], "iss": req.principal["iss"]}

    @app.http("GET", "/health", auth="anonymous")
    def health(req: HttpRequest) -> dict:
        return {"principal": req.principal}

    admin = Router()

    @admin.http("GET", "/stats")
    def stats(req: HttpRequest) -> dict:
        return {"sub": req.principal["sub"] if req.principal else None}

    app.include_router(admin, prefix="/admin")
    return app


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_a_valid_token_reaches_the_handler_with_its_claims_as_principal(cloud, idp: IdentityProvider) -> None:
    app = guarded_app(idp)
    resp = cloud.http(app, "GET", "/me", headers=bearer(idp.token()))
    assert (resp.status, resp.json_body()) == (200, {"sub": "user-1", "iss": idp.issuer})
    stats = cloud.http(app, "GET", "/admin/stats", headers=bearer(idp.token(sub="user-2")))
    assert stats.json_body() == {"sub": "user-2"}  # a router's route takes the app's auth


def test_no_token_is_401_with_a_bearer_challenge_and_the_handler_never_runs(cloud, idp: IdentityProvider) -> None:
    app = guarded_app(idp)
    for headers in ({}, {"Authorization": "Basic dXNlcjpwYXNz"}, {"Authorization": "Bearer "}):
        resp = cloud.http(app, "GET", "/me", headers=headers)
        assert resp.status == 401 and resp.headers["content-type"] == "application/problem+json", headers
        assert resp.headers["www-authenticate"] == "Bearer"
    assert cloud.http(app, "GET", "/admin/stats").status == 401


@pytest.mark.parametrize("case", ["expired", "not yet valid", "wrong audience", "wrong issuer", "other key",
                                  "unknown kid", "alg none", "alg HS256 signed with the public key", "tampered",
                                  "no exp"])
def test_bad_tokens_are_401_invalid_token(cloud, idp: IdentityProvider, case: str) -> None:
    import base64
    import hashlib
    import hmac
    import json

    now = int(time.time())
    if case == "expired":
        token = idp.token(iat=now - 7200, exp=now - 3600)
    elif case == "not yet valid":
        token = idp.token(nbf=now + 3600)
    elif case == "wrong audience":
        token = idp.token(audience="api://someone-else")
    elif case == "wrong issuer":
        token = idp.token(iss="https://evil.example")
    elif case == "other key":
        token = idp.token(key=SigningKey("key-1"))  # same kid, another key: the signature fails
    elif case == "unknown kid":
        token = SigningKey("key-made-up").sign({"iss": idp.issuer, "aud": AUD, "sub": "x", "exp": now + 60})
    elif case == "tampered":
        head, _, sig = idp.token().split(".")
        claims = {"iss": idp.issuer, "aud": AUD, "sub": "admin", "exp": now + 60}
        body = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
        token = f"{head}.{body}.{sig}"
    elif case == "no exp":
        token = idp.token(exp=None)
    else:
        def b64(raw: bytes) -> str:
            return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

        alg = "none" if case == "alg none" else "HS256"
        head = b64(json.dumps({"alg": alg, "kid": "key-1", "typ": "JWT"}).encode())
        body = b64(json.dumps({"iss": idp.issuer, "aud": AUD, "sub": "admin", "exp": now + 60}).encode())
        public_jwk = json.dumps(idp.keys[0].jwk()).encode()  # the classic confusion: the public key as HMAC secret
        sig = "" if alg == "none" else b64(hmac.new(public_jwk, f"{head}.{body}".encode(), hashlib.sha256).digest())
        token = f"{head}.{body}.{sig}"
    resp = cloud.http(guarded_app(idp), "GET", "/me", headers=bearer(token))
    assert resp.status == 401, (case, resp.body)
    assert resp.headers["www-authenticate"].startswith('Bearer error="invalid_token", error_description="')
    assert token not in resp.body.decode() and token not in resp.headers["www-authenticate"]


def test_a_route_can_opt_out_and_401s_carry_cors_headers(cloud, idp: IdentityProvider) -> None:
    app = guarded_app(idp)
    assert cloud.http(app, "GET", "/health").json_body() == {"principal": None}
    refused = cloud.http(app, "GET", "/me", headers={"Origin": "https://shop.example"})
    assert refused.status == 401 and refused.headers["access-control-allow-origin"] == "https://shop.example"
    preflight = cloud.http(app, "OPTIONS", "/me", headers={"Origin": "https://shop.example",
                                                           "Access-Control-Request-Method": "GET",
                                                           "Access-Control-Request-Headers": "authorization"})
    assert preflight.status == 204  # a preflight carries no token: it is never refused for lacking one


def test_keys_come_from_oidc_discovery_once_and_rotate_on_an_unknown_kid(cloud, idp: IdentityProvider) -> None:
    app = guarded_app(idp)  # no jwks_url: discovery
    for _ in range(3):
        assert cloud.http(app, "GET", "/me", headers=bearer(idp.token())).status == 200
    assert idp.requests == ["/.well-known/openid-configuration", "/jwks.json"]
    new = idp.rotate()
    assert cloud.http(app, "GET", "/me", headers=bearer(idp.token(key=new))).status == 200
    assert idp.requests[2:] == ["/jwks.json"]  # the new kid refetched the set once
    forged = SigningKey("forged")
    for i in range(5):  # made-up kids: no further fetch within a minute
        token = forged.sign({"iss": idp.issuer, "aud": AUD, "sub": "x", "exp": int(time.time()) + 60},
                            kid=f"forged-{i}")
        assert cloud.http(app, "GET", "/me", headers=bearer(token)).status == 401
    assert len(idp.requests) == 3


def test_an_explicit_jwks_url_skips_discovery(cloud, idp: IdentityProvider) -> None:
    app = guarded_app(idp, jwks_url=idp.jwks_url)
    assert cloud.http(app, "GET", "/me", headers=bearer(idp.token())).status == 200
    assert idp.requests == ["/jwks.json"]


def test_unreachable_keys_fail_closed_with_503(cloud) -> None:
    provider = IdentityProvider()
    token = provider.token()
    app = guarded_app(provider, jwks_url=provider.jwks_url)
    provider.close()
    resp = cloud.http(app, "GET", "/me", headers=bearer(token))
    assert resp.status == 503 and resp.headers["retry-after"] == "30"


def test_idempotency_keys_are_scoped_to_the_verified_caller(cloud, idp: IdentityProvider) -> None:
    app = App("jwt-idem", auth=JwtAuth(issuer=idp.issuer, audience=AUD))
    runs: list[str] = []

    @app.http("POST", "/pay", idempotent=True)
    def pay(req: HttpRequest) -> HttpResponse:
        assert req.principal is not None
        runs.append(req.principal["sub"])
        return HttpResponse.json({"run": len(runs)})

    first = cloud.http(app, "POST", "/pay", headers=bearer(idp.token()) | {"Idempotency-Key": "k-1"})
    refreshed = idp.token(iat=int(time.time()) - 1)  # another token of the same user (a refresh)
    again = cloud.http(app, "POST", "/pay", headers=bearer(refreshed) | {"Idempotency-Key": "k-1"})
    other = cloud.http(app, "POST", "/pay", headers=bearer(idp.token(sub="user-2")) | {"Idempotency-Key": "k-1"})
    assert (first.json_body(), again.json_body(), other.json_body()) == ({"run": 1}, {"run": 1}, {"run": 2})
    assert runs == ["user-1", "user-2"]
