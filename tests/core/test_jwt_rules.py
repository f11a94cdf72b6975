"""JwtAuth's rules that need no cloud: what registration refuses, which algorithms and keys the verifier accepts,
that a token never reaches a log line, and the whole path through ``portafunc run``'s real HTTP server (the cloud
entry points are in tests/contract/test_jwt_auth.py). Tokens are signed by a test RSA key with google-auth's encoder;
the key set is served by a real local HTTP server (tests/idp.py)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Iterator

import pytest

from idp import IdentityProvider
from portafunc import App, HttpRequest, JwtAuth, RegistrationError, Router
from portafunc.app import HttpTrigger
from portafunc.invoke import handle_http
from portafunc.jwks import KeySet, SetKey, TokenRefused, verify_jwt
from test_runner import start

AUD = "api://orders"


@pytest.fixture
def idp() -> Iterator[IdentityProvider]:
    provider = IdentityProvider()
    yield provider
    provider.close()


@pytest.mark.parametrize("kwargs,match", [
    ({"issuer": "http://login.example.com", "audience": AUD}, "https"),
    ({"issuer": "https://login.example.com", "audience": AUD, "jwks_url": "http://keys.example.com/jwks"}, "https"),
    ({"issuer": "https://login.example.com", "audience": ""}, "audience"),
    ({"issuer": "https://login.example.com", "audience": []}, "audience"),
    ({"issuer": "https://login.example.com", "audience": AUD, "algorithms": ["none"]}, "never accepted"),
    ({"issuer": "https://login.example.com", "audience": AUD, "algorithms": ["RS256", "HS256"]}, "HS256"),
    ({"issuer": "https://login.example.com", "audience": AUD, "algorithms": "RS256"}, "list"),
    ({"issuer": "https://login.example.com", "audience": AUD, "leeway": -1}, "leeway"),
])
def test_unsafe_settings_are_refused_at_registration(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(RegistrationError, match=match):
        JwtAuth(**kwargs)


def test_auth_values_are_checked_and_the_public_fields_kept() -> None:
    auth = JwtAuth(issuer="https://login.example.com/", audience=["a", "b"], algorithms=("RS256", "ES256"))
    assert (auth.issuer, auth.audience, auth.jwks_url, auth.algorithms, auth.leeway) == \
        ("https://login.example.com/", ("a", "b"), None, ("RS256", "ES256"), 60.0)
    assert JwtAuth(issuer="http://localhost:8000", audience="x").issuer == "http://localhost:8000"
    with pytest.raises(RegistrationError, match="auth must be"):
        App("a", auth="jwt")  # type: ignore[arg-type]
    app = App("a", auth=auth)
    with pytest.raises(RegistrationError, match="auth must be"):
        app.http("GET", "/x", auth="key")  # type: ignore[arg-type]
    with pytest.raises(RegistrationError, match="auth must be"):
        Router(auth="users")


def test_route_router_and_app_auth_resolve_innermost_first() -> None:
    app_auth = JwtAuth(issuer="https://app.example", audience="a")
    router_auth = JwtAuth(issuer="https://router.example", audience="r")
    app = App("a", auth=app_auth)
    app.http("GET", "/a", name="a")(lambda req: None)
    app.http("GET", "/public", name="public", auth="anonymous")(lambda req: None)
    plain, guarded = Router(), Router(auth=router_auth)
    plain.http("GET", "/p", name="p")(lambda req: None)
    guarded.http("GET", "/g", name="g")(lambda req: None)
    guarded.http("GET", "/k", name="k", auth="function")(lambda req: None)
    app.include_router(plain)
    app.include_router(guarded)
    auths = {name: spec.trigger.auth for name, spec in app.functions.items() if isinstance(spec.trigger, HttpTrigger)}
    assert auths == {"a": app_auth, "public": "anonymous", "p": app_auth, "g": router_auth, "k": "function"}
    assert App("b").auth == "anonymous"


def _rsa_keys(idp: IdentityProvider) -> KeySet:
    body = json.dumps({"keys": [k.jwk() for k in idp.keys]}).encode()
    return KeySet("unused", fetch=lambda url: (body, 3600.0))


def test_the_algorithm_must_fit_the_allow_list_the_key_type_and_the_jwk(idp: IdentityProvider) -> None:
    from cryptography.hazmat.primitives.asymmetric import ec

    token = idp.token()
    keys = _rsa_keys(idp)
    common: dict[str, Any] = {"issuers": [idp.issuer], "audiences": [AUD]}
    assert verify_jwt(token, keys, algorithms=["RS256"], **common)["sub"] == "user-1"
    with pytest.raises(TokenRefused) as refused:
        verify_jwt(token, keys, algorithms=["PS256"], **common)  # not in the allow-list
    assert refused.value.kind == "algorithm"
    with pytest.raises(TokenRefused) as refused:
        verify_jwt(token, keys, algorithms=["HS256"], **common)  # HS is dropped even if a caller asks for it
    assert refused.value.kind == "algorithm"
    ps_key = SetKey(idp.keys[0].private.public_key(), "PS256")  # the JWK pins another algorithm
    with pytest.raises(TokenRefused, match="is for PS256"):
        verify_jwt(token, lambda kid: ps_key, algorithms=["RS256", "PS256"], **common)
    ec_key = ec.generate_private_key(ec.SECP256R1()).public_key()  # a key of another type
    with pytest.raises(TokenRefused) as refused:
        verify_jwt(token, lambda kid: ec_key, algorithms=["RS256"], **common)
    assert refused.value.kind == "signature"


def test_an_hmac_jwk_in_the_set_is_never_loaded() -> None:
    from portafunc.jwks import parse_jwks

    keys = parse_jwks({"keys": [{"kty": "oct", "kid": "h", "k": "c2VjcmV0"},
                                {"kty": "RSA", "kid": "enc", "use": "enc", "n": "AQAB", "e": "AQAB"},
                                "not a jwk", {"kty": "RSA", "n": "x"}]})
    assert keys == {}


def test_refusals_log_the_reason_never_the_token(idp: IdentityProvider, capsys: pytest.CaptureFixture[str]) -> None:
    app = App("logs", auth=JwtAuth(issuer=idp.issuer, audience=AUD, jwks_url=idp.jwks_url))
    app.http("GET", "/me", name="me")(lambda req: {"ok": True})
    expired = idp.token(exp=int(time.time()) - 3600, iat=int(time.time()) - 7200)
    wrong = idp.token(audience="api://other")
    for token in (expired, wrong):
        resp = handle_http(app, HttpRequest("GET", "/me", headers={"Authorization": f"Bearer {token}"}))
        assert resp.status == 401
    err = capsys.readouterr()
    output = err.out + err.err
    assert '"reason":"expired"' in output.replace(" ", "") and '"reason":"audience"' in output.replace(" ", "")
    for token in (expired, wrong):
        for part in token.split("."):
            assert part not in output


RUN_APP = Path(__file__).resolve().parent / "runner_fixtures" / "jwt_api"


def test_portafunc_run_verifies_bearer_tokens(idp: IdentityProvider, tmp_path: Path) -> None:
    runner = start(RUN_APP, tmp_path, "--no-reload", TEST_ISSUER=idp.issuer)
    try:
        status, headers, body = runner.request("GET", "/me", headers={"Authorization": f"Bearer {idp.token()}"})
        assert (status, json.loads(body)) == (200, {"sub": "user-1"})
        status, headers, body = runner.request("GET", "/me")
        assert (status, headers["WWW-Authenticate"]) == (401, "Bearer")
        assert json.loads(body)["title"] == "Unauthorized"
        status, headers, _ = runner.request("GET", "/me", headers={"Authorization": "Bearer a.b.c"})
        assert status == 401 and headers["WWW-Authenticate"].startswith('Bearer error="invalid_token"')
        assert runner.request("GET", "/health")[0] == 200
    finally:
        assert runner.stop() == 0, runner.stderr
