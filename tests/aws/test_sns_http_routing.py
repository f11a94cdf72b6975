"""SNS HTTP(S) subscriptions routed by the Lambda entry to the app's topic functions.

A Lambda Function URL or API Gateway HTTP API endpoint subscribed to an SNS topic receives SNS's POSTs as ordinary
HTTP events. The events here are the real Function URL and HTTP API samples from tests/fixtures/events with the request
turned into what SNS sends (POST, its x-amz-sns-* headers, the message as a text/plain body). The Notification is the
REAL AWS-signed SignatureVersion 2 sample with its real signing certificate (tests/fixtures/events/aws/sns-http, from the AWS
SDK for Ruby's tests); that certificate expired in 2022, so these receivers turn the expiry check off, and one test
shows the default receiver refuses it. Confirmations are the AWS documentation's sample re-signed with a local key and
certificate (SignatureVersion 1), served through the certificate cache's injectable fetcher — as
tests/reliability/test_inbound_sns.py does; nothing reaches the network. No emulator plays SNS HTTP delivery: the
wire format is the documented one and the signature is AWS's own.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sns_signing import Fetcher, local_signing_key, sign

from portafunc import App, HttpRequest, Message
from portafunc.context import current
from portafunc.errors import NonRetryableError
from portafunc_aws.runtime import bind
from portafunc_aws.lambda_context import LambdaContext

SHARED = Path(__file__).resolve().parents[1] / "fixtures" / "events" / "aws"
REAL_MESSAGE = "sns-http/ruby-notification-sigv2.json"
REAL_CERT = "sns-http/ruby-SimpleNotificationService-7ff5318490ec183fbaddaa2a969abfda.pem"
DOCS_CONFIRMATION = "sns-http/awsdocs-subscription-confirmation.json"
LOCAL_CERT_URL = "https://sns.us-west-2.amazonaws.com/SimpleNotificationService-local-test.pem"


def _fixture_bytes(rel: str) -> bytes:
    path = SHARED / rel
    if not path.is_file():
        pytest.fail(f"missing sample {path}")
    return path.read_bytes()


def _fixture(rel: str) -> Any:
    return json.loads(_fixture_bytes(rel))


REAL = _fixture(REAL_MESSAGE)
REAL_TOPIC = REAL["TopicArn"]  # arn:aws:sns:us-east-2:295079676684:publish-and-verify-...
REAL_ACCOUNT, REAL_REGION, REAL_NAME = REAL_TOPIC.split(":")[4], REAL_TOPIC.split(":")[3], REAL_TOPIC.split(":")[5]


# -- SNS as an HTTP client: the native events ----------------------------------------------------------------------

def _sns_headers(doc: dict[str, Any]) -> dict[str, str]:
    """The headers SNS sends with an HTTP(S) delivery (sns-message-and-json-formats), lower-cased as Lambda gives
    them for HTTP APIs and Function URLs."""
    headers = {"x-amz-sns-message-type": str(doc.get("Type")), "x-amz-sns-message-id": str(doc.get("MessageId")),
               "x-amz-sns-topic-arn": str(doc.get("TopicArn")), "content-type": "text/plain; charset=UTF-8",
               "user-agent": "Amazon Simple Notification Service Agent", "x-forwarded-proto": "https",
               "x-forwarded-port": "443", "x-forwarded-for": "54.240.197.1"}
    if doc.get("Type") == "Notification":
        headers["x-amz-sns-subscription-arn"] = f"{doc.get('TopicArn')}:ad7d16e3-0a7c-46aa-b23e-ffaf02250cbe"
    return headers


def function_url_event(doc: Any, *, path: str = "/", base64_body: bool = False,
                       headers: dict[str, str] | None = None) -> dict[str, Any]:
    """The Function URL sample, as SNS's POST of ``doc`` arrives."""
    event = _fixture("http-function-url/powertools-lambdaFunctionUrlEvent.json")
    body = doc if isinstance(doc, bytes) else json.dumps(doc, indent=2).encode()
    event["rawPath"] = path
    event["headers"] = headers if headers is not None else _sns_headers(doc if isinstance(doc, dict) else {})
    event["requestContext"]["http"].update(method="POST", path=path, sourceIp="54.240.197.1",
                                           userAgent="Amazon Simple Notification Service Agent")
    event["body"] = base64.b64encode(body).decode() if base64_body else body.decode()
    event["isBase64Encoded"] = base64_body
    return event


