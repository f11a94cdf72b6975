"""What the packagers ship of portafunc and an adapter (``portafunc/packaging/closure.py``) is enough for the features
an app declares: an app that keeps data in a key-value table or a bucket, and uses no topic or queue, can open and
use them from the shipped modules alone. A gate that drops a package another shipped one imports when it loads gives a
deployment whose every call fails (``ModuleNotFoundError``), which no local run shows: locally everything is
installed."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path
from typing import Callable

import pytest

import portafunc
from portafunc import App, HttpRequest
from portafunc.packaging.build import vendor_portafunc
from portafunc.targets import available

ADAPTERS = {"aws": "portafunc_aws", "azure": "portafunc_azure", "gcp": "portafunc_gcp"}  # the container ships all


def _kv_only(docs_route: str | None) -> App:
    app = App("links", docs_route=docs_route)

    @app.http("GET", "/{code}", uses=[portafunc.writes(kv="links")])
    def follow(req: HttpRequest) -> dict[str, str]:
        return dict(portafunc.kv("links").get(req.path_params["code"]))

    return app


def _bucket_only(docs_route: str | None) -> App:
    app = App("files", docs_route=docs_route)

    @app.http("GET", "/files/{name}", uses=[portafunc.writes(bucket="files")])
    def get_file(req: HttpRequest) -> bytes:
        return portafunc.bucket("files").get(req.path_params["name"])

    return app


APPS: dict[str, tuple[Callable[[str | None], App], str]] = {
    "kv only": (_kv_only, "t = portafunc.kv('links'); t.put('a', {'x': 1}); assert t.get('a') == {'x': 1}"),
    "bucket only": (_bucket_only, "b = portafunc.bucket('files'); b.put('a', b'x'); assert b.get('a') == b'x'"),
}
USE = """
import os, sys
sys.path.insert(0, sys.argv[1])
os.environ["PORTAFUNC_DEFAULT_BINDING"] = "memory://"
import portafunc
{use}
assert all(m.__file__.startswith(sys.argv[1]) for n, m in sys.modules.items() if n.startswith("portafunc")), "outside"
print("ok")
"""


@pytest.mark.parametrize("docs_route", [None, "/docs"])  # the docs route ships the Target, which reaches more
@pytest.mark.parametrize("app_name", sorted(APPS))
@pytest.mark.parametrize("target", sorted(t for t in ADAPTERS if t in available()))
def test_an_app_that_only_keeps_data_can_use_it_from_what_is_shipped(target: str, app_name: str,
                                                                      docs_route: str | None,
                                                                      tmp_path: Path) -> None:
    adapter = ADAPTERS[target]
    package = importlib.import_module(f"{adapter}.package")
    make, use = APPS[app_name]
    app = make(docs_route)
    vendor_portafunc(tmp_path, adapter, adapter.replace("_", "-"), entries=package.RUNTIME_ENTRIES, app=app,
                     deployment=app.resources(), families=package.FAMILY_MODULES)
    done = subprocess.run([sys.executable, "-I", "-S", "-c", USE.format(use=use), str(tmp_path)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]
