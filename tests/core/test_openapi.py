"""``app.openapi()``: the OpenAPI 3.1 document of a rich app (routers and their tags, path parameters, request and
response models, problem answers, security, a mounted FastAPI app), checked field by field and by
``openapi-spec-validator``; the docs route's files; ``portafunc openapi``; Swagger UI left out of artifacts of apps
without a docs route."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path
from typing import Annotated, Literal

import pytest
import yaml
from fastapi import FastAPI
from openapi_spec_validator import validate
from pydantic import BaseModel, Field, create_model

from portafunc import App, Header, HttpRequest, HttpResponse, Query, RegistrationError, Router
from portafunc import Path as InPath
from portafunc.invoke import handle_http

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def every_document_is_valid_openapi(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every document a test here builds with ``app.openapi()`` passes ``openapi-spec-validator`` (the OpenAPI 3.1
    schema and its semantic checks: unique operation ids, path parameters declared, references resolved) before the
    test reads it."""
    build = App.openapi

    def validated(self: App, **options):  # type: ignore[no-untyped-def]
        doc = build(self, **options)
        validate(json.loads(json.dumps(doc)))
        return doc

    monkeypatch.setattr(App, "openapi", validated)


class Item(BaseModel):
    sku: str
    qty: int = Field(1, ge=1)


class Order(BaseModel):
    id: str
    items: list[Item] = []
    total: float


def rich_app(**options) -> App:
    app = App("rich", **options)
    orders = Router(tags=["orders"])

    @orders.http("POST", "/orders", auth="function")
    def create_order(req: HttpRequest, order: Order) -> Order:
        """Create an order.

        Keeps it and answers it back."""
        return order

    @orders.http(["GET", "HEAD"], "/orders/{id}")
    def get_order(req: HttpRequest) -> dict:
        return {"id": req.path_params["id"]}

    @orders.http("DELETE", "/orders/{oid}")  # the same shape as /orders/{id}: one path in the document
    def delete_order(req: HttpRequest) -> None:
        return None

    @app.http("GET", "/files/{path+}")
    def files(req: HttpRequest) -> bytes:
        return b""

    @app.http("GET", "/health")
    def health(req: HttpRequest) -> str:
        return "ok"

    @app.http("POST", "/raw")
    def raw(req: HttpRequest) -> HttpResponse:
        return HttpResponse(202)

    app.include_router(orders, prefix="/v1", tags=["v1"])
    return app


def test_every_route_and_method_is_an_operation_with_its_router_tags() -> None:
    doc = rich_app().openapi()
    validate(doc)
    assert doc["openapi"] == "3.1.0" and doc["info"] == {"title": "rich", "version": "0.1.0"}
    assert {path: list(item) for path, item in doc["paths"].items()} == {
        "/files/{path}": ["get", "head"], "/health": ["get", "head"], "/raw": ["post"], "/v1/orders": ["post"],
        "/v1/orders/{id}": ["get", "delete", "head"]}
    orders = doc["paths"]["/v1/orders/{id}"]
    assert [orders[m]["operationId"] for m in ("get", "delete", "head")] == ["get_order_get", "delete_order",
                                                                            "get_order_head"]
    assert all(op["tags"] == ["v1", "orders"] for op in orders.values())  # include_router's, then the router's
    assert doc["tags"] == [{"name": "orders"}, {"name": "v1"}]
    assert "tags" not in doc["paths"]["/health"]["get"]


def test_path_parameters_follow_the_document_path() -> None:
    doc = rich_app().openapi()
    delete = doc["paths"]["/v1/orders/{id}"]["delete"]
    assert delete["parameters"] == [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}]
    [rest] = doc["paths"]["/files/{path}"]["get"]["parameters"]
    assert rest["name"] == "path" and "slashes" in rest["description"]


def test_body_and_response_models_are_components_referenced_by_ref() -> None:
    doc = rich_app().openapi()
    create = doc["paths"]["/v1/orders"]["post"]
    assert create["summary"] == "Create an order." and create["description"] == "Keeps it and answers it back."
    assert create["requestBody"] == {"required": True, "content": {
        "application/json": {"schema": {"$ref": "#/components/schemas/Order"}}}}
    assert create["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Order"}
    schemas = doc["components"]["schemas"]
    assert schemas["Order"]["properties"]["items"]["items"] == {"$ref": "#/components/schemas/Item"}
    assert schemas["Item"]["properties"]["qty"]["minimum"] == 1 and schemas["Order"]["required"] == ["id", "total"]


