"""SNS HTTP(S) subscription verification (portafunc_aws.inbound.sns_http).

The SignatureVersion 2 tests use a REAL message signed by AWS and its real signing certificate (from the AWS SDK for
Ruby's test suite, see tests/fixtures/events/MANIFEST.md); that certificate expired in 2022, so those tests turn the expiry
check off and a separate test shows the check refuses it. SignatureVersion 1 (SHA1) and confirmations are signed here
with a locally generated key and certificate, served through the certificate cache's injectable fetcher, because AWS
publishes no verifiable SHA1 sample; the canonical string they sign is the one the real v2 sample proves correct.
"""

from __future__ import annotations

import base64
import copy
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sns_signing import Fetcher, local_signing_key, sign

from portafunc import App
from portafunc.events import HttpRequest, Message

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "events" / "aws" / "sns-http"
REAL_MESSAGE = "ruby-notification-sigv2.json"
REAL_CERT = "ruby-SimpleNotificationService-7ff5318490ec183fbaddaa2a969abfda.pem"
LOCAL_CERT_URL = "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-local-test.pem"
TOPIC = "arn:aws:sns:eu-west-1:123456789012:orders"


def _fixture(name: str) -> Any:
    path = FIXTURES / name
    if not path.is_file():
        pytest.fail(f"missing SNS HTTP sample {path}")
    return path.read_bytes()


@pytest.fixture(scope="module")
def real() -> tuple[dict[str, Any], bytes]:
    return json.loads(_fixture(REAL_MESSAGE)), _fixture(REAL_CERT)


@pytest.fixture(scope="module")
def local_key() -> tuple[Any, bytes]:
    """An RSA key and a self-signed certificate standing in for an SNS signing certificate."""
    return local_signing_key()


def _sign(message: dict[str, Any], key: Any, version: str = "1") -> dict[str, Any]:
    return sign(message, key, LOCAL_CERT_URL, version)


def _notification(**extra: Any) -> dict[str, Any]:
    doc = {"Type": "Notification", "MessageId": "5e0b7d8c-0000-4000-8000-000000000001", "TopicArn": TOPIC,
           "Subject": "order", "Message": '{"order_id": 7}', "Timestamp": "2026-01-02T03:04:05.678Z",
           "UnsubscribeURL": "https://sns.eu-west-1.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=x"}
    doc.update(extra)
    return doc


def _confirmation(kind: str = "SubscriptionConfirmation", topic: str = TOPIC, **extra: Any) -> dict[str, Any]:
    doc = {"Type": kind, "MessageId": "165545c9-2a5c-472c-8df2-7ff2be2b3b1b", "Token": "2336412f37fb687f5d51e6e2",
           "TopicArn": topic, "Message": f"You have chosen to subscribe to the topic {topic}.",
           "SubscribeURL": f"https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn={topic}"
                           "&Token=2336412f37fb687f5d51e6e2",
           "Timestamp": "2026-01-02T03:04:05.678Z"}
    doc.update(extra)
    return doc


def _request(doc: Any, *, header: str | None = "auto", method: str = "POST") -> HttpRequest:
    body = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
    headers = [("Content-Type", "text/plain; charset=UTF-8")]
    if header == "auto" and isinstance(doc, dict) and isinstance(doc.get("Type"), str):
        headers.append(("x-amz-sns-message-type", doc["Type"]))
    elif header not in (None, "auto"):
        headers.append(("x-amz-sns-message-type", header))
    return HttpRequest(method, "/sns", headers=headers, body=body)


def _receiver(pems: dict[str, bytes], *, topics: list[str] | None = None, **options: Any) -> Any:
    from portafunc_aws.inbound.sns_http import CertificateCache, SnsReceiver

    fetcher = Fetcher(pems)
    confirmed: list[str] = []
    options.setdefault("max_age", None)  # recorded samples with fixed timestamps; the replay window has own tests
    receiver = SnsReceiver(topics if topics is not None else [TOPIC, "arn:aws:sns:us-east-2:295079676684:*"],
                           certificates=CertificateCache(fetcher), confirm=confirmed.append, **options)
    receiver.fetcher, receiver.confirmed = fetcher, confirmed  # type: ignore[attr-defined]
    return receiver


# -- SignatureVersion 2: the real AWS-signed message ---------------------------------------------------------------

def test_real_sigv2_message_verifies(real: tuple[dict[str, Any], bytes]) -> None:
    message, pem = real
    receiver = _receiver({message["SigningCertURL"]: pem}, check_expiry=False)
    verdict = receiver.check(_request(message))
    assert verdict.accepted and verdict.status == 200, verdict
    assert verdict.message["Message"] == "Hello world"


