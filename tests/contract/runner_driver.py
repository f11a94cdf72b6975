"""``portafunc run``'s HTTP front door as a contract driver: each app is served by the runner's own server
(:class:`portafunc.runner.http.LocalHttpServer`) on a free port in this process, and every request goes over a real
socket, so a suite can drive the same apps through the three clouds' entry points and ``portafunc run`` alike."""

from __future__ import annotations

import http.client
import threading
from typing import Any, Iterator
from urllib.parse import quote

import pytest

from portafunc import App, Headers, HttpRequest, HttpResponse
from portafunc.runner.console import InFlight
from portafunc.runner.http import LocalHttpServer
from portafunc.targets import Driver, Exchange
from portafunc.testing import Cloud


class RunnerDriver(Driver):
    target = "run"

    def __init__(self) -> None:
        self._servers: dict[int, tuple[App, LocalHttpServer]] = {}

    def _port(self, app: App) -> int:
        hit = self._servers.get(id(app))
        if hit is None or hit[0] is not app:
            server = LocalHttpServer("127.0.0.1", 0, app, InFlight())
            threading.Thread(target=server.serve_forever, name="portafunc-run-driver", daemon=True).start()
            hit = self._servers[id(app)] = (app, server)
        return hit[1].server_address[1]

    def close(self) -> None:
        for _, server in self._servers.values():
            server.shutdown()
            server.server_close()
        self._servers.clear()

    def http(self, app: App, request: HttpRequest) -> Exchange:
        target = request.raw_path
        query = request.raw_query
        if query is None:
            query = "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, vs in request.query.items() for v in vs)
        if query:
            target += "?" + query
        conn = http.client.HTTPConnection("127.0.0.1", self._port(app), timeout=30)
        try:
            conn.putrequest(request.method, target, skip_host="host" in request.headers,
                            skip_accept_encoding=True)
            for name, value in request.headers.items():
                conn.putheader(name, value.encode("utf-8"))
            if request.body or request.method in ("POST", "PUT", "PATCH"):
                conn.putheader("Content-Length", str(len(request.body)))
            conn.endheaders(request.body or None)
            answer = conn.getresponse()
            body = answer.read()
            headers = [(k, v) for k, v in answer.getheaders()
                       if k.lower() not in ("content-length", "transfer-encoding", "connection", "date", "server")]
            native: dict[str, Any] = {"status": answer.status, "headers": answer.getheaders(), "body": len(body)}
        finally:
            conn.close()
        resp = HttpResponse(answer.status, Headers(headers), body)
        return Exchange("run", {"method": request.method, "target": target}, native, response=resp)

    def messages(self, app: App, function: str, messages: list[Any]) -> Exchange:
        raise NotImplementedError("the runner driver serves HTTP only")

    def event(self, app: App, function: str, event: Any) -> Exchange:
        raise NotImplementedError("the runner driver serves HTTP only")


def contract_fixtures(fronts: list[str]) -> tuple[Any, Any]:
    """The ``runner_driver`` and ``front`` fixtures of a module that drives its apps through every front door of
    ``fronts`` (target names, and ``run`` for ``portafunc run``'s server): ``runner_driver, front =
    contract_fixtures(FRONTS)`` at the module's top level."""

    @pytest.fixture(scope="module")
    def runner_driver() -> Iterator[RunnerDriver]:
        driver = RunnerDriver()
        yield driver
        driver.close()

    @pytest.fixture(params=fronts)
    def front(request: pytest.FixtureRequest, runner_driver: RunnerDriver, monkeypatch: pytest.MonkeyPatch
              ) -> Iterator[Cloud]:
        """One front door: a cloud's contract driver, or portafunc run's server. As with the ``cloud`` fixture,
        unbound buckets and key-value tables are memory:// and start empty in each test."""
        from portafunc import data
        from portafunc.data import memory

        name = request.param
        instance = Cloud(name, driver=runner_driver) if name == "run" else Cloud(name)
        monkeypatch.setenv("PORTAFUNC_DEFAULT_BINDING", "memory://")
        request.node._portafunc_cloud = instance  # a failure shows this front door's native exchanges
        data.reset()
        memory.reset()
        yield instance
        data.reset()
        memory.reset()

    return runner_driver, front


def get_json(front: Cloud, app: App, path: str, **kw: Any) -> dict[str, Any]:
    """``GET path`` through ``front``: the JSON object of its 200 answer (anything else fails the test)."""
    resp = front.http(app, "GET", path, **kw)
    assert resp.status == 200, resp.body[:300]
    doc: dict[str, Any] = resp.json_body()
    return doc
