"""The container target's service, run the way the image runs it: gunicorn (the Dockerfile's own arguments) on a
real port, spoken to over real sockets in plain HTTP and in the push formats the platforms use (CloudEvents binary
and structured mode per the CloudEvents HTTP binding 1.0.2, the Pub/Sub push envelope, Cloud Scheduler's POST)."""

from __future__ import annotations

import base64
import http.client
import json
import socket
from typing import Any

import pytest

from container_server import SECRET, Server

AUTH = {"Authorization": f"Bearer {SECRET}"}


def request(server: Server, method: str, path: str, body: bytes | str = b"",
            headers: dict[str, str] | None = None, source: str | None = None) -> tuple[int, dict[str, str], bytes]:
    """One request over a new connection, from ``source`` (a local address: the server's peer) when given."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30,
                                      source_address=(source, 0) if source else None)
    try:
        conn.request(method, path, body=body.encode() if isinstance(body, str) else body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def binary_message(msg_id: str, data: dict[str, Any], attributes: dict[str, str]) -> tuple[bytes, dict[str, str]]:
    body = json.dumps({"data_base64": base64.b64encode(json.dumps(data).encode()).decode(),
                       "attributes": attributes}).encode()
    return body, {"ce-specversion": "1.0", "ce-id": msg_id, "ce-source": "//tests", "ce-type": "io.portafunc.message",
                  "ce-time": "2026-05-01T10:00:00Z", "ce-partitionkey": "k1", "Content-Type": "application/json",
                  **AUTH}


def test_http_routes_head_and_health(server: Server) -> None:
    status, headers, body = request(server, "GET", "/hello/%C3%A9t%C3%A9?q=1&q=2",
                                    headers={"X-Forwarded-For": "198.51.100.7, 203.0.113.9"})
    assert status == 200 and headers["content-type"].startswith("application/json")
    assert json.loads(body) == {"hello": "été", "q": ["1", "2"], "ip": "203.0.113.9"}
    status, headers, body = request(server, "HEAD", "/hello/x")
    assert status == 200 and body == b"" and headers["content-type"].startswith("application/json")
    assert request(server, "GET", "/_portafunc/health")[0] == 200
    status, _, body = request(server, "GET", "/nowhere")
    assert status == 404 and json.loads(body)["title"] == "Not Found"
    status, headers, _ = request(server, "DELETE", "/echo")
    assert status == 405 and headers["allow"] == "POST"


HTTPS_CLAIM = {"Host": "api.example", "X-Forwarded-Proto": "https"}


def test_a_peer_the_server_does_not_trust_cannot_claim_https(server: Server) -> None:
    """The image's server (no FORWARDED_ALLOW_IPS: gunicorn trusts localhost only) reached from another address, as a
    container published with ``docker run -p`` is: the client's own X-Forwarded-Proto changes nothing."""
    status, _, body = request(server, "GET", "/where?a=1", headers=HTTPS_CLAIM, source="127.0.0.2")
    assert status == 200
    assert json.loads(body) == {"url": "http://api.example/where?a=1", "base": "http://api.example"}
    # localhost (a proxy in the same container or pod) is trusted, as gunicorn trusts it
    assert json.loads(request(server, "GET", "/where", headers=HTTPS_CLAIM, source="127.0.0.1")[2])["base"] == \
        "https://api.example"


def test_with_forwarded_allow_ips_every_peer_is_the_front_end(trusting_server: Server) -> None:
    """FORWARDED_ALLOW_IPS=* (what the manifests set: the platform's front end is the only way in and sets the
    header itself): X-Forwarded-Proto from any peer names the scheme; only the exact "https" says https."""
    status, _, body = request(trusting_server, "GET", "/where?a=1", headers=HTTPS_CLAIM, source="127.0.0.2")
    assert status == 200
    assert json.loads(body) == {"url": "https://api.example/where?a=1", "base": "https://api.example"}
    for sent in ("http", "HTTPS"):
        answer = request(trusting_server, "GET", "/where", headers={**HTTPS_CLAIM, "X-Forwarded-Proto": sent},
                         source="127.0.0.2")
        assert json.loads(answer[2])["base"] == "http://api.example"
    assert json.loads(request(trusting_server, "GET", "/where", headers={"Host": "api.example"},
                              source="127.0.0.2")[2])["base"] == "http://api.example"


FORWARDED_FOR = {"Host": "api.example", "X-Forwarded-For": "6.6.6.6, 198.51.100.7"}


