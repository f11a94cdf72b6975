"""The mount lane finds the function a request reaches without the route search when only one mounted app can
serve its path (``portafunc.mount._routed``): it must give exactly what the search gives, for apps where a mount is
alone under its prefix and apps where other routes (literal, parameter, another mount, a root mount) could take the
same paths, registered before or after it."""

from __future__ import annotations

from typing import Any, Callable

import pytest

from portafunc import App, HttpRequest


def wsgi(environ: Any, start_response: Any) -> Any:
    start_response("200 OK", [])
    return [b""]


def _handler(req: HttpRequest) -> str:
    return "native"


Step = Callable[[App], None]


def route(method: str, template: str, name: str) -> Step:
    """A registration step: a native route."""
    def register(app: App) -> None:
        app.http(method, template, name=name)(_handler)
    return register


def mount(prefix: str, name: str | None = None) -> Step:
    """A registration step: the WSGI app mounted under ``prefix``."""
    return lambda app: app.mount(prefix, wsgi, name=name)


APPS: dict[str, list[Step]] = {  # each app's registrations, in order
    "root mount alone": [mount("/")],
    "root mount beside a route": [route("GET", "/native", "native"), mount("/")],
    "root mount first, a route after": [mount("/"), route("GET", "/native", "native")],
    "prefix mount beside other literals": [mount("/api"), route("GET", "/native", "n"),
                                           route("POST", "/items/{id}", "item")],
    "a route under the mount's prefix, first": [route("GET", "/api/special", "special"), mount("/api")],
    "a route under the mount's prefix, after": [mount("/api"), route("GET", "/api/special", "special")],
    "a parameter first segment": [mount("/api"), route("GET", "/{tenant}/x", "tenant")],
    "two mounts sharing a segment": [mount("/api"), mount("/api/v2", name="v2")],
    "a multi-segment prefix alone": [mount("/api/v1"), route("GET", "/health", "h")],
    "two mounts apart": [mount("/a"), mount("/b")],
}
PATHS = ["/", "/api", "/api/", "/api/x", "/api/special", "/api/v2/x", "/api/v1", "/api/v1/x", "/api/v10", "/apix",
         "/native", "/items/3", "/t/x", "/a", "/a/b", "/b/", "/health", "//api", "/é/ü", "/api/é"]
METHODS = ["GET", "POST", "DELETE", "OPTIONS", "PROPFIND"]


@pytest.mark.parametrize("shape", list(APPS))
def test_the_lane_finds_what_the_route_search_finds(shape: str) -> None:
    from portafunc.mount import _routed

    app = App("lane-routing-" + "".join(c if c.isalnum() else "-" for c in shape))
    for step in APPS[shape]:
        step(app)
    app.route("GET", "/")  # builds the route table the lane reads
    for method in METHODS:
        for path in PATHS:
            assert _routed(app, method, path) is app._match(method, path, None)[0], (method, path)
