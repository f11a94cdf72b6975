"""The Lambda zip of an HTTP-only app carries only what its trigger family needs, as bytecode: no queue/topic/
storage/schedule codecs, no SNS HTTP verifier, no record-batch kit; portafunc's modules as docstring-free ``.pyc``
without sources, the app's own code with its sources; under 150 KB. The artifact is run from a fresh directory by
this interpreter in isolated mode without site-packages (``-I -S``: only the standard library and the zip's
contents), through the real Lambda entry point ``portafunc_aws.runtime.handler``: an event of a family the app
has no function for gets the typed EventDecodeError it always got, never an ImportError."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
PY = f"{sys.version_info.major}.{sys.version_info.minor}"

HELLO = ("from portafunc import App, HttpRequest\n\napp = App('hello')\n\n\n"
         "@app.http('GET', '/hello/{name}')\ndef hello(req: HttpRequest) -> dict:\n"
         "    return {'message': 'hello ' + req.path_params['name']}\n\n\n"
         "@app.http('GET', '/boom')\ndef boom(req: HttpRequest) -> dict:\n"
         "    raise ValueError('boom')\n")

UNUSED_FAMILIES = ("portafunc_aws/codecs/queue", "portafunc_aws/codecs/topic", "portafunc_aws/codecs/storage",
                   "portafunc_aws/codecs/eventbridge", "portafunc_aws/codecs/schedule", "portafunc_aws/inbound/",
                   "portafunc/kit/records", "portafunc/kit/storage_filter", "portafunc/schedule", "portafunc/jwks",
                   "portafunc/cors", "portafunc/params", "portafunc/auth")

# Run inside the artifact: each native event through the Lambda handler, printed as one JSON line.
RUN = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
from portafunc_aws import runtime
for event in json.loads(sys.argv[2]):
    try:
        print(json.dumps({"answer": runtime.handler(event, None)}))
    except Exception as exc:
        print(json.dumps({"error": type(exc).__name__, "message": str(exc)}))
print(json.dumps({"loaded": sorted(m for m in sys.modules if m.startswith("portafunc"))}))
"""


def package(project: Path, out: Path) -> Path:
    done = subprocess.run([sys.executable, "-m", "portafunc.cli", "package", "--target", "aws", "--python", PY,
                           "--out", str(out), str(project)], capture_output=True, text=True, timeout=600, cwd=REPO)
    assert done.returncode == 0, done.stderr
    return next((out / "aws").glob("*.zip"))


@pytest.fixture(scope="module")
def hello(tmp_path_factory: pytest.TempPathFactory) -> Path:
    project = tmp_path_factory.mktemp("hello")
    (project / "main.py").write_text(HELLO)
    return package(project, tmp_path_factory.mktemp("dist"))


def run(task_root: Path, events: list[object], env: dict[str, str]) -> list[dict[str, Any]]:
    done = subprocess.run([sys.executable, "-I", "-S", "-c", RUN, str(task_root), json.dumps(events)],
                          capture_output=True, text=True, timeout=120, cwd=task_root,
                          env={"PORTAFUNC_APP": "main:app", "PATH": "/usr/bin:/bin", **env})
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


def http_event(path: str, headers: dict[str, str] | None = None) -> dict[str, object]:
    from portafunc.events import HttpRequest
    from portafunc_aws.codecs.http import encode_request

    return encode_request(HttpRequest("GET", path, headers=headers or {}), "apigw-v2")  # type: ignore[no-any-return]


def test_hello_zip_is_small_bytecode_without_unused_families(hello: Path) -> None:
    size = hello.stat().st_size
    assert size < 150_000, size  # 449 KB with sources, every family's codecs and column tables
    names = zipfile.ZipFile(hello).namelist()
    for module in UNUSED_FAMILIES:
        assert not any(n.startswith(module) for n in names), module
    ours = [n for n in names if n.startswith(("portafunc/", "portafunc_aws/"))]
    assert ours and all(n.endswith(".pyc") and "__pycache__" not in n for n in ours), ours
    assert "main.py" in names and f"__pycache__/main.cpython-{PY.replace('.', '')}.pyc" in names
    assert not any(n.endswith(("/", "py.typed", "RECORD", "top_level.txt")) for n in names), names
    assert len(names) == len(set(names))


