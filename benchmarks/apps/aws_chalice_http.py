"""Chalice: the same route; Chalice apps take API Gateway REST (v1) proxy events."""

from chalice import Chalice

app = Chalice(app_name="bench")


@app.route("/hello/{name}")
def hello(name):
    return {"message": "hello " + name}


handler = app
