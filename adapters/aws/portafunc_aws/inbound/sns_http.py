"""SNS HTTP(S) subscription receiver: verify every message before anything acts on it.

An HTTP(S) endpoint subscribed to an SNS topic is on the open internet, so anyone can POST an SNS-shaped body to it.
This module accepts a body only when:

* it is an SNS message (``Notification``, ``SubscriptionConfirmation`` or ``UnsubscribeConfirmation``) whose fields
  are all text, and the ``x-amz-sns-message-type`` header, when present, names the same type;
* its ``SigningCertURL`` is ``https://sns.<region>.amazonaws.com[.cn]/...pem`` (commercial, China and GovCloud regions
  all use that form), so an attacker cannot point us at a certificate of their own;
* the RSA signature over the canonical string (AWS's documented field order) verifies with that certificate:
  ``SignatureVersion`` 1 is SHA1withRSA, 2 is SHA256withRSA; the certificate is inside its validity period;
* its ``TopicArn`` is allowed (``allowed_topics``, default: the ``sns://`` topic bindings in the environment plus
  ``PORTAFUNC_SNS_ALLOWED_TOPICS``, comma separated, ``fnmatch`` patterns allowed) — checked *before* any certificate
  is fetched, so a stranger's topic costs us no outbound request;
* its ``Timestamp`` is within the replay window (``max_age``, default 3,900 s: SNS's hard 3,600 s limit on HTTP/S
  retries plus 5 minutes of clock skew; ``PORTAFUNC_SNS_MAX_AGE`` changes it) and not more than 5 minutes ahead.

``MessageAttributes`` are NOT covered by the SNS signature: anyone replaying a signed message can change them. They
are passed to the handler as they came, and none of them changes how the signed ``Message`` is decoded — in
particular ``portafunc-body-encoding`` is not honoured here: the data is the signed text's UTF-8 bytes.

A ``SubscriptionConfirmation`` is confirmed (GET of its ``SubscribeURL``, which must also be on an SNS host) only after
all of the above; an ``UnsubscribeConfirmation`` is verified, logged and acknowledged — never re-subscribed.

Certificates are cached by URL (they are few and rotate rarely); a failed fetch is remembered for a minute, so a
flood of bodies naming an unreachable certificate makes one outbound request, not one each. ``cryptography`` is imported on first verification,
not at import, so the cold start of functions that never see SNS HTTP traffic does not pay for it.

Use :class:`SnsReceiver` standalone (``receiver.check(request)`` → :class:`SnsVerdict`) or :func:`handle` to run a
topic function of an app behind it.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import threading
import time
from datetime import datetime, timezone
from fnmatch import fnmatchcase
from typing import Any, Callable, Iterable, Mapping
from urllib.parse import urlsplit

from portafunc import logs
from portafunc.errors import reduce_exception
from portafunc.events import HttpRequest, HttpResponse

MESSAGE_TYPES = ("Notification", "SubscriptionConfirmation", "UnsubscribeConfirmation")
# The fields that are signed, in AWS's documented order (sns-verify-signature-of-message).
_NOTIFICATION_FIELDS = ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type")
_CONFIRMATION_FIELDS = ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type")
# sns.<region>.amazonaws.com (commercial and GovCloud, e.g. sns.us-gov-west-1.amazonaws.com) and .amazonaws.com.cn.
SNS_HOST = re.compile(r"^sns\.[a-z]{2}(?:-[a-z]+)+-\d\.amazonaws\.com(?:\.cn)?$")
MAX_BODY_BYTES = 256 * 1024 + 16 * 1024  # SNS messages are at most 256 KiB; the envelope adds a little
MAX_CERT_BYTES = 64 * 1024
ALLOWED_TOPICS_ENV = "PORTAFUNC_SNS_ALLOWED_TOPICS"
MAX_AGE_ENV = "PORTAFUNC_SNS_MAX_AGE"
DEFAULT_MAX_AGE = 3600.0 + 300.0  # SNS stops retrying an HTTP/S delivery after 3,600 s (hard limit) + clock skew
FUTURE_LEEWAY = 300.0
_FROM_ENVIRONMENT: Any = object()


class SnsVerificationError(Exception):
    """Why a body was refused; ``status`` is the HTTP answer (400 malformed, 403 untrusted, 502 certificate fetch)."""

    __reduce__ = reduce_exception  # copy and pickle without calling __init__ again

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


class SnsVerdict:
    """The outcome of :meth:`SnsReceiver.check`: accepted or not, the status to answer, and the verified message."""

    __slots__ = ("accepted", "status", "detail", "message")

    def __init__(self, accepted: bool, status: int, detail: str, message: Mapping[str, Any] | None = None) -> None:
        self.accepted = accepted
        self.status = status
        self.detail = detail
        self.message = message

    def __repr__(self) -> str:
        return f"SnsVerdict(accepted={self.accepted}, status={self.status}, detail={self.detail!r})"

    @property
    def type(self) -> str | None:
        return None if self.message is None else str(self.message.get("Type"))

    def response(self) -> HttpResponse:
        """The HTTP answer for a refused body (problem+json) or an acknowledged confirmation (200, empty)."""
        if self.accepted:
            return HttpResponse(status=self.status)
        titles = {400: "Bad Request", 403: "Forbidden", 405: "Method Not Allowed", 413: "Content Too Large", 502: "Bad Gateway"}
        return HttpResponse.problem(self.status, titles.get(self.status, "Rejected"), self.detail)


# -- certificates ------------------------------------------------------------------------------------------------

def check_cert_url(url: Any) -> str:
    """Return ``url`` when it is an SNS signing certificate URL we may fetch; 403 otherwise."""
    if not isinstance(url, str):
        raise SnsVerificationError(400, "SigningCertURL is missing or not text")
    parts = urlsplit(url)
    if parts.scheme != "https" or parts.username or parts.password or parts.port not in (None, 443) \
            or not SNS_HOST.match(parts.hostname or "") or not parts.path.endswith(".pem") or parts.query \
            or parts.fragment:
        raise SnsVerificationError(403, f"untrusted SigningCertURL {url!r}: only https://sns.<region>.amazonaws.com"
                                        "[.cn]/...pem is accepted")
    return url


def check_sns_url(url: Any, what: str) -> str:
    """A SubscribeURL must point at an SNS endpoint too, or confirming it would be a request forgery."""
    if not isinstance(url, str):
        raise SnsVerificationError(400, f"{what} is missing or not text")
    parts = urlsplit(url)
    if parts.scheme != "https" or parts.username or parts.password or parts.port not in (None, 443) \
            or not SNS_HOST.match(parts.hostname or ""):
        raise SnsVerificationError(403, f"untrusted {what} {url!r}: only https://sns.<region>.amazonaws.com[.cn]/")
    return url


def fetch_url(url: str, *, timeout: float = 5.0, limit: int = MAX_CERT_BYTES) -> bytes:
    """GET ``url`` over verified TLS (the default context checks the host name), reading at most ``limit`` bytes."""
    import urllib.request

    with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 - the URL is checked by the caller
        data = resp.read(limit + 1)
    if len(data) > limit:
        raise ValueError(f"{url} answered more than {limit} bytes")
    return data


class CertificateCache:
    """Signing certificates by URL, loaded once and kept ``ttl`` seconds (at most ``max_entries``)."""

    def __init__(self, fetch: Callable[[str], bytes] | None = None, *, ttl: float = 24 * 3600,
                 max_entries: int = 32, failure_ttl: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._fetch = fetch or fetch_url
        self._ttl = ttl
        self._max = max_entries
        self._failure_ttl = failure_ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._items: dict[str, tuple[float, Any]] = {}
        self._failures: dict[str, tuple[float, str]] = {}
        self.fetches = 0

    def get(self, url: str) -> Any:
        """The ``cryptography`` certificate at ``url`` (fetched on a miss); 502 when it cannot be fetched/parsed
        (remembered ``failure_ttl`` seconds: no refetch in between)."""
        now = self._clock()
        with self._lock:
            hit = self._items.get(url)
            if hit is not None and now - hit[0] < self._ttl:
                return hit[1]
            failed = self._failures.get(url)
            if failed is not None and now - failed[0] < self._failure_ttl:
                raise SnsVerificationError(502, f"the signing certificate {url} could not be fetched "
                                                f"{now - failed[0]:.0f}s ago ({failed[1]}); not retrying yet")
            self.fetches += 1
        try:
            cert = load_certificate(self._fetch(url), url)
        except Exception as exc:  # noqa: BLE001 - network failures are the sender's retry, not our crash
            reason = exc.detail if isinstance(exc, SnsVerificationError) else f"{type(exc).__name__}: {exc}"
            with self._lock:
                if len(self._failures) >= self._max:
                    self._failures.pop(next(iter(self._failures)))
                self._failures[url] = (now, reason[:200])
            raise SnsVerificationError(502, f"could not fetch the signing certificate {url}: {reason}") from None
        with self._lock:
            self._failures.pop(url, None)
            if len(self._items) >= self._max:
                self._items.pop(next(iter(self._items)))
            self._items[url] = (now, cert)
        return cert

    def put(self, url: str, pem: bytes) -> None:
        """Pre-load a certificate (tests, or a deployment that pins the current certificate)."""
        with self._lock:
            self._items[url] = (self._clock(), load_certificate(pem, url))

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._failures.clear()


def load_certificate(pem: bytes, url: str = "certificate") -> Any:
    from cryptography import x509

    try:
        return x509.load_pem_x509_certificate(pem)
    except ValueError as exc:
        raise SnsVerificationError(502, f"{url} is not a PEM certificate: {exc}") from None


# -- the canonical string and the signature ----------------------------------------------------------------------

def string_to_sign(message: Mapping[str, Any]) -> bytes:
    """AWS's canonical form: ``Name\\nValue\\n`` for each signed field present, in the documented order."""
    kind = message.get("Type")
    fields = _NOTIFICATION_FIELDS if kind == "Notification" else _CONFIRMATION_FIELDS
    out = []
    for name in fields:
        value = message.get(name)
        if value is None:
            if name == "Subject":
                continue
            raise SnsVerificationError(400, f"SNS {kind} lacks {name}")
        if not isinstance(value, str):
            raise SnsVerificationError(400, f"SNS {kind} field {name} is {type(value).__name__}, not text")
        out.append(f"{name}\n{value}\n")
    return "".join(out).encode("utf-8")


