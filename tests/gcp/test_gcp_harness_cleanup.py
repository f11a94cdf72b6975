"""The GCP harness (generated ``main.py`` served by functions-framework, behind ``portafunc invoke --target gcp`` and
the contract kit) writes its entry module into a ``portafunc-gcp-*`` folder in the system temp directory; a run must
not leave that folder behind.

Each run is a real process with its own ``TMPDIR``, so the check sees only what that run created: the CLI, and a
script driving two apps through the contract driver (two harnesses, two folders).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from .conftest import APPS

DRIVE_TWO_APPS = """
import json, sys
from pathlib import Path
from portafunc import App, HttpRequest
from portafunc.targets import get_target
from portafunc_gcp.harness import harness_for

folders = []
for name in ("one", "two"):
    app = App(name)

    @app.http("GET", "/hi")
    def hi(req: HttpRequest) -> dict:
        return {"app": name}

    exchange = get_target("gcp").driver().http(app, HttpRequest("GET", "/hi"))
    assert exchange.response.status == 200, exchange.response.status
    folder = harness_for(app).source.parent
    assert folder.is_dir()
    folders.append(str(folder))
print(json.dumps(folders))
"""


def _run(args: list[str], tmp: Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, TMPDIR=str(tmp))
    return subprocess.run(args, capture_output=True, text=True, env=env, cwd=cwd, timeout=120)


def _left_behind(tmp: Path) -> list[str]:
    return sorted(p.name for p in tmp.glob("portafunc-gcp-*"))


def test_contract_driver_run_leaves_no_temp_folder(tmp_path: Path) -> None:
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    out = _run([sys.executable, "-c", DRIVE_TWO_APPS], tmp)
    assert out.returncode == 0, out.stderr
    folders = json.loads(out.stdout)
    assert len(folders) == 2 and all(Path(f).parent == tmp for f in folders)  # the run did use the temp dir
    assert _left_behind(tmp) == []


def test_portafunc_invoke_leaves_no_temp_folder(tmp_path: Path) -> None:
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    event = tmp_path / "push.json"
    event.write_text(json.dumps({"subscription": "projects/p/subscriptions/s",
                                 "message": {"data": "aGk=", "messageId": "m-1", "attributes": {}}}))
    out = _run([sys.executable, "-m", "portafunc.cli", "invoke", "--target", "gcp", "--app", "recorder_app:app",
                "on_event", "--event", str(event)], tmp, cwd=APPS)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["statusCode"] < 300  # the function ran and acknowledged
    assert _left_behind(tmp) == []


def test_a_folder_left_by_a_killed_run_is_removed_by_the_next(tmp_path: Path) -> None:
    """A run killed before its exit handlers leaves its folder; the next harness removes the folders of processes
    that no longer exist, and leaves those of live processes alone."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    killed = subprocess.Popen([sys.executable, "-c", DRIVE_TWO_APPS + "import os\nos._exit(0)\n"],
                              env=dict(os.environ, TMPDIR=str(tmp)), stdout=subprocess.PIPE, text=True)
    out, _ = killed.communicate(timeout=120)
    assert killed.returncode == 0 and len(_left_behind(tmp)) == 2  # os._exit: no exit handler ran
    live = tmp / f"portafunc-gcp-{os.getpid()}-inuse"  # this process is alive: its folder stays
    live.mkdir()
    out2 = _run([sys.executable, "-c", DRIVE_TWO_APPS], tmp)
    assert out2.returncode == 0, out2.stderr
    assert _left_behind(tmp) == [live.name]
