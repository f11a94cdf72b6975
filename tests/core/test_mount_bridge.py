"""The ASGI and WSGI bridges of ``app.mount`` on neutral requests, with hand-written apps that record exactly what
they were given: the cases no front door in the contract suite can show (every front door there joins repeated
headers) and the failure paths of the ASGI lifespan and of the app itself."""

from __future__ import annotations

import json
from typing import Any, Callable

import pytest

from portafunc import App, Headers, HttpRequest, RegistrationError
from portafunc.app import HttpTrigger
from portafunc.errors import InvalidHeader
from portafunc.events import HttpFields
from portafunc.mount import LifespanFailed, query_string

Scope = dict[str, Any]


def served(web_app: Any, prefix: str = "/x") -> Callable[[HttpRequest], Any]:
    app = App("bridge")
    app.mount(prefix, web_app)
    return app.function("mount_" + prefix.strip("/")).handler


def request(path: str = "/x/a", **kw: Any) -> HttpRequest:
    return HttpRequest(kw.pop("method", "GET"), path, **kw)


def recording_asgi(seen: list[Scope], lifespan: str = "complete") -> Any:
    async def web_app(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            message = await receive()
            assert message["type"] == "lifespan.startup"
            if lifespan == "unsupported":
                raise RuntimeError("no lifespan here")
            if lifespan == "failed":
                await send({"type": "lifespan.startup.failed", "message": "database unreachable"})
                return
            scope["state"]["ready"] = True
            await send({"type": "lifespan.startup.complete"})
            await receive()
            await send({"type": "lifespan.shutdown.complete"})
            return
        seen.append(scope)
        await receive()
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"set-cookie", b"a=1"), (b"set-cookie", b"b=2")]})
        await send({"type": "http.response.body", "body": b"part1-", "more_body": True})
        await send({"type": "http.response.body", "body": b"part2"})

    return web_app


def test_asgi_gets_repeated_headers_as_separate_entries_and_the_lifespan_state() -> None:
    seen: list[Scope] = []
    handler = served(recording_asgi(seen))
    resp = handler(request(headers=Headers([("X-Multi", "a"), ("X-Multi", "b"), ("Cookie", "c=1")])))
    assert resp.body == b"part1-part2"  # several body messages, one buffered response
    assert resp.headers.get_all("set-cookie") == ["a=1", "b=2"]
    scope = seen[0]
    assert [v for k, v in scope["headers"] if k == b"x-multi"] == [b"a", b"b"]
    assert scope["state"] == {"ready": True}
    assert scope["root_path"] == "/x" and scope["path"] == "/x/a"


def test_asgi_raw_path_is_the_percent_encoded_utf8_path() -> None:
    seen: list[Scope] = []
    served(recording_asgi(seen))(request("/x/é ü/%"))
    assert seen[0]["path"] == "/x/é ü/%"
    assert seen[0]["raw_path"] == b"/x/%C3%A9%20%C3%BC/%25"


def test_a_failed_lifespan_startup_fails_every_request() -> None:
    handler = served(recording_asgi([], lifespan="failed"))
    for _ in range(2):
        with pytest.raises(LifespanFailed, match="database unreachable"):
            handler(request())


def test_an_app_without_lifespan_support_is_served_without_one() -> None:
    seen: list[Scope] = []
    assert served(recording_asgi(seen, lifespan="unsupported"))(request()).status == 200
    assert seen[0]["state"] == {}


