"""A mounted WSGI app's lane on Google Cloud (``portafunc_gcp.codecs.mount``) against the general path, on the
same requests through the real entry: the generated ``main.py`` served by functions-framework's own Flask app.

Two functions-framework apps serve the same App; in one of them the lane is switched off, so every request there
takes ``handle_http`` → ``HttpRequest`` → the bridge → ``HttpResponse`` → ``to_flask``. Status, header list (order
included) and body must be the same, and the same log lines written; the lane must have answered the request (or,
for the answers it leaves to the general encoder, been reached)."""

from __future__ import annotations

import sys
from typing import Any, Iterator

import pytest
from mounted_apps import asgi_failing, failing, load_mounted, splitting
from werkzeug.test import EnvironBuilder

from portafunc import App, HttpRequest

from .gcp_serving import generated_main, served

mounted = load_mounted("portafunc_test_mounted_lane")


def odd(environ: Any, start_response: Any) -> Any:
    """Answers shaped by the request: a status given by ``?status=``, a reason phrase of its own, a wrong
    Content-Length, headers Flask rewrites, and several pieces of a body with its length announced."""
    from urllib.parse import parse_qs

    query = parse_qs(environ["QUERY_STRING"])
    status = query.get("status", ["200"])[0]
    headers = [("Content-Type", "text/plain"), ("X-Seen-Remote", environ["REMOTE_ADDR"]),
               ("X-Seen-Scheme", environ["wsgi.url_scheme"]), ("X-Seen-Server", environ["SERVER_NAME"]),
               ("X-Seen-Port", environ["SERVER_PORT"]), ("X-Seen-Type", environ.get("CONTENT_TYPE", "-")),
               ("X-Seen-Agent", environ.get("HTTP_USER_AGENT", "-")), ("Content-Length", "11")]
    if "location" in query:
        headers.append(("Location", query["location"][0]))
    start_response(f"{status} Just Because", headers)
    return iter([b"hello ", b"", b"world"])


def build_app() -> App:
    app = App("gcp-mount-lane")
    app.mount("/flask", mounted.flask_app)
    app.mount("/failing", failing)
    app.mount("/splitting", splitting)
    app.mount("/odd", odd)
    app.mount("/fastapi", mounted.api)
    app.mount("/asgi-failing", asgi_failing)

    @app.http("GET", "/native")
    def native(req: HttpRequest) -> str:
        return "native"

    return app


def _client(flask_app: Any, entry: Any, lane_on: bool, answered: list[Any], first: str) -> Any:
    """A test client of functions-framework's app: with the entry's mount lanes watched (each answer one gives put
    in ``answered``: ``("front", answer)`` from the lane in front of Flask's dispatch, ``("dispatch", answer)`` from
    the lane inside it), or with the lanes switched off so every request takes the general path. A first request
    (to ``first``) puts the front lane in place."""
    if lane_on:
        lane, front = entry._mount_lane, entry._front
        assert lane is not None and front is not None

        def spy(request: Any, function: str | None = None) -> Any:
            answer = lane(request, function)
            answered.append(("dispatch", answer))
            return answer

        def front_spy(environ: Any, start_response: Any, function: str | None) -> Any:
            answer = front(environ, start_response, function)
            answered.append(("front", answer))
            return answer

        entry._mount_lane = spy
        entry._front = front_spy
    else:
        entry._mount_lane = entry._front = None
        entry._front_pending = False
    client = flask_app.test_client(use_cookies=False)
    client.get(first)
    answered.clear()
    dispatch = flask_app.wsgi_app.wsgi_app  # what functions-framework's execution-id middleware calls
    assert (getattr(dispatch, "__self__", None) is flask_app) is not lane_on  # the front lane is there, or not
    return client


def _answered_by(answers: list[tuple[str, Any]]) -> str | None:
    """Which lane answered a request (None: the general path), from the answers the lanes gave it: at most one,
    the last."""
    given = [where for where, answer in answers if answer is not None]
    assert len(given) <= 1 and (not given or answers[-1][1] is not None), answers
    return given[0] if given else None


