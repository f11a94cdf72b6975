"""What each neutral trigger becomes on AWS (used by ``portafunc inspect``, the packager and the SAM template)."""

from __future__ import annotations

from portafunc.app import FunctionSpec, HttpTrigger, QueueTrigger, ScheduleTrigger, StorageTrigger, TopicTrigger
from portafunc.errors import UnsupportedTrigger
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
        return NativeTrigger("EventBridge schedule rule", trig.schedule.aws)
    if isinstance(trig, StorageTrigger):
        events = ", ".join(S3_EVENTS[e] for e in trig.events)
        filters = "".join(f", {k} {v!r}" for k, v in (("prefix", trig.prefix), ("suffix", trig.suffix)) if v)
        return NativeTrigger("S3 event notification", f"bucket {trig.bucket}: {events}{filters}")
    raise AssertionError(f"unknown trigger {trig!r}")  # the core has exactly these five


def _dlq(dead_letter: str | None) -> str:
    return f"dead-letter queue {dead_letter}" if dead_letter and "://" not in dead_letter else "DLQ"


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
