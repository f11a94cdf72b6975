"""An HTTP-only app's GCP source zip: portafunc's modules as bytecode without sources, no push-token check or JWT
code (no event or schedule function to verify pushes for), and it still serves: unzipped, its generated main.py
loaded by the real functions-framework (``create_app``), a request through Flask's test client, with portafunc
imported from the zip, not from this checkout."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

from .conftest import REPO

PY = f"{sys.version_info.major}.{sys.version_info.minor}"
HELLO = ("from portafunc import App, HttpRequest\n\napp = App('hello')\n\n\n"
         "@app.http('GET', '/hello/{name}')\ndef hello(req: HttpRequest) -> dict:\n"
         "    return {'message': 'hello ' + req.path_params['name']}\n")
SERVE = r"""
import json, sys
site = sys.argv[1]
sys.path.insert(0, site)
import functions_framework
client = functions_framework.create_app(sys.argv[2], site + "/main.py").test_client()
resp = client.get("/hello/ada")
import portafunc, portafunc_gcp.runtime
print(json.dumps({"status": resp.status_code, "body": resp.get_data(as_text=True),
                  "from": [portafunc.__file__, portafunc_gcp.runtime.__file__],
                  "loaded": sorted(m for m in sys.modules if m.startswith("portafunc"))}))
"""


def test_http_only_source_zip_is_bytecode_without_push_checks_and_serves(tmp_path: Path) -> None:
    project = tmp_path / "hello"
    project.mkdir()
    (project / "main.py").write_text(HELLO)
    out = tmp_path / "dist"
    done = subprocess.run([sys.executable, "-m", "portafunc.cli", "package", "--target", "gcp", str(project),
                           "--python", PY, "--out", str(out)], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    zip_path = out / "gcp" / "hello-gcp.zip"
    names = zipfile.ZipFile(zip_path).namelist()
    ours = [n for n in names if n.startswith(("portafunc/", "portafunc_gcp/"))]
    assert ours and not any(n.endswith(".py") for n in ours), ours
    for left_out in ("portafunc_gcp/inbound/", "portafunc/jwks", "portafunc/kit/storage_filter", "portafunc/runner/",
                     "portafunc/packaging/"):
        assert not any(n.startswith(left_out) for n in names), left_out
    assert "app/main.py" in names  # the app keeps its sources
    assert zip_path.stat().st_size < 399_361  # the size before portafunc went in as trimmed bytecode

    site = tmp_path / "site"
    zipfile.ZipFile(zip_path).extractall(site)
    for target in ("_portafunc_http", "hello"):
        proc = subprocess.run([sys.executable, "-c", SERVE, str(site), target], cwd=site, capture_output=True,
                              text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr[-3000:]
        report = json.loads(proc.stdout.strip().splitlines()[-1])
        assert report["status"] == 200 and json.loads(report["body"]) == {"message": "hello ada"}, report
        assert all(path.startswith(str(site)) and path.endswith(".pyc") for path in report["from"]), report

    # imported by name, as a script or a debugger does, not by path as functions-framework does: the app's own
    # main (app/main.py) is found, not the generated main.py beside the working directory
    plain = subprocess.run([sys.executable, "-c", "import json, main; "
                            "print(json.dumps(sorted(main._portafunc_entry.app._functions)))"],
                           cwd=site, capture_output=True, text=True, timeout=120)
    assert plain.returncode == 0, plain.stderr[-3000:]
    assert json.loads(plain.stdout.strip().splitlines()[-1]) == ["hello"]
