"""Who may push events to ``/_portafunc/functions/NAME``: fail closed.

``PORTAFUNC_EVENTS`` says who authenticates a delivery: ``platform`` (the platform's front door did — Cloud Run IAM
with OIDC push tokens, a cluster-local Knative service), ``secret`` (each delivery carries ``Authorization: Bearer
$PORTAFUNC_EVENTS_SECRET``, the static delivery header of an Event Grid subscription; compared in constant time) or
``off`` (the default: every delivery is refused with 403). The CloudEvents webhook abuse-protection handshake
(``OPTIONS`` with ``WebHook-Request-Origin``) is answered only for allowed origins
(``PORTAFUNC_EVENTS_ALLOWED_ORIGINS``, default Event Grid's ``eventgrid.azure.net``); it grants nothing by itself.
"""

from __future__ import annotations

import hmac
import os
from typing import Iterable

from portafunc.events import Headers, HttpResponse

MODES = ("off", "platform", "secret")
DEFAULT_ALLOWED_ORIGINS = ("eventgrid.azure.net",)
MIN_SECRET = 16


class PushAuth:
    def __init__(self, mode: str | None = None, secret: str | None = None,
                 allowed_origins: Iterable[str] | None = None) -> None:
        self.mode = (mode or os.environ.get("PORTAFUNC_EVENTS") or "off").strip().lower()
        if self.mode not in MODES:
            raise ValueError(f"PORTAFUNC_EVENTS={self.mode!r}: choose one of {', '.join(MODES)}")
        self.secret = secret if secret is not None else os.environ.get("PORTAFUNC_EVENTS_SECRET", "")
        if self.mode == "secret" and len(self.secret) < MIN_SECRET:
            raise ValueError(f"PORTAFUNC_EVENTS=secret needs PORTAFUNC_EVENTS_SECRET of at least {MIN_SECRET} "
                             "characters")
        origins = allowed_origins if allowed_origins is not None else \
            [o.strip() for o in os.environ.get("PORTAFUNC_EVENTS_ALLOWED_ORIGINS", "").split(",") if o.strip()] \
            or DEFAULT_ALLOWED_ORIGINS
        self.allowed_origins = frozenset(o.lower() for o in origins)

    def refusal(self, method: str, headers: Headers) -> HttpResponse | None:
        """The answer that ends this delivery here (refused, or the handshake answered), else None: run it."""
        if self.mode == "off":
            return HttpResponse.problem(403, "Forbidden", "event deliveries are off on this service: set "
                                        "PORTAFUNC_EVENTS to platform or secret where the platform pushes events")
        if method == "OPTIONS":
            origin = (headers.get("webhook-request-origin") or "").strip()
            if origin.lower() not in self.allowed_origins:
                return HttpResponse.problem(403, "Forbidden", "WebHook-Request-Origin is not an allowed origin")
            return HttpResponse(200, {"WebHook-Allowed-Origin": origin, "Allow": "POST, OPTIONS"})
        if self.mode == "secret" and not _bearer_matches(headers.get("authorization"), self.secret):
            return HttpResponse.problem(401, "Unauthorized", "the delivery does not carry the events secret")
        return None


def _bearer_matches(header: str | None, secret: str) -> bool:
    if not header or not secret:
        return False
    scheme, _, token = header.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(token.strip().encode(), secret.encode())
