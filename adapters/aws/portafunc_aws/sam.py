"""The SAM ``template.yaml`` for an App: one function per portafunc function, all on ``portafunc_aws.entry.handler``.

Resources follow the trigger table in docs/aws.md: HTTP API routes; an SQS queue per logical queue with a dead-letter
queue after ``max_attempts`` receives; per topic subscriber an SQS subscription queue (again with a DLQ) fed by the SNS
topic; an S3 bucket per logical bucket with its notifications; EventBridge schedules. Each function gets send/publish
rights only on the queues and topics its handler names (``portafunc.queue("x")`` / ``portafunc.topic("x")`` found in
its source), plus its dead-letter destination; a handler that names them dynamically gets all of the app's.
"""

from __future__ import annotations

import ast
import inspect
import json
import re
import textwrap
from typing import Any

from portafunc.app import App, FunctionSpec, HttpTrigger, QueueTrigger, ScheduleTrigger, StorageTrigger, TopicTrigger
from portafunc.invoke import dead_letter_destination
from portafunc.messaging.binding import env_name

from .triggers import S3_EVENTS

FUNCTION_TIMEOUT = 30


def logical_id(name: str, suffix: str = "") -> str:
    """CloudFormation logical ids are alphanumeric: ``order-events`` → ``OrderEvents``."""
    parts = re.split(r"[^A-Za-z0-9]+", name)
    return "".join(p[:1].upper() + p[1:] for p in parts if p) + suffix