def http_api_event(doc: dict[str, Any], *, path: str = "/sns") -> dict[str, Any]:
    """The HTTP API (payload 2.0) sample, as SNS's POST of ``doc`` arrives."""
    event = _fixture("http-apigw-v2/sam-HttpApi.json")
    event.update(routeKey="$default", rawPath=path, rawQueryString="", headers=_sns_headers(doc),
                 body=json.dumps(doc), isBase64Encoded=False)
    for key in ("cookies", "queryStringParameters", "pathParameters", "stageVariables"):
        event.pop(key, None)
    event["requestContext"]["http"].update(method="POST", path=path)
    event["requestContext"]["routeKey"] = "$default"
    return event


def _context(account: str = REAL_ACCOUNT, region: str = REAL_REGION) -> LambdaContext:
    return LambdaContext(function_name="shop", region=region, account=account, aws_request_id="req-42")


# -- receivers: the real certificate, and a local key for confirmations -------------------------------------------

@pytest.fixture(scope="module")
def local_key() -> tuple[Any, bytes]:
    return local_signing_key()


def _sign(doc: dict[str, Any], key: Any) -> dict[str, Any]:
    return sign(dict(doc, SigningCertURL=LOCAL_CERT_URL), key, LOCAL_CERT_URL)


def receiver(local_pem: bytes | None = None, *, check_expiry: bool = False) -> Any:
    from portafunc_aws.inbound.sns_http import CertificateCache, SnsReceiver

    pems = {REAL["SigningCertURL"]: _fixture_bytes(REAL_CERT)}
    if local_pem is not None:
        pems[LOCAL_CERT_URL] = local_pem
    confirmed: list[str] = []
    rec = SnsReceiver(certificates=CertificateCache(Fetcher(pems)), confirm=confirmed.append,
                      check_expiry=check_expiry, max_age=None)  # recorded samples with fixed timestamps
    rec.confirmed = confirmed  # type: ignore[attr-defined]
    return rec


def _confirmation(key: Any, topic: str = REAL_TOPIC) -> dict[str, Any]:
    """The AWS documentation's SubscriptionConfirmation for ``topic``, signed with the local key."""
    doc = _fixture(DOCS_CONFIRMATION)
    old = doc["TopicArn"]
    doc = {k: v.replace(old, topic) if isinstance(v, str) else v for k, v in doc.items()}
    doc["SubscribeURL"] = doc["SubscribeURL"].replace("sns.us-west-2", f"sns.{topic.split(':')[3]}")
    return _sign(doc, key)


# -- the app ----------------------------------------------------------------------------------------------------------

def make_app() -> tuple[App, dict[str, list[Any]]]:
    seen: dict[str, list[Any]] = {"orders": [], "audit": [], "http": []}
    app = App("sns-routing")

    @app.topic("orders", name="on_order")
    def on_order(msg: Message) -> None:
        inv = current()
        assert inv is not None
        seen["orders"].append((msg.id, msg.text, msg.source, inv.invocation_id, inv.target))
        if msg.text == "fail":
            raise RuntimeError("downstream is down")
        if msg.text == "poison":
            raise NonRetryableError("never valid")

    @app.topic("audit", name="audit")
    def audit(msg: Message) -> None:
        seen["audit"].append(msg.id)

    @app.http("POST", "/raw")
    def raw(req: HttpRequest) -> dict:
        seen["http"].append(req.body)
        return {"raw": True}

    return app, seen


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    import os

    for name in [k for k in os.environ if k.startswith(("PORTAFUNC_TOPIC_", "PORTAFUNC_SNS_"))]:
        monkeypatch.delenv(name)
    return monkeypatch


def _status(out: dict[str, Any]) -> int:
    return out["statusCode"]


def _problem(out: dict[str, Any]) -> dict[str, Any]:
    assert out["headers"]["content-type"] == "application/problem+json", out
    return json.loads(out["body"])


