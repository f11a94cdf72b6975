"""``portafunc invoke`` applies the configuration file's ``env`` (app, function and ``--stage`` layers) as
``portafunc run`` does, with the runner's code: a variable already set in the environment wins, the variables
applied and kept are named on stderr (never a value), and stdout holds the answer only."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from portafunc.targets import get_target

TARGETS = ["aws", "azure", "gcp", "container"]

APP = '''
import os
from portafunc import App, ScheduleEvent

app = App("cfg")
NAMES = ("LEVEL", "REGION", "MODE", "PORTAFUNC_STAGE")
LEVEL_AT_IMPORT = os.environ.get("LEVEL", "-")  # what an app reads once, at import (a JwtAuth issuer, CORS origins)


@app.http("GET", "/env")
def show_env(req):
    print("LEVEL=" + os.environ.get("LEVEL", "-"))  # a log line: stderr, never stdout
    return {name: os.environ.get(name) for name in NAMES}


@app.http("GET", "/env-at-import")
def show_import(req):
    return {"LEVEL": LEVEL_AT_IMPORT}


@app.schedule("rate(5 minutes)")
def tick(evt: ScheduleEvent) -> None:
    print("tick " + " ".join(name + "=" + os.environ.get(name, "-") for name in NAMES))
'''

CONFIG = '''
env = { LEVEL = "info", REGION = "eu" }

[functions.tick]
env = { MODE = "batch" }

[stages.prod]
env = { LEVEL = "warning" }
'''


@pytest.fixture(scope="module")
def app_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cfg")
    (root / "main.py").write_text(APP, encoding="utf-8")
    (root / "portafunc.toml").write_text(CONFIG, encoding="utf-8")
    return root


def invoke(app_dir: Path, target: str, *args: str, env: dict[str, str] | None = None, function: str = "show_env",
           trigger: str = "http", data: dict[str, Any] | None = None) -> subprocess.CompletedProcess[str]:
    event = app_dir / f"{target}-{function}.json"
    native = get_target(target).new_event(trigger, {"method": "GET", "path": "/env"} if data is None else data)
    event.write_text(json.dumps(native), encoding="utf-8")
    clean = {k: v for k, v in os.environ.items() if k not in ("LEVEL", "REGION", "MODE")
             and not k.startswith("PORTAFUNC_")}
    return subprocess.run([sys.executable, "-m", "portafunc.cli", "invoke", function, "--target", target,
                           "--event", str(event), "--app", "main:app", *args], capture_output=True, text=True,
                          timeout=120, cwd=app_dir, env={**clean, **(env or {})})


def answer_body(done: subprocess.CompletedProcess[str]) -> Any:
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)  # stdout is the answer JSON and nothing else
    return json.loads(answer["body"])


@pytest.mark.parametrize("target", TARGETS)
def test_the_stage_env_reaches_the_function_on_every_target(app_dir: Path, target: str) -> None:
    done = invoke(app_dir, target, "--stage", "prod")
    assert answer_body(done) == {"LEVEL": "warning", "REGION": "eu", "MODE": None, "PORTAFUNC_STAGE": "prod"}
    assert "portafunc invoke: env from portafunc.toml (stage prod): LEVEL, PORTAFUNC_STAGE, REGION" in \
        done.stderr.splitlines()
    assert "LEVEL=warning" in done.stderr  # the function's print


@pytest.mark.parametrize("target", ["aws", "gcp"])
def test_the_app_imports_with_the_stage_env_as_deployed(app_dir: Path, target: str) -> None:
    """The app-wide env is set before the import, as the deployed function has it when its module loads."""
    done = invoke(app_dir, target, "--stage", "prod", function="show_import",
                  data={"method": "GET", "path": "/env-at-import"})
    assert answer_body(done) == {"LEVEL": "warning"}
    assert "portafunc invoke: env from portafunc.toml (stage prod): LEVEL, PORTAFUNC_STAGE, REGION" in \
        done.stderr.splitlines()
    mine = invoke(app_dir, target, "--stage", "prod", function="show_import",
                  data={"method": "GET", "path": "/env-at-import"}, env={"LEVEL": "mine-7f3a"})
    assert answer_body(mine) == {"LEVEL": "mine-7f3a"}  # the developer's own value still wins


def test_without_a_stage_the_base_env_applies(app_dir: Path) -> None:
    done = invoke(app_dir, "aws")
    assert answer_body(done) == {"LEVEL": "info", "REGION": "eu", "MODE": None, "PORTAFUNC_STAGE": None}
    assert "portafunc invoke: env from portafunc.toml: LEVEL, REGION" in done.stderr.splitlines()


def test_a_variable_the_developer_set_wins_and_is_named_kept_without_its_value(app_dir: Path) -> None:
    done = invoke(app_dir, "gcp", "--stage", "prod", env={"LEVEL": "mine-7f3a"})
    assert answer_body(done)["LEVEL"] == "mine-7f3a"
    lines = done.stderr.splitlines()
    assert "portafunc invoke: env from portafunc.toml (stage prod): PORTAFUNC_STAGE, REGION" in lines
    assert "portafunc invoke: env kept from your environment (the file's value not applied): LEVEL" in lines
    assert "LEVEL=mine-7f3a" in lines  # the function's own print; no line of invoke shows the value
    assert not [line for line in lines if line.startswith("portafunc invoke:") and "mine-7f3a" in line]


def test_the_function_gets_its_own_layer_of_the_file(app_dir: Path) -> None:
    """Invoke runs one function: its own ``[functions.NAME]`` env applies, another function's does not."""
    done = invoke(app_dir, "aws", function="tick", trigger="schedule", data={})
    assert done.returncode == 0, done.stderr
    assert "tick LEVEL=info REGION=eu MODE=batch PORTAFUNC_STAGE=-" in done.stderr
    assert "portafunc invoke: env from portafunc.toml: LEVEL, MODE, REGION" in done.stderr.splitlines()


def test_an_unknown_stage_is_refused_before_the_function_runs(app_dir: Path) -> None:
    done = invoke(app_dir, "azure", "--stage", "nope")
    assert done.returncode == 2
    assert done.stdout == ""
    assert "portafunc: error: stage 'nope' is not defined in " in done.stderr and "(stages: prod)" in done.stderr
    assert "LEVEL=" not in done.stderr
