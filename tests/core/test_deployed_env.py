"""``portafunc inspect``, ``package`` and ``openapi`` import the app with the configuration file's app-wide env (the
file's top level and ``--stage``'s layer), as the deployed functions import it, and put the environment back
afterwards: what an app computes from its environment at import (an issuer, CORS origins, a required variable) is
what the deployed functions compute."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from portafunc.config import deployed_env, load_config

ROOT = Path(__file__).resolve().parents[2]

APP = """\
import os

from portafunc import App, HttpRequest, JwtAuth

REGION = os.environ["SHOP_REGION"]  # required: importing without it fails
users = JwtAuth(issuer=os.environ.get("SHOP_ISSUER", "https://login.shop.example/"), audience="api://shop")
app = App("envapp", auth=users)


@app.http("GET", "/me")
def me(req: HttpRequest) -> dict:
    return {}
"""

CONFIG = """\
env = { SHOP_REGION = "eu" }

[stages.prod]
env = { SHOP_ISSUER = "https://login.prod.shop.example/" }
"""


def _project(tmp_path: Path) -> Path:
    (tmp_path / "main.py").write_text(APP)
    (tmp_path / "portafunc.toml").write_text(CONFIG)
    return tmp_path


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("SHOP_")}
    return subprocess.run([sys.executable, "-m", "portafunc.cli", *args], capture_output=True, text=True, cwd=ROOT,
                          env={**environ, **(env or {})}, timeout=120)


def test_openapi_names_the_stages_issuer(tmp_path: Path) -> None:
    project = _project(tmp_path)
    prod = _cli("openapi", str(project), "--stage", "prod")
    assert prod.returncode == 0, prod.stderr
    assert "A JWT issued by https://login.prod.shop.example/" in prod.stdout
    base = _cli("openapi", str(project))
    assert base.returncode == 0, base.stderr
    assert "A JWT issued by https://login.shop.example/" in base.stdout


def test_inspect_imports_with_the_files_env_and_names_a_replaced_variable(tmp_path: Path) -> None:
    project = _project(tmp_path)
    out = _cli("inspect", str(project), "--stage", "prod", "--json", env={"SHOP_REGION": "us-secret-value"})
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["stage"] == "prod"
    assert "SHOP_REGION from portafunc.toml" in out.stderr and "us-secret-value" not in out.stderr
    assert _cli("inspect", str(project), "--stage", "prod", "--json").stderr == ""  # nothing replaced: nothing said


def test_deployed_env_sets_the_app_wide_layers_and_puts_the_environment_back(tmp_path: Path) -> None:
    (tmp_path / "portafunc.toml").write_text(
        'env = { A = "file-a", B = "file-b" }\n\n[functions.f]\nenv = { C = "only-f" }\n\n'
        '[stages.prod]\nenv = { B = "prod-b" }\n')
    environ = {"A": "mine", "B": "prod-b", "OTHER": "kept"}
    with deployed_env(load_config(tmp_path, "prod"), environ) as applied:
        assert environ == {"A": "file-a", "B": "prod-b", "OTHER": "kept", "PORTAFUNC_STAGE": "prod"}
        assert applied.applied == ["A", "B", "PORTAFUNC_STAGE"] and applied.replaced == ["A"]  # B had that value
    assert environ == {"A": "mine", "B": "prod-b", "OTHER": "kept"}
    environ = {}
    try:
        with deployed_env(load_config(tmp_path), environ):
            assert environ == {"A": "file-a", "B": "file-b"}  # no stage: no PORTAFUNC_STAGE, no stage layer
            raise KeyError("boom")
    except KeyError:
        pass
    assert environ == {}
