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


def _route(app: App, method: str, template: str, name: str) -> None:
    app.http(method, template, name=name)(_handler)


APPS: dict[str, Callable[[App], None]] = {
    "root mount alone": lambda app: app.mount("/", wsgi),
    "root mount beside a route": lambda app: (_route(app, "GET", "/native", "native"), app.mount("/", wsgi)),
    "root mount first, a route after": lambda app: (app.mount("/", wsgi), _route(app, "GET", "/native", "native")),
    "prefix mount beside other literals": lambda app: (app.mount("/api", wsgi), _route(app, "GET", "/native", "n"),
                                                       _route(app, "POST", "/items/{id}", "item")),
    "a route under the mount's prefix, first": lambda app: (_route(app, "GET", "/api/special", "special"),
                                                           app.mount("/api", wsgi)),
    "a route under the mount's prefix, after": lambda app: (app.mount("/api", wsgi),
                                                           _route(app, "GET", "/api/special", "special")),
    "a parameter first segment": lambda app: (app.mount("/api", wsgi), _route(app, "GET", "/{tenant}/x", "tenant")),
    "two mounts sharing a segment": lambda app: (app.mount("/api", wsgi), app.mount("/api/v2", wsgi, name="v2")),
    "a multi-segment prefix alone": lambda app: (app.mount("/api/v1", wsgi), _route(app, "GET", "/health", "h")),
    "two mounts apart": lambda app: (app.mount("/a", wsgi), app.mount("/b", wsgi)),
}
PATHS = ["/", "/api", "/api/", "/api/x", "/api/special", "/api/v2/x", "/api/v1", "/api/v1/x", "/api/v10", "/apix",
         "/native", "/items/3", "/t/x", "/a", "/a/b", "/b/", "/health", "//api", "/é/ü", "/api/é"]
METHODS = ["GET", "POST", "DELETE", "OPTIONS", "PROPFIND"]


@pytest.mark.parametrize("shape", list(APPS))
def test_the_lane_finds_what_the_route_search_finds(shape: str) -> None:
    from portafunc.mount import _routed

    app = App("lane-routing-" + "".join(c if c.isalnum() else "-" for c in shape))
    APPS[shape](app)
    app.route("GET", "/")  # builds the route table the lane reads
    for method in METHODS:
        for path in PATHS:
            assert _routed(app, method, path) is app._match(method, path, None)[0], (method, path)