@pytest.fixture(scope="module")
def fronts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Any, list[Any]]]:
    """(lane client, general client, the answers the lane gave)."""
    import functions_framework

    from portafunc_gcp.deploy.main_py import HTTP_SERVICE, render_main
    from portafunc_gcp.runtime import register

    app = build_app()
    register("gcp-mount-lane", app)
    source = tmp_path_factory.mktemp("gcp-mount-lane") / "portafunc_gcp_mount_lane_main.py"
    source.write_text(render_main(app, "registered:gcp-mount-lane", root=None), encoding="utf-8")
    answered: list[Any] = []
    clients = []
    for lane_on in (True, False):
        flask_app = functions_framework.create_app(target=HTTP_SERVICE, source=str(source))
        entry = sys.modules[source.stem]._portafunc_entry  # the module functions-framework just loaded
        assert entry.app is app
        clients.append(_client(flask_app, entry, lane_on, answered, "/nowhere"))
    yield clients[0], clients[1], answered


BINARY = bytes(range(256))


def sent(text: str) -> str:
    """A header value as a WSGI server puts it in the environ when the client sent ``text`` in UTF-8 (PEP 3333: the
    bytes read as latin-1); werkzeug's test client would put the text there as it is."""
    return text.encode().decode("latin-1")


CASES: list[tuple[str, str, dict[str, Any]]] = [
    ("GET", "/flask/echo/x", {"query_string": "q=1&q=a%26b%3Dc&q=%C3%BC%20%2B&empty=&plus=a+b"}),
    ("GET", "/flask/echo/é ü", {}),
    ("GET", "/flask/echo/x", {"headers": [("X-Multi", "a"), ("X-Multi", "b"), ("Host", "api.example")]}),
    ("GET", "/flask/echo/x", {"environ_overrides": {"QUERY_STRING": "raw=\xc3\xa9 x#y"}}),
    ("POST", "/flask/bytes", {"data": BINARY, "headers": [("Content-Type", "application/octet-stream")]}),
    ("POST", "/flask/bytes", {}),
    ("POST", "/flask/bytes", {"data": BINARY * 4096}),
    ("GET", "/flask/binary", {}),
    ("HEAD", "/flask/binary", {}),
    ("GET", "/flask/cookies", {"headers": [("Cookie", "a=1; b=2")]}),
    ("DELETE", "/flask/empty", {}),
    ("GET", "/flask/nowhere", {}),
    ("GET", "/flask", {"headers": [("Host", "api.example")]}),
    ("GET", "/flask/", {}),
    ("GET", "/flask/stream", {}),
    ("GET", "/failing/x", {}),
    ("GET", "/splitting/x", {}),
    ("POST", "/odd/x", {"data": b"{}", "headers": [("Content-Type", "application/json"), ("User-Agent", sent("é-agent")),
                                                 ("X-Forwarded-For", "10.0.0.1, 203.0.113.9"),
                                                 ("X-Forwarded-Proto", "http"), ("Host", "h.example:8443")]}),
    ("GET", "/odd/x", {"query_string": "status=599"}),
    ("GET", "/odd/x", {"query_string": "status=404"}),
    ("GET", "/odd/x", {"query_string": "status=204"}),
    ("GET", "/odd/x", {"query_string": "status=304"}),
    ("GET", "/odd/x", {"query_string": "location=/é"}),
    ("GET", "/fastapi/echo/x", {"query_string": "q=1&q=a%26b%3Dc&q=%C3%BC%20%2B", "headers": [("Host", "api.example")]}),
    # the same headers, one value ASCII then not: the lane reads each request's values, whatever it kept of the first
    ("GET", "/fastapi/echo/plain", {"headers": [("X-Multi", "a"), ("X-Multi", "b"), ("User-Agent", "e v")]}),
    ("GET", "/fastapi/echo/é ü", {"headers": [("X-Multi", "a"), ("X-Multi", "b"), ("User-Agent", sent("é ✓"))]}),
    ("POST", "/fastapi/bytes", {"data": BINARY, "headers": [("Content-Type", "application/octet-stream")]}),
    ("POST", "/fastapi/bytes", {"data": BINARY * 4096}),
    ("POST", "/fastapi/bytes", {}),
    ("GET", "/fastapi/binary", {}),
    ("HEAD", "/fastapi/binary", {}),
    ("GET", "/fastapi/cookies", {}),
    ("DELETE", "/fastapi/empty", {}),
    ("GET", "/fastapi/nowhere", {}),
    ("GET", "/fastapi", {"headers": [("Host", "api.example")]}),
    ("GET", "/fastapi/", {"headers": [("X-Forwarded-For", "10.0.0.1, 203.0.113.9"), ("X-Forwarded-Proto", "http")]}),
    ("GET", "/fastapi/stream", {}),
    ("GET", "/asgi-failing/x", {}),
    ("GET", "/native", {}),
]
TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"  # the same trace in both log lines
LEFT_TO_THE_GENERAL_PATH = {("HEAD", "/flask/binary"), ("HEAD", "/fastapi/binary"), ("GET", "/native"),
                            ("POST", "/odd/x"), ("GET", "/fastapi/echo/é ü")}  # the last two: non-ASCII headers
