"""Event Grid webhook delivery authentication: a shared secret or a SAS key, checked before anything runs.

Inside Azure Functions the host's Event Grid endpoint requires the extension's system key, so the platform already
checks deliveries. An Event Grid *webhook* served any other way (``portafunc run``, a container — see
:mod:`portafunc_azure.inbound.webhook`) is open to anyone who learns its URL, so deliveries must carry one of:

* the shared secret, in the subscription URL (``https://host/path?code=SECRET``, Event Grid keeps query strings) or in
  a delivery header (Event Grid "delivery properties" can add a static secret header, e.g. ``x-portafunc-secret``);
* the SAS key itself (``aeg-sas-key``) or a SAS token signed with it (``aeg-sas-token: r=...&e=...&s=...``, the
  format ``azure.eventgrid.generate_sas`` writes: HMAC-SHA256 over ``r={resource}&e={expiry}`` with the base64 key).

Secrets compare in constant time. Configuration: ``PORTAFUNC_EVENTGRID_SECRET`` and/or ``PORTAFUNC_EVENTGRID_SAS_KEY``
(or the constructor). With neither, every request is refused with a message saying what to set, unless
``allow_unauthenticated=True`` is passed on purpose. The validation handshake needs the same credential: Event Grid
sends it to the same URL.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import time
from datetime import datetime, timezone
from typing import Any, Callable, Iterable
from urllib.parse import parse_qsl, unquote, urlsplit

from portafunc import logs
from portafunc.events import HttpRequest, HttpResponse

SECRET_ENV = "PORTAFUNC_EVENTGRID_SECRET"
SAS_KEY_ENV = "PORTAFUNC_EVENTGRID_SAS_KEY"
SECRET_QUERY = "code"
SECRET_HEADER = "x-portafunc-secret"


class AuthVerdict:
    __slots__ = ("accepted", "status", "detail", "method")

    def __init__(self, accepted: bool, status: int, detail: str, method: str | None = None) -> None:
        self.accepted = accepted
        self.status = status
        self.detail = detail
        self.method = method  # which credential passed: "secret", "sas-key", "sas-token", "none"

    def __repr__(self) -> str:
        return f"AuthVerdict(accepted={self.accepted}, status={self.status}, detail={self.detail!r})"

    def response(self) -> HttpResponse:
        if self.accepted:
            return HttpResponse(status=200)
        return HttpResponse.problem(self.status, "Unauthorized" if self.status == 401 else "Forbidden", self.detail)


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))


def sas_signature(key: str, unsigned: str) -> str:
    """base64(HMAC-SHA256(base64-decoded key, ``r=...&e=...``)), as Event Grid and its SDKs sign."""
    decoded = base64.b64decode(key)
    return base64.b64encode(hmac.new(decoded, unsigned.encode("utf-8"), hashlib.sha256).digest()).decode()


def _parse_expiry(text: str) -> float | None:
    """The SDK writes ``str(datetime)`` (``2030-01-01 00:00:00+00:00``); Event Grid docs also show ISO-8601."""
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return when.timestamp()


class EventGridAuth:
    """Checks one webhook request's credential. ``resource``: when set, a SAS token must be for this endpoint."""

    def __init__(self, secret: str | None = None, sas_key: str | None = None, *, resource: str | None = None,
                 secret_header: str = SECRET_HEADER, allow_unauthenticated: bool = False,
                 clock: Callable[[], float] = time.time) -> None:
        self._secret = secret
        self._sas_key = sas_key
        self.resource = resource
        self.secret_header = secret_header
        self.allow_unauthenticated = allow_unauthenticated
        self._clock = clock

    @property
    def secret(self) -> str | None:
        return self._secret if self._secret is not None else (os.environ.get(SECRET_ENV) or None)

    @property
    def sas_key(self) -> str | None:
        return self._sas_key if self._sas_key is not None else (os.environ.get(SAS_KEY_ENV) or None)

    def check(self, req: HttpRequest) -> AuthVerdict:
        verdict = self._check(req)
        if not verdict.accepted:
            logs.warning("Event Grid webhook request refused", status=verdict.status, reason=verdict.detail)
        return verdict

    def _check(self, req: HttpRequest) -> AuthVerdict:
        secret, key = self.secret, self.sas_key
        if secret is None and key is None:
            if self.allow_unauthenticated:
                return AuthVerdict(True, 200, "unauthenticated by configuration", "none")
            return AuthVerdict(False, 401, f"no Event Grid credential is configured: set {SECRET_ENV} (and "
                                           f"subscribe with ?{SECRET_QUERY}=...) or {SAS_KEY_ENV}")
        presented = False
        if secret is not None:
            for value in [req.query_one(SECRET_QUERY), req.headers.get(self.secret_header)]:
                if value is not None:
                    presented = True
                    if _same(value, secret):
                        return AuthVerdict(True, 200, "shared secret", "secret")
        if key is not None:
            sas_key = req.headers.get("aeg-sas-key")
            if sas_key is not None:
                presented = True
                if _same(sas_key, key):
                    return AuthVerdict(True, 200, "SAS key", "sas-key")
            token = req.headers.get("aeg-sas-token")
            if token is not None:
                presented = True
                problem = self._check_token(token, key)
                if problem is None:
                    return AuthVerdict(True, 200, "SAS token", "sas-token")
                return AuthVerdict(False, 403, problem)
        if not presented:
            return AuthVerdict(False, 401, "no credential presented (expected ?code=, "
                                           f"{self.secret_header}, aeg-sas-key or aeg-sas-token)")
        return AuthVerdict(False, 403, "the credential presented is wrong")

    def _check_token(self, token: str, key: str) -> str | None:
        """None when ``token`` is a valid, unexpired SAS token for our key (and resource); else why not."""
        fields: dict[str, str] = {}
        for part in token.split("&"):
            name, sep, value = part.partition("=")
            if not sep or name not in ("r", "e", "s") or name in fields:
                return "the aeg-sas-token is malformed (expected r=...&e=...&s=...)"
            fields[name] = value
        if set(fields) != {"r", "e", "s"}:
            return "the aeg-sas-token is malformed (expected r=...&e=...&s=...)"
        unsigned = f"r={fields['r']}&e={fields['e']}"
        try:
            expected = sas_signature(key, unsigned)
        except (binascii.Error, ValueError):
            return "the configured SAS key is not base64"
        if not _same(unquote(fields["s"]), expected):
            return "the aeg-sas-token signature does not verify"
        expiry = _parse_expiry(unquote(fields["e"]))
        if expiry is None or expiry < self._clock():
            return "the aeg-sas-token has expired (or its expiry is unreadable)"
        if self.resource is not None and not _resource_matches(unquote(fields["r"]), self.resource):
            return "the aeg-sas-token is for another resource"
        return None