def used_resources(spec: FunctionSpec) -> tuple[set[str], set[str], bool]:
    """(topics, queues, dynamic) named by the handler's own source code."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(spec.handler)))
    except (OSError, TypeError, SyntaxError):
        return set(), set(), True
    topics: set[str] = set()
    queues: set[str] = set()
    dynamic = False
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
        if name not in ("topic", "queue"):
            continue
        if isinstance(func, ast.Attribute) and not (isinstance(func.value, ast.Name) and func.value.id == "portafunc"):
            continue
        if node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
            (topics if name == "topic" else queues).add(node.args[0].value)
        else:
            dynamic = True
    return topics, queues, dynamic


def build_template(app: App, *, app_ref: str, code_uri: str, python: str, arch: str) -> dict[str, Any]:
    resources: dict[str, Any] = {}
    topics: set[str] = set()
    queues: dict[str, QueueTrigger | None] = {}
    buckets: set[str] = set()
    uses: dict[str, tuple[set[str], set[str]]] = {}
    for spec in app:
        trig = spec.trigger
        if isinstance(trig, TopicTrigger):
            topics.add(trig.topic)
        elif isinstance(trig, QueueTrigger):
            queues[trig.queue] = trig
        elif isinstance(trig, StorageTrigger):
            buckets.add(trig.bucket)
        t, q, dynamic = used_resources(spec)
        uses[spec.name] = (t, q)
        topics |= t
        for name in q:
            queues.setdefault(name, None)
        if dynamic:
            uses[spec.name] = (set(), set())
            uses[spec.name + "\0dynamic"] = (set(), set())
    for spec in app:  # dynamic users get everything
        if spec.name + "\0dynamic" in uses:
            uses[spec.name] = (set(topics), set(queues))
            del uses[spec.name + "\0dynamic"]

    env: dict[str, Any] = {"PORTAFUNC_APP": app_ref}
    for topic in sorted(topics):
        resources[logical_id(topic, "Topic")] = {"Type": "AWS::SNS::Topic"}
        env[env_name("topic", topic)] = {"Fn::Sub": f"sns://${{{logical_id(topic, 'Topic')}}}"}
    for queue, consumer in sorted(queues.items()):
        qid = logical_id(queue, "Queue")
        props: dict[str, Any] = {}
        if consumer is not None:
            if consumer.ordered:
                props["FifoQueue"] = True
            props["VisibilityTimeout"] = max(consumer.visibility_timeout, FUNCTION_TIMEOUT)
            dlq = logical_id(queue, "DeadLetterQueue")
            resources[dlq] = {"Type": "AWS::SQS::Queue", "Properties": {"MessageRetentionPeriod": 1209600,
                                                                        **({"FifoQueue": True} if consumer.ordered
                                                                           else {})}}
            props["RedrivePolicy"] = {"deadLetterTargetArn": {"Fn::GetAtt": [dlq, "Arn"]},
                                      "maxReceiveCount": consumer.max_attempts}
        resources[qid] = {"Type": "AWS::SQS::Queue", **({"Properties": props} if props else {})}
        env[env_name("queue", queue)] = {"Fn::Sub": f"sqs://${{{qid}.Arn}}"}
    for bucket in sorted(buckets):
        resources[logical_id(bucket, "Bucket")] = {"Type": "AWS::S3::Bucket"}

    explicit_api = any(isinstance(s.trigger, HttpTrigger) and s.trigger.auth == "function" for s in app)
    if explicit_api:
        resources["HttpApi"] = {"Type": "AWS::Serverless::HttpApi",
                                "Properties": {"Auth": {"EnableIamAuthorizer": True}}}

    for spec in app:
        resources.update(_function(spec, uses[spec.name], topics, explicit_api))

    outputs: dict[str, Any] = {}
    if any(isinstance(s.trigger, HttpTrigger) for s in app):
        api = "HttpApi" if explicit_api else "ServerlessHttpApi"
        outputs["HttpApiUrl"] = {"Description": "Base URL of the HTTP API",
                                 "Value": {"Fn::Sub": f"https://${{{api}}}.execute-api.${{AWS::Region}}"
                                                      ".${AWS::URLSuffix}/"}}
    template: dict[str, Any] = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Transform": "AWS::Serverless-2016-10-31",
        "Description": f"portafunc app {app.name} (generated by portafunc package --target aws)",
        "Globals": {"Function": {
            "Runtime": f"python{python}", "Architectures": ["arm64" if arch in ("arm64", "aarch64") else "x86_64"],
            "Handler": "portafunc_aws.entry.handler", "CodeUri": code_uri, "MemorySize": 512,
            "Timeout": FUNCTION_TIMEOUT, "Environment": {"Variables": env}}},
        "Resources": resources,
    }
    if outputs:
        template["Outputs"] = outputs
    return template


def _function(spec: FunctionSpec, uses: tuple[set[str], set[str]], all_topics: set[str],
              explicit_api: bool) -> dict[str, Any]:
    fid = logical_id(spec.name, "Function")
    trig = spec.trigger
    out: dict[str, Any] = {}
    props: dict[str, Any] = {"Environment": {"Variables": {"PORTAFUNC_FUNCTION": spec.name}}}
    events: dict[str, Any] = {}
    if isinstance(trig, HttpTrigger):
        for method in trig.methods:
            event: dict[str, Any] = {"Path": trig.route.template, "Method": method}
            if explicit_api:
                event["ApiId"] = {"Ref": "HttpApi"}
            if trig.auth == "function":
                event["Auth"] = {"Authorizer": "AWS_IAM"}
            events[logical_id(method.lower()) + "Route"] = {"Type": "HttpApi", "Properties": event}
    elif isinstance(trig, QueueTrigger):
        props["Timeout"] = min(FUNCTION_TIMEOUT, trig.visibility_timeout)
        events["Queue"] = {"Type": "SQS", "Properties": {
            "Queue": {"Fn::GetAtt": [logical_id(trig.queue, "Queue"), "Arn"]}, "BatchSize": trig.batch_size,
            "FunctionResponseTypes": ["ReportBatchItemFailures"]}}
    elif isinstance(trig, TopicTrigger):
        topic = logical_id(trig.topic, "Topic")
        sub_q = logical_id(spec.name, "SubscriptionQueue")
        dlq = logical_id(spec.name, "SubscriptionDeadLetterQueue")
        out[dlq] = {"Type": "AWS::SQS::Queue", "Properties": {"MessageRetentionPeriod": 1209600}}
        out[sub_q] = {"Type": "AWS::SQS::Queue", "Properties": {
            "VisibilityTimeout": FUNCTION_TIMEOUT * 6,
            "RedrivePolicy": {"deadLetterTargetArn": {"Fn::GetAtt": [dlq, "Arn"]},
                              "maxReceiveCount": trig.max_attempts}}}
        out[logical_id(spec.name, "SubscriptionQueuePolicy")] = {"Type": "AWS::SQS::QueuePolicy", "Properties": {
            "Queues": [{"Ref": sub_q}],
            "PolicyDocument": {"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Principal": {"Service": "sns.amazonaws.com"}, "Action": "sqs:SendMessage",
                "Resource": {"Fn::GetAtt": [sub_q, "Arn"]},
                "Condition": {"ArnEquals": {"aws:SourceArn": {"Ref": topic}}}}]}}}
        out[logical_id(spec.name, "Subscription")] = {"Type": "AWS::SNS::Subscription", "Properties": {
            "TopicArn": {"Ref": topic}, "Protocol": "sqs", "Endpoint": {"Fn::GetAtt": [sub_q, "Arn"]}}}
        events["Topic"] = {"Type": "SQS", "Properties": {
            "Queue": {"Fn::GetAtt": [sub_q, "Arn"]}, "BatchSize": 10,
            "FunctionResponseTypes": ["ReportBatchItemFailures"]}}
    elif isinstance(trig, ScheduleTrigger):
        events["Schedule"] = {"Type": "Schedule", "Properties": {"Schedule": trig.schedule.aws}}
    elif isinstance(trig, StorageTrigger):
        s3: dict[str, Any] = {"Bucket": {"Ref": logical_id(trig.bucket, "Bucket")},
                              "Events": [S3_EVENTS[e] for e in trig.events]}
        rules = [{"Name": k, "Value": v} for k, v in (("prefix", trig.prefix), ("suffix", trig.suffix)) if v]
        if rules:
            s3["Filter"] = {"S3Key": {"Rules": rules}}
        events["Upload"] = {"Type": "S3", "Properties": s3}
    if events:
        props["Events"] = events
    topics, queues = uses
    policies: list[Any] = []
    dead = dead_letter_destination(spec)
    if dead and "://" not in dead:
        (topics if dead in all_topics else queues).add(dead)
    for topic in sorted(topics):
        policies.append({"SNSPublishMessagePolicy": {"TopicName": {"Fn::GetAtt": [logical_id(topic, "Topic"),
                                                                                 "TopicName"]}}})
    for queue in sorted(queues):
        policies.append({"SQSSendMessagePolicy": {"QueueName": {"Fn::GetAtt": [logical_id(queue, "Queue"),
                                                                              "QueueName"]}}})
    if policies:
        props["Policies"] = policies
    out[fid] = {"Type": "AWS::Serverless::Function", "Properties": props}
    return out


# -- a small YAML writer (no PyYAML needed at package time) --------------------------------------------------------

_PLAIN = re.compile(r"^[A-Za-z0-9_./:$-][A-Za-z0-9_ ./:${}()*?,+-]*$")
_RESERVED = {"true", "false", "yes", "no", "on", "off", "null", "~", "y", "n"}


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return json.dumps(value)
    text = str(value)
    if _PLAIN.match(text) and text.lower() not in _RESERVED and not text[0].isdigit() \
            and not text.endswith(" ") and ": " not in text and " #" not in text:
        return text
    return json.dumps(text, ensure_ascii=False)


def to_yaml(value: Any, indent: int = 0) -> str:
    pad = "  " * indent
    lines: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, (dict, list)) and item:
                lines.append(f"{pad}{_scalar(key)}:")
                lines.append(to_yaml(item, indent + 1))
            else:
                lines.append(f"{pad}{_scalar(key)}: {_scalar(item) if not isinstance(item, (dict, list)) else '{}' if isinstance(item, dict) else '[]'}")
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, (dict, list)) and item:
                inner = to_yaml(item, indent + 1).lstrip()
                lines.append(f"{pad}- {inner}")
            else:
                lines.append(f"{pad}- {_scalar(item)}")
    else:
        lines.append(pad + _scalar(value))
    return "\n".join(lines)