def verify_signature(message: Mapping[str, Any], cert: Any, *, check_expiry: bool = True,
                     now: datetime | None = None) -> None:
    """Raise :class:`SnsVerificationError` (403) unless ``message`` is signed by ``cert``'s key."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    version = message.get("SignatureVersion")
    algorithm = {"1": hashes.SHA1, "2": hashes.SHA256}.get(version) if isinstance(version, str) else None
    if algorithm is None:
        raise SnsVerificationError(403, f"unsupported SignatureVersion {version!r} (expected '1' or '2')")
    signature_text = message.get("Signature")
    if not isinstance(signature_text, str) or not signature_text:
        raise SnsVerificationError(403, "Signature is missing")
    try:
        signature = base64.b64decode(signature_text, validate=True)
    except (binascii.Error, ValueError):
        raise SnsVerificationError(403, "Signature is not base64") from None
    if check_expiry:
        at = now or datetime.now(timezone.utc)
        if not cert.not_valid_before_utc <= at <= cert.not_valid_after_utc:
            raise SnsVerificationError(403, f"the signing certificate is not valid now (valid "
                                            f"{cert.not_valid_before_utc:%Y-%m-%d} to "
                                            f"{cert.not_valid_after_utc:%Y-%m-%d})")
    key = cert.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise SnsVerificationError(403, "the signing certificate does not hold an RSA key")
    try:
        key.verify(signature, string_to_sign(message), padding.PKCS1v15(), algorithm())
    except InvalidSignature:
        raise SnsVerificationError(403, "the SNS signature does not verify") from None


# -- topics ------------------------------------------------------------------------------------------------------

def topics_from_environment(environ: Mapping[str, str] | None = None) -> list[str]:
    """Topic ARNs this deployment trusts: its ``sns://`` topic bindings plus ``PORTAFUNC_SNS_ALLOWED_TOPICS``."""
    env = os.environ if environ is None else environ
    found = [binding_target(value) for key, value in env.items()
             if key.startswith("PORTAFUNC_TOPIC_") and value.startswith("sns://")]
    found += [item.strip() for item in env.get(ALLOWED_TOPICS_ENV, "").split(",") if item.strip()]
    return found


