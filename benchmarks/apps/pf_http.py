"""portafunc hello-world HTTP app (no typed payloads): the cold-start and HTTP warm-path workload."""

from portafunc import App, HttpRequest

app = App("bench-http")


@app.http("GET", "/hello/{name}")
def hello(req: HttpRequest) -> dict:
    return {"message": "hello " + req.path_params["name"]}
