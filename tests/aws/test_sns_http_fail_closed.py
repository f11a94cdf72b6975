"""SNS HTTP(S) deliveries fail closed: unsigned attributes, topic allow-list before any fetch, cached fetch
failures, a default replay window, bindings with URL options.

Driven through the Lambda handler (``portafunc_aws.runtime.bind``) with the Function URL sample turned into SNS's POST
(see tests/aws/test_sns_http_routing.py) and through the receiver itself. Messages are signed with a local key and
self-signed certificate served by the certificate cache's injectable fetcher (tests/sns_signing.py), because a
fresh Timestamp is needed and AWS's real samples are years old; the canonical string is the one the real AWS-signed
sample proves correct in tests/reliability/test_inbound_sns.py.
"""

from __future__ import annotations

import base64
import json
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from sns_signing import Fetcher, local_signing_key, sign
from test_sns_http_routing import function_url_event

from portafunc import App, HttpRequest, Message
from portafunc_aws.runtime import bind
from portafunc_aws.lambda_context import LambdaContext

ACCOUNT, REGION = "123456789012", "eu-west-1"
TOPIC = f"arn:aws:sns:{REGION}:{ACCOUNT}:orders"
CERT_URL = f"https://sns.{REGION}.amazonaws.com/SimpleNotificationService-local-test.pem"


@pytest.fixture(scope="module")
def local_key() -> tuple[Any, bytes]:
    return local_signing_key()


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    import os

    for name in [k for k in os.environ if k.startswith(("PORTAFUNC_TOPIC_", "PORTAFUNC_SNS_"))]:
        monkeypatch.delenv(name)
    return monkeypatch


def _stamp(delta: timedelta = timedelta(0)) -> str:
    return (datetime.now(timezone.utc) + delta).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _notification(key: Any, *, topic: str = TOPIC, message: str = '{"order_id": 7}', age: timedelta = timedelta(0),
                  attributes: dict[str, Any] | None = None, cert_url: str = CERT_URL) -> dict[str, Any]:
    doc = {"Type": "Notification", "MessageId": "7e0b7d8c-0000-4000-8000-000000000009", "TopicArn": topic,
           "Message": message, "Timestamp": _stamp(-age), "SigningCertURL": cert_url,
           "UnsubscribeURL": f"https://sns.{REGION}.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=x"}
    signed = sign(doc, key, cert_url, "2")
    if attributes is not None:  # added after signing: attributes are not part of what SNS signs
        signed["MessageAttributes"] = attributes
    return signed


def _receiver(pems: dict[str, bytes], **options: Any) -> Any:
    from portafunc_aws.inbound.sns_http import CertificateCache, SnsReceiver

    fetcher = Fetcher(pems)
    receiver = SnsReceiver(certificates=CertificateCache(fetcher, **options.pop("cache", {})),
                           confirm=lambda url: None, **options)
    receiver.fetcher = fetcher  # type: ignore[attr-defined]
    return receiver


def _app() -> tuple[App, list[Message]]:
    app = App("sns-fail-closed")
    seen: list[Message] = []

    @app.topic("orders", name="on_order")
    def on_order(msg: Message) -> None:
        seen.append(msg)

    return app, seen


def _context() -> LambdaContext:
    return LambdaContext(function_name="shop", region=REGION, account=ACCOUNT, aws_request_id="req-7")


def _request(doc: dict[str, Any]) -> HttpRequest:
    return HttpRequest("POST", "/", headers={"x-amz-sns-message-type": doc["Type"],
                                             "content-type": "text/plain; charset=UTF-8"},
                       body=json.dumps(doc).encode())


# -- unsigned attributes -------------------------------------------------------------------------------------------

def test_unsigned_body_encoding_attribute_does_not_change_the_signed_body(env: Any, local_key: Any) -> None:
    """A replayed message with ``portafunc-body-encoding: base64`` added must still be the text SNS signed."""
    key, pem = local_key
    env.setenv("PORTAFUNC_TOPIC_ORDERS", f"sns://{TOPIC}")
    app, seen = _app()
    signed_text = base64.b64encode(b"\x00attacker-chosen bytes\xff").decode()
    doc = _notification(key, message=signed_text,
                        attributes={"portafunc-body-encoding": {"Type": "String", "Value": "base64"},
                                    "tenant": {"Type": "String", "Value": "acme"}})
    out = bind(app, sns_receiver=_receiver({CERT_URL: pem}))(function_url_event(doc), _context())
    assert out["statusCode"] == 200, out
    (msg,) = seen
    assert msg.data == signed_text.encode()  # the signed text, not its base64 decoding
    assert msg.attributes == {"portafunc-body-encoding": "base64", "tenant": "acme"}  # passed on, unsigned


# -- topic allow-list before the certificate ----------------------------------------------------------------------

