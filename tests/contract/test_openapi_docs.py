"""The docs route through every target's real entry point: Swagger UI's page, its two packaged files and the
OpenAPI document are served like the app's own routes, on every cloud and in ``portafunc run``."""

from __future__ import annotations

import gzip
import json

from openapi_spec_validator import validate
from pydantic import BaseModel

from portafunc import App, HttpRequest, Router


class Order(BaseModel):
    id: str
    total: float


def docs_app() -> App:
    app = App("documented", docs_route="/docs")
    orders = Router(tags=["orders"])

    @orders.http("POST", "/orders")
    def create_order(req: HttpRequest, order: Order) -> Order:
        """Create an order."""
        return order

    app.include_router(orders, prefix="/v1")
    return app


def test_the_docs_page_links_its_files_relative_to_itself(cloud) -> None:
    resp = cloud.http(docs_app(), "GET", "/docs")
    assert resp.status == 200, resp.body
    assert resp.headers["content-type"] == "text/html; charset=utf-8"
    page = resp.body.decode()
    for link in ('href="docs/swagger-ui.css?v=', 'src="docs/swagger-ui-bundle.js?v=', 'url: "docs/openapi.json"'):
        assert link in page
    assert "://" not in page  # nothing from a CDN


def test_the_openapi_document_is_served_under_the_docs_route(cloud) -> None:
    app = docs_app()
    resp = cloud.http(app, "GET", "/docs/openapi.json")
    assert resp.status == 200 and resp.headers["content-type"] == "application/json"
    doc = json.loads(resp.body)
    validate(doc)
    assert doc["openapi"] == "3.1.0" and list(doc["paths"]) == ["/v1/orders"]  # the docs routes are not in it
    assert doc["paths"]["/v1/orders"]["post"]["tags"] == ["orders"]
    assert doc == json.loads(json.dumps(app.openapi(target=None if cloud.name == "local" else cloud.name)))


def test_swagger_ui_files_are_sent_compressed_or_plain_as_the_client_accepts(cloud) -> None:
    app = docs_app()
    zipped = cloud.http(app, "GET", "/docs/swagger-ui-bundle.js", headers={"Accept-Encoding": "gzip, br"})
    assert zipped.status == 200, zipped.body[:200]
    assert zipped.headers["content-encoding"] == "gzip" and zipped.headers["vary"] == "Accept-Encoding"
    assert zipped.headers["content-type"] == "text/javascript; charset=utf-8"
    script = gzip.decompress(zipped.body)
    assert b"SwaggerUIBundle" in script
    plain = cloud.http(app, "GET", "/docs/swagger-ui.css")
    assert plain.status == 200 and "content-encoding" not in plain.headers
    assert plain.headers["content-type"] == "text/css; charset=utf-8" and b".swagger-ui" in plain.body
    missing = cloud.http(app, "GET", "/docs/index.js")
    assert missing.status == 404 and missing.headers["content-type"] == "application/problem+json"
