"""``app.mount``: the same FastAPI app (ASGI) and the same Flask app (WSGI), unchanged, through every front's real
entry point, beside a native route. Each case is one that a hand-written adapter tends to get wrong."""

from __future__ import annotations

import warnings

import pytest
from mounted_apps import load_mounted
from runner_driver import contract_fixtures

from portafunc import App, RegistrationError

mounted = load_mounted("portafunc_test_mounted")
app = mounted.app
BOTH = pytest.mark.parametrize("prefix", ["/fastapi", "/flask"])
FRONTS = ["aws", "azure", "gcp", "run"]  # the three clouds' entry points, and portafunc run


runner_driver, front = contract_fixtures(FRONTS)


@BOTH
def test_non_ascii_path_repeated_query_keys_and_escapes_reach_the_app(front, prefix: str) -> None:
    resp = front.http(app, "GET", f"{prefix}/echo/é ü", query={"q": ["1", "a&b=c", "ü +"]})
    assert resp.status == 200, resp.body
    doc = resp.json_body()
    assert doc["name"] == "é ü"
    assert doc["path"] == f"{prefix}/echo/é ü"
    assert doc["q"] == ["1", "a&b=c", "ü +"]
    assert doc["query"] == "q=1&q=a%26b%3Dc&q=%C3%BC%20%2B"


@BOTH
def test_generated_urls_carry_the_prefix(front, prefix: str) -> None:
    doc = front.http(app, "GET", f"{prefix}/echo/x", headers={"Host": "api.example"}).json_body()
    assert doc["url"].endswith(f"{prefix}/echo/n")
    if prefix == "/flask":
        assert doc["script_root"] == "/flask"


@BOTH
def test_repeated_request_headers_reach_the_app(front, prefix: str) -> None:
    doc = front.http(app, "GET", f"{prefix}/echo/x", headers={"X-Multi": ["a", "b"]}).json_body()
    # two values, or one joined with commas by the front door (API Gateway v2, Azure), as RFC 9110 allows
    assert [v.strip() for v in doc["multi"].split(",")] == ["a", "b"]


@BOTH
@pytest.mark.parametrize("value", ["zoë", "zoë ✓"])
def test_a_non_ascii_header_reaches_the_app_as_the_bytes_sent(front, prefix: str, value: str) -> None:
    """A header sent as UTF-8 bytes reaches the app as those bytes: the ASGI scope's header bytes, the WSGI
    environ's latin-1 string of them (PEP 3333), whichever front door read it. "zoë" fits latin-1, so a bridge that
    encodes text as latin-1 gives other bytes; one that encodes an environ's latin-1 string again gives more."""
    doc = front.http(app, "GET", f"{prefix}/echo/x", headers={"X-Name": value}).json_body()
    assert doc["name_bytes"] == value.encode().hex()


@BOTH
def test_binary_request_and_response_bodies_are_exact(front, prefix: str) -> None:
    resp = front.http(app, "POST", f"{prefix}/bytes", body=mounted.BINARY,
                      headers={"Content-Type": "application/octet-stream"})
    assert resp.status == 200
    assert resp.body == mounted.BINARY[::-1] and resp.headers["x-length"] == "256"
    resp = front.http(app, "GET", f"{prefix}/binary")
    assert resp.status == 200 and resp.body == mounted.BINARY
    assert resp.headers["content-type"] == "image/png"


@BOTH
def test_several_set_cookie_headers_survive(front, prefix: str) -> None:
    resp = front.http(app, "GET", f"{prefix}/cookies")
    assert resp.status == 200
    cookies = resp.headers.get_all("set-cookie")
    assert [c.split(";")[0] for c in cookies] == ["a=1", "b=2"]


@BOTH
def test_head_answers_the_get_headers_without_a_body(front, prefix: str) -> None:
    resp = front.http(app, "HEAD", f"{prefix}/binary")
    assert resp.status == 200 and resp.body == b""
    assert resp.headers["content-type"] == "image/png"


@BOTH
def test_empty_request_and_response_bodies(front, prefix: str) -> None:
    resp = front.http(app, "POST", f"{prefix}/bytes")
    assert resp.status == 200 and resp.body == b"" and resp.headers["x-length"] == "0"
    resp = front.http(app, "DELETE", f"{prefix}/empty")
    assert resp.status == 204 and resp.body == b""


@BOTH
def test_the_apps_own_404_and_portafunc_routes_beside_it(front, prefix: str) -> None:
    assert front.http(app, "GET", f"{prefix}/nowhere").status == 404
    assert front.http(app, "GET", "/native").body == b"native"
    assert front.http(app, "GET", "/elsewhere").status == 404


