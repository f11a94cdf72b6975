"""Pub/Sub push authentication: verify the OIDC token Pub/Sub attaches to each push request.

A push subscription with ``--push-auth-service-account`` sends ``Authorization: Bearer <Google-signed ID token>``.
When the endpoint is not behind Cloud Run/Functions IAM (``--allow-unauthenticated``, a plain server), nobody else
checks it, so this module does: RS256 signature by one of Google's keys (``kid`` from the JWT header), issuer
``https://accounts.google.com`` (or ``accounts.google.com``), audience (the push endpoint URL unless the subscription
set ``--push-auth-token-audience``), the pushing service account's ``email`` (with ``email_verified``), ``exp`` /
``iat`` with a small clock leeway. The token checks are core's one JWT path (:mod:`portafunc.jwks`, on PyJWT), the
same that verifies end users' tokens for ``portafunc.JwtAuth``.

Missing or unreadable credentials → 401 (with ``WWW-Authenticate: Bearer``); a genuine token issued for another
audience or service account → 403. Keys are injectable (``keys=`` a mapping of ``kid`` to public key or PEM, or a
callable); by default Google's JWKS is fetched and cached per its ``Cache-Control`` max-age. PyJWT and
``cryptography`` are imported on first verification only.
"""

from __future__ import annotations

import os
import time
from typing import Any, Callable, Iterable, Mapping

from portafunc import logs
from portafunc.errors import reduce_exception
from portafunc.events import HttpRequest, HttpResponse
from portafunc.jwks import KeySet, TokenRefused, parse_jwks, verify_jwt

GOOGLE_ISSUERS = ("https://accounts.google.com", "accounts.google.com")
GOOGLE_JWKS_URL = "https://www.googleapis.com/oauth2/v3/certs"
AUDIENCE_ENV = "PORTAFUNC_PUSH_AUDIENCE"
SERVICE_ACCOUNTS_ENV = "PORTAFUNC_PUSH_SERVICE_ACCOUNTS"


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
    __reduce__ = reduce_exception  # copy and pickle without calling __init__ again

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


class GoogleKeys(KeySet):
    """Google's OIDC signing keys (JWKS): a :class:`portafunc.jwks.KeySet` on Google's certs address.

    Fetched on first use and refreshed after the max-age; a ``kid`` the set does not hold refetches it at most once
    per ``refetch_interval`` seconds, and a failed fetch is not retried for ``failure_backoff`` seconds. ``clock`` is
    injectable for tests.
    """

    def __init__(self, url: str = GOOGLE_JWKS_URL, fetch: Callable[[str], tuple[bytes, float]] | None = None, *,
                 refetch_interval: float = 60.0, failure_backoff: float = 30.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(url, fetch, refetch_interval=refetch_interval, failure_backoff=failure_backoff, clock=clock)


def jwks_to_keys(jwks: Mapping[str, Any]) -> dict[str, Any]:
    """``{"keys": [{"kid", "kty": "RSA", "n", "e"}]}`` → ``{kid: public key}``."""
    return {kid: found.key for kid, found in parse_jwks(jwks).items()}


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
                 issuers: Iterable[str] = GOOGLE_ISSUERS, leeway: float = 60.0) -> None:
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
        """The claims of a valid token; raises ``_Refused`` (401/403) otherwise.

        Signature, algorithm (RS256 only), ``exp``/``iat`` with the leeway and issuer are checked by
        :func:`portafunc.jwks.verify_jwt` (401 when they fail); the audience and the pushing service account here,
        403 for a genuine token issued to someone else."""
        try:
            claims = verify_jwt(token, self._keys, algorithms=("RS256",), issuers=self.issuers, audiences=None,
                                leeway=self.leeway)
        except TokenRefused as exc:
            raise _Refused(401, exc.detail) from None
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
