"""What each neutral trigger becomes on AWS (used by ``portafunc inspect``, the packager and the SAM template)."""

from __future__ import annotations

from portafunc.app import FunctionSpec, HttpTrigger, QueueTrigger, ScheduleTrigger, StorageTrigger, TopicTrigger
from portafunc.errors import UnsupportedTrigger
from portafunc.schedule import CronDialect
from portafunc.targets import NativeTrigger

S3_EVENTS = {"created": "s3:ObjectCreated:*", "deleted": "s3:ObjectRemoved:*",
             "archived": "s3:LifecycleTransition", "metadata_updated": "s3:ObjectTagging:*"}


def native_trigger(spec: FunctionSpec) -> NativeTrigger:
    trig = spec.trigger
    if isinstance(trig, HttpTrigger):
        auth = "AWS_IAM authorizer" if trig.auth == "function" else "no authorizer"
        if trig.auth is not None and not isinstance(trig.auth, str):
            from .deploy.http_api import NATIVE_JWT_ALGORITHMS

            native = set(trig.auth.algorithms) <= set(NATIVE_JWT_ALGORITHMS)
            auth = ("JWT authorizer, and the function verifies the token" if native else
                    "no authorizer (API Gateway's JWT authorizer verifies RSA only): the function verifies the token")
        methods = list(trig.methods) + (["HEAD"] if "GET" in trig.methods and "HEAD" not in trig.methods else [])
        return NativeTrigger("API Gateway HTTP API (payload 2.0)",
                             f"{','.join(methods)} {trig.route.template}, {auth}")
    if isinstance(trig, (QueueTrigger, TopicTrigger)):
        check_dead_letter(spec, trig)
    if isinstance(trig, QueueTrigger):
        check_batch(spec, trig)
        fifo = ", FIFO queue (.fifo)" if trig.ordered else ""
        window = f", batching window {trig.max_batching_window}s" if trig.max_batching_window else ""
        return NativeTrigger("SQS event source", f"queue {trig.queue}{fifo}, batch {trig.batch_size}{window}, "
                             f"ReportBatchItemFailures, redrive to {_dlq(trig.dead_letter)} after "
                             f"{trig.max_attempts} receives, visibility {trig.visibility_timeout}s")
    if isinstance(trig, TopicTrigger):
        return NativeTrigger("SNS topic → SQS subscription queue → SQS event source",
                             f"topic {trig.topic}, ReportBatchItemFailures, redrive to {_dlq(trig.dead_letter)} "
                             f"after {trig.max_attempts} receives")
    if isinstance(trig, ScheduleTrigger):
        return NativeTrigger("EventBridge schedule rule", trig.schedule.written(SCHEDULE_DIALECT))
    if isinstance(trig, StorageTrigger):
        events = ", ".join(S3_EVENTS[e] for e in trig.events)
        filters = "".join(f", {k} {v!r}" for k, v in (("prefix", trig.prefix), ("suffix", trig.suffix)) if v)
        return NativeTrigger("S3 event notification", f"bucket {trig.bucket}: {events}{filters}")
    raise AssertionError(f"unknown trigger {trig!r}")  # the core has exactly these five


def _dlq(dead_letter: str | None) -> str:
    return f"dead-letter queue {dead_letter}" if dead_letter and "://" not in dead_letter else "DLQ"


def check_dead_letter(spec: FunctionSpec, trig: QueueTrigger | TopicTrigger) -> None:
    """A ``dead_letter=`` URL is one the function sends to on AWS: an SQS queue or SNS topic, named so that the
    template can grant it (an ARN, or an SQS queue URL)."""
    dead = trig.dead_letter
    if not dead or "://" not in dead:
        return
    from .deploy.sam import TemplateError, existing_arn

    scheme = dead.split("://", 1)[0]
    try:
        if scheme not in ("sqs", "sns"):
            raise TemplateError(f"{scheme}:// is neither sqs:// nor sns://")
        existing_arn("queue" if scheme == "sqs" else "topic", dead)
    except TemplateError as exc:
        raise UnsupportedTrigger(spec.name, trig.describe(), "aws",
                                 f"dead_letter={dead!r} is not a queue or topic the function can be granted ({exc})",
                                 "an sqs:// or sns:// URL naming its ARN (sqs://arn:aws:sqs:REGION:ACCOUNT:NAME, "
                                 "sqs://sqs.REGION.amazonaws.com/ACCOUNT/NAME, sns://arn:aws:sns:REGION:ACCOUNT:NAME), "
                                 "or a logical queue name") from None


