"""Plain HTTP: the JSON form of a request ↔ HttpRequest, HttpResponse ↔ the JSON form of a response, and the WSGI
environ → the JSON form (what the server does for every request it reads)."""

from __future__ import annotations

import functools
from typing import Any, Mapping
from urllib.parse import quote

from portafunc.errors import EventDecodeError
from portafunc.events import Headers, HttpFields, HttpRequest, HttpResponse
from portafunc.kit import http_json
from portafunc.kit.http_json import PATH_SAFE, encode_request  # one reader, one writer

from .fields import body_of, headers_of, need_map, put_body

__all__ = ["client_ip", "decode_request", "decode_response", "encode_request", "encode_response", "forwarded_trusted",
           "from_environ", "raw_path_of"]

DEFAULT_FORWARDED_ALLOW_IPS = "127.0.0.1,::1"  # gunicorn's, when FORWARDED_ALLOW_IPS is unset
LOCAL_PEER = "127.0.0.1"  # the peer of a request that names none (a request file; a proxy in the same pod)


class _ServerFields(HttpFields):
    """A request the server read: its scheme is the server's ``wsgi.url_scheme``, which counts ``X-Forwarded-Proto``
    only from a peer ``FORWARDED_ALLOW_IPS`` allows (gunicorn's rule); the header is not read again here."""

    __slots__ = ()

    def base_url(self, native: Any, req: HttpRequest) -> str | None:
        return http_json.base_url(native.get("scheme"), req.headers.get("host"), None, native.get("script_name"))

    def scheme(self, native: Any) -> str | None:
        scheme: str = native["scheme"]  # checked by decode_request: http or https
        return scheme


_SERVER_FIELDS = _ServerFields()


def decode_request(native: Any) -> HttpRequest:
    """The JSON form → :class:`HttpRequest` (the core's reader). A form carrying ``scheme`` (what the server read:
    :func:`from_environ` always writes it) has that scheme in ``req.url`` and in what passes it on (a mounted app, the
    OpenTelemetry span); one without it (a file written by hand) the scheme ``X-Forwarded-Proto`` names, as the core
    reads it. ``req.client_ip`` is :func:`client_ip`'s: ``X-Forwarded-For`` counts only from a trusted peer."""
    req = http_json.decode_request(native)
    if native.get("scheme") in ("http", "https"):
        req._fields = _SERVER_FIELDS
    req.client_ip = client_ip(req.headers, native.get("remote_addr"))
    return req


def client_ip(headers: Headers, remote: Any) -> str | None:
    """The client's address: from a peer gunicorn trusts with forwarded headers (:func:`forwarded_trusted`: the front
    end, which appends the address it accepted the connection from), the last ``X-Forwarded-For`` entry, else that
    peer; from any other peer, the peer itself (``remote``: a client reaching the container directly cannot name
    another address). No ``remote`` (a request file without ``remote_addr``) is :data:`LOCAL_PEER`'s request."""
    peer = remote if isinstance(remote, str) and remote else None
    if forwarded_trusted(peer or LOCAL_PEER):
        return http_json.client_ip(headers, peer)
    return peer


def forwarded_trusted(peer: str | None, allowed: str | None = None) -> bool:
    """Whether gunicorn counts ``X-Forwarded-Proto`` from ``peer``: ``allowed`` (``FORWARDED_ALLOW_IPS``: addresses
    and networks, comma-separated, or ``*``; localhost when unset) names it. For a server that is not gunicorn
    (:mod:`.driver`), so both read a request alike, and for ``X-Forwarded-For`` (:func:`client_ip`), which counts
    from the same peers."""
    import ipaddress
    import os

    if allowed is None:
        allowed = os.environ.get("FORWARDED_ALLOW_IPS", DEFAULT_FORWARDED_ALLOW_IPS)
    networks = _networks(allowed)
    if networks is None:
        return True
    try:
        address = ipaddress.ip_address((peer or "").strip())
    except ValueError:
        return False
    return any(address in network for network in networks)


@functools.lru_cache(maxsize=16)
def _networks(allowed: str) -> tuple[Any, ...] | None:
    """The networks ``FORWARDED_ALLOW_IPS`` names (an entry that is none is left out); None for ``*`` (every peer)."""
    import ipaddress

    entries = [entry.strip() for entry in allowed.split(",") if entry.strip()]
    if "*" in entries:
        return None
    networks = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            continue
    return tuple(networks)



def raw_path_of(environ: Mapping[str, Any]) -> str:
    """The path of the request a WSGI server read, percent-encoded as sent: the request line's (``RAW_URI`` or
    ``REQUEST_URI``, where the server gives it), else ``PATH_INFO`` (PEP 3333: latin-1-decoded bytes) encoded again."""
    raw_path = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if isinstance(raw_path, str) and raw_path.startswith("/"):
        return raw_path.split("?", 1)[0]
    return quote(environ.get("PATH_INFO", "/").encode("latin-1").decode("utf-8", "replace"), safe=PATH_SAFE)


def from_environ(environ: Mapping[str, Any], body: bytes) -> dict[str, Any]:
    """The JSON form of the request a WSGI server read (PEP 3333: the path is latin-1-decoded bytes)."""
    path = raw_path_of(environ)
    headers: list[list[str]] = []
    for key, value in environ.items():
        if key.startswith("HTTP_") and key not in ("HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH"):
            headers.append([key[5:].replace("_", "-").title(), _text(value)])
    if environ.get("CONTENT_TYPE"):
        headers.append(["Content-Type", _text(environ["CONTENT_TYPE"])])
    out: dict[str, Any] = {"method": environ.get("REQUEST_METHOD", "GET"), "path": path or "/",
                           "query_string": _text(environ.get("QUERY_STRING", "")), "headers": headers}
    if environ.get("REMOTE_ADDR"):
        out["remote_addr"] = environ["REMOTE_ADDR"]
    # the server's scheme: its own TLS, or X-Forwarded-Proto from a peer it trusts (gunicorn: FORWARDED_ALLOW_IPS)
    out["scheme"] = "https" if environ.get("wsgi.url_scheme") == "https" else "http"
    if environ.get("SCRIPT_NAME"):  # the prefix the server was mounted at: part of HttpRequest.base_url
        out["script_name"] = _text(environ["SCRIPT_NAME"])
    return put_body(body, out)


def _text(value: Any) -> str:
    """A WSGI header value: latin-1 code points carrying the bytes sent, read back as UTF-8 where they are."""
    raw = str(value).encode("latin-1", "replace")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def encode_response(resp: HttpResponse) -> dict[str, Any]:
    out: dict[str, Any] = {"statusCode": resp.status,
                           "headers": [[k, v] for k, v in resp.headers.items() if k.lower() != "content-length"]}
    return put_body(resp.body if isinstance(resp.body, bytes) else bytes(resp.body), out)


def decode_response(native: Any) -> HttpResponse:
    resp = need_map(native, "HTTP response", '{"statusCode": 200, "headers": [...], "body": ""}')
    status = resp.get("statusCode")
    if not isinstance(status, int) or isinstance(status, bool):
        raise EventDecodeError("HTTP response has no statusCode", expected='{"statusCode": 200, ...}')
    headers = Headers([(k, v) for k, v in headers_of(resp.get("headers")).items() if k.lower() != "content-length"])
    return HttpResponse(status=status, headers=headers, body=body_of(resp, "HTTP response"))
