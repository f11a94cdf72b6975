"""The AWS HTTP codec's caches keyed by what a request sends (its header names, its route key) start over when full:
requests sending junk names once must not keep a real client's names out of them for the life of the process.
Each test sends junk past the bound through the real reading path, then a real request, and checks the cache holds
the real request's key afterwards."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from portafunc_aws.codecs import http
from portafunc_aws.lambda_context import LambdaContext
from portafunc_aws.runtime import bind

from aws_test_support import load_fixture
from typed_apps import order_app

BASE = "http-apigw-v2/sam-HttpApi.json"


def _event(headers: dict[str, str], route_key: str = "GET /orders/{id}") -> dict[str, Any]:
    event = load_fixture(BASE)
    event.update({"routeKey": route_key, "rawPath": "/orders/42", "rawQueryString": "limit=5", "headers": headers,
                  "body": None, "isBase64Encoded": False, "cookies": None})
    event["requestContext"]["http"]["method"] = "GET"
    return event


REAL = {"x-tenant": "acme", "user-agent": "shop/1.0"}


def test_header_keys_start_over_when_junk_names_filled_them(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(http, "_HEADER_KEYS", {})
    codec = http._V2["apigw-v2"]
    for i in range(300):
        assert codec.header_values(_event({f"x-junk-{i}": "1"}), ("x-tenant",)) == [None]
    assert codec.header_values(_event(REAL), ("x-tenant",)) == ["acme"]
    assert (tuple(REAL), ("x-tenant",)) in http._HEADER_KEYS
    assert len(http._HEADER_KEYS) <= 256


def test_a_typed_reader_keeps_a_real_clients_names_after_junk_filled_it() -> None:
    read = http._V2["apigw-v2"].first_values_reader(("limit",), ("x-tenant",))
    cell = read.__closure__[read.__code__.co_freevars.index("known")]  # type: ignore[index]
    for i in range(300):
        assert read(_event({f"x-junk-{i}": "1"})) == ["5", None]
    assert read(_event(REAL)) == ["5", "acme"]
    known = cell.cell_contents
    assert tuple(REAL) in known and len(known) <= 256


def test_route_templates_start_over_after_junk_route_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    """Through the Lambda handler: requests with route keys seen once (answered 404), then the real route."""
    monkeypatch.setattr(http, "_ROUTE_TEMPLATES", {})
    handler = bind(order_app("bounded", False))
    context = LambdaContext(aws_request_id="r-1")
    for i in range(1100):
        handler(_event(dict(REAL), f"GET /junk/{i}"), context)
    answer = handler(copy.deepcopy(_event(dict(REAL))), context)
    assert answer["statusCode"] == 200, answer
    assert http._ROUTE_TEMPLATES.get("GET /orders/{id}") == "/orders/{id}"
    assert len(http._ROUTE_TEMPLATES) <= 1024
