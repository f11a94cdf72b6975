"""The docs route: Swagger UI for the app's OpenAPI document, from files packaged with portafunc (no CDN).

``App(..., docs_route="/docs")`` registers two ordinary HTTP functions, so the route is packaged, routed and served
like the app's own on every cloud and in ``portafunc run``:

* ``portafunc_docs`` — ``GET /docs``: a small HTML page loading the two files below;
* ``portafunc_docs_files`` — ``GET /docs/{file}``: ``openapi.json`` (``app.openapi()``, built on first request),
  ``swagger-ui-bundle.js`` and ``swagger-ui.css`` (vendored in ``portafunc/_swagger_ui``, gzip-compressed: sent
  as they are to clients that accept gzip, expanded for the others).

The page links to its files relative to its own URL, so it works behind a path prefix (a stage, a custom domain's
base path). Nothing here is read before the docs route is requested.
"""

from __future__ import annotations

import json
from pathlib import Path

from .errors import RegistrationError
from .events import Headers, HttpRequest, HttpResponse

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from .app import App

SWAGGER_UI_VERSION = "5.35.0"
DOCS_FUNCTION = "portafunc_docs"
FILES_FUNCTION = "portafunc_docs_files"
_ASSETS = Path(__file__).resolve().parent / "_swagger_ui"
_FILES = {  # served name → (vendored file, content type)
    "swagger-ui-bundle.js": ("swagger-ui-bundle.js.gz", "text/javascript; charset=utf-8"),
    "swagger-ui.css": ("swagger-ui.css.gz", "text/css; charset=utf-8"),
}
_CACHE = "public, max-age=86400"  # the file names carry ?v=<version>, so an upgrade is fetched anew


def register_docs(app: App, route: str) -> None:
    """Register the docs page at ``route`` and its files under it (see ``App(docs_route=...)``)."""
    segments = route.split("/")[1:] if isinstance(route, str) and route.startswith("/") else [""]
    if not all(segment and all(c.isalnum() or c in "-._~" for c in segment) for segment in segments):
        raise RegistrationError(f"docs_route {route!r} must be a path like '/docs' or '/api/docs': segments of "
                                "letters, digits, '-', '.', '_' or '~'")
    here = route.rsplit("/", 1)[1]  # links relative to the page's own URL, /docs → docs/openapi.json
    page = _page(app.name, here).encode("utf-8")
    document: dict[str, Any] = {}  # the encoded document and the number of functions it was built for

    def portafunc_docs(req: HttpRequest) -> HttpResponse:
        """Swagger UI for this app's OpenAPI document."""
        return HttpResponse(200, Headers([("Content-Type", "text/html; charset=utf-8"),
                                          ("Cache-Control", "no-cache")]), page)

    def portafunc_docs_files(req: HttpRequest) -> HttpResponse:
        """The OpenAPI document (openapi.json) and the files of Swagger UI."""
        name = req.path_params["file"]
        if name == "openapi.json":
            return HttpResponse(200, Headers([("Content-Type", "application/json"), ("Cache-Control", "no-cache")]),
                                _openapi_json(app, document))
        if name not in _FILES:
            return HttpResponse.problem(404, "Not Found", f"no file {name!r} in the docs")
        return _asset(name, req.headers.get("accept-encoding") or "")

    app.http("GET", route, name=DOCS_FUNCTION)(portafunc_docs)
    app.http("GET", f"{route}/{{file}}", name=FILES_FUNCTION)(portafunc_docs_files)


def _openapi_json(app: App, cache: dict[str, Any]) -> bytes:
    """The document, built once per process (again if functions were registered since)."""
    count = len(app.functions)
    if cache.get("count") != count:
        from .context import current

        invocation = current()
        target = invocation.target if invocation is not None else None
        from .targets import available

        doc = app.openapi(target=target if target and target in available() else None)
        cache["body"] = json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        cache["count"] = count
    body: bytes = cache["body"]
    return body


def _asset(name: str, accept_encoding: str) -> HttpResponse:
    stored, content_type = _FILES[name]
    data = (_ASSETS / stored).read_bytes()
    headers = [("Content-Type", content_type), ("Cache-Control", _CACHE), ("Vary", "Accept-Encoding"),
               ("X-Content-Type-Options", "nosniff")]
    if accepts_gzip(accept_encoding):
        headers.append(("Content-Encoding", "gzip"))
    else:
        import gzip

        data = gzip.decompress(data)
    return HttpResponse(200, Headers(headers), data)


def accepts_gzip(accept_encoding: str) -> bool:
    """Does an ``Accept-Encoding`` value accept gzip (RFC 9110 section 12.5.3: named or ``*``, with q above 0)?"""
    named: dict[str, float] = {}
    for item in accept_encoding.split(","):
        coding, _, params = item.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if coding:
            named[coding.strip().lower()] = quality
    if "gzip" in named or "x-gzip" in named:
        return max(named.get("gzip", 0.0), named.get("x-gzip", 0.0)) > 0
    return named.get("*", 0.0) > 0


def _page(title: str, here: str) -> str:
    from html import escape

    v = SWAGGER_UI_VERSION
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)} API</title>
<link rel="stylesheet" href="{here}/swagger-ui.css?v={v}">
</head>
<body>
<div id="swagger-ui"></div>
<script src="{here}/swagger-ui-bundle.js?v={v}"></script>
<script>
window.ui = SwaggerUIBundle({{url: "{here}/openapi.json", dom_id: "#swagger-ui", deepLinking: true}});
</script>
</body>
</html>
"""


__all__ = ["DOCS_FUNCTION", "FILES_FUNCTION", "SWAGGER_UI_VERSION", "accepts_gzip", "register_docs"]
