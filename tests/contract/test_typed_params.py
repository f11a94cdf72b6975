"""Typed parameters, response models and content negotiation through every target's real entry point: the path,
query and header values each front door hands over arrive converted and validated, a failing request is one 400
problem naming every failing parameter, a typed body needs a JSON content type (415 otherwise), and form bodies —
URL-encoded and multipart with a binary file — reach ``req.form()`` intact."""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Any

from pydantic import BaseModel, Field

from portafunc import App, Header, HttpRequest, HttpResponse, Query

JSON = {"Content-Type": "application/json"}


class Status(str, Enum):
    open = "open"
    shipped = "shipped"


class Order(BaseModel):
    id: str
    total: float


class StoredOrder(Order):
    card_number: str


class Signup(BaseModel):
    name: str
    age: int
    tags: list[str] = []
    avatar: bytes | None = None


def typed_app() -> App:
    app = App("typed")

    @app.http("GET", "/shops/{shop}/orders/{number}")
    def find(req: HttpRequest, shop: str, number: int, limit: Annotated[int, Field(ge=1, le=100)] = 10,
             status: Status | None = None, tag: list[str] | None = None,
             x_tenant: Annotated[str, Header()] = "public",
             sort: Annotated[str, Query(alias="sort-by")] = "id") -> dict[str, Any]:
        return {"shop": shop, "number": number, "limit": limit, "status": status.value if status else None,
                "tag": tag, "tenant": x_tenant, "sort": sort}

    @app.http("POST", "/shops/{shop}/orders")
    def create(shop: str, order: Order) -> Order:
        return StoredOrder(id=f"{shop}:{order.id}", total=order.total, card_number="4111111111111111")

    @app.http("POST", "/forms")
    def form(req: HttpRequest) -> dict[str, Any]:
        data = req.form()
        upload = data.file("doc")
        return {"fields": data.fields,
                "file": None if upload is None else {"filename": upload.filename, "type": upload.content_type,
                                                     "hex": upload.data.hex()}}

    @app.http("POST", "/signups", content_types=["application/json", "application/x-www-form-urlencoded",
                                                 "multipart/form-data"])
    def signup(person: Signup) -> dict[str, Any]:
        return {"name": person.name, "age": person.age, "tags": person.tags,
                "avatar": None if person.avatar is None else person.avatar.hex()}

    @app.http("GET", "/raw")
    def raw(req: HttpRequest) -> HttpResponse:
        return HttpResponse.text("as is", status=203)

    return app


def test_path_query_and_header_parameters_arrive_converted(cloud) -> None:
    resp = cloud.http(typed_app(), "GET", "/shops/s-1/orders/42",
                      query={"limit": "5", "status": "shipped", "tag": ["a", "b"], "sort-by": "total"},
                      headers={"X-Tenant": "acme"})
    assert resp.status == 200, resp.body
    assert resp.json_body() == {"shop": "s-1", "number": 42, "limit": 5, "status": "shipped", "tag": ["a", "b"],
                                "tenant": "acme", "sort": "total"}


def test_absent_parameters_take_their_defaults(cloud) -> None:
    resp = cloud.http(typed_app(), "GET", "/shops/s-1/orders/1")
    assert resp.json_body() == {"shop": "s-1", "number": 1, "limit": 10, "status": None, "tag": None,
                                "tenant": "public", "sort": "id"}


def test_every_failing_parameter_is_listed_in_one_400_problem(cloud) -> None:
    resp = cloud.http(typed_app(), "GET", "/shops/s-1/orders/forty-two", query={"limit": "0", "status": "lost"})
    assert resp.status == 400 and resp.headers.get("content-type") == "application/problem+json"
    doc = resp.json_body()
    assert doc["title"] == "Request failed validation"
    assert [(e["in"], e["loc"], e["type"]) for e in doc["errors"]] == [
        ("path", ["number"], "int_parsing"), ("query", ["limit"], "greater_than_equal"), ("query", ["status"], "enum")]
    assert "lost" not in resp.body.decode()


def test_a_typed_body_is_validated_and_the_response_model_drops_other_fields(cloud) -> None:
    resp = cloud.http(typed_app(), "POST", "/shops/s-1/orders", json={"id": "o-1", "total": 9.5})
    assert resp.status == 200 and resp.json_body() == {"id": "s-1:o-1", "total": 9.5}
    bad = cloud.http(typed_app(), "POST", "/shops/s-1/orders", json={"id": "o-1"})
    assert bad.status == 400
    assert [(e["in"], e["loc"]) for e in bad.json_body()["errors"]] == [("body", ["total"])]


def test_a_typed_body_in_another_content_type_is_415(cloud) -> None:
    app = typed_app()
    for content_type in ("text/plain", "application/x-www-form-urlencoded"):
        resp = cloud.http(app, "POST", "/shops/s-1/orders", body=b'{"id": "o-1", "total": 9.5}',
                          headers={"Content-Type": content_type})
        assert resp.status == 415 and resp.json_body()["title"] == "Unsupported Media Type", content_type
    vendor = cloud.http(app, "POST", "/shops/s-1/orders", body=b'{"id": "o-1", "total": 9.5}',
                        headers={"Content-Type": "application/vnd.shop.order+json; charset=utf-8"})
    assert vendor.status == 200


