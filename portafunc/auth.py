"""End-user authentication answered by the function itself, the same on every cloud and in ``portafunc run``.

:class:`JwtAuth` verifies the ``Authorization: Bearer`` JWT of each request to a function it guards (see
:mod:`portafunc.jwks` for the checks) before the middleware and the handler run; the verified claims become
``req.principal``. A request without a valid token is answered 401 ``application/problem+json`` with the
``WWW-Authenticate`` header of RFC 6750 (``Bearer`` alone when no token was sent, ``error="invalid_token"`` and a
description when one was refused); a key set that cannot be loaded is a 503 (the token was not judged). The token
itself is never logged nor echoed.
"""

from __future__ import annotations

from .errors import RegistrationError
from .events import HttpResponse

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Iterable

    from .events import HttpRequest
    from .jwks import KeySet

LOOPBACK = ("localhost", "127.0.0.1", "[::1]")


def _https_url(url: object, what: str) -> str:
    """``url`` when it is https (or http on a loopback address, for local identity providers and tests)."""
    if not isinstance(url, str) or not url:
        raise RegistrationError(f"JwtAuth {what} must be a URL, not {url!r}")
    scheme, sep, rest = url.partition("://")
    host = rest.split("/", 1)[0].rsplit(":", 1)[0] if not rest.startswith("[") else rest.split("]", 1)[0] + "]"
    if not sep or not rest or (scheme != "https" and not (scheme == "http" and host in LOOPBACK)):
        raise RegistrationError(f"JwtAuth {what} {url!r} must be an https:// URL (http only on localhost): keys "
                                "fetched over plain http could be replaced on the way")
    return url


class JwtAuth:
    """Accept only requests carrying a valid bearer JWT from ``issuer`` for ``audience``.

    Args:
        issuer: The identity provider's issuer URL, as in the tokens' ``iss`` claim (``https://login.example.com/``,
            ``https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC``). Without ``jwks_url`` its OIDC discovery
            document (``{issuer}/.well-known/openid-configuration``) names the key set.
        audience: The ``aud`` value(s) a token must carry (your API's identifier or the client id); one is enough.
        jwks_url: The JWKS address; ``None``: found by OIDC discovery from ``issuer``. Fetched once and cached for its
            ``Cache-Control`` max-age; a token signed by an unknown key (``kid``) refetches it at most once a minute
            (key rotation).
        algorithms: The signature algorithms accepted: asymmetric only (``RS256``, ``PS256``, ``ES256``, ``EdDSA``,
            ...). ``none`` and the HMAC ``HS*`` algorithms are refused: a public key set cannot verify them safely.
        leeway: Seconds of clock skew allowed on ``exp``, ``nbf`` and ``iat``.

    Raises:
        RegistrationError: A missing issuer or audience, a URL that is not https (http is allowed on localhost), or an
            algorithm that is not an asymmetric JWS algorithm.

    Example:
        ```python
        auth = JwtAuth(issuer="https://login.example.com/", audience="api://orders")
        app = App("shop", auth=auth)

        @app.http("GET", "/me")
        def me(req: HttpRequest) -> dict:
            return {"user": req.principal["sub"]}
        ```
    """

    __slots__ = ("issuer", "audience", "jwks_url", "algorithms", "leeway", "_keys")

    def __init__(self, issuer: str, audience: str | Iterable[str], jwks_url: str | None = None,
                 algorithms: Iterable[str] = ("RS256",), leeway: float = 60.0) -> None:
        from .jwks import ASYMMETRIC

        self.issuer = _https_url(issuer, "issuer")
        audiences = (audience,) if isinstance(audience, str) else tuple(audience)
        if not audiences or not all(isinstance(a, str) and a for a in audiences):
            raise RegistrationError("JwtAuth needs an audience: the aud value your tokens carry for this API")
        self.audience: str | tuple[str, ...] = audience if isinstance(audience, str) else audiences
        self.jwks_url = _https_url(jwks_url, "jwks_url") if jwks_url is not None else None
        if isinstance(algorithms, str):
            raise RegistrationError(f"JwtAuth algorithms must be a list, not the string {algorithms!r}")
        algs = tuple(dict.fromkeys(algorithms))
        bad = [a for a in algs if a not in ASYMMETRIC]
        if not algs or bad:
            raise RegistrationError(f"JwtAuth algorithms {bad or list(algs)} refused: use asymmetric ones "
                                    f"({', '.join(ASYMMETRIC)}); 'none' and HMAC (HS*) are never accepted")
        self.algorithms = algs
        if not isinstance(leeway, (int, float)) or isinstance(leeway, bool) or not 0 <= leeway <= 600:
            raise RegistrationError(f"JwtAuth leeway must be 0-600 seconds, not {leeway!r}")
        self.leeway = float(leeway)
        self._keys: KeySet | None = None

    def __repr__(self) -> str:
        return f"JwtAuth(issuer={self.issuer!r}, audience={self.audience!r})"

    @property
    def audiences(self) -> tuple[str, ...]:
        return (self.audience,) if isinstance(self.audience, str) else tuple(self.audience)

    def key_set(self) -> KeySet:
        """The key set (shared by every JwtAuth naming the same issuer and JWKS address)."""
        keys = self._keys
        if keys is None:
            keys = self._keys = _shared_key_set(self.issuer, self.jwks_url)
        return keys

    def verify(self, token: str) -> dict[str, Any]:
        """The claims of a valid ``token``; raises ``portafunc.jwks.TokenRefused`` otherwise."""
        from .jwks import verify_jwt

        return verify_jwt(token, self.key_set(), algorithms=self.algorithms, issuers=(self.issuer,),
                          audiences=self.audiences, leeway=self.leeway)

    def authenticate(self, req: HttpRequest) -> HttpResponse | None:
        """None when ``req`` carries a valid token (its claims set as ``req.principal``), else the answer to send."""
        from .jwks import TokenRefused

        value = req.headers.get("authorization")
        scheme, _, token = (value or "").strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            return _unauthorized("send a bearer token: Authorization: Bearer <JWT>", None)
        try:
            req.principal = self.verify(token)
        except TokenRefused as exc:
            from . import logs

            logs.log("INFO", "authentication refused", reason=exc.kind, detail=exc.detail)
            if exc.kind == "keys_unavailable":
                resp = HttpResponse.problem(503, "Service Unavailable",
                                            "the token's signing keys could not be loaded; try again later")
                resp.headers.add("Retry-After", "30")
                return resp
            return _unauthorized(exc.detail, exc.detail)
        return None


