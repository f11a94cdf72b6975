"""Bearer JWT verification: one path for end-user tokens (``portafunc.JwtAuth``) and for the platform tokens an
adapter checks (Pub/Sub push OIDC tokens).

:class:`KeySet` holds a JWKS document's public keys, fetched on first use and cached for the document's
``Cache-Control`` max-age. A ``kid`` the set does not hold (an attacker can put any value there) refetches the set at
most once per ``refetch_interval`` seconds, so a genuine key rotation is picked up and a stream of made-up kids costs
one request a minute; a failed fetch is not retried for ``failure_backoff`` seconds.

:func:`verify_jwt` checks a token with PyJWT (imported on first verification): the algorithm must be in the caller's
allow-list, which never holds ``none`` nor an HMAC algorithm (a JWKS holds public keys: an HMAC "secret" would be a
public key, the classic algorithm-confusion forgery), and must fit the key's type and the JWK's own ``alg``; then the
signature, ``exp`` / ``nbf`` / ``iat`` with a clock-skew leeway, the issuer and the audience. A refusal is a
:class:`TokenRefused` whose reason never contains the token.
"""

from __future__ import annotations

import json
import time

from .errors import reduce_exception

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Iterable, Mapping

    Fetch = Callable[[str], "tuple[bytes, float]"]

#: Asymmetric JWS algorithms a key set can verify (RFC 7518, RFC 8037). HMAC and ``none`` are never accepted.
ASYMMETRIC = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")
MAX_TOKEN_CHARS = 16 * 1024
MAX_JWKS_BYTES = 256 * 1024


class TokenRefused(Exception):
    """A bearer token that does not verify. ``kind``: ``malformed``, ``algorithm``, ``key``, ``signature``,
    ``expired``, ``not_yet_valid``, ``issuer``, ``audience``, ``claims`` or ``keys_unavailable`` (the key set could
    not be loaded: the token was not judged)."""

    __reduce__ = reduce_exception  # copy and pickle without calling __init__ again

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(detail)
        self.kind = kind
        self.detail = detail


class SetKey:
    """A public key of a key set, with the algorithm its JWK names (``alg``), if any."""

    __slots__ = ("key", "alg")

    def __init__(self, key: Any, alg: str | None = None) -> None:
        self.key = key
        self.alg = alg

    def __repr__(self) -> str:
        return f"SetKey({type(self.key).__name__}, alg={self.alg!r})"


def parse_jwks(document: Mapping[str, Any]) -> dict[str, SetKey]:
    """``{"keys": [JWK, ...]}`` → ``{kid: SetKey}``; keys without ``kid``, of another ``use`` than ``sig``, of an
    HMAC type (``oct``) or that PyJWT cannot load are skipped."""
    from jwt import PyJWK

    keys = document.get("keys") if isinstance(document, dict) else None
    out: dict[str, SetKey] = {}
    for jwk in keys if isinstance(keys, list) else ():
        if not isinstance(jwk, dict) or not isinstance(jwk.get("kid"), str) or jwk.get("kty") == "oct":
            continue
        if jwk.get("use", "sig") != "sig":
            continue
        alg = jwk.get("alg")
        try:
            loaded = PyJWK(jwk).key
        except Exception:  # noqa: BLE001 - one unusable key (unknown curve, bad numbers) must not void the set
            continue
        out[jwk["kid"]] = SetKey(loaded, alg if isinstance(alg, str) else None)
    return out


def fetch_url(url: str) -> tuple[bytes, float]:
    """GET ``url`` (5 s timeout, at most 256 KiB): the body and its ``Cache-Control`` max-age (else one hour)."""
    import re
    import urllib.request

    with urllib.request.urlopen(url, timeout=5) as resp:  # noqa: S310 - https, or loopback http (checked by callers)
        body = resp.read(MAX_JWKS_BYTES + 1)
        match = re.search(r"max-age=(\d+)", resp.headers.get("Cache-Control", ""))
    if len(body) > MAX_JWKS_BYTES:
        raise ValueError(f"the document at {url} is larger than {MAX_JWKS_BYTES} bytes")
    return body, float(match.group(1)) if match else 3600.0


