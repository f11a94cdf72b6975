"""The CLI frame: help, version, targets, inspect, and clear errors with exit code 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import portafunc

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str, cwd: Path = ROOT, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "portafunc.cli", *args], capture_output=True, text=True, cwd=cwd,
                          input=stdin)


def test_version_and_help():
    out = run("--version")
    assert out.returncode == 0 and out.stdout.strip() == f"portafunc {portafunc.__version__}"
    helptext = run("--help").stdout
    for command in ("targets", "events", "package", "run", "invoke", "inspect"):
        assert command in helptext


def test_targets_lists_the_installed_adapters():
    from portafunc.targets import available

    out = run("targets")
    assert out.returncode == 0
    names = {line.split()[0]: line for line in out.stdout.splitlines()}
    assert set(names) == set(available()) and {"aws", "azure", "container", "gcp"} <= set(names)


def test_inspect_shows_every_function_on_every_target_as_json():
    out = run("inspect", "examples/shop", "--json")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["app"] == "shop"
    functions = {f["function"]: f for f in doc["functions"]}
    assert set(functions) == {"create_order", "list_orders", "get_order", "cancel_order", "fulfil", "audit",
                              "nightly", "on_upload", "portafunc_docs", "portafunc_docs_files"}
    from portafunc.targets import available

    for row in functions.values():
        assert set(row["targets"]) == set(available())  # every installed target, the container one included


def test_missing_app_is_a_clear_error_not_a_traceback(tmp_path):
    out = run("inspect", str(tmp_path))
    assert out.returncode == 2 and "no main.py or app.py" in out.stderr and "Traceback" not in out.stderr
    (tmp_path / "main.py").write_text("import not_a_real_module_xyz\n")
    out = run("inspect", str(tmp_path))
    assert out.returncode == 2 and "not_a_real_module_xyz" in out.stderr and "Traceback" not in out.stderr
    (tmp_path / "main.py").write_text("app = 42\n")
    out = run("inspect", str(tmp_path))
    assert out.returncode == 2 and "not a portafunc.App" in out.stderr


def test_unknown_target_is_exit_2_naming_the_installed_ones():
    from portafunc.targets import available

    installed = ", ".join(sorted(available()))
    for argv in (["events", "decode", "--target", "ibm", "-"], ["package", "--target", "ibm", "."],
                 ["run", "--target", "ibm", "."], ["inspect", "--target", "ibm", "."], ["invoke", "f", "--target",
                                                                                         "ibm", "--event", "-"]):
        out = run(*argv, stdin="{}")
        assert out.returncode == 2, argv
        assert f"'ibm' is not an installed target; installed: {installed}" in out.stderr, (argv, out.stderr)


def test_targets_lists_every_installed_target_with_its_distribution():
    from portafunc.targets import available, distributions

    out = run("targets")
    assert out.returncode == 0
    rows = [line.split() for line in out.stdout.splitlines()]
    assert [r[0] for r in rows] == sorted(available())
    assert all(r[1] == distributions()[r[0]] and r[2] == available()[r[0]] for r in rows)


def test_events_decode_rejects_non_json_input():
    out = run("events", "decode", "--target", "aws", "-", stdin="not json")
    assert out.returncode == 2 and "not JSON" in out.stderr


def test_empty_standard_input_is_reported_as_empty():
    """`portafunc events new ... | portafunc invoke ... --event -`: when the first command fails, the second reads
    nothing; its error says the input was empty rather than reporting a JSON syntax error at "line 1 column 1"."""
    for argv in (("events", "decode", "--target", "aws", "-"),
                 ("invoke", "--target", "aws", "fulfil", "--event", "-", "--app", "examples/shop")):
        out = run(*argv, stdin="")
        assert out.returncode == 2, out.stderr
        assert "standard input is empty" in out.stderr and "line 1 column 1" not in out.stderr, out.stderr