def ip_seen(server: Server, source: str, headers: dict[str, str] | None = None) -> str | None:
    status, _, body = request(server, "GET", "/hello/x", headers=FORWARDED_FOR if headers is None else headers,
                              source=source)
    assert status == 200
    ip: str | None = json.loads(body)["ip"]
    return ip


def test_a_peer_the_server_does_not_trust_cannot_name_another_client_address(server: Server) -> None:
    """``req.client_ip`` of a request from a peer FORWARDED_ALLOW_IPS does not name (a container published directly)
    is that peer: every X-Forwarded-For entry is the client's own claim. localhost (a proxy in the same container
    or pod) is trusted: the client is the entry it appended, the last."""
    assert ip_seen(server, "127.0.0.2") == "127.0.0.2"
    assert ip_seen(server, "127.0.0.2", {"Host": "api.example", "X-Forwarded-For": "127.0.0.1"}) == "127.0.0.2"
    assert ip_seen(server, "127.0.0.2", {"Host": "api.example"}) == "127.0.0.2"
    assert ip_seen(server, "127.0.0.1") == "198.51.100.7"
    assert ip_seen(server, "127.0.0.1", {"Host": "api.example"}) == "127.0.0.1"


def test_with_forwarded_allow_ips_the_front_end_names_the_client(trusting_server: Server) -> None:
    """FORWARDED_ALLOW_IPS=* (the platforms' manifests: their front end is the only way in and appends the address
    it accepted the connection from): the last X-Forwarded-For entry; without the header, the peer."""
    assert ip_seen(trusting_server, "127.0.0.2") == "198.51.100.7"
    assert ip_seen(trusting_server, "127.0.0.2", {"Host": "api.example", "X-Forwarded-For": "198.51.100.7"}) == \
        "198.51.100.7"
    assert ip_seen(trusting_server, "127.0.0.2", {"Host": "api.example"}) == "127.0.0.2"


def seen_by_mount(server: Server, prefix: str, source: str, headers: dict[str, str]) -> dict[str, Any]:
    status, _, body = request(server, "GET", f"{prefix}/x", headers=headers, source=source)
    assert status == 200, body
    seen: dict[str, Any] = json.loads(body)
    return seen


CLAIMS = {"Host": "api.example", "X-Forwarded-Proto": "https", "X-Forwarded-For": "6.6.6.6, 198.51.100.7"}


@pytest.mark.parametrize("prefix", ["/wsgi-seen", "/asgi-seen"])
def test_a_mounted_app_sees_the_scheme_and_client_of_the_request(server: Server, trusting_server: Server,
                                                                  prefix: str) -> None:
    """A mounted app's scheme (ASGI ``scheme``, WSGI ``wsgi.url_scheme``; ``server``'s default port with it) and
    client (``client``, ``REMOTE_ADDR``) are the request's own, as gunicorn settled them: a peer it does not trust
    cannot make them https or another address, with the headers or without (no longer https for any Host but
    localhost); the front end it trusts names both."""
    untrusted = {"scheme": "http", "server": ["api.example", 80], "client": "127.0.0.2"}
    assert seen_by_mount(server, prefix, "127.0.0.2", CLAIMS) == untrusted
    assert seen_by_mount(server, prefix, "127.0.0.2", {"Host": "api.example"}) == untrusted
    assert seen_by_mount(server, prefix, "127.0.0.1", CLAIMS) == {"scheme": "https", "server": ["api.example", 443],
                                                                  "client": "198.51.100.7"}
    assert seen_by_mount(trusting_server, prefix, "127.0.0.2", CLAIMS) == \
        {"scheme": "https", "server": ["api.example", 443], "client": "198.51.100.7"}
    assert seen_by_mount(trusting_server, prefix, "127.0.0.2", {**CLAIMS, "X-Forwarded-Proto": "http"}) == \
        {"scheme": "http", "server": ["api.example", 80], "client": "198.51.100.7"}