class KeySet:
    """A JWKS key set, fetched on first use and refreshed after its max-age or, rate limited, on an unknown kid.

    ``url``: the JWKS address, or a callable giving it (resolved on first fetch: OIDC discovery). ``fetch``:
    ``fetch(url) -> (body, max_age)`` (default :func:`fetch_url`). Known keys are looked up without waiting for a
    fetch in progress. ``clock`` is injectable for tests. ``fetches`` counts the fetches made.
    """

    def __init__(self, url: str | Callable[[], str], fetch: Fetch | None = None, *,
                 refetch_interval: float = 60.0, failure_backoff: float = 30.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        import threading  # on first verification, off the cold-start path

        self._url = url
        self._fetch = fetch or fetch_url
        self._lock = threading.Lock()
        self._keys: dict[str, SetKey] = {}
        self._expires = 0.0
        self._next_refetch = 0.0  # earliest time an unknown kid may refetch
        self._retry_after = 0.0  # earliest time after a failed fetch
        self._failure: str | None = None
        self.refetch_interval = refetch_interval
        self.failure_backoff = failure_backoff
        self._clock = clock
        self.fetches = 0

    @property
    def url(self) -> str:
        url = self._url
        return url if isinstance(url, str) else url()

    def __call__(self, kid: str) -> SetKey | None:
        """The key ``kid``, or None when the set (fetched or refetched as the rules allow) does not hold it.

        Raises:
            OSError: The set could never be loaded (and the back-off after the last failure is still running).
            Exception: What the fetch raised, on the attempt that failed.
        """
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
                    raise OSError(f"the signing keys are unavailable ({self._failure}); retrying later")
                return self._keys.get(kid)
            if not stale and now < self._next_refetch:
                return None  # unknown kid, and the set was refetched for one recently
            self.fetches += 1
            try:
                body, max_age = self._fetch(self.url)
                fresh = parse_jwks(json.loads(body))
            except Exception as exc:
                self._retry_after = now + self.failure_backoff
                self._failure = type(exc).__name__
                raise
            self._keys = fresh
            self._expires = now + max_age
            if not stale:  # this fetch was for an unknown kid: the next one waits
                self._next_refetch = now + self.refetch_interval
            return self._keys.get(kid)


def verify_jwt(token: str, keys: Callable[[str], Any], *, algorithms: Iterable[str], issuers: Iterable[str],
               audiences: Iterable[str] | None, leeway: float = 60.0,
               require: Iterable[str] = ("exp", "iss")) -> dict[str, Any]:
    """The claims of ``token`` once verified; raises :class:`TokenRefused` otherwise.

    ``keys(kid)`` gives the public key (a ``SetKey``, a ``cryptography`` public key, or None when unknown).
    ``audiences``: the accepted ``aud`` values (one must match); None: the caller checks ``aud`` itself.
    """
    import jwt

    allowed = [a for a in algorithms if a in ASYMMETRIC]
    if len(token) > MAX_TOKEN_CHARS:
        raise TokenRefused("malformed", "the bearer token is too long")
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise TokenRefused("malformed", "the bearer token is not a JWT") from None
    alg = header.get("alg")
    if alg not in allowed:
        raise TokenRefused("algorithm", f"token algorithm {alg!r} is not accepted (accepted: {', '.join(allowed)})")
    kid = header.get("kid")
    if not isinstance(kid, str):
        raise TokenRefused("key", "the token header has no key id (kid)")
    try:
        found = keys(kid)
    except Exception as exc:  # noqa: BLE001 - a key set that cannot be loaded refuses the token, it never passes it
        raise TokenRefused("keys_unavailable", f"could not load the signing keys: {type(exc).__name__}") from None
    if found is None:
        raise TokenRefused("key", f"unknown signing key {kid!r}")
    key, declared = (found.key, found.alg) if isinstance(found, SetKey) else (found, None)
    if declared is not None and declared != alg:
        raise TokenRefused("algorithm", f"key {kid!r} is for {declared}, the token says {alg}")
    audience = list(audiences) if audiences is not None else None
    options: dict[str, Any] = {"require": list(require) + (["aud"] if audience else []),
                               "verify_aud": audience is not None, "verify_iss": False}
    try:
        claims = jwt.decode(token, key, algorithms=[alg], audience=audience or None, leeway=leeway,
                            options=options)  # type: ignore[arg-type]
    except jwt.ExpiredSignatureError:
        raise TokenRefused("expired", "the token has expired") from None
    except jwt.ImmatureSignatureError:
        raise TokenRefused("not_yet_valid", "the token is not valid yet (nbf or iat in the future)") from None
    except jwt.InvalidAudienceError:
        raise TokenRefused("audience", "the token's audience is not this API's") from None
    except jwt.MissingRequiredClaimError as exc:
        raise TokenRefused("claims", f"the token has no {exc.claim!r} claim") from None
    except (jwt.InvalidSignatureError, jwt.InvalidAlgorithmError, jwt.InvalidKeyError):
        raise TokenRefused("signature", "the token signature does not verify") from None
    except jwt.PyJWTError as exc:
        raise TokenRefused("malformed", f"the token is invalid ({type(exc).__name__})") from None
    except (TypeError, ValueError):  # a key of another type than the algorithm needs
        raise TokenRefused("signature", "the token signature does not verify with that key") from None
    issuer_list = list(issuers)
    if claims.get("iss") not in issuer_list:
        raise TokenRefused("issuer", f"token issuer {claims.get('iss')!r} is not accepted")
    return claims


__all__ = ["ASYMMETRIC", "KeySet", "SetKey", "TokenRefused", "fetch_url", "parse_jwks", "verify_jwt"]