# a path that is not ASCII as the WSGI server gives it (werkzeug's request.path reads it): the lane inside the
# dispatch serves it; the lane in front of the dispatch every other request a lane serves
ANSWERED_IN_THE_DISPATCH = {("GET", "/flask/echo/é ü")}


def _both_ways(lane: Any, general: Any, method: str, path: str, options: dict[str, Any],
               capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture | None = None
               ) -> tuple[list[Any], list[Any]]:
    """The same request through the lane's client and the general path's: (status, headers, body) of each, and the
    log lines each wrote (with the ``logging`` records too when ``caplog`` is given)."""
    options = {**options, "headers": [*options.get("headers", []), ("Function-Execution-Id", "exec-1"),
                                      ("traceparent", TRACEPARENT)]}
    outs, logs = [], []
    for client in (lane, general):
        capfd.readouterr()
        if caplog is not None:
            caplog.clear()
        got = client.open(path, method=method, **options)
        outs.append((got.status, got.headers.to_wsgi_list(), got.get_data()))
        lines = _log_lines(capfd.readouterr().err)
        logs.append(lines if caplog is None else (lines, [(r.levelname, r.getMessage()) for r in caplog.records]))
    return outs, logs


@pytest.mark.parametrize(("method", "path", "options"), CASES, ids=[f"{m} {p} {i}" for i, (m, p, _) in
                                                                     enumerate(CASES)])
def test_the_lane_answers_as_the_general_path(fronts: tuple[Any, Any, list[Any]], capfd: pytest.CaptureFixture[str],
                                               caplog: pytest.LogCaptureFixture, method: str, path: str,
                                               options: dict[str, Any]) -> None:
    lane, general, answered = fronts
    before = len(answered)
    outs, logs = _both_ways(lane, general, method, path, options, capfd, caplog)
    assert outs[0] == outs[1]
    assert logs[0] == logs[1]
    assert answered[before:], "no lane was reached"
    if (method, path) in LEFT_TO_THE_GENERAL_PATH:
        assert _answered_by(answered[before:]) is None
    else:
        assert _answered_by(answered[before:]) == ("dispatch" if (method, path) in ANSWERED_IN_THE_DISPATCH
                                                   else "front")


def _log_lines(err: str) -> list[str]:
    """The log lines, without what differs between two invocations (ids, times)."""
    import json

    lines = []
    for line in err.splitlines():
        try:
            doc = json.loads(line)
        except ValueError:
            lines.append(line)
            continue
        if isinstance(doc, dict):
            for key in ("invocation_id", "time", "timestamp", "ts", "correlation_id", "trace", "span_id",
                        "logging.googleapis.com/trace", "logging.googleapis.com/spanId", "traceback"):
                doc.pop(key, None)
        lines.append(json.dumps(doc, sort_keys=True))
    return lines