def test_the_span_names_the_scheme_the_server_settled_on(traced_server: tuple[Server, Any]) -> None:
    """The server exporting spans (OTEL_* variables, as a deployment sets them): ``url.scheme`` is the request's
    scheme, so a peer gunicorn does not trust cannot make it https with X-Forwarded-Proto; localhost can."""
    import time

    server, receiver = traced_server
    assert request(server, "GET", "/hello/untrusted", headers=CLAIMS, source="127.0.0.2")[0] == 200
    assert request(server, "GET", "/hello/trusted", headers=CLAIMS, source="127.0.0.1")[0] == 200
    deadline = time.monotonic() + 30
    schemes: dict[str, Any] = {}
    while len(schemes) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
        schemes = {span["attributes"]["url.path"]: span["attributes"]["url.scheme"] for span in receiver.spans()
                   if span["scope"] == "portafunc" and "url.path" in span["attributes"]}
    assert schemes == {"/hello/untrusted": "http", "/hello/trusted": "https"}, server.stderr.read_text()[-2000:]


@pytest.mark.parametrize("prefix", ["/wsgi-header", "/asgi-header"])
@pytest.mark.parametrize("value", ["zoë", "zoë ✓"])
def test_a_mounted_app_gets_a_non_ascii_header_as_the_bytes_sent(server: Server, prefix: str, value: str) -> None:
    """gunicorn reads the header's UTF-8 bytes as latin-1 (PEP 3333); the mounted app gets those bytes again: the
    WSGI environ's latin-1 string of them, the ASGI scope's bytes."""
    status, _, body = request(server, "GET", f"{prefix}/x", headers={"X-Name": value.encode()})  # type: ignore[dict-item]
    assert status == 200 and body.decode() == value.encode().hex()


def test_a_body_over_the_limit_is_refused_before_it_is_read(server: Server) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\nContent-Type: text/plain\r\n\r\n")
        answer = sock.recv(4096)  # nothing of the body was sent: the answer cannot have waited for it
    assert answer.startswith(b"HTTP/1.1 413 ")
    assert request(server, "POST", "/echo", b"x" * 1000)[2] == b'{"bytes":1000}'


def test_binary_and_structured_cloudevents_reach_the_topic_function(server: Server) -> None:
    server.clear()
    body, headers = binary_message("ce-1", {"n": 1}, {"kind": "created", "correlation_id": "c-1"})
    assert request(server, "POST", "/_portafunc/functions/news", body, headers)[0] == 204
    structured = {"specversion": "1.0", "id": "ce-2", "source": "//tests", "type": "com.example.plain",
                  "datacontenttype": "text/plain", "data": "hello world", "origin": "tests"}
    status, _, _ = request(server, "POST", "/_portafunc/functions/news", json.dumps(structured),
                           {"Content-Type": "application/cloudevents+json; charset=utf-8", **AUTH})
    assert status == 204
    first, second = server.entries()
    assert first == {"function": "news", "id": "ce-1", "data": '{"n": 1}', "ordering_key": "k1",
                     "attributes": {"kind": "created", "correlation_id": "c-1"}}
    # a CloudEvent of any other type: its data is the message (plain text stays unquoted), extensions its attributes
    assert second == {"function": "news", "id": "ce-2", "data": "hello world", "ordering_key": None,
                      "attributes": {"origin": "tests"}}


def test_deliveries_need_the_events_secret_and_the_handshake_only_an_allowed_origin(server: Server) -> None:
    server.clear()
    body, headers = binary_message("ce-3", {"n": 3}, {})
    del headers["Authorization"]
    assert request(server, "POST", "/_portafunc/functions/news", body, headers)[0] == 401
    assert request(server, "POST", "/_portafunc/functions/news", body,
                   {**headers, "Authorization": "Bearer wrong-secret-0123456789"})[0] == 401
    assert server.entries() == []
    status, answer, _ = request(server, "OPTIONS", "/_portafunc/functions/news",
                                headers={"WebHook-Request-Origin": "eventgrid.azure.net"})
    assert status == 200 and answer["webhook-allowed-origin"] == "eventgrid.azure.net"
    assert request(server, "OPTIONS", "/_portafunc/functions/news",
                   headers={"WebHook-Request-Origin": "evil.example"})[0] == 403
    assert request(server, "POST", "/_portafunc/functions/hello", body, {**headers, **AUTH})[0] == 404


def envelope(msg_id: str, data: dict[str, Any], attempt: int) -> str:
    return json.dumps({"message": {"data": base64.b64encode(json.dumps(data).encode()).decode(), "messageId": msg_id,
                                   "publishTime": "2026-05-01T10:00:00Z", "attributes": {"a": "1"}},
                       "subscription": "projects/p/subscriptions/s", "deliveryAttempt": attempt})


