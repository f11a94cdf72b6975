"""``portafunc package --target aws`` of the ported samples (examples/shortener, examples/manifests), checked as the
shop and the awkward app are: the SAM template and the transformed stack pass cfn-lint with no reference to a
resource that is not there, each function is bound and granted exactly what it declares, and the zip, booted under
the real Lambda runtime interface client (``awslambdaric``) with each function's template environment, runs one
request or event per trigger against the stack's data plane created in moto server (tests/aws/cfn_emulation.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from cfn_emulation import Stack, references
from lambda_runtime_api import function_environment, invoke_under_runtime, runtime_venv

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
PY = f"{sys.version_info.major}.{sys.version_info.minor}"
CFN_LINT = str(Path(sys.executable).parent / "cfn-lint")


def transform(template_path: Path) -> dict[str, Any]:
    """What ``sam deploy`` does before CloudFormation: upload the zip (CodeUri → s3://), then the SAM transform."""
    import yaml
    from samtranslator.translator.transform import transform as sam_transform

    class Policies:
        def load(self) -> dict[str, str]:
            return {"AWSLambdaBasicExecutionRole": "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"}

    template = yaml.safe_load(template_path.read_text())
    template["Globals"]["Function"]["CodeUri"] = f"s3://artifacts/{template['Globals']['Function']['CodeUri']}"
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    return sam_transform(template, {}, Policies())


@pytest.fixture(scope="module", params=["manifests", "shortener"])
def built(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp(f"aws-{request.param}")
    done = subprocess.run([sys.executable, "-m", "portafunc.cli", "package", "--target", "aws", "--python", PY,
                           "--out", str(out), str(EXAMPLES / request.param)], capture_output=True, text=True,
                          timeout=600, cwd=REPO)
    assert done.returncode == 0, done.stderr
    dist = out / "aws"
    cfn = transform(dist / "template.yaml")
    (dist / "transformed.json").write_text(json.dumps(cfn, indent=1))
    return {"name": request.param, "zip": next(dist.glob("*.zip")), "template": dist / "template.yaml",
            "transformed": dist / "transformed.json", "cfn": cfn, "stdout": done.stdout}


def _lint_rules(path: Path) -> tuple[int, set[str], str]:
    done = subprocess.run([CFN_LINT, str(path)], capture_output=True, text=True, timeout=300)
    rules = {line.split()[0] for line in done.stdout.splitlines() if line[:1] in "EWI" and line[1:5].isdigit()}
    return done.returncode, rules, done.stdout


def _functions(cfn: dict[str, Any]) -> dict[str, tuple[str, dict[str, Any]]]:
    """portafunc function name ("" for the router of unmatched requests) → (logical id, properties)."""
    return {res["Properties"]["Environment"]["Variables"].get("PORTAFUNC_FUNCTION", ""): (lid, res["Properties"])
            for lid, res in cfn["Resources"].items() if res["Type"] == "AWS::Lambda::Function"}


def _policy_text(cfn: dict[str, Any], function: str) -> str:
    lid, _ = _functions(cfn)[function]
    return json.dumps(cfn["Resources"][f"{lid}Role"]["Properties"].get("Policies", []))


def test_the_template_and_the_transformed_stack_pass_cfn_lint(built):
    code, rules, out = _lint_rules(built["template"])
    assert code == 0, out
    code, rules, out = _lint_rules(built["transformed"])
    assert code & 2 == 0 and rules <= set(), out  # no error, no warning
    resources = built["cfn"]["Resources"]
    assert {(lid, ref) for lid, res in resources.items() for ref in references(res) if ref not in resources} == set()


def test_each_function_is_bound_and_granted_what_it_declares(built):
    cfn = built["cfn"]
    functions = _functions(cfn)
    if built["name"] == "shortener":
        assert set(functions) == {"create_link", "redirect", "portafunc_docs", "portafunc_docs_files", ""}
        for name in ("create_link", "redirect"):
            assert functions[name][1]["Environment"]["Variables"]["PORTAFUNC_KV_LINKS"] == {
                "Fn::Sub": "dynamodb://${LinksTable}"}
        assert "dynamodb:PutItem" in _policy_text(cfn, "create_link")
        assert "dynamodb:PutItem" not in _policy_text(cfn, "redirect")  # it only reads
        assert "LinksTable" not in _policy_text(cfn, "portafunc_docs")
        api = next(r for r in cfn["Resources"].values() if r["Type"] == "AWS::ApiGatewayV2::Api")
        paths = api["Properties"]["Body"]["paths"]
        assert set(paths["/{code}"]) == {"get", "head"} and set(paths["/links"]) == {"post"}
        assert set(paths["/docs"]) == {"get", "head"}  # API Gateway prefers it to /{code}: the most specific
        cors = api["Properties"]["Body"]["x-amazon-apigateway-cors"]
        assert cors["allowOrigins"] == ["https://links.example"] and "POST" in cors["allowMethods"]
    else:
        assert set(functions) == {"write_manifest", "cleanup"}
        upload_env = functions["write_manifest"][1]["Environment"]["Variables"]
        assert set(upload_env) >= {"PORTAFUNC_BUCKET_UPLOADS", "PORTAFUNC_BUCKET_MANIFESTS"}
        assert "PORTAFUNC_BUCKET_UPLOADS" not in functions["cleanup"][1]["Environment"]["Variables"]
        uploads = cfn["Resources"]["UploadsBucket"]["Properties"]["NotificationConfiguration"]
        assert [c["Event"] for c in uploads["LambdaConfigurations"]] == ["s3:ObjectCreated:*"]
        assert "NotificationConfiguration" not in cfn["Resources"]["ManifestsBucket"].get("Properties", {})
        rules = [r["Properties"] for r in cfn["Resources"].values() if r["Type"] == "AWS::Events::Rule"]
        assert [r["ScheduleExpression"] for r in rules] == ["cron(0 3 * * ? *)"]
        assert "s3:DeleteObject" in _policy_text(cfn, "cleanup") and "s3:ListBucket" in _policy_text(cfn, "cleanup")
        reads_uploads = _policy_text(cfn, "write_manifest")
        assert "s3:GetObject" in reads_uploads and "manifests-uploads-" in reads_uploads


# -- the zip under the real runtime client, against moto ---------------------------------------------------------

@pytest.fixture(scope="module")
def lambda_python(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A fresh venv with what the Lambda Python runtime has: awslambdaric and boto3 (nothing of this repository)."""
    return runtime_venv(tmp_path_factory.mktemp("ric-venv"), boto3=True)


class Deployed:
    """The example's functions, each booted on demand under awslambdaric with its template environment."""

    def __init__(self, lambda_python: str, task_root: Path, stack: Stack, endpoint: str) -> None:
        self.lambda_python = lambda_python
        self.task_root = task_root
        self.stack = stack
        self.endpoint = endpoint
        self.by_function = {name: lid for name, (lid, _) in _functions({"Resources": stack.resources}).items()}

    def invoke(self, function: str, *events: Any) -> list[Any]:
        env = function_environment(self.task_root, function or "router", self.endpoint,
                                   self.stack.function_environment(self.by_function[function]))
        answers, output = invoke_under_runtime(self.lambda_python, self.task_root, env, events)
        assert "Traceback" not in output, output
        assert all(kind == "response" for kind, _ in answers), (answers, output)
        return [answer for _, answer in answers]


@pytest.fixture
def deployed(built, lambda_python, boto, aws, tmp_path) -> Deployed:
    stack = Stack(built["cfn"]["Resources"], boto).deploy()
    task_root = tmp_path / "task"
    zipfile.ZipFile(built["zip"]).extractall(task_root)
    return Deployed(lambda_python, task_root, stack, aws)


def _http(method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None) -> dict[str, Any]:
    from portafunc.events import HttpRequest
    from portafunc_aws.codecs.http import encode_request

    return encode_request(HttpRequest(method, path, headers=headers or {}, body=body), "apigw-v2")


def test_the_zip_runs_each_function_against_its_stack(built, deployed, boto):
    if built["name"] == "shortener":
        _shortener_against_dynamodb(deployed)
    else:
        _manifests_against_s3(deployed, boto)


def _shortener_against_dynamodb(deployed: Deployed) -> None:
    json_headers = {"content-type": "application/json", "host": "abc123.execute-api.us-east-1.amazonaws.com",
                    "x-forwarded-proto": "https"}
    created, taken, invalid = deployed.invoke(
        "create_link", _http("POST", "/links", b'{"url": "https://example.com/a", "code": "ex-a"}', json_headers),
        _http("POST", "/links", b'{"url": "https://example.com/b", "code": "ex-a"}', json_headers),
        _http("POST", "/links", b'{"url": "nope"}', json_headers))
    assert created["statusCode"] == 201, created
    assert json.loads(created["body"]) == {"code": "ex-a", "url": "https://example.com/a",
                                           "short_url": "https://abc123.execute-api.us-east-1.amazonaws.com/ex-a"}
    assert taken["statusCode"] == 409 and invalid["statusCode"] == 400  # the conditional write on DynamoDB held
    followed, unknown = deployed.invoke("redirect", _http("GET", "/ex-a"), _http("GET", "/ex-b"))
    assert followed["statusCode"] == 301 and followed["headers"]["location"] == "https://example.com/a"
    assert unknown["statusCode"] == 404 and unknown["headers"]["content-type"] == "application/problem+json"
    [document] = deployed.invoke("portafunc_docs_files", _http("GET", "/docs/openapi.json"))
    assert sorted(json.loads(document["body"])["paths"]) == ["/links", "/{code}"]


def _manifests_against_s3(deployed: Deployed, boto: Any) -> None:
    from portafunc.events import ScheduleEvent, StorageEvent
    from portafunc_aws.codecs.schedule import encode_schedule
    from portafunc_aws.codecs.storage import encode_storage

    uploads = deployed.stack.physical["UploadsBucket"]["Ref"]
    manifests = deployed.stack.physical["ManifestsBucket"]["Ref"]
    boto.s3.put_object(Bucket=uploads, Key="in/report 1.csv", Body=b"a,b\n1,2\n", ContentType="text/csv")
    now = datetime.now(timezone.utc)
    deployed.invoke("write_manifest", encode_storage(StorageEvent(uploads, "in/report 1.csv", "created", 8, "e1",
                                                                  now, "evt-1")))
    manifest = json.loads(boto.s3.get_object(Bucket=manifests, Key="in/report 1.csv.json")["Body"].read())
    assert manifest["size"] == 8 and manifest["content_type"] == "text/csv"
    deployed.invoke("cleanup", encode_schedule(ScheduleEvent(now + timedelta(days=1), id="evt-2")))
    assert boto.s3.list_objects_v2(Bucket=manifests)["KeyCount"] == 1  # a day old: kept
    deployed.invoke("cleanup", encode_schedule(ScheduleEvent(now + timedelta(days=8), id="evt-3")))
    assert boto.s3.list_objects_v2(Bucket=manifests)["KeyCount"] == 0  # eight days old: deleted
