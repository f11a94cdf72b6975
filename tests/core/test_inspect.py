"""``portafunc inspect``: the whole deployment per target, exit 2 when a target refuses it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
AWKWARD = ROOT / "tests" / "apps" / "awkward"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "portafunc.cli", "inspect", *args], capture_output=True, text=True,
                          cwd=ROOT)


def test_inspect_shows_resources_grants_settings_and_secret_names(tmp_path: Path) -> None:
    out = run(str(AWKWARD), "--stage", "prod", "--json")
    assert out.returncode == 0, out.stdout + out.stderr
    doc = json.loads(out.stdout)
    assert doc["stage"] == "prod"
    resources = {(r["kind"], r["name"]): r for r in doc["resources"]}
    assert resources[("queue", "work-failed")]["origin"] == "dead_letter"
    assert resources[("queue", "work")]["options"]["dead_letter"] == "work-failed"
    assert ("idempotency", "idempotency") in resources
    functions = {f["function"]: f for f in doc["functions"]}
    create = functions["create_order"]
    assert {(g["kind"], g["name"], tuple(g["access"])) for g in create["grants"]} == {
        ("queue", "work", ("send",)), ("topic", "order-events", ("publish",)),
        ("idempotency", "idempotency", ("read", "write"))}
    assert set(create["settings"]["secrets"]) == {"PAYMENT_API_KEY", "DB_PASSWORD"}
    assert "local-only" not in out.stdout  # names and references only, never a value
    assert functions["process_work"]["settings"]["memory"] == 2048
    assert all(not t["problems"] for t in doc["targets"].values())
    aws = functions["process_work"]["targets"]["aws"]["permissions"]
    assert aws[0] == "SQSPollerPolicy on WorkQueue" and "SQSSendMessagePolicy on WorkFailedQueue" in aws


def test_inspect_exits_2_naming_what_a_target_refuses(tmp_path: Path) -> None:
    (tmp_path / "main.py").write_text(
        "from portafunc import App\napp = App('refused')\n\n"
        "@app.topic('work', max_attempts=3)\ndef work(msg):\n    pass\n")
    out = run(str(tmp_path))
    assert out.returncode == 2
    assert "gcp REFUSES this deployment:" in out.stdout and "work: max_attempts=3" in out.stdout
    assert run(str(tmp_path), "--target", "aws").returncode == 0


def test_inspect_says_how_each_function_behaves_and_where_a_target_differs(tmp_path: Path) -> None:
    (tmp_path / "main.py").write_text(
        "from portafunc import App\napp = App('semantics')\n\n"
        "@app.queue('fast', visibility_timeout=30)\ndef fast(msg):\n    pass\n\n"
        "@app.queue('slow', visibility_timeout=300, dead_letter='slow-failed')\ndef slow(msg):\n    pass\n\n"
        "@app.http('GET', '/ping')\ndef ping(req):\n    return {}\n")
    out = run(str(tmp_path))
    assert out.returncode == 0, out.stdout + out.stderr
    doc = json.loads(run(str(tmp_path), "--json").stdout)
    behaviour = {f["function"]: f["behaviour"] for f in doc["functions"]}
    assert "goes to its own dead-letter queue at once" in behaviour["fast"]
    assert "goes to queue slow-failed at once" in behaviour["slow"]
    assert "wrong method 405 with Allow" in behaviour["ping"]
    # host.json holds one retry delay per app: Azure says so, the others have nothing to add
    assert doc["targets"]["azure"]["warnings"] == [
        "slow: visibility_timeout=300s, but host.json holds one retry delay for every queue function of the app: "
        "failed messages are retried after 30s"]
    assert doc["targets"]["aws"]["warnings"] == doc["targets"]["gcp"]["warnings"] == []
    assert "\nazure differs: slow: visibility_timeout=300s" in out.stdout


def test_inspect_says_where_azure_sends_a_queues_retried_out_messages(tmp_path: Path) -> None:
    """A queue function's retried-out messages go to its dead_letter= on Azure as on every target: no target differs,
    and the trigger's line names the dead letter (the poison queue only as the fallback); without dead_letter= it
    names the poison queue."""
    (tmp_path / "main.py").write_text(
        "from portafunc import App\napp = App('poison')\n\n"
        "@app.queue('Rows.In', max_attempts=3, dead_letter='rows-failed')\ndef handle_row(msg):\n    pass\n\n"
        "@app.queue('plain')\ndef plain(msg):\n    pass\n")
    out = run(str(tmp_path), "--target", "azure")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "differs:" not in out.stdout
    assert "queue rows-in, connection AzureWebJobsStorage, dead letter rows-failed after 3 attempts (poison queue " \
        "rows-in-poison if that move fails)" in out.stdout
    assert "queue plain, connection AzureWebJobsStorage, poison queue plain-poison after 5 attempts" in out.stdout
    for other in ("aws", "gcp", "container"):
        assert "differs:" not in run(str(tmp_path), "--target", other).stdout


def test_a_mounted_apps_behaviour_says_the_web_app_answers_its_own_paths(tmp_path: Path) -> None:
    """A mount's 404, 405 and errors are the web app's own (FastAPI's JSON, Flask's pages), not portafunc's
    problem+json: inspect says so for the mount's function, and the usual line for a route of the app."""
    (tmp_path / "main.py").write_text(
        "from portafunc import App\n\n"
        "def web(environ, start_response):\n"
        "    start_response('200 OK', [])\n"
        "    return [b'']\n\n"
        "app = App('mounted')\napp.mount('/legacy', web)\n\n\n"
        "@app.http('GET', '/health')\ndef health(req):\n    return 'ok'\n")
    out = run(str(tmp_path), "--json")
    assert out.returncode == 0, out.stdout + out.stderr
    behaviour = {f["function"]: f["behaviour"] for f in json.loads(out.stdout)["functions"]}
    assert behaviour["mount_legacy"].startswith("the mounted web app answers every path under its prefix")
    assert "problem+json" in behaviour["health"]
