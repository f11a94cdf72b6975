"""Deploy check of the awkward app (tests/apps/awkward) on AWS, with AWS's own tools and the real runtime client.

The SAM template is transformed by the real ``aws-sam-translator`` and the result linted by ``cfn-lint``: no error,
no reference to a resource that does not exist. Its data plane is then created in moto server by a small
CloudFormation stand-in (tests/aws/cfn_emulation.py: queues with their redrive policies, topics and subscriptions,
tables, buckets, dynamic references to Secrets Manager / SSM), and the zip is booted under the real Lambda runtime
interface client (``awslambdaric``) against a local Runtime API, one function per process with exactly the
environment the template gives it, driving one event per trigger. Not checked without an account: IAM evaluation
and the Lambda/API Gateway services themselves (the transform and cfn-lint check their configuration).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

from cfn_emulation import Stack, references
from lambda_runtime_api import function_environment, invoke_under_runtime, runtime_venv

REPO = Path(__file__).resolve().parents[2]
AWKWARD = REPO / "tests" / "apps" / "awkward"
PY = f"{sys.version_info.major}.{sys.version_info.minor}"
sys.path.insert(0, str(REPO / "tests" / "apps"))
from loading import load_test_app  # noqa: E402


def package(out: Path, stage: str, project: Path = AWKWARD) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "portafunc.cli", "package", "--target", "aws", "--python", PY,
                           "--stage", stage, "--out", str(out), str(project)], capture_output=True, text=True,
                          timeout=900, cwd=REPO)


def transform(template_path: Path) -> dict[str, Any]:
    """What ``sam deploy`` does before CloudFormation: upload the zip (CodeUri → s3://), then the SAM transform."""
    import yaml
    from samtranslator.translator.transform import transform as sam_transform

    class NoManagedPolicies:
        """The transform asks IAM for managed policy ARNs only when a template names one; none may be needed
        except the basic execution role every function gets."""

        def load(self) -> dict[str, str]:
            return {"AWSLambdaBasicExecutionRole":
                    "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"}

    template = yaml.safe_load(template_path.read_text())
    template["Globals"]["Function"]["CodeUri"] = "s3://artifacts/awkward.zip"
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    return sam_transform(template, {}, NoManagedPolicies())


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("awkward")
    done = package(out / "prod", "prod")
    assert done.returncode == 0, done.stderr
    dev = package(out / "dev", "dev")
    assert dev.returncode == 0, dev.stderr
    prod_dir = out / "prod" / "aws"
    cfn = transform(prod_dir / "template.yaml")
    cfn_path = out / "transformed.json"
    cfn_path.write_text(json.dumps(cfn, indent=1))
    return {"zip": next(prod_dir.glob("*.zip")), "template": prod_dir / "template.yaml", "cfn": cfn,
            "cfn_path": cfn_path, "dev": transform(out / "dev" / "aws" / "template.yaml")}


def _functions(cfn: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """{portafunc function name (or "" for the router): its AWS::Lambda::Function properties}."""
    out = {}
    for res in cfn["Resources"].values():
        if res["Type"] == "AWS::Lambda::Function":
            variables = res["Properties"]["Environment"]["Variables"]
            out[variables.get("PORTAFUNC_FUNCTION", "")] = res["Properties"]
    return out


def test_transformed_template_has_no_lint_error_and_no_dangling_reference(built):
    done = subprocess.run([str(Path(sys.executable).parent / "cfn-lint"), str(built["cfn_path"])],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode & 2 == 0, done.stdout  # bit 2: an error
    rules = {line.split()[0] for line in done.stdout.splitlines() if line[:1] in "EWI" and line[1:5].isdigit()}
    # SQSPollerPolicy (SAM's own policy template) lists the batch actions, which IAM authorizes through the
    # non-batch ones; cfn-lint flags those two names. Nothing else may be reported.
    assert rules <= {"W3037"}, done.stdout
    resources = built["cfn"]["Resources"]
    dangling = {(lid, ref) for lid, res in resources.items() for ref in references(res) if ref not in resources}
    assert dangling == set()
    untransformed = subprocess.run([str(Path(sys.executable).parent / "cfn-lint"), str(built["template"])],
                                   capture_output=True, text=True, timeout=300)
    assert untransformed.returncode == 0, untransformed.stdout


def test_every_binding_of_every_function_is_in_its_environment(built):
    from portafunc.config import load_config

    model = load_test_app("awkward").resources(load_config(AWKWARD, "prod"))
    functions = _functions(built["cfn"])
    assert set(functions) == set(model.functions) | {""}  # "" is the router of unmatched requests
    for name, fn in model.functions.items():
        variables = functions[name]["Environment"]["Variables"]
        assert set(fn.bindings()) <= set(variables), name
    create = functions["create_order"]["Environment"]["Variables"]
    assert create["PORTAFUNC_TOPIC_ORDER_EVENTS"] == {"Fn::Sub": "sns://${OrderEventsTopic}"}  # the helper's publish
    assert "PORTAFUNC_QUEUE_WORK" not in functions["health"]["Environment"]["Variables"]  # only what it declares


def test_pollers_are_scoped_to_their_own_queue(built):
    resources = built["cfn"]["Resources"]
    text = json.dumps(resources)
    assert "AWSLambdaSQSQueueExecutionRole" not in text
    mappings = {res["Properties"]["FunctionName"]["Ref"]: res["Properties"]["EventSourceArn"]["Fn::GetAtt"][0]
                for res in resources.values() if res["Type"] == "AWS::Lambda::EventSourceMapping"}
    assert mappings == {"ProcessWorkFunction": "WorkQueue", "AuditFunction": "AuditSubscriptionQueue"}
    for function, queue in mappings.items():
        statements = [s for p in resources[f"{function}Role"]["Properties"]["Policies"]
                      for s in p["PolicyDocument"]["Statement"] if "sqs:ReceiveMessage" in s["Action"]]
        assert len(statements) == 1
        assert statements[0]["Resource"]["Fn::Sub"][1]["queueName"] == {"Fn::GetAtt": [queue, "QueueName"]}
        assert "*" not in json.dumps(statements[0]["Resource"])


def test_declared_dead_letter_queue_is_created_and_is_the_redrive_target(built):
    resources = built["cfn"]["Resources"]
    assert resources["WorkFailedQueue"]["Type"] == "AWS::SQS::Queue"
    redrive = resources["WorkQueue"]["Properties"]["RedrivePolicy"]
    assert redrive == {"deadLetterTargetArn": {"Fn::GetAtt": ["WorkFailedQueue", "Arn"]}, "maxReceiveCount": 5}
    assert resources["WorkQueue"]["Properties"]["VisibilityTimeout"] == 180
    env = _functions(built["cfn"])["process_work"]["Environment"]["Variables"]
    assert env["PORTAFUNC_QUEUE_WORK_FAILED"] == {"Fn::Sub": "sqs://${WorkFailedQueue.Arn}"}


def test_without_a_declared_dead_letter_a_non_retryable_message_is_moved_to_the_redrive_queue_at_once(built):
    """The same semantics as the GCP and Azure deployments: the function is bound to its own redrive queue as its
    dead letter and may send there, so a NonRetryableError is not retried max_attempts times first."""
    resources = built["cfn"]["Resources"]
    audit = _functions(built["cfn"])["audit"]
    assert audit["Environment"]["Variables"]["PORTAFUNC_DEADLETTER_AUDIT"] == {
        "Fn::Sub": "sqs://${AuditSubscriptionDeadLetterQueue.Arn}"}
    redrive = resources["AuditSubscriptionQueue"]["Properties"]["RedrivePolicy"]
    assert redrive["deadLetterTargetArn"] == {"Fn::GetAtt": ["AuditSubscriptionDeadLetterQueue", "Arn"]}
    sends = [s for p in resources["AuditFunctionRole"]["Properties"]["Policies"]
             for s in p["PolicyDocument"]["Statement"] if "sqs:SendMessage*" in s["Action"]]
    assert [s["Resource"]["Fn::Sub"][1]["queueName"] for s in sends] == [
        {"Fn::GetAtt": ["AuditSubscriptionDeadLetterQueue", "QueueName"]}]
    # a declared dead letter stays the only one: no second binding for process_work
    work = _functions(built["cfn"])["process_work"]["Environment"]["Variables"]
    assert "PORTAFUNC_DEADLETTER_PROCESS_WORK" not in work


def test_idempotency_store_is_provisioned_with_ttl_and_least_privilege(built):
    resources = built["cfn"]["Resources"]
    table = resources["IdempotencyTable"]["Properties"]
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expiration", "Enabled": True}
    assert table["KeySchema"] == [{"AttributeName": "id", "KeyType": "HASH"}]
    functions = _functions(built["cfn"])
    for name in ("create_order", "process_work"):
        assert functions[name]["Environment"]["Variables"]["PORTAFUNC_IDEMPOTENCY_STORE"] == {
            "Fn::Sub": "dynamodb://${IdempotencyTable}"}
    users = sorted(lid for lid, res in resources.items() if res["Type"] == "AWS::IAM::Role"
                   and "IdempotencyTable" in json.dumps(res))
    assert users == ["CreateOrderFunctionRole", "ProcessWorkFunctionRole"]
    actions = {a for p in resources["CreateOrderFunctionRole"]["Properties"]["Policies"]
               for s in p["PolicyDocument"]["Statement"] if "IdempotencyTable" in json.dumps(s) for a in s["Action"]}
    assert actions == {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem"}


def test_settings_secrets_and_stages(built):
    prod, dev = _functions(built["cfn"]), _functions(built["dev"])
    assert (prod["process_work"]["MemorySize"], prod["process_work"]["Timeout"]) == (2048, 120)
    assert (dev["process_work"]["MemorySize"], dev["process_work"]["Timeout"]) == (1024, 120)
    assert (prod["health"]["MemorySize"], prod["health"]["Timeout"]) == (512, 20)
    assert (dev["health"]["MemorySize"], dev["create_order"]["Timeout"]) == (256, 10)
    assert prod["process_work"]["ReservedConcurrentExecutions"] == 20
    assert "ReservedConcurrentExecutions" not in dev["process_work"]
    env = prod["create_order"]["Environment"]["Variables"]
    assert env["PAYMENT_API_KEY"] == "{{resolve:secretsmanager:awkward/payment-api-key}}"
    assert env["DB_PASSWORD"] == "{{resolve:ssm:/awkward/db-password}}"
    assert (env["LOG_LEVEL"], env["PORTAFUNC_STAGE"]) == ("WARNING", "prod")
    assert dev["create_order"]["Environment"]["Variables"]["LOG_LEVEL"] == "DEBUG"
    tags = {t["Key"]: t["Value"] for t in prod["process_work"]["Tags"]}
    assert tags["portafunc:stage"] == "prod" and tags["team"] == "orders"


def test_get_routes_answer_head_and_unmatched_requests_reach_the_router(built):
    api = next(r for r in built["cfn"]["Resources"].values() if r["Type"] == "AWS::ApiGatewayV2::Api")
    paths = api["Properties"]["Body"]["paths"]
    assert set(paths["/health"]) == {"get", "head"}
    assert set(paths["/orders"]) == {"post"}
    assert "$default" in paths


def test_the_zip_keeps_local_secrets_files_out(built):
    names = zipfile.ZipFile(built["zip"]).namelist()
    assert "main.py" in names and "notifications.py" in names
    assert not [n for n in names if n.endswith(("local.settings.json", ".env"))]


@pytest.mark.parametrize(("source", "message"), [
    ("@app.http('GET', '/a')\ndef get_order(req): pass\n@app.http('GET', '/b')\ndef getOrder(req): pass\n",
     "aws: functions 'get_order' and 'getOrder' both become 'GetOrderFunction'; rename one of them"),
    ("from portafunc import publishes\n@app.http('GET', '/a', uses=[publishes('order-events'), "
     "publishes('order.events')])\ndef a(req): pass\n",
     "topics 'order-events' and 'order.events' would share one binding"),
])
def test_names_that_collide_after_mangling_are_refused(tmp_path, source, message):
    (tmp_path / "main.py").write_text("from portafunc import App\napp = App('clash')\n" + source)
    done = subprocess.run(
        [sys.executable, "-m", "portafunc.cli", "package", "--target", "aws", "--out", str(tmp_path / "dist"),
         str(tmp_path)], capture_output=True, text=True, timeout=300, cwd=REPO)
    assert done.returncode == 2 and message in done.stderr, done.stderr
    assert done.stderr.count("become") <= 1, done.stderr  # one collision, said once
    assert not (tmp_path / "dist").exists()


# -- the zip under the real runtime client, against moto ---------------------------------------------------------

@pytest.fixture(scope="module")
def lambda_python(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A fresh venv with what the Lambda Python runtime has: awslambdaric and boto3 (nothing of this repository)."""
    return runtime_venv(tmp_path_factory.mktemp("ric-venv"), boto3=True)


class Deployed:
    """The awkward app's functions, each booted on demand under awslambdaric with its template environment."""

    def __init__(self, lambda_python: str, task_root: Path, stack: Stack, endpoint: str) -> None:
        self.lambda_python = lambda_python
        self.task_root = task_root
        self.stack = stack
        self.endpoint = endpoint
        self.by_function = {res["Properties"]["Environment"]["Variables"].get("PORTAFUNC_FUNCTION", ""): lid
                            for lid, res in stack.resources.items() if res["Type"] == "AWS::Lambda::Function"}

    def invoke(self, function: str, *events: Any) -> list[tuple[str, Any]]:
        env = function_environment(self.task_root, f"awkward-{function or 'router'}", self.endpoint,
                                   self.stack.function_environment(self.by_function[function]))
        answers, output = invoke_under_runtime(self.lambda_python, self.task_root, env, events)
        assert "Traceback" not in output, output
        return answers


@pytest.fixture
def deployed(built, lambda_python, boto, aws, tmp_path) -> Deployed:
    import boto3

    boto.secrets = boto3.client("secretsmanager", region_name="us-east-1")
    boto.ssm = boto3.client("ssm", region_name="us-east-1")
    boto.secrets.create_secret(Name="awkward/payment-api-key", SecretString="pay-123")
    boto.ssm.put_parameter(Name="/awkward/db-password", Value="db-456", Type="String")
    stack = Stack(built["cfn"]["Resources"], boto).deploy()
    task_root = tmp_path / "task"
    zipfile.ZipFile(built["zip"]).extractall(task_root)
    return Deployed(lambda_python, task_root, stack, aws)


def _http(method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None) -> dict[str, Any]:
    from portafunc.events import HttpRequest
    from portafunc_aws.codecs.http import encode_request

    return encode_request(HttpRequest(method, path, headers=headers or {}, body=body), "apigw-v2")


def _receive_all(boto: Any, url: str) -> list[dict[str, Any]]:
    return boto.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]).get(
        "Messages", [])


def test_one_event_per_trigger_through_awslambdaric_against_moto(deployed, boto):
    from datetime import datetime, timezone

    from portafunc.events import Message, ScheduleEvent, StorageEvent
    from portafunc_aws.codecs.queue import encode_messages
    from portafunc_aws.codecs.schedule import encode_schedule
    from portafunc_aws.codecs.storage import encode_storage

    physical = deployed.stack.physical
    order = b'{"id": "o-1", "total": 3.5}'
    headers = {"content-type": "application/json", "idempotency-key": "k-1"}
    [(kind, first), (_, replay)] = deployed.invoke("create_order", _http("POST", "/orders", order, headers),
                                                   _http("POST", "/orders", order, headers))
    assert kind == "response" and first["statusCode"] == 201, first
    assert replay["statusCode"] == 201 and json.loads(replay["body"]) == {"id": "o-1"}
    [sent] = _receive_all(boto, physical["WorkQueue"]["Ref"])  # once: the retry was a replay
    assert json.loads(sent["Body"]) == {"id": "o-1", "total": 3.5}
    [published] = _receive_all(boto, physical["AuditSubscriptionQueue"]["Ref"])  # published by the helper module
    envelope = json.loads(published["Body"])
    assert json.loads(envelope["Message"]) == {"id": "o-1"}
    import boto3

    records = boto3.client("dynamodb", region_name="us-east-1").scan(TableName="IdempotencyTable")["Items"]
    assert len(records) == 1 and records[0]["status"]["S"] == "completed"

    [(_, health), (_, head)] = deployed.invoke("health", _http("GET", "/health"), _http("HEAD", "/health"))
    assert json.loads(health["body"]) == {"ok": True, "secret_set": True, "stage": "prod"}
    assert head["statusCode"] == 200 and not head.get("body")

    [(_, wrong_method), (_, unknown)] = deployed.invoke("", _http("PATCH", "/health"), _http("GET", "/nope"))
    assert wrong_method["statusCode"] == 405 and "GET" in wrong_method["headers"]["allow"]
    assert unknown["statusCode"] == 404
    assert wrong_method["headers"]["content-type"] == unknown["headers"]["content-type"] == \
        "application/problem+json"

    batch = encode_messages([Message(id="m-bad", data=b'{"id": "o-2", "total": -1}'),
                             Message(id="m-ok", data=b'{"id": "o-3", "total": 1}')], "sqs")
    [(_, answer)] = deployed.invoke("process_work", batch)
    assert answer == {"batchItemFailures": []}  # the bad one was moved to the dead-letter queue, not retried
    [dead] = _receive_all(boto, physical["WorkFailedQueue"]["Ref"])
    assert json.loads(dead["Body"]) == {"id": "o-2", "total": -1}
    assert dead["MessageAttributes"]["portafunc_error"]["StringValue"].startswith("NonRetryableError")

    audit_event = {"Records": [{
        "messageId": published["MessageId"], "receiptHandle": published["ReceiptHandle"], "body": published["Body"],
        "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1700000000000",
                       "SenderId": "AIDAEXAMPLE", "ApproximateFirstReceiveTimestamp": "1700000000000"},
        "messageAttributes": {}, "md5OfBody": "", "eventSource": "aws:sqs",
        "eventSourceARN": physical["AuditSubscriptionQueue"]["Arn"], "awsRegion": "us-east-1"}]}
    [(_, audited)] = deployed.invoke("audit", audit_event)
    assert audited == {"batchItemFailures": []}

    now = datetime(2026, 1, 1, 3, 0, tzinfo=timezone.utc)
    [(kind, _)] = deployed.invoke("nightly_report", encode_schedule(ScheduleEvent(now, id="evt-1")))
    assert kind == "response"
    bucket = physical["UploadsBucket"]["Ref"]
    [(kind, _)] = deployed.invoke("on_upload", encode_storage(StorageEvent(bucket, "in/a.txt", "created", 3,
                                                                           "etag", now, "evt-2")))
    assert kind == "response"
