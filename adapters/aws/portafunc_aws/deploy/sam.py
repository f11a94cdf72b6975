"""The SAM ``template.yaml`` for an App, written from its resource model (``app.resources()``).

Every resource of the model is created, unless the configuration names it as existing (then it is only bound and
granted): an SNS topic per topic, an SQS queue per queue (its redrive target is the declared ``dead_letter=`` queue,
else a DLQ of its own), per topic subscriber an SQS subscription queue (again with a DLQ) fed by the topic, an S3
bucket per bucket, a DynamoDB table (partition key ``id``, TTL on ``expiration``) per key-value table and for the
idempotency store. The consumer of an existing queue still gets a DLQ of its own for its non-retryable messages, but
the queue's redrive policy is not the stack's to set (:func:`deployment_warnings` says so). Each function gets in its
environment exactly the bindings of its grants, and in its role exactly their permissions: ``SNSPublishMessagePolicy``
/ ``SQSSendMessagePolicy`` to publish and send, ``SQSPollerPolicy`` on the one queue it consumes (its event source
mapping is declared directly, so SAM does not attach ``AWSLambdaSQSQueueExecutionRole`` on ``Resource: "*"``),
read/CRUD policies on its buckets and tables, and ``GetItem``/``PutItem``/``DeleteItem`` on the idempotency table.
Settings (memory, timeout, concurrency, env, tags, extra statements) and secrets (CloudFormation dynamic references,
resolved at deploy time: no SDK call at run time) come from the configuration file. HTTP: every GET route also
answers HEAD, and a ``$default`` route sends any other method or path to the app's router, which answers 404/405
problem+json as the other clouds do; the HTTP API's authorizers (IAM, JWT for ``JwtAuth`` routes) and CORS
configuration are written by :mod:`.http_api`.
"""

from __future__ import annotations

import json
import re
from typing import Any

from portafunc.app import App, FunctionSpec, HttpTrigger, QueueTrigger, ScheduleTrigger, StorageTrigger, TopicTrigger
from portafunc.errors import PortafuncError
from portafunc.messaging.binding import env_name
from portafunc.resources import Deployment, FunctionModel, name_conflicts
from portafunc.targets import NativeTrigger

from ..triggers import S3_EVENTS, SCHEDULE_DIALECT, check_batch, check_dead_letter
from . import http_api

MAX_TIMEOUT = 900
MEMORY_RANGE = (128, 10240)
# [targets.aws] otel_layer: the AWS Distro for OpenTelemetry Lambda layer; its wrapper sets the SDK up before the
# handler's module runs, so portafunc's spans go to the layer's collector with no change to the app.
OTEL_WRAPPER = "/opt/otel-instrument"
_LAYER_ARN = re.compile(r"^arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:layer:[A-Za-z0-9_-]{1,140}:\d+$")
ROUTER = "PortafuncRouterFunction"
RETENTION_14_DAYS = 1209600
IDEMPOTENCY_ACTIONS = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem"]


class TemplateError(PortafuncError):
    """The app cannot be written as a valid SAM template; the message names what to change."""


def logical_id(name: str, suffix: str = "") -> str:
    """CloudFormation logical ids are alphanumeric: ``order-events`` → ``OrderEvents``."""
    parts = re.split(r"[^A-Za-z0-9]+", name)
    return "".join(p[:1].upper() + p[1:] for p in parts if p) + suffix


SUFFIX = {"topic": "Topic", "queue": "Queue", "bucket": "Bucket", "kv": "Table", "idempotency": "Table"}


def resource_id(kind: str, name: str) -> str:
    if kind == "idempotency":
        return "IdempotencyTable"
    return logical_id(name, SUFFIX.get(kind, logical_id(kind)))


def name_rules() -> dict[str, Any]:
    """What ``portafunc inspect`` checks for collisions: the logical id each name becomes."""
    return {"function": lambda n: logical_id(n, "Function"), "topic": lambda n: logical_id(n, "Topic"),
            "queue": lambda n: logical_id(n, "Queue"), "bucket": lambda n: logical_id(n, "Bucket"),
            "kv": lambda n: logical_id(n, "Table")}


