"""A function consuming an existing queue (``[existing.queue.NAME] aws = URL``): the stack cannot set that queue's
redrive policy, so its non-retryable messages still go to a dead letter at once (a DLQ of the stack's, or the declared
``dead_letter=``), a message failing on its ``max_attempts``-th receive is moved there by the function itself, and
``inspect`` and ``package`` say so, and that the visibility timeout is the existing queue's own."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from portafunc import App, Message, NonRetryableError
from portafunc.config import load_config
from portafunc_aws import runtime
from portafunc_aws.deploy.sam import build_template, check_deployment, to_yaml

from cfn_emulation import Stack
from test_moto_e2e import event_source_mapping, receive_all
from cli_run import portafunc_cli
from portafunc_aws.codecs.queue import lambda_event_from_receive
from portafunc_aws.lambda_context import LambdaContext

INBOX_ARN = "arn:aws:sqs:us-east-1:123456789012:inbox"
CONFIG = f'[existing.queue.inbox]\naws = "sqs://{INBOX_ARN}"\n'
MAIN = """from portafunc import App, Message

app = App("consumer")


@app.queue("inbox"{options})
def handle(msg: Message) -> None:
    pass
"""


def _app(**options: Any) -> App:
    app = App("consumer")

    @app.queue("inbox", **options)
    def handle(msg: Message) -> None:
        raise NonRetryableError("never valid")

    return app


def _template(tmp_path: Path, app: App) -> dict[str, Any]:
    (tmp_path / "portafunc.toml").write_text(CONFIG)
    model = app.resources(load_config(tmp_path))
    assert check_deployment(model) == []
    return build_template(app, app_ref="main:app", code_uri="s3://artifacts/x.zip", python="3.12", arch="x86_64",
                          deployment=model)


def _transform(template: dict[str, Any]) -> dict[str, Any]:
    import yaml
    from samtranslator.translator.transform import transform

    class Policies:
        def load(self) -> dict[str, str]:
            return {"AWSLambdaBasicExecutionRole": "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"}

    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    out: dict[str, Any] = transform(yaml.safe_load(to_yaml(template)), {}, Policies())
    return out


def _lint(tmp_path: Path, cfn: dict[str, Any]) -> None:
    path = tmp_path / "cfn.json"
    path.write_text(json.dumps(cfn))
    lint = subprocess.run([str(Path(sys.executable).parent / "cfn-lint"), str(path)], capture_output=True,
                          text=True, timeout=300)
    assert lint.returncode == 0, lint.stdout


def test_the_consumer_of_an_existing_queue_gets_a_dead_letter_queue_for_non_retryable_messages(
        tmp_path: Path) -> None:
    template = _template(tmp_path, _app())
    resources = template["Resources"]
    queues = {lid: r for lid, r in resources.items() if r["Type"] == "AWS::SQS::Queue"}
    assert list(queues) == ["InboxDeadLetterQueue"]  # the existing queue is not created, nor redriven
    assert "RedrivePolicy" not in json.dumps(resources)
    handle = resources["HandleFunction"]["Properties"]
    assert handle["Environment"]["Variables"]["PORTAFUNC_DEADLETTER_HANDLE"] == {
        "Fn::Sub": "sqs://${InboxDeadLetterQueue.Arn}"}
    assert {"SQSSendMessagePolicy": {"QueueName": {"Fn::GetAtt": ["InboxDeadLetterQueue", "QueueName"]}}} in \
        handle["Policies"]
    assert resources["HandleEventSourceMapping"]["Properties"]["EventSourceArn"] == INBOX_ARN
    _lint(tmp_path, _transform(template))


def test_an_existing_fifo_queue_gets_a_fifo_dead_letter_queue(tmp_path: Path) -> None:
    (tmp_path / "portafunc.toml").write_text(f'[existing.queue.inbox]\naws = "sqs://{INBOX_ARN}.fifo"\n')
    app = _app(ordered=True)
    template = build_template(app, app_ref="main:app", code_uri="s3://artifacts/x.zip", python="3.12",
                              arch="x86_64", deployment=app.resources(load_config(tmp_path)))
    assert template["Resources"]["InboxDeadLetterQueue"]["Properties"]["FifoQueue"] is True


def test_a_declared_dead_letter_takes_the_non_retryable_messages_of_an_existing_queue(tmp_path: Path) -> None:
    template = _template(tmp_path, _app(dead_letter="inbox-failed"))
    resources = template["Resources"]
    assert [lid for lid, r in resources.items() if r["Type"] == "AWS::SQS::Queue"] == ["InboxFailedQueue"]
    variables = resources["HandleFunction"]["Properties"]["Environment"]["Variables"]
    # dead_letter= is what the runtime reads first: its binding is set, no PORTAFUNC_DEADLETTER_ variable is needed
    assert variables["PORTAFUNC_QUEUE_INBOX_FAILED"] == {"Fn::Sub": "sqs://${InboxFailedQueue.Arn}"}
    assert "PORTAFUNC_DEADLETTER_HANDLE" not in variables
    _lint(tmp_path, _transform(template))


@pytest.mark.emulator
def test_a_non_retryable_message_of_an_existing_queue_is_moved_at_once(boto: Any, tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    url, arn = boto.queue("inbox", VisibilityTimeout="1")  # the existing queue: no redrive policy of its own
    assert arn == INBOX_ARN
    app = _app()
    stack = Stack(_transform(_template(tmp_path, app))["Resources"], boto).deploy()
    for key, value in stack.function_environment("HandleFunction").items():
        monkeypatch.setenv(key, value)
    sent = boto.sqs.send_message(QueueUrl=url, MessageBody='{"n": 1}')["MessageId"]
    handler = runtime.bind(app, "handle")

    assert event_source_mapping(boto, handler, url, arn, receive_all(boto, url, 1)) == []
    assert receive_all(boto, url, 1, timeout=2.5) == []
    dead = receive_all(boto, stack.physical["InboxDeadLetterQueue"]["QueueUrl"], 1)
    assert [m["MessageAttributes"]["portafunc_original_id"]["StringValue"] for m in dead] == [sent]


def _project(tmp_path: Path, options: str = "") -> Path:
    (tmp_path / "main.py").write_text(MAIN.format(options=options))
    (tmp_path / "portafunc.toml").write_text(CONFIG)
    return tmp_path


def test_inspect_says_the_existing_queue_decides_the_retries(tmp_path: Path) -> None:
    out = portafunc_cli("inspect", str(_project(tmp_path)), "--target", "aws")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "redrive to DLQ after 5 receives" not in out.stdout
    assert ("existing queue inbox at sqs://" + INBOX_ARN + ", batch 10, ReportBatchItemFailures, the function "
            "moves a message failing on receive 5 (max_attempts) to InboxDeadLetterQueue (the queue's own redrive "
            "policy may move it sooner), visibility timeout is the queue's own (visibility_timeout=30s is not "
            "applied), non-retryable messages to InboxDeadLetterQueue at once") in out.stdout
    assert "then dead-lettered (on aws, where the queue already exists: see that target)" in out.stdout
    assert ("\naws differs: handle: queue inbox already exists, so the stack cannot set its redrive policy or "
            "visibility timeout: the function itself moves a message failing on receive 5 (max_attempts=5) to "
            "InboxDeadLetterQueue, unless the queue's own redrive policy moves it sooner") in out.stdout
    assert "must be at least the function's timeout (30 s) or Lambda refuses the event source mapping" in out.stdout
    assert "A non-retryable message goes to InboxDeadLetterQueue at once" in out.stdout


def test_inspect_names_the_declared_dead_letter(tmp_path: Path) -> None:
    out = portafunc_cli("inspect", str(_project(tmp_path, ', dead_letter="inbox-failed"')), "--target", "aws", "--json")
    doc = json.loads(out.stdout)
    (warning,) = doc["targets"]["aws"]["warnings"]
    assert warning.endswith("A non-retryable message goes to queue inbox-failed at once")
    (row,) = doc["functions"]
    assert "non-retryable messages to queue inbox-failed at once" in row["targets"]["aws"]["native"]


def test_package_warns_after_the_build(tmp_path: Path) -> None:
    out = portafunc_cli("package", "--target", "aws", "--python", f"{sys.version_info.major}.{sys.version_info.minor}",
               "--out", str(tmp_path.parent / f"{tmp_path.name}-dist"), str(_project(tmp_path)))
    assert out.returncode == 0, out.stderr
    assert "is not applied), non-retryable messages to InboxDeadLetterQueue at once" in out.stdout
    assert out.stderr.rstrip().splitlines()[-1].startswith(
        "portafunc: warning: aws differs: handle: queue inbox already exists, so the stack cannot set its redrive "
        "policy or visibility timeout: the function itself moves a message failing on receive 5")


def _failing_app(max_attempts: int, **options: Any) -> tuple[App, list[int]]:
    app = App("consumer")
    attempts: list[int] = []

    @app.queue("inbox", max_attempts=max_attempts, **options)
    def handle(msg: Message) -> None:
        attempts.append(msg.delivery_attempt)
        raise RuntimeError("downstream is down")

    return app, attempts


def test_the_consumer_of_an_existing_queue_is_told_its_max_attempts(tmp_path: Path) -> None:
    """The stack cannot set the existing queue's redrive policy, so the function dead-letters a message itself on its
    max_attempts-th failed receive: the template tells it the count."""
    app, _ = _failing_app(3)
    variables = _template(tmp_path, app)["Resources"]["HandleFunction"]["Properties"]["Environment"]["Variables"]
    assert variables["PORTAFUNC_MAX_ATTEMPTS_HANDLE"] == "3"
    (tmp_path / "portafunc.toml").write_text("")
    own = build_template(app, app_ref="main:app", code_uri="s3://artifacts/x.zip", python="3.12", arch="x86_64",
                         deployment=app.resources(load_config(tmp_path)))
    # a queue of the stack's own: its redrive policy does it
    assert "PORTAFUNC_MAX_ATTEMPTS_HANDLE" not in own["Resources"]["HandleFunction"]["Properties"][
        "Environment"]["Variables"]


@pytest.mark.emulator
@pytest.mark.parametrize("options", [{}, {"dead_letter": "inbox-failed"}], ids=["own-dlq", "declared"])
def test_a_failing_message_of_an_existing_queue_is_dead_lettered_after_max_attempts(
        boto: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, options: dict[str, Any]) -> None:
    url, arn = boto.queue("inbox", VisibilityTimeout="1")  # the existing queue: no redrive policy of its own
    app, attempts = _failing_app(3, **options)
    stack = Stack(_transform(_template(tmp_path, app))["Resources"], boto).deploy()
    for key, value in stack.function_environment("HandleFunction").items():
        monkeypatch.setenv(key, value)
    sent = boto.sqs.send_message(QueueUrl=url, MessageBody='{"n": 1}',
                                 MessageAttributes={"shop": {"DataType": "String", "StringValue": "acme"}})
    handler = runtime.bind(app, "handle")

    for attempt in (1, 2):
        assert event_source_mapping(boto, handler, url, arn, receive_all(boto, url, 1, timeout=5)) == \
            [sent["MessageId"]], attempt  # retried: reported failed
    assert event_source_mapping(boto, handler, url, arn, receive_all(boto, url, 1, timeout=5)) == []  # moved
    assert attempts == [1, 2, 3]
    assert receive_all(boto, url, 1, timeout=2.5) == []  # not retried again
    dlq = "InboxFailedQueue" if options else "InboxDeadLetterQueue"
    (dead,) = receive_all(boto, stack.physical[dlq]["QueueUrl"], 1)
    assert dead["Body"] == '{"n": 1}'
    attributes = {k: v["StringValue"] for k, v in dead["MessageAttributes"].items()}
    assert attributes["shop"] == "acme"
    assert attributes["portafunc_original_id"] == sent["MessageId"]
    assert attributes["portafunc_attempts"] == "3"
    assert attributes["portafunc_error"].startswith("RuntimeError: downstream is down")


@pytest.mark.emulator
def test_a_failing_message_stays_on_its_queue_when_the_dead_letter_refuses_it(
        boto: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url, arn = boto.queue("inbox", VisibilityTimeout="1")
    app, attempts = _failing_app(1)
    monkeypatch.setenv("PORTAFUNC_MAX_ATTEMPTS_HANDLE", "1")
    monkeypatch.setenv("PORTAFUNC_DEADLETTER_HANDLE", "sqs://arn:aws:sqs:us-east-1:123456789012:no-such-queue")
    sent = boto.sqs.send_message(QueueUrl=url, MessageBody="x")["MessageId"]
    handler = runtime.bind(app, "handle")
    assert event_source_mapping(boto, handler, url, arn, receive_all(boto, url, 1)) == [sent]  # never lost
    assert attempts == [1]


# -- FIFO: a dead letter keeps the message's group, and a second move of one message is deduplicated ----------------

FIFO_DLQ_ARN = "arn:aws:sqs:us-east-1:123456789012:inbox-failed.fifo"


def _fifo_app(**options: Any) -> tuple[App, list[int]]:
    app = App("consumer")
    attempts: list[int] = []

    @app.queue("inbox", ordered=True, **options)
    def handle(msg: Message) -> None:
        attempts.append(msg.delivery_attempt)
        if msg.data == b'{"n": 1}':
            raise NonRetryableError("never valid")
        raise RuntimeError("downstream is down")

    return app, attempts


def _fifo_send(boto: Any, url: str, body: str, group: str) -> str:
    return str(boto.sqs.send_message(QueueUrl=url, MessageBody=body, MessageGroupId=group,
                                     MessageDeduplicationId=f"{group}-{body}",
                                     MessageAttributes={"shop": {"DataType": "String", "StringValue": group}}
                                     )["MessageId"])


def _dead_letters(boto: Any, url: str, expect: int) -> list[dict[str, Any]]:
    got = receive_all(boto, url, expect + 1, timeout=3)  # one more than expected: a duplicate would show
    assert len(got) == expect, got
    return got


@pytest.mark.emulator
def test_a_non_retryable_message_of_a_fifo_queue_goes_to_an_existing_fifo_dead_letter_in_its_group(
        boto: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``dead_letter=`` naming an existing FIFO queue (``[existing.queue.inbox-failed] aws = "sqs://arn:….fifo"``):
    SQS takes a message there only with a MessageGroupId and, the queue having no content-based deduplication, a
    MessageDeduplicationId. The dead letter keeps the message's group (as SQS's own redrive does), and its
    deduplication id is the message's id, so a message handed over again (Lambda retries a batch whose answer was
    lost) is not dead-lettered twice."""
    dlq_url, dlq_arn = boto.queue("inbox-failed.fifo", FifoQueue="true")
    assert dlq_arn == FIFO_DLQ_ARN
    (tmp_path / "portafunc.toml").write_text(f'[existing.queue.inbox-failed]\naws = "sqs://{FIFO_DLQ_ARN}"\n')
    app, attempts = _fifo_app(dead_letter="inbox-failed")
    model = app.resources(load_config(tmp_path))
    assert check_deployment(model) == []
    template = build_template(app, app_ref="main:app", code_uri="s3://artifacts/x.zip", python="3.12",
                              arch="x86_64", deployment=model)
    assert template["Resources"]["InboxQueue"]["Properties"]["RedrivePolicy"]["deadLetterTargetArn"] == FIFO_DLQ_ARN
    stack = Stack(_transform(template)["Resources"], boto).deploy()
    for key, value in stack.function_environment("HandleFunction").items():
        monkeypatch.setenv(key, value)
    inbox = stack.physical["InboxQueue"]
    assert inbox["QueueName"].endswith(".fifo")
    sent = _fifo_send(boto, inbox["QueueUrl"], '{"n": 1}', "shop-7")
    handler = runtime.bind(app, "handle")

    (received,) = receive_all(boto, inbox["QueueUrl"], 1)
    assert handler(lambda_event_from_receive([received], inbox["Arn"]), LambdaContext()) == {"batchItemFailures": []}
    # the answer was lost: Lambda hands the same message over again
    assert handler(lambda_event_from_receive([received], inbox["Arn"]), LambdaContext()) == {"batchItemFailures": []}
    assert attempts == [1, 1]
    (dead,) = _dead_letters(boto, dlq_url, 1)
    assert dead["Body"] == '{"n": 1}'
    assert dead["Attributes"]["MessageGroupId"] == "shop-7"
    assert dead["Attributes"]["MessageDeduplicationId"] == sent
    attributes = {k: v["StringValue"] for k, v in dead["MessageAttributes"].items()}
    assert attributes["shop"] == "shop-7"
    assert attributes["portafunc_original_id"] == sent
    assert attributes["portafunc_error"].startswith("NonRetryableError: never valid")