def test_pubsub_push_retries_a_failure_and_dead_letters_it_on_its_last_attempt(server: Server) -> None:
    server.clear()
    push = {"Content-Type": "application/json", **AUTH}
    assert request(server, "POST", "/_portafunc/functions/work", envelope("m-1", {"ok": 1}, 1), push)[0] == 204
    status, _, body = request(server, "POST", "/_portafunc/functions/work", envelope("m-2", {"fail": 1}, 1), push)
    assert status == 500 and b"m-2" in body and b"fail" not in body.replace(b"failed", b"")  # no payload leaks
    # the third delivery is work's max_attempts: portafunc moves it to work-failed and acknowledges it
    assert request(server, "POST", "/_portafunc/functions/work", envelope("m-2", {"fail": 1}, 3), push)[0] == 204
    # a non-retryable failure goes to the dead letter at once
    assert request(server, "POST", "/_portafunc/functions/work", envelope("m-3", {"bad": 1}, 1), push)[0] == 204
    assert [(e["id"], e["attempt"]) for e in server.entries()] == [("m-1", 1), ("m-2", 1), ("m-2", 3), ("m-3", 1)]
    log = server.stderr.read_text()
    assert "message dead-lettered after its last attempt" in log and "non-retryable message sent to the dead-letter" \
        in log
    status, _, body = request(server, "POST", "/_portafunc/functions/work", "not json", push)
    assert status == 400 and json.loads(body)["title"] == "Not a delivery this function accepts"


def test_storage_events_are_filtered_by_the_trigger_and_schedule_ticks_run(server: Server) -> None:
    server.clear()

    def gcs(name: str) -> int:
        data = {"bucket": "uploads", "name": name, "size": "12", "etag": "e1", "generation": "1"}
        return request(server, "POST", "/_portafunc/functions/upload", json.dumps(data), {
            "ce-specversion": "1.0", "ce-id": f"g-{name}", "ce-type": "google.cloud.storage.object.v1.finalized",
            "ce-source": "//storage.googleapis.com/projects/_/buckets/uploads", "ce-subject": f"objects/{name}",
            "ce-time": "2026-05-01T10:00:00Z", "Content-Type": "application/json", **AUTH})[0]

    assert gcs("in/a b.txt") == 204 and gcs("out/skipped.txt") == 204
    blob = {"specversion": "1.0", "id": "b-1", "type": "Microsoft.Storage.BlobDeleted",
            "source": "/subscriptions/s/resourceGroups/g/providers/Microsoft.Storage/storageAccounts/acct",
            "subject": "/blobServices/default/containers/uploads/blobs/in/gone.txt", "time": "2026-05-01T10:00:00Z",
            "data": {"api": "DeleteBlob", "url": "https://acct.blob.core.windows.net/uploads/in/gone.txt"}}
    assert request(server, "POST", "/_portafunc/functions/upload", json.dumps(blob),
                   {"Content-Type": "application/cloudevents+json", **AUTH})[0] == 204
    assert request(server, "POST", "/_portafunc/functions/tick", "", {
        "X-CloudScheduler": "true", "X-CloudScheduler-ScheduleTime": "2026-05-01T10:05:00Z", **AUTH})[0] == 204
    assert server.entries() == [
        {"function": "upload", "bucket": "uploads", "key": "in/a b.txt", "kind": "created", "size": 12},
        {"function": "upload", "bucket": "uploads", "key": "in/gone.txt", "kind": "deleted", "size": None},
        {"function": "tick", "time": "2026-05-01T10:05:00+00:00"}]


