"""The same functions, written natively for the Azure Functions Python v2 programming model."""

import json

import azure.functions as func

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)
SEEN = [0]


@app.function_name(name="hello")
@app.route(route="hello/{name}", methods=["GET"])
def hello(req: func.HttpRequest) -> func.HttpResponse:
    body = json.dumps({"message": "hello " + req.route_params["name"]})
    return func.HttpResponse(body, status_code=200, mimetype="application/json")


@app.function_name(name="on_event")
@app.event_grid_trigger(arg_name="event")
def on_event(event: func.EventGridEvent) -> None:
    event.get_json()
    SEEN[0] += 1


@app.function_name(name="work")
@app.queue_trigger(arg_name="msg", queue_name="work", connection="AzureWebJobsStorage")
def work(msg: func.QueueMessage) -> None:
    SEEN[0] += json.loads(msg.get_body())["total"]
