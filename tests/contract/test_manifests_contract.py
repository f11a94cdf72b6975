"""examples/manifests through every target's real entry point (the ``cloud`` fixture) and through ``portafunc run
--trigger``: an upload gets its manifest, and the daily clean-up deletes the manifests older than ``KEEP_DAYS`` and
keeps the others."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path


import portafunc

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "manifests"
NOW = datetime.now(timezone.utc)

def test_an_upload_gets_its_manifest(cloud, manifests, capsys):
    data = b"a,b\n1,2\n" * 1000
    portafunc.bucket("uploads").put("reports/2026 q1.csv", data, content_type="text/csv")
    assert cloud.storage(manifests, "uploads", "reports/2026 q1.csv", size=len(data)).ok
    manifest = json.loads(portafunc.bucket("manifests").get("reports/2026 q1.csv.json"))
    assert manifest["key"] == "reports/2026 q1.csv" and manifest["size"] == len(data)
    assert manifest["sha256"] == hashlib.sha256(data).hexdigest() and manifest["content_type"] == "text/csv"
    assert abs(datetime.fromisoformat(manifest["uploaded_at"]) - datetime.now(timezone.utc)) < timedelta(minutes=5)
    assert portafunc.bucket("manifests").stat("reports/2026 q1.csv.json").content_type == "application/json"
    assert "manifest reports/2026 q1.csv.json: 8000 bytes" in capsys.readouterr().out


def test_an_upload_deleted_before_it_is_described_gets_no_manifest(cloud, manifests, capsys):
    assert cloud.storage(manifests, "uploads", "gone.bin", size=3).ok  # not retried: nothing left to describe
    assert list(portafunc.bucket("manifests").list()) == []
    assert "gone.bin is gone already: no manifest" in capsys.readouterr().out


def test_the_daily_cleanup_deletes_only_the_old_manifests(cloud, manifests, capsys):
    for key in ("old.txt", "new.txt"):
        portafunc.bucket("uploads").put(key, key)
        assert cloud.storage(manifests, "uploads", key).ok
    assert cloud.schedule(manifests, "cleanup", time=NOW + timedelta(days=6)).ok  # both younger than 7 days
    assert sorted(o.key for o in portafunc.bucket("manifests").list()) == ["new.txt.json", "old.txt.json"]
    assert cloud.schedule(manifests, "cleanup", time=NOW + timedelta(days=8)).ok  # both older
    assert list(portafunc.bucket("manifests").list()) == []
    assert "cleanup: 0 manifest(s) older than" in capsys.readouterr().out


def test_old_and_new_manifests_side_by_side(cloud, manifests, tmp_path, monkeypatch, capsys):
    """On disk (file://), where a manifest's last write can be set back: the clean-up of one day deletes the
    manifests written more than 7 days before it and keeps the rest."""
    monkeypatch.setenv("PORTAFUNC_BUCKET_MANIFESTS", f"file://{tmp_path}")
    for key in ("last-month.txt", "last-week.txt", "yesterday.txt", "today.txt"):
        portafunc.bucket("uploads").put(key, key)
        assert cloud.storage(manifests, "uploads", key).ok
    for key, days in (("last-month.txt", 30), ("last-week.txt", 7.5), ("yesterday.txt", 1)):
        written = time.time() - days * 86400
        os.utime(tmp_path / f"{key}.json", (written, written))
    assert cloud.schedule(manifests, "cleanup", time=NOW).ok
    assert sorted(o.key for o in portafunc.bucket("manifests").list()) == ["today.txt.json", "yesterday.txt.json"]
    assert "cleanup: 2 manifest(s) older than" in capsys.readouterr().out


def test_portafunc_run_writes_a_manifest_and_cleans_up(tmp_path):
    """The commands of examples/manifests/README.md: --trigger fires each function once, file:// keeps the buckets
    between the two processes."""
    env = {**os.environ, "PORTAFUNC_BUCKET_UPLOADS": "file://uploads", "PORTAFUNC_BUCKET_MANIFESTS": "file://manifests"}

    def run(function: str, **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "portafunc.cli", "run", str(EXAMPLE), "--trigger", function],
                              cwd=tmp_path, env={**env, **extra}, capture_output=True, text=True, timeout=120)

    upload = run("write_manifest")
    assert upload.returncode == 0, upload.stderr
    assert "manifest sample.txt.json: 11 bytes, sha256 bc658c641ef7" in upload.stdout
    assert json.loads((tmp_path / "manifests" / "sample.txt.json").read_text())["size"] == 11
    kept = run("cleanup")
    assert kept.returncode == 0 and "cleanup: 0 manifest(s) older than" in kept.stdout, kept.stderr
    deleted = run("cleanup", KEEP_DAYS="0")
    assert deleted.returncode == 0 and "cleanup: 1 manifest(s) older than" in deleted.stdout, deleted.stderr
    assert not (tmp_path / "manifests" / "sample.txt.json").exists()
