"""PackageRequest carries the app the frame loaded, so a target neither re-imports the user's module nor re-checks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from portafunc import App
from portafunc.loader import AppLoadError
from portafunc.targets import PackageRequest, get_target


class _Stop(Exception):
    """Raised by the stand-in package step once it has seen the request."""


def _app() -> App:
    app = App("req")

    @app.http("GET", "/hi")
    def hi(req):  # noqa: ANN001
        return {"ok": True}

    return app


def test_a_request_with_the_frames_app_does_not_load_anything(tmp_path: Path) -> None:
    app = _app()
    rows = [("hi", "already checked by the frame")]
    request = PackageRequest(app_ref="nowhere:app", project_dir=tmp_path / "missing", out_dir=tmp_path / "out",
                             app=app, functions=rows)
    got_app, got_rows = request.checked_app(get_target("aws"))
    assert got_app is app
    assert got_rows is rows


def test_a_bare_request_loads_and_checks_for_the_target(tmp_path: Path) -> None:
    (tmp_path / "svc.py").write_text("from portafunc import App\napp = App('svc')\n"
                                     "@app.http('GET', '/x')\ndef x(req):\n    return {}\n")
    request = PackageRequest(app_ref="svc:app", project_dir=tmp_path, out_dir=tmp_path / "out")
    app, rows = request.checked_app(get_target("gcp"))
    assert app.name == "svc"
    assert [name for name, _ in rows] == ["x"]
    assert request.app is app and request.functions == rows


def test_a_bare_request_still_reports_load_errors(tmp_path: Path) -> None:
    request = PackageRequest(app_ref="absent_module_xyz:app", project_dir=tmp_path, out_dir=tmp_path / "out")
    with pytest.raises(AppLoadError):
        request.checked_app(get_target("azure"))


def test_the_frame_hands_its_app_to_the_target(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``packaging.build_package`` loads once and the target receives that very App object and its trigger rows."""
    from portafunc import packaging

    (tmp_path / "once.py").write_text("from portafunc import App\napp = App('once')\n"
                                      "@app.http('GET', '/x')\ndef x(req):\n    return {}\n")
    target = get_target("aws")
    seen: dict[str, Any] = {}

    def fake_package(request: PackageRequest):  # the real build is covered by tests/aws/test_package.py
        seen["app"], seen["rows"] = request.app, request.functions
        raise _Stop()

    monkeypatch.setattr(type(target), "package", lambda self, request: fake_package(request))
    with pytest.raises(_Stop):
        packaging.build_package("aws", "once:app", project_dir=tmp_path, out=tmp_path / "dist")
    import once  # type: ignore[import-not-found]

    assert seen["app"] is once.app
    assert [name for name, _ in seen["rows"]] == ["x"]


def test_build_package_can_be_called_twice_in_one_process(tmp_path: Path) -> None:
    """Importing the ``packaging.build`` helpers must not shadow the entry function (it once did)."""
    import portafunc.packaging.build  # noqa: F401
    from portafunc import packaging

    assert callable(packaging.build_package)
    with pytest.raises(AppLoadError):
        packaging.build_package("aws", "absent_module_abc:app", project_dir=tmp_path, out=tmp_path / "dist")
    with pytest.raises(AppLoadError):
        packaging.build_package("aws", "absent_module_abc:app", project_dir=tmp_path, out=tmp_path / "dist")