@pytest.mark.parametrize("field,value", [
    ("Message", "Hello world!"), ("MessageId", "17dea24b-55c2-540b-8362-f916557af766"),
    ("Timestamp", "2022-07-28T21:24:08.325Z"), ("Subject", "added"), ("Type", "SubscriptionConfirmation"),
    ("TopicArn", "arn:aws:sns:us-east-2:295079676684:publish-and-verify-other"),
    ("SignatureVersion", "1"),
])
def test_tampered_real_message_is_403(real: tuple[dict[str, Any], bytes], field: str, value: str) -> None:
    message, pem = real
    tampered = dict(message, **{field: value})
    if field == "Type":  # a confirmation needs its own fields to be well formed; the signature must still fail
        tampered.update(Token="x", SubscribeURL="https://sns.us-east-2.amazonaws.com/?Action=ConfirmSubscription")
    receiver = _receiver({message["SigningCertURL"]: pem}, check_expiry=False)
    verdict = receiver.check(_request(tampered))
    assert not verdict.accepted and verdict.status == 403, verdict
    resp = verdict.response()
    assert resp.status == 403 and resp.headers["content-type"] == "application/problem+json"
    assert receiver.confirmed == []


def test_flipped_signature_bit_is_403(real: tuple[dict[str, Any], bytes]) -> None:
    message, pem = real
    raw = bytearray(base64.b64decode(message["Signature"]))
    raw[10] ^= 0x01
    verdict = _receiver({message["SigningCertURL"]: pem}, check_expiry=False).check(
        _request(dict(message, Signature=base64.b64encode(bytes(raw)).decode())))
    assert (verdict.accepted, verdict.status) == (False, 403)


def test_expired_certificate_is_refused_when_expiry_is_checked(real: tuple[dict[str, Any], bytes]) -> None:
    message, pem = real
    verdict = _receiver({message["SigningCertURL"]: pem}).check(_request(message))
    assert (verdict.accepted, verdict.status) == (False, 403)
    assert "not valid now" in verdict.detail


def test_signature_by_another_key_is_403(real: tuple[dict[str, Any], bytes], local_key: tuple[Any, bytes]) -> None:
    """The real message re-signed by a key that is not the certificate's."""
    message, pem = real
    key, _ = local_key
    forged = _sign(message, key, "2")
    verdict = _receiver({message["SigningCertURL"]: pem}, check_expiry=False).check(_request(forged))
    assert (verdict.accepted, verdict.status) == (False, 403)


# -- SignatureVersion 1, confirmations, unsubscribe (locally signed) -----------------------------------------------

def test_sigv1_sha1_notification_verifies_and_tamper_fails(local_key: tuple[Any, bytes]) -> None:
    key, pem = local_key
    receiver = _receiver({LOCAL_CERT_URL: pem})
    signed = _sign(_notification(), key, "1")
    assert receiver.check(_request(signed)).accepted
    without_subject = _sign(_notification(Subject=None), key, "1")
    assert receiver.check(_request(without_subject)).accepted
    assert receiver.check(_request(dict(signed, Message='{"order_id": 8}'))).status == 403
    # a v1 signature presented as v2 (SHA256) must not verify
    assert receiver.check(_request(dict(signed, SignatureVersion="2"))).status == 403


def test_certificate_is_cached(local_key: tuple[Any, bytes]) -> None:
    key, pem = local_key
    receiver = _receiver({LOCAL_CERT_URL: pem})
    for i in range(5):
        assert receiver.check(_request(_sign(_notification(MessageId=f"m-{i}"), key))).accepted
    assert receiver.fetcher.calls == [LOCAL_CERT_URL]
    assert receiver.certificates.fetches == 1


@pytest.mark.parametrize("url", [
    "http://sns.eu-west-1.amazonaws.com/SimpleNotificationService-x.pem",
    "https://sns.eu-west-1.amazonaws.com.evil.example/SimpleNotificationService-x.pem",
    "https://evil.example/sns.eu-west-1.amazonaws.com/SimpleNotificationService-x.pem",
    "https://sns.eu-west-1.amazonaws.com@evil.example/SimpleNotificationService-x.pem",
    "https://user@sns.eu-west-1.amazonaws.com/SimpleNotificationService-x.pem",
    "https://sns.eu-west-1.amazonaws.com:8443/SimpleNotificationService-x.pem",
    "https://s3.eu-west-1.amazonaws.com/SimpleNotificationService-x.pem",
    "https://snsXeu-west-1.amazonaws.com/SimpleNotificationService-x.pem",
    "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-x.txt",
    "https://sns.eu-west-1.amazonaws.com/x.pem?redirect=https://evil.example/x.pem",
    "file:///etc/ssl/certs/x.pem",
])
def test_untrusted_cert_url_is_refused_without_fetching(local_key: tuple[Any, bytes], url: str) -> None:
    key, pem = local_key
    receiver = _receiver({url: pem})
    verdict = receiver.check(_request(_sign(_notification(SigningCertURL=url), key)))
    assert (verdict.accepted, verdict.status) == (False, 403), verdict
    assert receiver.fetcher.calls == []


