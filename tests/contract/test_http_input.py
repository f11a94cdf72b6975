"""Bad HTTP input and unsafe HTTP output, once for every target (the ``cloud`` fixture), through each target's real
entry point: the Lambda handler (HTTP API v2 events), the Azure Functions runtime fed ``azure.functions`` objects
and answered through the worker's own ``HttpResponseConverter``, and the generated ``main.py`` served by
functions-framework's Flask app.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
from pydantic import BaseModel

from portafunc import App, Headers, HttpRequest, HttpResponse

app = App("http-input")


class Order(BaseModel):
    id: str
    total: float


class Anything(BaseModel):
    data: object = None


@app.http("POST", "/parse")
def parse(req: HttpRequest) -> dict[str, str]:
    return {"type": type(req.json()).__name__}


@app.http("POST", "/typed")
def typed(req: HttpRequest, order: Order) -> dict[str, float]:
    return {"total": order.total}


@app.http("POST", "/loose")
def loose(req: HttpRequest, body: Anything) -> dict[str, str]:
    return {"type": type(body.data).__name__}


@app.http("GET", "/nan")
def nan(req: HttpRequest) -> dict[str, float]:
    return {"ratio": float(req.query_one("v") or "nan")}


@app.http("GET", "/header")
def header(req: HttpRequest) -> HttpResponse:
    """Echoes the query into a response header, as handlers that reflect input do."""
    how = req.query_one("how")
    value = req.query_one("v") or ""
    if how == "constructor":
        return HttpResponse(200, {"X-Echo": value}, b"ok")
    resp = HttpResponse.text("ok")
    if how == "name":
        resp.headers.add(value, "1")
    else:
        resp.headers.set("X-Echo", value)
    return resp


@app.http("GET", "/cookie")
def cookie(req: HttpRequest) -> HttpResponse:
    resp = HttpResponse.text("ok")
    resp.set_cookie("session", "abc", max_age=3600, expires=datetime(2030, 1, 2, 3, 4, 5, tzinfo=timezone.utc))
    resp.set_cookie("greeting", req.query_one("v") or "hello wörld")
    if req.query_one("partitioned"):
        resp.set_cookie("embed", "1", samesite="None", partitioned=True)
    return resp


def _deep(levels: int) -> bytes:
    return b"[" * levels + b"]" * levels


def _is_problem(resp, status: int) -> dict:
    assert resp.status == status, resp.body[:300]
    assert resp.headers["content-type"] == "application/problem+json"
    doc = json.loads(resp.body)
    assert doc["status"] == status
    return doc


# -- deep nesting ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("levels", [5_000, 100_000])
def test_deeply_nested_json_is_a_400_problem(cloud, levels):
    resp = cloud.http(app, "POST", "/parse", body=_deep(levels), headers={"Content-Type": "application/json"})
    assert "nested too deeply" in _is_problem(resp, 400)["detail"]
    typed_resp = cloud.http(app, "POST", "/loose", body=b'{"data": ' + _deep(levels) + b"}",
                            headers={"Content-Type": "application/json"})
    _is_problem(typed_resp, 400)


def test_reasonable_nesting_still_parses(cloud):
    resp = cloud.http(app, "POST", "/parse", body=_deep(200), headers={"Content-Type": "application/json"})
    assert resp.status == 200 and resp.json_body() == {"type": "list"}


# -- NaN / Infinity -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("literal", [b"NaN", b"Infinity", b"-Infinity"])
def test_non_finite_numbers_in_a_body_are_a_400_problem(cloud, literal):
    untyped = cloud.http(app, "POST", "/parse", body=b'{"a": [1, ' + literal + b"]}",
                         headers={"Content-Type": "application/json"})
    assert literal.lstrip(b"-").decode() in _is_problem(untyped, 400)["detail"]
    typed_resp = cloud.http(app, "POST", "/typed", body=b'{"id": "o-1", "total": ' + literal + b"}",
                            headers={"Content-Type": "application/json"})
    _is_problem(typed_resp, 400)
    loose_resp = cloud.http(app, "POST", "/loose", body=b'{"data": ' + literal + b"}",
                            headers={"Content-Type": "application/json"})
    _is_problem(loose_resp, 400)


def test_the_words_inside_strings_are_fine(cloud):
    resp = cloud.http(app, "POST", "/typed", body=b'{"id": "NaN-Infinity", "total": 1.5}',
                      headers={"Content-Type": "application/json"})
    assert resp.status == 200 and resp.json_body() == {"total": 1.5}


@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_a_non_finite_number_is_never_emitted(cloud, value):
    resp = cloud.http(app, "GET", "/nan", query={"v": value})
    doc = _is_problem(resp, 500)
    assert "NaN" not in resp.body.decode() and "Infinity" not in resp.body.decode()
    assert doc["title"] == "Internal Server Error"
    assert cloud.http(app, "GET", "/nan", query={"v": "2.5"}).json_body() == {"ratio": 2.5}


# -- response splitting --------------------------------------------------------------------------------------

@pytest.mark.parametrize("how", ["constructor", "set"])
@pytest.mark.parametrize("evil", ["a\r\nSet-Cookie: admin=1", "a\nX-Injected: 1", "a\rb", "a\x00b"])
def test_cr_lf_nul_in_a_response_header_is_a_500_problem(cloud, how, evil):
    resp = cloud.http(app, "GET", "/header", query={"how": how, "v": evil})
    _is_problem(resp, 500)
    assert "set-cookie" not in resp.headers and "x-injected" not in resp.headers and "x-echo" not in resp.headers


@pytest.mark.parametrize("name", ["X Echo", "X-Echo:", "X-Echo\r\nSet-Cookie", ""])
def test_a_header_name_that_is_not_a_token_is_a_500_problem(cloud, name):
    _is_problem(cloud.http(app, "GET", "/header", query={"how": "name", "v": name}), 500)


def test_ordinary_header_values_pass(cloud):
    resp = cloud.http(app, "GET", "/header", query={"how": "set", "v": "a, b; q=0.5\tc"})
    assert resp.status == 200 and resp.headers["x-echo"] == "a, b; q=0.5\tc"


# -- cookies --------------------------------------------------------------------------------------------------

def test_set_cookie_is_httponly_secure_and_reaches_the_client(cloud):
    resp = cloud.http(app, "GET", "/cookie")
    assert resp.status == 200
    cookies = {c.split("=", 1)[0]: c for c in resp.headers.get_all("set-cookie")}
    session = [a.strip() for a in cookies["session"].split(";")]
    assert session[0] == "session=abc"
    assert {"HttpOnly", "Secure", "SameSite=Lax", "Path=/", "Max-Age=3600"} <= set(session)
    assert any(a.lower() == "expires=wed, 02 jan 2030 03:04:05 gmt" for a in session)
    assert "http-only" not in cookies["session"].lower()


def test_a_cookie_value_with_spaces_and_non_ascii_survives_every_cloud(cloud):
    resp = cloud.http(app, "GET", "/cookie", query={"v": 'hello wörld "quoted"'})
    (greeting,) = [c for c in resp.headers.get_all("set-cookie") if c.startswith("greeting=")]
    value = greeting.split(";")[0].split("=", 1)[1]
    back = HttpRequest("GET", "/", headers={"Cookie": f"greeting={value}"})
    assert back.cookies == {"greeting": 'hello wörld "quoted"'}
    assert value.isascii() and " " not in value  # quoted and escaped: every cookie parser keeps it


@pytest.mark.parametrize("value", ["a;Domain=evil.example", "a\r\nSet-Cookie: admin=1", "a\x00", "a\x7f"])
def test_a_cookie_value_that_would_split_the_header_is_a_500_problem(cloud, value):
    _is_problem(cloud.http(app, "GET", "/cookie", query={"v": value}), 500)


def test_partitioned_is_carried_or_warned_about(cloud, caplog, capsys):
    resp = cloud.http(app, "GET", "/cookie", query={"partitioned": "1"})
    assert resp.status == 200
    (embed,) = [c for c in resp.headers.get_all("set-cookie") if c.startswith("embed=")]
    attributes = [a.strip() for a in embed.split(";")]
    assert "Secure" in attributes and "SameSite=None" in attributes
    if cloud.name == "azure":  # the worker's http.cookies drops the whole cookie: sent without it, and said so
        logs = capsys.readouterr()
        assert "Partitioned" in logs.out + logs.err and "embed" in logs.out + logs.err
    else:
        assert "Partitioned" in attributes


# -- client address --------------------------------------------------------------------------------------------

@app.http("GET", "/ip")
def ip(req: HttpRequest) -> dict[str, str | None]:
    return {"ip": req.client_ip}


@pytest.mark.parametrize("forwarded", [["6.6.6.6, 198.51.100.7"], ["6.6.6.6", "198.51.100.7"],
                                       ["198.51.100.7"]])
def test_client_ip_is_the_address_the_platform_front_end_saw(cloud, forwarded):
    """The client controls every X-Forwarded-For entry but the one the platform's front end appends (the last);
    on AWS the address comes from the event's requestContext (the contract driver's API Gateway source IP)."""
    resp = cloud.http(app, "GET", "/ip", headers={"X-Forwarded-For": forwarded})
    platform_saw = "203.0.113.10" if cloud.name == "aws" else "198.51.100.7"
    assert resp.json_body() == {"ip": platform_saw}


def test_a_number_too_large_for_a_float_is_refused_by_req_json(cloud):
    resp = cloud.http(app, "POST", "/parse", body=b'{"qty": 1e999}', headers={"Content-Type": "application/json"})
    assert "too large" in _is_problem(resp, 400)["detail"]
    assert cloud.http(app, "POST", "/parse", body=b'{"qty": 1e308, "n": 10000000000000000000000}',
                      headers={"Content-Type": "application/json"}).status == 200


@app.http("GET", "/reassigned")
def reassigned(req: HttpRequest) -> HttpResponse:
    resp = HttpResponse.text("ok")
    resp.headers = Headers({"Content-Type": "text/plain", "X-Echo": req.query_one("v") or ""})
    return resp


def test_headers_assigned_to_a_response_are_checked_too(cloud):
    _is_problem(cloud.http(app, "GET", "/reassigned", query={"v": "a\r\nSet-Cookie: admin=1"}), 500)
    ok = cloud.http(app, "GET", "/reassigned", query={"v": "fine"})
    assert ok.status == 200 and ok.headers["x-echo"] == "fine"
