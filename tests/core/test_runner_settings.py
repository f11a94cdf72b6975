"""``portafunc run`` applies the configuration file's env (app, function and stage layers) as the packagers do, and
names the secrets a developer must export locally (never a value). The app is tests/apps/awkward, whose
portafunc.toml has app-wide, per-function and per-stage settings."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
AWKWARD = REPO / "tests" / "apps" / "awkward"
sys.path.insert(0, str(REPO / "tests" / "apps"))
from loading import load_test_app  # noqa: E402


def test_stage_env_is_applied_and_missing_secrets_are_named() -> None:
    from portafunc.runner.settings import apply_local_settings

    environ: dict[str, str] = {}
    lines = apply_local_settings(load_test_app("awkward"), AWKWARD, "prod", environ)
    assert environ == {"LOG_LEVEL": "WARNING", "PORTAFUNC_STAGE": "prod"}
    assert any(line.startswith("env from portafunc.toml (stage prod): LOG_LEVEL, PORTAFUNC_STAGE") for line in lines)
    named = [line for line in lines if line.startswith("secret ")]
    assert [line.split()[1] for line in named] == ["DB_PASSWORD", "PAYMENT_API_KEY"]


def test_the_developers_environment_wins_and_a_set_secret_is_not_named() -> None:
    from portafunc.runner.settings import apply_local_settings

    environ = {"LOG_LEVEL": "ERROR", "PAYMENT_API_KEY": "local-value", "DB_PASSWORD": "x"}
    lines = apply_local_settings(load_test_app("awkward"), AWKWARD, "dev", environ)
    assert environ["LOG_LEVEL"] == "ERROR" and environ["PORTAFUNC_STAGE"] == "dev"
    assert not [line for line in lines if line.startswith("secret ")]
    assert "local-value" not in "\n".join(lines)


def test_portafunc_run_with_a_stage_runs_the_handler_with_the_stage_env(tmp_path: Path) -> None:
    project = tmp_path / "app"
    project.mkdir()
    (project / "main.py").write_text(
        "import os\nfrom portafunc import App, ScheduleEvent\napp = App('cfg')\n\n"
        "@app.schedule('rate(5 minutes)')\ndef tick(evt: ScheduleEvent) -> None:\n"
        "    print('LEVEL=' + os.environ.get('LEVEL', '-') + ' STAGE=' + os.environ.get('PORTAFUNC_STAGE', '-'))\n")
    (project / "portafunc.toml").write_text('env = { LEVEL = "info" }\n[stages.prod]\nenv = { LEVEL = "warning" }\n')
    env = {k: v for k, v in os.environ.items() if k not in ("LEVEL", "PORTAFUNC_STAGE")}
    done = subprocess.run([sys.executable, "-m", "portafunc.cli", "run", str(project), "--stage", "prod",
                           "--trigger", "tick"], capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr
    assert "LEVEL=warning STAGE=prod" in done.stdout
    plain = subprocess.run([sys.executable, "-m", "portafunc.cli", "run", str(project), "--trigger", "tick"],
                           capture_output=True, text=True, timeout=120, env=env)
    assert "LEVEL=info STAGE=-" in plain.stdout


def test_a_variable_the_functions_disagree_on_is_named_only_while_the_developer_has_not_set_it(tmp_path: Path) -> None:
    """One process serves every function, so a variable two functions set differently is left out and named; once
    the developer's environment sets it, that value is used (their environment wins) and nothing asks them to set it.
    """
    from portafunc import App, ScheduleEvent
    from portafunc.runner.settings import apply_local_settings

    app = App("split")

    @app.schedule("rate(5 minutes)")
    def tick(evt: ScheduleEvent) -> None: ...

    @app.schedule("rate(10 minutes)")
    def tock(evt: ScheduleEvent) -> None: ...

    (tmp_path / "portafunc.toml").write_text('[functions.tick]\nenv = { MODE = "fast" }\n'
                                             '[functions.tock]\nenv = { MODE = "slow" }\n')
    unset: dict[str, str] = {}
    lines = apply_local_settings(app, tmp_path, None, unset)
    assert "MODE" not in unset
    assert any(line.startswith("env MODE: functions set different values") for line in lines), lines
    own = {"MODE": "local"}
    lines = apply_local_settings(app, tmp_path, None, own)
    assert own == {"MODE": "local"}
    assert not [line for line in lines if "MODE" in line], lines
