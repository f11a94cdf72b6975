"""Event Grid webhook delivery authentication (portafunc_azure.inbound.eventgrid_auth) in front of the existing receiver.

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
    from portafunc_azure.inbound.eventgrid_auth import EventGridAuth

    return EventGridAuth(**options)


def _sas(expiry: datetime, key: str = KEY, endpoint: str = ENDPOINT) -> str:
    from azure.eventgrid import generate_sas

    return generate_sas(endpoint, key, expiry)


def test_delivery_with_shared_secret_runs_the_function() -> None:
    from portafunc_azure.inbound.eventgrid_auth import handle

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
    from portafunc_azure.inbound.eventgrid_auth import handle

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
    from portafunc_azure.inbound.eventgrid_auth import handle

    app, _ = _app()
    body = _body("eventgrid-validation/docs-subscription-validation.input.json")
    expected = json.loads(_body("eventgrid-validation/docs-subscription-validation.expected.json"))
    refused = handle(app, "on_order", _delivery(body=body, event_type="SubscriptionValidation"), _auth(secret=SECRET))
    assert refused.status == 401
    ok = handle(app, "on_order", _delivery(body=body, event_type="SubscriptionValidation", query={"code": [SECRET]}),
                _auth(secret=SECRET))
    assert ok.status == 200 and json.loads(ok.body) == expected


def test_unconfigured_auth_refuses_unless_opted_out(monkeypatch: pytest.MonkeyPatch) -> None:
    from portafunc_azure.inbound.eventgrid_auth import EventGridAuth

    monkeypatch.delenv("PORTAFUNC_EVENTGRID_SECRET", raising=False)
    monkeypatch.delenv("PORTAFUNC_EVENTGRID_SAS_KEY", raising=False)
    verdict = EventGridAuth().check(_delivery(query={"code": ["anything"]}))
    assert verdict.status == 401 and "PORTAFUNC_EVENTGRID_SECRET" in verdict.detail
    assert EventGridAuth(allow_unauthenticated=True).check(_delivery()).accepted
    monkeypatch.setenv("PORTAFUNC_EVENTGRID_SECRET", SECRET)
    assert EventGridAuth().check(_delivery(query={"code": [SECRET]})).accepted


# -- the shipped WSGI receiver, served by wsgiref on a free port (nothing patched) ------------------------------

class _Served:
    def __init__(self, url: str) -> None:
        self.url = url

    def send(self, method: str = "POST", *, query: str = "", body: bytes | None = None,
             headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
        import urllib.error
        import urllib.request

        if body is None and method == "POST":
            body = _body("eventgrid/py-cs4_event_grid_event_custom_event.json")
        sent = {"Content-Type": "application/json", "aeg-event-type": "Notification"} if method == "POST" else {}
        req = urllib.request.Request(self.url + query, data=body, method=method, headers=sent | (headers or {}))
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read()
        except urllib.error.HTTPError as exc:
            return exc.code, {k.lower(): v for k, v in exc.headers.items()}, exc.read()


@pytest.fixture
def serve(monkeypatch: pytest.MonkeyPatch) -> Any:
    """serve(**wsgi_app options) → (the running receiver, the messages its function saw); the environment starts
    with no Event Grid credential."""
    import threading
    from wsgiref.simple_server import WSGIRequestHandler, make_server

    from portafunc_azure.inbound.webhook import wsgi_app

    for name in ("PORTAFUNC_EVENTGRID_SECRET", "PORTAFUNC_EVENTGRID_SAS_KEY", "PORTAFUNC_EVENTGRID_ALLOWED_ORIGINS"):
        monkeypatch.delenv(name, raising=False)
    servers: list[Any] = []

    class Quiet(WSGIRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

    def _serve(**options: Any) -> tuple[_Served, list[Message]]:
        app, seen = _app()
        server = make_server("127.0.0.1", 0, wsgi_app(app, {"/eventgrid": "on_order"}, **options),
                             handler_class=Quiet)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return _Served(f"http://127.0.0.1:{server.server_port}/eventgrid"), seen

    yield _serve
    for server in servers:
        server.shutdown()
        server.server_close()


def test_served_receiver_reads_the_secret_from_the_environment(serve: Any,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORTAFUNC_EVENTGRID_SECRET", SECRET)
    hook, seen = serve()
    assert hook.send()[0] == 401
    assert hook.send(query="?code=nope")[0] == 403
    assert hook.send(headers={"x-portafunc-secret": "nope"})[0] == 403
    assert seen == []
    assert hook.send(query=f"?code={SECRET}")[0] == 200
    assert hook.send(headers={"x-portafunc-secret": SECRET})[0] == 200
    assert len(seen) == 2


def test_served_receiver_reads_the_sas_key_from_the_environment(serve: Any,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORTAFUNC_EVENTGRID_SAS_KEY", KEY)
    hook, seen = serve()
    assert hook.send()[0] == 401
    assert hook.send(headers={"aeg-sas-key": base64.b64encode(b"another key").decode()})[0] == 403
    assert hook.send(headers={"aeg-sas-key": KEY})[0] == 200
    token = _sas(datetime.now(timezone.utc) + timedelta(hours=1))
    assert hook.send(headers={"aeg-sas-token": token})[0] == 200
    assert len(seen) == 2


def test_served_receiver_without_a_credential_refuses_everything(serve: Any) -> None:
    """Nothing configured: deliveries, the validation handshake and OPTIONS are all 401 — a forged
    SubscriptionValidationEvent never gets its validationCode echoed, so nobody can subscribe the endpoint."""
    hook, seen = serve()
    status, _, body = hook.send()
    assert status == 401 and b"PORTAFUNC_EVENTGRID_SECRET" in body
    handshake = _body("eventgrid-validation/docs-subscription-validation.input.json")
    code = json.loads(handshake)[0]["data"]["validationCode"]
    status, _, body = hook.send(body=handshake, headers={"aeg-event-type": "SubscriptionValidation"})
    assert status == 401 and code.encode() not in body
    assert hook.send("OPTIONS", headers={"WebHook-Request-Origin": "eventgrid.azure.net"})[0] == 401
    assert seen == []


def test_served_receiver_opt_out_is_explicit(serve: Any) -> None:
    hook, seen = serve(allow_unauthenticated=True)
    assert hook.send()[0] == 200 and len(seen) == 1


def test_validation_event_outside_the_handshake_is_refused(serve: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORTAFUNC_EVENTGRID_SECRET", SECRET)
    hook, _ = serve()
    handshake = _body("eventgrid-validation/docs-subscription-validation.input.json")
    code = json.loads(handshake)[0]["data"]["validationCode"]
    status, _, body = hook.send(query=f"?code={SECRET}", body=handshake)  # aeg-event-type: Notification
    assert status == 400 and code.encode() not in body
    status, _, body = hook.send(query=f"?code={SECRET}", body=handshake,
                                headers={"aeg-event-type": "SubscriptionValidation"})
    assert status == 200 and json.loads(body) == {"validationResponse": code}


def test_abuse_protection_answers_only_allowed_origins(serve: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORTAFUNC_EVENTGRID_SECRET", SECRET)
    hook, _ = serve()
    status, headers, _ = hook.send("OPTIONS", query=f"?code={SECRET}",
                                   headers={"WebHook-Request-Origin": "attacker.example"})
    assert status == 403 and "webhook-allowed-origin" not in headers
    status, headers, _ = hook.send("OPTIONS", query=f"?code={SECRET}",
                                   headers={"WebHook-Request-Origin": "eventgrid.azure.net"})
    assert status == 200 and headers["webhook-allowed-origin"] == "eventgrid.azure.net"
    monkeypatch.setenv("PORTAFUNC_EVENTGRID_ALLOWED_ORIGINS", "events.contoso.example")
    assert hook.send("OPTIONS", query=f"?code={SECRET}",
                     headers={"WebHook-Request-Origin": "eventgrid.azure.net"})[0] == 403
    status, headers, _ = hook.send("OPTIONS", query=f"?code={SECRET}",
                                   headers={"WebHook-Request-Origin": "events.contoso.example"})
    assert status == 200 and headers["webhook-allowed-origin"] == "events.contoso.example"
    listed, _ = serve(secret=SECRET, allowed_origins=["partner.example"])
    assert listed.send("OPTIONS", query=f"?code={SECRET}",
                       headers={"WebHook-Request-Origin": "partner.example"})[0] == 200


def test_served_receiver_refuses_oversized_and_bad_lengths_before_reading(serve: Any) -> None:
    import socket

    hook, seen = serve(allow_unauthenticated=True)
    port = int(hook.url.split(":")[2].split("/")[0])
    for length, status in [("5000000000", b"413"), ("12abc", b"400")]:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
            conn.sendall(f"POST /eventgrid HTTP/1.0\r\nContent-Type: application/json\r\n"
                         f"Content-Length: {length}\r\n\r\n".encode())
            assert conn.recv(64).split(b" ")[1] == status
    assert seen == []


def test_served_receiver_answers_deeply_nested_bodies_400(serve: Any) -> None:
    hook, seen = serve(allow_unauthenticated=True)
    status, headers, _ = hook.send(body=b"[" * 100_000 + b"]" * 100_000)
    assert status == 400 and headers["content-type"] == "application/problem+json"
    assert seen == []


@pytest.mark.parametrize("count", ["²", "¹", "99999999999999999999", "-1", ""])
def test_odd_delivery_counts_are_attempt_one_not_a_crash(serve: Any, count: str) -> None:
    hook, seen = serve(allow_unauthenticated=True)
    status, _, _ = hook.send(headers={"aeg-delivery-count": count})
    assert status == 200 and [m.delivery_attempt for m in seen] == [1]
