"""Typed HTTP parameters (portafunc.params): what a handler's signature declares, read once, and how each request
fills it — through handle_http, the pipeline every adapter and ``portafunc run`` call."""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Any, Literal

import pytest
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from portafunc import App, Header, HttpRequest, HttpResponse, Path, Query, RegistrationError, Router, UploadedFile
from portafunc.invoke import handle_http
from portafunc.params import REQUIRED, ParamSpec, read_signature, route_parameters, route_signature

JSON = {"Content-Type": "application/json"}


class Status(str, Enum):
    open = "open"
    shipped = "shipped"


class Order(BaseModel):
    id: str
    total: float


class StoredOrder(Order):
    card_number: str


def list_orders(req: HttpRequest, shop: str, limit: Annotated[int, Field(ge=1, le=100)] = 10,
                status: Status | None = None, x_tenant: Annotated[str, Header(description="the tenant")] = "public",
                tag: list[str] | None = None, sort: Annotated[str, Query(alias="sort-by")] = "id") -> dict[str, Any]:
    return {"shop": shop, "limit": limit, "status": status.value if status else None, "tenant": x_tenant,
            "tag": tag, "sort": sort}


def typed_app() -> App:
    app = App("typed")
    app.http("GET", "/shops/{shop}/orders")(list_orders)

    @app.http("POST", "/shops/{shop}/orders")
    def create(shop: Annotated[str, Path(description="the shop")], order: Order) -> Order:
        return StoredOrder(id=f"{shop}:{order.id}", total=order.total, card_number="4111111111111111")

    @app.http("GET", "/orders/{id}", response_model=Order)
    def get_order(id: int) -> Any:
        return {"id": str(id), "total": 1.5, "card_number": "4111111111111111"}

    @app.http("GET", "/broken")
    def broken(req: HttpRequest) -> Order:
        return {"id": "o-1", "total": "not a number"}  # type: ignore[return-value]

    @app.http("POST", "/maybe")
    def maybe(req: HttpRequest, order: Order | None = None) -> dict[str, Any]:
        return {"order": order.id if order else None}

    @app.http("POST", "/list", response_model=list[Order])
    def many(req: HttpRequest) -> Any:
        return [Order(id="a", total=1), {"id": "b", "total": 2}], 201

    @app.http("POST", "/raw")
    def raw(req: HttpRequest) -> dict[str, Any]:
        return {"len": len(req.body)}

    @app.http("POST", "/text", content_types=["text/plain"])
    def text(req: HttpRequest) -> str:
        return req.text

    return app


def get(app: App, path: str, query: dict[str, list[str]] | None = None,
        headers: dict[str, str] | None = None) -> HttpResponse:
    return handle_http(app, HttpRequest("GET", path, query=query, headers=headers))


def post(app: App, path: str, body: bytes, headers: dict[str, str] | None = None) -> HttpResponse:
    return handle_http(app, HttpRequest("POST", path, body=body, headers=headers))


# -- the description the OpenAPI document reads ---------------------------------------------------------------

def test_route_parameters_describe_each_parameter_once_in_signature_order() -> None:
    params = route_parameters(list_orders, "/shops/{shop}/orders")
    assert [(p.name, p.location, p.arg, p.required) for p in params] == [
        ("shop", "path", "shop", True), ("limit", "query", "limit", False), ("status", "query", "status", False),
        ("x-tenant", "header", "x_tenant", False), ("tag", "query", "tag", False),
        ("sort-by", "query", "sort", False)]
    assert params[0].default is REQUIRED and params[1].default == 10
    assert params[3].description == "the tenant" and params[4].multi and not params[1].multi
    assert params[1].json_schema() == {"type": "integer", "minimum": 1, "maximum": 100, "default": 10}
    assert params[3].json_schema() == {"type": "string", "default": "public", "description": "the tenant"}