def test_an_asgi_failure_before_the_response_raises_and_after_it_is_logged(capsys: pytest.CaptureFixture[str]
                                                                         ) -> None:
    async def broken(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            raise RuntimeError("no lifespan")
        raise ValueError("before any response")

    with pytest.raises(ValueError, match="before any response"):
        served(broken)(request())

    async def late(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            raise RuntimeError("no lifespan")
        await send({"type": "http.response.start", "status": 201, "headers": []})
        await send({"type": "http.response.body", "body": b"done"})
        raise ValueError("after the response")

    resp = served(late)(request())
    assert (resp.status, resp.body) == (201, b"done")
    logged = capsys.readouterr().err
    assert "after its response was complete" in logged
    assert '"traceback": "Traceback (most recent call last)' in logged and ', in late\\n' in logged  # where


def test_wsgi_environ_joins_repeated_headers_and_drops_underscored_names() -> None:
    seen: list[dict[str, Any]] = []

    def web_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        seen.append(environ)
        write = start_response("207 Multi-Status", [("Set-Cookie", "a=1"), ("Set-Cookie", "b=2")])
        write(b"written-")
        return [environ["wsgi.input"].read(), b"-iterated"]

    resp = served(web_app)(request("/x/é", method="POST", body=b"\x00\xff", headers=Headers([
        ("X-Multi", "a"), ("X-Multi", "b"), ("Cookie", "c=1"), ("Cookie", "d=2"), ("X_Multi", "spoofed"),
        ("Content-Type", "application/octet-stream")])))
    assert (resp.status, resp.body) == (207, b"written-\x00\xff-iterated")
    assert resp.headers.get_all("set-cookie") == ["a=1", "b=2"]
    env = seen[0]
    assert env["HTTP_X_MULTI"] == "a, b" and env["HTTP_COOKIE"] == "c=1; d=2"
    assert (env["SCRIPT_NAME"], env["PATH_INFO"]) == ("/x", "/é".encode().decode("latin-1"))
    assert (env["CONTENT_TYPE"], env["CONTENT_LENGTH"]) == ("application/octet-stream", "2")


def test_the_query_string_keeps_repeated_keys_and_escapes_everything_reserved() -> None:
    assert query_string({"a": ["1", "x y"], "é": ["&=+#"], "b": [""]}) == "a=1&a=x%20y&%C3%A9=%26%3D%2B%23&b="
    assert query_string({}) == ""


def test_mount_is_one_http_function_with_a_catch_all_route() -> None:
    app = App("one")
    app.mount("/api/v1/", recording_asgi([]))
    spec = app.function("mount_api_v1")
    trigger = spec.trigger
    assert isinstance(trigger, HttpTrigger)
    assert trigger.route.template == "/api/v1/{path+}"
    assert trigger.route.bare == "/api/v1"  # the prefix's own URL is served too
    for path, rest in (("/api/v1", ""), ("/api/v1/", ""), ("/api/v1/a/b", "a/b")):
        assert app.route("GET", path)[:2] == (spec, {"path": rest})
    assert app.route("GET", "/api/v10")[0] is None
    assert set(trigger.methods) == {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"}
    root = App("root")
    root.mount("/", recording_asgi([]), name="site")
    site = root.function("site").trigger
    assert isinstance(site, HttpTrigger) and site.route.template == "/{path+}"
    assert root.route("GET", "/")[0] is root.function("site")
    with pytest.raises(RegistrationError, match="route parameters"):
        root.mount("/{x}", recording_asgi([]))
    assert json.dumps(app.resources().to_dict())  # a plain HTTP function in the resource model


def test_concurrent_requests_from_several_threads_share_one_loop() -> None:
    """The first request waits for the second, sent from another thread: both must run on the one loop at once
    (a loop per thread, or requests serialised, would never answer; the timeout only bounds a failure)."""
    import asyncio
    import threading

    arrived: dict[str, asyncio.Event] = {}

    async def web_app(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            raise RuntimeError("no lifespan")
        gate = arrived.setdefault("second", asyncio.Event())
        if scope["path"] == "/x/first":
            await asyncio.wait_for(gate.wait(), timeout=10)
        else:
            gate.set()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": scope["path"].encode()})

    handler = served(web_app)
    answers: dict[str, Any] = {}

    def call(path: str) -> None:
        answers[path] = handler(request(path)).body

    first = threading.Thread(target=call, args=("/x/first",))
    first.start()
    while "second" not in arrived:  # the first request is waiting on the loop
        threading.Event().wait(0.001)
    call("/x/second")
    first.join(timeout=15)
    assert answers == {"/x/first": b"/x/first", "/x/second": b"/x/second"}


def test_a_request_from_async_code_is_served_on_the_one_loop() -> None:
    """A host that calls the function from its own event loop (the loop cannot be nested) still gets the answer,
    and the lifespan state made on the one loop."""
    import asyncio

    seen: list[Scope] = []
    handler = served(recording_asgi(seen))

    async def host() -> Any:
        return handler(request())

    assert asyncio.run(host()).body == b"part1-part2"
    assert seen[0]["state"] == {"ready": True}


RAW_QUERIES = [
    "a=1&b=2&a=3",  # repeated keys, not grouped: key order as sent
    "q=a+b&r=a%20b",  # '+' and '%20' both as sent (a rebuild would make both %20)
    "e=&flag&=v",  # empty value, key without '=', empty key
    "path=%2Fx%2Fy&amp=%26&pct=%25&lower=%c3%a9",  # escapes of reserved characters, lowercase hex kept
    "k=/?:@!$'()*,;",  # characters a query may hold unescaped
]


@pytest.mark.parametrize("raw", RAW_QUERIES)
def test_the_query_string_as_sent_reaches_asgi_and_wsgi_unchanged(raw: str) -> None:
    seen: list[Scope] = []
    served(recording_asgi(seen))(request(raw_query=raw, query={"ignored": ["rebuilt"]}))
    assert seen[0]["query_string"] == raw.encode("ascii")
    environs: list[dict[str, Any]] = []

    def web_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        environs.append(environ)
        start_response("200 OK", [])
        return []

    served(web_app)(request(raw_query=raw, query={"ignored": ["rebuilt"]}))
    assert environs[0]["QUERY_STRING"] == raw


def test_a_query_without_its_raw_form_is_rebuilt_and_non_ascii_raw_text_is_escaped() -> None:
    seen: list[Scope] = []
    handler = served(recording_asgi(seen))
    handler(request(query={"q": ["x y", "é"]}))  # a front door that hands over parsed parameters only
    handler(request(raw_query="q=é ü#"))  # a front door that decoded the escapes of the query it kept
    handler(request(raw_query=""))
    assert [s["query_string"] for s in seen] == [b"q=x%20y&q=%C3%A9", b"q=%C3%A9%20%C3%BC%23", b""]


def gated_asgi(log: list[str], *, listen: bool = False) -> Any:
    """Sends "one" at once, "two" only once the test appended "go" to ``log``: a body produced in pieces."""
    async def web_app(scope: Scope, receive: Any, send: Any) -> None:
        import asyncio

        if scope["type"] == "lifespan":
            raise RuntimeError("no lifespan")
        await receive()
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"one", "more_body": True})
        log.append("sent one")
        try:
            for _ in range(2000):  # bounded: a buffering bridge fails here instead of hanging
                if "go" in log:
                    break
                if listen and (await asyncio.wait_for(receive(), 0.001))["type"] == "http.disconnect":
                    log.append("saw disconnect")
                    return
                await asyncio.sleep(0.001)
        except asyncio.TimeoutError:
            pass
        except asyncio.CancelledError:
            log.append("cancelled")
            raise
        await send({"type": "http.response.body", "body": b"two", "more_body": True})
        await send({"type": "http.response.body", "body": b""})
        log.append("finished")

    return web_app


def test_an_asgi_body_sent_in_pieces_is_handed_over_piece_by_piece() -> None:
    log: list[str] = []
    resp = served(gated_asgi(log))(request())
    assert resp.streamed and resp.status == 200 and resp.headers["content-type"] == "text/plain"
    pieces = resp.chunks()
    assert next(pieces) == b"one" and "finished" not in log  # handed over before the app produced the rest
    log.append("go")
    assert list(pieces) == [b"two"] and log[-1] == "finished"


def test_the_buffered_fallback_waits_for_the_whole_body() -> None:
    log: list[str] = ["go"]
    app = App("buffered")
    app.mount("/x", gated_asgi(log))
    from portafunc.invoke import handle_http

    resp = handle_http(app, request())  # a front door that sends bodies whole
    assert not resp.streamed and resp.body == b"onetwo" and log[-1] == "finished"


@pytest.mark.parametrize("listen", [True, False])
def test_a_client_gone_mid_body_disconnects_or_stops_the_asgi_app(listen: bool) -> None:
    log: list[str] = []
    resp = served(gated_asgi(log, listen=listen))(request())
    pieces = resp.chunks()
    assert next(pieces) == b"one"
    pieces.close()  # what a front door does when the client went away
    assert log[-1] == ("saw disconnect" if listen else "cancelled")


def test_a_wsgi_iterable_without_a_length_is_streamed_and_closed() -> None:
    log: list[str] = []

    class Body:
        def __iter__(self) -> Any:
            yield b"one"
            log.append("produced two")
            yield b"two"

        def close(self) -> None:
            log.append("closed")

    def web_app(environ: dict[str, Any], start_response: Any) -> Any:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return Body()

    def sized(environ: dict[str, Any], start_response: Any) -> Any:
        start_response("200 OK", [("Content-Length", "6")])
        return iter([b"one", b"two"])

    resp = served(web_app)(request())
    pieces = resp.chunks()
    assert next(pieces) == b"one" and log == []
    assert list(pieces) == [b"two"] and log == ["produced two", "closed"]
    log.clear()
    resp = served(web_app)(request())
    resp.chunks().close()  # started, then given up: the iterable is closed, the rest never produced
    assert not resp.pending and log == ["closed"]
    resp = served(sized)(request())
    assert not resp.streamed and resp.body == b"onetwo"  # a length announced: the body is short, sent whole


def test_a_failure_mid_body_reaches_the_front_door_and_a_buffered_one_answers_500() -> None:
    taken: list[bool] = []

    async def failing(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            raise RuntimeError("no lifespan")
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"one", "more_body": True})
        for _ in range(2000):  # until the front door took the first piece (bounded: a failure, never a hang)
            if taken:
                break
            await asyncio_sleep()
        raise ValueError("mid-body")

    resp = served(failing)(request())
    pieces = resp.chunks()
    assert next(pieces) == b"one"
    taken.append(True)
    with pytest.raises(ValueError, match="mid-body"):
        next(pieces)
    app = App("failing")
    app.mount("/x", failing)
    from portafunc.invoke import handle_http

    assert handle_http(app, request()).status == 500


async def asyncio_sleep() -> None:
    import asyncio

    await asyncio.sleep(0.001)


def answering_asgi(seen: list[Scope], headers: list[tuple[bytes, bytes]]) -> Any:
    async def web_app(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            raise RuntimeError("no lifespan here")
        seen.append(scope)
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"ok"})

    return web_app


