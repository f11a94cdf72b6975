"""``portafunc package --stage``: the app is imported with the configuration file's app-wide env (the file's top
level and the stage's), as each deployed function imports it, so what the app computes from its environment at
import and the packager turns into native configuration agrees with what the functions run with. The shop example
builds its ``JwtAuth`` from ``SHOP_ISSUER``/``SHOP_AUDIENCE`` at import: the HTTP API's JWT authorizer must carry
the stage's issuer and audience, the ones its functions verify tokens against."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
SHOP = REPO / "examples" / "shop"
PY = f"{sys.version_info.major}.{sys.version_info.minor}"
PROD_ISSUER = "https://login.prod.shop.example/"
PROD_AUDIENCE = "api://shop-prod"


class _Loader(yaml.SafeLoader):
    """Reads the template's short-form intrinsic functions (``!Ref``, ``!Sub``, ...) as plain values."""


_Loader.add_multi_constructor("!", lambda loader, suffix, node: None)


def _package(project: Path, out: Path, *args: str, env: dict[str, str] | None = None
             ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "portafunc.cli", "package", "--target", "aws", "--python", PY,
                           "--out", str(out), *args, str(project)], capture_output=True, text=True, timeout=600,
                          cwd=REPO, env={**os.environ, **(env or {})})


def _template(out: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.load((out / "aws" / "template.yaml").read_text(), Loader=_Loader)  # noqa: S506
    return loaded


def _authorizers(template: dict[str, Any]) -> list[dict[str, Any]]:
    (api,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::Serverless::HttpApi"]
    return list(api["Properties"]["Auth"]["Authorizers"].values())


def _function_env(template: dict[str, Any]) -> list[dict[str, str]]:
    """The environment of each of the app's functions (not of the router answering what no route matches)."""
    envs = [r["Properties"]["Environment"]["Variables"] for r in template["Resources"].values()
            if r["Type"] == "AWS::Serverless::Function"]
    return [env for env in envs if "PORTAFUNC_FUNCTION" in env]


@pytest.fixture
def shop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    project = tmp_path_factory.mktemp("shop") / "shop"
    shutil.copytree(SHOP, project)
    (project / "portafunc.toml").write_text(
        "[stages.prod]\n"
        f'env = {{ SHOP_ISSUER = "{PROD_ISSUER}", SHOP_AUDIENCE = "{PROD_AUDIENCE}" }}\n')
    return project


def test_the_jwt_authorizer_carries_the_stages_issuer_and_audience(shop: Path, tmp_path: Path) -> None:
    # the developer's own value of a variable the file sets is not what the deployed functions get: the file's wins
    done = _package(shop, tmp_path, "--stage", "prod", env={"SHOP_ISSUER": "https://login.dev.shop.example/"})
    assert done.returncode == 0, done.stderr
    template = _template(tmp_path)
    (authorizer,) = _authorizers(template)
    assert authorizer["JwtConfiguration"] == {"issuer": PROD_ISSUER, "audience": [PROD_AUDIENCE]}
    envs = _function_env(template)
    assert envs and all(env["SHOP_ISSUER"] == PROD_ISSUER and env["SHOP_AUDIENCE"] == PROD_AUDIENCE
                        for env in envs)
    assert "login.dev.shop.example" not in (tmp_path / "aws" / "template.yaml").read_text()
    assert "SHOP_ISSUER from portafunc.toml" in done.stderr  # named, its value never shown
    assert "login.dev.shop.example" not in done.stdout + done.stderr


def test_without_a_stage_the_top_level_env_applies_and_none_the_stages(shop: Path, tmp_path: Path) -> None:
    (shop / "portafunc.toml").write_text(
        'env = { SHOP_AUDIENCE = "api://shop-base" }\n\n'
        "[stages.prod]\n"
        f'env = {{ SHOP_ISSUER = "{PROD_ISSUER}", SHOP_AUDIENCE = "{PROD_AUDIENCE}" }}\n')
    done = _package(shop, tmp_path)
    assert done.returncode == 0, done.stderr
    (authorizer,) = _authorizers(_template(tmp_path))
    assert authorizer["JwtConfiguration"] == {"issuer": "https://login.shop.example/", "audience": ["api://shop-base"]}
