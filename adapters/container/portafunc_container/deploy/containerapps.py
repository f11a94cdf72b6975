"""Azure Container Apps: the HTTP app, an events app that Event Grid pushes CloudEvents to (a public endpoint, so
every delivery must carry ``Authorization: Bearer`` with the events secret, set on each subscription as a static
delivery attribute; no Dapr), one worker app per queue function pulling its Storage Queue and scaled by KEDA's
``azure-queue`` scaler (0 replicas while the queue is empty), and a scheduled Container Apps job per schedule
function running ``python -m portafunc_container.worker --fire NAME``.

Files: ``app.yaml`` / ``events.yaml`` / ``worker-NAME.yaml`` for ``az containerapp create --yaml`` and
``deploy.sh`` with the ``az`` commands (environment, storage queues, Event Grid subscriptions, jobs).
"""

from __future__ import annotations

from typing import Any

from portafunc.app import App
from portafunc.messaging.binding import env_name
from portafunc.resources import Deployment

from ..codecs.storage import BLOB_TYPES
from ..triggers import SCHEDULE_DIALECT, resource_name
from .common import PORT, app_env, event_functions, event_path, explain_forwarded, http_functions, kind_of, names, \
    probe, settings, shell_quote, to_yaml, trust_forwarded

PLATFORM = "containerapps"
TITLE = "Azure Container Apps"
# Container Apps runs Linux x86-64 (linux/amd64) images only (https://learn.microsoft.com/azure/container-apps/containers)
ARCHITECTURES = ("amd64",)
FORWARDED = "the Container Apps ingress sets X-Forwarded-Proto (replacing a client's own) and is the only way in"
BACKENDS = "portafunc-azure"  # azqueue://, eventgrid://, azblob://, aztable://
CONNECTION = "storage-connection"  # the secret holding the storage account's connection string
EVENTS_SECRET = "events-secret"


def bindings(app: App, deployment: Deployment) -> dict[str, str]:
    env: dict[str, str] = {}
    for (kind, name), res in deployment.resources.items():
        ref = resource_name(app.name, name)
        if kind == "queue":
            env[res.binding] = f"azqueue://${{ACCOUNT}}/{ref}"
        elif kind == "topic":
            env[res.binding] = f"eventgrid://{ref}.${{REGION}}-1.eventgrid.azure.net/api/events"
        elif kind == "bucket":
            env[res.binding] = f"azblob://${{ACCOUNT}}/{ref}"
        elif kind == "kv":
            env[res.binding] = f"aztable://${{ACCOUNT}}/{ref.replace('-', '')}"
        elif kind == "idempotency":
            env[res.binding] = f"aztable://{resource_name(app.name, 'idempotency').replace('-', '')}"
    for spec in event_functions(app):
        if kind_of(spec) in ("queue", "topic"):
            env[env_name("DEADLETTER", spec.name)] = f"azqueue://${{ACCOUNT}}/{poison_queue(app.name, spec.name)}"
    return env


def poison_queue(app: str, function: str) -> str:
    """The dead-letter queue of an event function: its resource name and ``-poison``, within Storage's 63 characters
    for a queue name. A name cut to fit ends in 8 hex digits of its SHA-256, so two long names stay two queues."""
    base = resource_name(app, function)
    if len(base) > 63 - len("-poison"):
        import hashlib

        digest = hashlib.sha256(f"{app}\0{function}".encode()).hexdigest()[:8]  # of the names before any cut
        base = f"{base[:63 - len('-poison') - 9].rstrip('-')}-{digest}"
    return f"{base}-poison"


def _env(values: dict[str, str]) -> list[dict[str, str]]:
    out = [{"name": k, "value": v} for k, v in sorted(values.items())]
    for variable in ("PORTAFUNC_AZQUEUE_CONNECTION", "PORTAFUNC_AZBLOB_CONNECTION", "PORTAFUNC_AZTABLE_CONNECTION"):
        out.append({"name": variable, "secretRef": CONNECTION})
    return out


