"""``portafunc package --target aws`` with awkward inputs, through pip and the real index: a user's requirement is
never dropped for belonging to another cloud, the index decides versions (the wheel cache is only a cache), a
pure-Python package published only as an sdist is built into a wheel, and ``-f``/``-r`` lines are honoured."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from portafunc_aws.package import dependencies

REPO = Path(__file__).resolve().parents[2]
PY = f"{sys.version_info.major}.{sys.version_info.minor}"
MAIN = ("from portafunc import App, HttpRequest\napp = App('inputs')\n\n"
        "@app.http('GET', '/')\ndef root(req: HttpRequest) -> str:\n    return 'ok'\n")


def package(project: Path, out: Path, cache: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "portafunc.cli", "package", "--target", "aws", "--python", PY,
                           "--out", str(out), str(project)], capture_output=True, text=True, timeout=900, cwd=REPO,
                          env={**os.environ, "PORTAFUNC_CACHE_DIR": str(cache)})


def dist_infos(zip_path: Path) -> set[str]:
    return {n.split("/")[0] for n in zipfile.ZipFile(zip_path).namelist() if n.split("/")[0].endswith(".dist-info")}


def test_a_users_requirement_for_another_cloud_is_kept_only_portafuncs_own_are_chosen() -> None:
    said: list[str] = []
    deps = dependencies(["google-cloud-vision==3.7.2", "azure-storage-blob>=12", "portafunc-gcp", "boto3"],
                        said.append)
    assert "google-cloud-vision==3.7.2" in deps and "azure-storage-blob>=12" in deps
    assert "portafunc-gcp" not in deps and any("portafunc-gcp" in line for line in said)
    assert "boto3" in deps  # named by the user: shipped, not left to the runtime's copy
    assert "boto3" not in dependencies(["pydantic"])


def _fake_wheel(directory: Path, name: str, version: str) -> Path:
    """A minimal valid wheel (metadata only): a stale entry in the cache."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}-{version}-py3-none-any.whl"
    info = f"{name}-{version}.dist-info"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(f"{info}/METADATA", f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
        zf.writestr(f"{info}/WHEEL", "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        zf.writestr(f"{info}/RECORD", "")
    return path


TYPED_MAIN = ("from pydantic import BaseModel\nfrom portafunc import App, Message\napp = App('inputs')\n\n"
              "class Order(BaseModel):\n    id: str\n\n"
              "@app.queue('orders')\ndef take(msg: Message[Order]) -> None:\n    pass\n")


def test_the_index_is_asked_a_stale_cached_wheel_is_not_shipped(tmp_path: Path) -> None:
    project = tmp_path / "app"
    project.mkdir()
    (project / "main.py").write_text(TYPED_MAIN)  # a typed app: pydantic is shipped
    cache = tmp_path / "cache"
    _fake_wheel(cache / "wheels" / f"cp{PY}-manylinux2014_x86_64", "pydantic", "2.0.0")
    done = package(project, tmp_path / "dist", cache)
    assert done.returncode == 0, done.stderr
    infos = dist_infos(next((tmp_path / "dist" / "aws").glob("*.zip")))
    pydantic = [i for i in infos if i.startswith("pydantic-")]
    assert pydantic and pydantic != ["pydantic-2.0.0.dist-info"], infos


def test_an_sdist_only_pure_python_package_is_built_into_a_wheel(tmp_path: Path) -> None:
    source = tmp_path / "tinypure-src"
    (source / "tinypure").mkdir(parents=True)
    (source / "tinypure" / "__init__.py").write_text("VALUE = 42\n")
    (source / "setup.py").write_text("from setuptools import setup\nsetup(name='tinypure', version='1.0', "
                                     "packages=['tinypure'])\n")
    sdists = tmp_path / "sdists"
    built = subprocess.run([sys.executable, "setup.py", "-q", "sdist", "-d", str(sdists)], cwd=source,
                           capture_output=True, text=True, timeout=300)
    if built.returncode != 0:
        pytest.fail(f"could not make the test sdist: {built.stderr[-1000:]}", pytrace=False)
    project = tmp_path / "app"
    (project / "reqs").mkdir(parents=True)
    (project / "main.py").write_text(MAIN)
    (project / "requirements.txt").write_text(f"-f {sdists}\n-r reqs/app.txt\n")
    (project / "reqs" / "app.txt").write_text("tinypure==1.0\n")
    done = package(project, tmp_path / "dist", tmp_path / "cache")
    assert done.returncode == 0, done.stderr
    assert "building it from its sdist" in done.stderr
    names = zipfile.ZipFile(next((tmp_path / "dist" / "aws").glob("*.zip"))).namelist()
    assert "tinypure/__init__.py" in names and "reqs/app.txt" in names
