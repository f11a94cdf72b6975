"""Secrets stay out of portafunc's log lines.

Each test makes a real invocation fail on each target — through the target's contract driver, i.e. its real entry
point: the Lambda handler (aws), the Functions runtime with ``azure.functions`` objects (azure), the generated main.py
under functions-framework's Flask app (gcp) — with secrets in the places they really travel (Authorization, Cookie,
API-key and Event Grid SAS headers, SAS query parameters, token/signature message attributes), then reads every line
portafunc wrote to stderr and checks no secret is in it, in clear text or inside a base64 field.
"""

from __future__ import annotations

import base64
import binascii
import json
from pathlib import Path
from typing import Any

import pytest

from portafunc import App, logs
from portafunc.errors import NonRetryableError
from portafunc.events import HttpRequest, Message
from portafunc.targets import get_target

from log_support import level_of

TARGETS = ["aws", "azure", "gcp"]
SECRET = "pf-S3cr3t-7a1c9e"  # one distinctive value, so any leak is found by a plain search
SECRET_HEADERS = [
    ("Authorization", f"Bearer {SECRET}"),
    ("Cookie", f"session={SECRET}; theme=dark"),
    ("X-Api-Key", SECRET),
    ("aeg-sas-key", SECRET),
    ("aeg-sas-token", f"r=https%3a%2f%2ftopic&e=2030&s={SECRET}"),
    ("X-Amz-Security-Token", SECRET),
    ("Proxy-Authorization", f"Basic {SECRET}"),
]
SECRET_ATTRIBUTES = {"Authorization": f"Bearer {SECRET}", "session_token": SECRET, "x-amz-signature": SECRET,
                     "sas": SECRET, "cookie": f"id={SECRET}", "api_key": SECRET, "order": "42"}


def _app() -> App:
    app = App("redaction")

    @app.http("POST", "/pay")
    def pay(req: HttpRequest) -> Any:
        raise RuntimeError("payment provider timed out")

    @app.queue("work", max_attempts=5)
    def work(msg: Message) -> None:
        if msg.attributes.get("order") == "poison":
            raise NonRetryableError("order cannot be processed")
        raise ConnectionError("downstream unavailable")

    @app.topic("events", max_attempts=5)
    def events(msg: Message) -> None:
        raise NonRetryableError("event rejected")

    return app


def _portafunc_lines(err: str) -> list[dict[str, Any]]:
    lines = []
    for raw in err.splitlines():
        raw = raw.strip()
        if raw.startswith("{"):
            try:
                doc = json.loads(raw)
            except ValueError:
                continue
            if doc.get("logger") == "portafunc":
                lines.append(doc)
    return lines


def _b64_fields(value: Any) -> list[bytes]:
    """Every base64 field, decoded (a secret base64-encoded in a log line is still a leak)."""
    found: list[bytes] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, str) and "base64" in str(key):
                try:
                    found.append(base64.b64decode(item, validate=True))
                except (binascii.Error, ValueError):
                    pass
            found += _b64_fields(item)
    elif isinstance(value, list):
        for item in value:
            found += _b64_fields(item)
    return found


def assert_no_secret(err: str, *, min_lines: int = 1) -> list[dict[str, Any]]:
    lines = _portafunc_lines(err)
    assert len(lines) >= min_lines, f"expected portafunc to log the failure; stderr was:\n{err[-2000:]}"
    for line in lines:
        text = json.dumps(line)
        assert SECRET not in text, f"secret leaked in a log line: {text[:1500]}"
        for decoded in _b64_fields(line):
            assert SECRET.encode() not in decoded, f"secret leaked base64-encoded in: {text[:1500]}"
    return lines


@pytest.mark.parametrize("target", TARGETS)
def test_failed_http_invocation_logs_no_request_secrets(target: str, capsys: pytest.CaptureFixture[str]) -> None:
    req = HttpRequest("POST", "/pay", query={"sig": [SECRET], "code": [SECRET], "page": ["1"]},
                      headers=SECRET_HEADERS + [("Content-Type", "application/json")],
                      body=json.dumps({"card": "4111", "note": "x"}).encode())
    exchange = get_target(target).driver().http(_app(), req)
    assert exchange.response is not None and exchange.response.status == 500
    assert SECRET not in exchange.response.body.decode()
    lines = assert_no_secret(capsys.readouterr().err)
    assert any(level_of(line) == "ERROR" and "payment provider timed out" in str(line.get("error"))
               for line in lines), lines


