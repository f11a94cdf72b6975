"""The one command behind ``make bench``: set up the benchmark venv, run every suite, write docs/benchmarks.md.

    python benchmarks/run.py            # full run: 12 cold-start rounds, 36 for the Azure and GCP HTTP pairs
                                        # (~20 min on the 2-core dev machine)
    python benchmarks/run.py --quick    # fewer rounds / smaller loads (< ~3 min)
    python benchmarks/run.py --only cold,warm      # a subset of suites (cold, warm, aws, scaling, packaging,
                                                   # messaging, mount)
    python benchmarks/run.py --report-only         # re-render docs/ from benchmarks/results/*.json

Whatever python runs this file, the suites run in ``.bench-venv`` (created here on first use): the peers
(aws-lambda-powertools, pydantic, mangum + fastapi, chalice), matplotlib, moto[server] and the raw messaging SDKs
(boto3, google-cloud-pubsub, azure-storage-queue) beside the portafunc core and the three adapters installed editable
from this repository. A suite that cannot run reports ``not measured: <why>``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
VENV = REPO / ".bench-venv"
VPY = VENV / "bin" / "python"
REQUIREMENTS = [
    "-e", str(REPO), "-e", str(REPO / "adapters" / "aws"), "-e", str(REPO / "adapters" / "azure"),
    "-e", str(REPO / "adapters" / "gcp"),
    "aws-lambda-powertools", "pydantic", "mangum", "fastapi", "chalice", "matplotlib", "moto[server]", "boto3",
    # the raw SDKs the messaging suite races portafunc against (the adapters pull them in too; named for clarity)
    "google-cloud-pubsub", "azure-storage-queue",
]
MARKER = VENV / ".portafunc-bench-requirements"


def ensure_venv() -> None:
    """Create/refresh .bench-venv, then re-run this script inside it (no-op when already inside)."""
    if Path(sys.prefix).resolve() == VENV.resolve():
        return
    wanted = json.dumps(REQUIREMENTS)
    if not VPY.exists():
        print(f"creating {VENV}", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run([str(VPY), "-m", "pip", "install", "-q", "--disable-pip-version-check", "-U", "pip",
                        "setuptools", "wheel"], check=True)
    if not MARKER.exists() or MARKER.read_text() != wanted:
        print("installing the peers and portafunc into the benchmark venv", flush=True)
        subprocess.run([str(VPY), "-m", "pip", "install", "-q", "--disable-pip-version-check", *REQUIREMENTS],
                       check=True)
        MARKER.write_text(wanted)
    os.execv(str(VPY), [str(VPY), str(Path(__file__).resolve()), *sys.argv[1:]])


def machine() -> dict[str, object]:
    from importlib import metadata

    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    packages = {}
    for dist in ("portafunc", "portafunc-aws", "portafunc-azure", "portafunc-gcp", "aws-lambda-powertools",
                 "pydantic", "pydantic-core", "mangum", "fastapi", "starlette", "chalice", "functions-framework",
                 "flask", "azure-functions", "boto3", "botocore", "moto", "google-cloud-pubsub",
                 "azure-storage-queue", "matplotlib"):
        try:
            packages[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            packages[dist] = "not installed"
    git = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True)
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(),
            "implementation": platform.python_implementation(), "platform": platform.platform(),
            "loadavg_start": os.getloadavg(), "packages": packages, "commit": git.stdout.strip(),
            "date": time.strftime("%Y-%m-%d %H:%M:%S %Z")}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer rounds, smaller loads (< ~3 min)")
    parser.add_argument("--only", default="cold,warm,aws,scaling,packaging,messaging,mount",
                        help="comma-separated suites")
    parser.add_argument("--report-only", action="store_true", help="re-render docs from benchmarks/results")
    parser.add_argument("--smoke", action="store_true",
                        help="prove the suites still run (make test): this interpreter, no peers installed, the "
                             "smallest loads, results and report in a temporary folder; figures mean nothing")
    args = parser.parse_args()
    if args.smoke:
        return smoke()
    ensure_venv()
    sys.path.insert(0, str(HERE))
    from common import RESULTS, not_measured, write_result

    if not args.report_only:
        suites = [s.strip() for s in args.only.split(",") if s.strip()]
        started = time.perf_counter()
        info = machine()
        info["mode"] = "quick" if args.quick else "full"
        for suite in suites:
            t0 = time.perf_counter()
            print(f"== {suite}", flush=True)
            try:
                data = run_suite(suite, args.quick)
            except Exception as exc:  # noqa: BLE001 - a broken suite is reported, the others still run
                traceback.print_exc()
                data = not_measured(f"the {suite} suite failed: {type(exc).__name__}: {exc}")
            data["mode"] = info["mode"]
            data["seconds"] = time.perf_counter() - t0
            write_result(suite, data)
            print(f"   {suite}: {data['seconds']:.0f} s", flush=True)
        info["loadavg_end"] = os.getloadavg()
        info["seconds"] = time.perf_counter() - started
        info["suites"] = suites
        write_result("machine", info)
    import report

    path = report.render(RESULTS, REPO / "docs")
    print(f"wrote {path}")
    return 0


def smoke() -> int:
    """Every suite but packaging and messaging (they need the stand-ins and minutes) once, at its smallest, in this
    interpreter: a contender whose peer is not installed is reported not measured; portafunc's and the native
    handlers' paths must run. Fails (exit 1) when a suite breaks or portafunc is not measured somewhere."""
    import tempfile

    sys.path.insert(0, str(HERE))
    import common

    out = Path(tempfile.mkdtemp(prefix="pf-bench-smoke-"))
    common.RESULTS = out / "results"
    started = time.perf_counter()
    import aws_triggers
    import coldstart
    import scaling

    results = {
        "aws": aws_triggers.run(smoke=True),
        "cold": coldstart.run(1, contenders=["bare", "aws_native_http", "aws_portafunc_http", "aws_portafunc_sqs"],
                              warmup=False),
        "warm": _warm_subprocess(out / "warm.json", "--smoke"),
        "scaling": scaling.run(quick=True, smoke=True),
        "mount": _mount_subprocess(out / "mount.json", "--smoke"),
    }
    broken = []
    for suite, data in results.items():
        data["mode"] = "smoke"
        common.write_result(suite, data)
    if any(n.startswith("aws_portafunc") for n in results["cold"]["errors"]):
        broken.append(f"cold: {results['cold']['errors']}")
    for scen, res in results["warm"]["scenarios"].items():
        if "not_measured" in res.get("portafunc", {"not_measured": "missing"}):
            broken.append(f"warm {scen}: {res.get('portafunc')}")
    broken += [f"scaling {k}: {v[-300:]}" for k, v in results["scaling"]["errors"].items() if "|portafunc" in k]
    broken += [f"mount {phase} {name}: {row}" for phase in ("warm", "cold")
               for name, row in results["mount"][phase]["contenders"].items()  # type: ignore[index]
               if row["role"] == "portafunc" and "not_measured" in row]
    import report

    path = report.render(common.RESULTS, out)
    print(f"smoke run: {time.perf_counter() - started:.0f} s, report {path}")
    for line in broken:
        print("BROKEN:", line)
    return 1 if broken else 0


