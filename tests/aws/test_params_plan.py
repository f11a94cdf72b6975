"""A typed route's request plan (code built per route, ``portafunc.params_plan``) answers exactly as the binder's
general path, through the real Lambda handler: the same native answer (key order included) and the same log lines
for requests whose parameters pass, fail, are missing, repeated, escaped, sent in odd case or twice in two cases,
header maps holding other than text, handlers that raise, return a status, a response or a result that fails the
response model — with and without middleware, for HTTP API and Function URL events (the plan's shortcut) and the
other variants (which take the general path). The reference is the same app with no plan built."""

from __future__ import annotations

import copy
import json
import os
import re
from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

import pytest
from pydantic import AfterValidator, Field

from portafunc import App, Header, Path, Query
from portafunc import invoke, params, params_plan
from portafunc.params import route_signature
from portafunc_aws.codecs import http
from portafunc_aws.lambda_context import LambdaContext
from portafunc_aws.runtime import bind

import typed_apps
from log_support import without_varying
from typed_apps import OrderView, order_app


def build_app(middleware: bool) -> App:
    app = order_app("plan", middleware)

    @app.http("GET", "/items/{sku}")
    def item(sku: Annotated[str, Path()], page: int, cookie: Annotated[str, Header()] = "") -> dict:
        return {"sku": sku, "page": page, "cookie": cookie}

    @app.http("GET", "/aliased")
    def aliased(n: Annotated[int, Query(alias="page-size")], m: Annotated[int, Field(alias="other")] = 1) -> dict:
        return {"n": n, "m": m}

    @app.http("GET", "/headers")
    def only_headers(x_a: Annotated[str, Header()], x_b: Annotated[float, Header()] = 0.5) -> Any:
        return {"a": x_a, "b": x_b}

    @app.http("GET", "/kinds/{when}")
    def kinds(when: datetime, n: int | float, mode: Literal["a", "b"], x_id: Annotated[UUID, Header()]) -> dict:
        return {"when": when.isoformat(), "n": n, "mode": mode, "id": str(x_id)}

    return app


def v2_event(method: str, route: str, path: str, query: str = "", headers: Any = None,
             path_params: dict[str, str] | None = None, cookies: list[str] | None = None,
             function_url: bool = False) -> dict[str, Any]:
    event: dict[str, Any] = {
        "version": "2.0", "routeKey": f"{method} {route}", "rawPath": path, "rawQueryString": query,
        "headers": {"accept": "*/*"} if headers is None else headers,
        "requestContext": {"accountId": "123456789012", "apiId": "api", "domainName":
                           "abc.lambda-url.us-east-1.on.aws" if function_url else "api.execute-api.us-east-1.amazonaws.com",
                           "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "10.0.0.1",
                                    "userAgent": "t"},
                           "requestId": "r-1", "routeKey": f"{method} {route}", "stage": "$default",
                           "timeEpoch": 1583348638390},
        "isBase64Encoded": False,
    }
    if path_params is not None:
        event["pathParameters"] = path_params
    if cookies is not None:
        event["cookies"] = cookies
    if function_url:
        del event["routeKey"]
    return event


