"""Push verification fails closed on every shape the GCP entry accepts.

Driven through functions-framework's real Flask app serving the generated ``main.py`` (``Target.invoke``), and one
functions-framework server started as a subprocess for the cold-start warning. No emulator signs push requests, so
tokens are RS256 JWTs written by google-auth's own ``google.auth.jwt.encode`` with a local RSA key that the
process-wide verifier is given as its key set (the format checks themselves are in
tests/reliability/test_inbound_pubsub.py).
"""

from __future__ import annotations

import base64
import json
import time
import urllib.error
import urllib.request
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from portafunc import Message
from portafunc.events import ScheduleEvent, StorageEvent
from portafunc.targets import get_target

from .apps import recorder_app
from .conftest import APPS

T = get_target("gcp")
APP = recorder_app.app
AUDIENCE = "https://on-event-abc123-uc.a.run.app"
SA = "invoker@my-project.iam.gserviceaccount.com"
KID = "local-push-key"
WHEN = datetime(2026, 3, 1, 12, 5, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def signing_pem() -> tuple[Any, bytes]:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key, key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption())


def _token(pem: bytes, **overrides: Any) -> str:
    from google.auth import crypt, jwt

    now = int(time.time())
    claims = {"iss": "https://accounts.google.com", "aud": AUDIENCE, "email": SA, "email_verified": True,
              "iat": now - 10, "exp": now + 3600, "sub": "1"} | overrides
    return jwt.encode(crypt.RSASigner.from_string(pem, key_id=KID), claims).decode()


