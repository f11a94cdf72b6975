"""The request a handler sees is the same whatever carries it: each target's contract driver (the Lambda handler, the
generated Azure FunctionApp, functions-framework's app, the container's WSGI service) and ``portafunc run``'s own
server, for the parts of a request a front door tends to rewrite: the percent-escapes of its path, repeated
``Cookie`` headers and header names with ``_``."""

from __future__ import annotations

from typing import Any

import pytest
from runner_driver import contract_fixtures, get_json

from portafunc import App, HttpRequest
from portafunc.targets import available
from portafunc.testing import Cloud

FRONTS = sorted(available()) + ["run"]  # every installed target's entry point, and portafunc run

app = App("request-identity")


def _seen(req: HttpRequest) -> dict[str, Any]:
    return {"path": req.path, "raw_path": req.raw_path, "params": req.path_params, "cookies": req.cookies,
            "cookie_headers": req.headers.get_all("cookie"),
            "x_headers": sorted([k.lower(), v] for k, v in req.headers.items() if k.lower().startswith("x"))}


@app.http("GET", "/echo")
def echo(req: HttpRequest) -> dict[str, Any]:
    return _seen(req)


@app.http("GET", "/files/{name}")
def one_file(req: HttpRequest) -> dict[str, Any]:
    return {"route": "/files/{name}", **_seen(req)}


@app.http("GET", "/files/{folder}/{name}")
def file_in_folder(req: HttpRequest) -> dict[str, Any]:
    return {"route": "/files/{folder}/{name}", **_seen(req)}


@app.http("GET", "/café")
def cafe(req: HttpRequest) -> dict[str, Any]:
    return {"route": "/café", **_seen(req)}


@app.http("GET", "/items/{item}")
def item(item: str) -> dict[str, str]:
    return {"item": item}


runner_driver, front = contract_fixtures(FRONTS)


def _get(front: Cloud, path: str, **kw: Any) -> dict[str, Any]:
    return get_json(front, app, path, **kw)


# -- the path ---------------------------------------------------------------------------------------------------------

# One behaviour, what the clouds deliver: req.path is the path percent-decoded as UTF-8 (API Gateway's rawPath decoded,
# werkzeug's PATH_INFO, the Azure host's URL decoded), req.raw_path the path as sent, escapes kept (rawPath, the
# request target gunicorn keeps in RAW_URI, the URL the Azure host hands over), and path parameters are decoded
# (API Gateway's pathParameters, the Azure host's route values). Routes are matched segment by segment on the path as
# sent, as API Gateway and the Azure host match them: an escaped "/" stays inside its parameter.
@pytest.mark.parametrize(("sent", "path", "raw_path", "route", "params"), [
    ("/files/a%20b", "/files/a b", "/files/a%20b", "/files/{name}", {"name": "a b"}),
    ("/files/a b", "/files/a b", "/files/a%20b", "/files/{name}", {"name": "a b"}),
    ("/files/a%2Fb", "/files/a/b", "/files/a%2Fb", "/files/{name}", {"name": "a/b"}),
    ("/files/a%2fb", "/files/a/b", "/files/a%2fb", "/files/{name}", {"name": "a/b"}),
    ("/files/a/b", "/files/a/b", "/files/a/b", "/files/{folder}/{name}", {"folder": "a", "name": "b"}),
    ("/files/x/a%2Fb%25", "/files/x/a/b%", "/files/x/a%2Fb%25", "/files/{folder}/{name}",
     {"folder": "x", "name": "a/b%"}),
    ("/files/%C3%A9t%C3%A9+1", "/files/été+1", "/files/%C3%A9t%C3%A9+1", "/files/{name}", {"name": "été+1"}),
    ("/caf%C3%A9", "/café", "/caf%C3%A9", "/café", {}),
    ("/café", "/café", "/caf%C3%A9", "/café", {}),
])
def test_path_raw_path_and_parameters_are_the_same_on_every_front(front: Cloud, sent: str, path: str, raw_path: str,
                                                                  route: str, params: dict[str, str]) -> None:
    doc = _get(front, sent)
    assert (doc["route"], doc["path"], doc["raw_path"], doc["params"]) == (route, path, raw_path, params)


