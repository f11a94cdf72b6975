"""``portafunc invoke`` refuses a native event of another kind (http, message, storage, schedule) than the named
function's trigger takes, before anything runs: exit 2, one line in the same sentence on every target, naming the
function's kind and trigger and the event as that target knows it. An event of the function's own kind runs as
before, including those a target delivers in another kind's clothes: a message carrying a storage notification, a
push or a manual run arriving as an HTTP request."""

from __future__ import annotations

import base64
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
from portafunc import App, HttpRequest, Message, ScheduleEvent, StorageEvent

app = App("kinds")


@app.http("GET", "/items/{item_id}")
def get_item(req: HttpRequest, item_id: str):
    print("ran get_item")
    return {"item": item_id}


@app.queue("work")
def work(msg: Message) -> None:
    print("ran work")


@app.topic("news")
def news(msg: Message) -> None:
    print("ran news")


@app.storage("uploads", events=["created"])
def on_upload(evt: StorageEvent) -> None:
    print("ran on_upload")


@app.schedule("rate(5 minutes)")
def nightly(evt: ScheduleEvent) -> None:
    print("ran nightly")
'''

HTTP = "http GET /items/{item_id}"

# What each target calls the native event `portafunc events new --target T TRIGGER` makes
NAMES = {
    "aws": {"queue": "an SQS batch", "http": "an HTTP request", "storage": "an S3 notification",
            "schedule": "an EventBridge event"},
    "azure": {"queue": "a Storage Queue message", "http": "an HTTP request", "storage": "an Event Grid blob event",
              "schedule": "a TimerInfo timer tick"},
    "gcp": {"queue": "a Pub/Sub CloudEvent", "http": "an HTTP request", "storage": "a Cloud Storage CloudEvent",
            "schedule": "a Cloud Scheduler request"},
    "container": {"queue": "a CloudEvent of type io.portafunc.message", "http": "an HTTP request",
                  "storage": "a CloudEvent of type io.portafunc.storage.created",
                  "schedule": "a Cloud Scheduler request"},
}

DATA: dict[str, dict[str, Any]] = {"http": {"path": "/items/i-1"}, "storage": {"bucket": "uploads", "key": "a.txt"}}


@pytest.fixture(scope="module")
def app_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("kinds")
    (root / "main.py").write_text(APP, encoding="utf-8")
    return root


def invoke(app_dir: Path, target: str, function: str, native: Any) -> subprocess.CompletedProcess[str]:
    """``portafunc invoke FUNCTION --target TARGET`` with ``native`` as the event file."""
    event = app_dir / f"{target}-{function}.json"
    event.write_text(json.dumps(native), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTAFUNC_")}
    return subprocess.run([sys.executable, "-m", "portafunc.cli", "invoke", function, "--target", target,
                           "--event", str(event), "--app", "main:app"], capture_output=True, text=True, timeout=120,
                          cwd=app_dir, env=env)


def new_event(target: str, trigger: str, data: dict[str, Any] | None = None) -> Any:
    """What ``portafunc events new --target TARGET TRIGGER`` prints."""
    kind = trigger.partition(":")[0]
    return get_target(target).new_event(trigger, data if data is not None else DATA.get(kind))


def sentence(function: str, kind: str, what: str, trigger: str) -> str:
    return (f"portafunc: error: not a known event: function {function!r} is a {kind} function but received {what} "
            f"(expected an event for its {trigger} trigger)")


def ran(done: subprocess.CompletedProcess[str], function: str) -> None:
    assert done.returncode == 0, (done.stdout, done.stderr)
    assert f"ran {function}" in done.stderr
    json.loads(done.stdout)  # the native answer


# (function, its kind, the trigger of the event given to it, how the refusal names the function's trigger)
WRONG_KINDS = [
    pytest.param("get_item", "http", "queue", HTTP, id="queue-event-to-http"),
    pytest.param("work", "queue", "http", "queue work", id="http-event-to-queue"),
    pytest.param("get_item", "http", "storage", HTTP, id="storage-event-to-http"),
    pytest.param("get_item", "http", "schedule", HTTP, id="schedule-event-to-http"),
    pytest.param("on_upload", "storage", "queue", "storage uploads created", id="message-to-storage"),
    pytest.param("nightly", "schedule", "storage", "schedule rate(5 minutes)", id="storage-event-to-schedule"),
]


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize(("function", "kind", "given", "trigger"), WRONG_KINDS)
def test_an_event_of_another_kind_is_refused(app_dir: Path, target: str, function: str, kind: str, given: str,
                                              trigger: str) -> None:
    done = invoke(app_dir, target, function, new_event(target, given))
    assert refused(done) == sentence(function, kind, NAMES[target][given], trigger)


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize(("trigger", "function"), [("queue", "work"), ("topic", "news"), ("storage", "on_upload"),
                                                   ("schedule", "nightly")])
def test_an_event_of_the_functions_own_kind_runs_as_before(app_dir: Path, target: str, trigger: str,
                                                           function: str) -> None:
    ran(invoke(app_dir, target, function, new_event(target, trigger)), function)


@pytest.mark.parametrize("target", TARGETS)
def test_an_http_event_to_an_http_function_runs_as_before(app_dir: Path, target: str) -> None:
    ran(invoke(app_dir, target, "get_item", new_event(target, "http")), "get_item")


def test_aws_a_queue_function_takes_s3_notifications_sent_through_its_queue(app_dir: Path) -> None:
    ran(invoke(app_dir, "aws", "work", new_event("aws", "storage:s3-sqs")), "work")


def test_azure_a_topic_function_takes_a_blob_event_as_a_message(app_dir: Path) -> None:
    ran(invoke(app_dir, "azure", "news", new_event("azure", "storage")), "news")


def pushed_over_http() -> Any:
    """A Pub/Sub push subscription's delivery to a GCP function: a POST whose JSON body is the push envelope."""
    body = json.dumps(new_event("gcp", "queue:push")).encode()
    return new_event("gcp", "http", {"method": "POST", "path": "/", "headers": {"content-type": "application/json"},
                                     "body_base64": base64.b64encode(body).decode()})


def test_gcp_a_pubsub_push_sent_as_an_http_request_runs_a_queue_function(app_dir: Path) -> None:
    request = pushed_over_http()
    ran(invoke(app_dir, "gcp", "work", request), "work")


def test_gcp_a_plain_post_to_a_schedule_function_is_a_manual_run(app_dir: Path) -> None:
    ran(invoke(app_dir, "gcp", "nightly", new_event("gcp", "http", {"method": "POST", "path": "/"})), "nightly")
    # and a request carrying another event is not a tick
    request = pushed_over_http()
    assert refused(invoke(app_dir, "gcp", "nightly", request)) == sentence(
        "nightly", "schedule", "a Pub/Sub push message", "schedule rate(5 minutes)")


def test_container_a_pubsub_push_runs_a_queue_function(app_dir: Path) -> None:
    ran(invoke(app_dir, "container", "work", new_event("container", "queue:pubsub-push")), "work")
