"""Suite 3: packaging — artifact size, file count, build time (cold cache / warm) and byte-identical rebuilds.

The same hello-world HTTP app is packaged by ``portafunc package --target aws|azure|gcp`` and by ``chalice package``
(Chalice's own project layout, same route and handler). Full mode also packages it with ``pydantic`` in
requirements.txt, so both tools must fetch Linux wheels: "cold" then means an empty wheel cache
(``PORTAFUNC_CACHE_DIR`` → a new folder; a fresh Chalice project folder, whose wheel cache lives in
``.chalice/deployments``), "warm" the rebuild with that cache filled. Byte-identical: the sha256 of two builds
(cold and warm, into different output folders) match. A packager that is not implemented yet or fails is reported
"not measured" with its error.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

from common import HERE, summary

BIN = Path(sys.executable).parent
CHALICE_CONFIG = '{"version": "2.0", "app_name": "hello", "stages": {"dev": {"api_gateway_stage": "api"}}}\n'


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _project_pf(dest: Path, reqs: str) -> Path:
    dest.mkdir(parents=True)
    shutil.copy2(HERE / "apps" / "pf_http.py", dest / "main.py")
    (dest / "requirements.txt").write_text(reqs, encoding="utf-8")
    return dest


def _project_chalice(dest: Path, reqs: str) -> Path:
    (dest / ".chalice").mkdir(parents=True)
    (dest / ".chalice" / "config.json").write_text(CHALICE_CONFIG, encoding="utf-8")
    src = (HERE / "apps" / "aws_chalice_http.py").read_text(encoding="utf-8").replace('app_name="bench"',
                                                                                      'app_name="hello"')
    (dest / "app.py").write_text(src, encoding="utf-8")
    (dest / "requirements.txt").write_text(reqs, encoding="utf-8")
    return dest


def build_portafunc(target: str, project: Path, out: Path, cache: Path) -> dict[str, Any]:
    env = {**os.environ, "PORTAFUNC_CACHE_DIR": str(cache)}
    start = time.perf_counter()
    proc = subprocess.run([str(BIN / "portafunc"), "package", "--target", target, str(project), "--out", str(out)],
                          capture_output=True, text=True, env=env, timeout=600)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError((proc.stderr or proc.stdout).strip().splitlines()[-1][:300])
    size = re.search(r"size\s+([\d,]+) bytes, (\d+) files", proc.stdout)
    sha = re.search(r"sha256\s+([0-9a-f]{64})", proc.stdout)
    if not size or not sha:
        raise RuntimeError(f"cannot read size/sha256 from its output: {proc.stdout[-300:]}")
    return {"seconds": seconds, "size": int(size.group(1).replace(",", "")), "files": int(size.group(2)),
            "sha256": sha.group(1)}


def build_chalice(project: Path, out: Path, cache: Path) -> dict[str, Any]:
    start = time.perf_counter()
    env = {**os.environ, "AWS_DEFAULT_REGION": os.environ.get("AWS_DEFAULT_REGION", "us-east-1")}
    proc = subprocess.run([str(BIN / "chalice"), "package", str(out)], cwd=project, capture_output=True, text=True,
                          timeout=600, env=env)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError((proc.stderr or proc.stdout).strip().splitlines()[-1][:300])
    zpath = out / "deployment.zip"
    with zipfile.ZipFile(zpath) as zf:
        files = len([i for i in zf.infolist() if not i.is_dir()])
    return {"seconds": seconds, "size": zpath.stat().st_size, "files": files, "sha256": _sha(zpath)}


def measure(name: str, make_project: Any, build: Any, reqs: str, reps: int, work: Path) -> dict[str, Any]:
    cold, warm, shas, last = [], [], set(), None
    for rep in range(reps):
        base = work / f"{name}-{rep}"
        cache = base / "cache"
        project = make_project(base / "project", reqs)
        first = build(project, base / "out-cold", cache)  # empty cache, fresh project
        cold.append(first["seconds"])
        second = build(project, base / "out-warm", cache)  # same project, cache filled
        warm.append(second["seconds"])
        shas.update({first["sha256"], second["sha256"]})
        last = second
        shutil.rmtree(base, ignore_errors=True)
    assert last is not None
    return {"size_bytes": last["size"], "files": last["files"], "cold_s": summary(cold), "warm_s": summary(warm),
            "identical": "yes" if len(shas) == 1 else f"no ({len(shas)} different sha256 over {2 * reps} builds)"}


def run(quick: bool) -> dict[str, Any]:
    reps = 1 if quick else 3
    apps = {"hello": ""} if quick else {"hello": "", "hello + pydantic": "pydantic\n"}
    work = Path(tempfile.mkdtemp(prefix="pf-bench-pkg-"))
    packagers: dict[str, Any] = {}
    try:
        for app, reqs in apps.items():
            for target in ("aws", "gcp", "azure"):
                key = f"portafunc {target} ({app})"
                try:
                    packagers[key] = measure(key.replace(" ", "_"), _project_pf,
                                             lambda p, o, c, t=target: build_portafunc(t, p, o, c), reqs, reps, work)
                except Exception as exc:  # noqa: BLE001 - reported, not invented
                    packagers[key] = {"not_measured": f"`portafunc package --target {target}` failed: {exc}"}
                print(f"  packaging: {key} done", file=sys.stderr)
            key = f"chalice package ({app})"
            try:
                packagers[key] = measure(key.replace(" ", "_"), _project_chalice, build_chalice, reqs, reps, work)
            except Exception as exc:  # noqa: BLE001
                packagers[key] = {"not_measured": f"`chalice package` failed: {exc}"}
            print(f"  packaging: {key} done", file=sys.stderr)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    method = (f"{reps} cold + {reps} warm build(s) per packager; sizes and file counts are of the deployable artifact "
              "(the Lambda zip; for GCP/Azure what the packager reports as its artifact; for Chalice "
              "`deployment.zip`). Build times are wall seconds of the CLI process. " + (__doc__ or "").split("\n\n")[1]
              .replace("\n", " "))
    return {"packagers": packagers, "method": method}