@BOTH
def test_the_body_limit_applies_before_the_app(front, prefix: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import portafunc.invoke

    monkeypatch.setattr(portafunc.invoke, "MAX_BODY_BYTES", 100)
    resp = front.http(app, "POST", f"{prefix}/bytes", body=b"x" * 101)
    assert resp.status == 413 and resp.headers["content-type"] == "application/problem+json"


def test_asgi_lifespan_starts_once_and_its_state_reaches_every_request(front) -> None:
    for _ in range(3):
        doc = front.http(app, "GET", "/fastapi/echo/x").json_body()
        assert doc["state"] == "yes"
    assert doc["startups"] == 1 and mounted.events.count("startup") == 1  # once per process, whatever the target


def test_asgi_background_tasks_finish_before_the_invocation_returns(front) -> None:
    tag = f"{front.name}-{len(mounted.events)}"
    resp = front.http(app, "POST", f"/fastapi/later/{tag}")
    assert resp.status == 200 and resp.json_body() == {"queued": tag}
    assert f"asgi task {tag}" in mounted.events


def test_a_synchronous_endpoint_is_served_from_a_worker_thread(front) -> None:
    for _ in range(2):
        resp = front.http(app, "GET", "/fastapi/sync")
        assert resp.status == 200 and resp.json_body() == {"in_a_worker": True}


def test_an_app_that_is_neither_asgi_nor_wsgi_is_refused() -> None:
    target = App("refused")
    with pytest.raises(RegistrationError, match="neither an ASGI 3 app"):
        target.mount("/x", lambda a, b, c: None)
    with pytest.raises(RegistrationError, match="not callable"):
        target.mount("/x", object())
    with pytest.raises(RegistrationError, match="must start with '/'"):
        target.mount("api", mounted.api)
    target.mount("/api", mounted.api)
    with pytest.raises(RegistrationError, match="registered twice"):
        target.mount("/api", mounted.flask_app)


@BOTH
def test_a_large_binary_body_within_the_limit_is_exact(front, prefix: str) -> None:
    body = bytes(range(256)) * 4096  # 1 MiB, under every platform's request limit
    resp = front.http(app, "POST", f"{prefix}/bytes", body=body, headers={"Content-Type": "application/octet-stream"})
    assert resp.status == 200 and resp.body == body[::-1]


def test_a_header_that_would_split_the_response_is_refused(front) -> None:
    async def splitting(scope, receive, send) -> None:
        if scope["type"] == "lifespan":
            raise RuntimeError("no lifespan")
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"x-injected", b"a\r\nset-cookie: stolen=1")]})
        await send({"type": "http.response.body", "body": b"ok"})

    def splitting_wsgi(environ, start_response):
        start_response("200 OK", [("X-Injected", "a\r\nSet-Cookie: stolen=1")])
        return [b"ok"]

    target = App("splitting")
    target.mount("/asgi", splitting)
    target.mount("/wsgi", splitting_wsgi)
    for path in ("/asgi/x", "/wsgi/x"):
        resp = front.http(target, "GET", path)
        assert resp.status == 500 and "x-injected" not in resp.headers and "set-cookie" not in resp.headers


@BOTH
def test_a_body_sent_in_pieces_arrives_whole_where_the_front_door_buffers(front, prefix: str) -> None:
    """A FastAPI StreamingResponse and a Flask generator response: every piece, in order, with the app's headers
    (these drivers answer with one native response; portafunc run and functions-framework stream it instead)."""
    resp = front.http(app, "GET", f"{prefix}/stream")
    assert resp.status == 200 and resp.body == b"".join(mounted.STREAM_PARTS)
    assert resp.headers["x-streamed"] == "yes" and resp.headers["content-type"].startswith("text/plain")


@BOTH
def test_the_prefix_itself_is_served_by_the_app(front, prefix: str) -> None:
    """``/api`` and ``/api/`` reach the mounted app: it redirects the first to the second (FastAPI 307, Flask 308,
    as under any server with a root path) and serves its index at the second."""
    resp = front.http(app, "GET", prefix, headers={"Host": "api.example"})
    assert resp.status in (307, 308) and resp.headers["location"].endswith(f"api.example{prefix}/")
    resp = front.http(app, "GET", f"{prefix}/")
    assert resp.status == 200 and resp.json_body() == {"index": f"{prefix}/", "root_path": prefix}


def test_every_path_the_openapi_document_lists_is_served_as_listed(front) -> None:
    """The document lists the URL a client must call: the FastAPI app's index ``/`` is ``/fastapi/`` (``/fastapi``
    is a redirect to it), on every front door."""
    with warnings.catch_warnings():  # FastAPI's own, once: its GET+HEAD route repeats an operationId in its schema
        warnings.filterwarnings("ignore", "Duplicate Operation ID", UserWarning)
        doc = app.openapi()
    listed = [path for path, item in doc["paths"].items() if "{" not in path and "get" in item]
    assert "/fastapi/" in listed and "/fastapi" not in doc["paths"]
    for path in listed:
        resp = front.http(app, "GET", path)
        assert str(resp.status) in doc["paths"][path]["get"]["responses"], (path, resp.status)