@pytest.fixture(scope="module")
def function_fronts(fronts: tuple[Any, Any, list[Any]], tmp_path_factory: pytest.TempPathFactory
                    ) -> Iterator[dict[str, tuple[Any, Any, list[Any]]]]:
    """Per mounted function deployed on its own (the generated main.py's function of that name): (lane client,
    general client, the answers the lane gave)."""
    import functions_framework

    from portafunc_gcp.deploy.main_py import render_main
    from portafunc_gcp.runtime import register

    app = build_app()
    register("gcp-mount-lane-functions", app)
    source = tmp_path_factory.mktemp("gcp-mount-lane-fn") / "portafunc_gcp_mount_lane_fn_main.py"
    source.write_text(render_main(app, "registered:gcp-mount-lane-functions", root=None), encoding="utf-8")
    out = {}
    for name in ("mount_flask", "mount_fastapi", "mount_odd"):
        answered: list[Any] = []
        clients = []
        for lane_on in (True, False):
            flask_app = functions_framework.create_app(target=name, source=str(source))
            entry = sys.modules[source.stem]._portafunc_entry
            clients.append(_client(flask_app, entry, lane_on, answered, "/elsewhere/first"))
        out[name] = (clients[0], clients[1], answered)
    yield out


FUNCTION_CASES = [(m, p, o) for m, p, o in CASES if p.startswith(("/flask", "/fastapi", "/odd"))] + [
    ("GET", "/elsewhere/x", {}), ("GET", "/flaskish/x", {})]  # paths the function's route does not match: 404


@pytest.mark.parametrize(("method", "path", "options"), FUNCTION_CASES,
                         ids=[f"{m} {p} {i}" for i, (m, p, _) in enumerate(FUNCTION_CASES)])
def test_a_mount_deployed_on_its_own_answers_as_the_general_path(
        function_fronts: dict[str, tuple[Any, Any, list[Any]]], capfd: pytest.CaptureFixture[str], method: str,
        path: str, options: dict[str, Any]) -> None:
    """The function of one mount, deployed on its own (``Entry.http``): the lane matches its route once, and
    answers (or leaves to the general path: HEAD, non-ASCII headers, paths its route does not match) as it."""
    name = {"fastapi": "mount_fastapi", "odd": "mount_odd"}.get(path.split("/")[1], "mount_flask")
    lane, general, answered = function_fronts[name]
    before = len(answered)
    outs, logs = _both_ways(lane, general, method, path, options, capfd)
    assert outs[0] == outs[1]
    assert logs[0] == logs[1]
    assert answered[before:], "no lane was reached"
    if (method, path) in LEFT_TO_THE_GENERAL_PATH or not path.startswith(("/flask", "/fastapi", "/odd")) or \
            path.startswith("/flaskish"):
        assert _answered_by(answered[before:]) is None
    else:
        assert _answered_by(answered[before:]) == ("dispatch" if (method, path) in ANSWERED_IN_THE_DISPATCH
                                                   else "front")


ENVIRONS = [
    ("/flask", {"path": "/flask/echo/é ü", "query_string": "q=1&q=%C3%BC+x&e="}),
    ("/flask", {"path": "/flask", "headers": [("Host", "api.example:8080"), ("X-Forwarded-Proto", "HTTPS, http")]}),
    ("/flask", {"path": "/flask/x", "headers": [("X-Forwarded-For", "1.1.1.1,  2.2.2.2 "), ("Cookie", "a=1"),
                                                ("User-Agent", sent("é")),
                                                ("Content-Type", sent("text/plain; charset=é"))],
                "data": b"body", "method": "POST"}),
    ("", {"path": "//x//y", "headers": [("Host", "[::1]:9000")], "environ_overrides": {"QUERY_STRING": "a=\xff b#c"}}),
    ("", {"path": "/", "environ_overrides": {"REMOTE_ADDR": "192.0.2.7", "CONTENT_TYPE": ""}}),
]