def container_app(name: str, image: str, env: dict[str, str], memory: int, *, ingress: bool,
                  scale_rules: list[dict[str, Any]], command: list[str] | None = None,
                  secrets: tuple[str, ...] = ()) -> dict[str, Any]:
    container: dict[str, Any] = {"name": "app", "image": image, "env": _env(env),
                                 "resources": {"cpu": 0.5, "memory": f"{max(1.0, memory / 1024):.1f}Gi"}}
    if command:
        container["command"] = command
    if ingress:
        container["probes"] = [{"type": "Startup", **probe()}]
    configuration: dict[str, Any] = {
        "secrets": [{"name": CONNECTION, "value": "${STORAGE_CONNECTION}"}]
        + [{"name": s, "value": "${EVENTS_SECRET}"} for s in secrets],
        "activeRevisionsMode": "Single",
    }
    if ingress:
        configuration["ingress"] = {"external": True, "targetPort": PORT, "transport": "auto",
                                    "allowInsecure": False}
    return {
        "name": name,
        "type": "Microsoft.App/containerApps",
        "properties": {
            "managedEnvironmentId": "${ENVIRONMENT_ID}",
            "configuration": configuration,
            "template": {"containers": [container],
                         "scale": {"minReplicas": 0, "maxReplicas": 10, "rules": scale_rules}},
        },
    }


def render(app: App, deployment: Deployment, image: str, arch: str = "amd64") -> dict[str, str]:
    memory, _ = settings(deployment)
    env = {**app_env(deployment), **bindings(app, deployment)}
    svc = names(app)
    http_rule = [{"name": "http", "http": {"metadata": {"concurrentRequests": "16"}}}]
    files: dict[str, str] = {}
    if http_functions(app):
        files["app.yaml"] = explain_forwarded(to_yaml(container_app(
            svc["http"], image, trust_forwarded({**env, "PORTAFUNC_EVENTS": "off"}), memory, ingress=True,
            scale_rules=http_rule)), FORWARDED)
    pushed = [s for s in event_functions(app) if kind_of(s) in ("topic", "storage")]
    if pushed:
        events_env = trust_forwarded({**env, "PORTAFUNC_EVENTS": "secret"})
        doc = container_app(svc["events"], image, events_env, memory, ingress=True, scale_rules=http_rule,
                            secrets=(EVENTS_SECRET,))
        doc["properties"]["template"]["containers"][0]["env"].append(
            {"name": "PORTAFUNC_EVENTS_SECRET", "secretRef": EVENTS_SECRET})
        files["events.yaml"] = explain_forwarded(to_yaml(doc), FORWARDED)
    for spec in event_functions(app):
        if kind_of(spec) != "queue":
            continue
        trig = spec.trigger
        rule = {"name": "queue", "custom": {"type": "azure-queue", "metadata": {
            "queueName": resource_name(app.name, trig.queue), "queueLength": str(min(trig.batch_size, 32)),
            "accountName": "${ACCOUNT}"}, "auth": [{"secretRef": CONNECTION, "triggerParameter": "connection"}]}}
        files[f"worker-{spec.name}.yaml"] = to_yaml(container_app(
            resource_name(app.name, f"{spec.name}-worker"), image, env, memory, ingress=False, scale_rules=[rule],
            command=["python", "-m", "portafunc_container.worker", "--function", spec.name]))
    files["deploy.sh"] = script(app, deployment, image, files)
    return files


