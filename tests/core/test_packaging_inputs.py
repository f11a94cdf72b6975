"""What goes into an artifact: requirement lines honoured or refused by name, project files filtered by defaults,
``.portafuncignore`` and ``exclude``, the Python version chosen with the clouds' deprecation dates."""

from __future__ import annotations

from pathlib import Path

import pytest

from portafunc.packaging.build import (PackagingError, choose_python, copy_project, read_pip_options,
                                       read_requirements)


def test_included_requirement_files_are_read_not_dropped(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("-r base.txt\nhttpx==0.27.0  # the client\n")
    (tmp_path / "base.txt").write_text("# shared\npydantic>=2,<3\n--requirement more/extra.txt\n")
    (tmp_path / "more").mkdir()
    (tmp_path / "more" / "extra.txt").write_text("attrs==23.2.0 \\\n    --hash=sha256:abc\n")
    assert read_requirements(tmp_path) == ["pydantic>=2,<3", "attrs==23.2.0 --hash=sha256:abc", "httpx==0.27.0"]


def test_index_and_constraint_options_are_honoured(tmp_path: Path) -> None:
    (tmp_path / "constraints.txt").write_text("pydantic==2.8.2\n")
    (tmp_path / "requirements.txt").write_text(
        "-c constraints.txt\n--extra-index-url https://pypi.example/simple\n-i https://mirror.example/simple\n"
        "--find-links=wheels\npydantic\n")
    assert read_pip_options(tmp_path) == [
        f"-c {tmp_path / 'constraints.txt'}", "--extra-index-url https://pypi.example/simple",
        "--index-url https://mirror.example/simple", f"--find-links {tmp_path / 'wheels'}"]
    assert read_requirements(tmp_path) == ["pydantic"]


@pytest.mark.parametrize(("line", "says"), [
    ("-e ./lib", "'-e ./lib' cannot be honoured: an editable install"),
    ("--no-binary :all:", "cannot be honoured: the artifact needs binary wheels"),
    ("--use-feature fast-deps", "option '--use-feature' is not supported"),
    ("-r missing.txt", "does not exist"),
])
def test_an_option_that_cannot_be_honoured_is_refused_by_name(tmp_path: Path, line: str, says: str) -> None:
    (tmp_path / "requirements.txt").write_text(f"pydantic\n{line}\n")
    with pytest.raises(PackagingError, match=says.replace("(", r"\(").replace("*", r"\*")):
        read_requirements(tmp_path)


def test_secrets_and_dev_files_stay_out_and_the_ignore_file_is_honoured(tmp_path: Path) -> None:
    project = tmp_path / "project"
    for name in ("main.py", "helpers/util.py", "local.settings.json", ".env", ".env.production", "certs/key.pem",
                 "tests/test_main.py", "notes/todo.md", "data/seed.json", "data/big.bin", "README.md"):
        path = project / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x")
    (project / ".portafuncignore").write_text("# not deployed\nnotes/\ndata/*\n!data/seed.json\n")
    (project / "portafunc.toml").write_text('exclude = ["README.md"]\n')
    out = tmp_path / "out"
    copied = sorted(p.relative_to(out).as_posix() for p in copy_project(project, out))
    assert copied == ["data/seed.json", "helpers/util.py", "main.py", "portafunc.toml"]


def test_python_versions_and_deprecation(capsys: pytest.CaptureFixture[str]) -> None:
    said: list[str] = []
    assert choose_python("3.14", "aws", said.append) == "3.14"
    with pytest.raises(PackagingError, match="supported versions are 3.10, 3.11, 3.12, 3.13, 3.14"):
        choose_python("3.9", "aws")
    said.clear()
    assert choose_python("3.10", "aws", said.append) == "3.10"
    assert any("aws deprecated Python 3.10 on 2026-10-31" in line for line in said)


def test_a_missing_interpreter_is_named_with_its_cost(monkeypatch: pytest.MonkeyPatch) -> None:
    import portafunc.packaging.build as build

    monkeypatch.setattr(build, "find_python", lambda version: "/usr/bin/python3.11" if version == "3.11" else None)
    said: list[str] = []
    assert build.choose_python(None, "aws", said.append) == "3.12"
    [warning] = [line for line in said if "no python3.12" in line]
    assert "without .pyc" in warning and "twice as slow" in warning and "3.11" in warning


def test_interpreters_installed_by_pyenv_and_uv_are_found(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import portafunc.packaging.build as build

    pyenv = tmp_path / "pyenv" / "versions" / "3.13.1" / "bin" / "python3.13"
    uv = tmp_path / "uv" / "cpython-3.14.0-linux-x86_64-gnu" / "bin" / "python3.14"
    for path in (pyenv, uv):
        path.parent.mkdir(parents=True)
        path.write_text("")
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path / "pyenv"))
    monkeypatch.setenv("UV_PYTHON_INSTALL_DIR", str(tmp_path / "uv"))
    monkeypatch.setattr(build.shutil, "which", lambda name: None)
    assert str(pyenv) in build._candidates("3.13")
    assert str(uv) in build._candidates("3.14")