def secret_reference(variable: str, ref: str) -> str:
    """A CloudFormation dynamic reference for a Lambda environment variable.

    ``NAME`` / ``secretsmanager:NAME[:SecretString:KEY...]`` → ``{{resolve:secretsmanager:...}}``; ``ssm:/path`` →
    ``{{resolve:ssm:/path}}``. ``ssm-secure`` is refused: CloudFormation does not resolve it in Lambda environments.
    """
    if ref.startswith("ssm-secure:"):
        raise TemplateError(f"secret {variable}: ssm-secure references are not resolved in Lambda environment "
                            "variables; store it in Secrets Manager (secretsmanager:NAME) or as a plain SSM "
                            "parameter (ssm:/path)")
    if ref.startswith("ssm:"):
        return "{{resolve:ssm:" + ref[len("ssm:"):] + "}}"
    if ref.startswith("secretsmanager:"):
        ref = ref[len("secretsmanager:"):]
    if not ref or "}}" in ref or "{{" in ref:
        raise TemplateError(f"secret {variable}: {ref!r} is not a secret name")
    return "{{resolve:secretsmanager:" + ref + "}}"


def check_deployment(deployment: Deployment) -> list[str]:
    """What AWS refuses, found before the build: limits, secret references, logical-id collisions."""
    problems: list[str] = []
    for fn in deployment.functions.values():
        s = fn.settings
        if not MEMORY_RANGE[0] <= s.memory <= MEMORY_RANGE[1]:
            problems.append(f"{fn.name}: memory {s.memory} MB is outside Lambda's {MEMORY_RANGE[0]}-"
                            f"{MEMORY_RANGE[1]} MB")
        if s.timeout > MAX_TIMEOUT:
            problems.append(f"{fn.name}: timeout {s.timeout} s exceeds Lambda's {MAX_TIMEOUT} s")
        for variable, secret in s.secrets.items():
            ref = secret.ref("aws")
            if ref is None:
                problems.append(f"{fn.name}: secret {variable} has no AWS reference (give a name, or aws=...)")
                continue
            try:
                secret_reference(variable, ref)
            except TemplateError as exc:
                problems.append(f"{fn.name}: {exc}")
        for entry in s.permissions.get("aws", []):
            if not isinstance(entry, dict) or not {"Effect", "Action", "Resource"} <= set(entry):
                problems.append(f"{fn.name}: permissions.aws entries are IAM statements with Effect, Action and "
                                f"Resource; got {entry!r}")
    problems += _bucket_stem_problems(deployment)
    try:
        otel_layer(deployment)
        if not name_conflicts(deployment, "aws", name_rules()):  # those are said once, by the packager's own check
            build_resources(deployment)  # what is left: two kinds of resource that become one logical id
    except TemplateError as exc:
        problems.append(str(exc))
    return problems


def existing_url(deployment: Deployment, kind: str, name: str) -> str | None:
    """The binding URL the configuration gives for an existing AWS resource (``[existing.KIND.NAME] aws = …``)."""
    return deployment.existing(kind, name).get("aws")


def existing_arn(kind: str, url: str) -> Any:
    """The ARN an existing resource's binding URL names (policies and event sources need it)."""
    rest = url.split("://", 1)[1]
    if rest.startswith("arn:"):
        return rest.split("?", 1)[0]
    if kind == "queue":
        match = re.fullmatch(r"sqs\.([a-z0-9-]+)\.amazonaws\.com/(\d{12})/([A-Za-z0-9_.-]+)", rest.split("?", 1)[0])
        if match:
            return f"arn:aws:sqs:{match.group(1)}:{match.group(2)}:{match.group(3)}"
    if kind == "bucket":
        return f"arn:aws:s3:::{rest.split('/', 1)[0]}"
    if kind in ("kv", "idempotency"):
        table = rest.split("?", 1)[0]
        return {"Fn::Sub": f"arn:${{AWS::Partition}}:dynamodb:${{AWS::Region}}:${{AWS::AccountId}}:table/{table}"}
    raise TemplateError(f"existing {kind} {url!r}: give its ARN (e.g. sns://arn:aws:sns:REGION:ACCOUNT:NAME or "
                        "sqs://arn:aws:sqs:REGION:ACCOUNT:NAME) so its permissions can name it")


def non_retryable_destination(spec: FunctionSpec) -> str:
    """Where the template sends a queue function's non-retryable messages at once, as a person reads it."""
    trig = spec.trigger
    dead = getattr(trig, "dead_letter", None)
    if dead:
        return dead if "://" in dead else f"queue {dead}"
    return logical_id(getattr(trig, "queue", spec.name), "DeadLetterQueue")


