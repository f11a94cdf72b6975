"""portafunc.packaging.steps: the packaging sequence every packager runs, checked on real files and zips."""

from __future__ import annotations

import os
import sys
import zipfile
from pathlib import Path

import pytest

from portafunc.packaging.build import PackagingError
from portafunc.packaging.steps import ArtifactBuild, install_requirements
from portafunc.targets import PackageRequest

PY = f"{sys.version_info.major}.{sys.version_info.minor}"


def _project(root: Path) -> Path:
    project = root / "project"
    (project / "pkg").mkdir(parents=True)
    (project / "app.py").write_text("from portafunc import App\napp = App('steps')\n")
    (project / "pkg" / "__init__.py").write_text("VALUE = 1\n")
    (project / ".git").mkdir()
    (project / ".git" / "config").write_text("[core]\n")
    return project


def _request(tmp_path: Path, **kw: object) -> PackageRequest:
    return PackageRequest(app_ref="app:app", project_dir=_project(tmp_path), out_dir=tmp_path / "dist",
                          python=PY, **kw)  # type: ignore[arg-type]


def _build(request: PackageRequest, name: str) -> tuple[Path, Path]:
    with ArtifactBuild(request, "portafunc_gcp", "portafunc-gcp") as build:
        stage = build.stage
        build.copy_project("app")
        build.vendor()
        build.write({"main.py": "print('generated')\n"})
        artifact = build.zip(name)
        result = build.result("gcp", artifact, {"deploy.sh": "#!/bin/sh\necho deploy\n", "notes.txt": "x\n"}, [])
    assert result.artifact == artifact.path and result.size == artifact.path.stat().st_size
    assert result.file_count == artifact.file_count and result.seconds > 0
    return artifact.path, stage


def test_the_sequence_builds_a_reproducible_zip_and_leaves_no_staging_behind(tmp_path):
    request = _request(tmp_path)
    first, stage = _build(request, "a.zip")
    second, _ = _build(request, "b.zip")
    assert first.read_bytes() == second.read_bytes()
    assert not stage.exists(), "the staging folder is removed when the build ends"
    names = zipfile.ZipFile(first).namelist()
    assert "app/app.py" in names and "app/pkg/__init__.py" in names and "main.py" in names
    assert not any(n.startswith("app/.git") for n in names), "the ignore rules apply"
    assert "portafunc/__init__.pyc" in names and "portafunc_gcp/runtime.pyc" in names  # bytecode only
    info = [n for n in names if n.startswith("portafunc_gcp-") and n.endswith("entry_points.txt")]
    assert info and "gcp = portafunc_gcp.target:Target" in zipfile.ZipFile(first).read(info[0]).decode()
    assert any(n.endswith(".pyc") for n in names), "compiled for the target Python when it is installed here"
    deploy = request.out_dir / "deploy.sh"
    assert deploy.read_text().startswith("#!/bin/sh") and os.access(deploy, os.X_OK)
    assert not os.access(request.out_dir / "notes.txt", os.X_OK)


def test_a_project_file_the_packager_generates_is_refused_not_overwritten(tmp_path):
    request = _request(tmp_path)
    (request.project_dir / "host.json").write_text("{}")
    with ArtifactBuild(request, "portafunc_azure", "portafunc-azure") as build:
        with pytest.raises(PackagingError, match="host.json exists; portafunc writes its own"):
            build.copy_project(reserved=("function_app.py", "host.json"))


def test_the_stage_is_unavailable_outside_the_with_block(tmp_path):
    build = ArtifactBuild(_request(tmp_path), "portafunc_gcp", "portafunc-gcp")
    with pytest.raises(PackagingError, match="outside its `with` block"):
        build.stage  # noqa: B018 - the property raises


def test_install_requirements_keeps_both_pins_and_leaves_out_portafunc(tmp_path):
    said: list[str] = []
    reqs = install_requirements(["portafunc-gcp"], ["functions-framework==3.8.2", "portafunc-aws", "requests"],
                                said.append, needed=["pydantic>=2"])
    names = [r.split("=")[0].split(">")[0] for r in reqs]
    assert "functions-framework==3.8.2" in reqs and any(r.startswith("functions-framework>=") for r in reqs), \
        "ours and the user's pin are both handed to pip, which resolves them or refuses the conflict"
    assert "pydantic>=2" in reqs and "requests" in reqs
    assert not any(n.startswith("portafunc") for n in names) and said and "portafunc-aws" in said[0]


def test_install_requirements_leaves_out_what_the_platform_provides_unless_the_user_names_it():
    provided = install_requirements(["portafunc-aws"], [], leave_out=["boto3"])
    assert not any(r.startswith("boto3") for r in provided)
    named = install_requirements(["portafunc-aws"], ["boto3==1.34.0"], leave_out=["boto3"])
    assert "boto3==1.34.0" in named