def test_route_signature_names_the_request_body_and_response_models() -> None:
    app = typed_app()
    create = route_signature(app.function("create"))
    assert create.request_arg is None and create.body is not None and create.body.model is Order
    assert create.body.required and create.body.content_types == ("application/json", "application/*+json")
    assert create.response_model is Order
    assert [(p.name, p.location, p.description) for p in create.parameters] == [("shop", "path", "the shop")]
    assert route_signature(app.function("get_order")).response_model is Order
    assert route_signature(app.function("many")).response_model == list[Order]
    assert not route_signature(app.function("maybe")).body.required  # type: ignore[union-attr]
    plain = route_signature(app.function("raw"))
    assert plain.plain and plain.parameters == [] and plain.body is None and plain.response_model is None


def test_the_signature_is_read_once_at_registration_not_per_request(monkeypatch: pytest.MonkeyPatch) -> None:
    app = typed_app()
    first = route_signature(app.function("list_orders"))
    import portafunc.params as params

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the signature was read again")

    monkeypatch.setattr(params, "read_signature", refuse)
    for _ in range(3):
        assert get(app, "/shops/s1/orders").status == 200
    assert route_signature(app.function("list_orders")) is first


def test_a_router_function_is_described_with_its_prefix() -> None:
    router = Router()

    @router.http("GET", "/orders/{id}")
    def by_id(tenant: str, id: int) -> dict[str, Any]:
        return {"tenant": tenant, "id": id}

    app = App("r")
    app.include_router(router, prefix="/t/{tenant}")
    params = route_signature(app.function("by_id")).parameters
    assert [(p.name, p.location) for p in params] == [("tenant", "path"), ("id", "path")]
    assert get(app, "/t/acme/orders/7").json_body() == {"tenant": "acme", "id": 7}


# -- filling requests ------------------------------------------------------------------------------------------

def test_parameters_are_read_from_path_query_and_headers_and_converted() -> None:
    resp = get(typed_app(), "/shops/s1/orders", query={"limit": ["5"], "status": ["shipped"], "tag": ["a", "b"],
                                                        "sort-by": ["total"]}, headers={"X-TENANT": "acme"})
    assert resp.status == 200
    assert resp.json_body() == {"shop": "s1", "limit": 5, "status": "shipped", "tenant": "acme", "tag": ["a", "b"],
                                "sort": "total"}


def test_defaults_apply_when_a_parameter_is_absent_and_a_repeated_key_gives_its_first_value() -> None:
    app = typed_app()
    assert get(app, "/shops/s1/orders").json_body() == {"shop": "s1", "limit": 10, "status": None,
                                                        "tenant": "public", "tag": None, "sort": "id"}
    assert get(app, "/shops/s1/orders", query={"limit": ["3", "99"]}).json_body()["limit"] == 3


def test_every_failing_parameter_is_listed_in_one_400_problem_without_the_values() -> None:
    resp = get(typed_app(), "/shops/s1/orders", query={"limit": ["500"], "status": ["lost"]},
               headers={"X-Tenant": "t"})
    assert resp.status == 400 and resp.headers["content-type"] == "application/problem+json"
    doc = resp.json_body()
    assert doc["title"] == "Request failed validation"
    assert [(e["in"], e["loc"], e["type"]) for e in doc["errors"]] == [
        ("query", ["limit"], "less_than_equal"), ("query", ["status"], "enum")]
    assert "lost" not in resp.body.decode() and "500" not in doc["detail"]


def test_a_missing_required_parameter_and_a_bad_path_value_are_400() -> None:
    app = App("req")

    @app.http("GET", "/items/{id}")
    def item(id: int, x_api_version: Annotated[int, Header()], q: str) -> dict[str, Any]:
        return {"id": id}

    resp = get(app, "/items/seven")
    assert resp.status == 400
    assert sorted((e["in"], e["loc"][0], e["type"]) for e in resp.json_body()["errors"]) == [
        ("header", "x-api-version", "missing"), ("path", "id", "int_parsing"), ("query", "q", "missing")]
    ok = get(app, "/items/7", query={"q": ["x"]}, headers={"X-Api-Version": "2"})
    assert ok.status == 200 and ok.json_body() == {"id": 7}