def binding_target(url: str) -> str:
    """The topic of an ``sns://`` binding without its options: ``sns://ARN?timeout=5`` → ``ARN``."""
    return url[len("sns://"):].partition("?")[0].partition("#")[0]


def max_age_from_environment(environ: Mapping[str, str] | None = None) -> float | None:
    """``PORTAFUNC_SNS_MAX_AGE`` seconds (``off`` disables the replay window), else :data:`DEFAULT_MAX_AGE`."""
    env = os.environ if environ is None else environ
    text = env.get(MAX_AGE_ENV, "").strip()
    if not text:
        return DEFAULT_MAX_AGE
    if text.lower() == "off":
        return None
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{MAX_AGE_ENV}={text!r} is not a number of seconds (or 'off')") from None
    if not 0 < value < float("inf"):
        raise ValueError(f"{MAX_AGE_ENV}={text!r} must be a positive number of seconds (or 'off')")
    return value


def _parse(body: bytes) -> dict[str, Any]:
    if len(body) > MAX_BODY_BYTES:
        raise SnsVerificationError(413, f"body is {len(body)} bytes; an SNS message is at most {MAX_BODY_BYTES}")
    try:
        doc = json.loads(body)
    except (ValueError, RecursionError):
        raise SnsVerificationError(400, "the body is not JSON; an SNS HTTP(S) message was expected") from None
    if not isinstance(doc, dict):
        raise SnsVerificationError(400, "the body is not a JSON object; an SNS HTTP(S) message was expected")
    if doc.get("Type") not in MESSAGE_TYPES:
        raise SnsVerificationError(400, f"Type {doc.get('Type')!r} is not one of {', '.join(MESSAGE_TYPES)}")
    return doc


