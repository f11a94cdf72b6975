"""Cloud Run: two Knative-style services from one image — the public HTTP service, and the events service that
only Pub/Sub push subscriptions, Eventarc triggers and Cloud Scheduler jobs reach (IAM: their service account is
its only invoker, so ``PORTAFUNC_EVENTS=platform``) — plus ``deploy.sh`` with the gcloud commands that create the
topics, push subscriptions (exact attempts, dead-letter topics), Eventarc triggers and scheduler jobs.

A push subscription delivers one message per request with ``deliveryAttempt``; Pub/Sub's dead-letter policy
needs 5 to 100 attempts, so for a smaller ``max_attempts`` the service itself moves the message to the dead letter
on its last attempt and the policy (set to 5) is only the backstop.
"""

from __future__ import annotations

from typing import Any

from portafunc.app import App
from portafunc.messaging.binding import env_name
from portafunc.resources import Deployment

from ..codecs.storage import GCS_TYPES
from ..triggers import SCHEDULE_DIALECT, resource_name
from .common import (PORT, app_env, env_list, event_functions, event_path, explain_forwarded, http_functions, kind_of,
                     names, probe, settings, shell_quote, to_yaml_all, trust_forwarded)

PLATFORM = "cloudrun"
TITLE = "Cloud Run"
BACKENDS = "portafunc-gcp"  # the distribution whose pubsub://, gs:// and firestore:// backends the bindings use
# Cloud Run runs Linux x86_64 executables only (https://cloud.google.com/run/docs/container-contract)
ARCHITECTURES = ("amd64",)
FORWARDED = "Cloud Run's front end sets X-Forwarded-Proto (replacing a client's own) and is the only way in"


def bindings(app: App, deployment: Deployment) -> dict[str, str]:
    env: dict[str, str] = {}
    for (kind, name), res in deployment.resources.items():
        ref = resource_name(app.name, name)
        if kind == "topic":
            env[res.binding] = f"pubsub://projects/${{PROJECT}}/topics/{ref}"
        elif kind == "queue":
            env[res.binding] = f"pubsub://projects/${{PROJECT}}/subscriptions/{ref}-pull?topic={ref}"
        elif kind == "bucket":
            env[res.binding] = f"gs://${{PROJECT}}-{ref}"
        elif kind == "kv":
            env[res.binding] = f"firestore://${{PROJECT}}/{ref}"
        elif kind == "idempotency":
            env[res.binding] = f"firestore://${{PROJECT}}/{resource_name(app.name, 'idempotency')}"
    for spec in event_functions(app):
        if kind_of(spec) in ("queue", "topic"):
            env[env_name("DEADLETTER", spec.name)] = \
                f"pubsub://projects/${{PROJECT}}/topics/{resource_name(app.name, spec.name)}-dead"
    return env


def service(name: str, image: str, env: dict[str, str], memory: int, timeout: int, *, events: bool) -> dict[str, Any]:
    return {
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Service",
        "metadata": {"name": name, "labels": {"app.kubernetes.io/managed-by": "portafunc"},
                     "annotations": {"run.googleapis.com/ingress": "all"}},
        "spec": {"template": {
            "metadata": {"annotations": {"autoscaling.knative.dev/maxScale": "100",
                                         "run.googleapis.com/startup-cpu-boost": "true"}},
            "spec": {
                "containerConcurrency": 16,
                "timeoutSeconds": min(3600, timeout + 30),
                "containers": [{
                    "name": "app",
                    "image": image,
                    "ports": [{"name": "http1", "containerPort": PORT}],
                    "env": env_list({**env, "PORTAFUNC_EVENTS": "platform" if events else "off"}),
                    "resources": {"limits": {"cpu": "1", "memory": f"{memory}Mi"}},
                    "startupProbe": probe(),
                }],
            }}},
    }


def render(app: App, deployment: Deployment, image: str, arch: str = "amd64") -> dict[str, str]:
    memory, timeout = settings(deployment)
    env = trust_forwarded({**app_env(deployment), **bindings(app, deployment)})
    svc = names(app)
    docs = []
    if http_functions(app):
        docs.append(service(svc["http"], image, env, memory, timeout, events=False))
    if event_functions(app):
        docs.append(service(svc["events"], image, env, memory, timeout, events=True))
    return {"service.yaml": explain_forwarded(to_yaml_all(docs), FORWARDED), "deploy.sh": script(app, deployment, image)}