def _resource_matches(signed: str, expected: str) -> bool:
    a, b = urlsplit(signed.lower()), urlsplit(expected.lower())
    query_a = {k: v for k, v in parse_qsl(a.query) if k != "apiversion"}
    return (a.hostname, a.path.rstrip("/")) == (b.hostname, b.path.rstrip("/")) and not query_a


_default: EventGridAuth | None = None


def default_auth() -> EventGridAuth:
    global _default
    if _default is None:
        _default = EventGridAuth()
    return _default


def verify_delivery(req: HttpRequest, auth: EventGridAuth | None = None) -> HttpResponse | None:
    """One-line wiring: ``None`` when the request may proceed, else the 401/403 response to return."""
    verdict = (auth or default_auth()).check(req)
    return None if verdict.accepted else verdict.response()


def handle(app: Any, function: str, req: HttpRequest, auth: EventGridAuth | None = None,
           allowed_origins: Iterable[str] | None = None, allowed_rate: str = "*") -> HttpResponse:
    """The webhook receiver (validation handshake, abuse protection, delivery) behind the credential check."""
    from .webhook import handle as webhook_handle

    return webhook_handle(app, function, req, auth=auth or default_auth(), allowed_origins=allowed_origins,
                          allowed_rate=allowed_rate)


__all__ = ["AuthVerdict", "EventGridAuth", "default_auth", "handle", "sas_signature", "verify_delivery"]
