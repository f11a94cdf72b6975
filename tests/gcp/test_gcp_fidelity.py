"""A structured-mode CloudEvent saved in the HTTP file form decodes as the CloudEvent it carries, as the real entry
(functions-framework serving the generated main.py) reads it.

Sample: functions-framework-conformance's ``pubsub_text-cloudevent-input.json`` (tests/fixtures/events/MANIFEST.md),
sent the way its harness and Eventarc send a structured-mode event: one POST whose body is the whole CloudEvent,
``Content-Type: application/cloudevents+json`` (CloudEvents HTTP binding, structured content mode).
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path

from portafunc import App, Message
from portafunc.targets import get_target

from .conftest import GCP_FIXTURES, REPO

SAMPLE = GCP_FIXTURES / "pubsub-cloudevent" / "ffconf-pubsub_text-cloudevent-input.json"


def _http_form(content_type: str = "application/cloudevents+json; charset=utf-8") -> dict:
    return {"method": "POST", "path": "/", "query_string": "", "headers": [["Content-Type", content_type]],
            "body": SAMPLE.read_text(encoding="utf-8"), "isBase64Encoded": False}


def _check(msg: Message) -> None:
    assert isinstance(msg, Message)
    assert msg.id == "aaaaaa-1111-bbbb-2222-cccccccccccc" and msg.data == b"test message 3"
    assert msg.attributes == {"attr1": "attr1-value"}
    assert msg.source == "//pubsub.googleapis.com/projects/sample-project/topics/gcf-test"


def test_decode_reads_the_structured_cloudevent_in_the_http_form():
    (msg,) = get_target("gcp").decode(_http_form())
    _check(msg)
    assert get_target("gcp").decode(_http_form("application/cloudevents+json"))[0].id == msg.id


def test_events_decode_on_the_command_line(tmp_path: Path):
    path = tmp_path / "structured.json"
    path.write_text(json.dumps(_http_form()), encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "portafunc.cli", "events", "decode", "--target", "gcp", str(path)],
                          capture_output=True, text=True, cwd=REPO, timeout=60)
    assert proc.returncode == 0, proc.stderr
    (event,) = json.loads(proc.stdout)["events"]
    assert event["kind"] == "message" and event["id"] == "aaaaaa-1111-bbbb-2222-cccccccccccc"
    assert base64.b64decode(event["data_base64"]) == b"test message 3"


def test_the_real_entry_reads_the_same_request_the_same_way():
    app = App("structured")
    got: list[Message] = []

    @app.topic("gcf-test", name="on_message")
    def on_message(msg: Message) -> None:
        got.append(msg)

    answer = get_target("gcp").invoke(app, "on_message", _http_form())
    assert answer["statusCode"] == 200, answer
    (msg,) = got
    _check(msg)


def test_the_handler_sees_the_query_string_as_sent():
    """Through functions-framework's Flask request: escapes and order kept; raw bytes a client failed to escape are
    percent-encoded so they still decode to what was sent."""
    app = App("query")
    seen: list[str | None] = []

    @app.http("GET", "/q")
    def q(req):  # type: ignore[no-untyped-def]
        seen.append(req.raw_query)
        return {"ok": True}

    for sent, expected in (("b=%20x&a=1&a=2", "b=%20x&a=1&a=2"), ("", "")):
        answer = get_target("gcp").invoke(app, "q", {"method": "GET", "path": "/q", "query_string": sent,
                                                     "headers": [], "body": ""})
        assert answer["statusCode"] == 200 and seen[-1] == expected