def test_what_a_handler_returns_decides_the_success_answer() -> None:
    paths = rich_app().openapi()["paths"]
    assert paths["/health"]["get"]["responses"]["200"]["content"] == {"text/plain": {"schema": {"type": "string"}}}
    assert list(paths["/files/{path}"]["get"]["responses"]["200"]["content"]) == ["application/octet-stream"]
    assert paths["/v1/orders/{id}"]["delete"]["responses"]["204"] == {"description": "No Content"}
    assert "content" not in paths["/v1/orders/{id}"]["head"]["responses"]["200"]
    assert list(paths["/raw"]["post"]["responses"]) == ["default"]  # an HttpResponse says nothing in advance


def test_problem_answers_are_shared_problem_json_responses() -> None:
    doc = rich_app().openapi()
    create = doc["paths"]["/v1/orders"]["post"]["responses"]
    assert create["400"] == {"$ref": "#/components/responses/BadRequest"}  # the body is validated
    # the router's own 404 and 405 answer requests that reach no operation: they are no operation's answers
    assert not any(code in op["responses"] for item in doc["paths"].values() for op in item.values()
                   for code in ("404", "405"))
    assert "400" not in doc["paths"]["/health"]["get"]["responses"]  # nothing validated, nothing to refuse
    bad = doc["components"]["responses"]["BadRequest"]
    assert bad["content"] == {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    assert doc["components"]["schemas"]["Problem"]["required"] == ["type", "title", "status"]


class Problem(BaseModel):
    reason: str


def test_a_user_model_named_problem_keeps_its_name() -> None:
    app = App("clash")

    @app.http("POST", "/report")
    def report(req: HttpRequest, problem: Problem) -> dict:
        return {}

    doc = app.openapi()
    validate(doc)
    schemas = doc["components"]["schemas"]
    assert schemas["Problem"]["required"] == ["reason"] and "status" in schemas["PortafuncProblem"]["properties"]
    assert doc["components"]["responses"]["BadRequest"]["content"]["application/problem+json"]["schema"] == {
        "$ref": "#/components/schemas/PortafuncProblem"}


@pytest.mark.parametrize(("target", "schemes"), [
    ("aws", ["aws_iam"]),
    ("azure", ["azure_function_key", "azure_function_key_query"]),
    ("gcp", ["google_id_token"]),
    (None, ["aws_iam", "azure_function_key", "azure_function_key_query", "google_id_token"]),
])
def test_function_auth_is_the_cloud_s_own_scheme(target, schemes) -> None:
    doc = rich_app().openapi(target=target)
    validate(doc)
    create = doc["paths"]["/v1/orders"]["post"]
    assert create["security"] == [{name: []} for name in schemes]  # alternatives: one applies where deployed
    assert sorted(doc["components"]["securitySchemes"]) == schemes
    assert {"401", "403"} <= set(create["responses"])
    assert "security" not in doc["paths"]["/health"]["get"]


def test_unknown_target_is_refused() -> None:
    with pytest.raises(RegistrationError, match="aws, azure, container, gcp, not 'heroku'"):  # the installed ones
        rich_app().openapi(target="heroku")  # type: ignore[arg-type]


def test_changing_a_document_does_not_change_the_next_one() -> None:
    doc = rich_app().openapi()
    doc["components"]["schemas"]["Problem"]["properties"].clear()
    doc["components"]["securitySchemes"]["aws_iam"]["name"] = "X-Changed"
    again = rich_app().openapi()
    assert "status" in again["components"]["schemas"]["Problem"]["properties"]
    assert again["components"]["securitySchemes"]["aws_iam"]["name"] == "Authorization"


def test_the_document_is_deterministic() -> None:
    first = json.dumps(rich_app().openapi())
    assert json.dumps(rich_app().openapi()) == first
    doc = json.loads(first)
    assert list(doc) == ["openapi", "info", "tags", "paths", "components"]
    assert list(doc["paths"]) == sorted(doc["paths"])
    assert all(list(section) == sorted(section) for section in doc["components"].values())


def test_an_app_without_http_routes_is_an_empty_valid_document() -> None:
    app = App("quiet")

    @app.queue("work")
    def work(msg) -> None: ...

    doc = app.openapi(title="Quiet", version="2.0")
    validate(doc)
    assert doc == {"openapi": "3.1.0", "info": {"title": "Quiet", "version": "2.0"}, "paths": {}}


class Page(BaseModel):
    orders: list[Order]
    next: str | None = None


def typed_app() -> App:
    app = App("typed")

    @app.http("GET", "/shops/{shop}/orders")
    def list_orders(shop: Annotated[int, InPath(description="The shop's number")],
                    limit: Annotated[int, Field(ge=1, le=100)] = 10,
                    status: Literal["open", "paid"] = "open",
                    tag: list[str] = [],  # noqa: B006 - a default the handler never changes
                    after: Annotated[str | None, Query(alias="after-id", description="Resume here")] = None,
                    x_tenant: Annotated[str, Header()] = "main") -> Page:
        return Page(orders=[])

    @app.http("PUT", "/orders/{id}", response_model=Order)
    def put_order(req: HttpRequest, order: Order) -> dict:
        return order.model_dump()

    @app.http("POST", "/notes", content_types=["text/plain"])
    def note(req: HttpRequest) -> None:
        return None

    return app


def test_typed_path_query_and_header_parameters() -> None:
    doc = typed_app().openapi()
    validate(doc)
    params = {(p["in"], p["name"]): p for p in doc["paths"]["/shops/{shop}/orders"]["get"]["parameters"]}
    assert list(params) == [("path", "shop"), ("query", "limit"), ("query", "status"), ("query", "tag"),
                            ("query", "after-id"), ("header", "x-tenant")]
    assert params[("path", "shop")] == {"name": "shop", "in": "path", "required": True,
                                        "schema": {"type": "integer"}, "description": "The shop's number"}
    assert params[("query", "limit")]["schema"] == {"type": "integer", "minimum": 1, "maximum": 100, "default": 10}
    assert params[("query", "limit")]["required"] is False
    assert params[("query", "status")]["schema"] == {"enum": ["open", "paid"], "type": "string", "default": "open"}
    assert params[("query", "tag")]["schema"] == {"type": "array", "items": {"type": "string"}, "default": []}
    assert params[("query", "after-id")]["description"] == "Resume here"
    assert params[("header", "x-tenant")]["schema"] == {"type": "string", "default": "main"}
    assert doc["paths"]["/shops/{shop}/orders"]["get"]["responses"]["400"] == {
        "$ref": "#/components/responses/BadRequest"}


def test_response_models_and_content_types() -> None:
    doc = typed_app().openapi()
    listing = doc["paths"]["/shops/{shop}/orders"]["get"]["responses"]["200"]["content"]["application/json"]
    assert listing["schema"] == {"$ref": "#/components/schemas/Page"}
    assert doc["components"]["schemas"]["Page"]["properties"]["orders"]["items"] == {
        "$ref": "#/components/schemas/Order"}
    put = doc["paths"]["/orders/{id}"]["put"]
    assert put["responses"]["200"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Order"}
    assert put["responses"]["415"] == {"$ref": "#/components/responses/UnsupportedMediaType"}  # a JSON body only
    assert "415" not in doc["paths"]["/shops/{shop}/orders"]["get"]["responses"]  # no body, any content type
    note = doc["paths"]["/notes"]["post"]
    assert "415" in note["responses"]  # content_types= without a typed body
    assert note["requestBody"] == {"required": False, "content": {"text/plain": {"schema": {"type": "string"}}}}


# -- a mounted FastAPI app --------------------------------------------------------------------------------------
FastOrder = create_model("Order", sku=(str, ...))  # another model named Order, different from ours


def mounted_app() -> App:
    api = FastAPI(title="inner")

    @api.get("/orders/{sku}", tags=["inner"], response_model=FastOrder)
    def create_order(sku: str) -> dict:
        return {"sku": sku}

    @api.post("/items", response_model=Item)
    def add_item(item: Item) -> Item:
        return item

    app = rich_app()
    app.mount("/api", api)
    return app


def test_a_mounted_fastapi_app_s_schema_is_under_its_prefix() -> None:
    doc = mounted_app().openapi()
    validate(doc)
    assert {"/api/orders/{sku}", "/api/items", "/v1/orders"} <= set(doc["paths"])
    inner = doc["paths"]["/api/orders/{sku}"]["get"]
    assert inner["tags"] == ["inner"] and {"name": "inner"} in doc["tags"]
    assert not any(path.startswith("/api/{") for path in doc["paths"])  # the catch-all is not an operation


def test_mounted_components_are_merged_without_clashes() -> None:
    doc = mounted_app().openapi()
    schemas = doc["components"]["schemas"]
    assert schemas["Order"]["required"] == ["id", "total"]  # ours keeps its name
    assert schemas["mount_api_Order"]["required"] == ["sku"]  # theirs is renamed, and its references follow
    inner = doc["paths"]["/api/orders/{sku}"]["get"]["responses"]["200"]["content"]["application/json"]
    assert inner["schema"] == {"$ref": "#/components/schemas/mount_api_Order"}
    # an equal model is one component: Item is the same class on both sides
    body = doc["paths"]["/api/items"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/Item"} and "mount_api_Item" not in schemas
    assert "HTTPValidationError" in schemas


def test_mounted_operation_ids_stay_unique() -> None:
    doc = mounted_app().openapi()
    ids = [op["operationId"] for item in doc["paths"].values() for op in item.values()]
    assert len(ids) == len(set(ids))
    assert doc["paths"]["/api/orders/{sku}"]["get"]["operationId"].startswith("create_order_")  # FastAPI's own


def test_a_mounted_app_without_a_schema_adds_nothing() -> None:
    app = App("wsgi")

    def wsgi(environ, start_response):
        start_response("200 OK", [])
        return [b""]

    app.mount("/legacy", wsgi)
    assert app.openapi()["paths"] == {}


# -- the docs route -----------------------------------------------------------------------------------------------
def get(app: App, path: str, **headers: str):
    from portafunc import Headers

    return handle_http(app, HttpRequest("GET", path, headers=Headers([(k.replace("_", "-"), v) for k, v in headers.items()])))


def test_docs_route_is_off_by_default_and_left_out_of_the_document() -> None:
    assert get(rich_app(), "/docs").status == 404
    app = rich_app(docs_route="/api/docs")
    assert {"portafunc_docs", "portafunc_docs_files"} <= set(app.functions)
    assert app.openapi() == rich_app().openapi()
    page = get(app, "/api/docs")
    assert page.status == 200 and b'src="docs/swagger-ui-bundle.js?v=5.35.0"' in page.body
    assert json.loads(get(app, "/api/docs/openapi.json").body) == json.loads(json.dumps(app.openapi()))


def test_docs_files_are_gzip_for_clients_that_accept_it() -> None:
    app = rich_app(docs_route="/docs")
    zipped = get(app, "/docs/swagger-ui-bundle.js", accept_encoding="deflate, gzip;q=0.5")
    plain = get(app, "/docs/swagger-ui-bundle.js", accept_encoding="gzip;q=0, identity")
    assert zipped.headers["content-encoding"] == "gzip" and "content-encoding" not in plain.headers
    assert gzip.decompress(zipped.body) == plain.body and len(plain.body) > 1_000_000
    assert get(app, "/docs/swagger-ui.css", accept_encoding="*").headers["content-encoding"] == "gzip"


@pytest.mark.parametrize("value", ["gzip", "x-gzip", "br, gzip;q=0.1", "*", "identity, *;q=1"])
def test_accepts_gzip(value: str) -> None:
    from portafunc.docs_ui import accepts_gzip

    assert accepts_gzip(value)


@pytest.mark.parametrize("value", ["", "identity", "br", "gzip;q=0", "*;q=0", "gzip;q=0, *", "gzip;q=x"])
def test_refuses_gzip(value: str) -> None:
    from portafunc.docs_ui import accepts_gzip

    assert not accepts_gzip(value)


@pytest.mark.parametrize("route", ["docs", "/", "/docs/", "/{x}", "/do cs", '/d"s', "//docs"])
def test_bad_docs_routes_are_refused(route: str) -> None:
    with pytest.raises(RegistrationError, match="docs_route"):
        App("bad", docs_route=route)


def test_a_user_route_under_the_docs_route_conflicts_loudly() -> None:
    app = App("taken", docs_route="/docs")
    with pytest.raises(RegistrationError, match="portafunc_docs_files"):
        app.http("GET", "/docs/{page}", name="mine")(lambda req: "mine")


def test_the_vendored_swagger_ui_is_the_recorded_version() -> None:
    import hashlib

    from portafunc.docs_ui import SWAGGER_UI_VERSION

    folder = ROOT / "portafunc" / "_swagger_ui"
    readme = (folder / "README.md").read_text()
    assert f"swagger-ui-dist {SWAGGER_UI_VERSION}" in readme
    for name in ("swagger-ui-bundle.js", "swagger-ui.css"):
        digest = hashlib.sha256(gzip.decompress((folder / f"{name}.gz").read_bytes())).hexdigest()
        assert f"`{name}` | `{digest}`" in readme
    assert "Apache License" in (folder / "LICENSE").read_text()


@pytest.mark.parametrize("docs", [None, "/docs"])
def test_a_lambda_artifact_carries_the_docs_route_only_when_the_app_serves_it(tmp_path: Path, docs) -> None:
    from portafunc.packaging.build import vendor_portafunc
    from portafunc.packaging.closure import needs_pydantic

    app = App("plain", docs_route=docs)

    @app.http("GET", "/health")
    def health(req: HttpRequest) -> str:
        return "ok"

    vendor_portafunc(tmp_path, "portafunc_aws", "portafunc-aws", entries=["portafunc_aws.runtime"], app=app,
                     deployment=app.resources())
    core = tmp_path / "portafunc"
    shipped = [(core / "docs_ui.py").is_file(), (core / "openapi.py").is_file(),
               (core / "_swagger_ui" / "swagger-ui-bundle.js.gz").is_file(),
               (core / "_swagger_ui" / "LICENSE").is_file()]
    assert shipped == [docs is not None] * 4
    assert needs_pydantic(app) is (docs is not None)  # the document is built with pydantic


def test_swagger_ui_is_vendored_only_for_apps_with_a_docs_route(tmp_path: Path) -> None:
    from portafunc.packaging.build import vendor_portafunc, vendoring_for

    with vendoring_for(rich_app()):
        vendor_portafunc(tmp_path / "without", "portafunc_aws", "portafunc-aws")
    with vendoring_for(rich_app(docs_route="/docs")):
        vendor_portafunc(tmp_path / "with", "portafunc_aws", "portafunc-aws")
    assert (tmp_path / "without" / "portafunc" / "docs_ui.py").is_file()
    assert not (tmp_path / "without" / "portafunc" / "_swagger_ui").exists()
    assert (tmp_path / "with" / "portafunc" / "_swagger_ui" / "swagger-ui-bundle.js.gz").is_file()


# -- portafunc openapi ----------------------------------------------------------------------------------------------
def cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "portafunc.cli", "openapi", *args], capture_output=True, text=True,
                          cwd=cwd)


APP_SOURCE = '''
from pydantic import BaseModel
from portafunc import App, HttpRequest, Router

class Order(BaseModel):
    id: str

app = App("cli-app")
orders = Router(tags=["orders"])

@orders.http("POST", "/orders", auth="function")
def create(req: HttpRequest, order: Order) -> Order:
    return order

app.include_router(orders)
'''


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "main.py").write_text(APP_SOURCE)
    return tmp_path


