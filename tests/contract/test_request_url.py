"""``req.url`` and ``req.base_url`` on every front door: the URL the client called (the path as sent, the query) and
the base that, with a route's path, reaches the same app, through each target's contract driver and ``portafunc
run``'s server."""

from __future__ import annotations

import urllib.request
from typing import Any

import pytest
from runner_driver import contract_fixtures, get_json

from portafunc import App, HttpRequest
from portafunc.targets import available
from portafunc.testing import Cloud

FRONTS = sorted(available()) + ["run"]

app = App("request-url")


@app.http("GET", "/links/{code}")
def link(req: HttpRequest) -> dict[str, Any]:
    return {"url": req.url, "base": req.base_url, "raw_path": req.raw_path, "raw_query": req.raw_query}


@app.http("GET", "/ping")
def ping(req: HttpRequest) -> dict[str, str]:
    return {"pong": req.base_url}


runner_driver, front = contract_fixtures(FRONTS)


def _get(front: Cloud, path: str, **kw: Any) -> dict[str, Any]:
    return get_json(front, app, path, **kw)


@pytest.mark.parametrize(("sent", "query", "tail"), [
    ("/links/abc", None, "/links/abc"),
    ("/links/a%2Fb", None, "/links/a%2Fb"),
    ("/links/caf%C3%A9", {"x": "1", "y": "a b"}, "/links/caf%C3%A9?x=1&y=a%20b"),
])
def test_the_url_is_the_base_the_path_as_sent_and_the_query(front: Cloud, sent: str, query: dict[str, str] | None,
                                                            tail: str) -> None:
    doc = _get(front, sent, query=query)
    assert doc["url"] == doc["base"] + tail
    base = doc["base"]
    scheme, _, rest = base.partition("://")
    assert scheme in ("http", "https") and rest and not base.endswith("/")
    assert "/" not in rest or front.name == "aws" and rest.endswith("/prod")


def test_the_base_is_the_same_for_every_route(front: Cloud) -> None:
    assert _get(front, "/ping")["pong"] == _get(front, "/links/x")["base"]


def test_a_host_header_names_the_base_where_the_front_door_reads_it(front: Cloud) -> None:
    doc = _get(front, "/links/x", headers={"Host": "short.example:8443"})
    if front.name == "aws":  # the custom domain called, as API Gateway writes it (domainName), on its https port
        assert doc["base"] == "https://short.example"
    else:  # the url the Functions host reports; the WSGI Host; run's own Host
        assert doc["base"] == "http://short.example:8443"


def test_under_portafunc_run_the_base_reaches_the_same_server(runner_driver: Any) -> None:
    doc = Cloud("run", driver=runner_driver).http(app, "GET", "/links/x").json_body()
    with urllib.request.urlopen(doc["base"] + "/ping", timeout=10) as resp:  # noqa: S310 - the local server
        assert resp.status == 200
