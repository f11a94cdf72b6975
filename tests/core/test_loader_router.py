"""The loader refuses a Router given where an App is expected, with the way to include it, and loads an App."""

from __future__ import annotations

from pathlib import Path

import pytest

from portafunc import App
from portafunc.loader import AppLoadError, load_app


def test_a_router_is_refused_with_the_include_router_hint(tmp_path: Path) -> None:
    (tmp_path / "routed_app.py").write_text(
        "from portafunc import Router\n"
        "app = Router()\n"
        "@app.http('GET', '/x')\n"
        "def x(req) -> dict: return {}\n", encoding="utf-8")
    with pytest.raises(AppLoadError) as err:
        load_app("routed_app:app", tmp_path)
    assert "routed_app:app is Router, not a portafunc.App; include it in one with app.include_router(...)" \
        in str(err.value)


def test_an_app_loads(tmp_path: Path) -> None:
    (tmp_path / "plain_app.py").write_text("from portafunc import App\napp = App('plain')\n", encoding="utf-8")
    app, project, ref = load_app("plain_app:app", tmp_path)
    assert isinstance(app, App) and app.name == "plain" and ref == "plain_app:app" and project == tmp_path


def test_the_app_module_is_imported_with_no_python_frame_of_importlib_above_it(tmp_path: Path) -> None:
    """The app's module (and the web framework it imports) is imported right under ``load_app``: on CPython 3.11 and
    3.12 every extra Python frame under a framework's import makes that import slower. Dotted modules and the
    module object returned are those of ``importlib.import_module``."""
    pkg = tmp_path / "stack_pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("", encoding="utf-8")
    (pkg / "stack_app.py").write_text(
        "import sys\n"
        "from portafunc import App\n"
        "frame, names = sys._getframe(), []\n"
        "while frame is not None and frame.f_code.co_name != 'load_app':\n"
        "    names.append(frame.f_code.co_name)\n"
        "    frame = frame.f_back\n"
        "FRAMES = names\n"
        "app = App('stacked')\n", encoding="utf-8")
    app, _, ref = load_app("stack_pkg.stack_app:app", tmp_path)
    module = __import__("sys").modules["stack_pkg.stack_app"]
    assert app is module.app and ref == "stack_pkg.stack_app:app"
    assert "import_module" not in module.FRAMES and "_gcd_import" not in module.FRAMES, module.FRAMES
