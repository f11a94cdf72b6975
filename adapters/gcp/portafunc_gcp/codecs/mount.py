"""A mounted web app behind functions-framework: the request goes to the app straight from the environ
functions-framework's Flask app received (as a WSGI environ, or an ASGI scope), and the app's answer goes back to it
as a WSGI response.

The general path decodes the request into an :class:`~portafunc.HttpRequest`, runs the pipeline, builds the app's
environ from that request, buffers the app's answer into an :class:`~portafunc.HttpResponse` and encodes that as a
Flask response (:func:`.http.to_flask`), which Flask then sends. This lane gives the app the environ or scope the
general path would give it (``portafunc.mount``'s ``_WsgiBridge.environ_of``, ``_AsgiBridge.scope_of``), and hands
Flask the status line, headers and body :func:`.http.to_flask` would make it send, without the objects in between. It serves the requests
:func:`portafunc.mount.mount_lane` finds (nothing of the pipeline's would act on them); everything else, and every
answer this encoder does not write exactly (a streamed body, ``Location`` headers, statuses without a body, a
failure), takes the general encoder. ``tests/gcp/test_gcp_mount_lane.py`` runs both paths on the same requests.
"""

from __future__ import annotations

import os
from typing import Any, Callable

from portafunc.app import App
from portafunc.caches import keep
from portafunc.events import Headers, HttpResponse

from . import http

TARGET = "gcp"


def lane(app: App) -> Callable[[Any], Any] | None:
    """The lane serving ``app``'s mounted apps (None when it mounts none): called with functions-framework's
    request, it returns the Flask answer, or None for a request the general path must take."""
    if not any(vars(spec.handler).get("portafunc_mount") for spec in app.http_functions()):
        return None
    from portafunc.mount import _WsgiBridge, mount_lane, mount_matches, serve_lane

    raw_query = http._raw_query
    from_flask = http.from_flask

    def serve(request: Any, function: str | None = None) -> Any:
        """The answer to ``request`` (None: the general path's), routed among the app's functions, or to the one
        named ``function`` (a function deployed on its own), whose route must then match the path."""
        native = request.environ
        if DECLINED in native:
            return None  # the lane in front of the dispatch found no mount for it
        method = request.method
        path = request.path
        found = mount_lane(app, method, path, function)
        if found is None:
            return None
        spec, bridge = found
        if function is not None and not mount_matches(spec.trigger.route, path):  # type: ignore[union-attr]
            return None  # the general path's 404
        keys = tuple(native)
        if not "".join((_header_values.get(keys) or _header_picker(keys))(native)).isascii():
            return None  # bytes that may not be UTF-8: the general path's text of them is what the app is given
        query = raw_query(request.query_string)
        forwarded = native.get("HTTP_X_FORWARDED_FOR")  # client_ip(request), inline
        if forwarded is not None:
            client = forwarded.rsplit(",", 1)[-1].strip() or None
        else:
            remote = request.remote_addr
            client = remote if isinstance(remote, str) else None
        body = request.get_data(cache=True)
        if isinstance(bridge, _WsgiBridge):
            answer = serve_lane(spec, bridge, bridge.environ_of, body, native.get("HTTP_FUNCTION_EXECUTION_ID"),
                                TARGET, from_flask, request, args=(native, method, path, query, client, body))
        else:
            answer = serve_lane(spec, bridge, bridge.scope_of, body, native.get("HTTP_FUNCTION_EXECUTION_ID"),
                                TARGET, from_flask, request, args=(native, method, path, query, client))
        if isinstance(answer, HttpResponse):
            return http.to_flask(answer)
        return encode(*answer)

    return serve


