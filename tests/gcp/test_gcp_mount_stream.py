"""A mounted web app's streamed body through functions-framework serving the generated ``main.py`` on a real port:
the first piece reaches the client while the app is still producing the rest (FastAPI's StreamingResponse and a
Flask generator), and the rest follows in chunks; a body sent whole keeps its length."""

from __future__ import annotations

import json
import shutil
import sys
import urllib.request
from pathlib import Path

import pytest
from stream_support import read_stream

MOUNTED = Path(__file__).resolve().parents[1] / "apps" / "mounted" / "main.py"


@pytest.fixture(scope="module")
def server(serve, tmp_path_factory: pytest.TempPathFactory):
    from portafunc_gcp.deploy.main_py import HTTP_SERVICE, render_main

    source = tmp_path_factory.mktemp("mounted-gcp")
    shutil.copy2(MOUNTED, source / "mounted_app.py")
    sys.path.insert(0, str(source))
    try:
        import mounted_app  # noqa: F401 - the App the generated main.py serves
    finally:
        sys.path.remove(str(source))
    (source / "main.py").write_text(render_main(sys.modules["mounted_app"].app, "mounted_app:app", root="."))
    return serve(source, HTTP_SERVICE, "http")


@pytest.mark.parametrize("prefix", ["/fastapi", "/flask"])
def test_a_streamed_body_reaches_the_client_piece_by_piece(server, prefix: str, tmp_path: Path) -> None:
    before_gate, body = read_stream(server.port, f"{prefix}/stream", tmp_path / "gate")
    assert b"second" not in before_gate  # the first piece was sent while the app was still producing
    assert body == b"first\nsecond\nthird\n"
    assert b"x-streamed: yes" in before_gate.lower()


@pytest.mark.parametrize("prefix", ["/fastapi", "/flask"])
def test_a_body_sent_whole_keeps_its_length(server, prefix: str) -> None:
    with urllib.request.urlopen(f"http://127.0.0.1:{server.port}{prefix}/echo/x?q=1", timeout=15) as resp:
        body = resp.read()
        assert resp.headers["Content-Length"] == str(len(body)) and json.loads(body)["q"] == ["1"]
