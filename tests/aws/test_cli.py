"""``portafunc events decode|new --target aws`` and ``portafunc invoke --target aws`` as a user runs them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from aws_test_support import SAMPLE_APP, fixture_files

REPO = Path(__file__).resolve().parents[2]


def cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "portafunc.cli", *args], capture_output=True, text=True,
                          input=stdin, timeout=60, cwd=REPO)


def test_decode_every_fixture_sample():
    for path in fixture_files():
        done = cli("events", "decode", "--target", "aws", str(path))
        assert done.returncode == 0, f"{path}: {done.stderr}"
        out = json.loads(done.stdout)
        assert out["target"] == "aws" and out["events"], path
        assert {e["kind"] for e in out["events"]} <= {"http", "message", "storage", "schedule"}


def test_decode_prints_the_documented_fields():
    path = next(p for p in fixture_files() if p.name == "sam-S3Put.json")
    event = json.loads(cli("events", "decode", "--target", "aws", str(path)).stdout)["events"][0]
    assert event == {"kind": "storage", "bucket": "example-bucket", "key": "test/key", "event": "created",
                     "size": 1024, "etag": "0123456789abcdef0123456789abcdef", "id": "0A1B2C3D4E5F678901",
                     "time": "1970-01-01T00:00:00Z"}


def test_unknown_event_exits_2_and_says_what_was_expected(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"hello": "world"}')
    done = cli("events", "decode", "--target", "aws", str(bad))
    assert done.returncode == 2 and done.stdout == ""
    assert "not a known AWS event" in done.stderr and "expected" in done.stderr and "SQS" in done.stderr


@pytest.mark.parametrize("trigger", ["http", "http:apigw-v1", "alb-multi", "queue", "topic", "topic:sns",
                                     "storage", "storage:eventbridge", "schedule"])
def test_new_then_decode_gives_back_the_neutral_input(trigger):
    data = {"http": {"method": "POST", "path": "/orders/é x", "query": {"a": ["1", "2"]}},
            "storage": {"bucket": "uploads", "key": "a b+c.txt", "size": 7},
            }.get(trigger.split(":")[0].replace("alb-multi", "http"), {})
    new = cli("events", "new", "--target", "aws", trigger, "--data", json.dumps(data))
    assert new.returncode == 0, new.stderr
    decoded = cli("events", "decode", "--target", "aws", "-", stdin=new.stdout)
    assert decoded.returncode == 0, decoded.stderr
    event = json.loads(decoded.stdout)["events"][0]
    for key, value in data.items():
        assert event[key] == value


def test_new_then_decode_keeps_an_escaped_slash_in_the_raw_path():
    data = {"method": "GET", "path": "/files/a/b", "raw_path": "/files/a%2Fb"}
    new = cli("events", "new", "--target", "aws", "http", "--data", json.dumps(data))
    assert new.returncode == 0, new.stderr
    assert json.loads(new.stdout)["rawPath"] == "/files/a%2Fb"
    decoded = cli("events", "decode", "--target", "aws", "-", stdin=new.stdout)
    assert decoded.returncode == 0, decoded.stderr
    event = json.loads(decoded.stdout)["events"][0]
    assert (event["path"], event["raw_path"]) == ("/files/a/b", "/files/a%2Fb")


def test_invoke_prints_the_native_answer(tmp_path):
    event = tmp_path / "sqs.json"
    new = cli("events", "new", "--target", "aws", "queue", "--data",
              json.dumps({"id": "m-1", "data_base64": "eyJmYWlsIjogdHJ1ZX0="}))
    event.write_text(new.stdout)
    done = cli("invoke", "work", "--target", "aws", "--event", str(event), "--app", str(SAMPLE_APP))
    assert done.returncode == 1, done.stderr  # the message failed: scripts see it in the exit code
    assert json.loads(done.stdout) == {"batchItemFailures": [{"itemIdentifier": "m-1"}]}
    assert "portafunc: the function failed: 1 message(s) in batchItemFailures: m-1" in done.stderr