def front(app: App) -> Callable[[dict[str, Any], Any, str | None], Any]:
    """The lane in front of functions-framework's Flask dispatch (:func:`install_front`): called with the WSGI
    environ and ``start_response`` functions-framework's app received, and the function it serves (None: every
    HTTP route of the app), it sends the mounted app's answer and returns its body, or returns None for a request
    Flask must dispatch (then the lane inside the dispatch, :func:`lane`, sees it as before)."""
    from portafunc.mount import _WsgiBridge, mount_lane, mount_matches, serve_lane

    raw_query = http._raw_query
    read_body = _input_stream()

    def serve(environ: dict[str, Any], start_response: Any, function: str | None) -> Any:
        path = environ.get("PATH_INFO") or ""
        if path[:1] != "/" or not path.isascii() or "//" in path or path in _FRAMEWORK_PATHS \
                or environ.get("SCRIPT_NAME"):
            return None  # werkzeug's request.path (or functions-framework's routing) would read it otherwise
        method = environ.get("REQUEST_METHOD", "GET").upper()
        found = mount_lane(app, method, path, function)
        if found is None:
            environ[DECLINED] = True  # the lane in the dispatch would find none either
            return None
        spec, bridge = found
        if function is not None and not mount_matches(spec.trigger.route, path):  # type: ignore[union-attr]
            environ[DECLINED] = True
            return None
        if not "".join((_header_values.get(tuple(environ)) or _header_picker(tuple(environ)))(environ)).isascii():
            environ[DECLINED] = True
            return None
        query = environ.get("QUERY_STRING")
        query = raw_query(query.encode("latin-1")) if query else ""
        forwarded = environ.get("HTTP_X_FORWARDED_FOR")
        if forwarded is not None:
            client = forwarded.rsplit(",", 1)[-1].strip() or None
        else:
            client = environ.get("REMOTE_ADDR")
        length = environ.get("CONTENT_LENGTH")
        body = read_body(environ).read() if length and length != "0" or "wsgi.input_terminated" in environ else b""
        if isinstance(bridge, _WsgiBridge):
            answer = serve_lane(spec, bridge, bridge.environ_of, body, environ.get("HTTP_FUNCTION_EXECUTION_ID"),
                                TARGET, _front_request, (environ, body),
                                args=(environ, method, path, query, client, body))
        else:
            answer = serve_lane(spec, bridge, bridge.scope_of, body, environ.get("HTTP_FUNCTION_EXECUTION_ID"),
                                TARGET, _front_request, (environ, body), args=(environ, method, path, query, client))
        if isinstance(answer, HttpResponse):
            return http.to_flask(answer)(environ, start_response)
        status, headers, whole = answer
        head = _head(status, headers, whole)
        if head is None:
            return http.to_flask(HttpResponse(status, Headers(headers), whole))(environ, start_response)
        start_response(*head)
        return [whole]

    return serve


DECLINED = "portafunc.mount_lane"
"""The environ key :func:`front` sets on a request it found no mount for (the lane in the dispatch skips it)."""

# functions-framework answers these two itself (404), before any function
_FRAMEWORK_PATHS = frozenset({"/robots.txt", "/favicon.ico"})


def _input_stream() -> Callable[[dict[str, Any]], Any]:
    from werkzeug.wsgi import get_input_stream

    return get_input_stream  # the stream Flask's request.get_data() reads (no MAX_CONTENT_LENGTH configured)


def _front_request(front: tuple[dict[str, Any], bytes]) -> Any:
    """The request the invocation carries, for a request :func:`front` served: read from the environ as
    :func:`.http.from_flask` reads functions-framework's request (the body as the lane read it)."""
    import io

    import flask

    environ, body = front
    environ = dict(environ)
    environ["wsgi.input"] = io.BytesIO(body)  # read once by the lane: the request reads the same bytes again
    return http.from_flask(flask.Request(environ), body)


def install_front(serve: Callable[[dict[str, Any], Any, str | None], Any], function: str | None) -> bool:
    """Put ``serve`` (:func:`front`) in front of the Flask dispatch of the functions-framework app handling the
    current request, for the function it serves; True once it is there. Only where nothing else would be skipped:
    the WSGI app functions-framework wraps with its execution-id middleware is Flask's own ``wsgi_app``, no request
    size limit is configured, and execution-id logging (which redirects output inside the dispatch) is off."""
    import flask

    if not flask.has_app_context():
        return False
    flask_app: Any = flask.current_app._get_current_object()  # type: ignore[attr-defined]
    outer: Any = vars(flask_app).get("wsgi_app")
    inner: Any = getattr(outer, "wsgi_app", None)
    if type(outer).__module__ != "functions_framework.execution_id" or \
            flask_app.config.get("MAX_CONTENT_LENGTH") is not None or os.environ.get("LOG_EXECUTION_ID") or \
            getattr(inner, "__func__", None) is not flask.Flask.wsgi_app or getattr(inner, "__self__", None) is not \
            flask_app:
        return False

    def served(environ: dict[str, Any], start_response: Any) -> Any:
        body = serve(environ, start_response, function)
        return inner(environ, start_response) if body is None else body

    outer.wsgi_app = served
    return True


