"""The Google Cloud mount lane keeps, per set of environ keys (which header names a client sends), what reads the
header values; requests sending junk header names once must not keep a real client's set out of it for the life
of the process. Served by functions-framework's own Flask app from the generated ``main.py``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from portafunc import App

from .gcp_serving import served


def hello(environ: Any, start_response: Any) -> Any:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"hello"]


def test_header_pickers_start_over_when_junk_names_filled_them(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from portafunc_gcp.codecs import mount

    app = App("gcp-bounded-caches")
    app.mount("/hello", hello)
    flask_app = served(app, "gcp-bounded-caches", tmp_path)
    assert sys.modules["gcp_bounded_caches_main"]._portafunc_entry.app is app
    client = flask_app.test_client(use_cookies=False)
    monkeypatch.setattr(mount, "_header_values", {})
    for i in range(100):
        assert client.get("/hello/x", headers={f"X-Junk-{i}": "1"}).data == b"hello"
    assert client.get("/hello/x", headers={"X-Real-Client": "shop"}).data == b"hello"
    assert any("HTTP_X_REAL_CLIENT" in keys for keys in mount._header_values)
    assert len(mount._header_values) <= 64
