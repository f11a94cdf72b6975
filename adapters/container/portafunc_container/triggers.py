"""The trigger table of the container target: what each neutral trigger becomes on the three platforms the
package writes manifests for (Cloud Run, Azure Container Apps, Knative), and what the core asks a target for
(schedule dialect, body limit, reserved variables, Python support).

One image serves every function: HTTP functions at their routes, event functions at ``/_portafunc/functions/NAME``
where the platform pushes; queues nobody pushes (a Storage Queue on Container Apps) are pulled by the worker.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from portafunc.app import FunctionSpec, HttpTrigger, QueueTrigger, ScheduleTrigger, StorageTrigger, TopicTrigger
from portafunc.errors import UnsupportedTrigger
from portafunc.schedule import UNIX_CRON, CronDialect
from portafunc.targets import NativeTrigger

from .codecs import EVENT_PATH, RESERVED_PREFIX

NAME = "container"
# Cloud Run's HTTP/1 request limit, the strictest of the three platforms (Container Apps' Envoy and Knative's
# ingress let larger bodies through).
BODY_LIMIT = 32 * 1024 * 1024
# The official python images follow python.org's support: five years from each October release.
PYTHON_SUPPORT = {"3.10": "2026-10-31", "3.11": "2027-10-31", "3.12": "2028-10-31", "3.13": "2029-10-31",
                  "3.14": "2030-10-31"}
# Variables the platforms set in the container (Cloud Run / Knative's K_*, Container Apps' CONTAINER_APP_*) and the
# service's own event settings, which the manifests set per service.
RESERVED_ENV = (r"^K_(SERVICE|REVISION|CONFIGURATION)$", r"^CONTAINER_APP_", r"^PORTAFUNC_EVENTS",
                r"^GUNICORN_CMD_ARGS$")
SCHEDULE_DIALECT: CronDialect = UNIX_CRON  # Cloud Scheduler, Container Apps jobs and PingSource read 5-field cron
_DNS_LABEL = re.compile(r"[^a-z0-9-]+")


def native_trigger(spec: FunctionSpec) -> NativeTrigger:
    trig = spec.trigger
    if isinstance(trig, HttpTrigger):
        if trig.route.template.startswith(RESERVED_PREFIX):
            raise UnsupportedTrigger(spec.name, trig.describe(), NAME, f"{RESERVED_PREFIX} is where the platforms "
                                     "push events and probe the service", "a route outside /_portafunc/")
        if trig.auth == "function":  # a JwtAuth is verified by the function itself: served like any route
            raise UnsupportedTrigger(spec.name, trig.describe(), NAME, f"auth={trig.auth!r}: the service's ingress "
                                     "is one public endpoint with no per-route platform authentication",
                                     "a JwtAuth, which the function verifies itself, or auth=\"anonymous\" with the "
                                     "app's own authentication (e.g. a middleware verifying tokens)")
        methods = list(trig.methods) + (["HEAD"] if "GET" in trig.methods and "HEAD" not in trig.methods else [])
        access = "public" if trig.auth == "anonymous" else "public, bearer JWT verified by the function"
        return NativeTrigger("HTTP route of the service", f"{','.join(methods)} {trig.route.template}, {access}")
    if isinstance(trig, QueueTrigger):
        if trig.ordered:
            raise UnsupportedTrigger(spec.name, trig.describe(), NAME, "ordered=True: a Storage Queue pulled by "
                                     "the worker and a Knative broker keep no order", "ordered=False")
        return NativeTrigger("queue push or pull", f"Cloud Run: Pub/Sub push to {EVENT_PATH}{spec.name}; Container "
                             f"Apps: worker pulling batches of {min(trig.batch_size, 32)} (KEDA azure-queue scaler); "
                             f"Knative: Trigger; dead-letter after {trig.max_attempts} attempts")
    if isinstance(trig, TopicTrigger):
        return NativeTrigger("topic subscription pushing CloudEvents",
                             f"to {EVENT_PATH}{spec.name} (Pub/Sub push, Event Grid, Knative Trigger), "
                             f"dead-letter after {trig.max_attempts} attempts")
    if isinstance(trig, ScheduleTrigger):
        return NativeTrigger("scheduler", f"'{trig.schedule.written(SCHEDULE_DIALECT)}' UTC: Cloud Scheduler job, "
                             "Container Apps scheduled job, Knative PingSource")
    if isinstance(trig, StorageTrigger):
        filt = f"; prefix {trig.prefix!r} / suffix {trig.suffix!r}" if trig.prefix or trig.suffix else ""
        return NativeTrigger("storage CloudEvents", f"bucket {trig.bucket}: {', '.join(trig.events)} to "
                             f"{EVENT_PATH}{spec.name} (Eventarc, Event Grid){filt}")
    raise UnsupportedTrigger(spec.name, trig.describe(), NAME, "unknown trigger", "http, queue, topic, schedule or "
                                                                                  "storage")


def resource_name(app: str, name: str, limit: int = 63) -> str:
    """A DNS-1123 label (Kubernetes, Cloud Run and Container Apps names): lower case, digits and '-', ``limit`` (63)
    at most. ``app`` is the app's name with its stage (``shop-prod``). A label cut to fit ends with 8 hex digits of
    the SHA-256 of the whole name, so two long names (or two stages of one) never become one."""
    label = _DNS_LABEL.sub("-", f"{app}-{name}".lower()).strip("-") or "portafunc"
    if len(label) <= limit:
        return label
    digest = hashlib.sha256(f"{app}\0{name}".encode()).hexdigest()[:8]
    return f"{label[:limit - 9].rstrip('-')}-{digest}"


def name_rules() -> dict[str, Any]:
    return {"function": lambda name: name.lower().replace("_", "-")}
