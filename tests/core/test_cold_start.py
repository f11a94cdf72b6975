"""`import portafunc` stays light: no cloud SDK, no asyncio, no pydantic, no threading (measured in benchmarks/)."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

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
    leaked = sorted(n for n in names if n.split(".")[0] in FORBIDDEN + ("uuid", "hashlib", "http")
                    or n == "portafunc.resources")
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


# -- the generated Azure and GCP entries: what the first HTTP request loads beyond a native handler ------------------

HELLO_APP = (
    "from portafunc import App, HttpRequest\n"
    "app = App('hello')\n"
    "@app.http('GET', '/hello/{name}')\n"
    "def hello(req: HttpRequest) -> dict:\n"
    "    return {'message': 'hello ' + req.path_params['name']}\n"
)
NATIVE_AZURE = (
    "import json\n"
    "import azure.functions as func\n"
    "app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)\n"
    "@app.function_name(name='hello')\n"
    "@app.route(route='hello/{name}', methods=['GET'])\n"
    "def hello(req: func.HttpRequest) -> func.HttpResponse:\n"
    "    body = json.dumps({'message': 'hello ' + req.route_params['name']})\n"
    "    return func.HttpResponse(body, status_code=200, mimetype='application/json')\n"
)
NATIVE_GCP = (
    "import functions_framework\n"
    "@functions_framework.http\n"
    "def hello(request):\n"
    "    return {'message': 'hello ' + request.path.rsplit('/', 1)[-1]}\n"
)
# What the Azure Functions worker does with function_app.py: import it, index it, call the function it found.
SERVE_AZURE = (
    "import importlib.util, json, sys\n"
    "import azure.functions as func\n"
    "spec = importlib.util.spec_from_file_location('function_app', sys.argv[1])\n"
    "module = importlib.util.module_from_spec(spec)\n"
    "sys.modules['function_app'] = module\n"
    "spec.loader.exec_module(module)\n"
    "fn = {f.get_function_name(): f for f in module.app.get_functions()}['hello'].get_user_function()\n"
    "resp = fn(func.HttpRequest(method='GET', url='http://localhost:7071/hello/world', headers={}, params={},\n"
    "                           route_params={'name': 'world'}, body=b''))\n"
    "assert resp.status_code == 200 and json.loads(resp.get_body()) == {'message': 'hello world'}, resp.get_body()\n"
    "print(json.dumps(sorted(sys.modules)))\n"
)
# What functions-framework does with main.py: load the target and serve its first request.
SERVE_GCP = (
    "import json, sys\n"
    "import functions_framework\n"
    "app = functions_framework.create_app(target='hello', source=sys.argv[1], signature_type='http')\n"
    "resp = app.test_client().get('/hello/world')\n"
    "assert resp.status_code == 200 and json.loads(resp.data) == {'message': 'hello world'}, resp.data\n"
    "print(json.dumps(sorted(sys.modules)))\n"
)


def _served_modules(serve: str, entry: Path) -> set[str]:
    """The modules a fresh interpreter holds after loading ``entry`` and answering its first HTTP request."""
    proc = subprocess.run([sys.executable, "-c", serve, str(entry)], capture_output=True, text=True,
                          cwd=str(entry.parent), check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return set(json.loads(proc.stdout.strip().splitlines()[-1]))


def _written_module(folder: Path, name: str, source: str) -> Any:
    """``source`` written to ``folder/name.py`` and imported from there (then forgotten by ``sys.modules``)."""
    (folder / f"{name}.py").write_text(source, encoding="utf-8")
    sys.path.insert(0, str(folder))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(folder))
        sys.modules.pop(name, None)


def _entries(tmp_path: Path, target: str) -> tuple[Path, Path]:
    """The native hello entry and portafunc's generated one for the same app (the generator the packager uses)."""
    native, generated = tmp_path / "native", tmp_path / "portafunc"
    native.mkdir()
    generated.mkdir()
    hello_app = _written_module(generated, "hello_app", HELLO_APP)  # beside the entry, as in a package
    if target == "azure":
        from portafunc_azure.deploy.function_app import generate_function_app  # noqa: PLC0415

        (native / "function_app.py").write_text(NATIVE_AZURE, encoding="utf-8")
        entry = generated / "function_app.py"
        entry.write_text(generate_function_app(hello_app.app, "hello_app:app"), encoding="utf-8")
        return native / "function_app.py", entry
    from portafunc_gcp.deploy.main_py import render_main  # noqa: PLC0415

    (native / "main.py").write_text(NATIVE_GCP, encoding="utf-8")
    entry = generated / "main.py"
    entry.write_text(render_main(hello_app.app, "hello_app:app", root="."), encoding="utf-8")
    return native / "main.py", entry


