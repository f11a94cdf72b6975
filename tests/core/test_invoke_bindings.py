"""``portafunc invoke`` binds the app's declared resources as ``portafunc run`` does: a ``memory://`` stand-in for
each one the environment does not bind, the user's own binding kept, both named on stderr; stdout is the answer."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

APP = '''
import portafunc
from portafunc import App, Message

app = App("notes")


@app.http("POST", "/notes/{key}", uses=[portafunc.writes(kv="notes")])
def put_note(req, key: str):
    table = portafunc.kv("notes")
    table.put(key, req.json())
    print(f"stored {key}")  # a log line: on stderr, never in the answer on stdout
    return {"read_back": table.get(key), "keys": sorted(table.keys())}


@app.http("POST", "/files/{name}", uses=[portafunc.writes(bucket="files")])
def put_file(req, name: str):
    files = portafunc.bucket("files")
    files.put(name, req.body)
    return {"read_back": files.get(name).decode()}


@app.queue("jobs", idempotency_key="id", uses=[portafunc.publishes("done")])
def job(msg: Message) -> None:
    portafunc.topic("done").publish({"job": msg.id})
'''


@pytest.fixture(scope="module")
def app_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("notes")
    (root / "main.py").write_text(APP, encoding="utf-8")
    return root


def cli(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PORTAFUNC_")}
    return subprocess.run([sys.executable, "-m", "portafunc.cli", *args], capture_output=True, text=True, timeout=120,
                          cwd=cwd, env={**clean, **(env or {})})


def invoke(app_dir: Path, target: str, function: str, trigger: str, data: dict[str, Any],
           env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    new = cli("events", "new", "--target", target, trigger, "--data", json.dumps(data), cwd=app_dir)
    assert new.returncode == 0, new.stderr
    event = app_dir / f"{target}-{function}.json"
    event.write_text(new.stdout, encoding="utf-8")
    return cli("invoke", function, "--target", target, "--event", str(event), "--app", "main:app", cwd=app_dir,
               env=env)


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def body(target: str, answer: dict[str, Any]) -> Any:
    if target == "aws":
        assert answer["statusCode"] == 200, answer
    return json.loads(answer["body"])


@pytest.mark.parametrize("target", ["aws", "azure", "gcp"])
def test_a_table_row_written_is_read_back(app_dir: Path, target: str) -> None:
    done = invoke(app_dir, target, "put_note", "http",
                  {"method": "POST", "path": "/notes/n-1", "headers": {"content-type": "application/json"},
                   "body_base64": b64(json.dumps({"text": "hello"}))})
    assert done.returncode == 0, done.stderr
    assert body(target, json.loads(done.stdout)) == {"read_back": {"text": "hello"}, "keys": ["n-1"]}
    # the runner's words, on stderr only: stdout held nothing but the answer (json.loads above read all of it)
    assert "  kv notes: memory://notes\n" in done.stderr
    assert "  bucket files: memory://files\n" in done.stderr
    assert "  queue jobs: memory://jobs?max_attempts=" in done.stderr
    assert "  topic done: memory://done\n" in done.stderr
    assert "  idempotency store: memory://\n" in done.stderr
    assert "gone when invoke exits" in done.stderr
    assert "stored n-1\n" in done.stderr


def test_a_binding_the_user_set_is_kept(app_dir: Path, tmp_path: Path) -> None:
    files = tmp_path / "files"
    env = {"PORTAFUNC_BUCKET_FILES": f"file://{files}", "PORTAFUNC_KV_NOTES": "memory://elsewhere"}
    done = invoke(app_dir, "aws", "put_file", "http", {"method": "POST", "path": "/files/a.txt", "body_base64": b64("kept")},
                  env=env)
    assert done.returncode == 0, done.stderr
    assert body("aws", json.loads(done.stdout)) == {"read_back": "kept"}
    assert (files / "a.txt").read_text() == "kept"  # on disk: outlives the command, unlike memory://
    assert f"  bucket files: file://{files}  (from PORTAFUNC_BUCKET_FILES)\n" in done.stderr
    assert "  kv notes: memory://elsewhere  (from PORTAFUNC_KV_NOTES)\n" in done.stderr
    again = invoke(app_dir, "gcp", "put_file", "http", {"method": "POST", "path": "/files/b.txt", "body_base64": b64("too")},
                   env=env)
    assert again.returncode == 0, again.stderr
    assert (files / "a.txt").read_text() == "kept" and (files / "b.txt").read_text() == "too"


@pytest.mark.parametrize("target", ["aws", "azure", "gcp"])
def test_an_idempotent_consumer_that_publishes_runs(app_dir: Path, target: str) -> None:
    """A cloud target's adapter wants PORTAFUNC_IDEMPOTENCY_STORE set, and the topic the function publishes to
    bound: invoke gives it both, as the runner would."""
    done = invoke(app_dir, target, "job", "queue", {"id": "j-1", "data_base64": "e30="})
    assert done.returncode == 0, done.stderr
    assert "idempotency store: memory://" in done.stderr