def cases(function_url: bool) -> list[dict[str, Any]]:
    def order(id_: str, query: str = "", headers: Any = None, **kw: Any) -> dict[str, Any]:
        return v2_event("GET", "/orders/{id}", f"/orders/{id_}", query, headers, {"id": id_},
                        function_url=function_url, **kw)

    tenant = {"x-tenant": "acme", "accept": "*/*"}
    return [
        order("42", "limit=5", tenant),
        order("42", "limit=5"),  # header missing: its default
        order("42", "", tenant),  # query missing
        order("42"),
        order("42", "limit=5&limit=6", tenant),  # repeated: the first
        order("42", "limit=6&other=1&limit=5", tenant),
        order("42", "limit=5", {"X-TENANT": "odd"}),
        order("42", "limit=5", {"X-Tenant": "first", "x-tenant": "second"}),
        order("42", "limit=abc", tenant),
        order("42", "limit=0", tenant),
        order("42", "limit=1000", tenant),
        order("x", "limit=5", tenant),
        order("x", "limit=0", tenant),  # two parameters fail: listed in the signature's order, not the tuple's
        order("x", "limit=abc&limit=0", tenant),
        order("42", "limit=%35", tenant),  # escaped: read by the request's query map
        order("42", "limit=+5", tenant),
        order("42", "limit=", tenant),
        order("42", "limit", tenant),
        order("42", "=5&limit=7", tenant),
        order("42", "limit=5", {"x-tenant": 7}),  # not text: the general reading converts or refuses it
        order("42", "limit=5", {"x-tenant": ["a"]}),
        order("42", "limit=5", None),
        order("500", "limit=5", tenant),
        order("400", "limit=5", tenant),
        order("201", "limit=5", tenant),
        order("418", "limit=5", tenant),
        order("202", "limit=5", tenant),
        order("42", "limit=5", tenant, cookies=["a=1", "b=2"]),
        order("٤٢", "limit=٥", tenant),  # digits pydantic reads in lax mode, whichever way it reads them
        order("42", "limit=5.0", tenant),
        order("42", "limit=5", {"x-tenant": ""}),
        v2_event("POST", "/orders/{id}", "/orders/42", "limit=5", tenant, {"id": "42"}, function_url=function_url),
        v2_event("GET", "/items/{sku}", "/items/s-1", "page=2", {"Cookie": "z=9"}, {"sku": "s-1"},
                 cookies=["a=1", "b=2"], function_url=function_url),
        v2_event("GET", "/items/{sku}", "/items/s-1", "page=2", {}, {"sku": "s-1"}, function_url=function_url),
        v2_event("GET", "/items/{sku}", "/items/s-1", "", {}, {"sku": "s-1"}, function_url=function_url),
        v2_event("GET", "/aliased", "/aliased", "page-size=3&other=4&m=5", {}, function_url=function_url),
        v2_event("GET", "/headers", "/headers", "", {"X-A": "a", "x-b": "1.5"}, function_url=function_url),
        v2_event("GET", "/headers", "/headers", "", {"X-A": "a", "x-b": "nan"}, function_url=function_url),
        v2_event("GET", "/headers", "/headers", "", {"x-b": "1"}, function_url=function_url),
        v2_event("GET", "/nowhere", "/nowhere", "", {}, function_url=function_url),
        *[v2_event("GET", "/kinds/{when}", f"/kinds/{when}", query, {"x-id": x_id}, {"when": when},
                   function_url=function_url)
          for when, query, x_id in [("2024-01-02T03:04:05Z", "n=1.5&mode=a", "12345678-1234-5678-1234-567812345678"),
                                    ("yesterday", "n=abc&mode=c", "zz"),  # every parameter fails, a union twice
                                    ("2024-01-02", "n=2&mode=b", "zz"), ("2024-13-40", "mode=a&n=x", "12345678-1234-5678-1234-567812345678")]],
    ]


def without_binding_frames(traceback: str) -> str:
    """A traceback without the frames of the binding itself (the plan's, or the binder's methods), which differ by
    design; every other frame, the handler's included, and the error itself must be the same."""
    binding = ("<portafunc request plan", f"{os.sep}portafunc{os.sep}params")
    if traceback.startswith("(repeat;"):  # the one-line summary of a repeated failure: "file:line in name > ..."
        head, _, chain = traceback.partition(") ")
        steps = chain.split(" > ")
        return head + ") " + " > ".join(s for s in steps if not s.startswith(("params.py:", "params_plan.py:", "<")))
    frames = re.split(r"(?m)^(?=  File )", traceback)
    return "".join(f for f in frames if not (f.startswith("  File ") and any(b in f.split(",")[0] for b in binding)))


def answers(app: App, events: list[dict[str, Any]], capfd: pytest.CaptureFixture[str]) -> list[tuple[Any, list]]:
    handler = bind(app)
    for seen in (getattr(invoke, "_full_traceback_logged", None), getattr(invoke, "_summaries", None)):
        if seen is not None:  # a full traceback once per failure site and process: both runs start afresh
            seen.clear()
    out = []
    for event in events:
        capfd.readouterr()
        answer = handler(copy.deepcopy(event), LambdaContext(aws_request_id="r-1"))
        lines = [json.loads(line) for line in capfd.readouterr().err.splitlines() if line.startswith("{")]
        for line in lines:
            without_varying(line)  # a new trace per invocation; the time
            if "traceback" in line:
                line["traceback"] = without_binding_frames(line["traceback"])
        out.append((json.dumps(answer), lines))
    return out


@pytest.mark.parametrize("middleware", [False, True])
@pytest.mark.parametrize("function_url", [False, True])
def test_the_plan_answers_and_logs_as_the_general_path(middleware, function_url, capfd, monkeypatch):
    events = cases(function_url)
    planned = answers(build_app(middleware), events, capfd)
    with monkeypatch.context() as patch:
        patch.setattr(params_plan, "build", lambda *args, **kwargs: None)
        general = answers(build_app(middleware), events, capfd)
    for event, got, want in zip(events, planned, general, strict=True):
        assert got[0] == want[0], (event["rawPath"], event["rawQueryString"], event.get("headers"))
        assert got[1] == want[1], [{k: (g.get(k), w.get(k)) for k in {*g, *w} if g.get(k) != w.get(k)}
                                   for g, w in zip(got[1], want[1], strict=False)]
    statuses = [json.loads(a)["statusCode"] for a, _ in planned]
    assert {200, 201, 400, 404, 405, 418, 500} <= set(statuses)  # the cases reach every kind of answer
    assert any(lines for _, lines in planned)  # and some of them log