# Modules the first HTTP request must not load: other trigger families' codecs, build-time tables, and what only
# encoding, messaging, typing or failures need.
LAZY_ON_HTTP = ("portafunc.targets", "portafunc.schedule", "portafunc.params", "portafunc.resources",
                "portafunc.routers", "portafunc.messaging", "portafunc.tracing", "portafunc.otel",
                "portafunc.idempotency", "portafunc.kit.records", "pydantic", "uuid", "platform", "hashlib", "inspect",
                "typing_extensions")
FAMILY_CODECS = {
    "azure": ("portafunc_azure.codecs.queue", "portafunc_azure.codecs.topic", "portafunc_azure.codecs.storage",
              "portafunc_azure.codecs.envelope", "portafunc_azure.codecs.schedule", "portafunc_azure.codecs.natives",
              "portafunc_azure.backends"),
    "gcp": ("portafunc_gcp.codecs.shapes", "portafunc_gcp.codecs.pubsub", "portafunc_gcp.codecs.storage",
            "portafunc_gcp.codecs.legacy", "portafunc_gcp.codecs.schedule", "portafunc_gcp.inbound",
            "portafunc_gcp.backends"),
}


@pytest.mark.parametrize("target", ["azure", "gcp"])
def test_a_generated_entry_answers_its_first_http_request_loading_nothing_a_native_handler_does_not(tmp_path: Path,
                                                                                                    target: str):
    native, generated = _entries(tmp_path, target)
    serve = SERVE_AZURE if target == "azure" else SERVE_GCP
    native_modules = _served_modules(serve, native)
    ours = _served_modules(serve, generated)
    # a module built into the interpreter (the entries' gc, to pause the collector while the app loads) is no file
    # to find and read: nothing a cold start pays for
    added = sorted(n for n in ours - native_modules
                   if n.split(".")[0] not in ("portafunc", f"portafunc_{target}", "hello_app", "function_app", "main")
                   and n not in sys.builtin_module_names)
    assert added == [], f"the {target} entry loads modules a native handler does not: {added}"
    deferred = LAZY_ON_HTTP + FAMILY_CODECS[target]
    lazy = sorted(n for n in ours - native_modules if any(n == d or n.startswith(d + ".") for d in deferred))
    assert lazy == [], f"the {target} entry's first HTTP request loaded {lazy}"


# -- a mounted web app: what its first request loads through each cloud's entry -----------------------------------

MOUNT_APP = (
    "from portafunc import App\n"
    "async def asgi(scope, receive, send):\n"
    "    if scope['type'] == 'lifespan':\n"
    "        while (await receive())['type'] == 'lifespan.startup':\n"
    "            await send({'type': 'lifespan.startup.complete'})\n"
    "        await send({'type': 'lifespan.shutdown.complete'})\n"
    "        return\n"
    "    await send({'type': 'http.response.start', 'status': 200, 'headers': [(b'content-type', b'text/plain')]})\n"
    "    await send({'type': 'http.response.body', 'body': b'hello ' + scope['path'].rsplit('/', 1)[-1].encode()})\n"
    "def wsgi(environ, start_response):\n"
    "    start_response('200 OK', [('Content-Type', 'text/plain')])\n"
    "    return [b'hello ' + environ['PATH_INFO'].rsplit('/', 1)[-1].encode()]\n"
    "app = App('mounted')\n"
    "app.mount('/', asgi)\n"
    "wsgi_app = App('mounted-wsgi')\n"
    "wsgi_app.mount('/', wsgi)\n"
)
# The Lambda runtime's first invocation, the HTTP API event of the packaged mount's route ``GET /{path+}``.
SERVE_AWS = (
    "import json, os, sys\n"
    "os.environ['PORTAFUNC_APP'] = sys.argv[1]\n"
    "from portafunc_aws.runtime import handler\n"
    "event = {'version': '2.0', 'routeKey': 'GET /{path+}', 'rawPath': '/hello/world', 'rawQueryString': '',\n"
    "         'headers': {'host': 'x.example'}, 'pathParameters': {'path': 'hello/world'}, 'isBase64Encoded': False,\n"
    "         'requestContext': {'http': {'method': 'GET', 'path': '/hello/world', 'sourceIp': '192.0.2.1'},\n"
    "                            'routeKey': 'GET /{path+}', 'requestId': 'r1', 'stage': '$default'}}\n"
    "class Context:\n"
    "    aws_request_id, function_name, memory_limit_in_mb = 'r1', 'f', 128\n"
    "    invoked_function_arn = 'arn:aws:lambda:us-east-1:123456789012:function:f'\n"
    "out = handler(event, Context())\n"
    "assert out['statusCode'] == 200 and out['body'] == 'hello world', out\n"
    "print(json.dumps(sorted(sys.modules)))\n"
)
# Modules a mounted app's first request must not load besides LAZY_ON_HTTP's (inspect excepted: ``app.mount`` reads
# the app's signature at registration): what only routes, streamed bodies, documents or other families need.
LAZY_ON_MOUNT = tuple(n for n in LAZY_ON_HTTP if n != "inspect") + (
    "portafunc.streaming", "portafunc.openapi", "portafunc.docs_ui", "portafunc.cors", "portafunc.auth",
    "portafunc.middleware", "portafunc.forms", "portafunc.params_plan", "portafunc.data")
