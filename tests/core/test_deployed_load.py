"""A deployed entry imports the app with the cyclic garbage collector paused and freezes what the import built
(portafunc.loader.load_deployed_app); the local runner's load_app leaves the collector alone.

Each case runs in a fresh interpreter: freezing is for the life of a process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

APP = '''
import gc
from portafunc import App

COLLECTIONS = []
gc.callbacks.append(lambda phase, info: phase == "start" and COLLECTIONS.append(info["generation"]))
KEPT = [{"n": [i]} for i in range(200_000)]  # what a web framework's import allocates: many small containers
app = App("heavy")
'''

PROBE = '''
import gc, json, sys
sys.path.insert(0, sys.argv[1])
from portafunc import loader
if sys.argv[2] == "disabled":
    gc.disable()
try:
    getattr(loader, sys.argv[3])(sys.argv[4])
    failed = None
except loader.AppLoadError as exc:
    failed = str(exc)
heavy = sys.modules.get("heavy")
print(json.dumps({"collections": None if heavy is None else len(heavy.COLLECTIONS), "enabled": gc.isenabled(),
                  "frozen": gc.get_freeze_count(), "failed": failed}))
'''


def _probe(tmp_path: Path, loader: str, ref: str = "heavy:app", gc_state: str = "enabled",
           env: dict[str, str] | None = None) -> dict[str, object]:
    (tmp_path / "heavy.py").write_text(textwrap.dedent(APP))
    (tmp_path / "broken.py").write_text("raise RuntimeError('no')\n")
    proc = subprocess.run([sys.executable, "-c", PROBE, str(tmp_path), gc_state, loader, ref],
                          capture_output=True, text=True, check=True, cwd=tmp_path,
                          env={**os.environ, **(env or {})})
    return json.loads(proc.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def test_a_deployed_entry_imports_the_app_without_collections_and_freezes_it(tmp_path: Path) -> None:
    found = _probe(tmp_path, "load_deployed_app")
    assert found["collections"] == 0 and found["enabled"] is True
    assert isinstance(found["frozen"], int) and found["frozen"] > 200_000


def test_the_local_loader_and_the_opt_out_leave_the_collector_running(tmp_path: Path) -> None:
    for found in (_probe(tmp_path, "load_app"),
                  _probe(tmp_path, "load_deployed_app", env={"PORTAFUNC_GC_DURING_LOAD": "on"})):
        assert isinstance(found["collections"], int) and found["collections"] > 0
        assert found["enabled"] is True and found["frozen"] == 0


@pytest.mark.parametrize("gc_state, ref, enabled", [("disabled", "heavy:app", False), ("enabled", "broken:app", True)])
def test_a_disabled_collector_stays_disabled_and_a_failed_load_freezes_nothing(tmp_path: Path, gc_state: str,
                                                                               ref: str, enabled: bool) -> None:
    found = _probe(tmp_path, "load_deployed_app", ref, gc_state)
    assert found["enabled"] is enabled and found["frozen"] == 0
    assert (found["failed"] is not None) is (ref == "broken:app")