def _mount_subprocess(out: Path, *flags: str) -> dict[str, object]:
    """mount_bench.py in a process of its own (it ends without interpreter teardown: see its cold_child)."""
    subprocess.run([sys.executable, str(HERE / "mount_bench.py"), "--out", str(out), *flags], check=True)
    data: dict[str, object] = json.loads(out.read_text())
    out.unlink()
    return data


def _warm_subprocess(out: Path, *flags: str) -> dict[str, object]:
    subprocess.run([sys.executable, str(HERE / "warm.py"), str(out), *flags], check=True)
    return json.loads(out.read_text())


def run_suite(suite: str, quick: bool) -> dict[str, object]:
    if suite == "cold":
        import coldstart

        return coldstart.run(4 if quick else 12)
    if suite == "warm":
        out = RESULTS_TMP = HERE / "results" / ".warm-tmp.json"
        cmd = [sys.executable, str(HERE / "warm.py"), str(out)] + (["--quick"] if quick else [])
        subprocess.run(cmd, check=True)
        data = json.loads(RESULTS_TMP.read_text())
        RESULTS_TMP.unlink()
        return data
    if suite == "aws":
        import aws_triggers

        return aws_triggers.run(quick)
    if suite == "packaging":
        import packaging_bench

        return packaging_bench.run(quick)
    if suite == "scaling":
        import scaling

        return scaling.run(quick)
    if suite == "messaging":
        import messaging_bench

        return messaging_bench.run(quick)
    if suite == "mount":
        return _mount_subprocess(HERE / "results" / ".mount-tmp.json", *(["--quick"] if quick else []))
    raise SystemExit(f"unknown suite {suite!r}")


if __name__ == "__main__":
    sys.exit(main())