MOUNT_FAMILY_CODECS = {
    "aws": ("portafunc_aws.codecs.queue", "portafunc_aws.codecs.topic", "portafunc_aws.codecs.storage",
            "portafunc_aws.codecs.eventbridge", "portafunc_aws.codecs.schedule", "portafunc_aws.inbound"),
    **FAMILY_CODECS,
}


def _mount_entry(tmp_path: Path, target: str, attr: str) -> tuple[str, Path]:
    """The serving script and the entry (the app reference on AWS) of the mount app for ``target``."""
    if target == "aws":
        (tmp_path / "mount_app.py").write_text(MOUNT_APP, encoding="utf-8")
        return SERVE_AWS, tmp_path / f"mount_app:{attr}"
    mount_app = _written_module(tmp_path, "mount_app", MOUNT_APP)
    if target == "azure":
        from portafunc_azure.deploy.function_app import generate_function_app  # noqa: PLC0415

        entry = tmp_path / "function_app.py"
        entry.write_text(generate_function_app(mount_app.app, f"mount_app:{attr}"), encoding="utf-8")
        return SERVE_AZURE.replace("['hello']", "['mount_root']").replace(
            "{'message': 'hello world'}", "b'hello world'").replace("json.loads(resp.get_body())", "resp.get_body()"), entry
    from portafunc_gcp.deploy.main_py import render_main  # noqa: PLC0415

    entry = tmp_path / "main.py"
    entry.write_text(render_main(getattr(mount_app, attr), f"mount_app:{attr}", root="."), encoding="utf-8")
    return SERVE_GCP.replace("target='hello'", "target='_portafunc_http'").replace(
        "json.loads(resp.data) == {'message': 'hello world'}", "resp.data == b'hello world'"), entry


@pytest.mark.parametrize(("target", "attr"), [("aws", "app"), ("aws", "wsgi_app"), ("azure", "app"),
                                              ("azure", "wsgi_app"), ("gcp", "app"), ("gcp", "wsgi_app")])
def test_a_mounted_apps_first_request_loads_no_deferred_module(tmp_path: Path, target: str, attr: str):
    """A mount-only app's first request, through the Lambda runtime and the generated Azure and GCP entries (a bare
    ASGI and a bare WSGI app: nothing a framework would load hides what portafunc loads)."""
    serve, entry = _mount_entry(tmp_path, target, attr)
    if target == "aws":
        proc = subprocess.run([sys.executable, "-c", serve, entry.name], capture_output=True, text=True,
                              cwd=str(tmp_path), check=False)
        assert proc.returncode == 0, proc.stderr[-3000:]
        ours = set(json.loads(proc.stdout.strip().splitlines()[-1]))
        native_modules: set[str] = set()
    else:
        ours = _served_modules(serve, entry)
        (tmp_path / "hello").mkdir()
        native, _ = _entries(tmp_path / "hello", target)  # what the platform's own HTTP handler loads anyway
        native_modules = _served_modules(SERVE_AZURE if target == "azure" else SERVE_GCP, native)
    assert "portafunc.mount" in ours
    deferred = LAZY_ON_MOUNT + MOUNT_FAMILY_CODECS[target]
    lazy = sorted(n for n in ours - native_modules if any(n == d or n.startswith(d + ".") for d in deferred))
    assert lazy == [], f"a mounted app's first request on {target} loaded {lazy}"
