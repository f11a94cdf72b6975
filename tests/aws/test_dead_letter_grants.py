"""Every dead letter a function sends to is one its role may send to: a non-retryable message is moved by the
function itself (``SendMessage`` / ``Publish`` with its own credentials), so a destination without a grant would be
AccessDenied in the cloud and the message retried instead. Checked on the transformed template (the roles SAM
writes), which also lints clean."""

from __future__ import annotations

import fnmatch
import json
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable

import pytest

from portafunc import App, Message
from portafunc.config import load_config
from portafunc_aws.deploy.sam import build_template, check_deployment

from test_existing_queue_dead_letter import _transform

DLQ_ARN = "arn:aws:sqs:us-east-1:123456789012:ops-dead-letters"
DLQ_URL = "sqs.us-east-1.amazonaws.com/123456789012/ops-dead-letters"
TOPIC_ARN = "arn:aws:sns:us-east-1:123456789012:ops-alerts"
WORK_ARN = "arn:aws:sqs:us-east-1:123456789012:work"
EXISTING_DLQ = f'[existing.queue.failed]\naws = "sqs://{DLQ_ARN}"\n'
EXISTING_WORK = f'[existing.queue.work]\naws = "sqs://{WORK_ARN}"\n'


def _queue(dead_letter: str | None) -> Callable[[App], None]:
    def register(app: App) -> None:
        @app.queue("work", dead_letter=dead_letter)
        def handle(msg: Message) -> None: ...

    return register


def _topic(dead_letter: str | None) -> Callable[[App], None]:
    def register(app: App) -> None:
        @app.topic("events", dead_letter=dead_letter)
        def handle(msg: Message) -> None: ...

    return register