def script(app: App, deployment: Deployment, image: str, files: dict[str, str]) -> str:
    svc = names(app)
    # the job's environment: the configuration's values literally, the bindings with ${ACCOUNT}/${REGION} expanded
    job_env = " ".join([shell_quote(f"{k}={v}") for k, v in sorted(app_env(deployment).items())]
                       + [f'"{k}={v}"' for k, v in sorted(bindings(app, deployment).items())])
    lines = [
        "#!/usr/bin/env bash",
        f"# Deploys {app.name} to Azure Container Apps. Written by `portafunc package --target container`.",
        "# Needs: RESOURCE_GROUP, ENVIRONMENT (a Container Apps environment), ACCOUNT (a storage account), REGION,",
        "# IMAGE (a registry path the environment pulls from); docker and az logged in.",
        "set -euo pipefail",
        'cd "$(dirname "$0")"',
        ': "${RESOURCE_GROUP:?}" "${ENVIRONMENT:?}" "${ACCOUNT:?}" "${REGION:?}" "${IMAGE:?}"',
        'docker build -t "$IMAGE" ../context && docker push "$IMAGE"',
        'ENVIRONMENT_ID=$(az containerapp env show -g "$RESOURCE_GROUP" -n "$ENVIRONMENT" --query id -o tsv)',
        'STORAGE_CONNECTION=$(az storage account show-connection-string -g "$RESOURCE_GROUP" -n "$ACCOUNT" '
        '--query connectionString -o tsv)',
        'EVENTS_SECRET=${EVENTS_SECRET:-$(head -c 32 /dev/urandom | base64 | tr -d "/+=")}',
        "export ENVIRONMENT_ID STORAGE_CONNECTION EVENTS_SECRET",
        "render() { python3 -c 'import os,sys; sys.stdout.write(os.path.expandvars(sys.stdin.read()))' "
        f'| sed "s|image: {image}|image: $IMAGE|"; }}',
    ]
    for (kind, name), _ in deployment.resources.items():
        if kind == "queue":
            lines.append(f'az storage queue create --account-name "$ACCOUNT" --connection-string '
                         f'"$STORAGE_CONNECTION" --name {resource_name(app.name, name)}')
    for spec in event_functions(app):
        if kind_of(spec) in ("queue", "topic"):
            lines.append(f'az storage queue create --account-name "$ACCOUNT" --connection-string '
                         f'"$STORAGE_CONNECTION" --name {poison_queue(app.name, spec.name)}')
    for file in sorted(files):
        if file.endswith(".yaml"):
            name = file[:-5]
            app_name = {"app": svc["http"], "events": svc["events"]}.get(name) or \
                resource_name(app.name, f"{name[len('worker-'):]}-worker")
            lines.append(f'render < {file} > {name}.deploy.yaml && az containerapp create -g "$RESOURCE_GROUP" '
                         f'-n {app_name} --yaml {name}.deploy.yaml')
    if "events.yaml" in files:
        lines.append(f'EVENTS_HOST=$(az containerapp show -g "$RESOURCE_GROUP" -n {svc["events"]} '
                     '--query properties.configuration.ingress.fqdn -o tsv)')
    for spec in event_functions(app):
        kind, trig = kind_of(spec), spec.trigger
        endpoint = f'"https://$EVENTS_HOST{event_path(spec)}"'
        common = (f'--endpoint {endpoint} --event-delivery-schema cloudeventschemav1_0 '
                  '--delivery-attribute-mapping Authorization static "Bearer $EVENTS_SECRET" true')
        if kind == "topic":
            topic = resource_name(app.name, trig.topic)
            lines += [f'az eventgrid topic create -g "$RESOURCE_GROUP" -n {topic} -l "$REGION" '
                      '--input-schema cloudeventschemav1_0',
                      f'az eventgrid event-subscription create -n {resource_name(app.name, spec.name)} '
                      f'--source-resource-id "$(az eventgrid topic show -g "$RESOURCE_GROUP" -n {topic} --query id '
                      f'-o tsv)" {common} --max-delivery-attempts {min(30, trig.max_attempts)} '
                      f'--deadletter-endpoint "$(az storage account show -g "$RESOURCE_GROUP" -n "$ACCOUNT" --query '
                      f'id -o tsv)/blobServices/default/containers/{resource_name(app.name, spec.name)}-dead"']
        elif kind == "storage":
            types = " ".join(t for t, k in BLOB_TYPES.items() if k in trig.events)
            subject = f"/blobServices/default/containers/{resource_name(app.name, trig.bucket)}/blobs/{trig.prefix}"
            lines.append(f'az eventgrid event-subscription create -n {resource_name(app.name, spec.name)} '
                         f'--source-resource-id "$(az storage account show -g "$RESOURCE_GROUP" -n "$ACCOUNT" '
                         f'--query id -o tsv)" {common} --included-event-types {types} '
                         f'--subject-begins-with {shell_quote(subject)}'
                         + (f' --subject-ends-with {shell_quote(trig.suffix)}' if trig.suffix else ""))
        elif kind == "schedule":
            cron = trig.schedule.written(SCHEDULE_DIALECT)
            lines.append(f'az containerapp job create -g "$RESOURCE_GROUP" -n {resource_name(app.name, spec.name)} '
                         f'--environment "$ENVIRONMENT" --trigger-type Schedule --cron-expression {shell_quote(cron)} '
                         '--replica-timeout 1800 --replica-retry-limit 1 --image "$IMAGE" '
                         f'--command python -m portafunc_container.worker --fire {spec.name} '
                         '--secrets "storage-connection=$STORAGE_CONNECTION" '
                         '--env-vars "PORTAFUNC_AZQUEUE_CONNECTION=secretref:storage-connection" '
                         '"PORTAFUNC_AZBLOB_CONNECTION=secretref:storage-connection" '
                         '"PORTAFUNC_AZTABLE_CONNECTION=secretref:storage-connection" ' + job_env)
    return "\n".join(lines) + "\n"