@pytest.mark.emulator
def test_a_message_of_an_existing_fifo_queue_failing_on_its_last_attempt_goes_to_the_fifo_dead_letter_in_its_group(
        boto: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An existing FIFO queue, no ``dead_letter=``: the stack's own FIFO ``InboxDeadLetterQueue`` takes the
    non-retryable message at once and the one failing on its ``max_attempts``-th receive (moved by the function),
    each in its own group."""
    url, arn = boto.queue("inbox.fifo", FifoQueue="true", VisibilityTimeout="1")
    (tmp_path / "portafunc.toml").write_text(f'[existing.queue.inbox]\naws = "sqs://{arn}"\n')
    app, attempts = _fifo_app(max_attempts=2)
    model = app.resources(load_config(tmp_path))
    template = build_template(app, app_ref="main:app", code_uri="s3://artifacts/x.zip", python="3.12",
                              arch="x86_64", deployment=model)
    stack = Stack(_transform(template)["Resources"], boto).deploy()
    for key, value in stack.function_environment("HandleFunction").items():
        monkeypatch.setenv(key, value)
    rejected = _fifo_send(boto, url, '{"n": 1}', "shop-1")
    failing = _fifo_send(boto, url, '{"n": 2}', "shop-2")
    handler = runtime.bind(app, "handle")

    first = {m["MessageId"]: m for m in receive_all(boto, url, 2)}
    assert set(first) == {rejected, failing}
    assert event_source_mapping(boto, handler, url, arn, list(first.values())) == [failing]  # retried
    assert event_source_mapping(boto, handler, url, arn, receive_all(boto, url, 1, timeout=5)) == []  # moved
    assert attempts == [1, 1, 2]
    dead = {m["Attributes"]["MessageGroupId"]: m for m in _dead_letters(
        boto, stack.physical["InboxDeadLetterQueue"]["QueueUrl"], 2)}
    assert set(dead) == {"shop-1", "shop-2"}
    assert dead["shop-1"]["Attributes"]["MessageDeduplicationId"] == rejected
    assert dead["shop-2"]["Attributes"]["MessageDeduplicationId"] == failing
    assert dead["shop-2"]["MessageAttributes"]["portafunc_attempts"]["StringValue"] == "2"