def _header_picker(keys: tuple[str, ...]) -> Callable[[Any], Any]:
    """What reads the request's header values (its ``HTTP_*`` keys and ``CONTENT_TYPE``) out of an environ with
    ``keys``, in one call (a string, or a tuple of them); kept for the next request with the same keys, which a
    client sends again and again (64 shapes at most, emptied when full)."""
    from operator import itemgetter

    wanted = [key for key in keys if key[:5] == "HTTP_" or key == "CONTENT_TYPE"]
    picker: Callable[[Any], Any] = itemgetter(*wanted) if wanted else _no_headers
    return keep(_header_values, keys, picker, 64)


_header_values: dict[tuple[str, ...], Callable[[Any], Any]] = {}


def _no_headers(_: Any) -> str:
    return ""


def client_ip(request: Any) -> str | None:
    """The client's address as :mod:`.http` reads it (the last ``X-Forwarded-For`` entry, else the socket's
    peer), from the key every WSGI server names that header by."""
    forwarded = request.environ.get("HTTP_X_FORWARDED_FOR")
    if forwarded is not None:
        return forwarded.rsplit(",", 1)[-1].strip() or None
    remote = request.remote_addr
    return remote if isinstance(remote, str) else None


def encode(status: int, headers: list[tuple[str, str]], body: bytes) -> Any:
    """What :func:`.http.to_flask` of ``HttpResponse(status, headers, body)`` makes Flask send: its status line,
    ``Content-Length`` first, then the app's headers but its own ``Content-Length``, and the body."""
    head = _head(status, headers, body)
    if head is None:
        return http.to_flask(HttpResponse(status, Headers(headers), body))
    return (_ANSWER or _answer_class())(head[0], head[1], body)


def _head(status: int, headers: list[tuple[str, str]], body: bytes) -> tuple[str, list[tuple[str, str]]] | None:
    """The status line and header list Flask would send for this answer (``Content-Length`` first, then the app's
    headers but its own ``Content-Length``); None when Flask would rewrite them (the general encoder's case)."""
    line = _STATUS_LINES.get(status)
    out = [("Content-Length", str(len(body)))]
    for name, value in headers:
        lower = name.lower()
        if lower in _REWRITTEN:
            return None
        if lower != "content-length":
            out.append((name, value))
    if line is None:
        return None
    return line, out


# Flask writes these itself (werkzeug's get_wsgi_headers: Location and Content-Location as URIs; no Content-Length
# or body for 1xx, 204 and 304): answers carrying them take the general encoder
_REWRITTEN = frozenset({"location", "content-location"})


def _status_lines() -> dict[int, str]:
    from werkzeug.http import HTTP_STATUS_CODES

    return {code: f"{code} {reason.upper()}" for code, reason in HTTP_STATUS_CODES.items()
            if code >= 200 and code not in (204, 304)}  # werkzeug's status line for an int status


_STATUS_LINES = _status_lines()
_ANSWER: Any = None


def _answer_class() -> Any:
    """A Flask response that is only what it sends (status line, header list, body), made once: Flask's app takes
    it as a response (``make_response`` passes a ``Response`` through), functions-framework's ``after_request``
    reads ``is_streamed`` (false: the body is a list), and the WSGI call sends it."""
    global _ANSWER
    if _ANSWER is None:
        import flask

        class Answer(flask.Response):
            def __init__(self, line: str, headers: list[tuple[str, str]], body: bytes) -> None:  # noqa: D107
                self.line = line
                self.header_list = headers
                self.response = [body]

            def __call__(self, environ: Any, start_response: Any) -> Any:
                start_response(self.line, self.header_list)
                return self.response

            def __repr__(self) -> str:
                return f"<Answer {self.line!r}>"

        _ANSWER = Answer
    return _ANSWER