def test_cli_prints_the_valid_document_as_json(project: Path) -> None:
    out = cli(str(project))
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    validate(doc)
    assert list(doc["paths"]) == ["/orders"] and doc["info"]["title"] == "cli-app"


def test_cli_yaml_file_target_and_info(project: Path, tmp_path: Path) -> None:
    target = tmp_path / "openapi.yaml"
    out = cli(str(project), "--yaml", "-o", str(target), "--target", "gcp", "--title", "Shop", "--api-version", "3")
    assert out.returncode == 0 and out.stdout == "" and "wrote" in out.stderr
    doc = yaml.safe_load(target.read_text())
    validate(doc)
    assert doc["info"] == {"title": "Shop", "version": "3"}
    assert list(doc["components"]["securitySchemes"]) == ["google_id_token"]


def test_cli_errors_exit_2_with_one_line(project: Path, tmp_path: Path) -> None:
    missing = cli(str(tmp_path / "nowhere"))
    assert missing.returncode == 2 and missing.stderr.startswith("portafunc: error:") and not missing.stdout
    unwritable = cli(str(project), "-o", str(tmp_path / "no" / "such" / "dir.json"))
    assert unwritable.returncode == 2 and "cannot write" in unwritable.stderr
    assert "Traceback" not in missing.stderr + unwritable.stderr
    bad_target = cli(str(project), "--target", "heroku")
    assert bad_target.returncode == 2


