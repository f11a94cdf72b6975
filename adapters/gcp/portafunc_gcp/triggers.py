"""The GCP trigger table: what each neutral trigger becomes on Cloud Functions (gen 2), Pub/Sub, Eventarc and
Cloud Scheduler, with the limits the core asks the target for."""

from __future__ import annotations

from portafunc.app import FunctionSpec, HttpTrigger, QueueTrigger, ScheduleTrigger, StorageTrigger, TopicTrigger
from portafunc.errors import UnsupportedTrigger
from portafunc.schedule import UNIX_CRON, CronDialect
from portafunc.targets import NativeTrigger

from .codecs.storage import KIND_TO_CE
from .deploy.main_py import check_name
from .outcome import PUBSUB_MAX_ATTEMPTS as MAX_ATTEMPTS, PUBSUB_MIN_ATTEMPTS as MIN_ATTEMPTS  # a policy's range


def check_trigger(spec: FunctionSpec) -> NativeTrigger:
    """What ``spec`` becomes on GCP, or :class:`UnsupportedTrigger` saying what to use instead."""
    check_name(spec)
    trig = spec.trigger
    if isinstance(trig, HttpTrigger):
        methods = list(trig.methods) + (["HEAD"] if "GET" in trig.methods and "HEAD" not in trig.methods else [])
        access = "IAM-authenticated" if trig.auth == "function" else "public"
        if trig.auth not in ("anonymous", "function"):
            access = "public to IAM, bearer JWT verified by the function"
        return NativeTrigger("HTTP route of the app's one HTTP service",
                             f"{','.join(methods)} {trig.route.template}, {access}")
    if isinstance(trig, (TopicTrigger, QueueTrigger)):
        if isinstance(trig, TopicTrigger) and trig.max_attempts < MIN_ATTEMPTS:
            raise UnsupportedTrigger(spec.name, trig.describe(), "gcp",
                                     f"max_attempts={trig.max_attempts}: a topic function is delivered by Eventarc, "
                                     f"whose Pub/Sub subscription moves a message to its dead-letter topic after "
                                     f"{MIN_ATTEMPTS} to {MAX_ATTEMPTS} delivery attempts, and its CloudEvent does not "
                                     "say which attempt it is, so the function cannot move it sooner itself (a "
                                     "failure that retrying cannot fix can raise NonRetryableError: the message goes "
                                     "to the dead-letter topic at once)",
                                     f"max_attempts={MIN_ATTEMPTS}")
        if isinstance(trig, TopicTrigger):
            return NativeTrigger("Pub/Sub topic trigger (Eventarc messagePublished CloudEvent)",
                                 f"--trigger-topic={trig.topic} --retry, dead-letter after "
                                 f"{trig.max_attempts} attempts")
        if trig.max_attempts < MIN_ATTEMPTS:
            dead = (f"dead-letter after {trig.max_attempts} attempts (moved by the function: the push says which "
                    f"delivery it is; the subscription's dead-letter policy at {MIN_ATTEMPTS} is the backstop)")
        else:
            dead = f"dead-letter after {trig.max_attempts} attempts"
        return NativeTrigger("Pub/Sub push subscription",
                             f"topic {trig.queue}, ack deadline {min(600, max(10, trig.visibility_timeout))}s, "
                             f"{dead}" + (", message ordering" if trig.ordered else "") + ", one message per request")
    if isinstance(trig, ScheduleTrigger):
        return NativeTrigger("Cloud Scheduler HTTP job", f"'{trig.schedule.written(SCHEDULE_DIALECT)}' UTC, "
                                 "POST with OIDC token")
    if isinstance(trig, StorageTrigger):
        types = ", ".join(KIND_TO_CE[e].rsplit(".", 1)[1] for e in trig.events)
        filt = f"; prefix {trig.prefix!r} / suffix {trig.suffix!r} filtered in the function" \
            if trig.prefix or trig.suffix else ""
        return NativeTrigger("Cloud Storage trigger (Eventarc)", f"bucket {trig.bucket}: {types}{filt}")
    raise UnsupportedTrigger(spec.name, trig.describe(), "gcp", "unknown trigger", "http, topic, queue, "
                                                                                   "schedule or storage")


# -- what the core asks the target for ---------------------------------------------------------------------------

SCHEDULE_DIALECT: CronDialect = UNIX_CRON  # Cloud Scheduler reads the 5-field unix-cron as it is
BODY_LIMIT = 32 * 1024 * 1024  # Cloud Run functions' HTTP/1 request limit (docs/reliability.md gives the source)
RESERVED_ENV = (r"^K_SERVICE$", r"^FUNCTION_TARGET$")
# When Cloud Run functions stops supporting each Python runtime (its published schedule).
PYTHON_SUPPORT = {"3.10": "2026-10-04", "3.11": "2027-10-24", "3.12": "2028-10-02", "3.13": "2029-10-10",
                  "3.14": "2030-10-10"}


#: ``auth="function"`` as an OpenAPI security scheme: Cloud Run IAM checks the ID token before the function.
FUNCTION_AUTH_SCHEMES = {
    "google_id_token": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                        "description": "Google Cloud: a Google-signed ID token of a caller holding the Cloud "
                                       "Run invoker role."},
}
