"""Pub/Sub push authentication: verify the OIDC token Pub/Sub attaches to each push request.

A push subscription with ``--push-auth-service-account`` sends ``Authorization: Bearer <Google-signed ID token>``.
When the endpoint is not behind Cloud Run/Functions IAM (``--allow-unauthenticated``, a plain server), nobody else
checks it, so this module does: RS256 signature by one of Google's keys (``kid`` from the JWT header), issuer
``https://accounts.google.com`` (or ``accounts.google.com``), audience (the push endpoint URL unless the subscription
set ``--push-auth-token-audience``), the pushing service account's ``email`` (with ``email_verified``), ``exp`` /
``iat`` with a small clock leeway.

Missing or unreadable credentials → 401 (with ``WWW-Authenticate: Bearer``); a genuine token issued for another
audience or service account → 403. Keys are injectable (``keys=`` a mapping of ``kid`` to public key or PEM, or a
callable); by default Google's JWKS is fetched and cached per its ``Cache-Control`` max-age. ``cryptography`` is
imported on first verification only.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import threading
import time
from typing import Any, Callable, Iterable, Mapping

from portafunc import logs
from portafunc.events import HttpRequest, HttpResponse

GOOGLE_ISSUERS = ("https://accounts.google.com", "accounts.google.com")
GOOGLE_JWKS_URL = "https://www.googleapis.com/oauth2/v3/certs"
AUDIENCE_ENV = "PORTAFUNC_PUSH_AUDIENCE"
SERVICE_ACCOUNTS_ENV = "PORTAFUNC_PUSH_SERVICE_ACCOUNTS"
MAX_TOKEN_CHARS = 16 * 1024


class PushAuthVerdict:
    """Accepted (with the token's claims) or refused with the status and reason to answer."""

    __slots__ = ("accepted", "status", "detail", "claims")

    def __init__(self, accepted: bool, status: int, detail: str, claims: Mapping[str, Any] | None = None) -> None:
        self.accepted = accepted
        self.status = status
        self.detail = detail
        self.claims = claims

    def __repr__(self) -> str:
        return f"PushAuthVerdict(accepted={self.accepted}, status={self.status}, detail={self.detail!r})"

    def response(self) -> HttpResponse:
        """The problem+json answer for a refusal (a 2xx would ack the message, so refusals are never 2xx)."""
        if self.accepted:
            return HttpResponse(status=204)
        title = "Unauthorized" if self.status == 401 else "Forbidden"
        resp = HttpResponse.problem(self.status, title, self.detail)
        if self.status == 401:
            resp.headers.add("WWW-Authenticate", 'Bearer error="invalid_token"')
        return resp


class _Refused(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


def _b64url(part: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
    except (binascii.Error, ValueError):
        raise _Refused(401, "the bearer token is not a JWT (bad base64url)") from None


def _json_part(part: str, what: str) -> dict[str, Any]:
    try:
        doc = json.loads(_b64url(part))
    except (ValueError, RecursionError):
        raise _Refused(401, f"the bearer token's {what} is not JSON") from None
    if not isinstance(doc, dict):
        raise _Refused(401, f"the bearer token's {what} is not a JSON object")
    return doc


class GoogleKeys:
    """Google's OIDC signing keys (JWKS), fetched on first use and refreshed after max-age or on an unknown kid.

    Refetches are rate limited: a ``kid`` the set does not hold (an attacker can put any value there) triggers at
    most one refetch per ``refetch_interval`` seconds, and a failed fetch is not retried for ``failure_backoff``
    seconds; requests in between are answered from the set in hand (an unknown kid is then simply unknown). Known
    keys are looked up without waiting for a fetch in progress. ``clock`` is injectable for tests.
    """

    def __init__(self, url: str = GOOGLE_JWKS_URL, fetch: Callable[[str], tuple[bytes, float]] | None = None, *,
                 refetch_interval: float = 60.0, failure_backoff: float = 30.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.url = url
        self._fetch = fetch or _fetch_jwks
        self._lock = threading.Lock()
        self._keys: dict[str, Any] = {}
        self._expires = 0.0
        self._next_refetch = 0.0  # earliest time an unknown kid may refetch
        self._retry_after = 0.0  # earliest time after a failed fetch
        self._failure: str | None = None
        self.refetch_interval = refetch_interval
        self.failure_backoff = failure_backoff
        self._clock = clock
        self.fetches = 0

    def __call__(self, kid: str) -> Any:
        keys, now = self._keys, self._clock()
        if kid in keys and now < self._expires:
            return keys[kid]
        with self._lock:
            now = self._clock()
            stale = now >= self._expires
            if kid in self._keys and not stale:
                return self._keys[kid]  # another request refreshed the set while this one waited
            if now < self._retry_after:
                if stale and not self._keys:
                    raise OSError(f"Google's signing keys are unavailable ({self._failure}); retrying later")
                return self._keys.get(kid)
            if not stale and now < self._next_refetch:
                return None  # unknown kid, and the set was refetched for one recently
            self.fetches += 1
            try:
                body, max_age = self._fetch(self.url)
                fresh = jwks_to_keys(json.loads(body))
            except Exception as exc:
                self._retry_after = now + self.failure_backoff
                self._failure = type(exc).__name__
                raise
            self._keys = fresh
            self._expires = now + max_age
            if not stale:  # this fetch was for an unknown kid: the next one waits
                self._next_refetch = now + self.refetch_interval
            return self._keys.get(kid)


def _fetch_jwks(url: str) -> tuple[bytes, float]:
    import re
    import urllib.request

    with urllib.request.urlopen(url, timeout=5) as resp:  # noqa: S310 - a fixed https URL
        body = resp.read(256 * 1024)
        match = re.search(r"max-age=(\d+)", resp.headers.get("Cache-Control", ""))
    return body, float(match.group(1)) if match else 3600.0


def jwks_to_keys(jwks: Mapping[str, Any]) -> dict[str, Any]:
    """``{"keys": [{"kid", "kty": "RSA", "n", "e"}]}`` → ``{kid: RSAPublicKey}``."""
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicNumbers

    out = {}
    for jwk in jwks.get("keys", []):
        if isinstance(jwk, dict) and jwk.get("kty") == "RSA" and "kid" in jwk:
            n = int.from_bytes(_b64url(jwk["n"]), "big")
            e = int.from_bytes(_b64url(jwk["e"]), "big")
            out[str(jwk["kid"])] = RSAPublicNumbers(e, n).public_key()
    return out


def _as_key(value: Any) -> Any:
    if isinstance(value, (bytes, str)):
        from cryptography import x509
        from cryptography.hazmat.primitives.serialization import load_pem_public_key

        pem = value.encode() if isinstance(value, str) else value
        if b"CERTIFICATE" in pem:
            return x509.load_pem_x509_certificate(pem).public_key()
        return load_pem_public_key(pem)
    return value


class PushVerifier:
    """Checks the bearer token of a Pub/Sub push request.

    ``audience``: expected ``aud`` (default ``PORTAFUNC_PUSH_AUDIENCE``; required — without one nothing passes).
    ``service_accounts``: allowed ``email`` values (default ``PORTAFUNC_PUSH_SERVICE_ACCOUNTS``, comma separated;
    required). ``keys``: ``{kid: key or PEM}`` or ``callable(kid) -> key``; default Google's JWKS.
    """

    def __init__(self, audience: str | Iterable[str] | None = None, service_accounts: Iterable[str] | None = None,
                 *, keys: Mapping[str, Any] | Callable[[str], Any] | None = None,
                 issuers: Iterable[str] = GOOGLE_ISSUERS, leeway: float = 60.0,
                 clock: Callable[[], float] = time.time) -> None:
        if isinstance(audience, str):
            audience = [audience]
        self._audiences = list(audience) if audience is not None else None
        self._accounts = list(service_accounts) if service_accounts is not None else None
        if keys is None:
            self._keys: Callable[[str], Any] = GoogleKeys()
        elif callable(keys):
            self._keys = keys
        else:
            loaded = {kid: _as_key(value) for kid, value in keys.items()}
            self._keys = loaded.get
        self.issuers = tuple(issuers)
        self.leeway = leeway
        self._clock = clock

    @property
    def audiences(self) -> list[str]:
        if self._audiences is not None:
            return self._audiences
        return [a.strip() for a in os.environ.get(AUDIENCE_ENV, "").split(",") if a.strip()]

    @property
    def service_accounts(self) -> list[str]:
        if self._accounts is not None:
            return self._accounts
        return [a.strip() for a in os.environ.get(SERVICE_ACCOUNTS_ENV, "").split(",") if a.strip()]

    def verify_token(self, token: str) -> dict[str, Any]:
        """The claims of a valid token; raises ``_Refused`` (401/403) otherwise."""
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding, rsa

        if len(token) > MAX_TOKEN_CHARS:
            raise _Refused(401, "the bearer token is too long")
        parts = token.split(".")
        if len(parts) != 3:
            raise _Refused(401, "the bearer token is not a JWT (expected header.payload.signature)")
        header, claims = _json_part(parts[0], "header"), _json_part(parts[1], "payload")
        if header.get("alg") != "RS256":
            raise _Refused(401, f"token algorithm {header.get('alg')!r} is not RS256")
        kid = header.get("kid")
        if not isinstance(kid, str):
            raise _Refused(401, "the token header has no key id (kid)")
        try:
            key = self._keys(kid)
        except Exception as exc:  # noqa: BLE001 - key fetch failures refuse the request (Pub/Sub retries)
            raise _Refused(401, f"could not load the signing keys: {type(exc).__name__}") from None
        if not isinstance(key, rsa.RSAPublicKey):
            raise _Refused(401, f"unknown signing key {kid!r}")
        try:
            key.verify(_b64url(parts[2]), f"{parts[0]}.{parts[1]}".encode("ascii"), padding.PKCS1v15(),
                       hashes.SHA256())
        except (InvalidSignature, UnicodeEncodeError):
            raise _Refused(401, "the token signature does not verify") from None
        now = self._clock()
        exp, iat = claims.get("exp"), claims.get("iat")
        if not isinstance(exp, (int, float)) or isinstance(exp, bool) or now > exp + self.leeway:
            raise _Refused(401, "the token has expired (or has no exp)")
        if isinstance(iat, (int, float)) and not isinstance(iat, bool) and iat > now + self.leeway:
            raise _Refused(401, "the token is issued in the future")
        if claims.get("iss") not in self.issuers:
            raise _Refused(401, f"token issuer {claims.get('iss')!r} is not Google")
        audiences = self.audiences
        aud = claims.get("aud")
        aud_list = aud if isinstance(aud, list) else [aud]
        if not audiences:
            raise _Refused(403, f"no push audience is configured ({AUDIENCE_ENV}); refusing every token")
        if not any(a in audiences for a in aud_list):
            raise _Refused(403, f"token audience {aud!r} is not this endpoint's")
        accounts = self.service_accounts
        if not accounts:
            raise _Refused(403, f"no push service account is configured ({SERVICE_ACCOUNTS_ENV})")
        if claims.get("email") not in accounts or claims.get("email_verified") is not True:
            raise _Refused(403, f"token email {claims.get('email')!r} is not an allowed push service account")
        return claims

    def check(self, req: HttpRequest) -> PushAuthVerdict:
        """Accept or refuse a push request by its ``Authorization`` header."""
        value = req.headers.get("authorization")
        try:
            if not value:
                raise _Refused(401, "no Authorization header (configure the push subscription with "
                                    "--push-auth-service-account)")
            scheme, _, token = value.strip().partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise _Refused(401, "the Authorization header is not a Bearer token")
            claims = self.verify_token(token.strip())
        except _Refused as exc:
            logs.warning("Pub/Sub push request refused", status=exc.status, reason=exc.detail)
            return PushAuthVerdict(False, exc.status, exc.detail)
        return PushAuthVerdict(True, 200, "verified", claims)


_default: PushVerifier | None = None


def default_verifier() -> PushVerifier:
    """The process-wide verifier (shared Google key cache), configured from the environment."""
    global _default
    if _default is None:
        _default = PushVerifier()
    return _default


def verify_push(req: HttpRequest, verifier: PushVerifier | None = None) -> HttpResponse | None:
    """One-line wiring: ``None`` when the request may proceed, else the 401/403 response to return."""
    verdict = (verifier or default_verifier()).check(req)
    return None if verdict.accepted else verdict.response()


__all__ = ["GoogleKeys", "PushAuthVerdict", "PushVerifier", "default_verifier", "jwks_to_keys", "verify_push"]
