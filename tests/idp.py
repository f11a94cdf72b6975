"""A local OpenID Connect identity provider for tests: RSA signing keys, tokens written by google-auth's own JWT
encoder (an implementation independent of the verifier's PyJWT), and a real HTTP server on 127.0.0.1 serving the
discovery document and the JWKS, counting what it is asked for. Keys can be rotated while it runs."""

from __future__ import annotations

import base64
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def _b64(n: int) -> str:
    return base64.urlsafe_b64encode(n.to_bytes((n.bit_length() + 7) // 8, "big")).rstrip(b"=").decode()


class SigningKey:
    """An RSA key pair with its ``kid``; ``jwk()`` is the public half as a JWK."""

    def __init__(self, kid: str) -> None:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        self.kid = kid
        self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.pem = self.private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                              serialization.NoEncryption())

    def jwk(self, alg: str | None = "RS256") -> dict[str, Any]:
        numbers = self.private.public_key().public_numbers()
        jwk = {"kty": "RSA", "kid": self.kid, "use": "sig", "n": _b64(numbers.n), "e": _b64(numbers.e)}
        if alg:
            jwk["alg"] = alg
        return jwk

    def sign(self, claims: dict[str, Any], kid: str | None = None) -> str:
        from google.auth import crypt, jwt

        return jwt.encode(crypt.RSASigner.from_string(self.pem, key_id=kid or self.kid), claims).decode()


class IdentityProvider:
    """``issuer`` is ``http://127.0.0.1:PORT``; ``/.well-known/openid-configuration`` names ``/jwks.json``."""

    def __init__(self) -> None:
        self.keys = [SigningKey("key-1")]
        self.requests: list[str] = []
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the http.server protocol
                provider.requests.append(self.path)
                if self.path == "/.well-known/openid-configuration":
                    doc: dict[str, Any] = {"issuer": provider.issuer, "jwks_uri": provider.issuer + "/jwks.json"}
                elif self.path == "/jwks.json":
                    doc = {"keys": [k.jwk() for k in provider.keys]}
                else:
                    self.send_error(404)
                    return
                body = json.dumps(doc).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Cache-Control", "public, max-age=3600")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.issuer = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.jwks_url = self.issuer + "/jwks.json"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def token(self, audience: str = "api://orders", key: SigningKey | None = None, **claims: Any) -> str:
        """A token of this issuer for ``audience``, valid for an hour; ``claims`` override or (None) remove."""
        now = int(time.time())
        body = {"iss": self.issuer, "aud": audience, "sub": "user-1", "iat": now - 5, "exp": now + 3600} | claims
        return (key or self.keys[0]).sign({k: v for k, v in body.items() if v is not None})

    def rotate(self) -> SigningKey:
        """A new key published beside the old one (as providers do before signing with it)."""
        new = SigningKey(f"key-{len(self.keys) + 1}")
        self.keys.append(new)
        return new
