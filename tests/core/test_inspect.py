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
        "@app.queue('work', max_attempts=3)\ndef work(msg):\n    pass\n")
    out = run(str(tmp_path))
    assert out.returncode == 2
    assert "gcp REFUSES this deployment:" in out.stdout and "work: max_attempts=3" in out.stdout
    assert run(str(tmp_path), "--target", "aws").returncode == 0