def _lint(tmp_path: Path, cfn: dict[str, Any]) -> None:
    path = tmp_path / "cfn.json"
    path.write_text(json.dumps(cfn))
    done = subprocess.run([str(Path(sys.executable).parent / "cfn-lint"), str(path)], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode & 2 == 0, done.stdout  # bit 2: an error
    # SQSPollerPolicy (SAM's own policy template) lists the batch actions, which IAM authorizes through the
    # non-batch ones; cfn-lint flags those names. Nothing else may be reported.
    rules = {line.split()[0] for line in done.stdout.splitlines() if line[:1] in "EWI" and line[1:5].isdigit()}
    assert rules <= {"W3037"}, done.stdout


def _cfn(tmp_path: Path, register: Callable[[App], None], config: str = "") -> dict[str, Any]:
    app = App("ops")
    register(app)
    (tmp_path / "portafunc.toml").write_text(config)
    model = app.resources(load_config(tmp_path))
    assert check_deployment(model) == []
    cfn = _transform(build_template(app, app_ref="main:app", code_uri="s3://artifacts/x.zip", python="3.12",
                                    arch="x86_64", deployment=model))
    _lint(tmp_path, cfn)
    return cfn


def _function(cfn: dict[str, Any], name: str) -> dict[str, Any]:
    (props,) = [r["Properties"] for r in cfn["Resources"].values() if r["Type"] == "AWS::Lambda::Function"
                and r["Properties"]["Environment"]["Variables"].get("PORTAFUNC_FUNCTION") == name]
    return props


def _resolved(value: Any, cfn: dict[str, Any]) -> list[str]:
    """The ARNs a policy's Resource names, the stack's own queues and topics as ``stack:<LogicalId>``."""
    if isinstance(value, list):
        return [arn for item in value for arn in _resolved(item, cfn)]
    if isinstance(value, str):
        return [value]
    if "Fn::GetAtt" in value:
        return [f"stack:{value['Fn::GetAtt'][0]}"]
    if "Ref" in value:
        return [f"stack:{value['Ref']}"]
    if "Fn::Sub" in value:  # SAM's policy templates: arn:...:${queueName} with the name a GetAtt
        text, names = value["Fn::Sub"] if isinstance(value["Fn::Sub"], list) else (value["Fn::Sub"], {})
        for key, ref in names.items():
            text = text.replace("${" + key + "}", _resolved(ref, cfn)[0])
        return [text]
    raise AssertionError(f"unexpected Resource {value!r}")


def allowed(cfn: dict[str, Any], function: str, action: str, arn: str) -> bool:
    """Whether the function's role has an Allow statement for ``action`` on ``arn`` (or, for the stack's own
    queues and topics, on ``stack:<LogicalId>``)."""
    role = _function(cfn, function)["Role"]["Fn::GetAtt"][0]
    for policy in cfn["Resources"][role]["Properties"].get("Policies", []):
        for st in policy["PolicyDocument"]["Statement"]:
            actions = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
            if st["Effect"] != "Allow" or not any(fnmatch.fnmatchcase(action, a) for a in actions):
                continue
            for resource in _resolved(st["Resource"], cfn):
                if resource == arn or (resource.startswith("arn:") and resource.endswith(arn.split(":", 1)[1])):
                    return True
                if arn.startswith("stack:") and resource.endswith("${" + arn[6:] + ".QueueName}"):
                    return True
    return False


@pytest.mark.parametrize("register, config, action, arn", [
    (_queue(f"sqs://{DLQ_ARN}"), "", "sqs:SendMessage", DLQ_ARN),
    (_queue(f"sqs://{DLQ_URL}"), "", "sqs:SendMessage", DLQ_ARN),
    (_queue(f"sns://{TOPIC_ARN}"), "", "sns:Publish", TOPIC_ARN),
    (_queue(f"sqs://{DLQ_ARN}"), EXISTING_WORK, "sqs:SendMessage", DLQ_ARN),
    (_queue("failed"), EXISTING_DLQ, "sqs:SendMessage", DLQ_ARN),
    (_queue("failed"), EXISTING_DLQ + EXISTING_WORK, "sqs:SendMessage", DLQ_ARN),
    (_topic(f"sqs://{DLQ_ARN}"), "", "sqs:SendMessage", DLQ_ARN),
    (_topic(f"sns://{TOPIC_ARN}"), "", "sns:Publish", TOPIC_ARN),
    (_topic("failed"), EXISTING_DLQ, "sqs:SendMessage", DLQ_ARN),
], ids=["queue-sqs-arn", "queue-sqs-url", "queue-sns-arn", "existing-queue-sqs-arn", "queue-existing-dlq",
        "existing-queue-existing-dlq", "topic-sqs-arn", "topic-sns-arn", "topic-existing-dlq"])
def test_the_declared_dead_letter_is_granted(tmp_path: Path, register: Callable[[App], None], config: str,
                                            action: str, arn: str) -> None:
    cfn = _cfn(tmp_path, register, config)
    assert allowed(cfn, "handle", action, arn)


@pytest.mark.parametrize("register, config, dlq", [
    (_queue(None), "", "WorkDeadLetterQueue"),
    (_queue(None), EXISTING_WORK, "WorkDeadLetterQueue"),
    (_queue("failed"), "", "FailedQueue"),
    (_topic(None), "", "HandleSubscriptionDeadLetterQueue"),
    (_topic("failed"), "", "FailedQueue"),
], ids=["queue", "existing-queue", "queue-declared", "topic", "topic-declared"])
def test_the_stacks_own_dead_letter_queue_is_granted(tmp_path: Path, register: Callable[[App], None], config: str,
                                                     dlq: str) -> None:
    cfn = _cfn(tmp_path, register, config)
    assert allowed(cfn, "handle", "sqs:SendMessage", f"stack:{dlq}")


@pytest.mark.parametrize("register", [_queue(f"sqs://{DLQ_ARN}"), _topic(f"sns://{TOPIC_ARN}")],
                         ids=["queue", "topic"])
def test_a_declared_url_is_the_only_dead_letter_the_function_sends_to(tmp_path: Path,
                                                                       register: Callable[[App], None]) -> None:
    """The runtime sends a non-retryable message to ``dead_letter=`` when it is set, never to the redrive queue the
    stack still creates: no binding nor grant for that one."""
    cfn = _cfn(tmp_path, register)
    variables = _function(cfn, "handle")["Environment"]["Variables"]
    assert "PORTAFUNC_DEADLETTER_HANDLE" not in variables
    redrive = "WorkDeadLetterQueue" if "WorkDeadLetterQueue" in cfn["Resources"] else \
        "HandleSubscriptionDeadLetterQueue"
    assert not allowed(cfn, "handle", "sqs:SendMessage", f"stack:{redrive}")


def test_a_dead_letter_url_aws_cannot_reach_is_refused(tmp_path: Path) -> None:
    from portafunc.errors import UnsupportedTrigger
    from portafunc.targets import get_target

    app = App("ops")
    _queue("azqueue://acct/failed?connection=CONN")(app)
    with pytest.raises(UnsupportedTrigger, match="sqs:// or sns://"):
        get_target("aws").native_trigger(app.function("handle"))
