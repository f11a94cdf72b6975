"""The one reader of the JSON form of a plain HTTP request (``portafunc.kit.http_json``), and the codecs of the two
targets whose HTTP events take that form (GCP: functions-framework hands the function a real request; container:
the server builds the form from the WSGI environ): both must read every input exactly as the core reader does."""

from __future__ import annotations

from typing import Any

import pytest

from portafunc.errors import EventDecodeError
from portafunc.kit import http_json


def _readers() -> list[Any]:
    from portafunc_container.codecs import http as container_http
    from portafunc_gcp.codecs import http as gcp_http

    return [http_json.decode_request, gcp_http.decode_request, container_http.decode_request]


def _fields(req: Any) -> tuple[Any, ...]:
    return (req.method, req.path, req.query, list(req.headers.items()), req.body, req.client_ip, req.raw_query)


NON_STRING_HEADERS = {
    "method": "post", "path": "/orders/a%20b", "query_string": "x=1&x=2&empty=",
    "headers": {"Content-Length": 12, "X-Retry": 3, "X-Flag": True, "X-Forwarded-For": "198.51.100.1, 203.0.113.9"},
    "body": "aGVsbG8gd29ybGQh", "isBase64Encoded": True,
}


@pytest.mark.parametrize("read", _readers(), ids=["core", "gcp", "container"])
def test_header_values_given_as_json_numbers_are_read_as_text(read: Any) -> None:
    req = read(NON_STRING_HEADERS)
    assert req.headers.get("content-length") == "12"
    assert req.headers.get("x-retry") == "3"
    assert req.headers.get("x-flag") == "True"
    assert all(isinstance(v, str) for _, v in req.headers.items())
    assert req.method == "POST"
    assert req.path == "/orders/a b"
    assert req.query == {"x": ["1", "2"], "empty": [""]}
    assert req.raw_query == "x=1&x=2&empty="
    assert req.body == b"hello world!"
    assert req.client_ip == "203.0.113.9"


CASES = [
    NON_STRING_HEADERS,
    {"method": "GET", "path": "/", "headers": [["Cookie", "a=1"], ["cookie", "b=2"]], "remote_addr": "192.0.2.4"},
    {"method": "PUT", "path": "/x", "query_string": "", "headers": None, "body": None},
    {"method": "PATCH", "path": "/caf%C3%A9", "body": "caf\u00e9"},
]


@pytest.mark.parametrize("native", CASES)
def test_every_target_reads_the_json_form_as_the_core_does(native: dict[str, Any]) -> None:
    core, *targets = (_fields(read(native)) for read in _readers())
    assert targets == [core, core]


BAD = [
    [],
    {"method": "GET"},
    {"method": "", "path": "/"},
    {"method": "GET", "path": "no-slash"},
    {"method": "GET", "path": "/", "query_string": 3},
    {"method": "GET", "path": "/", "headers": "a: b"},
    {"method": "GET", "path": "/", "body": 5},
    {"method": "GET", "path": "/", "body": "!!", "isBase64Encoded": True},
]


@pytest.mark.parametrize("native", BAD)
@pytest.mark.parametrize("read", _readers(), ids=["core", "gcp", "container"])
def test_malformed_requests_are_a_typed_decode_error(read: Any, native: Any) -> None:
    with pytest.raises(EventDecodeError):
        read(native)


def test_the_reader_keeps_a_body_the_writer_wrote() -> None:
    for body in (b"plain text", b"\xff\x00binary"):
        out = http_json.put_body(body, {"method": "POST", "path": "/"})
        assert http_json.decode_request(out).body == body


def _writers() -> list[Any]:
    from portafunc_container.codecs import http as container_http
    from portafunc_gcp.codecs import http as gcp_http

    return [http_json.encode_request, gcp_http.encode_request, container_http.encode_request]


@pytest.mark.parametrize("write", _writers())
def test_a_written_request_reads_back_as_it_was_received(write: Any) -> None:
    """What a saved request replays: the raw query exactly as received (repeated keys, escapes, a key without a value,
    order), the path with its escapes, repeated headers, cookies, a binary body and the client address."""
    from portafunc import HttpRequest

    received = http_json.decode_request({
        "method": "POST", "path": "/files/a%20b/%E2%98%83", "query_string": "b=2&a=1&a=%2F%20x&flag&e=",
        "headers": [["X-A", "1"], ["x-a", "2"], ["Cookie", "s=1"]], "body": "/w==", "isBase64Encoded": True,
        "remote_addr": "203.0.113.9",
    })
    again = http_json.decode_request(write(received))
    assert _fields(again) == _fields(received)
    assert again.raw_query == "b=2&a=1&a=%2F%20x&flag&e="
    built = HttpRequest("GET", "/x", query={"a": ["1", "/ &"]}, cookies={"s": "1"})
    assert http_json.decode_request(write(built)).query == {"a": ["1", "/ &"]}
    assert http_json.decode_request(write(built)).headers.get("cookie") == "s=1"
