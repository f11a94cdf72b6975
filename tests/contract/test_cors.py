"""CORS through every target's real entry point: the header sets of the Fetch standard's CORS protocol
(https://fetch.spec.whatwg.org/#http-cors-protocol), checked exactly.

A browser accepts a preflight when its status is ok (2xx), ``Access-Control-Allow-Origin`` is the request's origin
(or ``*`` without credentials), ``Access-Control-Allow-Credentials`` is ``true`` when credentials are sent, and the
method and non-safelisted request headers are listed; it lets a page read an actual response only when that response
carries ``Access-Control-Allow-Origin`` for its origin.
"""

from __future__ import annotations

import pytest

from portafunc import App, Cors, HttpRequest, HttpResponse, RegistrationError

SHOP = "https://shop.example"
EVIL = "https://evil.example"


def acao_headers(resp: HttpResponse) -> dict[str, str]:
    """The response's CORS headers (and Vary), names lower-cased."""
    return {k.lower(): v for k, v in resp.headers._items
            if k.lower().startswith("access-control-") or k.lower() == "vary"}


def cors_app() -> App:
    app = App("cors", cors=Cors(allow_origins=[SHOP], allow_headers=["Content-Type", "Authorization"],
                                expose_headers=["X-Request-Id"], allow_credentials=True, max_age=600))

    @app.http(["GET", "POST"], "/orders/{id}")
    def order(req: HttpRequest) -> HttpResponse:
        resp = HttpResponse.json({"id": req.path_params["id"]})
        resp.headers.add("X-Request-Id", "r-1")
        return resp

    @app.http("DELETE", "/orders/{id}", cors=Cors(allow_origins=["*"], allow_methods=["DELETE"]))
    def cancel(req: HttpRequest) -> None:
        return None

    @app.http("GET", "/health")
    def health(req: HttpRequest) -> str:
        return "ok"

    return app


def preflight(cloud, app: App, path: str, origin: str, method: str, headers: str | None = None) -> HttpResponse:
    hdrs = {"Origin": origin, "Access-Control-Request-Method": method}
    if headers is not None:
        hdrs["Access-Control-Request-Headers"] = headers
    return cloud.http(app, "OPTIONS", path, headers=hdrs)


def test_a_preflight_from_an_allowed_origin_gets_204_and_exactly_the_fetch_headers(cloud) -> None:
    resp = preflight(cloud, cors_app(), "/orders/o-1", SHOP, "POST", "content-type, authorization")
    assert resp.status == 204 and resp.body == b""
    assert acao_headers(resp) == {
        "access-control-allow-origin": SHOP,
        "access-control-allow-credentials": "true",
        "access-control-allow-methods": "GET, HEAD, POST",
        "access-control-allow-headers": "content-type, authorization",
        "access-control-max-age": "600",
        "vary": "Origin, Access-Control-Request-Method, Access-Control-Request-Headers",
    }


def test_a_preflight_from_another_origin_is_refused_without_cors_headers(cloud) -> None:
    resp = preflight(cloud, cors_app(), "/orders/o-1", EVIL, "POST")
    assert resp.status == 403
    assert not [k for k in acao_headers(resp) if k.startswith("access-control-")]


def test_a_preflight_asking_for_a_header_not_allowed_is_refused(cloud) -> None:
    resp = preflight(cloud, cors_app(), "/orders/o-1", SHOP, "POST", "x-secret")
    assert resp.status == 403 and "access-control-allow-origin" not in acao_headers(resp)


def test_the_route_policy_answers_for_its_own_method(cloud) -> None:
    """DELETE has its own policy: any origin, no credentials, so a literal ``*`` origin is allowed."""
    resp = preflight(cloud, cors_app(), "/orders/o-1", EVIL, "DELETE")
    assert resp.status == 204
    assert acao_headers(resp) == {
        "access-control-allow-origin": "*",
        "access-control-allow-methods": "DELETE",
        "vary": "Origin, Access-Control-Request-Method, Access-Control-Request-Headers",
    }


def test_an_actual_response_carries_allow_origin_only_for_an_allowed_origin(cloud) -> None:
    app = cors_app()
    allowed = cloud.http(app, "GET", "/orders/o-1", headers={"Origin": SHOP})
    assert allowed.status == 200 and allowed.json_body() == {"id": "o-1"}
    assert acao_headers(allowed) == {"access-control-allow-origin": SHOP, "access-control-allow-credentials": "true",
                                     "access-control-expose-headers": "X-Request-Id", "vary": "Origin"}
    other = cloud.http(app, "GET", "/orders/o-1", headers={"Origin": EVIL})
    assert other.status == 200 and acao_headers(other) == {"vary": "Origin"}
    no_origin = cloud.http(app, "GET", "/health")
    assert no_origin.status == 200 and acao_headers(no_origin) == {"vary": "Origin"}


def test_an_error_answer_still_carries_cors_headers_so_the_page_can_read_it(cloud) -> None:
    resp = cloud.http(cors_app(), "PUT", "/orders/o-1", headers={"Origin": SHOP})
    assert resp.status == 405
    assert acao_headers(resp)["access-control-allow-origin"] == SHOP


def test_without_a_policy_an_options_request_is_routed_as_before(cloud) -> None:
    app = App("no-cors")

    @app.http("GET", "/x")
    def x(req: HttpRequest) -> str:
        return "x"

    resp = preflight(cloud, app, "/x", SHOP, "GET")
    assert resp.status == 405 and "access-control-allow-origin" not in acao_headers(resp)
    assert cloud.http(app, "GET", "/x", headers={"Origin": SHOP}).headers.get("access-control-allow-origin") is None


