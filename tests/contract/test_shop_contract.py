"""Every example handler × every target, the same assertions (parametrised by the ``cloud`` fixture)."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from portafunc.messaging.memory import broker


def test_create_order_answers_201_and_fans_out(cloud, shop):
    resp = cloud.http(shop, "POST", "/orders/acme", json={"id": "o-1", "total": 9.5})
    assert resp.status == 201, resp.body
    assert resp.json_body() == {"shop": "acme", "id": "o-1"}
    [queued] = broker().queue("orders").receive(10)
    assert json.loads(queued.data) == {"id": "o-1", "total": 9.5} and queued.attributes["shop"] == "acme"
    assert set(queued.attributes) == {"shop", "traceparent", "correlation_id"}  # the request's trace goes along


def test_invalid_order_is_a_400_problem_on_every_cloud(cloud, shop):
    resp = cloud.http(shop, "POST", "/orders/acme", json={"id": "o-1"})
    assert resp.status == 400
    assert resp.headers["content-type"] == "application/problem+json"
    assert [e["loc"] for e in resp.json_body()["errors"]] == [["total"]]
    malformed = cloud.http(shop, "POST", "/orders/acme", body=b"{not json",
                           headers={"Content-Type": "application/json"})
    assert malformed.status == 400


def test_get_with_path_params_query_and_unknown_route(cloud, shop):
    resp = cloud.http(shop, "GET", "/orders/acme/o 42", query={"expand": ["a", "b"]})
    assert resp.status == 200 and resp.json_body() == {"shop": "acme", "id": "o 42"}


def test_only_the_invalid_message_of_a_batch_fails(cloud, shop):
    result = cloud.enqueue(shop, "orders", [{"id": "o-1", "total": 9.5}, {"id": "bad"}, {"id": "o-3", "total": 1}])
    assert len(result.ids) == 3
    assert result.failed_ids == [result.ids[1]]


def test_non_retryable_failure_is_reported_not_lost(cloud, shop):
    result = cloud.enqueue(shop, "orders", [{"id": "neg", "total": -1}])
    assert result.failed_ids == result.ids  # no dead-letter binding: the broker's DLQ policy must take it


def test_topic_subscriber_sees_payload_and_attributes(cloud, shop, capsys):
    result = cloud.publish(shop, "order-events", {"id": "o-1"}, attributes={"kind": "created"})
    assert result.ok
    assert "audit: {'id': 'o-1'} {'kind': 'created'}" in capsys.readouterr().out


def test_schedule_fires_with_the_scheduled_time(cloud, shop, capsys):
    when = datetime(2026, 5, 1, 3, 0, tzinfo=timezone.utc)
    assert cloud.schedule(shop, "nightly", time=when).ok
    assert "report at 2026-05-01T03:00:00+00:00" in capsys.readouterr().out


def test_upload_sees_the_decoded_key(cloud, shop, capsys):
    assert cloud.storage(shop, "uploads", "in/my photo+1.png", size=42).ok
    assert "uploaded uploads/in/my photo+1.png (42 bytes)" in capsys.readouterr().out


def test_orders_are_kept_in_the_orders_table(cloud, shop):
    import portafunc

    assert cloud.http(shop, "POST", "/orders/acme", json={"id": "o-7", "total": 12.5}).status == 201
    stored = portafunc.kv("orders").get("acme/o-7")
    assert stored == {"id": "o-7", "total": 12.5}


def _png(width: int, height: int) -> bytes:
    """An RGB PNG written by hand (stdlib only), with every row's filter byte 0."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + bytes(v for x in range(width) for v in (x % 256, y % 256, 90)) for y in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def test_an_uploaded_png_gets_a_thumbnail_read_through_the_uploads_bucket(cloud, shop, capsys):
    import struct

    import portafunc

    portafunc.bucket("uploads").put("in/cat photo.png", _png(640, 320), content_type="image/png")
    assert cloud.storage(shop, "uploads", "in/cat photo.png", size=100).ok
    thumb = portafunc.bucket("thumbnails").get("in/cat photo.png")
    assert thumb.startswith(b"\x89PNG") and struct.unpack(">II", thumb[16:24]) == (128, 64)
    assert portafunc.bucket("thumbnails").stat("in/cat photo.png").content_type == "image/png"