def test_refusals_before_reading_carry_cors_and_head_states_gets_length() -> None:
    """The WSGI service itself: a 413 decided from Content-Length carries the route's CORS headers (a browser reads
    it only with them); a body sent without a length is refused past the limit without claiming a size it never
    read; a HEAD answer carries the Content-Length of the body GET sends."""
    import io
    from wsgiref.util import setup_testing_defaults

    from portafunc import App, Cors
    from portafunc_container.runtime import Service

    app = App("refusals", cors=Cors(allow_origins=["https://shop.example"]))
    app.http("POST", "/echo", name="echo")(lambda req: req.body)
    app.http("GET", "/hi", name="hi")(lambda req: "hello")
    service = Service(app)

    def call(method: str, path: str, **extra: Any) -> tuple[str, dict[str, str], bytes]:
        environ: dict[str, Any] = {"REQUEST_METHOD": method, "PATH_INFO": path, "wsgi.input": io.BytesIO(b""),
                                   **extra}
        setup_testing_defaults(environ)
        seen: dict[str, Any] = {}
        body = b"".join(service(environ, lambda status, headers: seen.update(status=status, headers=headers)))
        return seen["status"], dict(seen["headers"]), body

    status, headers, _ = call("POST", "/echo", CONTENT_LENGTH=str(10 ** 9), HTTP_ORIGIN="https://shop.example")
    assert status.startswith("413") and headers["Access-Control-Allow-Origin"] == "https://shop.example", headers
    from portafunc.invoke import MAX_BODY_BYTES

    status, _, body = call("POST", "/echo", **{"wsgi.input": io.BytesIO(b"x" * (MAX_BODY_BYTES + 10))})
    assert status.startswith("413") and json.loads(body)["detail"] == \
        f"request body is more than {MAX_BODY_BYTES} bytes; the limit is {MAX_BODY_BYTES}", body
    status, headers, body = call("GET", "/hi")
    assert status.startswith("200") and headers["Content-Length"] == str(len(body)) and body
    length = headers["Content-Length"]
    status, headers, body = call("HEAD", "/hi")
    assert status.startswith("200") and body == b"" and headers["Content-Length"] == length, headers


def test_a_refusal_before_reading_gets_the_policy_of_the_route_its_raw_path_reaches() -> None:
    """``/files/a%2Fb`` is routed to ``/files/{name}`` (an escaped "/" stays in its segment, as the pipeline routes
    it), so its 413 carries that route's CORS headers, not those of ``/files/{folder}/{name}``, which the decoded
    path would match."""
    import io
    from wsgiref.util import setup_testing_defaults

    from portafunc import App, Cors
    from portafunc_container.runtime import Service

    app = App("escaped-refusals")
    app.http("POST", "/files/{name}", name="one_file",
             cors=Cors(allow_origins=["https://shop.example"], expose_headers=["X-Route"]))(lambda req: req.body)
    app.http("POST", "/files/{folder}/{name}", name="file_in_folder",
             cors=Cors(allow_origins=["*"]))(lambda req: req.body)
    service = Service(app)

    def refused(raw_path: str, path_info: str) -> dict[str, str]:
        environ: dict[str, Any] = {"REQUEST_METHOD": "POST", "PATH_INFO": path_info, "RAW_URI": raw_path,
                                   "wsgi.input": io.BytesIO(b""), "CONTENT_LENGTH": str(10 ** 9),
                                   "HTTP_ORIGIN": "https://shop.example"}
        setup_testing_defaults(environ)
        seen: dict[str, Any] = {}
        b"".join(service(environ, lambda status, headers: seen.update(status=status, headers=headers)))
        assert seen["status"].startswith("413"), seen
        return {k.lower(): v for k, v in seen["headers"] if k.lower().startswith("access-control-")}

    assert refused("/files/a%2Fb", "/files/a/b") == {"access-control-allow-origin": "https://shop.example",
                                                     "access-control-expose-headers": "X-Route"}
    assert refused("/files/a/b", "/files/a/b") == {"access-control-allow-origin": "*"}


def test_a_streamed_body_goes_out_piece_by_piece() -> None:
    """A mounted ASGI app's streamed response reaches the WSGI server as pieces, without a Content-Length, each
    before the next is produced (the server sends them chunked); before, the service answered once the last was."""
    import io
    from wsgiref.util import setup_testing_defaults

    from portafunc import App
    from portafunc_container.runtime import Service

    produced: list[str] = []

    async def streaming(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        import asyncio

        for piece in ("one ", "two ", "three"):
            produced.append(piece)
            await send({"type": "http.response.body", "body": piece.encode(), "more_body": piece != "three"})
            await asyncio.sleep(0.01)  # the next piece is not ready yet

    app = App("streams")
    app.mount("/s", streaming)
    environ: dict[str, Any] = {"REQUEST_METHOD": "GET", "PATH_INFO": "/s/x", "wsgi.input": io.BytesIO(b"")}
    setup_testing_defaults(environ)
    seen: dict[str, Any] = {}
    pieces = Service(app)(environ, lambda status, headers: seen.update(status=status, headers=dict(headers)))
    assert seen["status"].startswith("200") and "Content-Length" not in seen["headers"], seen
    received = []
    for piece in pieces:
        if piece:
            received.append((piece.decode(), len(produced)))
    assert "".join(p for p, _ in received) == "one two three"
    assert received[0][1] < 3, received  # the first piece came before the last was produced