def test_parameter_and_body_errors_come_together() -> None:
    app = App("both")

    @app.http("POST", "/o")
    def create(order: Order, dry_run: bool = False) -> dict[str, Any]:
        return {}

    resp = handle_http(app, HttpRequest("POST", "/o", query={"dry_run": ["maybe"]}, body=b'{"id": 1}',
                                        headers=JSON))
    assert resp.status == 400
    assert [(e["in"], e["loc"]) for e in resp.json_body()["errors"]] == [
        ("query", ["dry_run"]), ("body", ["id"]), ("body", ["total"])]


def test_a_typed_body_is_validated_into_the_model_and_the_response_model_drops_other_fields() -> None:
    resp = post(typed_app(), "/shops/s1/orders", b'{"id": "o-1", "total": 9.5}', JSON)
    assert resp.status == 200 and resp.json_body() == {"id": "s1:o-1", "total": 9.5}
    assert b"4111" not in resp.body


def test_a_response_model_validates_a_dict_result_and_keeps_a_returned_status() -> None:
    app = typed_app()
    assert get(app, "/orders/7").json_body() == {"id": "7", "total": 1.5}
    many = post(app, "/list", b"")
    assert many.status == 201 and many.json_body() == [{"id": "a", "total": 1.0}, {"id": "b", "total": 2.0}]


def test_a_result_that_does_not_match_its_response_model_is_a_500_without_its_values(
        capsys: pytest.CaptureFixture[str]) -> None:
    resp = get(typed_app(), "/broken")
    assert resp.status == 500 and b"not a number" not in resp.body
    logged = capsys.readouterr().err
    assert "ResponseValidationError" in logged and "total (float_parsing)" in logged
    assert "not a number" not in logged


def test_a_tuple_return_annotation_names_its_response_model() -> None:
    """``-> tuple[Model, Literal[201]]`` / ``-> tuple[Model, int]``: the ``(result, status)`` a handler returns for
    another success status; the model is the response model, as for ``-> Model`` (and as the OpenAPI document says)."""
    def literal(req: HttpRequest) -> tuple[Order, Literal[201]]:
        raise NotImplementedError

    def several(req: HttpRequest) -> tuple[Order, Literal[200, 201]]:
        raise NotImplementedError

    def any_int(req: HttpRequest) -> tuple[Order, int]:
        raise NotImplementedError

    def listed(req: HttpRequest) -> tuple[list[Order], Literal[200]]:
        raise NotImplementedError

    def text_status(req: HttpRequest) -> tuple[Order, str]:
        raise NotImplementedError

    def odd_literal(req: HttpRequest) -> tuple[Order, Literal["201"]]:
        raise NotImplementedError

    def out_of_range(req: HttpRequest) -> tuple[Order, Literal[99]]:
        raise NotImplementedError

    def three(req: HttpRequest) -> tuple[Order, int, int]:
        raise NotImplementedError

    def plain_tuple(req: HttpRequest) -> tuple[int, int]:
        raise NotImplementedError

    def model_of(fn: Any) -> Any:
        return read_signature(fn, "/x").response_model

    assert [model_of(f) for f in (literal, several, any_int)] == [Order, Order, Order]
    assert model_of(listed) == list[Order]
    assert [model_of(f) for f in (text_status, odd_literal, out_of_range, three, plain_tuple)] == [None] * 5


