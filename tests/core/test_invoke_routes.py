"""``portafunc invoke`` of an HTTP function refuses a native event that the function's route would not receive (a
path it does not match, a method it does not serve, a request the app routes to another function) before anything
runs: exit 2, one line naming the event's method and path and the function's route, the same words on every target.
HEAD against a GET route and a CORS preflight of the function's path are taken, as every platform takes them; an
event the route receives is answered as before."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from cli_run import refused

from portafunc.targets import get_target

TARGETS = ["aws", "azure", "gcp", "container"]

APP = '''
from portafunc import App, Cors, HttpRequest

app = App("routes", cors=Cors(allow_origins=["https://shop.example"]))


@app.http("GET", "/items/{item_id}")
def get_item(req: HttpRequest, item_id: str):
    print("ran get_item")
    return {"item": item_id}


@app.http("DELETE", "/items/{item_id}")
def delete_item(item_id: str) -> None:
    print("ran delete_item")


@app.http("GET", "/files/{path+}")
def get_file(path: str):
    return {"path": path}
'''

PLAIN = '''
from portafunc import App

app = App("plain")


@app.http("GET", "/items/{item_id}")
def get_item(item_id: str):
    print("ran get_item")
    return {"item": item_id}
'''


@pytest.fixture(scope="module")
def app_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("routes")
    (root / "main.py").write_text(APP, encoding="utf-8")
    (root / "plain.py").write_text(PLAIN, encoding="utf-8")
    return root


def invoke(app_dir: Path, target: str, function: str, request: dict[str, Any], app: str = "main:app"
           ) -> subprocess.CompletedProcess[str]:
    """``portafunc invoke`` with the native event ``portafunc events new --target TARGET http`` makes of
    ``request``."""
    event = app_dir / f"{target}-{function}.json"
    event.write_text(json.dumps(get_target(target).new_event("http", request)), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTAFUNC_")}
    return subprocess.run([sys.executable, "-m", "portafunc.cli", "invoke", function, "--target", target,
                           "--event", str(event), "--app", app], capture_output=True, text=True, timeout=120,
                          cwd=app_dir, env=env)


def status(answer: dict[str, Any]) -> int:
    return int(answer.get("statusCode", answer.get("status_code", 0)))


def header(answer: dict[str, Any], name: str) -> str | None:
    headers = answer["headers"]
    pairs = headers.items() if isinstance(headers, dict) else headers
    return next((v for k, v in pairs if k.lower() == name), None)


@pytest.mark.parametrize("target", TARGETS)
def test_a_path_the_route_does_not_match_is_refused_in_the_same_words_on_every_target(app_dir: Path,
                                                                                      target: str) -> None:
    done = invoke(app_dir, target, "get_item", {"method": "GET", "path": "/nope"})
    assert refused(done) == "portafunc: error: the event is GET /nope; function get_item takes GET /items/{item_id}"


@pytest.mark.parametrize("target", TARGETS)
def test_a_method_another_function_serves_is_refused_naming_that_function(app_dir: Path, target: str) -> None:
    done = invoke(app_dir, target, "get_item", {"method": "DELETE", "path": "/items/i-1"})
    assert refused(done) == ("portafunc: error: the event is DELETE /items/i-1; function get_item takes GET "
                             "/items/{item_id} (the app routes this event to function delete_item)")


@pytest.mark.parametrize("target", TARGETS)
def test_head_against_a_get_route_runs_the_function_and_answers_without_a_body(app_dir: Path, target: str) -> None:
    done = invoke(app_dir, target, "get_item", {"method": "HEAD", "path": "/items/i-1"})
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert status(answer) == 200 and not answer["body"]
    assert "ran get_item" in done.stderr


@pytest.mark.parametrize("target", TARGETS)
def test_a_cors_preflight_of_the_functions_path_is_answered_without_running_it(app_dir: Path, target: str) -> None:
    # A preflight is answered for the whole path, whatever method it asks about: DELETE is delete_item's
    done = invoke(app_dir, target, "get_item", {"method": "OPTIONS", "path": "/items/i-1", "headers": {
        "origin": "https://shop.example", "access-control-request-method": "DELETE"}})
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert status(answer) == 204
    assert header(answer, "access-control-allow-origin") == "https://shop.example"
    assert header(answer, "access-control-allow-methods") == "DELETE, GET, HEAD"
    assert "ran " not in done.stderr


@pytest.mark.parametrize("target", TARGETS)
def test_options_the_function_does_not_serve_is_refused(app_dir: Path, target: str) -> None:
    plain = invoke(app_dir, target, "get_item", {"method": "OPTIONS", "path": "/items/i-1"})
    assert refused(plain) == ("portafunc: error: the event is OPTIONS /items/i-1; function get_item takes GET "
                              "/items/{item_id}")
    preflight = invoke(app_dir, target, "get_item", {"method": "OPTIONS", "path": "/items/i-1", "headers": {
        "origin": "https://shop.example", "access-control-request-method": "GET"}}, app="plain:app")
    assert refused(preflight) == ("portafunc: error: the event is OPTIONS /items/i-1; function get_item takes GET "
                                  "/items/{item_id} (a CORS preflight, and no CORS policy covers this path)")


@pytest.mark.parametrize("target", TARGETS)
def test_an_event_the_route_receives_is_answered_as_before(app_dir: Path, target: str) -> None:
    done = invoke(app_dir, target, "get_file", {"method": "GET", "path": "/files/a/b.txt"})
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert status(answer) == 200 and json.loads(answer["body"]) == {"path": "a/b.txt"}
