"""What the mount tests of every front share: the FastAPI + Flask test app (tests/apps/mounted), loaded under a module
name of the test's own so each suite gets fresh app objects, and small mounted apps that break in the ways a lane
must answer exactly as the general path does."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

MOUNTED = Path(__file__).resolve().parent / "apps" / "mounted" / "main.py"


def load_mounted(module_name: str) -> Any:
    """tests/apps/mounted/main.py imported as ``module_name``."""
    spec = importlib.util.spec_from_file_location(module_name, MOUNTED)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def failing(environ: Any, start_response: Any) -> Any:
    """A WSGI app that raises before answering."""
    raise RuntimeError("the app broke")


async def asgi_failing(scope: Any, receive: Any, send: Any) -> None:
    """An ASGI app that refuses lifespan and raises on every request."""
    if scope["type"] == "lifespan":
        raise RuntimeError("no lifespan")
    raise RuntimeError("the ASGI app broke")


def splitting(environ: Any, start_response: Any) -> Any:
    """A WSGI app whose header carries CR LF: it must be refused, never sent as a second header."""
    start_response("200 OK", [("X-Injected", "a\r\nSet-Cookie: stolen=1")])
    return [b"ok"]
