"""A process that served a mounted FastAPI app's synchronous endpoint exits when its work is done: FastAPI runs such
an endpoint in one of anyio's worker threads, which belong to the event loop the ASGI app is served on and wait for
more work until they are told to end; the interpreter waits for them before it exits."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytest.importorskip("fastapi")

SCRIPT = textwrap.dedent("""
    import sys
    from contextlib import asynccontextmanager

    from fastapi import FastAPI

    from portafunc import App, HttpRequest


    @asynccontextmanager
    async def lifespan(api):
        yield
        print("lifespan shutdown", flush=True)


    api = FastAPI(lifespan=lifespan)


    @api.get("/")
    def index():
        return {"sync": True}


    @api.get("/executor")
    async def executor():
        import asyncio

        return {"executor": await asyncio.get_running_loop().run_in_executor(None, lambda: True)}


    app = App("exits")
    app.mount("/api", api)
    front, path = sys.argv[1], sys.argv[2]
    if front == "handle_http":
        from portafunc.invoke import handle_http

        resp = handle_http(app, HttpRequest("GET", path))
    else:
        from portafunc.testing import Cloud

        resp = Cloud(front).http(app, "GET", path)
    print(resp.status, resp.body.decode(), flush=True)
""")


@pytest.mark.parametrize("front", ["handle_http", "aws", "azure", "gcp"])
@pytest.mark.parametrize("path", ["/api/", "/api/executor"])
def test_the_process_exits_after_a_sync_endpoint_and_runs_the_lifespan_shutdown(
        tmp_path: Path, front: str, path: str) -> None:
    script = tmp_path / "serve_one.py"
    script.write_text(SCRIPT)
    try:
        done = subprocess.run([sys.executable, str(script), front, path], capture_output=True, text=True,
                              timeout=20)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"the process did not exit after serving {path} through {front}: {exc.stdout!r}")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("200 ") and "true" in lines[0], done.stdout
    assert lines[1:] == ["lifespan shutdown"], done.stdout + done.stderr
