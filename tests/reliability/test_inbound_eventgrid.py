"""Event Grid webhook delivery authentication (portafunc_azure.eventgrid_auth) in front of the existing receiver.

There is no Event Grid emulator; SAS tokens are produced by the official SDK's ``azure.eventgrid.generate_sas`` and
the bodies are the real samples in tests/fixtures/events/azure (validation handshake and custom-topic event).
"""

from __future__ import annotations

import base64
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from portafunc import App
from portafunc.events import HttpRequest, Message

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "events" / "azure"
ENDPOINT = "https://orders.westeurope-1.eventgrid.azure.net/api/events"
KEY = base64.b64encode(b"portafunc-test-key-0123456789abcdef").decode()
SECRET = "webhook-shared-secret-42"


def _body(rel: str) -> bytes:
    path = FIXTURES / rel
    if not path.is_file():
        pytest.fail(f"missing Azure sample {path}")
    return path.read_bytes()


def _app() -> tuple[App, list[Message]]:
    app = App("eg-auth")
    seen: list[Message] = []

    @app.topic("orders")
    def on_order(msg: Message) -> None:
        seen.append(msg)

    return app, seen


def _delivery(headers: list[tuple[str, str]] | None = None, query: dict[str, list[str]] | None = None,
              body: bytes | None = None, event_type: str = "Notification") -> HttpRequest:
    return HttpRequest("POST", "/eventgrid", query=query or {},
                       headers=[("Content-Type", "application/json"), ("aeg-event-type", event_type)]
                       + (headers or []), body=body if body is not None else
                       _body("eventgrid/py-cs4_event_grid_event_custom_event.json"))


def _auth(**options: Any) -> Any:
    from portafunc_azure.eventgrid_auth import EventGridAuth

    return EventGridAuth(**options)


def _sas(expiry: datetime, key: str = KEY, endpoint: str = ENDPOINT) -> str:
    from azure.eventgrid import generate_sas

    return generate_sas(endpoint, key, expiry)


def test_delivery_with_shared_secret_runs_the_function() -> None:
    from portafunc_azure.eventgrid_auth import handle

    app, seen = _app()
    ok = handle(app, "on_order", _delivery(query={"code": [SECRET]}), _auth(secret=SECRET))
    assert ok.status == 200 and len(seen) == 1
    header = handle(app, "on_order", _delivery([("x-portafunc-secret", SECRET)]), _auth(secret=SECRET))
    assert header.status == 200 and len(seen) == 2


@pytest.mark.parametrize("headers,query,status", [
    ([], {}, 401),
    ([], {"code": ["wrong"]}, 403),
    ([("x-portafunc-secret", SECRET + "x")], {}, 403),
    ([], {"code": [SECRET.upper()]}, 403),
    ([("aeg-sas-key", SECRET)], {}, 403),
])
def test_delivery_without_the_secret_is_refused_and_not_run(headers: list[tuple[str, str]],
                                                            query: dict[str, list[str]], status: int) -> None:
    from portafunc_azure.eventgrid_auth import handle

    app, seen = _app()
    resp = handle(app, "on_order", _delivery(headers, query), _auth(secret=SECRET, sas_key=KEY))
    assert resp.status == status and seen == []
    assert resp.headers["content-type"] == "application/problem+json"


def test_sas_key_header() -> None:
    auth = _auth(sas_key=KEY)
    assert auth.check(_delivery([("aeg-sas-key", KEY)])).accepted
    assert auth.check(_delivery([("aeg-sas-key", KEY[:-2] + "AA")])).status == 403


def test_sas_token_from_the_official_sdk() -> None:
    future = datetime.now(timezone.utc) + timedelta(hours=1)
    auth = _auth(sas_key=KEY, resource=ENDPOINT)
    verdict = auth.check(_delivery([("aeg-sas-token", _sas(future))]))
    assert verdict.accepted and verdict.method == "sas-token", verdict


@pytest.mark.parametrize("case", ["expired", "other key", "other resource", "tampered expiry", "malformed",
                                  "missing signature", "duplicate field"])
