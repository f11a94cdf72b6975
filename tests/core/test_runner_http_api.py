"""The web-API features through ``portafunc run``'s real HTTP server (the same cases as tests/contract run on the
clouds' entry points): CORS preflights and response headers over a socket."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Iterator

import pytest

from test_runner import Runner, start

APP = Path(__file__).resolve().parent / "runner_fixtures" / "http_api"
SHOP = "https://shop.example"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runner]:
    runner = start(APP, tmp_path_factory.mktemp("http-api"), "--no-reload")
    yield runner
    assert runner.stop() == 0, runner.stderr


def cors_headers(headers: object) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()  # type: ignore[attr-defined]
            if k.lower().startswith("access-control-") or k.lower() == "vary"}


def test_a_preflight_is_answered_204_with_the_fetch_headers(served: Runner) -> None:
    status, headers, body = served.request("OPTIONS", "/orders/o-1", headers={
        "Origin": SHOP, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"})
    assert (status, body) == (204, b"")
    assert cors_headers(headers) == {
        "access-control-allow-origin": SHOP, "access-control-allow-credentials": "true",
        "access-control-allow-methods": "GET, HEAD, POST", "access-control-allow-headers": "content-type",
        "access-control-max-age": "60",
        "vary": "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"}


def test_a_preflight_from_another_origin_is_refused(served: Runner) -> None:
    status, headers, _ = served.request("OPTIONS", "/orders/o-1", headers={
        "Origin": "https://evil.example", "Access-Control-Request-Method": "POST"})
    assert status == 403 and "access-control-allow-origin" not in cors_headers(headers)


def test_responses_carry_allow_origin_only_for_the_allowed_origin(served: Runner) -> None:
    status, headers, _ = served.request("GET", "/orders/o-1", headers={"Origin": SHOP})
    assert status == 200 and cors_headers(headers) == {
        "access-control-allow-origin": SHOP, "access-control-allow-credentials": "true", "vary": "Origin"}
    status, headers, _ = served.request("GET", "/orders/o-1", headers={"Origin": "https://evil.example"})
    assert status == 200 and cors_headers(headers) == {"vary": "Origin"}


def test_a_router_is_served_under_its_prefix(served: Runner) -> None:
    status, _, body = served.request("GET", "/v1/items/sku-1")
    assert (status, body) == (200, b'{"sku":"sku-1"}')
    assert served.request("GET", "/items/sku-1")[0] == 404
    assert re.search(r"item +http GET /v1/items/\{sku\}", served.stderr)  # the banner shows the prefix


def test_middleware_wraps_requests_and_can_short_circuit(served: Runner) -> None:
    status, headers, body = served.request("GET", "/v1/items/sku-1")
    assert status == 200 and headers["X-Served-By"] == "portafunc"
    status, headers, body = served.request("GET", "/orders/o-1", headers={"X-Block": "1"})
    assert status == 403 and b"blocked by middleware" in body and "X-Served-By" not in headers


def test_exception_handlers_answer_raised_errors_and_unknown_routes(served: Runner) -> None:
    status, headers, body = served.request("POST", "/stock/sku-9", b"")
    assert status == 409 and headers["Content-Type"] == "application/problem+json"
    assert b'"detail":"sku-9 is out of stock"' in body
    status, _, body = served.request("GET", "/nowhere")
    assert (status, body) == (404, b'{"error":"no such page","path":"/nowhere"}')


def test_head_answers_without_a_content_length_that_says_the_body_is_empty(served: Runner) -> None:
    """HEAD gets GET's status and headers and no body; a ``Content-Length: 0`` would tell the client GET's body is
    empty (RFC 9110 9.3.2 lets a HEAD answer leave the length out)."""
    status, headers, body = served.request("GET", "/orders/o-1")
    assert status == 200 and body
    status, headers, body = served.request("HEAD", "/orders/o-1")
    assert (status, body) == (200, b"")
    assert headers.get("Content-Length") in (None, str(len(served.request("GET", "/orders/o-1")[2])))


def refused_head(served: Runner, path: str, expect: bool = False) -> str:
    """The head of the answer to a POST to ``path`` whose Content-Length is over the limit (with ``expect``, sent
    with ``Expect: 100-continue``), lower-cased."""
    import socket

    with socket.create_connection(("127.0.0.1", served.port), timeout=10) as conn:
        conn.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\nOrigin: {SHOP}\r\n".encode() +
                     (b"Expect: 100-continue\r\n" if expect else b"") +
                     b"Content-Type: application/json\r\nContent-Length: 999999999\r\n\r\n")
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = conn.recv(65536)
            if not chunk:
                break
            answer += chunk
    head = answer.partition(b"\r\n\r\n")[0].decode("latin-1").lower()
    assert head.startswith("http/1.1 413"), head
    return head


def test_a_body_refused_before_it_is_read_carries_the_cors_headers(served: Runner) -> None:
    """A 413 is answered from the Content-Length alone, before the pipeline runs; a browser can read it only with
    the CORS headers every other answer of the route carries."""
    head = refused_head(served, "/orders/o-1")
    assert f"access-control-allow-origin: {SHOP}" in head and "vary: origin" in head, head


@pytest.mark.parametrize("expect", [False, True])
def test_a_refused_body_gets_the_policy_of_the_route_its_raw_path_reaches(served: Runner, expect: bool) -> None:
    """``/files/a%2Fb`` is routed as the pipeline routes it, to ``/files/{name}`` (the app's policy), not to
    ``/files/{folder}/{name}`` (its own, any origin) which the decoded path matches."""
    head = refused_head(served, "/files/a%2Fb", expect)
    assert f"access-control-allow-origin: {SHOP}" in head and "access-control-allow-credentials: true" in head, head
    assert "access-control-allow-origin: *" in refused_head(served, "/files/a/b", expect)
