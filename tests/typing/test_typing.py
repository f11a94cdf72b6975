"""The types users see, checked the way a user's CI checks them: mypy --strict and pyright (strict) over a user's
app that imports portafunc as an installed distribution (py.typed and all).

``user_app.py`` must check clean and reveal ``msg.body`` as the model; every line of ``user_errors.py`` marked
``# error`` must be reported by both checkers, and no other line. The example shop (examples/shop) must check clean.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

HERE = Path(__file__).parent
ROOT = HERE.parent.parent
PACKAGES = ["portafunc", "portafunc_aws", "portafunc_azure", "portafunc_gcp"]
USER_FILES = ["user_app.py", "user_errors.py"]
SHOP = ROOT / "examples" / "shop"
SHOP_FILES = [f"shop/{p.name}" for p in sorted(SHOP.glob("*.py"))]
CHECKED = USER_FILES + SHOP_FILES


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The user files in a folder outside the repository, and a site folder holding the four packages as installed
    (links to the sources): the checkers must find them the way they find any installed distribution, which for
    mypy means through their py.typed marker."""
    work = tmp_path_factory.mktemp("typing")
    site = work / "site"
    site.mkdir()
    for name in PACKAGES:
        spec = importlib.util.find_spec(name)
        assert spec is not None and spec.submodule_search_locations, f"{name} is not installed"
        (site / name).symlink_to(Path(list(spec.submodule_search_locations)[0]), target_is_directory=True)
    for name in USER_FILES:
        shutil.copy(HERE / name, work / name)
    (work / "shop").mkdir()
    for name in SHOP_FILES:
        shutil.copy(ROOT / "examples" / name, work / name)
    (work / "pyrightconfig.json").write_text(json.dumps({"typeCheckingMode": "strict", "pythonVersion": "3.10"}))
    return work


def _run(workdir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("MYPYPATH", "PYTHONPATH")}
    env["PYTHONPATH"] = str(workdir / "site")
    env["PYRIGHT_PYTHON_IGNORE_WARNINGS"] = "1"  # pyright's wrapper would print "new version available" notices
    return subprocess.run([sys.executable, "-m", *args], cwd=workdir, env=env, capture_output=True, text=True,
                          timeout=600, check=False)


Diagnostic = tuple[str, int, str, str]  # (file, line, severity, message)


@pytest.fixture(scope="module")
def mypy(workdir: Path) -> list[Diagnostic]:
    proc = _run(workdir, "mypy", "--strict", "--python-version", "3.10", "--no-error-summary",
                "--cache-dir", str(workdir / ".mypy_cache"), *CHECKED)
    assert proc.returncode in (0, 1), f"mypy did not run:\n{proc.stdout}\n{proc.stderr}"
    found = [(m["file"], int(m["line"]), m["severity"], m["message"]) for m in
             re.finditer(r"^(?P<file>[\w./]+):(?P<line>\d+): (?P<severity>error|note): (?P<message>.*)$",
                         proc.stdout, re.M)]
    assert found, f"mypy printed nothing we can read:\n{proc.stdout}\n{proc.stderr}"
    return found


@pytest.fixture(scope="module")
def pyright(workdir: Path) -> list[Diagnostic]:
    proc = _run(workdir, "pyright", "--outputjson", "--pythonpath", sys.executable, *CHECKED)
    assert proc.returncode in (0, 1), f"pyright did not run:\n{proc.stdout}\n{proc.stderr}"
    report = json.loads(proc.stdout)
    return [(Path(d["file"]).relative_to(workdir.resolve()).as_posix(), d["range"]["start"]["line"] + 1, d["severity"],
             d["message"])
            for d in report["generalDiagnostics"]]


def _marked_lines(name: str) -> set[int]:
    lines = (HERE / name).read_text().splitlines()
    return {n for n, text in enumerate(lines, 1) if re.search(r"\s# error: ", text)}


def _revealed(diagnostics: list[Diagnostic], name: str) -> list[str]:
    return [msg for file, _, severity, msg in diagnostics
            if file == name and severity in ("note", "information") and ("Revealed type" in msg or "Type of" in msg)]