def test_a_tuple_annotated_result_is_validated_and_sent_with_its_status() -> None:
    app = App("tuple-model")

    @app.http("POST", "/orders")
    def add(req: HttpRequest) -> tuple[Order, Literal[201]]:
        return StoredOrder(id="o-1", total=2.5, card_number="4111111111111111"), 201

    @app.http("POST", "/broken")
    def broken(req: HttpRequest) -> tuple[Order, int]:
        return {"id": "o-2"}, 201  # type: ignore[return-value]

    resp = handle_http(app, HttpRequest("POST", "/orders"))
    assert (resp.status, resp.json_body()) == (201, {"id": "o-1", "total": 2.5})
    assert handle_http(app, HttpRequest("POST", "/broken")).status == 500


def test_an_http_response_result_bypasses_the_response_model() -> None:
    app = App("bypass")

    @app.http("GET", "/x")
    def x(req: HttpRequest) -> Order:
        return HttpResponse.text("teapot", status=418)  # type: ignore[return-value]

    assert get(app, "/x").status == 418


def test_an_optional_body_may_be_absent() -> None:
    app = typed_app()
    assert post(app, "/maybe", b"").json_body() == {"order": None}
    assert post(app, "/maybe", b'{"id": "o", "total": 1}', JSON).json_body() == {"order": "o"}


def test_async_handlers_get_typed_parameters_too() -> None:
    app = App("async")

    @app.http("GET", "/a/{n}")
    async def double(n: int) -> dict[str, int]:
        return {"n": n * 2}

    assert get(app, "/a/21").json_body() == {"n": 42}


# -- content types ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None,
                                          "application/jsonx", "multipart/form-data; boundary=x"])
def test_a_typed_body_needs_a_json_content_type(content_type: str | None) -> None:
    headers = {"Content-Type": content_type} if content_type else None
    resp = post(typed_app(), "/shops/s1/orders", b'{"id": "o-1", "total": 9.5}', headers)
    assert resp.status == 415 and resp.json_body()["title"] == "Unsupported Media Type"
    assert "application/json" in resp.json_body()["detail"]


@pytest.mark.parametrize("content_type", ["application/json", "application/json; charset=utf-8",
                                          "Application/JSON", "application/merge-patch+json"])
def test_json_content_types_are_accepted(content_type: str) -> None:
    resp = post(typed_app(), "/shops/s1/orders", b'{"id": "o-1", "total": 9.5}', {"Content-Type": content_type})
    assert resp.status == 200


def test_routes_without_a_typed_body_read_any_body_unless_they_say_otherwise() -> None:
    app = typed_app()
    assert post(app, "/raw", b"a=1", {"Content-Type": "application/x-www-form-urlencoded"}).status == 200
    assert post(app, "/text", b"hello", {"Content-Type": "text/plain; charset=utf-8"}).body == b"hello"
    assert post(app, "/text", b"{}", JSON).status == 415
    assert handle_http(app, HttpRequest("POST", "/text")).status == 200  # no body, no content type: nothing to check


def test_app_content_types_apply_to_routes_that_set_none() -> None:
    app = App("ct", content_types=["application/json", "text/plain"])

    @app.http("POST", "/o")
    def create(order: Order) -> dict[str, str]:
        return {"id": order.id}

    @app.http("POST", "/any", content_types="*/*")
    def anything(req: HttpRequest) -> str:
        return "ok"

    assert post(app, "/o", b'{"id": "o", "total": 1}', {"Content-Type": "text/plain"}).status == 200
    assert post(app, "/o", b'{"id": "o", "total": 1}', {"Content-Type": "text/csv"}).status == 415
    assert post(app, "/any", b"x", {"Content-Type": "image/png"}).status == 200