def _unauthorized(detail: str, error_description: str | None) -> HttpResponse:
    resp = HttpResponse.problem(401, "Unauthorized", detail)
    if error_description is None:  # RFC 6750 3.1: no error code when the request carried no token
        resp.headers.add("WWW-Authenticate", "Bearer")
    else:
        text = error_description.replace("\\", "").replace('"', "'")
        resp.headers.add("WWW-Authenticate", f'Bearer error="invalid_token", error_description="{text}"')
    return resp


_key_sets: dict[tuple[str, str | None], KeySet] = {}


def _shared_key_set(issuer: str, jwks_url: str | None) -> KeySet:
    from .jwks import KeySet

    found = _key_sets.get((issuer, jwks_url))
    if found is None:
        found = _key_sets[(issuer, jwks_url)] = KeySet(jwks_url or _Discovery(issuer))
    return found


class _Discovery:
    """The ``jwks_uri`` of the issuer's OpenID Connect discovery document, fetched once; the document must name the
    same issuer (OpenID Connect Discovery 1.0, section 4.3)."""

    def __init__(self, issuer: str) -> None:
        self.issuer = issuer
        self._url: str | None = None

    def __call__(self) -> str:
        if self._url is None:
            import json

            from .jwks import fetch_url

            body, _ = fetch_url(self.issuer.rstrip("/") + "/.well-known/openid-configuration")
            document = json.loads(body)
            if not isinstance(document, dict) or document.get("issuer") != self.issuer:
                raise ValueError("the OIDC discovery document names another issuer")
            self._url = _https_url(document.get("jwks_uri"), "jwks_uri")
        return self._url


def check_auth(auth: object, where: str) -> None:
    """Refuse an ``auth`` value that is neither ``"anonymous"``, ``"function"`` nor a JwtAuth."""
    if auth is None or isinstance(auth, JwtAuth) or auth in AUTH_LEVELS:
        return
    raise RegistrationError(f"{where}: auth must be 'anonymous', 'function' or portafunc.JwtAuth(...), "
                            f"not {auth!r}")


def platform_level(auth: object) -> str:
    """What the cloud's front door enforces for ``auth``: ``"function"`` (its own credentials) or ``"anonymous"``
    (everything passes; a JwtAuth is checked by the function itself)."""
    return "function" if auth == "function" else "anonymous"


#: The cloud-level settings ``auth`` accepts besides a JwtAuth.
AUTH_LEVELS = ("anonymous", "function")

__all__ = ["JwtAuth"]
