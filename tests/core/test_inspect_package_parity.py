"""``portafunc inspect --target T`` refuses what ``portafunc package --target T`` refuses, in the same words: every
refusal a packager makes before it builds is one of the target's checks (``name_rules``, ``check_deployment``,
``check_app``), which both commands ask. One case per refusal that used to be made only while packaging."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

HTTP = """\
from portafunc import App, HttpRequest, JwtAuth, Message

app = App({name!r}{extra})


@app.http("GET", "/a")
def a(req: HttpRequest) -> dict:
    return {{}}


@app.http("GET", "/b")
def b(req: HttpRequest) -> dict:
    return {{}}
"""

LONG = "a-really-long-application-name-for-the-customer-portal-backend-services"

CASES = {
    # GCP: the service names deploy.sh gives, with the app name (and stage) in front, cut to 63 characters
    "gcp-long-app-name": ("gcp", HTTP.format(name=LONG, extra="") + """

@app.queue("jobs", name="worker")
def worker(msg: Message) -> None:
    pass
""", None, (), "function 'worker' and the app's HTTP service both deploy as the Cloud Run service "
         "'a-really-long-application-name-for-the-customer-portal-backend'; a name is cut to Cloud Run's 63 "
         "characters, and the app name fills 71 of them, so no function name can tell the two apart: use a shorter "
         "app name"),
    "gcp-long-with-stage": ("gcp", HTTP.format(name="a-long-application-name-for-the-customer-portal-api", extra="")
                            + """

@app.queue("jobs")
def worker(msg: Message) -> None:
    pass
""", '[stages.production]\n', ("--stage", "production"),
        "function 'worker' and the app's HTTP service both deploy as the Cloud Run service "
        "'a-long-application-name-for-the-customer-portal-api-production'; a name is cut to Cloud Run's 63 "
        "characters, and the app name with the stage fills 62 of them, so no function name can tell the two apart: "
        "use a shorter app name or stage name"),
    "gcp-case": ("gcp", HTTP.format(name="cased", extra="") + """

@app.queue("one")
def getOrder(msg: Message) -> None:
    pass


@app.queue("two")
def getorder(msg: Message) -> None:
    pass
""", None, (), "function 'getorder' and function 'getOrder' both deploy as the Cloud Run service 'cased-getorder'; "
         "service names are lower-case letters, digits and '-': rename one of them (name=... on the decorator)"),
    "gcp-room": ("gcp", HTTP.format(name="a-fairly-long-application-name-for-the-portal", extra="") + """

@app.queue("one")
def process_incoming_orders_one(msg: Message) -> None:
    pass


@app.queue("two")
def process_incoming_orders_two(msg: Message) -> None:
    pass
""", None, (), "function 'process_incoming_orders_two' and function 'process_incoming_orders_one' both deploy as "
         "the Cloud Run service 'a-fairly-long-application-name-for-the-portal-process-incoming'; a name is cut to "
         "Cloud Run's 63 characters, which leaves 17 after 'a-fairly-long-application-name-for-the-portal-': rename "
         "one of them (name=... on the decorator) so the two differ within their first 17 characters, or use a "
         "shorter app name"),
    "gcp-mixed-auth": ("gcp", HTTP.format(name="mixed", extra="") + """

@app.http("POST", "/internal/reindex", auth="function")
def reindex(req: HttpRequest) -> dict:
    return {}
""", None, (), "GCP serves every route from one HTTP service whose access is one IAM policy, but routes mix "
         "auth='anonymous' (a, b) and auth='function'; give them one auth level, or deploy one function per route "
         "([targets.gcp] http = \"per-route\")"),
    "gcp-http-env": ("gcp", HTTP.format(name="genv", extra=""),
                     '[functions.a]\nenv = { X = "1" }\n\n[functions.b]\nenv = { X = "2" }\n', (),
                     "GCP serves every HTTP route from one service, but env X differs between its functions; set it "
                     "app-wide, or use the per-route layout"),
    # AWS: API Gateway's JWT authorizer fetches the issuer's keys itself
    "aws-local-issuer": ("aws", HTTP.format(
        name="jwt", extra=', auth=JwtAuth(issuer="http://localhost:9999/", audience="api://x")'), None, (),
        "a: JwtAuth issuer 'http://localhost:9999/' is not https; API Gateway's JWT authorizer and the deployed "
        "function need a public https issuer"),
    # Azure: one function app, one set of app settings; Flex Consumption's Python versions
    "azure-env": ("azure", HTTP.format(name="azenv", extra=""),
                  '[functions.a]\nenv = { X = "1" }\n\n[functions.b]\nenv = { X = "2" }\n', (),
                  "Azure runs every function in one function app with one set of app settings, but env X differs "
                  "between functions; set it app-wide"),
    "azure-python": ("azure", HTTP.format(name="azpy", extra=""), 'python = "3.14"\n', (),
                     "python = '3.14' (portafunc.toml): Azure Functions (Flex Consumption) supports 3.10, 3.11, "
                     "3.12, 3.13"),
    # container: the configuration's own options
    "container-platforms": ("container", HTTP.format(name="ctr", extra=""),
                            '[targets.container]\nplatforms = ["cloudrun", "lambda"]\n', (),
                            "[targets.container] platforms = ['cloudrun', 'lambda']: a non-empty list of cloudrun, "
                            "containerapps, knative"),
}


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "portafunc.cli", *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=300)


@pytest.mark.parametrize("case", sorted(CASES))
def test_inspect_refuses_what_package_refuses_in_the_same_words(tmp_path: Path, case: str) -> None:
    target, source, config, extra, line = CASES[case]
    project = tmp_path / "project"
    project.mkdir()
    (project / "main.py").write_text(source)
    if config is not None:
        (project / "portafunc.toml").write_text(config)
    inspected = _cli("inspect", str(project), "--target", target, *extra)
    assert inspected.returncode == 2, inspected.stdout + inspected.stderr
    assert f"\n{target} REFUSES this deployment:\n  - {line}\n" in inspected.stdout + "\n", inspected.stdout
    packaged = _cli("package", "--target", target, "--out", str(tmp_path / "dist"), *extra, str(project))
    assert packaged.returncode == 2, packaged.stdout + packaged.stderr
    assert f"portafunc: cannot package: {target} refuses this deployment:\n  - {line}\n" in packaged.stderr, \
        packaged.stderr
    assert not (tmp_path / "dist").exists()  # refused before anything is built


def test_a_requirements_line_package_cannot_honour_is_refused_by_inspect_too(tmp_path: Path) -> None:
    (tmp_path / "main.py").write_text(HTTP.format(name="reqs", extra=""))
    (tmp_path / "requirements.txt").write_text("requests\n-e ./lib\n")
    line = ("requirements.txt line 2: '-e ./lib' cannot be honoured: an editable install points at a directory on "
            "this machine")
    inspected = _cli("inspect", str(tmp_path), "--target", "aws")
    assert inspected.returncode == 2 and inspected.stderr.startswith(f"portafunc: error: {line}"), inspected.stderr
    packaged = _cli("package", "--target", "aws", "--out", str(tmp_path / "dist"), str(tmp_path))
    assert packaged.returncode == 2 and f"portafunc: cannot package: {line}" in packaged.stderr, packaged.stderr