@pytest.mark.parametrize(("prefix", "request_options"), ENVIRONS)
def test_the_lane_environ_holds_what_the_general_path_gives_the_app(prefix: str, request_options: dict[str, Any]
                                                                    ) -> None:
    """Every key the general path's environ has, with the same value (the body's stream holding the same bytes);
    the lane's environ keeps the server's own keys beside them."""
    import flask

    from portafunc.mount import _WsgiBridge
    from portafunc_gcp.codecs import http
    from portafunc_gcp.codecs import mount as mount_codec

    bridge = _WsgiBridge(mounted.flask_app, prefix)
    native = EnvironBuilder(**request_options).get_environ()
    request = flask.Request(native)
    general = bridge.environ(http.from_flask(request))
    client_ip = mount_codec.client_ip(request)
    assert client_ip == http._FLASK_FIELDS.client_ip(request)
    lane = bridge.environ_of(request.environ, request.method, request.path, http._raw_query(request.query_string),
                             client_ip, request.get_data(cache=True))
    assert lane["wsgi.input"].read() == general.pop("wsgi.input").read()
    assert {key: lane[key] for key in general} == general
    for key, value in native.items():  # a header's bytes as the server read them (PEP 3333), on both paths
        if key[:5] == "HTTP_" and key not in ("HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH") or key == "CONTENT_TYPE":
            assert general.get(key, value) == value, key
    assert not {key for key in lane if key not in general and (key[:5] == "HTTP_" or key in ("CONTENT_TYPE",))}


@pytest.mark.parametrize(("prefix", "request_options"), ENVIRONS)
def test_the_lane_scope_is_the_general_paths(prefix: str, request_options: dict[str, Any]) -> None:
    """The ASGI scope from functions-framework's environ equals the one the general path builds (its state a copy
    of the lifespan's, as on every request)."""
    import flask

    from portafunc.mount import _AsgiBridge
    from portafunc_gcp.codecs import http
    from portafunc_gcp.codecs import mount as mount_codec

    bridge = _AsgiBridge(mounted.api, prefix)
    bridge.state["started"] = "yes"
    native = EnvironBuilder(**request_options).get_environ()
    request = flask.Request(native)
    general = bridge.scope(http.from_flask(request))
    lane = bridge.scope_of(request.environ, request.method, request.path, http._raw_query(request.query_string),
                           mount_codec.client_ip(request))
    assert lane == general
    assert lane["state"] is not bridge.state


@pytest.mark.parametrize("prefix", ["/flask", "/fastapi"])
def test_the_body_limit_answers_as_the_general_path(fronts: tuple[Any, Any, list[Any]], monkeypatch: pytest.MonkeyPatch,
                                                    prefix: str) -> None:
    import portafunc.invoke

    monkeypatch.setattr(portafunc.invoke, "MAX_BODY_BYTES", 100)
    lane, general, answered = fronts
    before = len(answered)
    outs = []
    for client in (lane, general):
        got = client.open(f"{prefix}/bytes", method="POST", data=b"x" * 101,
                          headers=[("Function-Execution-Id", "exec-1")])
        outs.append((got.status, got.headers.to_wsgi_list(), got.get_data()))
    assert outs[0] == outs[1] and outs[0][0].startswith("413")
    assert _answered_by(answered[before:]) == "front"


def _lane_and_general(app: App, key: str, folder: Any, target: str) -> tuple[Any, Any, list[Any]]:
    """(lane client, general client, the answers the lanes gave) of functions-framework apps serving ``target`` of
    the generated main.py of ``app``."""
    import functions_framework

    source = generated_main(app, key, folder)
    answered: list[Any] = []
    clients = []
    for lane_on in (True, False):
        flask_app = functions_framework.create_app(target=target, source=str(source))
        clients.append(_client(flask_app, sys.modules[source.stem]._portafunc_entry, lane_on, answered, "/first"))
    return clients[0], clients[1], answered


def path_echo(environ: Any, start_response: Any) -> Any:
    body = f"{environ['SCRIPT_NAME']}|{environ['PATH_INFO']}".encode("latin-1")
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


@pytest.mark.parametrize(("path", "by"), [("/robots.txt", None), ("/favicon.ico", None), ("/x//y", "dispatch"),
                                          ("/robots.txt/", "front"), ("/x", "front"), ("/", "front")])
