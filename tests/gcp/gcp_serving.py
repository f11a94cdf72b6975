"""The generated ``main.py`` of an app, written and served by functions-framework as a GCP instance serves it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from portafunc import App


def generated_main(app: App, key: str, folder: Path) -> Path:
    """``main.py`` generated for ``app`` (registered under ``key``: imported from nowhere), written into ``folder``."""
    from portafunc_gcp.deploy.main_py import render_main
    from portafunc_gcp.runtime import register

    register(key, app)
    source = folder / f"{key.replace('-', '_')}_main.py"
    source.write_text(render_main(app, f"registered:{key}", root=None), encoding="utf-8")
    return source


def served(app: App, key: str, folder: Path, target: str | None = None) -> Any:
    """functions-framework's Flask app serving ``target`` (default: the app's HTTP service) of ``app``'s main.py."""
    import functions_framework

    from portafunc_gcp.deploy.main_py import HTTP_SERVICE

    source = generated_main(app, key, folder)
    return functions_framework.create_app(target=target or HTTP_SERVICE, source=str(source))