@pytest.mark.parametrize("variant", ["apigw-v1", "alb", "alb-multi"])
def test_other_variants_answer_as_without_a_plan(variant, capfd, monkeypatch):
    events = []
    for v2 in cases(False):
        if v2["routeKey"].endswith("{id}") and v2["headers"] is not None \
                and all(isinstance(v, str) for v in v2["headers"].values()):
            req, _ = http.decode_request(v2)
            event = http.encode_request(req, variant, request_id="r-1")
            if variant == "apigw-v1":
                event["resource"] = "/orders/{id}"
            events.append(event)
    planned = answers(build_app(True), events, capfd)
    with monkeypatch.context() as patch:
        patch.setattr(params_plan, "build", lambda *args, **kwargs: None)
        assert answers(build_app(True), events, capfd) == planned


def test_the_usual_request_takes_the_plan_and_the_others_the_general_path(monkeypatch, capfd):
    app = build_app(True)
    handler = bind(app)
    binder = route_signature(app.function("get_order"))._bind()
    assert binder.planned_call is not None and binder.planned_response is not None
    general_reads: list[str] = []
    original = params._Binder._plain_arguments

    def counted(self: Any, req: Any) -> Any:
        general_reads.append(req.path)
        return original(self, req)

    monkeypatch.setattr(params._Binder, "_plain_arguments", counted)
    ok = handler(v2_event("GET", "/orders/{id}", "/orders/42", "limit=5", {"x-tenant": "acme"}, {"id": "42"}),
                 LambdaContext(aws_request_id="r-1"))
    assert json.loads(ok["body"]) == {"id": 42, "limit": 5, "tenant": "acme"}
    assert general_reads == []  # validated and called by the plan alone
    missing = handler(v2_event("GET", "/orders/{id}", "/orders/7", "", {}, {"id": "7"}),
                      LambdaContext(aws_request_id="r-1"))
    assert json.loads(missing["body"]) == {"id": 7, "limit": 10, "tenant": "public"}
    bad = handler(v2_event("GET", "/orders/{id}", "/orders/8", "limit=0", {"x-tenant": "acme"}, {"id": "8"}),
                  LambdaContext(aws_request_id="r-1"))
    assert bad["statusCode"] == 400
    assert general_reads == ["/orders/7"]  # a default to fill: the general path; a refusal: the plan's own
    bad_and_missing = handler(v2_event("GET", "/orders/{id}", "/orders/9", "limit=0", {}, {"id": "9"}),
                              LambdaContext(aws_request_id="r-1"))
    assert bad_and_missing["statusCode"] == 400
    assert general_reads == ["/orders/7", "/orders/9"]


def test_signatures_the_plan_does_not_take():
    app = build_app(False)
    aliased = route_signature(app.function("aliased"))._bind()
    assert aliased.planned_call is None and aliased.planned_response is None  # a pydantic alias reads another key
    assert route_signature(app.function("item"))._bind().planned_response is not None
    assert route_signature(app.function("only_headers"))._bind().planned_response is not None


@pytest.mark.parametrize("names", [(("limit",), ("x-tenant",)), (("limit",), ()), (("limit",), ("x-a", "x-b")),
                                   (("limit", "page"), ("x-a",)), (("limit",), ("cookie", "x-a")), ((), ("x-a",))])
def test_the_codec_reader_gives_what_first_values_gives(names):
    query, headers = names
    fields = http._V2["apigw-v2"]
    read = fields.first_values_reader(query, headers)
    for raw in ("", "limit=5", "limit=5&limit=6", "page=1&limit=", "limit", "=5&limit=7", "&&limit=3&", "limit=%35",
                "limit=+5", "LIMIT=5", "limit==5", "page=2"):
        for native_headers in ({}, None, {"X-A": "1", "x-a": "2", "X-Tenant": "t"}, {"x-b": "b"}, {"x-a": 1},
                               {"x-a": ["1"]}, {1: "x"}, ["x-a"], {"Cookie": "c=1", "x-a": "a"}):
            for cookies in (None, ["a=1", "b=2"]):
                native = {"rawQueryString": raw, "headers": native_headers}
                if cookies is not None:
                    native["cookies"] = cookies
                assert read(native) == fields.first_values(native, query, headers), (raw, native_headers)


SEEN: list[str] = []


def counted(name: str) -> Any:
    """A validator with a side effect: it notes each value it checks."""
    def check(value: Any) -> Any:
        SEEN.append(name)
        return value
    return AfterValidator(check)


COUNTED_ID, COUNTED_LIMIT, COUNTED_TENANT = counted("id"), counted("limit"), counted("tenant")