def test_an_upload_that_is_not_a_readable_png_is_dropped_not_retried(cloud, shop, capfd):
    import portafunc

    portafunc.bucket("uploads").put("in/broken.png", b"not a png at all")
    assert cloud.storage(shop, "uploads", "in/broken.png").ok  # the cloud is not asked to retry the same bytes
    assert not portafunc.bucket("thumbnails").exists("in/broken.png")
    logged = capfd.readouterr()
    assert "handler failed for good" in logged.out + logged.err and "not a PNG file" in logged.out + logged.err


def test_orders_are_listed_up_to_a_typed_limit(cloud, shop):
    for n in (3, 1, 2):
        assert cloud.http(shop, "POST", "/orders/list-shop", json={"id": f"o-{n}", "total": n}).status == 201
    resp = cloud.http(shop, "GET", "/orders/list-shop", query={"limit": "2"})
    assert resp.status == 200, resp.body
    assert resp.json_body() == [{"id": "o-1", "total": 1.0}, {"id": "o-2", "total": 2.0}]
    assert len(cloud.http(shop, "GET", "/orders/list-shop").json_body()) == 3  # the default limit, 20
    for bad in ("lots", "0", "101"):
        refused = cloud.http(shop, "GET", "/orders/list-shop", query={"limit": bad})
        assert refused.status == 400 and refused.headers["content-type"] == "application/problem+json"
        assert [(e["in"], e["loc"]) for e in refused.json_body()["errors"]] == [("query", ["limit"])]


def test_only_signed_in_users_may_cancel_an_order(cloud, shop, shop_idp, capsys):
    import portafunc
    from portafunc.data import KeyNotFound

    assert cloud.http(shop, "POST", "/orders/acme", json={"id": "o-9", "total": 3}).status == 201
    anonymous = cloud.http(shop, "DELETE", "/orders/acme/o-9")
    assert anonymous.status == 401 and anonymous.headers["www-authenticate"] == "Bearer"
    other_api = cloud.http(shop, "DELETE", "/orders/acme/o-9",
                           headers={"Authorization": f"Bearer {shop_idp.token(audience='api://other')}"})
    assert other_api.status == 401
    assert portafunc.kv("orders").get("acme/o-9") == {"id": "o-9", "total": 3}
    signed_in = cloud.http(shop, "DELETE", "/orders/acme/o-9",
                           headers={"Authorization": f"Bearer {shop_idp.token(audience='api://shop')}"})
    assert signed_in.status == 204, signed_in.body
    with pytest.raises(KeyNotFound):
        portafunc.kv("orders").get("acme/o-9")
    assert "order acme/o-9 cancelled by user-1" in capsys.readouterr().out


def test_the_storefront_may_call_the_api_from_its_pages(cloud, shop):
    preflight = cloud.http(shop, "OPTIONS", "/orders/acme/o-1", headers={
        "Origin": "https://shop.example", "Access-Control-Request-Method": "DELETE",
        "Access-Control-Request-Headers": "authorization"})
    assert preflight.status == 204
    assert preflight.headers["access-control-allow-origin"] == "https://shop.example"
    assert "DELETE" in preflight.headers["access-control-allow-methods"]
    assert preflight.headers["access-control-allow-headers"] == "authorization"
    answer = cloud.http(shop, "GET", "/orders/acme/o-1", headers={"Origin": "https://shop.example"})
    assert answer.headers["access-control-allow-origin"] == "https://shop.example"
    elsewhere = cloud.http(shop, "GET", "/orders/acme/o-1", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in elsewhere.headers


def test_the_shop_publishes_its_openapi_document_and_swagger_ui(cloud, shop):
    from openapi_spec_validator import validate

    resp = cloud.http(shop, "GET", "/docs/openapi.json")
    assert resp.status == 200
    doc = resp.json_body()
    validate(doc)
    assert sorted(doc["paths"]) == ["/orders/{shop}", "/orders/{shop}/{order_id}"]
    assert doc["paths"]["/orders/{shop}/{order_id}"]["delete"]["security"] == [{"jwt": []}]
    assert doc["components"]["securitySchemes"]["jwt"]["bearerFormat"] == "JWT"
    [_, limit] = doc["paths"]["/orders/{shop}"]["get"]["parameters"]
    assert limit["name"] == "limit" and limit["schema"]["maximum"] == 100
    assert cloud.http(shop, "GET", "/docs").status == 200
