"""A mounted web app on Azure: the request the host routed to the mount's function goes to the app without the
pipeline's wrapping (:func:`portafunc.mount.serve_lane`).

The general path runs the mount's function through :func:`portafunc.invoke.handle_http_direct`: the function named
by the host, its route matched again, the invocation entered, the handler called, its response checked and encoded.
For a request nothing of the pipeline's acts on (:func:`portafunc.mount.mount_lane`: no CORS, HEAD, auth object,
middleware, exception handlers, OpenTelemetry or DEBUG timing), this lane hands the app the scope (ASGI) or environ
(WSGI) the bridge builds from the same neutral request, in the same invocation, and encodes the same response with
:func:`.outcome.http_response`. ``tests/azure/test_azure_mount_lane.py`` runs both on the same requests.
"""

from __future__ import annotations

from typing import Any, Callable

from portafunc.app import App
from portafunc.events import HttpRequest

from ..outcome import http_response

TARGET = "azure"


def lane(app: App) -> Callable[[str, HttpRequest, Any], Any] | None:
    """The lane serving ``app``'s mounted apps (None when it mounts none): called with the function's name, the
    neutral request and the host's ``func.HttpRequest``, it returns the ``func.HttpResponse``, or None for a request
    the general path must take."""
    if not any(vars(spec.handler).get("portafunc_mount") for spec in app.http_functions()):
        return None
    from portafunc.mount import _WsgiBridge, mount_lane, serve_lane

    def serve(name: str, req: HttpRequest, native: Any) -> Any:
        found = mount_lane(app, req.method, req.path, name)
        if found is None:
            return None
        spec, bridge = found
        if isinstance(bridge, _WsgiBridge):
            def build() -> dict[str, Any]:
                return bridge.environ(req)
        else:
            def build() -> dict[str, Any]:
                return bridge.scope(req)
        answer = serve_lane(spec, bridge, build, req.body, None, TARGET, req, native, parts=False, stream=False)
        return http_response(answer)  # type: ignore[arg-type]  # parts=False: always the response

    return serve