@pytest.fixture
def record(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[], list[dict[str, Any]]]:
    path = tmp_path / "record.jsonl"
    monkeypatch.setenv("GCP_TEST_RECORD", str(path))
    return lambda: [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


@pytest.fixture
def verifying(signing_pem: tuple[Any, bytes], monkeypatch: pytest.MonkeyPatch) -> Iterator[bytes]:
    """Verification configured as in production (the environment), with the local key as Google's key set."""
    from portafunc_gcp.inbound import push_auth

    monkeypatch.setenv("PORTAFUNC_PUSH_AUDIENCE", AUDIENCE)
    monkeypatch.setenv("PORTAFUNC_PUSH_SERVICE_ACCOUNTS", SA)
    monkeypatch.setattr(push_auth, "_default", push_auth.PushVerifier(keys={KID: signing_pem[0].public_key()}))
    yield signing_pem[1]


def _msg() -> Message:
    return Message("m-1", b"hello", {"k": "v"}, published_at=WHEN)


def _shapes() -> dict[str, Any]:
    """Every shape of a Pub/Sub message the entry accepts, as the HTTP request that carries it."""
    from portafunc_gcp.harness import Harness

    ce = T.encode(_msg(), "cloudevent")
    return {
        "raw push": _post(T.encode(_msg(), "push"), "application/json"),
        "structured CloudEvent": _post(ce, "application/cloudevents+json"),
        "binary CloudEvent": Harness.binary_cloudevent(ce),
        "legacy background event": _post(T.encode(_msg(), "legacy"), "application/json"),
    }


def _post(doc: Any, content_type: str) -> dict[str, Any]:
    return {"method": "POST", "path": "/", "headers": [["Content-Type", content_type]],
            "body": json.dumps(doc, separators=(",", ":"))}


def _with(request: dict[str, Any], authorization: str | None) -> dict[str, Any]:
    out = dict(request, headers=[list(h) for h in request["headers"]])
    if authorization is not None:
        out["headers"].append(["Authorization", authorization])
    return out


SHAPES = ["raw push", "structured CloudEvent", "binary CloudEvent", "legacy background event"]


@pytest.mark.parametrize("function", ["on_event", "work"])
@pytest.mark.parametrize("shape", SHAPES)
def test_every_message_shape_without_a_token_is_refused(verifying: bytes, record: Any, shape: str,
                                                        function: str) -> None:
    answer = T.invoke(APP, function, _with(_shapes()[shape], None))
    assert answer["statusCode"] == 401, answer
    assert record() == []  # the handler never ran
    headers = {name.lower(): value for name, value in answer["headers"]}  # a problem+json, as every refusal
    assert headers["content-type"] == "application/problem+json", answer
    assert headers["www-authenticate"].startswith("Bearer"), answer
    problem = json.loads(answer["body"])
    assert problem["status"] == 401 and problem["title"] == "Unauthorized" and "Authorization" in problem["detail"]


@pytest.mark.parametrize("shape", SHAPES)
def test_every_message_shape_with_a_foreign_token_is_refused(verifying: bytes, record: Any, shape: str) -> None:
    forged = _token(verifying, aud="https://attacker.example/push")
    assert T.invoke(APP, "on_event", _with(_shapes()[shape], f"Bearer {forged}"))["statusCode"] == 403
    other_sa = _token(verifying, email="someone@else.iam.gserviceaccount.com")
    assert T.invoke(APP, "on_event", _with(_shapes()[shape], f"Bearer {other_sa}"))["statusCode"] == 403
    assert record() == []


@pytest.mark.parametrize("shape", SHAPES)
def test_every_message_shape_with_a_valid_token_runs(verifying: bytes, record: Any, shape: str) -> None:
    answer = T.invoke(APP, "on_event", _with(_shapes()[shape], f"Bearer {_token(verifying)}"))
    assert answer["statusCode"] == 200, answer
    (seen,) = record()
    assert seen["id"] == "m-1" and base64.b64decode(seen["data_b64"]) == b"hello"


def test_storage_and_schedule_deliveries_are_verified_too(verifying: bytes, record: Any) -> None:
    from portafunc_gcp.harness import Harness

    upload = Harness.binary_cloudevent(T.encode(StorageEvent("uploads", "in/a.txt", "created", size=1)))
    scheduled = T.encode(ScheduleEvent(WHEN))
    for function, request in [("on_upload", upload), ("tick", scheduled)]:
        before = len(record())
        assert T.invoke(APP, function, _with(request, None))["statusCode"] == 401, function
        assert len(record()) == before  # refused before the handler
        assert T.invoke(APP, function, _with(request, f"Bearer {_token(verifying)}"))["statusCode"] == 200
    assert [r["fn"] for r in record()] == ["on_upload", "tick"]


def test_http_functions_are_not_push_verified(verifying: bytes, record: Any) -> None:
    """An @app.http route is the user's own API: push verification does not apply to it."""
    assert T.invoke(APP, "echo", {"method": "GET", "path": "/echo/x", "headers": []})["statusCode"] == 200


def test_without_an_audience_messages_run_as_before(record: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PORTAFUNC_PUSH_AUDIENCE", raising=False)
    for shape in SHAPES:
        assert T.invoke(APP, "on_event", _shapes()[shape])["statusCode"] == 200, shape
    assert len(record()) == len(SHAPES)


# -- the served entry: one loud line at cold start -------------------------------------------------------------

def _served_main(tmp_path: Path) -> Path:
    from portafunc_gcp.deploy.main_py import render_main

    src = tmp_path / "src"
    src.mkdir()
    (src / "main.py").write_text(render_main(APP, "recorder_app:app", root=str(APPS)))
    return src


def _send(url: str, body: bytes, headers: dict[str, str]) -> int:
    req = urllib.request.Request(url, data=body, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code


def _warnings(log: Path) -> list[dict[str, Any]]:
    out = []
    for line in log.read_text(errors="replace").splitlines():
        if line.startswith("{"):
            doc = json.loads(line)
            if (doc.get("level") or doc.get("severity")) == "WARNING" and "PORTAFUNC_PUSH_AUDIENCE" in doc.get("message", ""):
                out.append(doc)
    return out


def test_served_entry_warns_once_when_the_audience_is_unset(serve: Any, tmp_path: Path) -> None:
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTAFUNC_PUSH_")}
    env["GCP_TEST_RECORD"] = str(tmp_path / "record.jsonl")
    server = serve(_served_main(tmp_path), "on_event", "cloudevent", env)
    body = json.dumps(T.encode(_msg(), "push")).encode()
    for _ in range(3):
        assert _send(server.url, body, {"Content-Type": "application/json"}) == 200
    server.stop()
    (warning,) = _warnings(server.log)
    assert "--no-allow-unauthenticated" in warning["message"]


def test_served_entry_refuses_an_unsigned_cloudevent(serve: Any, tmp_path: Path) -> None:
    """Over real HTTP: with an audience configured, a structured CloudEvent without a token is 401 and never runs;
    no cold-start warning then."""
    record_file = tmp_path / "record.jsonl"
    server = serve(_served_main(tmp_path), "on_event", "cloudevent",
                   {"PORTAFUNC_PUSH_AUDIENCE": AUDIENCE, "PORTAFUNC_PUSH_SERVICE_ACCOUNTS": SA,
                    "GCP_TEST_RECORD": str(record_file)})
    body = json.dumps(T.encode(_msg(), "cloudevent")).encode()
    assert _send(server.url, body, {"Content-Type": "application/cloudevents+json"}) == 401
    assert _send(server.url, body, {"Content-Type": "application/cloudevents+json",
                                    "Authorization": "Bearer not.a.jwt"}) == 401
    server.stop()
    assert not record_file.exists()
    assert _warnings(server.log) == []


# -- Google's key set: an unknown kid cannot make every request fetch --------------------------------------------

class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _jwks(public_key: Any) -> bytes:
    numbers = public_key.public_numbers()

    def b64(n: int) -> str:
        return base64.urlsafe_b64encode(n.to_bytes((n.bit_length() + 7) // 8, "big")).rstrip(b"=").decode()

    return json.dumps({"keys": [{"kid": KID, "kty": "RSA", "alg": "RS256", "n": b64(numbers.n),
                                 "e": b64(numbers.e)}]}).encode()


def test_unknown_kids_refetch_at_most_once_per_interval(signing_pem: tuple[Any, bytes]) -> None:
    from portafunc_gcp.inbound.push_auth import GoogleKeys

    calls: list[str] = []

    def fetch(url: str) -> tuple[bytes, float]:
        calls.append(url)
        return _jwks(signing_pem[0].public_key()), 3600.0

    clock = _Clock()
    keys = GoogleKeys(fetch=fetch, refetch_interval=60.0, clock=clock)
    assert keys(KID) is not None and len(calls) == 1
    for i in range(200):  # an attacker's stream of made-up kids
        assert keys(f"forged-{i}") is None
    assert len(calls) == 2  # one refetch (a genuine rotation is picked up), then the limit holds
    assert keys(KID) is not None and len(calls) == 2
    clock.now += 61
    assert keys("forged-after-interval") is None and len(calls) == 3
    clock.now += 3600  # the set's own max-age still refreshes it
    assert keys(KID) is not None and len(calls) == 4


def test_failed_key_fetches_back_off(signing_pem: tuple[Any, bytes]) -> None:
    from portafunc_gcp.inbound.push_auth import GoogleKeys, PushVerifier

    calls: list[str] = []
    up = {"ok": False}

    def fetch(url: str) -> tuple[bytes, float]:
        calls.append(url)
        if not up["ok"]:
            raise OSError("network down")
        return _jwks(signing_pem[0].public_key()), 3600.0

    clock = _Clock()
    verifier = PushVerifier(AUDIENCE, [SA], keys=GoogleKeys(fetch=fetch, failure_backoff=30.0, clock=clock))
    from portafunc.events import HttpRequest

    request = HttpRequest("POST", "/", headers={"Authorization": f"Bearer {_token(signing_pem[1])}"}, body=b"{}")
    for _ in range(50):
        assert verifier.check(request).status == 401
    assert len(calls) == 1
    up["ok"] = True
    clock.now += 31
    assert verifier.check(request).accepted and len(calls) == 2


def test_an_audience_set_or_cleared_between_requests_is_followed(record: Any, signing_pem: tuple[Any, bytes],
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Whether verification is on is read from the environment on every request (its usual answer, unset, by one
    lookup): an audience set after a request ran unverified, or set blank, or cleared again, is followed at once."""
    from portafunc_gcp.inbound import push_auth

    monkeypatch.setattr(push_auth, "_default", push_auth.PushVerifier(keys={KID: signing_pem[0].public_key()}))
    monkeypatch.delenv("PORTAFUNC_PUSH_AUDIENCE", raising=False)
    request = _shapes()["structured CloudEvent"]
    assert T.invoke(APP, "on_event", request)["statusCode"] == 200
    monkeypatch.setenv("PORTAFUNC_PUSH_AUDIENCE", AUDIENCE)
    monkeypatch.setenv("PORTAFUNC_PUSH_SERVICE_ACCOUNTS", SA)
    assert T.invoke(APP, "on_event", request)["statusCode"] == 401
    monkeypatch.setenv("PORTAFUNC_PUSH_AUDIENCE", "  ")
    assert T.invoke(APP, "on_event", request)["statusCode"] == 200
    monkeypatch.delenv("PORTAFUNC_PUSH_AUDIENCE")
    assert T.invoke(APP, "on_event", request)["statusCode"] == 200
    assert len(record()) == 3