def test_a_root_mount_leaves_functions_framework_its_own_answers(tmp_path: Any, capfd: pytest.CaptureFixture[str],
                                                                  path: str, by: str | None) -> None:
    """A web app mounted at the root, the app's only function: what functions-framework's routing answers itself
    (404 for ``/robots.txt`` and ``/favicon.ico``) is still its answer, and a path werkzeug reads otherwise than
    as sent (slashes doubled) is left to the lane inside the dispatch."""
    app = App("gcp-mount-root")
    app.mount("/", path_echo)
    from portafunc_gcp.deploy.main_py import HTTP_SERVICE

    lane, general, answered = _lane_and_general(app, "gcp-mount-root", tmp_path, HTTP_SERVICE)
    outs, logs = _both_ways(lane, general, "GET", path, {}, capfd)
    assert outs[0] == outs[1]
    assert logs[0] == logs[1]
    if by is None:
        assert outs[0][0].startswith("404") and answered == [("front", None)]  # the function never ran
    else:
        assert _answered_by(answered) == by


def context_echo(environ: Any, start_response: Any) -> Any:
    """The invocation the mounted app runs in, as it reads it: its facts and the front door's request."""
    import json

    from portafunc import context

    now = context.current()
    assert now is not None
    native = now.native_context
    body = json.dumps({"function": now.function, "trigger": now.trigger, "target": now.target,
                       "correlation": now.correlation_id, "trace": now.trace.trace_id if now.trace else None,
                       "native": type(native).__name__, "method": native.method, "path": native.path,
                       "query": native.query_string.decode(), "data": native.get_data().decode("latin-1"),
                       "agent": native.headers.get("User-Agent"), "read": environ["wsgi.input"].read().decode()
                       }).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


@pytest.mark.parametrize("options", [{}, {"data": b"some body", "query_string": "a=1&b"},
                                     {"data": b"chunked", "headers": [("Transfer-Encoding", "chunked")]}])
def test_the_invocation_the_app_reads_is_the_general_paths(tmp_path: Any, capfd: pytest.CaptureFixture[str],
                                                           options: dict[str, Any]) -> None:
    """The invocation context read from inside the mounted app (its function, correlation, trace and the front
    door's own request, body included) is the one the general path gives it."""
    app = App("gcp-mount-context")
    app.mount("/ctx", context_echo)
    from portafunc_gcp.deploy.main_py import HTTP_SERVICE

    lane, general, answered = _lane_and_general(app, "gcp-mount-context", tmp_path, HTTP_SERVICE)
    options = {**options, "headers": [*options.get("headers", []), ("X-Correlation-Id", "corr-7"),
                                      ("User-Agent", "agent/1")]}
    outs, logs = _both_ways(lane, general, "POST", "/ctx/x", options, capfd)
    assert outs[0] == outs[1], outs
    assert logs[0] == logs[1]
    assert _answered_by(answered) == "front"
    import json

    seen = json.loads(outs[0][2])
    assert seen["correlation"] == "corr-7" and seen["native"] == "Request" and seen["data"] == seen["read"]


@pytest.mark.parametrize("setting", ["LOG_EXECUTION_ID", "MAX_CONTENT_LENGTH"])
def test_the_front_lane_stays_out_where_the_dispatch_does_more_than_route(
        tmp_path: Any, monkeypatch: pytest.MonkeyPatch, setting: str) -> None:
    """With execution-id logging on (functions-framework's view wrapper then redirects output) or a request size
    limit configured (Flask's request enforces it), every request goes through functions-framework's dispatch,
    where the lane inside it still serves the mount."""
    app = App("gcp-mount-front-off")
    app.mount("/x", path_echo)
    flask_app = served(app, "gcp-mount-front-off", tmp_path)
    if setting == "LOG_EXECUTION_ID":
        monkeypatch.setenv("LOG_EXECUTION_ID", "true")  # after create_app: its logging set-up is not under test
    else:
        flask_app.config["MAX_CONTENT_LENGTH"] = 1 << 20
    client = flask_app.test_client(use_cookies=False)
    for _ in range(2):
        got = client.get("/x/y")
        assert got.status_code == 200 and got.get_data() == b"/x|/y"
    dispatch = flask_app.wsgi_app.wsgi_app
    assert getattr(dispatch, "__self__", None) is flask_app  # Flask's own wsgi_app, nothing in front of it
