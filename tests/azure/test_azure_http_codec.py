"""The Azure HTTP reader of a real ``azure.functions.HttpRequest`` (what the Python worker hands a function) reads
every field exactly as the general reader (``request_from_parts``) does on the same parts: the lazy fields (headers,
query, raw query, route parameters, client IP, read on first access) and the eager ones (method, path, body)."""

from __future__ import annotations

from typing import Any

import azure.functions as func
import pytest

from portafunc_azure.codecs.http import request_from_func, request_from_parts


def _fields(req: Any) -> tuple[Any, ...]:
    return (req.method, req.path, req.query, req.raw_query, list(req.headers.items()), req.path_params,
            req.client_ip, req.body)


URLS = [
    "https://shop.azurewebsites.net/api/orders/acme",
    "https://shop.azurewebsites.net/api/orders/a%20b%2Fc?x=1&x=2&empty=&plus=a+b",
    "https://shop.azurewebsites.net/api/orders?q=%C3%A9#fragment?not-a-query",
    "https://shop.azurewebsites.net/api",
    "https://shop.azurewebsites.net/other/api/x?y",
    "http://localhost:7071/api/caf%C3%A9/?a=1#f",
    "https://shop.azurewebsites.net/API/orders/acme",
    "https://shop.azurewebsites.net/Api/orders/a%2Fb",
    "https://shop.azurewebsites.net/apiary/x",
]
HEADERS = [
    {},
    {"accept": "*/*", "x-forwarded-for": "198.51.100.7, 203.0.113.9:51234"},
    {"x-forwarded-for": "[2001:db8::1]:443", "cookie": "a=1; b=2", "content-type": "application/json"},
]


@pytest.mark.parametrize("url", URLS)
@pytest.mark.parametrize("headers", HEADERS)
@pytest.mark.parametrize("prefix", ["api", ""])
def test_the_lazy_reader_reads_what_the_general_reader_reads(url: str, headers: dict[str, str], prefix: str) -> None:
    req = func.HttpRequest(method="post", url=url, headers=headers, params={"x": "1"},
                           route_params={"shop": "acme"}, body=b'{"a": 1}')
    general = request_from_parts(req.method, url, dict(req.headers.items()), dict(req.params),
                                 dict(req.route_params), req.get_body(), req, prefix)
    assert _fields(request_from_func(req, prefix)) == _fields(general)


@pytest.mark.parametrize("sent", ["/api/orders/acme", "/API/orders/acme", "/Api/orders/acme"])
def test_the_route_prefix_is_cut_in_any_case_as_the_host_matches_it(sent: str) -> None:
    """The host matches the route prefix as it matches every literal segment of a route, ignoring case: the app's
    routes see the path after it however it was spelt."""
    req = func.HttpRequest(method="GET", url=f"https://h{sent}%2Fx?q=1", headers={}, params={}, body=b"")
    neutral = request_from_func(req, "api")
    assert (neutral.path, neutral.raw_path) == ("/orders/acme/x", "/orders/acme%2Fx")
    assert neutral.base_url == "https://h" + sent[:4]
    assert request_from_func(func.HttpRequest(method="GET", url="https://h/apiary/x", headers={}, params={},
                                              body=b""), "api").path == "/apiary/x"


def test_a_lazy_field_assigned_before_it_is_read_keeps_the_assigned_value() -> None:
    req = func.HttpRequest(method="GET", url="https://h/api/a?x=1", headers={"x-forwarded-for": "192.0.2.1"},
                           params={}, route_params={"p": "1"}, body=b"")
    neutral = request_from_func(req, "api")
    neutral.path_params = {}
    neutral.query = {"y": ["2"]}
    assert neutral.path_params == {} and neutral.query == {"y": ["2"]}
    assert neutral.client_ip == "192.0.2.1" and neutral.raw_query == "x=1"
