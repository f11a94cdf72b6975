"""Every bounded cache of the core starts over when full: keys seen once (junk requests, texts carrying ids, apps
of a test run) must not keep the keys that repeat out of it for the life of the process.

Each case fills one cache to its bound with junk keys, then runs the real function a request (or a log line, a
registration) runs for a real key, and asserts that the cache holds the real key afterwards."""

from __future__ import annotations

from typing import Any, Callable

import pytest

from portafunc import App, HttpRequest, Message, events, invoke, logs, logsetup, mount
from portafunc.messaging import binding


def _app() -> App:
    app = App("caches")

    @app.http("GET", "/hello")
    def hello(req: HttpRequest) -> str:
        return "hi"

    @app.queue("orders")
    def orders(msg: Message[dict[str, Any]]) -> None:
        return None

    return app


def _failure() -> BaseException:
    try:
        raise ValueError("boom")
    except ValueError as exc:
        return exc


def _summarised(monkeypatch: pytest.MonkeyPatch) -> Callable[[], Any]:
    """A failure whose place had its full traceback already: its summary is what is kept."""
    exc = _failure()
    tb = exc.__traceback__
    assert tb is not None
    code = tb.tb_frame.f_code
    monkeypatch.setattr(invoke, "_full_traceback_logged", {(ValueError, code.co_filename, tb.tb_lineno)})
    monkeypatch.setattr(logs, "_threshold", 20)

    def run() -> Any:
        invoke._traceback(exc)
        return next(key for key in invoke._summaries if key[1] == id(code))

    return run


def _checked_header(name: str) -> str:
    events.check_header(name, "r-1")
    return name


# (module, cache name, bound, run the real insert path and return the real key it keeps)
CASES: dict[str, tuple[Any, str, int, Callable[[pytest.MonkeyPatch], Callable[[], Any]]]] = {
    "asgi servers": (mount, "_asgi_servers", 256,
                     lambda mp: lambda: (mount._asgi_server("https", "shop.example"), ("https", "shop.example"))[1]),
    "wsgi servers": (mount, "_wsgi_servers", 256,
                     lambda mp: lambda: (mount._wsgi_server("https", "shop.example"), ("https", "shop.example"))[1]),
    "lane bridges": (mount, "_lane_bridges", 4096, lambda mp: lambda: (
        (app := _app()), mount.mount_lane(app, "GET", "/hello", "hello"), app.function("hello"))[2]),
    "mount index": (mount, "_mount_index", 256, lambda mp: lambda: (
        (app := _app()), app._match("GET", "/hello", None), mount._routed(app, "GET", "/hello"), id(app))[3]),
    "token names": (events, "_token_names", 512,
                    lambda mp: lambda: _checked_header("X-Request-Id")),
    "log field names": (logsetup, "_keys", 4096, lambda mp: lambda: (logsetup._key("order_id"), "order_id")[1]),
    "log heads": (logsetup, "_heads", 256, lambda mp: lambda: (
        logsetup._head("INFO", "handler done", "portafunc"), ("INFO", "handler done", "portafunc"))[1]),
    "secret names": (logs, "_secret_names", 4096, lambda mp: lambda: (logs._secret_names["order_id"], "order_id")[1]),
    "http chains": (invoke, "_http_chains", 4096, lambda mp: lambda: (
        (spec := _app().function("hello")), invoke._http_chain(spec, "aws"), spec)[2]),
    "http lanes": (invoke, "_http_lanes", 4096, lambda mp: lambda: (
        (spec := _app().function("hello")), invoke._http_lane(spec), spec)[2]),
    "plain messages": (invoke, "_plain_messages", 4096, lambda mp: lambda: (
        (spec := _app().function("orders")), invoke._plain_message(spec), spec)[2]),
    "rejection plans": (invoke, "_rejection_plans", 4096, lambda mp: lambda: (
        invoke._rejection_plan(_app().function("orders")), "orders")[1]),
    "dead-letter variables": (invoke, "_dl_envs", 4096, lambda mp: lambda: (
        invoke._dl_env(_app().function("orders")), "orders")[1]),
    "environment keys": (invoke, "_env_keys", 4096, lambda mp: lambda: (
        invoke._unset("PORTAFUNC_DEADLETTER_ORDERS"), "PORTAFUNC_DEADLETTER_ORDERS")[1]),
    "failure summaries": (invoke, "_summaries", invoke._FULL_TRACEBACK_PLACES, _summarised),
    "payload fingerprints": (invoke, "_fingerprints", invoke._FINGERPRINTS_MAX, lambda mp: lambda: (
        invoke._payload_for_log(Message("m-1", b'{"id": 1}')), b'{"id": 1}')[1]),
    "binding variables": (binding, "_env_names", 4096,
                          lambda mp: lambda: (binding.env_name("topic", "orders"), ("topic", "orders"))[1]),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_full_cache_starts_over_and_keeps_the_next_real_key(case: str, monkeypatch: pytest.MonkeyPatch) -> None:
    module, name, bound, prepare = CASES[case]
    cache = getattr(module, name)
    full = type(cache)()
    for i in range(bound):  # junk keys, each seen once
        if isinstance(full, set):
            full.add(f"junk-{i}")
        else:
            full[f"junk-{i}"] = None
    monkeypatch.setattr(module, name, full)
    run = prepare(monkeypatch)
    key = run()
    kept = getattr(module, name)
    assert key in kept, f"{name} full of junk keys does not keep {key!r}"
    assert len(kept) <= bound
    assert not any(isinstance(k, str) and k.startswith("junk-") for k in kept)  # started over


def test_every_bounded_cache_of_the_core_is_covered() -> None:
    """A new bounded cache (a module-level dict or set filled through portafunc.caches) gets a case above."""
    import inspect
    import re

    found = set()
    for module in (mount, events, logsetup, logs, invoke, binding):
        source = inspect.getsource(module)
        found |= {(module.__name__, m) for m in re.findall(r"\bkeep(?:_member)?\((_[a-z_]+), ", source)}
    assert len(found) >= 17, "the search no longer finds the caches: does it still match how they are filled?"
    covered = {(module.__name__, name) for module, name, _, _ in CASES.values()}
    already = {("portafunc.invoke", "_redacted_errors"), ("portafunc.logs", "_clean")}  # tested in test_failure_logs
    assert found - already <= covered


def test_keep_empties_a_full_cache_before_it_stores() -> None:
    from portafunc.caches import keep, keep_member

    cache = {"a": 1, "b": 2}
    assert keep(cache, "c", 3, 3) == 3 and cache == {"a": 1, "b": 2, "c": 3}  # below the bound: added
    assert keep(cache, "d", 4, 3) == 4 and cache == {"d": 4}  # at the bound: started over
    members = {"a", "b"}
    keep_member(members, "c", 2)
    assert members == {"c"}
