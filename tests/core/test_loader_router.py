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