def existing_queue_trigger(spec: FunctionSpec, deployment: Deployment) -> NativeTrigger | None:
    """What a queue function becomes when its queue already exists (None: the stack creates it). The stack creates
    no queue then, so the visibility timeout is the queue's own, and ``max_attempts`` is kept by the function itself
    (``PORTAFUNC_MAX_ATTEMPTS_<FUNCTION>``) rather than by a redrive policy."""
    trig = spec.trigger
    if not isinstance(trig, QueueTrigger):
        return None
    url = existing_url(deployment, "queue", trig.queue)
    if url is None:
        return None
    check_dead_letter(spec, trig)
    check_batch(spec, trig)
    window = f", batching window {trig.max_batching_window}s" if trig.max_batching_window else ""
    dead = non_retryable_destination(spec)
    return NativeTrigger("SQS event source", f"existing queue {trig.queue} at {url}, batch {trig.batch_size}{window}, "
                         f"ReportBatchItemFailures, the function moves a message failing on receive "
                         f"{trig.max_attempts} (max_attempts) to {dead} (the queue's own redrive policy may move it "
                         f"sooner), visibility timeout is the queue's own (visibility_timeout="
                         f"{trig.visibility_timeout}s is not applied), non-retryable messages to {dead} at once")


def deployment_warnings(app: App, deployment: Deployment) -> list[str]:
    """Where this app's failure handling on AWS is not what its decorators declare: a function consuming an existing
    queue, whose redrive policy and visibility timeout CloudFormation cannot set. The function keeps ``max_attempts``
    itself (it moves a message failing on that receive to its dead letter), but the queue's own redrive policy may
    act first, and its visibility timeout is what Lambda checks against the function's timeout."""
    out = []
    for spec in app:
        trig = spec.trigger
        if not isinstance(trig, QueueTrigger) or existing_url(deployment, "queue", trig.queue) is None:
            continue
        dead = non_retryable_destination(spec)
        timeout = deployment.functions[spec.name].settings.timeout
        out.append(f"{spec.name}: queue {trig.queue} already exists, so the stack cannot set its redrive policy or "
                   f"visibility timeout: the function itself moves a message failing on receive {trig.max_attempts} "
                   f"(max_attempts={trig.max_attempts}) to {dead}, unless the queue's own redrive policy "
                   f"moves it sooner to the queue's own dead-letter queue; the queue's visibility timeout applies, "
                   f"not visibility_timeout={trig.visibility_timeout}s, and must be at least the function's timeout "
                   f"({timeout} s) or Lambda refuses the event source mapping. A non-retryable message goes to {dead} "
                   "at once")
    return out


def _arn(deployment: Deployment, kind: str, name: str) -> Any:
    url = existing_url(deployment, kind, name)
    if url is not None:
        return existing_arn(kind, url)
    lid = resource_id(kind, name)
    return {"Ref": lid} if kind == "topic" else {"Fn::GetAtt": [lid, "Arn"]}


_EXISTING_ACTIONS = {
    ("topic", "publish"): ["sns:Publish"],
    ("queue", "send"): ["sqs:SendMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl"],
    ("queue", "consume"): ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility",
                           "sqs:GetQueueAttributes"],
    ("bucket", "read"): ["s3:GetObject", "s3:ListBucket"],
    ("bucket", "write"): ["s3:GetObject", "s3:ListBucket", "s3:PutObject", "s3:DeleteObject"],
    ("kv", "read"): ["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:Scan",
                     "dynamodb:DescribeTable"],
    ("kv", "write"): ["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:Scan",
                      "dynamodb:DescribeTable", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem",
                      "dynamodb:BatchWriteItem"],
    ("idempotency", "read"): IDEMPOTENCY_ACTIONS, ("idempotency", "write"): IDEMPOTENCY_ACTIONS,
}


def _existing_statement(kind: str, access: tuple[str, ...], arn: Any) -> dict[str, Any] | None:
    actions = sorted({a for acc in access for a in _EXISTING_ACTIONS.get((kind, acc), [])})
    if not actions:
        return None
    resource: Any = arn
    if kind == "bucket" and isinstance(arn, str):
        resource = [arn, f"{arn}/*"]
    return {"Effect": "Allow", "Action": actions, "Resource": resource}


def native_permissions(app: App, deployment: Deployment) -> dict[str, list[str]]:
    """{function: the IAM permissions its role gets}, as ``portafunc inspect`` shows them."""
    template = build_template(app, app_ref="main:app", code_uri="code.zip", python="3.12", arch="x86_64",
                              deployment=deployment)
    out: dict[str, list[str]] = {}
    for name in deployment.functions:
        lines: list[str] = []
        for policy in template["Resources"][logical_id(name, "Function")]["Properties"].get("Policies", []):
            for key, value in policy.items():
                if key == "Statement":
                    lines.extend(f"{','.join(st['Action'])} on {_short(st['Resource'])}" for st in value)
                elif key != "Version":
                    lines.append(f"{key} on {_short(value)}")
        out[name] = lines
    return out


