"""Pub/Sub push OIDC token verification (portafunc_gcp.inbound.push_auth).

No emulator signs push requests (the Pub/Sub emulator sends none), so tokens are made the way Google makes them —
RS256 JWTs with a ``kid`` header, written by google-auth's own ``google.auth.jwt.encode`` — with a locally generated
RSA key injected as the verifier's key set (also served as a JWKS document, the format of Google's certs endpoint).
The push bodies are the real samples from tests/fixtures/events/gcp/pubsub-push.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from portafunc.events import HttpRequest

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "events" / "gcp" / "pubsub-push"
AUDIENCE = "https://orders-abc123-uc.a.run.app/push"
SA = "pubsub-pusher@my-project.iam.gserviceaccount.com"
KID = "local-test-key-1"


@pytest.fixture(scope="module")
def keys() -> dict[str, Any]:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    def make() -> tuple[Any, bytes]:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
        return key, pem

    good, good_pem = make()
    other, other_pem = make()
    return {"good": good, "good_pem": good_pem, "other_pem": other_pem}


def _claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {"iss": "https://accounts.google.com", "aud": AUDIENCE, "azp": "1234567890", "email": SA,
              "email_verified": True, "iat": now - 10, "exp": now + 3600, "sub": "1234567890"}
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def _token(pem: bytes, kid: str = KID, **overrides: Any) -> str:
    from google.auth import crypt, jwt

    return jwt.encode(crypt.RSASigner.from_string(pem, key_id=kid), _claims(**overrides)).decode()


def _push(token: str | None, *, scheme: str = "Bearer") -> HttpRequest:
    body = (FIXTURES / "gce-MessagePublishedData-simple.json").read_bytes()
    headers = [("Content-Type", "application/json")]
    if token is not None:
        headers.append(("Authorization", f"{scheme} {token}"))
    return HttpRequest("POST", "/push", headers=headers, body=body)


def _verifier(key_material: dict[str, Any], **options: Any) -> Any:
    from portafunc_gcp.inbound.push_auth import PushVerifier

    options.setdefault("keys", {KID: key_material["good"].public_key()})
    return PushVerifier(AUDIENCE, [SA], **options)


def test_push_samples_exist() -> None:
    assert (FIXTURES / "gce-MessagePublishedData-simple.json").is_file(), f"missing samples in {FIXTURES}"


def test_valid_token_is_accepted(keys: dict[str, Any]) -> None:
    verdict = _verifier(keys).check(_push(_token(keys["good_pem"])))
    assert verdict.accepted, verdict
    assert verdict.claims["email"] == SA


def test_accepts_short_issuer_and_pem_keys(keys: dict[str, Any]) -> None:
    from cryptography.hazmat.primitives import serialization

    public_pem = keys["good"].public_key().public_bytes(serialization.Encoding.PEM,
                                                        serialization.PublicFormat.SubjectPublicKeyInfo)
    verifier = _verifier(keys, keys={KID: public_pem})
    assert verifier.check(_push(_token(keys["good_pem"], iss="accounts.google.com"))).accepted


@pytest.mark.parametrize("case,status", [
    ("missing", 401), ("basic scheme", 401), ("empty bearer", 401), ("not a jwt", 401), ("garbage parts", 401),
    ("other key", 401), ("unknown kid", 401), ("expired", 401), ("future iat", 401), ("no exp", 401),
    ("wrong issuer", 401), ("alg none", 401), ("alg HS256", 401), ("tampered payload", 401),
    ("wrong audience", 403), ("wrong email", 403), ("email unverified", 403),
])
def test_bad_tokens_are_refused(keys: dict[str, Any], case: str, status: int) -> None:
    import base64

    pem = keys["good_pem"]
    now = int(time.time())
    token: str | None
    scheme = "Bearer"
    if case == "missing":
        token = None
    elif case == "basic scheme":
        token, scheme = base64.b64encode(b"user:pass").decode(), "Basic"
    elif case == "empty bearer":
        token = ""
    elif case == "not a jwt":
        token = "abc.def"
    elif case == "garbage parts":
        token = "!!!.@@@.###"
    elif case == "other key":
        token = _token(keys["other_pem"])
    elif case == "unknown kid":
        token = _token(pem, kid="rotated-away")
    elif case == "expired":
        token = _token(pem, iat=now - 7200, exp=now - 3600)
    elif case == "future iat":
        token = _token(pem, iat=now + 3600, exp=now + 7200)
    elif case == "no exp":
        token = _token(pem, exp=None)
    elif case == "wrong issuer":
        token = _token(pem, iss="https://evil.example")
    elif case in ("alg none", "alg HS256"):
        good = _token(pem)
        header = {"alg": "none" if case == "alg none" else "HS256", "kid": KID, "typ": "JWT"}
        enc = base64.urlsafe_b64encode(json.dumps(header).encode()).rstrip(b"=").decode()
        token = ".".join([enc] + good.split(".")[1:2] + ([""] if case == "alg none" else good.split(".")[2:]))
    elif case == "tampered payload":
        head, _, sig = _token(pem).split(".")
        payload = base64.urlsafe_b64encode(json.dumps(_claims(email="attacker@evil.example")).encode())
        token = ".".join([head, payload.rstrip(b"=").decode(), sig])
    elif case == "wrong audience":
        token = _token(pem, aud="https://someone-else.example/push")
    elif case == "wrong email":
        token = _token(pem, email="other@my-project.iam.gserviceaccount.com")
    else:
        token = _token(pem, email_verified=False)
    verdict = _verifier(keys).check(_push(token, scheme=scheme))
    assert (verdict.accepted, verdict.status) == (False, status), (case, verdict)
    resp = verdict.response()
    assert resp.status == status and resp.headers["content-type"] == "application/problem+json"
    if status == 401:
        assert resp.headers.get("www-authenticate", "").startswith("Bearer")


def test_unconfigured_verifier_refuses_everything(keys: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    from portafunc_gcp.inbound.push_auth import PushVerifier

    monkeypatch.delenv("PORTAFUNC_PUSH_AUDIENCE", raising=False)
    monkeypatch.delenv("PORTAFUNC_PUSH_SERVICE_ACCOUNTS", raising=False)
    verifier = PushVerifier(keys={KID: keys["good"].public_key()})
    assert verifier.check(_push(_token(keys["good_pem"]))).status == 403
    monkeypatch.setenv("PORTAFUNC_PUSH_AUDIENCE", AUDIENCE)
    monkeypatch.setenv("PORTAFUNC_PUSH_SERVICE_ACCOUNTS", f"x@y.iam.gserviceaccount.com, {SA}")
    assert verifier.check(_push(_token(keys["good_pem"]))).accepted


def test_jwks_key_set_is_fetched_once_and_refreshed_for_new_kid(keys: dict[str, Any]) -> None:
    import base64

    from portafunc_gcp.inbound.push_auth import GoogleKeys, PushVerifier

    numbers = keys["good"].public_key().public_numbers()

    def b64(n: int) -> str:
        return base64.urlsafe_b64encode(n.to_bytes((n.bit_length() + 7) // 8, "big")).rstrip(b"=").decode()

    jwks = {"keys": [{"kid": KID, "kty": "RSA", "alg": "RS256", "use": "sig", "n": b64(numbers.n),
                      "e": b64(numbers.e)}]}
    calls: list[str] = []

    def fetch(url: str) -> tuple[bytes, float]:
        calls.append(url)
        return json.dumps(jwks).encode(), 3600.0

    verifier = PushVerifier(AUDIENCE, [SA], keys=GoogleKeys(fetch=fetch))
    for _ in range(3):
        assert verifier.check(_push(_token(keys["good_pem"]))).accepted
    assert len(calls) == 1
    assert verifier.check(_push(_token(keys["good_pem"], kid="new-kid"))).status == 401
    assert len(calls) == 2  # an unknown kid refreshes the set once (key rotation)


def test_key_fetch_failure_refuses_without_crashing(keys: dict[str, Any]) -> None:
    from portafunc_gcp.inbound.push_auth import GoogleKeys, PushVerifier

    def fetch(url: str) -> tuple[bytes, float]:
        raise OSError("network down")

    verdict = PushVerifier(AUDIENCE, [SA], keys=GoogleKeys(fetch=fetch)).check(_push(_token(keys["good_pem"])))
    assert (verdict.accepted, verdict.status) == (False, 401)


def test_verify_push_one_line_wiring(keys: dict[str, Any]) -> None:
    from portafunc_gcp.inbound.push_auth import verify_push

    verifier = _verifier(keys)
    assert verify_push(_push(_token(keys["good_pem"])), verifier) is None
    refused = verify_push(_push(None), verifier)
    assert refused is not None and refused.status == 401


def test_import_is_light() -> None:
    import subprocess
    import sys

    code = ("import sys, portafunc_gcp.inbound.push_auth; "
            "print(sorted(m for m in ('cryptography', 'google.cloud.pubsub', 'google.auth') if m in sys.modules))")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True).stdout.strip() == "[]"
