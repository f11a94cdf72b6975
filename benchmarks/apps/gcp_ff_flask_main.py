"""functions-framework's Flask target: one HTTP function dispatching each request to the same Flask app, inside a
request context built from the request's WSGI environ (the cheapest way to route a whole Flask app in one
function)."""

import functions_framework
from mount_web import flask_app


@functions_framework.http
def handler(request):
    with flask_app.request_context(request.environ):
        return flask_app.full_dispatch_request()
