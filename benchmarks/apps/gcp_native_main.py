"""The same functions, written natively for functions-framework (Google Cloud Functions)."""

import base64
import json

import functions_framework

SEEN = [0]


@functions_framework.http
def hello(request):
    return {"message": "hello " + request.path.rsplit("/", 1)[-1]}


@functions_framework.cloud_event
def on_event(cloud_event):
    json.loads(base64.b64decode(cloud_event.data["message"]["data"]))
    SEEN[0] += 1


@functions_framework.http
def on_event_http(request):
    """The same handler written as an HTTP target: it reads the binary-mode request's body itself, with no
    cloudevents object (what portafunc's generated entry does)."""
    json.loads(base64.b64decode(json.loads(request.get_data())["message"]["data"]))
    SEEN[0] += 1
    return "OK"