@pytest.mark.parametrize("host", ["sns.us-east-1.amazonaws.com", "sns.cn-north-1.amazonaws.com.cn",
                                  "sns.cn-northwest-1.amazonaws.com.cn", "sns.us-gov-west-1.amazonaws.com",
                                  "sns.us-gov-east-1.amazonaws.com", "sns.ap-southeast-3.amazonaws.com"])
def test_commercial_china_and_govcloud_hosts_are_trusted(local_key: tuple[Any, bytes], host: str) -> None:
    key, pem = local_key
    url = f"https://{host}/SimpleNotificationService-0123456789abcdef.pem"
    receiver = _receiver({url: pem})
    assert receiver.check(_request(_sign(_notification(SigningCertURL=url), key))).accepted
    assert receiver.fetcher.calls == [url]


def test_subscription_confirmed_only_for_allowed_topic(local_key: tuple[Any, bytes]) -> None:
    key, pem = local_key
    receiver = _receiver({LOCAL_CERT_URL: pem})
    allowed = _sign(_confirmation(), key)
    verdict = receiver.check(_request(allowed))
    assert verdict.accepted and verdict.type == "SubscriptionConfirmation"
    assert receiver.confirmed == [allowed["SubscribeURL"]]

    other = "arn:aws:sns:eu-west-1:999999999999:not-ours"
    refused = receiver.check(_request(_sign(_confirmation(topic=other), key)))
    assert (refused.accepted, refused.status) == (False, 403)
    assert "not allowed" in refused.detail
    assert receiver.confirmed == [allowed["SubscribeURL"]]  # nothing new confirmed


def test_tampered_confirmation_is_not_confirmed(local_key: tuple[Any, bytes]) -> None:
    key, pem = local_key
    receiver = _receiver({LOCAL_CERT_URL: pem})
    signed = _sign(_confirmation(), key)
    evil = dict(signed, SubscribeURL="https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription&Token=evil")
    assert receiver.check(_request(evil)).status == 403
    assert receiver.confirmed == []


def test_confirmation_with_foreign_subscribe_url_is_not_fetched(local_key: tuple[Any, bytes]) -> None:
    """Even correctly signed (here: by our test key), a SubscribeURL off the SNS hosts is never requested."""
    key, pem = local_key
    receiver = _receiver({LOCAL_CERT_URL: pem})
    signed = _sign(_confirmation(SubscribeURL="https://169.254.169.254/latest/meta-data/"), key)
    verdict = receiver.check(_request(signed))
    assert (verdict.accepted, verdict.status) == (False, 403)
    assert receiver.confirmed == []


def test_unsubscribe_confirmation_is_acknowledged_not_resubscribed(local_key: tuple[Any, bytes]) -> None:
    key, pem = local_key
    receiver = _receiver({LOCAL_CERT_URL: pem})
    verdict = receiver.check(_request(_sign(_confirmation("UnsubscribeConfirmation"), key)))
    assert verdict.accepted and verdict.status == 200 and verdict.type == "UnsubscribeConfirmation"
    assert receiver.confirmed == []


def test_topics_default_to_environment_bindings(local_key: tuple[Any, bytes], monkeypatch: pytest.MonkeyPatch
                                                ) -> None:
    from portafunc_aws.inbound.sns_http import CertificateCache, SnsReceiver

    key, pem = local_key
    confirmed: list[str] = []
    receiver = SnsReceiver(certificates=CertificateCache(Fetcher({LOCAL_CERT_URL: pem})), confirm=confirmed.append,
                           max_age=None)  # a fixed-time sample
    for name in [k for k in __import__("os").environ if k.startswith("PORTAFUNC_TOPIC_")]:
        monkeypatch.delenv(name)
    monkeypatch.delenv("PORTAFUNC_SNS_ALLOWED_TOPICS", raising=False)
    message = _sign(_notification(), key)
    assert receiver.check(_request(message)).status == 403  # nothing bound: nothing trusted
    monkeypatch.setenv("PORTAFUNC_TOPIC_ORDERS", f"sns://{TOPIC}")
    assert receiver.check(_request(message)).accepted
    monkeypatch.delenv("PORTAFUNC_TOPIC_ORDERS")
    monkeypatch.setenv("PORTAFUNC_SNS_ALLOWED_TOPICS", "arn:aws:sns:eu-west-1:123456789012:*")
    assert receiver.check(_request(message)).accepted