def test_an_options_that_is_no_preflight_lists_every_method_of_the_path(cloud) -> None:
    """An ``OPTIONS`` without ``Access-Control-Request-Method`` is routed like any other request: 405 with every
    method the app serves on the path, whichever function serves each, and the CORS headers of the app's policy.
    (On Azure the host hands every ``OPTIONS`` of the route to the function that answers its preflights.)"""
    app = cors_app()
    for headers in ({}, {"Origin": SHOP}):
        resp = cloud.http(app, "OPTIONS", "/orders/o-1", headers=headers)
        assert resp.status == 405 and resp.headers["allow"] == "DELETE, GET, HEAD, POST"
        assert resp.json_body()["detail"] == "allowed: DELETE, GET, HEAD, POST"
    assert acao_headers(resp) == {"access-control-allow-origin": SHOP, "access-control-allow-credentials": "true",
                                  "access-control-expose-headers": "X-Request-Id", "vary": "Origin"}


def route_policy_app() -> App:
    """A path of two functions, one of them with a CORS policy of its own, the app with none."""
    app = App("route-cors")

    @app.http("GET", "/items/{id}", cors=Cors(allow_origins=[SHOP]))
    def get_item(req: HttpRequest) -> dict:
        return {"id": req.path_params["id"]}

    @app.http("DELETE", "/items/{id}")
    def delete_item(req: HttpRequest) -> None:
        return None

    return app


def test_an_options_no_policy_covers_is_405_with_every_method_and_no_cors_headers(cloud) -> None:
    """A plain ``OPTIONS``, and a preflight for a method no policy covers (DELETE has none) or the path does not serve
    (PUT), is answered as any request no function serves: 405 with the path's methods, no CORS headers."""
    app = route_policy_app()
    plain = cloud.http(app, "OPTIONS", "/items/i-1", headers={"Origin": SHOP})
    uncovered = preflight(cloud, app, "/items/i-1", SHOP, "DELETE")
    unserved = preflight(cloud, app, "/items/i-1", SHOP, "PUT")
    for resp in (plain, uncovered, unserved):
        assert resp.status == 405 and resp.headers["allow"] == "DELETE, GET, HEAD"
        assert acao_headers(resp) == {}
    covered = preflight(cloud, app, "/items/i-1", SHOP, "GET")
    assert covered.status == 204 and acao_headers(covered)["access-control-allow-methods"] == "GET, HEAD"


def test_a_preflight_for_a_method_the_path_does_not_serve_names_every_method_it_does(cloud) -> None:
    resp = preflight(cloud, cors_app(), "/orders/o-1", SHOP, "PUT")
    assert resp.status == 403 and "access-control-allow-origin" not in acao_headers(resp)
    assert resp.json_body()["detail"] == "method 'PUT' is not allowed; allowed: DELETE, GET, HEAD, POST"


def test_star_with_credentials_is_refused_and_bad_policies_fail_at_import() -> None:
    with pytest.raises(RegistrationError, match="credentials"):
        Cors(allow_origins=["*"], allow_credentials=True)
    with pytest.raises(RegistrationError, match="scheme://host"):
        Cors(allow_origins=["https://shop.example/"])
    with pytest.raises(RegistrationError, match="at least one origin"):
        Cors(allow_origins=[])
    with pytest.raises(RegistrationError, match="portafunc.Cors"):
        App("x", cors={"allow_origins": ["*"]})  # type: ignore[arg-type]


def escaped_slash_app() -> App:
    """Two routes a path with an escaped "/" could reach, each with a policy of its own: ``/files/a%2Fb`` is
    ``/files/{name}`` (``name`` ``a/b``), as routing matches it, not ``/files/{folder}/{name}``."""
    app = App("escaped-cors")

    @app.http("GET", "/files/{name}", cors=Cors(allow_origins=[SHOP], expose_headers=["X-Route"]))
    def one_file(req: HttpRequest) -> dict:
        return {"name": req.path_params["name"]}

    @app.http("GET", "/files/{folder}/{name}", cors=Cors(allow_origins=["*"]))
    def file_in_folder(req: HttpRequest) -> dict:
        return {"folder": req.path_params["folder"], "name": req.path_params["name"]}

    return app


def test_a_path_with_an_escaped_slash_gets_the_cors_answer_of_the_route_it_is_routed_to(cloud) -> None:
    app = escaped_slash_app()
    resp = preflight(cloud, app, "/files/a%2Fb", SHOP, "GET")
    assert resp.status == 204, resp.body[:300]
    assert acao_headers(resp) == {
        "access-control-allow-origin": SHOP,
        "access-control-allow-methods": "GET, HEAD",
        "vary": "Origin, Access-Control-Request-Method, Access-Control-Request-Headers",
    }
    got = cloud.http(app, "GET", "/files/a%2Fb", headers={"Origin": SHOP})
    assert got.status == 200 and got.json_body() == {"name": "a/b"}
    assert acao_headers(got) == {"access-control-allow-origin": SHOP, "access-control-expose-headers": "X-Route",
                                 "vary": "Origin"}
    # The unescaped path is the other route's, under its own policy.
    assert preflight(cloud, app, "/files/a/b", SHOP, "GET").headers["access-control-allow-origin"] == "*"