def test_bad_sas_tokens_are_403(case: str) -> None:
    now = datetime.now(timezone.utc)
    token = _sas(now + timedelta(hours=1))
    if case == "expired":
        token = _sas(now - timedelta(minutes=1))
    elif case == "other key":
        token = _sas(now + timedelta(hours=1), key=base64.b64encode(b"another-key").decode())
    elif case == "other resource":
        token = _sas(now + timedelta(hours=1), endpoint="https://other.westeurope-1.eventgrid.azure.net/api/events")
    elif case == "tampered expiry":
        token = token.replace("e=" + token.split("e=")[1].split("&")[0], "e=2999-01-01%2000%3A00%3A00%2B00%3A00")
    elif case == "malformed":
        token = "not-a-token"
    elif case == "missing signature":
        token = token.split("&s=")[0]
    else:
        token = token + "&s=AAAA"
    verdict = _auth(sas_key=KEY, resource=ENDPOINT).check(_delivery([("aeg-sas-token", token)]))
    assert (verdict.accepted, verdict.status) == (False, 403), (case, verdict)


def test_validation_handshake_needs_the_credential_too() -> None:
    """The real handshake sample answers with its validationCode only when the secret is presented."""
    from portafunc_azure.eventgrid_auth import handle

    app, _ = _app()
    body = _body("eventgrid-validation/docs-subscription-validation.input.json")
    expected = json.loads(_body("eventgrid-validation/docs-subscription-validation.expected.json"))
    refused = handle(app, "on_order", _delivery(body=body, event_type="SubscriptionValidation"), _auth(secret=SECRET))
    assert refused.status == 401
    ok = handle(app, "on_order", _delivery(body=body, event_type="SubscriptionValidation", query={"code": [SECRET]}),
                _auth(secret=SECRET))
    assert ok.status == 200 and json.loads(ok.body) == expected


def test_unconfigured_auth_refuses_unless_opted_out(monkeypatch: pytest.MonkeyPatch) -> None:
    from portafunc_azure.eventgrid_auth import EventGridAuth

    monkeypatch.delenv("PORTAFUNC_EVENTGRID_SECRET", raising=False)
    monkeypatch.delenv("PORTAFUNC_EVENTGRID_SAS_KEY", raising=False)
    verdict = EventGridAuth().check(_delivery(query={"code": ["anything"]}))
    assert verdict.status == 401 and "PORTAFUNC_EVENTGRID_SECRET" in verdict.detail
    assert EventGridAuth(allow_unauthenticated=True).check(_delivery()).accepted
    monkeypatch.setenv("PORTAFUNC_EVENTGRID_SECRET", SECRET)
    assert EventGridAuth().check(_delivery(query={"code": [SECRET]})).accepted


def test_webhook_over_real_http_server(monkeypatch: pytest.MonkeyPatch) -> None:
    """The authenticated receiver mounted on the adapter's WSGI app, served by wsgiref on a free port."""
    import threading
    import urllib.error
    import urllib.request
    from wsgiref.simple_server import WSGIRequestHandler, make_server

    from portafunc.events import HttpResponse
    from portafunc_azure import webhook
    from portafunc_azure.eventgrid_auth import verify_delivery

    app, seen = _app()
    auth = _auth(secret=SECRET)
    original = webhook.handle

    def authed(app_: App, function: str, req: HttpRequest, **options: Any) -> HttpResponse:
        return verify_delivery(req, auth) or original(app_, function, req, **options)

    class Quiet(WSGIRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

    monkeypatch.setattr(webhook, "handle", authed)  # what the proposed one-line wiring does
    server = make_server("127.0.0.1", 0, webhook.wsgi_app(app, {"/eventgrid": "on_order"}), handler_class=Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/eventgrid"
        body = _body("eventgrid/py-cs4_event_grid_event_custom_event.json")

        def post(target: str) -> int:
            req = urllib.request.Request(target, data=body, method="POST",
                                         headers={"Content-Type": "application/json", "aeg-event-type":
                                                  "Notification"})
            try:
                with urllib.request.urlopen(req, timeout=5) as resp:
                    return resp.status
            except urllib.error.HTTPError as exc:
                return exc.code

        assert post(url) == 401
        assert post(url + "?code=nope") == 403
        assert seen == []
        assert post(url + f"?code={SECRET}") == 200
        assert len(seen) == 1
    finally:
        server.shutdown()
        server.server_close()