# -- Notifications -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("shape", ["function-url", "function-url-base64", "http-api"])
def test_real_signed_notification_runs_the_bound_topic_function(env, shape):
    env.setenv("PORTAFUNC_TOPIC_ORDERS", f"sns://{REAL_TOPIC}")
    app, seen = make_app()
    event = {"function-url": lambda: function_url_event(REAL),
             "function-url-base64": lambda: function_url_event(REAL, base64_body=True),
             "http-api": lambda: http_api_event(REAL)}[shape]()
    out = bind(app, sns_receiver=receiver())(event, _context())
    assert _status(out) == 200, out
    assert seen["orders"] == [(REAL["MessageId"], "Hello world", REAL_TOPIC, "req-42", "aws")]
    assert seen["audit"] == [] and seen["http"] == []  # audit is bound to nothing; /raw untouched


def test_the_default_receiver_checks_certificate_expiry(env):
    env.setenv("PORTAFUNC_TOPIC_ORDERS", f"sns://{REAL_TOPIC}")
    app, seen = make_app()
    out = bind(app, sns_receiver=receiver(check_expiry=True))(function_url_event(REAL), _context())
    assert _status(out) == 403 and "not valid now" in _problem(out)["detail"]
    assert seen["orders"] == []


@pytest.mark.parametrize("field,value", [("Message", "Hello world!"), ("MessageId", "17dea24b-0000"),
                                         ("Timestamp", "2022-07-28T21:24:09.324Z"), ("Subject", "hi")])
def test_tampered_notification_is_403_and_runs_nothing(env, field, value):
    env.setenv("PORTAFUNC_TOPIC_ORDERS", f"sns://{REAL_TOPIC}")
    app, seen = make_app()
    tampered = dict(REAL, **{field: value})
    out = bind(app, sns_receiver=receiver())(function_url_event(tampered), _context())
    assert _status(out) == 403, out
    assert seen["orders"] == []


def test_forged_signature_under_our_own_key_is_403(env, local_key):
    """A correctly formed signature by a key that is not behind the message's SigningCertURL."""
    key, pem = local_key
    env.setenv("PORTAFUNC_TOPIC_ORDERS", f"sns://{REAL_TOPIC}")
    app, seen = make_app()
    forged = dict(_sign(dict(REAL, Message="pay me"), key), SigningCertURL=REAL["SigningCertURL"])
    out = bind(app, sns_receiver=receiver(pem))(function_url_event(forged), _context())
    assert _status(out) == 403 and seen["orders"] == []


def test_handler_failure_is_5xx_so_sns_retries(env, local_key):
    key, pem = local_key
    topic = f"arn:aws:sns:{REAL_REGION}:{REAL_ACCOUNT}:orders"
    env.setenv("PORTAFUNC_TOPIC_ORDERS", f"sns://{topic}")
    app, seen = make_app()
    failing = _sign({"Type": "Notification", "MessageId": "m-fail", "TopicArn": topic, "Message": "fail",
                     "Timestamp": "2026-01-02T03:04:05.678Z"}, key)
    out = bind(app, sns_receiver=receiver(pem))(function_url_event(failing), _context())
    assert 500 <= _status(out) < 600 and _problem(out)["functions"] == ["on_order"]
    assert [s[0] for s in seen["orders"]] == ["m-fail"]


def test_non_retryable_failure_without_dead_letter_is_also_5xx_then_dead_lettered_is_200(env, local_key):
    """No dead-letter destination: SNS must keep it (its retries, then the subscription's DLQ). With one: 200."""
    key, pem = local_key
    topic = f"arn:aws:sns:{REAL_REGION}:{REAL_ACCOUNT}:orders"
    env.setenv("PORTAFUNC_TOPIC_ORDERS", f"sns://{topic}")
    app, _ = make_app()
    poison = _sign({"Type": "Notification", "MessageId": "m-poison", "TopicArn": topic, "Message": "poison",
                    "Timestamp": "2026-01-02T03:04:05.678Z"}, key)
    handler = bind(app, sns_receiver=receiver(pem))
    assert 500 <= _status(handler(function_url_event(poison), _context())) < 600
    env.setenv("PORTAFUNC_DEADLETTER_ON_ORDER", "memory://sns-dead")
    assert _status(handler(function_url_event(poison), _context())) == 200
    from portafunc.messaging.memory import broker

    dead = broker().queue("sns-dead").receive(10)
    assert [(m.data, m.attributes["portafunc_original_id"]) for m in dead] == [(b"poison", "m-poison")]


