"""An app using the web-API features (CORS, ...), served by ``portafunc run`` in tests/core/test_runner_http_api.py."""

from portafunc import App, Cors, HttpRequest, HttpResponse, Router

app = App("http-api", cors=Cors(allow_origins=["https://shop.example"], allow_headers=["Content-Type"],
                                allow_credentials=True, max_age=60))


@app.http(["GET", "POST"], "/orders/{id}")
def order(req: HttpRequest) -> dict:
    return {"id": req.path_params["id"]}


# /files/a%2Fb is the first route's (an escaped "/" stays in its segment); /files/a/b the second's, under a policy
# of its own
@app.http("POST", "/files/{name}")
def one_file(req: HttpRequest) -> dict:
    return {"name": req.path_params["name"]}


@app.http("POST", "/files/{folder}/{name}", cors=Cors(allow_origins=["*"]))
def file_in_folder(req: HttpRequest) -> dict:
    return {"folder": req.path_params["folder"], "name": req.path_params["name"]}


catalogue = Router()


@catalogue.http("GET", "/items/{sku}")
def item(req: HttpRequest) -> dict:
    return {"sku": req.path_params["sku"]}


app.include_router(catalogue, prefix="/v1")


@app.middleware(kinds=("http",))
def served_by(req, call_next):
    if req.headers.get("x-block"):
        return HttpResponse.problem(403, "Forbidden", "blocked by middleware")
    resp = call_next(req)
    resp.headers.add("X-Served-By", "portafunc")
    return resp


class OutOfStock(Exception):
    pass


@app.exception_handler(OutOfStock)
def out_of_stock(req, exc):
    return HttpResponse.problem(409, "Out of stock", str(exc))


@app.exception_handler(404)
def not_found(req, exc):
    return HttpResponse.json({"error": "no such page", "path": req.path}, status=404)


@app.http("POST", "/stock/{sku}")
def reserve(req: HttpRequest) -> dict:
    raise OutOfStock(f"{req.path_params['sku']} is out of stock")
