"""The shop's web API through ``portafunc run``'s real HTTP server: Swagger UI and the OpenAPI document at /docs,
the typed ``limit`` query parameter and the signed-in route, over a socket (the clouds' entry points are covered by
tests/contract)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Iterator

import pytest
from openapi_spec_validator import validate

from test_runner import Runner, start

SHOP = Path(__file__).resolve().parents[2] / "examples" / "shop"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runner]:
    runner = start(SHOP, tmp_path_factory.mktemp("shop-docs"), "--no-reload")
    yield runner
    assert runner.stop() == 0, runner.stderr


def test_swagger_ui_and_the_document_are_served(served: Runner) -> None:
    status, headers, page = served.request("GET", "/docs")
    assert status == 200 and headers["Content-Type"] == "text/html; charset=utf-8"
    assert b'src="docs/swagger-ui-bundle.js?v=' in page
    status, headers, body = served.request("GET", "/docs/openapi.json")
    assert status == 200 and headers["Content-Type"] == "application/json"
    doc = json.loads(body)
    validate(doc)
    assert sorted(doc["paths"]) == ["/orders/{shop}", "/orders/{shop}/{order_id}"]


def test_swagger_ui_s_script_is_sent_compressed(served: Runner) -> None:
    status, headers, body = served.request("GET", "/docs/swagger-ui-bundle.js", headers={"Accept-Encoding": "gzip"})
    assert status == 200 and headers["Content-Encoding"] == "gzip"
    assert int(headers["Content-Length"]) == len(body) and b"SwaggerUIBundle" in gzip.decompress(body)
    status, headers, body = served.request("HEAD", "/docs/swagger-ui.css")
    assert status == 200 and body == b"" and headers["Content-Type"] == "text/css; charset=utf-8"


def test_the_shop_s_typed_and_signed_in_routes(served: Runner) -> None:
    order = json.dumps({"id": "o-1", "total": 9.5}).encode()
    assert served.request("POST", "/orders/acme", order, {"Content-Type": "application/json"})[0] == 201
    status, _, body = served.request("GET", "/orders/acme?limit=1")
    assert (status, json.loads(body)) == (200, [{"id": "o-1", "total": 9.5}])
    assert served.request("GET", "/orders/acme?limit=0")[0] == 400
    status, headers, _ = served.request("DELETE", "/orders/acme/o-1")
    assert status == 401 and headers["WWW-Authenticate"] == "Bearer"