@pytest.mark.parametrize("target", TARGETS)
def test_poison_message_log_redacts_secret_attributes(target: str, capsys: pytest.CaptureFixture[str]) -> None:
    """A non-retryable message with no dead-letter destination is logged with its attributes (for recovery), minus
    secrets; its payload only as size, content type and hash."""
    msg = Message(id="m-poison-1", data=b'{"order_id": 42}', attributes=dict(SECRET_ATTRIBUTES, order="poison"))
    exchange = get_target(target).driver().messages(_app(), "work", [msg])
    assert exchange.failed_ids == ["m-poison-1"]  # reported failed: the broker's dead-letter policy takes it
    lines = assert_no_secret(capsys.readouterr().err)
    logged = [line for line in lines if line.get("attributes")]
    assert logged, f"the poison message's attributes were not logged: {lines}"
    attrs = logged[0]["attributes"]
    assert attrs["order"] == "poison"  # ordinary attributes stay readable
    for name in SECRET_ATTRIBUTES:
        if name != "order":
            assert attrs.get(name) == logs.REDACTED, (name, attrs)


@pytest.mark.parametrize("target", TARGETS)
def test_retried_message_log_has_no_secrets(target: str, capsys: pytest.CaptureFixture[str]) -> None:
    msg = Message(id="m-retry-1", data=b'{"order_id": 43}', attributes=SECRET_ATTRIBUTES)
    exchange = get_target(target).driver().messages(_app(), "work", [msg])
    assert exchange.failed_ids == ["m-retry-1"]
    lines = assert_no_secret(capsys.readouterr().err)
    assert any("redelivered" in line.get("message", "") for line in lines), lines


@pytest.mark.parametrize("target", TARGETS)
def test_topic_poison_event_log_has_no_secrets(target: str, capsys: pytest.CaptureFixture[str]) -> None:
    msg = Message(id="e-1", data=b'{"kind": "signup"}', attributes={"signature": SECRET, "token": SECRET})
    exchange = get_target(target).driver().messages(_app(), "events", [msg])
    assert exchange.ids == ["e-1"]
    assert_no_secret(capsys.readouterr().err)


# Secrets quoted inside free text are covered below (credential shapes) and by tests/core/test_pipeline.py; this
# test pins the name-based rule of logs.redact().


def test_redact_by_name_covers_headers_cookies_signatures_sas_and_tokens() -> None:
    doc: dict[str, Any] = {"headers": {"Authorization": "Bearer x", "Cookie": "a=b", "Set-Cookie": "a=b", "X-Api-Key": "k",
                       "aeg-sas-key": "k", "x-amz-security-token": "t", "x-goog-iap-jwt-assertion": "j",
                       "Content-Type": "application/json"},
           "attributes": [("signature", "s"), ("SigningCertURL", "https://sns...")],
           "nested": [{"sas_token": "t", "AccountKey": "k", "client_secret": "s", "password": "p"}]}
    out: Any = logs.redact(doc)
    headers = out["headers"]
    assert headers["Content-Type"] == "application/json"
    assert all(v == logs.REDACTED for k, v in headers.items() if k != "Content-Type")
    assert out["attributes"][0] == ["signature", logs.REDACTED]
    assert set(out["nested"][0].values()) == {logs.REDACTED}
    assert doc["headers"]["Authorization"] == "Bearer x"  # a copy: the original is untouched


def test_inbound_verifiers_do_not_log_credentials(capsys: pytest.CaptureFixture[str]) -> None:
    """Refusals by the SNS, Pub/Sub push and Event Grid verifiers log why, never the credential presented."""
    from portafunc_aws.inbound.sns_http import SnsReceiver

    sns = {"Type": "Notification", "MessageId": "1", "TopicArn": "arn:aws:sns:us-east-1:123456789012:t",
           "Message": "m", "Timestamp": "2026-01-01T00:00:00Z", "SignatureVersion": "2", "Signature": SECRET,
           "SigningCertURL": "https://evil.example/cert.pem"}
    verdict = SnsReceiver([]).check(HttpRequest("POST", "/sns", body=json.dumps(sns).encode()))
    assert verdict.status == 403
    assert_no_secret(capsys.readouterr().err)


# -- credential shapes inside free text -------------------------------------------------------------------------

