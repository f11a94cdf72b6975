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