def test_events_of_unregistered_families_get_the_typed_error(hello: Path, tmp_path: Path) -> None:
    from portafunc.events import Message, StorageEvent
    from portafunc_aws.codecs.queue import encode_messages
    from portafunc_aws.codecs.storage import encode_storage
    from portafunc_aws.codecs.topic import encode_sns

    zipfile.ZipFile(hello).extractall(tmp_path)
    msg = Message(id="m-1", data=b"{}")
    schedule = {"version": "0", "id": "e-1", "detail-type": "Scheduled Event", "source": "aws.events",
                "account": "1", "time": "2026-01-01T00:00:00Z", "region": "us-east-1", "resources": [],
                "detail": {}}
    events = [http_event("/hello/ada"), encode_messages([msg], "sqs"), encode_sns([msg]),
              encode_storage(StorageEvent(bucket="b", key="k"), "s3"), schedule]
    lines = run(tmp_path, events, {"PORTAFUNC_FUNCTION": "hello"})
    assert lines[0]["answer"]["statusCode"] == 200
    assert json.loads(lines[0]["answer"]["body"]) == {"message": "hello ada"}
    for line, what in zip(lines[1:5], ("an SQS batch", "an SNS notification", "an S3 notification",
                                       "an EventBridge event"), strict=True):
        assert line["error"] == "EventDecodeError", line
        assert f"'hello' is a http function but received {what}" in str(line["message"]), line
    assert not any(m.startswith(("portafunc_aws.codecs.queue", "portafunc.kit.records")) for m in lines[5]["loaded"])


def test_an_sns_header_on_an_app_without_topic_functions_is_ordinary_http(hello: Path, tmp_path: Path) -> None:
    zipfile.ZipFile(hello).extractall(tmp_path)
    event = http_event("/hello/sns", {"x-amz-sns-message-type": "Notification"})
    lines = run(tmp_path, [event], {})
    assert lines[0]["answer"]["statusCode"] == 200, lines


def test_portafunc_frames_name_file_and_line_without_source(hello: Path, tmp_path: Path) -> None:
    """A failing handler still answers 500; the logged traceback points into the app's source lines and names
    portafunc's frames by file and line."""
    zipfile.ZipFile(hello).extractall(tmp_path)
    done = subprocess.run([sys.executable, "-I", "-S", "-c", RUN, str(tmp_path), json.dumps([http_event("/boom")])],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path,
                          env={"PORTAFUNC_APP": "main:app", "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.splitlines()[0])["answer"]["statusCode"] == 500
    logged = done.stdout + done.stderr
    assert "raise ValueError('boom')" in logged, logged  # the app's own line, from its source
    assert re.search(r'"portafunc/invoke\.py\\", line \d+, in ', logged), logged  # (JSON-escaped quotes)


def test_sources_switch_ships_portafunc_sources(tmp_path: Path) -> None:
    project = tmp_path / "hello"
    project.mkdir()
    (project / "main.py").write_text(HELLO)
    (project / "portafunc.toml").write_text("[targets.aws]\nsources = true\n")
    names = zipfile.ZipFile(package(project, tmp_path / "dist")).namelist()
    assert "portafunc/invoke.py" in names and f"portafunc/__pycache__/invoke.cpython-{PY.replace('.', '')}.pyc" in names
    assert "portafunc/invoke.pyc" not in names


def test_modules_the_app_imports_ship_even_when_unused(tmp_path: Path) -> None:
    project = tmp_path / "hello"
    project.mkdir()
    (project / "main.py").write_text("import portafunc\nfrom portafunc.jwks import KeySet\n" + HELLO
                                     + "\n\nPOLICY = portafunc.Cors\n")
    names = zipfile.ZipFile(package(project, tmp_path / "dist")).namelist()
    assert "portafunc/jwks.pyc" in names and "portafunc/cors.pyc" in names
    assert not any(n.startswith("portafunc/kit/records") for n in names)


def test_auth_ships_only_for_a_bearer_token_check(tmp_path: Path) -> None:
    """``portafunc.auth`` (JwtAuth) is left out of an app whose routes use the platform's levels only, a Router's
    too, and that app still loads and answers in isolation; an app with a JwtAuth route ships it."""
    levels = tmp_path / "levels"
    levels.mkdir()
    (levels / "main.py").write_text(HELLO + "\n\nfrom portafunc import Router\n\nadmin = Router(auth='function')\n\n\n"
                                    "@admin.http('GET', '/admin/ping')\ndef ping(req: HttpRequest) -> dict:\n"
                                    "    return {'pong': True}\n\n\napp.include_router(admin)\n")
    zipped = package(levels, tmp_path / "dist-levels")
    assert "portafunc/auth.pyc" not in zipfile.ZipFile(zipped).namelist()
    zipfile.ZipFile(zipped).extractall(tmp_path / "levels-root")
    lines = run(tmp_path / "levels-root", [http_event("/admin/ping")], {})
    assert lines[0]["answer"]["statusCode"] == 200, lines
    jwt = tmp_path / "jwt"
    jwt.mkdir()
    (jwt / "main.py").write_text("from portafunc import App, HttpRequest, JwtAuth\n\napp = App('jwt')\n"
                                 "AUTH = JwtAuth(issuer='https://issuer.example', audience='api')\n\n\n"
                                 "@app.http('GET', '/me', auth=AUTH)\ndef me(req: HttpRequest) -> dict:\n"
                                 "    return {'me': True}\n")
    assert "portafunc/auth.pyc" in zipfile.ZipFile(package(jwt, tmp_path / "dist-jwt")).namelist()