class SnsReceiver:
    """Verifies SNS HTTP(S) deliveries; one per endpoint, kept between invocations (it holds the cert cache).

    ``allowed_topics``: ARNs or ``fnmatch`` patterns (default :func:`topics_from_environment`, read per check).
    ``confirm``: called with the ``SubscribeURL`` of an allowed, verified confirmation (default: an HTTPS GET).
    ``check_expiry``: refuse certificates outside their validity period (only tests of old samples turn it off).
    ``max_age``: seconds; refuse messages whose ``Timestamp`` is older (replay window). Default
    ``PORTAFUNC_SNS_MAX_AGE`` or :data:`DEFAULT_MAX_AGE` (SNS never retries an HTTP/S delivery for longer);
    ``None`` turns the window off — only for replaying old recorded messages on purpose.
    """

    def __init__(self, allowed_topics: Iterable[str] | None = None, *, certificates: CertificateCache | None = None,
                 confirm: Callable[[str], Any] | None = None, check_expiry: bool = True,
                 max_age: float | None = _FROM_ENVIRONMENT, clock: Callable[[], datetime] | None = None) -> None:
        self._allowed = list(allowed_topics) if allowed_topics is not None else None
        self.certificates = certificates or CertificateCache()
        self._confirm = confirm or (lambda url: fetch_url(url, limit=64 * 1024))
        self.check_expiry = check_expiry
        if max_age is _FROM_ENVIRONMENT:
            max_age = max_age_from_environment()
        elif max_age is not None and not 0 < max_age < float("inf"):
            raise ValueError(f"max_age must be a positive number of seconds or None (no replay window), not "
                             f"{max_age!r}")
        self.max_age = max_age
        self._clock = clock or (lambda: datetime.now(timezone.utc))

    def topic_allowed(self, arn: str) -> bool:
        patterns = self._allowed if self._allowed is not None else topics_from_environment()
        return any(fnmatchcase(arn, pattern) for pattern in patterns)

    def verify(self, message: Mapping[str, Any]) -> None:
        """Signature, certificate origin and age; raises :class:`SnsVerificationError`."""
        url = check_cert_url(message.get("SigningCertURL"))
        string_to_sign(message)  # shape first: a malformed message is a 400 before any fetch
        cert = self.certificates.get(url)
        now = self._clock()
        verify_signature(message, cert, check_expiry=self.check_expiry, now=now)
        if self.max_age is not None:
            from portafunc.events import parse_time

            try:
                sent = parse_time(message.get("Timestamp"))
            except Exception:  # noqa: BLE001 - any unparsable time is a refusal, not a crash
                sent = None
            age = None if sent is None else (now - sent).total_seconds()
            if age is None or age > self.max_age:
                raise SnsVerificationError(403, f"message Timestamp {message.get('Timestamp')!r} is older than "
                                                f"{self.max_age:g}s (possible replay)")
            if age < -FUTURE_LEEWAY:
                raise SnsVerificationError(403, f"message Timestamp {message.get('Timestamp')!r} is in the future")

    def check(self, req: HttpRequest, *, topics: Iterable[str] | None = None) -> SnsVerdict:
        """Verify one request. Confirmations are confirmed here; a Notification comes back accepted with status
        200 and its verified message for the caller to run. ``topics`` replaces the allowed topics for this check
        (the Lambda entry passes the ARN a topic function is bound to)."""
        try:
            if req.method != "POST":
                raise SnsVerificationError(405, "SNS delivers with POST")
            doc = _parse(req.body)
            header = req.headers.get("x-amz-sns-message-type")
            if header is not None and header != doc["Type"]:
                raise SnsVerificationError(400, f"x-amz-sns-message-type {header!r} does not match Type "
                                                f"{doc['Type']!r}")
            topic = doc.get("TopicArn")
            if not isinstance(topic, str):
                raise SnsVerificationError(400, "TopicArn is missing or not text")
            # The allow-list first: a topic we would refuse anyway must not make us fetch a certificate.
            allowed = self.topic_allowed(topic) if topics is None else \
                any(fnmatchcase(topic, pattern) for pattern in topics)
            if not allowed:
                raise SnsVerificationError(403, f"topic {topic} is not allowed on this endpoint (allow it with an "
                                                f"sns:// binding or {ALLOWED_TOPICS_ENV})")
            self.verify(doc)
        except SnsVerificationError as exc:
            logs.warning("SNS HTTP message refused", status=exc.status, reason=exc.detail)
            return SnsVerdict(False, exc.status, exc.detail)
        kind = doc["Type"]
        if kind == "SubscriptionConfirmation":
            return self._confirm_subscription(doc)
        if kind == "UnsubscribeConfirmation":
            logs.info("SNS subscription ended (UnsubscribeConfirmation); not re-subscribing", topic=doc["TopicArn"],
                      message_id=doc.get("MessageId"))
            return SnsVerdict(True, 200, "unsubscribe acknowledged", doc)
        return SnsVerdict(True, 200, "verified", doc)

    def _confirm_subscription(self, doc: Mapping[str, Any]) -> SnsVerdict:
        try:
            url = check_sns_url(doc.get("SubscribeURL"), "SubscribeURL")
        except SnsVerificationError as exc:
            return SnsVerdict(False, exc.status, exc.detail)
        try:
            self._confirm(url)
        except Exception as exc:  # noqa: BLE001 - answered 502 so SNS sends the confirmation again
            logs.error("could not confirm the SNS subscription", topic=doc["TopicArn"],
                       error=f"{type(exc).__name__}: {exc}")
            return SnsVerdict(False, 502, f"confirming the subscription failed: {type(exc).__name__}")
        logs.info("SNS subscription confirmed", topic=doc["TopicArn"])
        return SnsVerdict(True, 200, "subscription confirmed", doc)