def _short(value: Any) -> str:
    """``{"Fn::GetAtt": ["WorkQueue", "QueueName"]}`` → ``WorkQueue``: the resource a permission names."""
    text = json.dumps(value)
    ids = re.findall(r'"Fn::GetAtt": \["(\w+)"|"Ref": "(\w+)"', text)
    found = [a or b for a, b in ids]
    return ", ".join(dict.fromkeys(found)) if found else (value if isinstance(value, str) else text)


class _Ids:
    """Logical ids handed out so far, and what each stands for: a second claim is a collision, refused."""

    def __init__(self) -> None:
        self.owner: dict[str, str] = {}

    def claim(self, lid: str, what: str) -> str:
        other = self.owner.get(lid)
        if other is not None and other != what:
            raise TemplateError(f"aws: {other} and {what} both become the CloudFormation resource {lid!r}; "
                                "rename one of them")
        self.owner[lid] = what
        return lid


def build_resources(deployment: Deployment) -> tuple[dict[str, Any], _Ids]:
    """The non-function resources of the template."""
    ids = _Ids()
    for fname in deployment.functions:
        ids.claim(logical_id(fname, "Function"), f"function {fname!r}")
    ids.claim(ROUTER, "the HTTP router")
    out: dict[str, Any] = {}
    for res in deployment.resources.values():
        if existing_url(deployment, res.kind, res.name) is not None:
            existing_arn(res.kind, existing_url(deployment, res.kind, res.name) or "")  # refuses a URL without ARN
            if res.kind == "bucket" and res.options.get("notifications"):
                raise TemplateError(f"aws: bucket {res.name!r} is configured as existing, but a storage trigger "
                                    "needs its bucket in this stack (S3 notifications are set where the bucket is "
                                    "defined)")
            if res.kind == "queue" and res.options.get("consumer") and not res.options.get("dead_letter"):
                # its redrive policy is not the stack's to set, but its consumer's non-retryable messages still need
                # a queue of their own to go to at once
                target = ids.claim(logical_id(res.name, "DeadLetterQueue"), f"the DLQ of queue {res.name!r}")
                out[target] = _dead_letter_queue(bool(res.options.get("fifo")))
            continue
        lid = ids.claim(resource_id(res.kind, res.name), f"{res.kind} {res.name!r}")
        if res.kind == "topic":
            out[lid] = {"Type": "AWS::SNS::Topic"}
        elif res.kind == "queue":
            props: dict[str, Any] = {}
            opts = res.options
            if opts.get("fifo"):
                props["FifoQueue"] = True
            if res.origin == "dead_letter" or not opts.get("consumer"):
                props["MessageRetentionPeriod"] = RETENTION_14_DAYS
            if opts.get("consumer"):
                consumer = deployment.functions[opts["consumer"]]
                props["VisibilityTimeout"] = visibility_timeout(int(opts["visibility_timeout"]),
                                                                consumer.settings.timeout)
                dead = opts.get("dead_letter")
                if dead:
                    target_arn = _arn(deployment, "queue", dead)
                else:
                    target = ids.claim(logical_id(res.name, "DeadLetterQueue"), f"the DLQ of queue {res.name!r}")
                    out[target] = _dead_letter_queue(bool(opts.get("fifo")))
                    target_arn = {"Fn::GetAtt": [target, "Arn"]}
                props["RedrivePolicy"] = {"deadLetterTargetArn": target_arn, "maxReceiveCount": opts["max_attempts"]}
            out[lid] = {"Type": "AWS::SQS::Queue", **({"Properties": props} if props else {})}
        elif res.kind == "bucket":
            out[lid] = {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": bucket_name(deployment, res.name)}}
        elif res.kind in ("kv", "idempotency"):
            out[lid] = {"Type": "AWS::DynamoDB::Table", "Properties": {
                "BillingMode": "PAY_PER_REQUEST",
                "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
                "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
                "TimeToLiveSpecification": {"AttributeName": "expiration", "Enabled": True}}}
        else:
            raise TemplateError(f"aws: resource kind {res.kind!r} ({res.name!r}) has no AWS resource")
    for fn in deployment.functions.values():
        if fn.kind == "topic":
            ids.claim(logical_id(fn.name, "SubscriptionQueue"), f"the subscription queue of {fn.name!r}")
            ids.claim(logical_id(fn.name, "SubscriptionDeadLetterQueue"), f"the subscription DLQ of {fn.name!r}")
    return out, ids


def visibility_timeout(declared: int, function_timeout: int) -> int:
    """The ``VisibilityTimeout`` of a queue the stack creates for a consumer: ``visibility_timeout``, never less
    than the consuming function's timeout.

    Lambda refuses an SQS event source mapping whose queue hides a message for less time than the function may run
    ("Queue visibility timeout: … is less than Function timeout: …"), and CloudFormation finds out only after it
    created the queue and the function, rolling the whole stack back. Where the timeout is chosen, the rule is
    already kept (:func:`portafunc.config.check_timeouts`, run by ``app.resources``): a function timeout set longer
    than its queue's ``visibility_timeout`` is refused at package time, naming both, and an unset one is lowered to
    fit, rather than the visibility timeout raised, since ``visibility_timeout`` is also the retry delay the
    decorator declares and raising it behind the user's back would change that. So for a deployment ``package``
    builds this returns ``declared``. The floor is the template's own guarantee for any other deployment handed to
    :func:`build_template` (one whose timeout changed after it was checked): a stack AWS accepts, with the longer
    retry delay that a function that long needs anyway, rather than one that fails half-way through creation.
    Topic subscribers' queues are the stack's own choice and get six times the function timeout (AWS's advice)."""
    return max(declared, function_timeout)


def _dead_letter_queue(fifo: bool) -> dict[str, Any]:
    """A queue's own DLQ: kept 14 days, FIFO like the queue it serves (SQS redrives a FIFO queue only to one)."""
    return {"Type": "AWS::SQS::Queue", "Properties": {"MessageRetentionPeriod": RETENTION_14_DAYS,
                                                      **({"FifoQueue": True} if fifo else {})}}


def bucket_name(deployment: Deployment, name: str) -> Any:
    """The bucket's physical name, ``APP[-STAGE]-NAME-ACCOUNT-REGION`` (unique per account and region): named rather
    than generated so that bindings and policies can spell it without a ``Ref``. A ``Ref`` would make the bucket's
    notification → function → environment/role → bucket a dependency cycle, which CloudFormation refuses."""
    stem = "-".join(p for p in (deployment.app, deployment.stage, name) if p).lower()
    stem = re.sub(r"[^a-z0-9.-]+", "-", stem)
    return {"Fn::Sub": f"{stem}-${{AWS::AccountId}}-${{AWS::Region}}"}


def _bucket_stem_problems(deployment: Deployment) -> list[str]:
    out = []
    for res in deployment.of_kind("bucket"):
        stem = bucket_name(deployment, res.name)["Fn::Sub"].split("-${", 1)[0]
        if len(stem) + len("-123456789012-ap-southeast-2") > 63:
            out.append(f"bucket {res.name!r}: the S3 name {stem}-ACCOUNT-REGION would exceed 63 characters; use a "
                       "shorter app, stage or bucket name")
    return out


def _binding_value(kind: str, name: str, deployment: Deployment) -> Any:
    url = existing_url(deployment, kind, name)
    if url is not None:
        return url
    lid = resource_id(kind, name)
    if kind == "bucket":
        return {"Fn::Sub": "s3://" + bucket_name(deployment, name)["Fn::Sub"]}
    if kind == "topic":
        return {"Fn::Sub": f"sns://${{{lid}}}"}
    if kind == "queue":
        return {"Fn::Sub": f"sqs://${{{lid}.Arn}}"}
    return {"Fn::Sub": f"dynamodb://${{{lid}}}"}


def otel_layer(deployment: Deployment) -> str | None:
    """``[targets.aws] otel_layer``: the ARN of the OpenTelemetry layer every function gets, or None."""
    value = deployment.config.targets.get("aws", {}).get("otel_layer")
    if value is None:
        return None
    if not isinstance(value, str) or not _LAYER_ARN.match(value):
        raise TemplateError(f"[targets.aws] otel_layer = {value!r} is not a Lambda layer version ARN "
                            "(arn:aws:lambda:REGION:ACCOUNT:layer:NAME:VERSION)")
    return value


def build_template(app: App, *, app_ref: str, code_uri: str, python: str, arch: str,
                   deployment: Deployment | None = None) -> dict[str, Any]:
    model = deployment if deployment is not None else app.resources()
    resources, _ = build_resources(model)
    problems = http_api.jwt_problems(app)
    if problems:
        raise TemplateError("; ".join(problems))
    api_properties = http_api.http_api_properties(app)
    explicit_api = api_properties is not None
    has_http = any(isinstance(s.trigger, HttpTrigger) for s in app)
    if api_properties is not None:
        resources["HttpApi"] = {"Type": "AWS::Serverless::HttpApi", "Properties": api_properties}
    jwt_authorizers = http_api.authorizers(app)
    for spec in app:
        resources.update(_function(spec, model.functions[spec.name], model, explicit_api, jwt_authorizers))
    if has_http:
        event: dict[str, Any] = {}  # no Path/Method: SAM makes it the API's $default route
        if explicit_api:
            event["ApiId"] = {"Ref": "HttpApi"}
        resources[ROUTER] = {"Type": "AWS::Serverless::Function", "Properties": {
            "Description": "Answers requests no route matches: 404, or 405 with Allow for a known path",
            "MemorySize": 128, "Timeout": 10,
            # never runs a function: what API Gateway matched to no route must not reach one past its authorizers
            "Environment": {"Variables": _router_variables(model)},
            "Events": {"Default": {"Type": "HttpApi", **({"Properties": event} if event else {})}}}}
    outputs: dict[str, Any] = {}
    if has_http:
        api = "HttpApi" if explicit_api else "ServerlessHttpApi"
        outputs["HttpApiUrl"] = {"Description": "Base URL of the HTTP API",
                                 "Value": {"Fn::Sub": f"https://${{{api}}}.execute-api.${{AWS::Region}}"
                                                      ".${AWS::URLSuffix}/"}}
    stage = f", stage {model.stage}" if model.stage else ""
    template: dict[str, Any] = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Transform": "AWS::Serverless-2016-10-31",
        "Description": f"portafunc app {app.name}{stage} (generated by portafunc package --target aws; change the "
                       "app or its portafunc.toml, not this file)",
        "Globals": {"Function": {
            "Runtime": f"python{python}", "Architectures": ["arm64" if arch in ("arm64", "aarch64") else "x86_64"],
            "Handler": "portafunc_aws.runtime.handler", "CodeUri": code_uri,
            "Environment": {"Variables": {"PORTAFUNC_APP": app_ref}}}},
        "Resources": resources,
    }
    layer = otel_layer(model)
    if layer is not None:
        template["Globals"]["Function"]["Layers"] = [layer]
        template["Globals"]["Function"]["Environment"]["Variables"]["AWS_LAMBDA_EXEC_WRAPPER"] = OTEL_WRAPPER
    if outputs:
        template["Outputs"] = outputs
    return template