def test_replay_window_when_configured(local_key: tuple[Any, bytes]) -> None:
    key, pem = local_key
    now = datetime.now(timezone.utc)
    sent = (now - timedelta(minutes=6)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    message = _sign(_notification(Timestamp=sent), key)
    receiver = _receiver({LOCAL_CERT_URL: pem}, max_age=600, clock=lambda: now)
    assert receiver.check(_request(message)).accepted  # 6 minutes old, window 10
    late = _receiver({LOCAL_CERT_URL: pem}, max_age=60, clock=lambda: now)
    assert late.check(_request(message)).status == 403


# -- malformed bodies: 400, never a crash --------------------------------------------------------------------------

@pytest.mark.parametrize("body", [b"", b"not json", b"[]", b"42", b'{"Type": "Spam"}', b'{"Type": null}',
                                  b"\xff\xfe", b"[" * 5000 + b"]" * 5000])
def test_malformed_bodies_are_400(body: bytes) -> None:
    verdict = _receiver({}).check(_request(body, header=None))
    assert (verdict.accepted, verdict.status) == (False, 400), verdict


def test_wrong_field_types_are_400(local_key: tuple[Any, bytes]) -> None:
    key, pem = local_key
    receiver = _receiver({LOCAL_CERT_URL: pem})
    signed = _sign(_notification(), key)
    for field, value in [("Message", {"nested": 1}), ("MessageId", 7), ("Timestamp", None), ("TopicArn", [])]:
        verdict = receiver.check(_request(dict(signed, **{field: value})))
        assert (verdict.accepted, verdict.status) == (False, 400), (field, verdict)
    assert receiver.check(_request(dict(signed, SigningCertURL=12))).status == 400
    assert receiver.check(_request(dict(signed, Signature="!!!not base64"))).status == 403
    assert receiver.check(_request(dict(signed, SignatureVersion=None))).status == 403


def test_header_and_type_must_agree(local_key: tuple[Any, bytes]) -> None:
    key, pem = local_key
    verdict = _receiver({LOCAL_CERT_URL: pem}).check(_request(_sign(_notification(), key),
                                                              header="SubscriptionConfirmation"))
    assert verdict.status == 400


def test_oversized_body_is_413() -> None:
    verdict = _receiver({}).check(_request(b'{"Type": "Notification", "Message": "' + b"x" * 400_000 + b'"}'))
    assert verdict.status == 413


def test_unreachable_certificate_is_502_so_sns_retries(local_key: tuple[Any, bytes]) -> None:
    key, _ = local_key
    verdict = _receiver({}).check(_request(_sign(_notification(), key)))
    assert (verdict.accepted, verdict.status) == (False, 502)


# -- the endpoint: verified notifications run the topic function ---------------------------------------------------

def test_handle_runs_only_verified_notifications(local_key: tuple[Any, bytes]) -> None:
    from portafunc_aws.inbound.sns_http import handle

    key, pem = local_key
    app = App("sns-http")
    seen: list[Message] = []

    @app.topic("orders")
    def on_order(msg: Message) -> None:
        seen.append(msg)

    receiver = _receiver({LOCAL_CERT_URL: pem})
    signed = _sign(_notification(MessageAttributes={"kind": {"Type": "String", "Value": "new"}}), key)
    assert handle(app, "on_order", _request(signed), receiver).status == 200
    assert [m.json() for m in seen] == [{"order_id": 7}]
    assert seen[0].attributes == {"kind": "new"} and seen[0].id == signed["MessageId"]

    tampered = copy.deepcopy(signed)
    tampered["Message"] = '{"order_id": 666}'
    resp = handle(app, "on_order", _request(tampered), receiver)
    assert resp.status == 403 and len(seen) == 1
    confirm = handle(app, "on_order", _request(_sign(_confirmation(), key)), receiver)
    assert confirm.status == 200 and len(seen) == 1


def test_handle_failure_is_500_so_sns_retries(local_key: tuple[Any, bytes]) -> None:
    from portafunc_aws.inbound.sns_http import handle

    key, pem = local_key
    app = App("sns-http-fail")

    @app.topic("orders")
    def on_order(msg: Message) -> None:
        raise RuntimeError("downstream is down")

    resp = handle(app, "on_order", _request(_sign(_notification(), key)), _receiver({LOCAL_CERT_URL: pem}))
    assert resp.status == 500


def test_import_does_not_load_cryptography_or_boto3() -> None:
    import subprocess
    import sys

    code = ("import sys, portafunc_aws.inbound.sns_http; "
            "print(sorted(m for m in ('cryptography', 'boto3', 'botocore') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]"