def handle(app: Any, function: str, req: HttpRequest, receiver: SnsReceiver | None = None) -> HttpResponse:
    """Serve a topic function behind an SNS HTTP(S) subscription: verify, then run verified Notifications.

    200 when handled (or a non-retryable failure was dead-lettered), 500 to make SNS retry, 4xx for refused bodies.
    """
    receiver = receiver or default_receiver()
    verdict = receiver.check(req)
    if not verdict.accepted or verdict.type != "Notification":
        return verdict.response()
    assert verdict.message is not None
    return _deliver([app.function(function)], verdict.message, req, None)


def _deliver(specs: list[Any], doc: Mapping[str, Any], native_context: Any, invocation_id: str | None
             ) -> HttpResponse:
    """Run a verified Notification through every function in ``specs`` (each gets its own Message)."""
    from portafunc.errors import EventDecodeError
    from portafunc.events import Message
    from portafunc.invoke import invoke_message

    from ..codecs.fields import BODY_ENCODING_ATTR
    from ..codecs.topic import sns_message

    # MessageAttributes are unsigned: the body-encoding marker must not change how the signed Message is read.
    native_attrs = doc.get("MessageAttributes")
    unsigned_marker = native_attrs.get(BODY_ENCODING_ATTR) if isinstance(native_attrs, dict) else None
    signed_only = dict(doc, MessageAttributes={k: v for k, v in native_attrs.items() if k != BODY_ENCODING_ATTR}) \
        if isinstance(native_attrs, dict) and unsigned_marker is not None else doc
    try:
        data, attributes, published, topic = sns_message(signed_only, "SNS HTTP notification")
    except EventDecodeError as exc:
        return HttpResponse.problem(400, "Bad Request", str(exc))
    if isinstance(unsigned_marker, dict) and unsigned_marker.get("Value") is not None:
        attributes[BODY_ENCODING_ATTR] = str(unsigned_marker["Value"])  # passed on as the unsigned text it is
    failed = []
    for index, spec in enumerate(specs):
        msg = Message(id=str(doc["MessageId"]), data=data, attributes=dict(attributes), published_at=published,
                      source=topic, native=doc)
        inv_id = None if invocation_id is None else invocation_id if len(specs) == 1 else f"{invocation_id}:{index}"
        result = invoke_message(spec, msg, target="aws", invocation_id=inv_id, native_context=native_context)
        if result.must_redeliver:
            failed.append(spec.name)
    if failed:
        return HttpResponse.problem(500, "Delivery failed", "SNS will retry", message_id=str(doc["MessageId"]),
                                    functions=failed)
    return HttpResponse(status=200)