SHAPES = {
    "aws secret key": ("aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "wJalrXUtnFEMI"),
    "aws key id": ("using AKIAIOSFODNN7EXAMPLE", "AKIAIOSFODNN7EXAMPLE"),
    "url password": ("connect to postgres://app:Pg-pw-51de@db.internal:5432/shop failed", "Pg-pw-51de"),
    "slack webhook": ("POST https://hooks.slack.com/services/T0AAA/B0BBB/slackpath9f3 got 500", "slackpath9f3"),
    "google api key": ("GET https://maps.googleapis.com/maps/api/geocode/json?key=AIzaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY",
                       "AIzaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY"),
    "pem private key": ("-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA7pemsecret\n-----END RSA PRIVATE KEY-----",
                        "MIIEpAIBAAKCAQEA7pemsecret"),
    "bearer": ("Authorization: Bearer tok-ab12.cd34", "tok-ab12.cd34"),
}


def _leaky_app() -> App:
    app = App("leaky")
    text = " | ".join(value for value, _ in SHAPES.values())

    @app.http("POST", "/pay")
    def pay(req: HttpRequest) -> Any:
        raise RuntimeError(text)

    @app.queue("work")
    def work(msg: Message) -> None:
        raise ConnectionError(text)

    return app


@pytest.mark.parametrize("target", TARGETS)
def test_credential_shapes_in_error_text_are_masked(target: str, capsys: pytest.CaptureFixture[str]) -> None:
    """AWS secret keys and key ids, URL passwords, Slack webhook paths, Google API keys, PEM private keys and bearer
    tokens quoted in an exception (as SDK and driver errors do) are masked in the "handler failed" lines, in both the
    ``error`` text and the ``traceback``."""
    driver = get_target(target).driver()
    app = _leaky_app()
    response = driver.http(app, HttpRequest("POST", "/pay", body=b"{}")).response
    assert response is not None and response.status == 500
    assert driver.messages(app, "work", [Message(id="m-1", data=b"{}")]).failed_ids == ["m-1"]
    lines = _portafunc_lines(capsys.readouterr().err)
    failed = [line for line in lines if line.get("traceback")]
    assert len(failed) >= 2, lines
    text = json.dumps(lines)
    for name, (_, secret) in SHAPES.items():
        assert secret not in text, f"{name} leaked"
    assert "postgres://app:[REDACTED]@db.internal" in text  # what is not secret stays readable
    assert "hooks.slack.com/[REDACTED]" in text


def test_secret_fields_nested_deeper_than_20_levels_are_not_logged(capsys: pytest.CaptureFixture[str],
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """With PORTAFUNC_LOG_PAYLOADS=1 a rejected JSON payload is logged; a secret-named field 30 levels down is cut
    away with its subtree (a marker stands in its place), not logged as is."""
    from portafunc.invoke import invoke_message

    app = App("deep")

    @app.queue("q")
    def q(msg: Message) -> None:
        raise NonRetryableError("rejected")

    doc: Any = {"password": SECRET, "card": "4111111111111111"}
    for _ in range(30):
        doc = {"level": doc}
    monkeypatch.setenv("PORTAFUNC_LOG_PAYLOADS", "1")
    invoke_message(app.function("q"), Message(id="m-deep", data=json.dumps(doc).encode()))
    lines = assert_no_secret(capsys.readouterr().err)
    logged = json.dumps([line.get("payload") for line in lines])
    assert logs.DEEP in logged and "4111111111111111" not in logged


def test_local_runner_does_not_print_query_credentials(tmp_path: Path) -> None:
    """``portafunc run`` prints one line per request with its path: ``sig=``, ``code=`` and ``access_token=`` query
    values (SAS URLs, Azure function keys, OAuth tokens) are masked there; other parameters stay readable."""
    import socket
    import subprocess
    import sys
    import time
    import urllib.request

    (tmp_path / "main.py").write_text(
        "from portafunc import App\napp = App('q')\n\n@app.http('GET', '/hook')\ndef hook(req):\n"
        "    return {'ok': True}\n", encoding="utf-8")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    err_path = tmp_path / "runner.err"
    with open(err_path, "wb") as err:
        proc = subprocess.Popen([sys.executable, "-m", "portafunc.cli", "run", str(tmp_path), "--port", str(port),
                                 "--no-reload"], stdout=err, stderr=subprocess.STDOUT, cwd=tmp_path)
    try:
        deadline = time.monotonic() + 30
        while "portafunc run: app" not in err_path.read_text(errors="replace"):
            assert proc.poll() is None and time.monotonic() < deadline, err_path.read_text(errors="replace")
            time.sleep(0.05)
        url = f"http://127.0.0.1:{port}/hook?sig={SECRET}&code={SECRET}&access_token={SECRET}&page=2"
        with urllib.request.urlopen(url, timeout=10) as resp:
            assert resp.status == 200
        deadline = time.monotonic() + 10
        while "/hook" not in err_path.read_text(errors="replace") and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        proc.terminate()
        proc.wait(timeout=15)
    printed = err_path.read_text(errors="replace")
    assert "/hook?sig=[REDACTED]&code=[REDACTED]&access_token=[REDACTED]&page=2" in printed, printed
    assert SECRET not in printed


def test_scrubber_keeps_ordinary_text_readable() -> None:
    """Masking is for credentials only: the usual contents of an error stay as they were."""
    for text in ["KeyError: 'order_id'", "ConnectionError: downstream unavailable", 'File "/app/main.py", line 5',
                 "signal: 11", "https://example.com/orders?page=2&sort=asc", "postgres://db.internal:5432/shop",
                 "ValueError: invalid literal for int() with base 10: 'x'"]:
        assert logs.scrub_text(text) == text
    assert logs.scrub_text("GET /hook?sig=abc&page=2") == "GET /hook?sig=[REDACTED]&page=2"
