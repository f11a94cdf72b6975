"""The Google Cloud mount lane keeps, per set of environ keys (which header names a client sends), what reads the
header values; requests sending junk header names once must not keep a real client's set out of it for the life
of the process. Served by functions-framework's own Flask app from the generated ``main.py``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from portafunc import App


def hello(environ: Any, start_response: Any) -> Any:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"hello"]


def test_header_pickers_start_over_when_junk_names_filled_them(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    import functions_framework

    from portafunc_gcp.codecs import mount
    from portafunc_gcp.deploy.main_py import HTTP_SERVICE, render_main
    from portafunc_gcp.runtime import register

    app = App("gcp-bounded-caches")
    app.mount("/hello", hello)
    register("gcp-bounded-caches", app)
    source = tmp_path / "portafunc_gcp_bounded_caches_main.py"
    source.write_text(render_main(app, "registered:gcp-bounded-caches", root=None), encoding="utf-8")
    flask_app = functions_framework.create_app(target=HTTP_SERVICE, source=str(source))
    assert sys.modules[source.stem]._portafunc_entry.app is app
    client = flask_app.test_client(use_cookies=False)
    monkeypatch.setattr(mount, "_header_values", {})
    for i in range(100):
        assert client.get("/hello/x", headers={f"X-Junk-{i}": "1"}).data == b"hello"
    assert client.get("/hello/x", headers={"X-Real-Client": "shop"}).data == b"hello"
    assert any("HTTP_X_REAL_CLIENT" in keys for keys in mount._header_values)
    assert len(mount._header_values) <= 64