# -- routing from the Lambda entry ---------------------------------------------------------------------------------

ROUTING_ENV = "PORTAFUNC_SNS_HTTP"
"""``off`` (or 0/false/no) turns SNS HTTP(S) routing off in the Lambda entry: such requests are plain HTTP then."""


def routing_enabled(environ: Mapping[str, str] | None = None) -> bool:
    env = os.environ if environ is None else environ
    return env.get(ROUTING_ENV, "on").strip().lower() not in ("off", "0", "false", "no")


def _own_arn_prefix(native_context: Any) -> str | None:
    """``arn:<partition>:sns:<region>:<account>:`` of the running Lambda function (from its context), if known."""
    arn = getattr(native_context, "invoked_function_arn", None)
    parts = arn.split(":") if isinstance(arn, str) else []
    if len(parts) < 6 or parts[0] != "arn" or not parts[3] or not parts[4]:
        return None
    return f"arn:{parts[1]}:sns:{parts[3]}:{parts[4]}:"


def bound_functions(app: Any, topic_arn: str, *, only: Any = None, native_context: Any = None) -> list[Any]:
    """The app's topic functions whose ``PORTAFUNC_TOPIC_<NAME>`` binding is ``sns://`` this topic.

    A binding holding an ARN matches that ARN exactly. A binding holding a bare topic name matches the topic of that
    name in the running function's own account and region (read from the Lambda context): SNS signs deliveries of
    every account's topics alike, so a name alone would let another account's topic of the same name in.
    """
    from portafunc.app import TopicTrigger
    from portafunc.messaging.binding import env_name

    own_prefix: str | None | bool = False  # computed on first use
    found = []
    for spec in [only] if only is not None else list(app):
        trig = spec.trigger
        if not isinstance(trig, TopicTrigger):
            continue
        url = os.environ.get(env_name("topic", trig.topic), "")
        if not url.startswith("sns://"):
            continue
        target = binding_target(url)
        if target.startswith("arn:"):
            matched = target == topic_arn
        else:
            if own_prefix is False:
                own_prefix = _own_arn_prefix(native_context)
            matched = isinstance(own_prefix, str) and topic_arn == own_prefix + target
        if matched:
            found.append(spec)
    return found