def script(app: App, deployment: Deployment, image: str) -> str:
    svc = names(app)
    lines = [
        "#!/usr/bin/env bash",
        f"# Deploys {app.name} to Cloud Run. Written by `portafunc package --target container`.",
        "# Needs: PROJECT, REGION, IMAGE (a registry path you can push to); docker and gcloud logged in.",
        "set -euo pipefail",
        'cd "$(dirname "$0")"',
        ': "${PROJECT:?set PROJECT}" "${REGION:?set REGION}" "${IMAGE:?set IMAGE, e.g. REGION-docker.pkg.dev/PROJECT/repo/'
        f'{app.name}}}"',
        'docker build -t "$IMAGE" ../context && docker push "$IMAGE"',
        f'INVOKER="{resource_name(app.name, "push")}@${{PROJECT}}.iam.gserviceaccount.com"',
        f'gcloud iam service-accounts describe "$INVOKER" --project="$PROJECT" >/dev/null 2>&1 || '
        f'gcloud iam service-accounts create {resource_name(app.name, "push")} --project="$PROJECT"',
        f'sed -e "s|image: {image}|image: $IMAGE|" -e "s|\\${{PROJECT}}|$PROJECT|g" service.yaml > service.deploy.yaml',
        'gcloud run services replace service.deploy.yaml --project="$PROJECT" --region="$REGION"',
    ]
    if http_functions(app):
        lines.append(f'gcloud run services add-iam-policy-binding {svc["http"]} --project="$PROJECT" '
                     '--region="$REGION" --member=allUsers --role=roles/run.invoker')
    events = event_functions(app)
    if events:
        lines += [f'gcloud run services add-iam-policy-binding {svc["events"]} --project="$PROJECT" '
                  '--region="$REGION" --member="serviceAccount:$INVOKER" --role=roles/run.invoker',
                  f'EVENTS_URL=$(gcloud run services describe {svc["events"]} --project="$PROJECT" --region="$REGION" '
                  "--format='value(status.url)')"]
    for (kind, name), _ in deployment.resources.items():
        if kind in ("topic", "queue"):
            ref = resource_name(app.name, name)
            lines.append(f'gcloud pubsub topics describe {ref} --project="$PROJECT" >/dev/null 2>&1 || '
                         f'gcloud pubsub topics create {ref} --project="$PROJECT"')
    for spec in events:
        kind, trig = kind_of(spec), spec.trigger
        url = f'"$EVENTS_URL{event_path(spec)}"'
        if kind in ("queue", "topic"):
            source = resource_name(app.name, trig.queue if kind == "queue" else trig.topic)
            dead = f"{resource_name(app.name, spec.name)}-dead"
            ack = min(600, max(10, getattr(trig, "visibility_timeout", 60)))
            lines += [
                f'gcloud pubsub topics describe {dead} --project="$PROJECT" >/dev/null 2>&1 || '
                f'gcloud pubsub topics create {dead} --project="$PROJECT"',
                f'gcloud pubsub subscriptions create {resource_name(app.name, spec.name)}-push --project="$PROJECT" '
                f'--topic={source} --push-endpoint={url} --push-auth-service-account="$INVOKER" '
                f'--ack-deadline={ack} --dead-letter-topic={dead} '
                f'--max-delivery-attempts={min(100, max(5, trig.max_attempts))} '
                '--min-retry-delay=10s --max-retry-delay=600s',
            ]
        elif kind == "storage":
            for kind_name in trig.events:
                ce_type = next((t for t, k in GCS_TYPES.items() if k == kind_name), None)
                if ce_type is None:
                    continue
                lines.append(
                    f'gcloud eventarc triggers create {resource_name(app.name, spec.name + "-" + kind_name)} '
                    f'--project="$PROJECT" --location="$REGION" --destination-run-service={svc["events"]} '
                    f'--destination-run-region="$REGION" --destination-run-path={event_path(spec)} '
                    f'--event-filters=type={ce_type} --event-filters=bucket="$PROJECT-'
                    f'{resource_name(app.name, trig.bucket)}" --service-account="$INVOKER"')
        elif kind == "schedule":
            cron = trig.schedule.written(SCHEDULE_DIALECT)
            lines.append(
                f'gcloud scheduler jobs create http {resource_name(app.name, spec.name)} --project="$PROJECT" '
                f'--location="$REGION" --schedule={shell_quote(cron)} --time-zone=UTC --uri={url} '
                '--http-method=POST --oidc-service-account-email="$INVOKER"')
    return "\n".join(lines) + "\n"