def test_an_http_response_result_is_sent_as_is(cloud) -> None:
    resp = cloud.http(typed_app(), "GET", "/raw")
    assert resp.status == 203 and resp.body == b"as is"


def test_a_url_encoded_form_reaches_req_form(cloud) -> None:
    resp = cloud.http(typed_app(), "POST", "/forms", body=b"name=Ada+L&tag=a&tag=b&price=%E2%82%AC5",
                      headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert resp.status == 200
    assert resp.json_body() == {"fields": {"name": ["Ada L"], "tag": ["a", "b"], "price": ["€5"]}, "file": None}


def test_a_multipart_form_with_a_binary_file_reaches_req_form(cloud) -> None:
    payload = bytes(range(256)) + b"\r\n--not-the-boundary\r\n"
    body = (b"--b0undary\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nreport \xe2\x82\xac\r\n"
            b"--b0undary\r\nContent-Disposition: form-data; name=\"doc\"; filename=\"r.bin\"\r\n"
            b"Content-Type: application/octet-stream\r\n\r\n" + payload + b"\r\n--b0undary--\r\n")
    resp = cloud.http(typed_app(), "POST", "/forms", body=body,
                      headers={"Content-Type": "multipart/form-data; boundary=b0undary"})
    assert resp.status == 200, resp.body
    assert resp.json_body() == {"fields": {"title": ["report €"]},
                                "file": {"filename": "r.bin", "type": "application/octet-stream",
                                         "hex": payload.hex()}}


def test_a_malformed_form_is_400_and_json_sent_to_a_form_is_415(cloud) -> None:
    app = typed_app()
    cut = cloud.http(app, "POST", "/forms", body=b"--b\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nx",
                     headers={"Content-Type": "multipart/form-data; boundary=b"})
    assert cut.status == 400 and "closing boundary" in cut.json_body()["detail"]
    assert cloud.http(app, "POST", "/forms", json={"a": 1}).status == 415


FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def test_a_url_encoded_form_validates_into_a_body_model(cloud) -> None:
    resp = cloud.http(typed_app(), "POST", "/signups", body=b"name=Ada+L&age=36&tags=a&tags=b", headers=FORM)
    assert resp.status == 200, resp.body
    assert resp.json_body() == {"name": "Ada L", "age": 36, "tags": ["a", "b"], "avatar": None}
    one = cloud.http(typed_app(), "POST", "/signups", body=b"name=Bo&age=7&tags=only", headers=FORM)
    assert one.status == 200 and one.json_body()["tags"] == ["only"]


def test_a_multipart_form_with_a_file_validates_into_a_body_model(cloud) -> None:
    payload = bytes(range(256))
    body = (b"--b0undary\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\nAda \xe2\x82\xac\r\n"
            b"--b0undary\r\nContent-Disposition: form-data; name=\"age\"\r\n\r\n36\r\n"
            b"--b0undary\r\nContent-Disposition: form-data; name=\"tags\"\r\n\r\nx\r\n"
            b"--b0undary\r\nContent-Disposition: form-data; name=\"tags\"\r\n\r\ny\r\n"
            b"--b0undary\r\nContent-Disposition: form-data; name=\"avatar\"; filename=\"a.png\"\r\n"
            b"Content-Type: image/png\r\n\r\n" + payload + b"\r\n--b0undary--\r\n")
    resp = cloud.http(typed_app(), "POST", "/signups", body=body,
                      headers={"Content-Type": "multipart/form-data; boundary=b0undary"})
    assert resp.status == 200, resp.body
    assert resp.json_body() == {"name": "Ada €", "age": 36, "tags": ["x", "y"], "avatar": payload.hex()}


def test_a_form_missing_a_field_fails_as_the_json_body_does(cloud) -> None:
    app = typed_app()
    form = cloud.http(app, "POST", "/signups", body=b"name=Ada&tags=a", headers=FORM)
    as_json = cloud.http(app, "POST", "/signups", json={"name": "Ada", "tags": ["a"]})
    assert form.status == as_json.status == 400
    assert form.headers.get("content-type") == "application/problem+json"
    assert form.json_body() == as_json.json_body()
    assert [(e["in"], e["loc"], e["type"]) for e in form.json_body()["errors"]] == [("body", ["age"], "missing")]
    wrong = cloud.http(app, "POST", "/signups", body=b"name=Ada&age=old", headers=FORM)
    assert wrong.status == 400
    assert [(e["in"], e["loc"], e["type"]) for e in wrong.json_body()["errors"]] == [("body", ["age"], "int_parsing")]


def test_json_still_reaches_a_body_model_on_a_form_route(cloud) -> None:
    resp = cloud.http(typed_app(), "POST", "/signups", json={"name": "Ada", "age": 36, "tags": ["a"]})
    assert resp.status == 200, resp.body
    assert resp.json_body() == {"name": "Ada", "age": 36, "tags": ["a"], "avatar": None}
    assert cloud.http(typed_app(), "POST", "/signups", body=b"name=Ada", headers={"Content-Type": "text/plain"}
                      ).status == 415