class Upload(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(alias="doc-title")
    note: str | None = None
    doc: UploadedFile
    pages: list[bytes] = []


def form_app() -> App:
    app = App("forms")

    @app.http("POST", "/uploads", content_types=["multipart/form-data"])
    def upload(up: Upload) -> dict[str, Any]:
        return {"title": up.title, "note": up.note, "doc": [up.doc.filename, up.doc.content_type, up.doc.size],
                "pages": [p.decode() for p in up.pages]}

    @app.http("POST", "/orders", content_types=["application/x-www-form-urlencoded", "application/json"])
    def create(order: Order) -> Order:
        return order

    return app


def _part(name: str, value: bytes, filename: str | None = None) -> bytes:
    disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
    kind = b"Content-Type: text/plain\r\n" if filename else b""
    return f"--xx\r\nContent-Disposition: {disposition}\r\n".encode() + kind + b"\r\n" + value + b"\r\n"


MULTIPART = {"Content-Type": "multipart/form-data; boundary=xx"}


def test_a_multipart_body_fills_uploaded_file_and_bytes_fields_by_alias() -> None:
    body = (_part("doc-title", b"Q3") + _part("doc", b"hello", "C:\\tmp\\a.txt") + _part("pages", b"p1", "1.txt")
            + _part("pages", b"p2", "2.txt") + b"--xx--\r\n")
    resp = post(form_app(), "/uploads", body, MULTIPART)
    assert resp.status == 200, resp.body
    assert resp.json_body() == {"title": "Q3", "note": None, "doc": ["a.txt", "text/plain", 5], "pages": ["p1", "p2"]}


def test_form_fields_the_model_does_not_declare_reach_its_extra_setting() -> None:
    body = _part("doc-title", b"Q3") + _part("doc", b"x", "a.txt") + _part("admin", b"yes") + b"--xx--\r\n"
    resp = post(form_app(), "/uploads", body, MULTIPART)
    assert resp.status == 400
    assert [(e["in"], e["loc"], e["type"]) for e in resp.json_body()["errors"]] == [
        ("body", ["admin"], "extra_forbidden")]
    text_for_file = post(form_app(), "/uploads", _part("doc-title", b"Q3") + _part("doc", b"x") + b"--xx--\r\n",
                         MULTIPART)
    assert text_for_file.status == 400 and text_for_file.json_body()["errors"][0]["loc"] == ["doc"]


def test_a_form_body_is_not_read_as_json() -> None:
    app = form_app()
    form = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
    assert post(app, "/orders", b"id=NaN-Infinity&total=2", form).json_body() == {"id": "NaN-Infinity", "total": 2}
    assert post(app, "/orders", b'{"id": "o", "total": 1}', JSON).json_body() == {"id": "o", "total": 1}
    assert post(app, "/orders", b"id=%ff&total=1", form).status == 400  # not UTF-8: the form's own 400
    assert post(app, "/orders", b"id=o&total=1", {"Content-Type": "multipart/form-data; boundary=x"}).status == 415


class Profile(BaseModel):
    name: str
    age: int
    nickname: str | None = None
    city: str = "Paris"
    tags: list[str] = []
    avatar: UploadedFile | None = None


def profile_app(*content_types: str) -> App:
    app = App("profiles")

    @app.http("POST", "/profiles", content_types=list(content_types))
    def create(person: Profile) -> dict[str, Any]:
        return {**person.model_dump(exclude={"avatar"}), "avatar": person.avatar and person.avatar.filename}

    return app


FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def test_a_form_field_left_blank_counts_as_not_sent() -> None:
    """As FastAPI reads a form: an empty value takes the field's default, or is a missing required field; a list
    keeps its blank entries; a JSON body's "" stays a value."""
    app = profile_app("application/json", "application/x-www-form-urlencoded", "multipart/form-data")
    resp = post(app, "/profiles", b"name=Ada&age=36&nickname=&city=&tags=&tags=math", FORM)
    assert resp.status == 200, resp.body
    assert resp.json_body() == {"name": "Ada", "age": 36, "nickname": None, "city": "Paris", "tags": ["", "math"],
                                "avatar": None}
    refused = post(app, "/profiles", b"name=&age=", FORM)
    assert refused.status == 400
    assert [(e["loc"], e["type"]) for e in refused.json_body()["errors"]] == [(["name"], "missing"),
                                                                               (["age"], "missing")]
    as_json = post(app, "/profiles", b'{"name": "", "age": 1, "nickname": "", "city": ""}', JSON).json_body()
    assert (as_json["name"], as_json["nickname"], as_json["city"]) == ("", "", "")


def test_a_file_input_sent_without_a_file_counts_as_not_sent() -> None:
    app = profile_app("multipart/form-data")
    no_file = b'--xx\r\nContent-Disposition: form-data; name="avatar"; filename=""\r\n' \
              b"Content-Type: application/octet-stream\r\n\r\n\r\n"
    resp = post(app, "/profiles", _part("name", b"Ada") + _part("age", b"36") + _part("nickname", b"") + no_file
                + b"--xx--\r\n", MULTIPART)
    assert resp.status == 200, resp.body
    assert (resp.json_body()["nickname"], resp.json_body()["avatar"]) == (None, None)
    sent = post(app, "/profiles", _part("name", b"Ada") + _part("age", b"36") + _part("avatar", b"", "empty.png")
                + b"--xx--\r\n", MULTIPART)
    assert sent.json_body()["avatar"] == "empty.png"  # a file chosen, empty as it may be, is sent


@pytest.mark.parametrize("accepted", [("application/json", "multipart/*"), ("application/*", "multipart/*"),
                                      ("*/*",)])
def test_a_form_type_admitted_by_a_pattern_is_read_as_a_form(accepted: tuple[str, ...]) -> None:
    app = profile_app(*accepted)
    resp = post(app, "/profiles", _part("name", b"Ada") + _part("age", b"36") + b"--xx--\r\n", MULTIPART)
    assert resp.status == 200, resp.body
    assert resp.json_body()["name"] == "Ada"
    assert post(app, "/profiles", b'{"name": "Ada", "age": 36}', JSON).json_body()["age"] == 36
    urlencoded = post(app, "/profiles", b"name=Ada&age=36", {"Content-Type": "application/x-www-form-urlencoded; "
                                                                              "charset=utf-8"})
    if accepted[0] == "application/json":  # not admitted: refused before it is read
        assert urlencoded.status == 415
    else:
        assert urlencoded.status == 200 and urlencoded.json_body()["age"] == 36, urlencoded.body


def test_a_content_type_with_parameters_is_refused_at_registration() -> None:
    with pytest.raises(RegistrationError, match="must be a media type"):
        profile_app("application/x-www-form-urlencoded; charset=utf-8")


def test_the_openapi_document_gives_a_form_body_the_models_schema() -> None:
    doc = form_app().openapi()
    content = doc["paths"]["/orders"]["post"]["requestBody"]["content"]
    assert set(content) == {"application/x-www-form-urlencoded", "application/json"}
    assert content["application/x-www-form-urlencoded"] == content["application/json"]
    upload = doc["components"]["schemas"]["Upload"]["properties"]
    assert upload["doc"] == {"type": "string", "format": "binary", "title": "Doc"}


# -- registration checks ------------------------------------------------------------------------------------------

def _path_missing(req: HttpRequest, key: Annotated[str, Path()]) -> None: ...
def _two_bodies(a: Order, b: Order) -> None: ...
def _model_in_query(o: Annotated[Order, Query()]) -> None: ...
def _same_header(a: Annotated[str, Header("x-a")], b: Annotated[str, Header("X-A")]) -> None: ...
def _path_default(req: HttpRequest, id: str = "1") -> None: ...
_AN_ORDER = Order(id="x", total=1)


def _body_default(order: Order = _AN_ORDER) -> None: ...
def _two_markers(a: Annotated[str, Query(), Header()]) -> None: ...
def _marker_as_default(limit: int = Query()) -> None: ...  # type: ignore[assignment]
def _models_in_query(req: HttpRequest, orders: list[Order]) -> None: ...
def _model_map_in_query(req: HttpRequest, orders: dict[str, Order]) -> None: ...
def _optional_model_in_header(o: Annotated[Order | None, Header()] = None) -> None: ...


@pytest.mark.parametrize(("handler", "reason"), [
    (_path_missing, "has no {key}"), (_two_bodies, "both ask for the request body"),
    (_model_in_query, "not a model"), (_same_header, "both read header 'x-a'"),
    (_path_default, "drop its default"), (_body_default, "default to None only"),
    (_two_markers, "2 parameter markers"), (_marker_as_default, "put the marker in the annotation"),
    (_models_in_query, r"not a model like list\[.*take RootModel\[list"),
    (_model_map_in_query, "not a model like dict"), (_optional_model_in_header, "header parameter.*not a model")])
def test_declarations_that_cannot_work_fail_at_registration(handler: Any, reason: str) -> None:
    with pytest.raises(RegistrationError, match=reason):
        App("bad").http("POST", "/things/{id}")(handler)


@pytest.mark.parametrize("content_types", [["json"], ["*/json"], [], ["application/json; charset=utf-8"]])
def test_bad_content_types_fail_at_registration(content_types: list[str]) -> None:
    with pytest.raises(RegistrationError, match="content"):
        App("bad").http("POST", "/x", content_types=content_types)(lambda req: None)


def test_param_spec_compares_by_value() -> None:
    a = ParamSpec("limit", "query", int, 10, False, None, "limit")
    assert a == ParamSpec("limit", "query", int, 10, False, None, "limit") and "limit" in repr(a)


def test_any_query_header_and_path_text_is_answered_200_or_400_never_500() -> None:
    """Whatever text arrives in the query, the headers and the path, a typed route answers 200 or a 400 problem."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    app = typed_app()
    text = st.text(st.characters(codec="utf-8"), max_size=20)

    @settings(max_examples=200, deadline=None)
    @given(shop=text.filter(lambda s: s and "/" not in s), limit=st.lists(text, max_size=3),
           status=st.lists(text, max_size=2), tenant=text.filter(str.isprintable), tag=st.lists(text, max_size=3))
    def check(shop: str, limit: list[str], status: list[str], tenant: str, tag: list[str]) -> None:
        query = {k: v for k, v in (("limit", limit), ("status", status), ("tag", tag)) if v}
        resp = handle_http(app, HttpRequest("GET", f"/shops/{shop}/orders", query=query,
                                            headers={"X-Tenant": tenant}))
        assert resp.status in (200, 400), resp.body
        if resp.status == 400:
            assert {e["in"] for e in resp.json_body()["errors"]} <= {"query", "header", "path"}

    check()


# -- the response model's shortcut for its own instances ----------------------------------------------------------

class Plain(BaseModel):
    x: int


class Checked(BaseModel):
    x: int

    @model_validator(mode="before")
    @classmethod
    def before(cls, data: Any) -> Any:
        return data

    @field_validator("x")
    @classmethod
    def positive(cls, v: int) -> int:
        return v


class Revalidated(BaseModel):
    model_config = ConfigDict(revalidate_instances="always")
    x: int


def test_an_instance_of_the_response_model_is_written_as_validating_it_would() -> None:
    """An instance of exactly the response model is not validated again when pydantic would give it back as it is
    (``_kept_instances``); a model that revalidates its instances still validates them, so a broken one is a 500."""
    from pydantic import TypeAdapter

    from portafunc.params import _kept_instances

    for model in (Plain, Checked, Revalidated):
        instance = model(x=1)
        kept = TypeAdapter(model).validator.validate_python(instance, from_attributes=True) is instance
        assert (_kept_instances(model) is model) == kept
    assert _kept_instances(Revalidated) is None and _kept_instances(list[Plain]) is None

    app = App("kept")

    @app.http("GET", "/plain")
    def plain(req: HttpRequest) -> Plain:
        return Plain(x=1)

    @app.http("GET", "/broken")
    def broken(req: HttpRequest) -> Revalidated:
        return Revalidated.model_construct(x="not a number")  # type: ignore[arg-type]

    @app.http("GET", "/sub")
    def sub(req: HttpRequest) -> Order:
        return StoredOrder(id="o", total=1, card_number="4111")

    assert get(app, "/plain").body == b'{"x":1}'
    assert get(app, "/broken").status == 500
    assert get(app, "/sub").json_body() == {"id": "o", "total": 1.0}  # a subclass: validated, extra fields dropped


def test_the_parameters_validate_into_the_dict_the_model_of_the_parameters_gives() -> None:
    """The TypedDict validator plus the handler's defaults gives what a model of the parameters gives — the same
    values, or the same errors (place, message, type) — over every combination of the values below for a route with
    a path parameter, a constrained int, an optional enum, a header, an optional list and an aliased query
    parameter."""
    import itertools

    from portafunc.params import _parameters_validator, read_signature

    sig = read_signature(list_orders, "/shops/{shop}/orders")
    fields = {p.arg: p for p in sig.parameters}
    fast, as_dict = _parameters_validator(fields)
    model, model_gives_a_dict = _parameters_validator(fields, as_dict=False)
    assert as_dict and not model_gives_a_dict
    defaults = {p.arg: p.default for p in sig.parameters if not p.required}  # what the handler's own defaults give
    pool: dict[str, list[Any]] = {"shop": ["s1", "", "é"], "limit": ["5", "0", "101", "x", "1.0", " 7 "],
                                  "status": ["open", "closed", ""], "x_tenant": ["t"], "tag": [["a", "b"], []],
                                  "sort": ["id", ""]}
    names = list(pool)
    for size in range(len(names) + 1):
        for chosen in itertools.combinations(names, size):
            for values in itertools.product(*(pool[n] for n in chosen)):
                raw = dict(zip(chosen, values, strict=True))
                try:
                    expected: Any = ("ok", model.validate_python(dict(raw)).__dict__)
                except ValueError as exc:
                    expected = ("errors", [(e["loc"], e["msg"], e["type"]) for e in exc.errors()])  # type: ignore[attr-defined]
                try:
                    got: Any = ("ok", {**defaults, **fast.validate_python(dict(raw))})
                except ValueError as exc:
                    got = ("errors", [(e["loc"], e["msg"], e["type"]) for e in exc.errors()])  # type: ignore[attr-defined]
                assert got == expected, raw


def test_a_field_default_in_an_annotation_keeps_the_model_of_the_parameters() -> None:
    """A ``Field(default=...)`` in the annotation of a parameter without a default: the model requires it (a 400
    when absent); a TypedDict would take the Field's default, so the model is kept."""
    from portafunc.params import _parameters_validator, read_signature

    def page(n: Annotated[int, Field(default=3)], m: Annotated[int, Field(ge=0)] | None = None) -> dict[str, Any]:
        return {"n": n}

    sig = read_signature(page, "/p")
    assert _parameters_validator({p.arg: p for p in sig.parameters})[1] is False
    app = App("field-default")
    app.http("GET", "/p")(page)
    assert get(app, "/p").status == 400
    assert get(app, "/p", query={"n": ["5"]}).json_body() == {"n": 5}


def test_a_mutable_default_keeps_the_model_of_the_parameters() -> None:
    from portafunc.params import _parameters_validator, read_signature

    def tags(tag: list[str] = ["a"]) -> dict[str, Any]:  # noqa: B006 - the case under test
        return {"tag": tag}

    sig = read_signature(tags, "/t")
    assert _parameters_validator({p.arg: p for p in sig.parameters})[1] is False
    app = App("mutable")
    app.http("GET", "/t")(tags)
    assert get(app, "/t", query={"x": ["1"]}).json_body() == {"tag": ["a"]}
    assert get(app, "/t", query={"tag": ["b", "c"]}).json_body() == {"tag": ["b", "c"]}