def check_batch(spec: FunctionSpec, trig: QueueTrigger) -> None:
    """SQS event source limits: a FIFO queue delivers at most 10 per batch; a standard queue up to 10000, above 10
    only with a batching window (Lambda refuses ``BatchSize`` > 10 without ``MaximumBatchingWindowInSeconds``)."""
    if trig.ordered and trig.batch_size > 10:
        raise UnsupportedTrigger(spec.name, trig.describe(), "aws",
                                 f"an SQS FIFO queue delivers at most 10 messages per batch, not {trig.batch_size}",
                                 "batch_size=10 or less, or an unordered queue")
    if trig.batch_size > 10 and not trig.max_batching_window:
        raise UnsupportedTrigger(spec.name, trig.describe(), "aws",
                                 f"Lambda takes an SQS batch above 10 ({trig.batch_size}) only with a batching window",
                                 "max_batching_window=1 (seconds, up to 300) or batch_size=10 or less")


# -- what the core asks the target for ---------------------------------------------------------------------------

_DAYS = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]


def to_eventbridge_cron(cron: str) -> str:
    """EventBridge ``cron(min hour dom month dow year)``: one of dom/dow must be ``?``; days are SUN-SAT names, and
    ``*/n`` is written ``start/n`` (``0/`` for minutes and hours, ``1/`` for days and months)."""
    minute, hour, dom, month, dow = cron.split(" ")
    if dow == "*":
        aws_dow = "?"
    else:
        dom = "?"
        aws_dow = _day_names(dow)
    minute = minute.replace("*/", "0/")
    hour = hour.replace("*/", "0/")
    dom = dom.replace("*/", "1/")
    month = month.replace("*/", "1/")
    return f"cron({minute} {hour} {dom} {month} {aws_dow} *)"


def _day_names(field_text: str) -> str:
    parts = []
    for part in field_text.split(","):
        base, _, step = part.partition("/")
        if base == "*":
            mapped = "*"
        elif "-" in base:
            a, b = base.split("-")
            mapped = f"{_DAYS[int(a)]}-{_DAYS[int(b)]}"
        else:
            mapped = _DAYS[int(base)]
        if step and base == "*":  # EventBridge rejects */n on day-of-week names: spell the days out
            mapped = ",".join(_DAYS[d] for d in range(0, 7, int(step)))
            step = ""
        parts.append(mapped + (f"/{step}" if step else ""))
    return ",".join(parts)


# EventBridge reads the days 1-7 from Sunday (names SUN-SAT) and wants a trailing year field.
SCHEDULE_DIALECT = CronDialect("EventBridge cron()", to_eventbridge_cron, year=True, wrapper=r"cron[(](.*)[)]",
                               sunday=1)
# Lambda's synchronous invocation payload limit (6 MB) counts the whole event JSON: a body close to it may still be
# refused (docs/reliability.md gives the source).
BODY_LIMIT = 6 * 1024 * 1024
RESERVED_ENV = (r"^AWS_", r"^LAMBDA_", r"^_HANDLER$")
# When Lambda stops supporting each Python runtime (its published deprecation schedule).
PYTHON_SUPPORT = {"3.10": "2026-10-31", "3.11": "2027-06-30", "3.12": "2028-10-31", "3.13": "2029-06-30",
                  "3.14": "2029-06-30"}


#: ``auth="function"`` as an OpenAPI security scheme: API Gateway's AWS_IAM authorizer checks it before the function.
FUNCTION_AUTH_SCHEMES = {
    "aws_iam": {"type": "apiKey", "in": "header", "name": "Authorization",
                "description": "AWS: an AWS_IAM authorizer; the request is signed with Signature Version 4 "
                               "by a principal allowed to invoke the API.",
                "x-amazon-apigateway-authtype": "awsSigv4"},
}