def test_user_app_checks_clean_and_the_body_is_the_model_with_mypy(mypy: list[Diagnostic]) -> None:
    errors = [d for d in mypy if d[0] == "user_app.py" and d[2] == "error"]
    assert errors == []
    revealed = _revealed(mypy, "user_app.py")
    assert revealed[0] == 'Revealed type is "user_app.Order"'
    # the decorators return the handler itself: same parameters, same return type
    assert revealed[1] == 'Revealed type is "def (msg: portafunc.events.Message[user_app.Order])"'
    assert revealed[2] == ('Revealed type is "def (req: portafunc.events.HttpRequest, order: user_app.Order) -> '
                           'portafunc.events.HttpResponse"')


def test_user_app_checks_clean_and_the_body_is_the_model_with_pyright(pyright: list[Diagnostic]) -> None:
    errors = [d for d in pyright if d[0] == "user_app.py" and d[2] in ("error", "warning")]
    assert errors == []
    revealed = _revealed(pyright, "user_app.py")
    assert revealed == ['Type of "msg.body" is "Order"',
                        'Type of "fulfil" is "(msg: Message[Order]) -> None"',
                        'Type of "create_order" is "(req: HttpRequest, order: Order) -> HttpResponse"']


@pytest.mark.parametrize("checker", ["mypy", "pyright"])
def test_every_marked_mistake_is_reported_and_nothing_else(checker: str, request: pytest.FixtureRequest) -> None:
    diagnostics: list[Diagnostic] = request.getfixturevalue(checker)
    reported = {line for file, line, severity, _ in diagnostics if file == "user_errors.py" and severity == "error"}
    assert reported == _marked_lines("user_errors.py"), [d for d in diagnostics if d[0] == "user_errors.py"]


@pytest.mark.parametrize("checker", ["mypy", "pyright"])
def test_the_example_shop_checks_clean(checker: str, request: pytest.FixtureRequest) -> None:
    diagnostics: list[Diagnostic] = request.getfixturevalue(checker)
    assert [d for d in diagnostics if d[0] in SHOP_FILES and d[2] in ("error", "warning")] == []


def test_the_misspelt_field_is_named(mypy: list[Diagnostic], pyright: list[Diagnostic]) -> None:
    assert any('"Order" has no attribute "totl"' in d[3] for d in mypy)
    assert any('Cannot access attribute "totl" for class "Order"' in d[3] for d in pyright)


DISTRIBUTIONS = {"portafunc": ".", "portafunc_aws": "adapters/aws", "portafunc_azure": "adapters/azure",
                 "portafunc_gcp": "adapters/gcp"}


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[str]]:
    """Each distribution's wheel, built by its own build backend from a copy of its sources (the tree stays clean)."""
    out = tmp_path_factory.mktemp("wheels")
    projects = []
    for package, project in DISTRIBUTIONS.items():
        copy = out / "src" / package
        shutil.copytree(ROOT / project / package, copy / package, ignore=shutil.ignore_patterns("__pycache__"))
        for name in ("pyproject.toml", "README.md"):
            if (ROOT / project / name).exists():
                shutil.copy(ROOT / project / name, copy / name)
        projects.append(str(copy))
    build = "import sys, setuptools.build_meta as backend; backend.build_wheel(sys.argv[1])"
    for project in projects:
        proc = subprocess.run([sys.executable, "-c", build, str(out)], cwd=project, capture_output=True, text=True,
                              timeout=600, check=False)
        assert proc.returncode == 0, proc.stderr[-3000:]
    return {wheel.name.split("-")[0]: zipfile.ZipFile(wheel).namelist() for wheel in out.glob("*.whl")}


@pytest.mark.parametrize("package", list(DISTRIBUTIONS))
def test_each_wheel_ships_its_py_typed_marker(package: str, wheels: dict[str, list[str]]) -> None:
    """Without the marker in the wheel, mypy treats every portafunc name a user imports as Any."""
    assert f"{package}/py.typed" in wheels[package]