def _router_variables(model: Deployment) -> dict[str, Any]:
    """The router function's environment: it imports the whole app, as every function does, so it gets what each of
    them gets from the app-wide layers of the configuration (``env`` with ``PORTAFUNC_STAGE``, ``secrets``): an app
    reading a variable at import (a CORS origin its preflight answers carry, a required setting) reads the same
    there."""
    variables: dict[str, Any] = {"PORTAFUNC_ROUTER": "unmatched", **model.config.app_env()}
    for variable, secret in sorted(model.config.app_secrets().items()):
        ref = secret.ref("aws")
        if ref is not None:  # one without an AWS reference is refused for every function (check_deployment)
            variables[variable] = secret_reference(variable, ref)
    return variables


def _function(spec: FunctionSpec, fn: FunctionModel, model: Deployment, explicit_api: bool,
              jwt_authorizers: dict[Any, str] | None = None) -> dict[str, Any]:
    fid = logical_id(spec.name, "Function")
    trig = spec.trigger
    settings = fn.settings
    out: dict[str, Any] = {}
    variables: dict[str, Any] = {"PORTAFUNC_FUNCTION": spec.name}
    variables.update(settings.env)
    for grant in fn.grants:
        variables[grant.binding] = _binding_value(grant.kind, grant.name, model)
    for variable, secret in sorted(settings.secrets.items()):
        ref = secret.ref("aws")
        if ref is None:
            raise TemplateError(f"function {spec.name!r}: secret {variable} has no AWS reference")
        variables[variable] = secret_reference(variable, ref)
    props: dict[str, Any] = {"MemorySize": settings.memory, "Timeout": settings.timeout,
                             "Environment": {"Variables": variables}}
    if settings.concurrency:
        props["ReservedConcurrentExecutions"] = settings.concurrency
    if settings.tags:
        props["Tags"] = dict(settings.tags)
    events: dict[str, Any] = {}
    policies: list[Any] = []
    if isinstance(trig, HttpTrigger):
        methods = list(trig.methods) + (["HEAD"] if "GET" in trig.methods and "HEAD" not in trig.methods else [])
        # a route whose greedy parameter may be empty (a mounted web app) also gets its bare path as a route: an API
        # Gateway {proxy+} needs a segment; "/api" is sent "/api/" too (a route cannot end in "/")
        paths = [(trig.route.template, "Route")] + ([(trig.route.bare, "BareRoute")] if trig.route.bare else [])
        for path, suffix in paths:
            for method in methods:
                event: dict[str, Any] = {"Path": path, "Method": method}
                if explicit_api:
                    event["ApiId"] = {"Ref": "HttpApi"}
                route_auth = http_api.route_auth(trig, jwt_authorizers or {})
                if route_auth is not None:
                    event["Auth"] = route_auth
                events[logical_id(method.lower()) + suffix] = {"Type": "HttpApi", "Properties": event}
    elif isinstance(trig, QueueTrigger):
        queue = resource_id("queue", trig.queue)
        out[logical_id(spec.name, "EventSourceMapping")] = _mapping(fid, _arn(model, "queue", trig.queue),
                                                                     trig.batch_size, trig.max_batching_window)
        if existing_url(model, "queue", trig.queue) is None:
            policies.append({"SQSPollerPolicy": {"QueueName": {"Fn::GetAtt": [queue, "QueueName"]}}})
        else:  # no redrive policy of the stack's: the function dead-letters a message on its last attempt itself
            variables[env_name("MAX_ATTEMPTS", spec.name)] = str(trig.max_attempts)
        if not trig.dead_letter:  # an existing queue's too: only its redrive after max_attempts is not the stack's
            _send_non_retryable_to(logical_id(trig.queue, "DeadLetterQueue"), spec, variables, policies)
    elif isinstance(trig, TopicTrigger):
        topic_arn = _arn(model, "topic", trig.topic)
        sub_q = logical_id(spec.name, "SubscriptionQueue")
        if fn.dead_letter:
            dlq_arn = _arn(model, "queue", fn.dead_letter)
        else:
            dlq = logical_id(spec.name, "SubscriptionDeadLetterQueue")
            out[dlq] = {"Type": "AWS::SQS::Queue", "Properties": {"MessageRetentionPeriod": RETENTION_14_DAYS}}
            dlq_arn = {"Fn::GetAtt": [dlq, "Arn"]}
            if not trig.dead_letter:
                _send_non_retryable_to(dlq, spec, variables, policies)
        out[sub_q] = {"Type": "AWS::SQS::Queue", "Properties": {
            "VisibilityTimeout": min(settings.timeout * 6, 43200),
            "RedrivePolicy": {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": trig.max_attempts}}}
        out[logical_id(spec.name, "SubscriptionQueuePolicy")] = {"Type": "AWS::SQS::QueuePolicy", "Properties": {
            "Queues": [{"Ref": sub_q}],
            "PolicyDocument": {"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Principal": {"Service": "sns.amazonaws.com"}, "Action": "sqs:SendMessage",
                "Resource": {"Fn::GetAtt": [sub_q, "Arn"]},
                "Condition": {"ArnEquals": {"aws:SourceArn": topic_arn}}}]}}}
        out[logical_id(spec.name, "Subscription")] = {"Type": "AWS::SNS::Subscription", "Properties": {
            "TopicArn": topic_arn, "Protocol": "sqs", "Endpoint": {"Fn::GetAtt": [sub_q, "Arn"]},
            "RawMessageDelivery": False}}
        out[logical_id(spec.name, "EventSourceMapping")] = _mapping(fid, {"Fn::GetAtt": [sub_q, "Arn"]}, 10)
        policies.append({"SQSPollerPolicy": {"QueueName": {"Fn::GetAtt": [sub_q, "QueueName"]}}})
    elif isinstance(trig, ScheduleTrigger):
        events["Schedule"] = {"Type": "Schedule", "Properties": {"Schedule": trig.schedule.written(SCHEDULE_DIALECT)}}
    elif isinstance(trig, StorageTrigger):
        s3: dict[str, Any] = {"Bucket": {"Ref": resource_id("bucket", trig.bucket)},
                              "Events": [S3_EVENTS[e] for e in trig.events]}
        rules = [{"Name": k, "Value": v} for k, v in (("prefix", trig.prefix), ("suffix", trig.suffix)) if v]
        if rules:
            s3["Filter"] = {"S3Key": {"Rules": rules}}
        events["Upload"] = {"Type": "S3", "Properties": s3}
    if events:
        props["Events"] = events
    statements: list[Any] = []
    dead_url = getattr(trig, "dead_letter", None)
    if dead_url and "://" in dead_url:
        statements.append(dead_letter_url_statement(spec.name, dead_url))
    for grant in fn.grants:
        lid = resource_id(grant.kind, grant.name)
        url = existing_url(model, grant.kind, grant.name)
        if url is not None:
            statement = _existing_statement(grant.kind, grant.access, existing_arn(grant.kind, url))
            if statement is not None:
                statements.append(statement)
            continue
        if grant.kind == "topic" and "publish" in grant.access:
            policies.append({"SNSPublishMessagePolicy": {"TopicName": {"Fn::GetAtt": [lid, "TopicName"]}}})
        elif grant.kind == "queue" and "send" in grant.access:
            policies.append({"SQSSendMessagePolicy": {"QueueName": {"Fn::GetAtt": [lid, "QueueName"]}}})
        elif grant.kind == "bucket" and "write" in grant.access:
            policies.append({"S3CrudPolicy": {"BucketName": bucket_name(model, grant.name)}})
        elif grant.kind == "bucket" and ("read" in grant.access or "consume" in grant.access):
            # a storage trigger's function reads what arrived (StorageEvent.read/open): s3:GetObject on its bucket
            policies.append({"S3ReadPolicy": {"BucketName": bucket_name(model, grant.name)}})
        elif grant.kind == "kv" and "write" in grant.access:
            policies.append({"DynamoDBCrudPolicy": {"TableName": {"Ref": lid}}})
        elif grant.kind == "kv" and "read" in grant.access:
            policies.append({"DynamoDBReadPolicy": {"TableName": {"Ref": lid}}})
        elif grant.kind == "idempotency":
            statements.append({"Effect": "Allow", "Action": IDEMPOTENCY_ACTIONS,
                                           "Resource": {"Fn::GetAtt": [lid, "Arn"]}})
    extra = list(settings.permissions.get("aws", []))
    if statements or extra:
        policies.append({"Version": "2012-10-17", "Statement": statements + extra})
    if policies:
        props["Policies"] = policies
    out[fid] = {"Type": "AWS::Serverless::Function", "Properties": props}
    return out


def dead_letter_url_statement(function: str, url: str) -> dict[str, Any]:
    """The grant on a ``dead_letter=`` given as a URL (an existing queue or topic the stack does not own): the
    function sends its non-retryable messages there with its own role, ``sqs:SendMessage`` / ``sns:Publish``."""
    kind = {"sqs": "queue", "sns": "topic"}.get(url.split("://", 1)[0])
    if kind is None:
        raise TemplateError(f"function {function!r}: dead_letter={url!r} is neither sqs:// nor sns://, so the "
                            "function could not reach it on AWS")
    statement = _existing_statement(kind, ("send",) if kind == "queue" else ("publish",), existing_arn(kind, url))
    assert statement is not None
    return statement


def _send_non_retryable_to(dlq: str, spec: FunctionSpec, variables: dict[str, Any], policies: list[Any]) -> None:
    """Bind the function's own redrive queue as its dead letter (``PORTAFUNC_DEADLETTER_<FUNC>``) and let it send
    there, so a non-retryable message is moved at once — as the GCP and Azure deployments do — instead of being
    retried ``max_attempts`` times before SQS redrives it."""
    variables[env_name("DEADLETTER", spec.name)] = {"Fn::Sub": f"sqs://${{{dlq}.Arn}}"}
    policies.append({"SQSSendMessagePolicy": {"QueueName": {"Fn::GetAtt": [dlq, "QueueName"]}}})


def _mapping(function_id: str, queue_arn: Any, batch_size: int, batching_window: int = 0) -> dict[str, Any]:
    """An SQS event source declared directly: SAM's ``SQS`` event would attach AWSLambdaSQSQueueExecutionRole, which
    allows receiving from every queue in the account."""
    props: dict[str, Any] = {"FunctionName": {"Ref": function_id}, "EventSourceArn": queue_arn,
                             "BatchSize": batch_size, "FunctionResponseTypes": ["ReportBatchItemFailures"]}
    if batching_window:
        props["MaximumBatchingWindowInSeconds"] = batching_window
    return {"Type": "AWS::Lambda::EventSourceMapping", "Properties": props}


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
                empty = "{}" if isinstance(item, dict) else "[]"
                lines.append(f"{pad}{_scalar(key)}: {empty if isinstance(item, (dict, list)) else _scalar(item)}")
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