def route(app: Any, req: HttpRequest, *, function: str | None = None, receiver: SnsReceiver | None = None,
          native_context: Any = None, invocation_id: str | None = None) -> HttpResponse | None:
    """The answer to an SNS HTTP(S) delivery (a request carrying ``x-amz-sns-message-type``), or None.

    None means "not for a topic function": the body is no SNS message, or no topic function of the app is bound to
    its topic; the caller then routes the request as ordinary HTTP, so a route of the app can take the raw request.
    ``function`` (the Lambda's PORTAFUNC_FUNCTION, a topic function) restricts the match to that function; such a
    Lambda has nothing else to offer, so it answers 400/403 itself instead of returning None.

    A match is verified (signature, certificate origin, header/type agreement) before anything runs:
    SubscriptionConfirmation is confirmed, UnsubscribeConfirmation acknowledged, a Notification runs every bound
    function. 200 handled; 403 untrusted or tampered; 4xx malformed; 500 a function failed (SNS retries);
    502 the certificate or the confirmation URL could not be fetched (SNS retries).
    """
    only = app.function(function) if function else None
    try:
        doc = _parse(req.body)
    except SnsVerificationError as exc:
        if only is None:
            return None
        logs.warning("SNS HTTP message refused", status=exc.status, reason=exc.detail)
        return SnsVerdict(False, exc.status, exc.detail).response()
    topic = doc.get("TopicArn")
    specs = bound_functions(app, topic, only=only, native_context=native_context) if isinstance(topic, str) else []
    if not specs:
        if only is None:
            return None
        detail = (f"topic {topic!r} is not bound to function {only.name!r}: set "
                  f"PORTAFUNC_TOPIC_<NAME>=sns://<topic ARN> for its topic {only.trigger.topic!r}")
        logs.warning("SNS HTTP message refused", status=403, reason=detail)
        return SnsVerdict(False, 403, detail).response()
    verdict = (receiver or default_receiver()).check(req, topics=[topic])  # type: ignore[list-item]
    if not verdict.accepted or verdict.type != "Notification":
        return verdict.response()
    assert verdict.message is not None
    return _deliver(specs, verdict.message, native_context, invocation_id)


_default: SnsReceiver | None = None


def default_receiver() -> SnsReceiver:
    """The process-wide receiver (shared certificate cache), trusting the topics of the environment."""
    global _default
    if _default is None:
        _default = SnsReceiver()
    return _default


__all__ = ["CertificateCache", "DEFAULT_MAX_AGE", "ROUTING_ENV", "SnsReceiver", "SnsVerdict", "SnsVerificationError", "bound_functions",
           "binding_target", "check_cert_url", "handle", "max_age_from_environment", "route", "routing_enabled", "string_to_sign", "topics_from_environment",
           "verify_signature"]