def test_every_topic_function_bound_to_the_topic_runs(env):
    env.setenv("PORTAFUNC_TOPIC_ORDERS", f"sns://{REAL_TOPIC}")
    env.setenv("PORTAFUNC_TOPIC_AUDIT", f"sns://{REAL_TOPIC}")
    app, seen = make_app()
    out = bind(app, sns_receiver=receiver())(http_api_event(REAL), _context())
    assert _status(out) == 200
    assert [s[3] for s in seen["orders"]] == ["req-42:0"] and seen["audit"] == [REAL["MessageId"]]


# -- which topic, and falling through ---------------------------------------------------------------------------------

def test_unknown_topic_falls_through_to_http_routing(env):
    """No topic function is bound to the topic: the request is ordinary HTTP — a route may take it raw, else 404."""
    env.setenv("PORTAFUNC_TOPIC_ORDERS", "sns://arn:aws:sns:us-east-2:295079676684:some-other-topic")
    app, seen = make_app()
    handler = bind(app, sns_receiver=receiver())
    assert _status(handler(function_url_event(REAL, path="/nothing-here"), _context())) == 404
    out = handler(function_url_event(REAL, path="/raw"), _context())
    assert _status(out) == 200 and json.loads(out["body"]) == {"raw": True}
    assert json.loads(seen["http"][0]) == REAL  # the raw, unverified body, for the route to judge
    assert seen["orders"] == []


def test_a_body_that_is_no_sns_message_falls_through(env):
    env.setenv("PORTAFUNC_TOPIC_ORDERS", f"sns://{REAL_TOPIC}")
    app, seen = make_app()
    handler = bind(app, sns_receiver=receiver())
    headers = {"x-amz-sns-message-type": "Notification", "content-type": "text/plain"}
    for body in (b"not json", b"[1]", b'{"Type": "Spam"}', b""):
        out = handler(function_url_event(body, path="/raw", headers=headers), _context())
        assert _status(out) == 200, (body, out)
    assert seen["http"] == [b"not json", b"[1]", b'{"Type": "Spam"}', b""] and seen["orders"] == []


def test_name_binding_matches_only_the_functions_own_account_and_region(env):
    env.setenv("PORTAFUNC_TOPIC_ORDERS", f"sns://{REAL_NAME}")
    app, seen = make_app()
    handler = bind(app, sns_receiver=receiver())
    assert _status(handler(function_url_event(REAL), _context())) == 200
    assert len(seen["orders"]) == 1
    # the same topic name in another account (or region) is somebody else's topic: not ours, plain HTTP (404)
    assert _status(handler(function_url_event(REAL), _context(account="111122223333"))) == 404
    assert _status(handler(function_url_event(REAL), _context(region="eu-west-1"))) == 404
    assert _status(handler(function_url_event(REAL), None)) == 404  # no context: the account is unknown
    assert len(seen["orders"]) == 1


def test_routing_can_be_switched_off(env):
    env.setenv("PORTAFUNC_TOPIC_ORDERS", f"sns://{REAL_TOPIC}")
    env.setenv("PORTAFUNC_SNS_HTTP", "off")
    app, seen = make_app()
    out = bind(app, sns_receiver=receiver())(function_url_event(REAL, path="/raw"), _context())
    assert _status(out) == 200 and json.loads(out["body"]) == {"raw": True}
    assert seen["orders"] == [] and len(seen["http"]) == 1


def test_header_and_body_type_must_agree(env):
    env.setenv("PORTAFUNC_TOPIC_ORDERS", f"sns://{REAL_TOPIC}")
    app, seen = make_app()
    headers = dict(_sns_headers(REAL), **{"x-amz-sns-message-type": "SubscriptionConfirmation"})
    out = bind(app, sns_receiver=receiver())(function_url_event(REAL, headers=headers), _context())
    assert _status(out) == 400 and seen["orders"] == []


def test_only_post_is_accepted(env):
    env.setenv("PORTAFUNC_TOPIC_ORDERS", f"sns://{REAL_TOPIC}")
    app, seen = make_app()
    event = function_url_event(REAL)
    event["requestContext"]["http"]["method"] = "PUT"
    assert _status(bind(app, sns_receiver=receiver())(event, _context())) == 405
    assert seen["orders"] == []


# -- a Lambda deployed for one topic function (PORTAFUNC_FUNCTION) --------------------------------------------------