def test_jwt_auth_is_an_http_bearer_scheme_with_a_problem_401() -> None:
    from portafunc import JwtAuth

    users = JwtAuth(issuer="https://login.example.com/", audience="api://orders")
    admins = JwtAuth(issuer="https://admin.example.com/", audience=["api://a", "api://b"])
    app = App("secured", auth=users)

    @app.http("GET", "/me")
    def me(req: HttpRequest) -> dict:
        return {}

    @app.http("GET", "/admin", auth=admins)
    def admin(req: HttpRequest) -> dict:
        return {}

    @app.http("GET", "/open", auth="anonymous")
    def open_(req: HttpRequest) -> str:
        return "ok"

    doc = app.openapi()
    validate(doc)
    schemes = doc["components"]["securitySchemes"]
    assert schemes["jwt"] == {"type": "http", "scheme": "bearer", "bearerFormat": "JWT", "description": (
        "A JWT issued by https://login.example.com/ for api://orders, verified by the function (signature, issuer, "
        "audience, expiry).")}
    assert "api://a or api://b" in schemes["jwt_2"]["description"] and schemes["jwt_2"]["bearerFormat"] == "JWT"
    assert doc["paths"]["/me"]["get"]["security"] == [{"jwt": []}]  # the app's, inherited
    assert doc["paths"]["/admin"]["get"]["security"] == [{"jwt_2": []}]
    assert "security" not in doc["paths"]["/open"]["get"]
    assert doc["paths"]["/me"]["get"]["responses"]["401"] == {"$ref": "#/components/responses/Unauthorized"}
    assert "401" not in doc["paths"]["/open"]["get"]["responses"]


