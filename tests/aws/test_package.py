"""``portafunc package --target aws``: the SAM template validates (cfn-lint) and transforms (aws-sam-translator),
the zip holds what Lambda needs and nothing else, builds are reproducible, and the artifact boots from a fresh
directory under the real Lambda runtime interface client (``awslambdaric``, from PyPI) talking to a minimal Runtime
API on 127.0.0.1 (tests/aws/lambda_runtime_api.py), answering an HTTP API v2 event and an SQS batch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import zipfile
from importlib.metadata import version
from pathlib import Path

import pytest

from lambda_runtime_api import RuntimeApi

REPO = Path(__file__).resolve().parents[2]
SHOP = REPO / "examples" / "shop"
PY = f"{sys.version_info.major}.{sys.version_info.minor}"


def package(out: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "portafunc.cli", "package", "--target", "aws", "--python", PY,
                           "--out", str(out), str(SHOP)], capture_output=True, text=True, timeout=600, cwd=REPO)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    out = tmp_path_factory.mktemp("dist")
    started = time.perf_counter()
    done = package(out)
    assert done.returncode == 0, done.stderr
    zips = list((out / "aws").glob("*.zip"))
    assert len(zips) == 1, list((out / "aws").iterdir())
    return {"out": out / "aws", "zip": zips[0], "template": out / "aws" / "template.yaml", "stdout": done.stdout,
            "seconds": time.perf_counter() - started}


def test_summary_names_every_function(built):
    stdout = built["stdout"]
    for name in ("create_order", "get_order", "fulfil", "audit", "nightly", "on_upload"):
        assert name in stdout
    assert "sha256" in stdout and "template.yaml" in stdout


def test_template_passes_cfn_lint(built):
    done = subprocess.run([str(Path(sys.executable).parent / "cfn-lint"), str(built["template"])],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr


def test_template_transforms_with_sam_translator(built, monkeypatch):
    import yaml
    from samtranslator.translator.transform import transform

    class Policies:
        def load(self) -> dict[str, str]:
            return {n: f"arn:aws:iam::aws:policy/service-role/{n}"
                    for n in ("AWSLambdaBasicExecutionRole", "AWSLambdaSQSQueueExecutionRole")}

    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    template = yaml.safe_load(Path(built["template"]).read_text())
    assert template["Globals"]["Function"]["CodeUri"] == Path(built["zip"]).name
    # what `sam package` / `sam deploy` do before the transform: upload the zip, point CodeUri at it
    template["Globals"]["Function"]["CodeUri"] = f"s3://artifacts-bucket/{Path(built['zip']).name}"
    transformed = transform(template, {}, Policies())
    cfn = transformed["Resources"]
    # the transformed stack, as CloudFormation receives it: no lint error (W3037 only: SAM's SQSPollerPolicy lists
    # batch actions cfn-lint does not know), no reference to a resource that is not there
    out = Path(built["out"]) / "transformed.json"
    out.write_text(json.dumps(transformed))
    lint = subprocess.run([str(Path(sys.executable).parent / "cfn-lint"), str(out)], capture_output=True, text=True,
                          timeout=300)
    assert lint.returncode & 2 == 0 and {ln.split()[0] for ln in lint.stdout.splitlines()
                                         if ln[:1] in "EWI" and ln[1:5].isdigit()} <= {"W3037"}, lint.stdout
    from cfn_emulation import references

    assert {r for res in cfn.values() for r in references(res)} <= set(cfn)
    functions = {k: v for k, v in cfn.items() if v["Type"] == "AWS::Lambda::Function"}
    # one Lambda per function, plus the router that answers unmatched requests (404/405) as the other clouds do
    assert len(functions) == 11
    assert {f["Properties"]["Handler"] for f in functions.values()} == {"portafunc_aws.runtime.handler"}
    names = {f["Properties"]["Environment"]["Variables"].get("PORTAFUNC_FUNCTION") for f in functions.values()}
    assert names == {"create_order", "list_orders", "get_order", "cancel_order", "fulfil", "audit", "nightly",
                     "on_upload", "portafunc_docs", "portafunc_docs_files", None}
    mappings = [v["Properties"] for v in cfn.values() if v["Type"] == "AWS::Lambda::EventSourceMapping"]
    assert len(mappings) == 2 and all(m["FunctionResponseTypes"] == ["ReportBatchItemFailures"] for m in mappings)
    queue = cfn["OrdersQueue"]["Properties"]
    assert queue["RedrivePolicy"]["maxReceiveCount"] == 5
    routes = sorted(v["Properties"]["RouteKey"] for v in cfn.values() if v["Type"] == "AWS::ApiGatewayV2::Route") \
        if any(v["Type"] == "AWS::ApiGatewayV2::Route" for v in cfn.values()) else sorted(
        f"{m.upper()} {p}" for v in cfn.values() if v["Type"] == "AWS::ApiGatewayV2::Api"
        for p, ms in v["Properties"]["Body"]["paths"].items() for m in ms)
    assert routes == ["DELETE /orders/{shop}/{order_id}", "GET /docs", "GET /docs/{file}", "GET /orders/{shop}",
                      "GET /orders/{shop}/{order_id}", "HEAD /docs", "HEAD /docs/{file}", "HEAD /orders/{shop}",
                      "HEAD /orders/{shop}/{order_id}", "POST /orders/{shop}", "X-AMAZON-APIGATEWAY-ANY-METHOD $default"]
    rules = [v["Properties"] for v in cfn.values() if v["Type"] == "AWS::Events::Rule"]
    assert [r["ScheduleExpression"] for r in rules] == ["cron(0/5 * * * ? *)"]
    bucket = cfn["UploadsBucket"]["Properties"]["NotificationConfiguration"]["LambdaConfigurations"]
    assert [c["Event"] for c in bucket] == ["s3:ObjectCreated:*"]
    assert any(v["Type"] == "AWS::SNS::Subscription" and v["Properties"]["Protocol"] == "sqs" for v in cfn.values())
    # least privilege: only create_order may publish and send to the app's queues; a consumer may send only to its
    # own dead-letter queue (a non-retryable message is moved there at once)
    roles = {k: v for k, v in cfn.items() if v["Type"] == "AWS::IAM::Role"}
    sent_to = {k: sorted(json.dumps(s["Resource"]) for p in v["Properties"].get("Policies", [])
                         for s in p["PolicyDocument"]["Statement"] if "sqs:SendMessage*" in s["Action"])
               for k, v in roles.items()}
    publishers = sorted(k for k, v in roles.items() if "sns:Publish" in json.dumps(v))
    assert publishers == ["CreateOrderFunctionRole"]
    assert [k for k, r in sent_to.items() if any("OrdersQueue\"" in x for x in r)] == ["CreateOrderFunctionRole"]
    assert sorted(k for k, r in sent_to.items() if r) == ["AuditFunctionRole", "CreateOrderFunctionRole",
                                                    "FulfilFunctionRole"]
    assert all("DeadLetterQueue" in x for k in ("AuditFunctionRole", "FulfilFunctionRole") for x in sent_to[k])


def test_zip_holds_linux_wheels_pyc_and_no_foreign_sdks(built):
    names = zipfile.ZipFile(built["zip"]).namelist()
    tops = {n.split("/")[0] for n in names}
    assert {"main.py", "portafunc", "portafunc_aws", "pydantic", "pydantic_core"} <= tops
    assert not any(t.startswith(("boto3", "botocore", "azure", "google", "functions_framework")) for t in tops)
    assert any(n.startswith("pydantic_core/") and "x86_64-linux-gnu.so" in n for n in names)
    tag = f"cpython-{sys.version_info.major}{sys.version_info.minor}.pyc"
    assert "portafunc_aws/runtime.pyc" in names and "portafunc_aws/runtime.py" not in names  # bytecode only
    assert f"pydantic/__pycache__/main.{tag}" in names and "pydantic/main.py" in names  # others keep sources
    assert f"__pycache__/main.{tag}" in names and "main.py" in names  # and so does the app
    eps = zipfile.ZipFile(built["zip"]).read("portafunc_aws-0.1.0.dist-info/entry_points.txt").decode()
    assert "sqs = portafunc_aws.backends:sqs_backend" in eps
    # the shop serves /docs: its document says what auth="function" is here, so the Target goes along (the
    # untyped app below has no docs route and ships none)
    assert "aws = portafunc_aws.target:Target" in eps and "portafunc_aws/target.pyc" in names


def test_two_builds_give_identical_bytes(built, tmp_path):
    started = time.perf_counter()
    done = package(tmp_path)
    warm = time.perf_counter() - started
    assert done.returncode == 0, done.stderr
    again = tmp_path / "aws" / Path(built["zip"]).name
    assert again.read_bytes() == Path(built["zip"]).read_bytes()
    assert (tmp_path / "aws" / "template.yaml").read_text() == Path(built["template"]).read_text()
    print(f"aws package: first build {built['seconds']:.1f}s, second {warm:.1f}s, {again.stat().st_size} bytes")


@pytest.fixture(scope="module")
def lambda_python(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A fresh venv (no system site-packages) with only awslambdaric, the version installed for the test suite."""
    venv = tmp_path_factory.mktemp("ric-venv")
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True, timeout=120)
    py = str(venv / "bin" / "python")
    done = subprocess.run([py, "-m", "pip", "install", "-q", "--disable-pip-version-check",
                           f"awslambdaric=={version('awslambdaric')}"], capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        pytest.fail(f"cannot install awslambdaric into a fresh venv (PyPI needed): {done.stderr[-2000:]}",
                    pytrace=False)
    return py


def boot(lambda_python: str, task_root: Path, function: str, api: RuntimeApi) -> subprocess.Popen[bytes]:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "AWS_LAMBDA_RUNTIME_API": api.address,
           "LAMBDA_TASK_ROOT": str(task_root), "PYTHONPATH": str(task_root), "_HANDLER": "portafunc_aws.runtime.handler",
           "AWS_LAMBDA_FUNCTION_NAME": f"shop-{function}", "AWS_REGION": "us-east-1",
           "PORTAFUNC_APP": "main:app", "PORTAFUNC_FUNCTION": function,
           "PORTAFUNC_QUEUE_ORDERS": "memory://", "PORTAFUNC_TOPIC_ORDER_EVENTS": "memory://",
           "PORTAFUNC_KV_ORDERS": "memory://"}
    return subprocess.Popen([lambda_python, "-m", "awslambdaric", "portafunc_aws.runtime.handler"], cwd=task_root,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def test_artifact_boots_under_awslambdaric(built, lambda_python, tmp_path):
    task_root = tmp_path / "task"
    zipfile.ZipFile(built["zip"]).extractall(task_root)
    check = subprocess.run([lambda_python, "-c", "import pydantic"], capture_output=True, timeout=60)
    assert check.returncode != 0  # the fresh venv has no pydantic: everything comes from the artifact

    from portafunc.events import HttpRequest, Message
    from portafunc_aws.codecs.http import encode_request
    from portafunc_aws.codecs.queue import encode_messages

    api = RuntimeApi("shop-create_order")
    proc = boot(lambda_python, task_root, "create_order", api)
    try:
        kind, answer = api.invoke(encode_request(HttpRequest(
            "POST", "/orders/acme", headers={"content-type": "application/json"},
            body=b'{"id": "o-1", "total": 9.5}'), "apigw-v2"))
        assert kind == "response", answer
        assert answer["statusCode"] == 201 and json.loads(answer["body"]) == {"shop": "acme", "id": "o-1"}
        kind, answer = api.invoke(encode_request(HttpRequest(
            "POST", "/orders/acme", headers={"content-type": "application/json"}, body=b'{"id": 1}'), "apigw-v2"))
        assert kind == "response" and answer["statusCode"] == 400
        assert answer["headers"]["content-type"] == "application/problem+json"
    finally:
        proc.kill()
        output = proc.communicate(timeout=10)[0].decode(errors="replace")
        api.close()
    assert "Traceback" not in output, output

    api = RuntimeApi("shop-fulfil")
    proc = boot(lambda_python, task_root, "fulfil", api)
    try:
        batch = [Message(id="m-ok", data=b'{"id": "o-1", "total": 9.5}'),
                 Message(id="m-negative", data=b'{"id": "o-2", "total": -1}'),
                 Message(id="m-invalid", data=b'{"id": "o-3"}'),
                 Message(id="m-ok-2", data=b'{"id": "o-4", "total": 1}')]
        kind, answer = api.invoke(encode_messages(batch, "sqs"))
        assert kind == "response", answer
        assert answer == {"batchItemFailures": [{"itemIdentifier": "m-negative"}, {"itemIdentifier": "m-invalid"}]}
        kind, answer = api.invoke({"not": "an event"})
        assert kind == "error" and "not a known AWS event" in answer["errorMessage"]
    finally:
        proc.kill()
        proc.communicate(timeout=10)
        api.close()


HELLO = ("from portafunc import App, HttpRequest\n\napp = App('hello')\n\n\n"
         "@app.http('GET', '/hello')\ndef hello(req: HttpRequest) -> dict[str, str]:\n"
         "    return {'hello': req.query_one('name', 'world') or 'world'}\n")


def package_main(tmp_path: Path, name: str, source: str) -> Path:
    """The Lambda zip ``portafunc package --target aws`` builds for a project whose ``main.py`` is ``source``."""
    project = tmp_path / name
    project.mkdir()
    (project / "main.py").write_text(source)
    done = subprocess.run([sys.executable, "-m", "portafunc.cli", "package", "--target", "aws", "--python", PY,
                           "--out", str(tmp_path / "dist"), str(project)], capture_output=True, text=True,
                          timeout=600, cwd=REPO)
    assert done.returncode == 0, done.stderr
    return next((tmp_path / "dist" / "aws").glob("*.zip"))


def test_an_untyped_app_ships_only_the_run_time_part_and_boots_without_pydantic(lambda_python, tmp_path):
    zip_path = package_main(tmp_path, "hello", HELLO)
    names = zipfile.ZipFile(zip_path).namelist()
    tops = {n.split("/")[0] for n in names}
    assert not any(t.startswith(("pydantic", "annotated_types", "typing_")) for t in tops), sorted(tops)
    for build_time in ("portafunc/runner/", "portafunc/packaging/", "portafunc/testing/", "portafunc/cli.py",
                       "portafunc/targets.py", "portafunc_aws/package.py", "portafunc_aws/deploy/",
                       "portafunc/data/", "portafunc/idempotency/", "portafunc/mount.py"):
        assert not any(n.startswith(build_time) for n in names), build_time
    assert "portafunc_aws/runtime.pyc" in names and "portafunc/invoke.pyc" in names
    size = zip_path.stat().st_size
    assert size < 1_000_000, size  # 4.5 MB while pydantic and the whole package went in

    task_root = tmp_path / "task"
    zipfile.ZipFile(zip_path).extractall(task_root)
    from portafunc.events import HttpRequest
    from portafunc_aws.codecs.http import encode_request

    api = RuntimeApi("hello-hello")
    proc = boot(lambda_python, task_root, "hello", api)
    try:
        kind, answer = api.invoke(encode_request(HttpRequest("GET", "/hello", query={"name": ["ada"]}), "apigw-v2"))
        assert kind == "response", answer
        assert answer["statusCode"] == 200 and json.loads(answer["body"]) == {"hello": "ada"}
    finally:
        proc.kill()
        output = proc.communicate(timeout=10)[0].decode(errors="replace")
        api.close()
    assert "Traceback" not in output, output


MARKED = ("import os\n\nfrom portafunc import App\n\n"
          "if os.environ.get('MARK_FILE'):\n    with open(os.environ['MARK_FILE'], 'a') as mark:\n"
          "        mark.write('imported\\n')\n"
          "if os.environ.get('MARK_FAIL'):\n    raise RuntimeError('the app cannot start')\n\n"
          "app = App('marked')\n\n\n@app.http('GET', '/hello')\ndef hello(req):\n    return {'hello': 'world'}\n")


def test_the_app_is_imported_in_lambdas_init_phase_and_a_failure_is_answered_by_the_first_invocation(
        lambda_python: str, tmp_path: Path) -> None:
    """Under the real awslambdaric, the app is imported before the runtime asks for its first invocation (Lambda's
    init phase, which provisioned concurrency and SnapStart run ahead of requests), once. An app whose import fails
    does not stop the runtime at init: the first invocation imports again and answers with the load error."""
    task_root = tmp_path / "task"
    zipfile.ZipFile(package_main(tmp_path, "marked", MARKED)).extractall(task_root)
    from portafunc.events import HttpRequest
    from portafunc_aws.codecs.http import encode_request

    request = encode_request(HttpRequest("GET", "/hello"), "apigw-v2")
    for fail in (False, True):
        mark = tmp_path / f"mark-{fail}"
        api = RuntimeApi("marked-hello")
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "AWS_LAMBDA_RUNTIME_API": api.address,
               "LAMBDA_TASK_ROOT": str(task_root), "PYTHONPATH": str(task_root),
               "_HANDLER": "portafunc_aws.runtime.handler", "AWS_LAMBDA_FUNCTION_NAME": "marked-hello",
               "AWS_REGION": "us-east-1", "PORTAFUNC_APP": "main:app", "PORTAFUNC_FUNCTION": "hello",
               "MARK_FILE": str(mark), **({"MARK_FAIL": "1"} if fail else {})}
        proc = subprocess.Popen([lambda_python, "-m", "awslambdaric", "portafunc_aws.runtime.handler"],
                                cwd=task_root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            assert api.polled.wait(60), "the runtime never asked for an invocation"
            assert mark.read_text() == "imported\n"  # before any invocation
            kind, answer = api.invoke(request)
            assert api.init_errors == []
            if fail:
                assert kind == "error" and answer["errorType"] == "AppLoadError", answer
                assert "the app cannot start" in answer["errorMessage"]
                assert mark.read_text() == "imported\nimported\n"  # tried again by the invocation
            else:
                assert kind == "response" and answer["statusCode"] == 200, answer
                assert json.loads(answer["body"]) == {"hello": "world"}
                assert mark.read_text() == "imported\n"  # not again
        finally:
            proc.kill()
            proc.communicate(timeout=10)
            api.close()
