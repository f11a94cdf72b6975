"""Contract tests: the example app, unchanged, through every target's real entry point."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def load_example(name: str):
    """Import examples/<name>/main.py as its own module and return its App."""
    path = EXAMPLES / name / "main.py"
    if str(path.parent) not in sys.path:  # as `portafunc run` and the packaged runtimes do: its own modules import
        sys.path.insert(0, str(path.parent))
    module_name = f"portafunc_example_{name}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module.app


@pytest.fixture(scope="module")
def shortener():
    """examples/shortener's App."""
    return load_example("shortener")


@pytest.fixture(scope="module")
def manifests():
    """examples/manifests' App."""
    return load_example("manifests")


@pytest.fixture(scope="session")
def shop_idp():
    """The shop's identity provider: a local OpenID Connect issuer whose tokens the shop's signed-in routes accept."""
    from idp import IdentityProvider

    provider = IdentityProvider()
    yield provider
    provider.close()


@pytest.fixture(scope="session")
def shop(shop_idp):
    patch = pytest.MonkeyPatch()
    patch.setenv("SHOP_ISSUER", shop_idp.issuer)  # read when the example's modules are imported
    folder = str(EXAMPLES / "shop")

    def forget_shop_modules() -> None:
        for name in [n for n, m in sys.modules.items() if (getattr(m, "__file__", None) or "").startswith(folder)]:
            del sys.modules[name]

    forget_shop_modules()  # imported earlier (another test) with the default issuer
    try:
        app = load_example("shop")
    finally:
        patch.undo()  # only the import needs it: a process started later must not inherit a local issuer
        forget_shop_modules()  # nor may a later in-process import get this local issuer
    yield app