def test_lambda_for_one_topic_function_serves_it_and_refuses_the_rest(env, local_key):
    key, pem = local_key
    env.setenv("PORTAFUNC_TOPIC_ORDERS", f"sns://{REAL_TOPIC}")
    env.setenv("PORTAFUNC_TOPIC_AUDIT", f"sns://{REAL_TOPIC}")
    app, seen = make_app()
    handler = bind(app, "on_order", sns_receiver=receiver(pem))
    assert _status(handler(function_url_event(REAL), _context())) == 200
    assert len(seen["orders"]) == 1 and seen["audit"] == []  # only its own function, not every bound one
    other = _sign({"Type": "Notification", "MessageId": "m-x", "Message": "x", "Timestamp": "2026-01-02T03:04:05Z",
                   "TopicArn": f"arn:aws:sns:{REAL_REGION}:{REAL_ACCOUNT}:not-bound"}, key)
    out = handler(function_url_event(other), _context())
    assert _status(out) == 403 and "not bound" in _problem(out)["detail"]
    out = handler(function_url_event(b"{not json", headers={"x-amz-sns-message-type": "Notification"}), _context())
    assert _status(out) == 400
    assert len(seen["orders"]) == 1


def test_plain_http_to_a_topic_function_is_still_a_mismatch(env):
    from portafunc.errors import EventDecodeError

    app, _ = make_app()
    event = function_url_event(REAL, headers={"content-type": "application/json"})
    with pytest.raises(EventDecodeError, match="topic function"):
        bind(app, "on_order")(event, _context())


# -- subscription confirmations -------------------------------------------------------------------------------------

def test_subscription_is_confirmed_only_for_a_bound_topic(env, local_key):
    key, pem = local_key
    env.setenv("PORTAFUNC_TOPIC_ORDERS", f"sns://{REAL_TOPIC}")
    app, seen = make_app()
    rec = receiver(pem)
    handler = bind(app, sns_receiver=rec)
    confirmation = _confirmation(key)
    out = handler(function_url_event(confirmation), _context())
    assert _status(out) == 200 and rec.confirmed == [confirmation["SubscribeURL"]]

    stranger = _confirmation(key, topic=f"arn:aws:sns:{REAL_REGION}:999999999999:{REAL_NAME}")
    assert _status(handler(function_url_event(stranger), _context())) == 404  # not ours: plain HTTP, no route
    assert _status(bind(app, "on_order", sns_receiver=rec)(function_url_event(stranger), _context())) == 403
    tampered = dict(confirmation, SubscribeURL=confirmation["SubscribeURL"] + "&evil=1")
    assert _status(handler(function_url_event(tampered), _context())) == 403
    assert rec.confirmed == [confirmation["SubscribeURL"]] and seen["orders"] == []


def test_unsubscribe_confirmation_is_acknowledged_without_resubscribing(env, local_key):
    key, pem = local_key
    env.setenv("PORTAFUNC_TOPIC_ORDERS", f"sns://{REAL_TOPIC}")
    app, seen = make_app()
    rec = receiver(pem)
    doc = _confirmation(key)
    unsubscribe = _sign(dict({k: v for k, v in doc.items() if k not in ("Signature", "SignatureVersion",
                                                                         "SigningCertURL")},
                             Type="UnsubscribeConfirmation"), key)
    assert _status(bind(app, sns_receiver=rec)(function_url_event(unsubscribe), _context())) == 200
    assert rec.confirmed == [] and seen["orders"] == []


# -- cold start -------------------------------------------------------------------------------------------------------

def test_plain_http_requests_load_neither_the_sns_receiver_nor_cryptography(tmp_path):
    app_file = tmp_path / "plainapp.py"
    app_file.write_text("from portafunc import App\napp = App('plain')\n"
                        "@app.http('GET', '/x')\ndef x(req) -> dict:\n    return {'ok': True}\n")
    event = json.dumps(_fixture("http-function-url/powertools-lambdaFunctionUrlEvent.json")).replace('"/"', '"/x"')
    code = ("import json, sys\n"
            f"sys.path.insert(0, {str(tmp_path)!r})\n"
            "import plainapp\n"
            "from portafunc_aws.runtime import bind\n"
            f"out = bind(plainapp.app)(json.loads({event!r}), None)\n"
            "assert out['statusCode'] == 200, out\n"
            "loaded = sorted(m for m in ('portafunc_aws.inbound.sns_http', 'cryptography', 'typing') if m in sys.modules)\n"
            "print(loaded)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]"
