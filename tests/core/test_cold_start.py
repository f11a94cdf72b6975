"""`import portafunc` stays light: no cloud SDK, no asyncio, no pydantic, no threading (measured in benchmarks/)."""

from __future__ import annotations

import subprocess
import sys

# opentelemetry: imported only when OpenTelemetry is set up (tests/core/test_otel_activation.py)
FORBIDDEN = ("boto3", "botocore", "azure", "google", "grpc", "flask", "asyncio", "pydantic", "threading",
             "logging", "werkzeug", "functions_framework", "typing", "dataclasses", "inspect", "opentelemetry")


def _imported(code: str) -> set[str]:
    proc = subprocess.run([sys.executable, "-X", "importtime", "-c", code], capture_output=True, text=True,
                          check=True)
    names = set()
    for line in proc.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            names.add(line.rsplit("|", 1)[1].strip())
    return names


def test_import_portafunc_loads_no_cloud_sdk_asyncio_or_pydantic():
    names = _imported("import portafunc")
    assert "portafunc" in names
    leaked = sorted(n for n in names if n.split(".")[0] in FORBIDDEN)
    assert leaked == [], f"import portafunc pulled in {leaked}"


def test_running_a_sync_http_handler_still_needs_none_of_them():
    code = (
        "import portafunc\n"
        "from portafunc.invoke import handle_http\n"
        "app = portafunc.App('a')\n"
        "@app.http('GET', '/x/{id}')\n"
        "def h(req: portafunc.HttpRequest) -> dict: return {'id': req.path_params['id']}\n"
        "assert handle_http(app, portafunc.HttpRequest('GET', '/x/1')).json_body() == {'id': '1'}\n"
    )
    names = _imported(code)
    leaked = sorted(n for n in names if n.split(".")[0] in FORBIDDEN)
    assert leaked == [], f"a sync HTTP invocation pulled in {leaked}"


def test_the_aws_lambda_entry_path_stays_light_too():
    code = "import portafunc_aws.runtime"
    names = _imported(code)
    leaked = sorted(n for n in names if n.split(".")[0] in FORBIDDEN + ("uuid", "hashlib", "http"))
    assert leaked == [], f"the Lambda entry pulled in {leaked}"


def test_a_route_with_typed_parameters_loads_pydantic_on_its_first_request_not_at_registration():
    register = (
        "import portafunc, sys\n"
        "app = portafunc.App('a')\n"
        "@app.http('GET', '/x/{id}')\n"
        "def h(id: int, limit: int = 10) -> dict: return {'id': id, 'limit': limit}\n"
    )
    names = _imported(register)
    leaked = sorted(n for n in names if n.split(".")[0] in FORBIDDEN)
    assert leaked == [], f"registering a typed route pulled in {leaked}"
    served = _imported(register + "from portafunc.invoke import handle_http\n"
                       "assert handle_http(app, portafunc.HttpRequest('GET', '/x/1')).json_body() == "
                       "{'id': 1, 'limit': 10}\n")
    assert "pydantic" in served  # the validator is built on the first request


def test_a_route_that_only_checks_the_content_type_never_loads_pydantic():
    code = (
        "import portafunc\n"
        "from portafunc.invoke import handle_http\n"
        "app = portafunc.App('a')\n"
        "@app.http('POST', '/notes', content_types=['text/plain'])\n"
        "def h(req: portafunc.HttpRequest) -> str: return req.text\n"
        "assert handle_http(app, portafunc.HttpRequest('POST', '/notes', body=b'hi', "
        "headers={'Content-Type': 'text/plain'})).body == b'hi'\n"
        "assert handle_http(app, portafunc.HttpRequest('POST', '/notes', body=b'{}', "
        "headers={'Content-Type': 'application/json'})).status == 415\n"
    )
    names = _imported(code)  # (the 415's "request rejected" log line loads logging, as any rejected request's does)
    leaked = sorted(n for n in names if n.split(".")[0] == "pydantic")
    assert leaked == [], f"a content-type check pulled in {leaked}"