def test_an_app_without_models_is_described_without_pydantic() -> None:
    """pydantic is an optional dependency: an app that validates nothing gets its document without it."""
    code = (
        "import sys, json\n"
        "sys.modules['pydantic'] = None  # import pydantic fails\n"
        "from portafunc import App, HttpRequest\n"
        "app = App('plain')\n"
        "@app.http('GET', '/items/{id}', auth='function')\n"
        "def item(req: HttpRequest) -> dict:\n"
        "    return {}\n"
        "@app.http('GET', '/health')\n"
        "def health(req: HttpRequest) -> str:\n"
        "    return 'ok'\n"
        "doc = app.openapi(target='gcp')\n"
        "print(json.dumps(doc))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    validate(doc)
    assert doc["paths"]["/items/{id}"]["get"]["responses"]["200"]["content"] == {
        "application/json": {"schema": {"type": "object"}}}
    assert doc["paths"]["/items/{id}"]["get"]["security"] == [{"google_id_token": []}]


def test_one_fastapi_route_of_many_methods_gets_an_id_per_operation() -> None:
    """FastAPI gives every method of one ``api_route`` the same operationId (and warns); the merged document renames
    the repeats, so it still validates."""
    from fastapi import FastAPI
    from openapi_spec_validator import validate

    api = FastAPI()

    @api.api_route("/scope/{rest:path}", methods=["GET", "POST", "PUT", "DELETE", "PATCH"])
    def scope(rest: str) -> dict[str, str]:
        return {"rest": rest}

    app = App("many-methods")
    app.mount("/api", api)
    with pytest.warns(UserWarning, match="Duplicate Operation ID"):  # FastAPI's own schema repeats the id
        doc = app.openapi()
    ids = [op["operationId"] for item in doc["paths"].values() for op in item.values() if isinstance(op, dict)]
    assert len(ids) == 5 and len(set(ids)) == 5, ids
    validate(doc)


# -- what the handler answers: the status it declares ---------------------------------------------------------------
def status_app() -> App:
    app = App("statuses")

    @app.http("POST", "/created")
    def created(order: Order) -> tuple[Order, Literal[201]]:
        return order, 201

    @app.http("POST", "/created-model", response_model=Order)
    def created_model(order: Order) -> tuple[dict, Literal[201]]:
        return order.model_dump(), 201

    @app.http("PUT", "/either")
    def either(order: Order) -> tuple[Order, Literal[200, 201]]:
        return order, 201

    @app.http("DELETE", "/gone/{id}")
    def gone(req: HttpRequest) -> tuple[None, Literal[204]]:
        return None, 204

    @app.http("POST", "/accepted")
    def accepted(req: HttpRequest) -> tuple[str, Literal[202]]:
        return "queued", 202

    @app.http("POST", "/some", response_model=Order)
    def some(order: Order) -> tuple[Order, int]:
        return order, 201

    return app


def test_a_declared_status_is_the_documented_answer() -> None:
    """``-> tuple[Model, Literal[201]]`` answers 201 with the model: the document says 201, never 200."""
    paths = status_app().openapi()["paths"]
    order = {"application/json": {"schema": {"$ref": "#/components/schemas/Order"}}}
    created = paths["/created"]["post"]["responses"]
    assert created["201"] == {"description": "Created", "content": order}
    assert "200" not in created
    assert paths["/created-model"]["post"]["responses"]["201"]["content"] == order  # response_model= is the body
    either = paths["/either"]["put"]["responses"]
    assert either["200"]["content"] == either["201"]["content"] == order
    assert paths["/gone/{id}"]["delete"]["responses"] == {"204": {"description": "No Content"}}
    assert paths["/accepted"]["post"]["responses"]["202"] == {
        "description": "Accepted", "content": {"text/plain": {"schema": {"type": "string"}}}}


def test_a_status_chosen_at_run_time_is_the_default_answer_with_its_body() -> None:
    """``-> tuple[Order, int]``: the body is known, the status is not; the document does not claim a 200."""
    some = status_app().openapi()["paths"]["/some"]["post"]["responses"]
    assert "200" not in some
    assert some["default"]["content"] == {"application/json": {"schema": {"$ref": "#/components/schemas/Order"}}}


def test_documented_statuses_are_what_the_handlers_answer() -> None:
    app = status_app()
    doc = app.openapi()
    body = b'{"id": "o-1", "total": 1}'
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            from portafunc import Headers

            req = HttpRequest(method.upper(), path.replace("{id}", "1"), body=body,
                              headers=Headers([("content-type", "application/json")]))
            resp = handle_http(app, req)
            documented = operation["responses"]
            assert str(resp.status) in documented or "default" in documented, (method, path, resp.status)


# -- HEAD: every GET route answers it -----------------------------------------------------------------------------
def test_every_get_route_lists_the_head_it_answers() -> None:
    """The pipeline answers HEAD on every GET route (on every cloud), so the document lists it, as it lists a HEAD
    the route names itself; the GET keeps the function's name as its id."""
    app = rich_app()
    doc = app.openapi()
    health = doc["paths"]["/health"]
    assert health["get"]["operationId"] == "health" and health["head"]["operationId"] == "health_head"
    assert health["head"]["responses"] == {"200": {"description": "OK: the headers a GET would answer, without a body."}}
    files = doc["paths"]["/files/{path}"]
    assert files["head"]["parameters"] == files["get"]["parameters"]
    for path in ("/health", "/files/x/y"):
        resp = handle_http(app, HttpRequest("HEAD", path))
        assert resp.status == 200 and resp.body == b""


def test_a_head_mirrors_its_get_s_answers_without_bodies() -> None:
    doc = typed_app().openapi()
    listing = doc["paths"]["/shops/{shop}/orders"]
    assert set(listing["head"]["responses"]) == set(listing["get"]["responses"]) == {"200", "400"}
    assert "content" not in listing["head"]["responses"]["200"]
    assert listing["head"]["parameters"] == listing["get"]["parameters"]


def test_a_head_id_stays_unique_beside_a_function_named_like_it() -> None:
    app = App("ids")

    @app.http("GET", "/a")
    def a(req: HttpRequest) -> str:
        return ""

    @app.http("POST", "/b")
    def a_head(req: HttpRequest) -> str:
        return ""

    doc = app.openapi()
    ids = [op["operationId"] for item in doc["paths"].values() for op in item.values()]
    assert len(ids) == len(set(ids)) == 3 and doc["paths"]["/b"]["post"]["operationId"] == "a_head"


def test_a_mounted_fastapi_route_lists_head_only_where_it_answers_it() -> None:
    """A FastAPI GET route answers HEAD 405 (FastAPI adds no HEAD): its own schema is kept as it is."""
    doc = mounted_app().openapi()
    assert list(doc["paths"]["/api/orders/{sku}"]) == ["get"]


# -- request bodies a handler reads itself: content_types= and forms ------------------------------------------------
def body_app() -> App:
    app = App("bodies", content_types=["application/json"])

    @app.http("POST", "/notes", content_types=["text/plain", "text/markdown"])
    def note(req: HttpRequest) -> dict:
        return {"chars": len(req.text)}

    @app.http("POST", "/documents", content_types=["multipart/form-data"])
    def upload(req: HttpRequest) -> dict:
        form = req.form()
        return {"fields": sorted(form)}

    @app.http("POST", "/signup", content_types=["application/x-www-form-urlencoded", "multipart/form-data"])
    def signup(req: HttpRequest) -> dict:
        return {"name": req.form().get("name")}

    @app.http("PUT", "/blobs/{id}", content_types=["application/octet-stream", "image/*"])
    def blob(req: HttpRequest) -> dict:
        return {"bytes": len(req.body)}

    @app.http("POST", "/events")  # the app's content types
    def event(req: HttpRequest) -> dict:
        return {}

    @app.http("GET", "/search")  # the app's too, but a GET is sent without a body
    def search(req: HttpRequest) -> dict:
        return {}

    return app


FORM = {"type": "object", "additionalProperties": {"type": "string"},
        "description": "The form's fields, each a text value, read by the function (req.form())."}
MULTIPART = {"type": "object", "additionalProperties": {"anyOf": [
    {"type": "string"}, {"type": "string", "contentMediaType": "application/octet-stream"}]},
    "description": "The form's fields, each a text value or an uploaded file, read by the function (req.form())."}


def test_declared_content_types_are_the_request_body_s_media_types() -> None:
    doc = body_app().openapi()
    validate(doc)
    paths = doc["paths"]
    assert paths["/notes"]["post"]["requestBody"] == {"required": False, "content": {
        "text/plain": {"schema": {"type": "string"}}, "text/markdown": {"schema": {"type": "string"}}}}
    assert paths["/blobs/{id}"]["put"]["requestBody"]["content"] == {"application/octet-stream": {}, "image/*": {}}
    assert paths["/events"]["post"]["requestBody"]["content"] == {"application/json": {}}
    assert "requestBody" not in paths["/search"]["get"]


def test_form_routes_describe_their_form_media_types_and_fields() -> None:
    paths = body_app().openapi()["paths"]
    assert paths["/documents"]["post"]["requestBody"]["content"] == {"multipart/form-data": {"schema": MULTIPART}}
    assert paths["/signup"]["post"]["requestBody"]["content"] == {
        "application/x-www-form-urlencoded": {"schema": FORM}, "multipart/form-data": {"schema": MULTIPART}}


@pytest.mark.parametrize(("method", "path", "media", "body"), [
    ("POST", "/notes", "text/markdown", b"# hi"),
    ("POST", "/signup", "application/x-www-form-urlencoded", b"name=zo%C3%AB"),
    ("POST", "/documents", "multipart/form-data; boundary=b",
     b'--b\r\nContent-Disposition: form-data; name="doc"; filename="a.txt"\r\n\r\nhello\r\n--b--\r\n'),
    ("PUT", "/blobs/1", "application/octet-stream", bytes(range(8))),
    ("POST", "/events", "application/json", b"{}"),
])
def test_a_body_sent_as_documented_is_accepted(method: str, path: str, media: str, body: bytes) -> None:
    from portafunc import Headers

    app = body_app()
    template = path.replace("/1", "/{id}")
    documented = app.openapi()["paths"][template][method.lower()]["requestBody"]["content"]
    assert media.split(";")[0] in documented
    resp = handle_http(app, HttpRequest(method, path, headers=Headers([("content-type", media)]), body=body))
    assert resp.status == 200, resp.body


class Signup(BaseModel):
    name: str
    age: int = 0


def typed_form_app() -> App:
    app = App("typed-forms")

    @app.http("POST", "/exact", content_types=["application/json", "application/x-www-form-urlencoded",
                                               "multipart/form-data"])
    def exact(person: Signup) -> dict:
        return {"name": person.name}

    @app.http("POST", "/pattern", content_types=["application/json", "multipart/*"])
    def pattern(person: Signup) -> dict:
        return {"name": person.name}

    @app.http("POST", "/any", content_types=["*/*"])
    def anything(person: Signup) -> dict:
        return {"name": person.name}

    return app


def test_a_typed_body_read_as_a_form_lists_the_form_types_with_the_model_s_schema() -> None:
    doc = typed_form_app().openapi()  # validated as OpenAPI by the fixture
    model = {"schema": {"$ref": "#/components/schemas/Signup"}}
    content = {path: doc["paths"][path]["post"]["requestBody"]["content"] for path in ("/exact", "/pattern", "/any")}
    assert content["/exact"] == {"application/json": model, "application/x-www-form-urlencoded": model,
                                 "multipart/form-data": model}
    # a range admitting a form type: the form type the body is read in is named, the range itself left out
    assert content["/pattern"] == {"application/json": model, "multipart/form-data": model}
    # no exact type: the range stays, beside the form types it admits
    assert content["/any"] == {"application/x-www-form-urlencoded": model, "multipart/form-data": model,
                               "*/*": model}


# -- a mounted app's index ------------------------------------------------------------------------------------------
def test_a_mounted_app_s_index_is_listed_with_the_slash_it_is_served_at() -> None:
    """FastAPI serves its ``/`` under ``/api`` at ``/api/`` and redirects ``/api`` there (307), on every target
    (tests/contract/test_mount.py): the document lists ``/api/``, the URL a client must call."""
    api = FastAPI()

    @api.get("/")
    async def index() -> dict[str, str]:
        return {"index": "yes"}

    @api.get("/items/")
    async def items() -> list[str]:
        return []

    app = App("indexed")
    app.mount("/api", api)
    root = App("at-root")
    root.mount("/", api)
    doc = app.openapi()
    validate(doc)
    assert list(doc["paths"]) == ["/api/", "/api/items/"]
    assert list(root.openapi()["paths"]) == ["/", "/items/"]
    assert handle_http(app, HttpRequest("GET", "/api/")).status == 200
    assert handle_http(app, HttpRequest("GET", "/api")).status == 307