def test_a_request_is_validated_once_when_it_passes_and_when_it_fails():
    """A validator with side effects runs once per request: the plan's refusal is the 400 itself, not a reason to
    validate the request again on the general path (fails when the plan hands a failing request over)."""
    seen = SEEN
    app = App("counted")

    @app.http("GET", "/orders/{id}")
    def get_order(id: Annotated[int, COUNTED_ID], limit: Annotated[int, Field(ge=1), COUNTED_LIMIT] = 10,
                  x_tenant: Annotated[str, Header(), COUNTED_TENANT] = "public") -> OrderView:
        return OrderView(id=id, limit=limit, tenant=x_tenant)

    handler = bind(app)
    assert route_signature(app.function("get_order"))._bind().planned_call is not None
    tenant = {"x-tenant": "acme"}
    for query, status in (("limit=5", 200), ("limit=0", 400), ("limit=x", 400)):
        for function_url in (False, True):
            seen.clear()
            answer = handler(v2_event("GET", "/orders/{id}", "/orders/42", query, tenant, {"id": "42"},
                                      function_url=function_url), LambdaContext(aws_request_id="r-1"))
            assert answer["statusCode"] == status, answer
            assert sorted(seen) == (["id", "limit", "tenant"] if status == 200 else ["id", "tenant"]), (query, seen)


@pytest.mark.parametrize("middleware", [False, True])
def test_a_failing_handler_is_logged_at_its_own_line(middleware, capfd):
    """The log of a handler that raises names the handler's line as the innermost place, in the full traceback and in
    a repeat's summary; the plan's frame between shows the call it made (its generated source is readable)."""
    app = build_app(middleware)
    handler = bind(app)
    invoke._full_traceback_logged.clear()
    invoke._summaries.clear()
    event = v2_event("GET", "/orders/{id}", "/orders/500", "limit=5", {"x-tenant": "a"}, {"id": "500"})
    lines = []
    for _ in range(2):
        capfd.readouterr()
        assert handler(copy.deepcopy(event), LambdaContext(aws_request_id="r-1"))["statusCode"] == 500
        lines += [json.loads(line) for line in capfd.readouterr().err.splitlines() if '"handler failed"' in line]
    full, repeat = (line["traceback"] for line in lines)
    frames = re.findall(r'(?m)^  File "([^"]+)", line (\d+), in (\w+)\n(.*)$', full)
    here = typed_apps.__file__.rstrip("c")
    assert frames[-1][0] == here and frames[-1][2] == "get_order" and "raise RuntimeError" in frames[-1][3]
    assert frames[-2][0].startswith("<portafunc request plan") and "handler(" in frames[-2][3], full
    assert repeat.endswith(f"{os.path.basename(here)}:{frames[-1][1]} in get_order"), repeat


def odd_location_failure(value: Any) -> Any:
    """A validation that fails with an error whose location names no tuple position (``("zzz",)``, then none)."""
    from pydantic import ValidationError
    from pydantic_core import InitErrorDetails, PydanticCustomError

    raise ValidationError.from_exception_data("tuple", [
        InitErrorDetails(type=PydanticCustomError("odd", "odd"), loc=("zzz",), input=value),
        InitErrorDetails(type=PydanticCustomError("odd", "odd"), loc=(), input=value)])


@pytest.mark.parametrize("middleware", [False, True])
def test_an_error_the_plan_cannot_map_gets_the_general_paths_400(middleware, capfd, monkeypatch):
    """pydantic puts a tuple position first in every error of the plan's validation; should one come without it, the
    plan cannot say which parameter failed and hands the request to the general path, whose own validation gives the
    full 400 (a refusal built from the errors it could map would say nothing: fails when the plan refuses itself).
    The plan's validator is replaced by one raising such an error; the general path's stays the real one."""
    events = [v2_event("GET", "/orders/{id}", "/orders/42", "limit=0", {"x-tenant": "acme"}, {"id": "42"}),
              v2_event("GET", "/orders/{id}", "/orders/x", "limit=5", {"x-tenant": "acme"}, {"id": "x"})]
    with monkeypatch.context() as patch:
        patch.setattr(params_plan, "build", lambda *args, **kwargs: None)
        want = answers(build_app(middleware), events, capfd)
    app = build_app(middleware)
    binder = route_signature(app.function("get_order"))._bind()
    for plan in (binder.planned_call, binder.planned_response):
        assert plan is not None
        monkeypatch.setitem(plan.__globals__, "VALIDATE", odd_location_failure)
    refuse = binder.planned_call.__globals__["REFUSAL"]  # type: ignore[union-attr]
    with pytest.raises(Exception) as caught:
        odd_location_failure(("42", "0", "acme"))
    assert refuse(caught.value) is None
    got = answers(app, events, capfd)
    assert got == want
    for answer, _ in got:
        body = json.loads(json.loads(answer)["body"])
        assert json.loads(answer)["statusCode"] == 400 and body["errors"], body