def test_an_escaped_slash_in_a_typed_path_parameter_reaches_the_handler(front: Cloud) -> None:
    resp = front.http(app, "GET", "/items/a%2Fb%20c")
    assert resp.status == 200, resp.body[:300]
    assert resp.json_body() == {"item": "a/b c"}


# -- Cookie ------------------------------------------------------------------------------------------------------------

def test_several_cookie_headers_reach_the_handler_joined_with_semicolons(front: Cloud) -> None:
    """RFC 6265 §5.4 (and RFC 9113 §8.2.3 for HTTP/2's split cookie fields): the cookie-string is one header whose
    pairs are separated by "; ". A front door that joins repeated Cookie lines with "," (as a generic list header)
    makes the first cookie swallow the next: ``a=1, b=2`` reads as ``{"a": "1, b=2"}``."""
    doc = _get(front, "/echo", headers={"Cookie": ["a=1", "b=2; c=3"]})
    assert doc["cookies"] == {"a": "1", "b": "2", "c": "3"}
    assert "; ".join(doc["cookie_headers"]) == "a=1; b=2; c=3"


def test_one_cookie_header_reads_the_same_everywhere(front: Cloud) -> None:
    doc = _get(front, "/echo", headers={"Cookie": 'a=1; q="x y"; empty='})
    assert doc["cookies"] == {"a": "1", "q": "x y", "empty": ""}


# -- header names with "_" -------------------------------------------------------------------------------------------

# What each front door does with a header named with "_": API Gateway, the Azure Functions host (Kestrel) and
# portafunc run's server pass it on under its own name. Google Cloud Functions (functions-framework) and the
# container image serve through gunicorn, whose CGI-style environ cannot tell "X_Custom" from "X-Custom"
# (both HTTP_X_CUSTOM): since gunicorn 22 (header_map="drop", the default) it drops the "_" one, so a
# look-alike cannot pass for, or merge into, the real header (X-Forwarded-For, an auth header) behind a proxy.
DROPS_UNDERSCORE_HEADERS = {"gcp", "container"}


def test_a_header_named_with_an_underscore_is_kept_apart_or_dropped_as_the_platform_does(front: Cloud) -> None:
    doc = _get(front, "/echo", headers={"X_Custom": "underscore", "X-Custom": "dash"})
    if front.name in DROPS_UNDERSCORE_HEADERS:
        assert doc["x_headers"] == [["x-custom", "dash"]]
    else:
        assert doc["x_headers"] == [["x-custom", "dash"], ["x_custom", "underscore"]]


def test_a_lone_underscore_header_does_not_pass_for_the_dash_one(front: Cloud) -> None:
    doc = _get(front, "/echo", headers={"X_Forwarded_For": "10.0.0.1"})
    if front.name in DROPS_UNDERSCORE_HEADERS:
        assert doc["x_headers"] == []
    else:
        assert doc["x_headers"] == [["x_forwarded_for", "10.0.0.1"]]


# -- the kit's AWS events ----------------------------------------------------------------------------------------------

@pytest.mark.skipif("aws" not in FRONTS, reason="the aws target is not installed")
def test_the_kits_http_api_event_carries_the_route_and_its_decoded_path_parameters() -> None:
    """As API Gateway's HTTP API (payload 2.0) sends it to the function of route ``GET /files/{name}``: routeKey
    (top level and requestContext) the route matched, rawPath undecoded, pathParameters decoded."""
    cloud = Cloud("aws")
    assert cloud.http(app, "GET", "/files/a%2Fb%20c").status == 200
    event = cloud.exchanges[-1].native_event
    assert event["routeKey"] == event["requestContext"]["routeKey"] == "GET /files/{name}"
    assert event["rawPath"] == "/files/a%2Fb%20c"
    assert event["pathParameters"] == {"name": "a/b c"}
    assert cloud.http(app, "GET", "/echo").status == 200
    event = cloud.exchanges[-1].native_event
    assert event["routeKey"] == "GET /echo" and "pathParameters" not in event  # none for a route without any
    assert cloud.http(app, "GET", "/nowhere").status == 404
    assert cloud.exchanges[-1].native_event["routeKey"] == "$default"  # no route: the API's $default route
