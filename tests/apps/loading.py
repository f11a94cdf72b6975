"""Import a test app from tests/apps/<name>/main.py under its own module name (its helper modules importable)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

APPS = Path(__file__).resolve().parent


def load_test_app(name: str) -> Any:
    """The App of tests/apps/<name>; the app directory goes on sys.path for its helper modules, as in a deploy."""
    directory = APPS / name
    if str(directory) not in sys.path:
        sys.path.insert(0, str(directory))
    module_name = f"portafunc_test_app_{name}"
    if module_name in sys.modules:
        return sys.modules[module_name].app
    spec = importlib.util.spec_from_file_location(module_name, directory / "main.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module.app
