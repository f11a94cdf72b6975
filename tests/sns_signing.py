"""Signing SNS messages in tests: a local RSA key and self-signed certificate standing in for an SNS signing
certificate, the signer (AWS's canonical string, SignatureVersion 1 = SHA1, 2 = SHA256), and a certificate fetcher
that serves known PEMs without the network. Shared by the SNS verifier and routing tests."""

from __future__ import annotations

import base64
from datetime import datetime, timedelta, timezone
from typing import Any


def local_signing_key() -> tuple[Any, bytes]:
    """(private key, PEM of a self-signed certificate valid from yesterday for 30 days)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.amazonaws.com")])
    now = datetime.now(timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=30)).sign(key, hashes.SHA256()))
    return key, cert.public_bytes(serialization.Encoding.PEM)


def sign(message: dict[str, Any], key: Any, cert_url: str, version: str = "1") -> dict[str, Any]:
    """A copy of ``message`` signed with ``key``; ``SigningCertURL`` is kept when set, else ``cert_url``."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    from portafunc_aws.inbound.sns_http import string_to_sign

    signed = dict(message, SignatureVersion=version, SigningCertURL=message.get("SigningCertURL", cert_url))
    algorithm = hashes.SHA1() if version == "1" else hashes.SHA256()
    signed["Signature"] = base64.b64encode(key.sign(string_to_sign(signed), padding.PKCS1v15(), algorithm)).decode()
    return signed


class Fetcher:
    """The certificate cache's fetcher: serves known PEMs and counts fetches (no network in tests)."""

    def __init__(self, pems: dict[str, bytes]) -> None:
        self.pems = pems
        self.calls: list[str] = []

    def __call__(self, url: str) -> bytes:
        self.calls.append(url)
        if url not in self.pems:
            raise OSError(f"no certificate at {url}")
        return self.pems[url]
