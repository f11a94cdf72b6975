"""``HttpRequest.url`` / ``base_url`` per codec, on the fixture events (tests/fixtures/events) and the shapes each
platform hands over: the exact URL the client called, and the base a route's path is appended to."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from portafunc import HttpRequest
from portafunc.events import origin
from portafunc.kit import http_json

EVENTS = Path(__file__).resolve().parents[1] / "fixtures" / "events"


def _event(name: str) -> dict[str, Any]:
    found: dict[str, Any] = json.loads(next(EVENTS.glob(f"aws/*/{name}")).read_text())
    return found


# -- core ------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("args", "expected"), [
    (("https", "a.example"), "https://a.example"),
    (("https", "a.example:443"), "https://a.example"),
    (("http", "a.example:80"), "http://a.example"),
    (("https", "a.example", "443"), "https://a.example"),
    (("https", "a.example", "8443"), "https://a.example:8443"),
    (("http", "a.example:8080", "443"), "http://a.example:8080"),  # the Host's own port wins
    (("HTTPS", "[2001:db8::1]:8443"), "https://[2001:db8::1]:8443"),
    (("http", "[2001:db8::1]"), "http://[2001:db8::1]"),
    (("http", "evil.example/x?y"), "http://testserver"),
    (("http", "a@b"), "http://testserver"),
    (("http", None), "http://testserver"),
])
def test_origin(args: tuple[Any, ...], expected: str) -> None:
    assert origin(*args) == expected


def test_a_request_built_by_hand_answers_from_its_host_header_else_testserver() -> None:
    req = HttpRequest("GET", "/a b", query={"q": ["1", "x y"]})
    assert req.base_url == "http://testserver"
    assert req.url == "http://testserver/a%20b?q=1&q=x%20y"
    req = HttpRequest("GET", "/files/a/b", headers={"Host": "h.example:8000", "X-Forwarded-Proto": "https"},
                      raw_path="/files/a%2Fb", raw_query="b=2&a")
    assert (req.base_url, req.url) == ("http://h.example:8000", "http://h.example:8000/files/a%2Fb?b=2&a")


# -- AWS -------------------------------------------------------------------------------------------------------------

AWS = [
    ("powertools-apiGatewayProxyV2Event.json", "https://id.execute-api.us-east-1.amazonaws.com",
     "/my/path?parameter1=value1&parameter1=value2&parameter2=value"),
    ("derived-powertools-apiGatewayProxyV2Event-named-stage.json", "https://id.execute-api.us-east-1.amazonaws.com/prod",
     "/my/path?parameter1=value1&parameter1=value2&parameter2=value"),
    ("sam-HttpApi.json", "https://id.execute-api.us-east-1.amazonaws.com",
     "/path/to/resource?parameter1=value1&parameter1=value2&parameter2=value"),
    ("powertools-lambdaFunctionUrlEvent.json", "https://<url-id>.lambda-url.us-east-1.on.aws", "/"),
    ("powertools-apiGatewayProxyEvent.json", "https://id.execute-api.us-east-1.amazonaws.com",
     "/my/path?parameter1=value1&parameter1=value2&parameter2=value"),
    ("sam-AwsProxy.json", "https://0123456789.execute-api.us-east-1.amazonaws.com/prod", "/path/to/resource?foo=bar"),
    ("sam-ALBRequest.json", "http://lambda-alb-123578498.us-east-2.elb.amazonaws.com",
     "/path/to/resource?query=1234ABCD"),
    ("powertools-albMultiValueHeadersEvent.json",
     "http://alb-c-LoadB-14POFKYCLBNSF-1815800096.eu-central-1.elb.amazonaws.com", "/todos"),
]


@pytest.mark.parametrize(("name", "base", "tail"), AWS)
def test_aws_fixture_events(name: str, base: str, tail: str) -> None:
    from portafunc_aws.codecs.http import decode_complete, decode_request

    event = _event(name)
    lazy, _ = decode_request(copy.deepcopy(event))
    eager = decode_complete(copy.deepcopy(event))
    for req in (lazy, eager):
        assert (req.base_url, req.url) == (base, base + tail)


def test_an_http_api_named_stage_on_a_custom_domain_adds_no_stage() -> None:
    from portafunc_aws.codecs.http import decode_request

    event = _event("derived-powertools-apiGatewayProxyV2Event-named-stage.json")
    event["rawPath"] = event["requestContext"]["http"]["path"] = "/my/path"
    event["requestContext"]["domainName"] = "api.example.com"
    req, _ = decode_request(event)
    assert req.url == "https://api.example.com/my/path?parameter1=value1&parameter1=value2&parameter2=value"


def test_a_rest_api_custom_domain_base_path_mapping_is_part_of_the_base() -> None:
    from portafunc_aws.codecs.http import decode_request

    event = _event("sam-AwsProxy.json")
    event["requestContext"].update(domainName="api.example.com", path="/orders/path/to/resource")
    req, _ = decode_request(event)
    assert req.base_url == "https://api.example.com/orders"
    event["requestContext"]["path"] = "/path/to/resource"  # no mapping path
    assert decode_request(event)[0].base_url == "https://api.example.com"


def test_an_alb_port_and_scheme_come_from_its_forwarded_headers() -> None:
    from portafunc_aws.codecs.http import decode_request

    event = _event("sam-ALBRequest.json")
    event["headers"].update({"x-forwarded-proto": "https", "x-forwarded-port": "8443"})
    req, _ = decode_request(event)
    assert req.url == "https://lambda-alb-123578498.us-east-2.elb.amazonaws.com:8443/path/to/resource?query=1234ABCD"


def test_an_escaped_path_is_kept_as_sent() -> None:
    from portafunc_aws.codecs.http import decode_request

    event = _event("derived-powertools-apiGatewayProxyV2Event-named-stage.json")
    event["rawPath"], event["rawQueryString"] = "/prod/files/a%2Fb", "x=%20"
    req, _ = decode_request(event)
    assert req.url == "https://id.execute-api.us-east-1.amazonaws.com/prod/files/a%2Fb?x=%20"


# -- Azure -----------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("url", "prefix", "headers", "base", "full"), [
    ("http://localhost:7071/orders/a%2Fb?x=1&x=2", "", {}, "http://localhost:7071",
     "http://localhost:7071/orders/a%2Fb?x=1&x=2"),
    ("https://app.azurewebsites.net/api/orders/1", "api", {}, "https://app.azurewebsites.net/api",
     "https://app.azurewebsites.net/api/orders/1"),
    ("https://app.azurewebsites.net/api", "api", {}, "https://app.azurewebsites.net/api",
     "https://app.azurewebsites.net/api/"),
    ("http://app.azurewebsites.net:80/orders", "", {"x-forwarded-proto": "https"}, "https://app.azurewebsites.net",
     "https://app.azurewebsites.net/orders"),
])
def test_azure_url(url: str, prefix: str, headers: dict[str, str], base: str, full: str) -> None:
    func = pytest.importorskip("azure.functions")
    from portafunc_azure.codecs.http import request_from_func, request_from_json

    native = func.HttpRequest(method="GET", url=url, headers=headers, params={}, route_params={}, body=b"")
    for req in (request_from_func(native, prefix),
                request_from_json({"method": "GET", "url": url, "headers": headers}, prefix)):
        assert (req.base_url, req.url) == (base, full)


# -- Google Cloud and the container (WSGI) ---------------------------------------------------------------------------

@pytest.mark.parametrize(("environ", "base"), [
    ({"HTTP_HOST": "fn-abc-uc.a.run.app", "HTTP_X_FORWARDED_PROTO": "https"}, "https://fn-abc-uc.a.run.app"),
    ({"HTTP_HOST": "localhost:8080"}, "http://localhost:8080"),
    ({"HTTP_HOST": "h.example", "SCRIPT_NAME": "/svc"}, "http://h.example/svc"),
    ({"SERVER_NAME": "10.0.0.2", "SERVER_PORT": "8080"}, "http://10.0.0.2:8080"),
    ({"HTTP_HOST": "h.example", "wsgi.url_scheme": "https"}, "https://h.example"),
])
def test_gcp_flask_request(environ: dict[str, str], base: str) -> None:
    pytest.importorskip("werkzeug")
    from werkzeug.test import EnvironBuilder
    from werkzeug.wrappers import Request

    from portafunc_gcp.codecs.http import from_flask, from_flask_eager

    built = EnvironBuilder(path="/files/a%2Fb", query_string="q=a%20b").get_environ()
    for key in ("HTTP_HOST", "SERVER_NAME", "SERVER_PORT"):
        built.pop(key, None)
    built.update({"SCRIPT_NAME": "", "wsgi.url_scheme": "http", "SERVER_NAME": "localhost", "SERVER_PORT": "80",
                  "RAW_URI": "/files/a%2Fb?q=a%20b"})
    built.update(environ)
    for req in (from_flask(Request(built)), from_flask_eager(Request(built))):
        assert (req.base_url, req.url) == (base, base + "/files/a%2Fb?q=a%20b")


def test_the_container_json_form_carries_the_scheme_and_script_name() -> None:
    from portafunc_container.codecs.http import decode_request, from_environ

    environ = {"REQUEST_METHOD": "GET", "RAW_URI": "/x%20y?a=1", "QUERY_STRING": "a=1", "SCRIPT_NAME": "/svc",
               "wsgi.url_scheme": "https", "HTTP_HOST": "c.example:8443"}
    req = decode_request(from_environ(environ, b""))
    assert (req.base_url, req.url) == ("https://c.example:8443/svc", "https://c.example:8443/svc/x%20y?a=1")
    # the server's verdict on X-Forwarded-Proto (gunicorn counts it only from a peer it trusts), not the header again
    environ.update({"HTTP_X_FORWARDED_PROTO": "https", "wsgi.url_scheme": "http", "HTTP_HOST": "run.example"})
    del environ["SCRIPT_NAME"]
    assert decode_request(from_environ(environ, b"")).url == "http://run.example/x%20y?a=1"


def test_the_json_form_without_a_host() -> None:
    req = http_json.decode_request({"method": "GET", "path": "/a", "query_string": ""})
    assert (req.base_url, req.url) == ("http://localhost", "http://localhost/a")
