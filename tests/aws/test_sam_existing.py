"""Resources the configuration names as already existing (``[existing.KIND.NAME] aws = URL``): bound to that URL and
granted on its ARN, never created; the template still transforms and lints clean."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from portafunc import App, HttpRequest, Message, publishes
from portafunc.config import ConfigError, load_config
from portafunc_aws.deploy.sam import build_template, check_deployment, to_yaml

TOPIC_ARN = "arn:aws:sns:eu-west-1:210987654321:partner-events"
QUEUE_URL = "sqs://sqs.eu-west-1.amazonaws.com/210987654321/inbox"
DLQ_ARN = "arn:aws:sqs:eu-west-1:210987654321:inbox-failed"
CONFIG = f"""
[existing.topic.partner-events]
aws = "sns://{TOPIC_ARN}"
[existing.queue.inbox]
aws = "{QUEUE_URL}"
[existing.queue.inbox-failed]
aws = "sqs://{DLQ_ARN}"
"""


def _app() -> App:
    app = App("partner")

    @app.http("POST", "/events", uses=[publishes("partner-events")])
    def forward(req: HttpRequest) -> str:
        return "ok"

    @app.queue("inbox", dead_letter="inbox-failed")
    def inbox(msg: Message) -> None: ...

    return app


def test_existing_resources_are_bound_and_granted_not_created(tmp_path: Path) -> None:
    (tmp_path / "portafunc.toml").write_text(CONFIG)
    app = _app()
    model = app.resources(load_config(tmp_path))
    assert check_deployment(model) == []
    template = build_template(app, app_ref="main:app", code_uri="s3://artifacts-bucket/x.zip", python="3.12", arch="x86_64",
                              deployment=model)
    resources = template["Resources"]
    assert not [lid for lid, r in resources.items() if r["Type"] in ("AWS::SNS::Topic", "AWS::SQS::Queue")]
    forward = resources["ForwardFunction"]["Properties"]
    assert forward["Environment"]["Variables"]["PORTAFUNC_TOPIC_PARTNER_EVENTS"] == f"sns://{TOPIC_ARN}"
    assert {"Effect": "Allow", "Action": ["sns:Publish"], "Resource": TOPIC_ARN} in \
        forward["Policies"][-1]["Statement"]
    inbox = resources["InboxFunction"]["Properties"]
    queue_arn = "arn:aws:sqs:eu-west-1:210987654321:inbox"
    assert resources["InboxEventSourceMapping"]["Properties"]["EventSourceArn"] == queue_arn
    statements = inbox["Policies"][-1]["Statement"]
    assert {s["Resource"] for s in statements} == {queue_arn, DLQ_ARN}
    assert inbox["Environment"]["Variables"]["PORTAFUNC_QUEUE_INBOX_FAILED"] == f"sqs://{DLQ_ARN}"

    from samtranslator.translator.transform import transform

    class Policies:
        def load(self) -> dict[str, str]:
            return {"AWSLambdaBasicExecutionRole": "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"}

    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    import yaml

    out = tmp_path / "cfn.json"
    out.write_text(json.dumps(transform(yaml.safe_load(to_yaml(template)), {}, Policies())))
    lint = subprocess.run([str(Path(sys.executable).parent / "cfn-lint"), str(out)], capture_output=True, text=True,
                          timeout=300)
    assert lint.returncode == 0, lint.stdout


def test_existing_entries_are_checked(tmp_path: Path) -> None:
    (tmp_path / "portafunc.toml").write_text('[existing.queue.nobody]\naws = "sqs://arn:aws:sqs:r:1:nobody"\n')
    with pytest.raises(ConfigError, match=r"\[existing.queue.nobody\] names no queue the app declares"):
        _app().resources(load_config(tmp_path))
    (tmp_path / "portafunc.toml").write_text('[existing.queue.inbox]\naws = "inbox"\n')
    with pytest.raises(ConfigError, match="binding URL"):
        load_config(tmp_path)
    (tmp_path / "portafunc.toml").write_text('[existing.queue.inbox]\naws = "sqs://localhost:4566/000/inbox"\n')
    problems = check_deployment(_app().resources(load_config(tmp_path)))
    assert any("give its ARN" in p for p in problems)