def test_asgi_scope_takes_the_first_host_and_forwarded_proto_and_keeps_non_latin1_bytes() -> None:
    seen: list[Scope] = []
    handler = served(answering_asgi(seen, []))
    handler(request(headers=Headers([("Host", "api.example:8443"), ("X-Forwarded-Proto", "HTTP, https"),
                                     ("host", "other"), ("X-Name", "Zoë ✓")])))
    scope = seen[0]
    assert scope["scheme"] == "http"
    assert scope["server"] == ("api.example", 8443)
    assert scope["headers"] == [(b"host", b"api.example:8443"), (b"x-forwarded-proto", b"HTTP, https"),
                                (b"host", b"other"), (b"x-name", "Zoë ✓".encode())]


class _Settled(HttpFields):
    """A front door whose server settled the scheme itself (as the container's gunicorn does)."""

    __slots__ = ()

    def scheme(self, native: Any) -> str | None:
        scheme: str = native["scheme"]
        return scheme


def settled_request(scheme: str, headers: Headers) -> HttpRequest:
    req = HttpRequest("GET", "/x/a", headers=headers, client_ip="203.0.113.9", native={"scheme": scheme})
    req._fields = _Settled()
    return req


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_the_scheme_a_front_doors_server_settled_on_is_the_mounted_apps_not_the_header(scheme: str) -> None:
    """Where the request's server decided itself whom to believe about X-Forwarded-Proto
    (``HttpFields.scheme``), the mounted app gets that scheme, whatever the header says, or without one; the
    client is ``req.client_ip``. Elsewhere (the front end sets the header) the header still names it."""
    claims = Headers([("Host", "api.example"), ("X-Forwarded-Proto", "http" if scheme == "https" else "https")])
    port = 443 if scheme == "https" else 80
    seen: list[Scope] = []
    handler = served(answering_asgi(seen, []))
    environs: list[dict[str, Any]] = []

    def wsgi(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        environs.append(environ)
        start_response("200 OK", [])
        return [b"ok"]

    wsgi_handler = served(wsgi)
    for headers in (claims, Headers([("Host", "api.example")])):
        handler(settled_request(scheme, headers))
        wsgi_handler(settled_request(scheme, headers))
        assert (seen[-1]["scheme"], seen[-1]["server"], seen[-1]["client"]) == (scheme, ("api.example", port),
                                                                                ("203.0.113.9", 0))
        environ = environs[-1]
        assert (environ["wsgi.url_scheme"], environ["SERVER_PORT"], environ["REMOTE_ADDR"]) == \
            (scheme, str(port), "203.0.113.9")
    handler(request(headers=claims))  # no settled scheme: the front end's header
    assert seen[-1]["scheme"] == claims["x-forwarded-proto"]


def test_an_asgi_response_header_that_would_split_the_response_is_refused() -> None:
    handler = served(answering_asgi([], [(b"x-evil", b"a\r\nSet-Cookie: stolen=1")]))
    with pytest.raises(InvalidHeader, match="split the response"):
        handler(request())