def test_unknown_topic_is_refused_before_any_certificate_fetch(env: Any, local_key: Any) -> None:
    key, pem = local_key
    foreign_cert = f"https://sns.{REGION}.amazonaws.com/SimpleNotificationService-attacker-chosen.pem"
    receiver = _receiver({CERT_URL: pem}, allowed_topics=[TOPIC])
    for i in range(20):
        doc = _notification(key, topic=f"arn:aws:sns:{REGION}:999999999999:spam-{i}", cert_url=foreign_cert)
        verdict = receiver.check(_request(doc))
        assert (verdict.accepted, verdict.status) == (False, 403), verdict
    assert receiver.fetcher.calls == []  # not one outbound request for a topic we refuse anyway
    assert receiver.check(_request(_notification(key))).accepted
    assert receiver.fetcher.calls == [CERT_URL]


def test_unbound_topic_through_the_lambda_handler_fetches_nothing(env: Any, local_key: Any) -> None:
    key, pem = local_key
    env.setenv("PORTAFUNC_TOPIC_ORDERS", f"sns://{TOPIC}")
    app, seen = _app()
    receiver = _receiver({CERT_URL: pem})
    handler = bind(app, function="on_order", sns_receiver=receiver)
    doc = _notification(key, topic=f"arn:aws:sns:{REGION}:999999999999:orders")
    assert handler(function_url_event(doc), _context())["statusCode"] == 403
    assert receiver.fetcher.calls == [] and seen == []


# -- failed certificate fetches are cached ------------------------------------------------------------------------

class _Clock:
    def __init__(self) -> None:
        self.now = 5000.0

    def __call__(self) -> float:
        return self.now


def test_failed_certificate_fetch_is_remembered(env: Any, local_key: Any) -> None:
    key, pem = local_key
    clock = _Clock()
    pems: dict[str, bytes] = {}
    receiver = _receiver(pems, allowed_topics=[TOPIC], cache={"failure_ttl": 60.0, "clock": clock})
    doc = _notification(key)
    for _ in range(25):
        assert receiver.check(_request(doc)).status == 502  # SNS retries a 5xx
    assert receiver.fetcher.calls == [CERT_URL]  # one fetch, not 25
    pems[CERT_URL] = pem  # the network is back
    assert receiver.check(_request(doc)).status == 502 and len(receiver.fetcher.calls) == 1
    clock.now += 61
    assert receiver.check(_request(doc)).accepted and len(receiver.fetcher.calls) == 2


# -- the replay window is on by default ---------------------------------------------------------------------------

def test_default_replay_window(env: Any, local_key: Any) -> None:
    from portafunc_aws.inbound.sns_http import DEFAULT_MAX_AGE

    key, pem = local_key
    env.setenv("PORTAFUNC_TOPIC_ORDERS", f"sns://{TOPIC}")
    app, seen = _app()
    receiver = _receiver({CERT_URL: pem})
    assert receiver.max_age == DEFAULT_MAX_AGE == 3900.0
    handler = bind(app, sns_receiver=receiver)
    replayed = _notification(key, age=timedelta(hours=2))
    out = handler(function_url_event(replayed), _context())
    assert out["statusCode"] == 403 and "replay" in json.loads(out["body"])["detail"]
    assert handler(function_url_event(_notification(key, age=timedelta(minutes=-10))), _context())["statusCode"] \
        == 403  # ten minutes in the future
    assert seen == []
    assert handler(function_url_event(_notification(key, age=timedelta(minutes=59))), _context())["statusCode"] \
        == 200  # SNS's longest retry is within the window
    assert len(seen) == 1


def test_replay_window_configuration(env: Any) -> None:
    from portafunc_aws.inbound.sns_http import SnsReceiver

    env.setenv("PORTAFUNC_SNS_MAX_AGE", "600")
    assert SnsReceiver().max_age == 600.0
    env.setenv("PORTAFUNC_SNS_MAX_AGE", "off")
    assert SnsReceiver().max_age is None
    for bad in ("soon", "0", "-5", "nan", "inf"):
        env.setenv("PORTAFUNC_SNS_MAX_AGE", bad)
        with pytest.raises(ValueError, match="PORTAFUNC_SNS_MAX_AGE"):
            SnsReceiver()
    with pytest.raises(ValueError, match="max_age"):
        SnsReceiver(max_age=0)
    assert SnsReceiver(max_age=None).max_age is None  # the explicit opt-out


# -- bindings with URL options ------------------------------------------------------------------------------------

def test_binding_with_options_still_matches_its_topic(env: Any, local_key: Any) -> None:
    from portafunc_aws.inbound.sns_http import topics_from_environment

    key, pem = local_key
    env.setenv("PORTAFUNC_TOPIC_ORDERS", f"sns://{TOPIC}?timeout=5")
    app, seen = _app()
    out = bind(app, sns_receiver=_receiver({CERT_URL: pem}))(function_url_event(_notification(key)), _context())
    assert out["statusCode"] == 200, out
    assert [m.source for m in seen] == [TOPIC]
    assert topics_from_environment() == [TOPIC]
    env.setenv("PORTAFUNC_TOPIC_ORDERS", "sns://orders?timeout=5")  # a bare name, in the function's own account
    out = bind(app, sns_receiver=_receiver({CERT_URL: pem}))(function_url_event(_notification(key)), _context())
    assert out["statusCode"] == 200 and len(seen) == 2
