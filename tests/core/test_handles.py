"""Handles made at module level (``jobs = portafunc.queue("jobs")``): the app imports where nothing is bound (package,
inspect, run), each call is bound then and held to the running function's ``uses=``, and a handle declares its own
resource in a trigger, a dead letter and ``uses=``."""

from __future__ import annotations

import pytest

import portafunc
from portafunc import App, BindingError, HttpRequest, Message, RegistrationError, StorageEvent
from portafunc.data import reset as reset_data
from portafunc.invoke import handle_http
from portafunc.messaging import reset as reset_messaging
from portafunc.messaging.memory import broker
from portafunc.resources import publishes, sends, writes

BINDING_VARIABLES = ("PORTAFUNC_DEFAULT_BINDING", "PORTAFUNC_QUEUE_JOBS", "PORTAFUNC_TOPIC_NEWS",
                     "PORTAFUNC_BUCKET_IMAGES", "PORTAFUNC_KV_COUNTS", "PORTAFUNC_QUEUE_FAILED")


@pytest.fixture(autouse=True)
def _unbound(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in BINDING_VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    broker().reset()
    reset_messaging()
    reset_data()


def _handles_app() -> App:
    """What a user writes: handles at module level, passed to the decorators."""
    jobs, news = portafunc.queue("jobs"), portafunc.topic("news")
    images, counts = portafunc.bucket("images"), portafunc.kv("counts")
    app = App("thumbs")

    @app.http("POST", "/images/{name}", uses=[images, jobs, news])
    def upload(req: HttpRequest, name: str) -> dict[str, str]:
        images.put(name, req.body)
        jobs.send({"key": name})
        news.publish({"stored": name})
        return {"stored": name}

    @app.queue(jobs, dead_letter=portafunc.queue("failed"), uses=[images, counts])
    def resize(msg: Message) -> None:
        key = msg.json()["key"]
        counts.put(key, {"size": len(images.get(key))})

    @app.storage(images)
    def on_created(event: StorageEvent) -> None:
        pass

    return app


def _names_app() -> App:
    """The same app declared by names."""
    app = App("thumbs")

    @app.http("POST", "/images/{name}", uses=[writes(bucket="images"), sends("jobs"), publishes("news")])
    def upload(req: HttpRequest, name: str) -> dict[str, str]:
        return {}

    @app.queue("jobs", dead_letter="failed", uses=[writes(bucket="images"), writes(kv="counts")])
    def resize(msg: Message) -> None:
        pass

    @app.storage("images")
    def on_created(event: StorageEvent) -> None:
        pass

    return app


def _model(app: App) -> list[tuple[str, str, str]]:
    return sorted((r.kind, r.name, r.origin) for r in app.resources().resources.values())


def test_an_app_with_module_level_handles_imports_with_nothing_bound_and_declares_what_names_declare() -> None:
    app = _handles_app()  # no binding anywhere: this used to be a BindingError at import
    assert _model(app) == _model(_names_app())
    grants = {(f.name, u.kind, u.name, u.access) for f in app for u in f.uses}
    assert grants == {(f.name, u.kind, u.name, u.access) for f in _names_app() for u in f.uses}


def test_module_level_handles_are_bound_on_first_use_and_deliver(monkeypatch: pytest.MonkeyPatch) -> None:
    app = _handles_app()
    monkeypatch.setenv("PORTAFUNC_DEFAULT_BINDING", "memory://")  # bound after import, as portafunc run binds
    resp = handle_http(app, HttpRequest("POST", "/images/cat.png", body=b"png!"))
    assert resp.status == 200, resp.body
    assert portafunc.bucket("images").get("cat.png") == b"png!"
    [sent] = portafunc.queue("jobs").receive()
    assert sent.json() == {"key": "cat.png"}


def test_a_module_level_handle_is_held_to_the_running_functions_uses(monkeypatch: pytest.MonkeyPatch) -> None:
    """Opened at import, a module-level client used to skip the check that a function declared what it reaches:
    locally it worked, in the cloud the function had no grant. Each call is checked now."""
    monkeypatch.setenv("PORTAFUNC_DEFAULT_BINDING", "memory://")
    news = portafunc.topic("news")  # bound, so opened now (its SDK loads during the cold start's init)
    images = portafunc.bucket("images")
    app = App("shop")
    raised: list[BaseException] = []

    @app.http("POST", "/a")
    def undeclared(req: HttpRequest) -> str:
        for call in (lambda: news.publish({"x": 1}), lambda: images.get("k")):
            try:
                call()
            except BindingError as exc:
                raised.append(exc)
        return "ok"

    assert handle_http(app, HttpRequest("POST", "/a")).status == 200
    assert [str(e).split(":")[0] for e in raised] == [
        "function 'undeclared' reaches topic 'news' but does not declare it",
        "function 'undeclared' reaches bucket 'images' but does not declare it"]
    assert news.publish({"outside": "a handler"})  # outside any function, nothing to check


def test_inside_a_handler_an_unbound_name_is_refused_where_it_is_named() -> None:
    app = App("shop")
    raised: list[BaseException] = []

    @app.http("POST", "/a", uses=[sends("jobs")])
    def send(req: HttpRequest) -> str:
        try:
            portafunc.queue("jobs")
        except BindingError as exc:
            raised.append(exc)
        return "ok"

    handle_http(app, HttpRequest("POST", "/a"))
    assert len(raised) == 1 and "PORTAFUNC_QUEUE_JOBS" in str(raised[0])


@pytest.mark.parametrize("declare, message", [
    (lambda app: app.queue(portafunc.topic("news")), "is a topic, not a queue"),
    (lambda app: app.topic(portafunc.queue("jobs")), "is a queue, not a topic"),
    (lambda app: app.storage(portafunc.kv("counts")), "is a kv, not a bucket"),
    (lambda app: app.queue("jobs", dead_letter=portafunc.topic("news")), "is a topic, not a queue"),
    (lambda app: app.http("GET", "/a", uses=[object()], name="a")(lambda req: None),
     "^function 'a': .*or a handle from portafunc.topic()"),
])
def test_a_handle_of_another_kind_is_refused_when_declared(declare, message: str) -> None:  # noqa: ANN001
    with pytest.raises(RegistrationError, match=message):
        declare(App("shop"))


def test_handles_compare_by_name_and_forward_what_their_backend_has(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORTAFUNC_QUEUE_JOBS", "memory://jobs")
    jobs = portafunc.queue("jobs")
    assert jobs == portafunc.queue("jobs") and jobs != portafunc.queue("other") and jobs != portafunc.topic("jobs")
    assert len({jobs, portafunc.queue("jobs")}) == 1
    jobs.send("a")
    assert len(jobs) == 1 and bool(portafunc.queue("never-bound"))  # memory:// counts; a handle is always true
    assert jobs.backend is portafunc.queue("jobs").backend
    assert repr(jobs) == "portafunc.queue('jobs')" and repr(portafunc.kv("counts")) == "portafunc.kv('counts')"
    with pytest.raises(TypeError, match="logical name"):
        portafunc.queue("")
