"""Azure Container Apps: the HTTP app, an events app that Event Grid pushes CloudEvents to (a public endpoint, so
every delivery must carry ``Authorization: Bearer`` with the events secret, set on each subscription as a static
delivery attribute; no Dapr), one worker app per queue function pulling its Storage Queue and scaled by KEDA's
``azure-queue`` scaler (0 replicas while the queue is empty), and a scheduled Container Apps job per schedule
function running ``python -m portafunc_container.worker --fire NAME``.

Files: ``app.yaml`` / ``events.yaml`` / ``worker-NAME.yaml`` for ``az containerapp create --yaml`` and
``deploy.sh`` with the ``az`` commands (storage queues, blob containers and tables in the given storage account,
Event Grid topics and subscriptions, the apps, jobs). The resource group, the Container Apps environment, the storage
account and the registry are the user's. With a stage, every name the files give (apps, jobs, queues, containers,
tables, Event Grid topics and subscriptions) carries it, so two stages share nothing in one resource group.
"""

from __future__ import annotations

from typing import Any

from portafunc.app import App
from portafunc.messaging.binding import env_name
from portafunc.resources import Deployment

from ..codecs.storage import BLOB_TYPES
from ..triggers import SCHEDULE_DIALECT, resource_name
from .common import PORT, app_env, event_functions, event_path, explain_forwarded, http_functions, kind_of, \
    prefix, probe, settings, shell_quote, to_yaml, trust_forwarded

PLATFORM = "containerapps"
TITLE = "Azure Container Apps"
# Container Apps runs Linux x86-64 (linux/amd64) images only (https://learn.microsoft.com/azure/container-apps/containers)
ARCHITECTURES = ("amd64",)
FORWARDED = "the Container Apps ingress sets X-Forwarded-Proto (replacing a client's own) and is the only way in"
BACKENDS = "portafunc-azure"  # azqueue://, eventgrid://, azblob://, aztable://
CONNECTION = "storage-connection"  # the secret holding the storage account's connection string
EVENTS_SECRET = "events-secret"
#: The client library of the azure backends each resource kind is reached through at run time.
SDK_BY_KIND = {"queue": "azure-storage-queue", "topic": "azure-eventgrid", "bucket": "azure-storage-blob",
               "kv": "azure-data-tables", "idempotency": "azure-data-tables"}
APP_NAME = 32  # a container app's or job's name: 2-32 lower-case letters, digits and '-'
EVENTGRID_TOPIC = 50  # an Event Grid topic's name: 3-50 characters


class Names:
    """Every name the Container Apps files give, from the app's stem (its name and stage)."""

    def __init__(self, app: App, deployment: Deployment) -> None:
        self.stem = prefix(app, deployment)
        self.http, self.events = self.app("http"), self.app("events")

    def app(self, name: str) -> str:
        """A container app or job."""
        return resource_name(self.stem, name, APP_NAME)

    def worker(self, function: str) -> str:
        return self.app(f"{function}-worker")

    def queue(self, name: str) -> str:
        return resource_name(self.stem, name)

    def poison(self, function: str) -> str:
        return poison_queue(self.stem, function)

    def topic(self, name: str) -> str:
        return resource_name(self.stem, name, EVENTGRID_TOPIC)

    def container(self, name: str) -> str:
        """A blob container (a bucket)."""
        return resource_name(self.stem, name)

    def dead_container(self, function: str) -> str:
        """The blob container Event Grid dead-letters a topic subscription's events into."""
        return resource_name(self.stem, f"{function}-dead")

    def table(self, name: str) -> str:
        """A table: letters and digits only."""
        return resource_name(self.stem, name).replace("-", "")

    def subscription(self, function: str) -> str:
        return resource_name(self.stem, function)


def bindings(app: App, deployment: Deployment) -> dict[str, str]:
    n = Names(app, deployment)
    env: dict[str, str] = {}
    for (kind, name), res in deployment.resources.items():
        if kind == "queue":
            env[res.binding] = f"azqueue://${{ACCOUNT}}/{n.queue(name)}"
        elif kind == "topic":
            env[res.binding] = f"eventgrid://{n.topic(name)}.${{REGION}}-1.eventgrid.azure.net/api/events"
        elif kind == "bucket":
            env[res.binding] = f"azblob://${{ACCOUNT}}/{n.container(name)}"
        elif kind == "kv":
            env[res.binding] = f"aztable://${{ACCOUNT}}/{n.table(name)}"
        elif kind == "idempotency":
            env[res.binding] = f"aztable://{n.table('idempotency')}"
    for spec in event_functions(app):
        if kind_of(spec) in ("queue", "topic"):
            env[env_name("DEADLETTER", spec.name)] = f"azqueue://${{ACCOUNT}}/{n.poison(spec.name)}"
    return env


def used_sdks(app: App, deployment: Deployment) -> set[str]:
    """The client libraries the image needs for this app on Container Apps: those of the kinds its functions call
    (publish, send, read, write), Storage Queues when a queue function is pulled or a queue or topic function may
    dead-letter (its poison queue), Blob Storage when a storage function may read the blob that arrived."""
    used = {SDK_BY_KIND[g.kind] for fn in deployment.functions.values() for g in fn.grants
            if g.kind in SDK_BY_KIND and (set(g.access) - {"consume"} or g.kind == "bucket")}
    if any(kind_of(spec) in ("queue", "topic") for spec in event_functions(app)):
        used.add(SDK_BY_KIND["queue"])
    return used


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
    n = Names(app, deployment)
    http_rule = [{"name": "http", "http": {"metadata": {"concurrentRequests": "16"}}}]
    files: dict[str, str] = {}
    apps: dict[str, str] = {}  # file -> the container app it creates
    if http_functions(app):
        files["app.yaml"] = explain_forwarded(to_yaml(container_app(
            n.http, image, trust_forwarded({**env, "PORTAFUNC_EVENTS": "off"}), memory, ingress=True,
            scale_rules=http_rule)), FORWARDED)
        apps["app.yaml"] = n.http
    pushed = [s for s in event_functions(app) if kind_of(s) in ("topic", "storage")]
    if pushed:
        events_env = trust_forwarded({**env, "PORTAFUNC_EVENTS": "secret"})
        doc = container_app(n.events, image, events_env, memory, ingress=True, scale_rules=http_rule,
                            secrets=(EVENTS_SECRET,))
        doc["properties"]["template"]["containers"][0]["env"].append(
            {"name": "PORTAFUNC_EVENTS_SECRET", "secretRef": EVENTS_SECRET})
        files["events.yaml"] = explain_forwarded(to_yaml(doc), FORWARDED)
        apps["events.yaml"] = n.events
    for spec in event_functions(app):
        if kind_of(spec) != "queue":
            continue
        trig = spec.trigger
        rule = {"name": "queue", "custom": {"type": "azure-queue", "metadata": {
            "queueName": n.queue(trig.queue), "queueLength": str(min(trig.batch_size, 32)),
            "accountName": "${ACCOUNT}"}, "auth": [{"secretRef": CONNECTION, "triggerParameter": "connection"}]}}
        files[f"worker-{spec.name}.yaml"] = to_yaml(container_app(
            n.worker(spec.name), image, env, memory, ingress=False, scale_rules=[rule],
            command=["python", "-m", "portafunc_container.worker", "--function", spec.name]))
        apps[f"worker-{spec.name}.yaml"] = n.worker(spec.name)
    files["deploy.sh"] = script(app, deployment, image, apps)
    return files


def script(app: App, deployment: Deployment, image: str, apps: dict[str, str]) -> str:
    n = Names(app, deployment)
    # the job's environment: the configuration's values literally, the bindings with ${ACCOUNT}/${REGION} expanded
    job_env = " ".join([shell_quote(f"{k}={v}") for k, v in sorted(app_env(deployment).items())]
                       + [f'"{k}={v}"' for k, v in sorted(bindings(app, deployment).items())])
    storage = 'az storage {} create --account-name "$ACCOUNT" --connection-string "$STORAGE_CONNECTION" --name {}'
    stage = f" (stage {deployment.stage})" if deployment.stage else ""
    lines = [
        "#!/usr/bin/env bash",
        f"# Deploys {app.name}{stage} to Azure Container Apps. Written by `portafunc package --target container`.",
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
    # the storage account's queues, blob containers and tables the bindings name (each create is a no-op when the
    # resource exists)
    for (kind, name), _ in deployment.resources.items():
        if kind == "queue":
            lines.append(storage.format("queue", n.queue(name)))
        elif kind == "bucket":
            lines.append(storage.format("container", n.container(name)))
        elif kind == "kv":
            lines.append(storage.format("table", n.table(name)))
        elif kind == "idempotency":
            lines.append(storage.format("table", n.table("idempotency")))
    for spec in event_functions(app):
        if kind_of(spec) in ("queue", "topic"):
            lines.append(storage.format("queue", n.poison(spec.name)))
        if kind_of(spec) == "topic":
            lines.append(storage.format("container", n.dead_container(spec.name)))
    for file, name in sorted(apps.items()):
        stem = file[:-len(".yaml")]
        lines.append(f'render < {file} > {stem}.deploy.yaml && az containerapp create -g "$RESOURCE_GROUP" '
                     f'-n {name} --yaml {stem}.deploy.yaml')
    if "events.yaml" in apps:
        lines.append(f'EVENTS_HOST=$(az containerapp show -g "$RESOURCE_GROUP" -n {n.events} '
                     '--query properties.configuration.ingress.fqdn -o tsv)')
    for spec in event_functions(app):
        kind, trig = kind_of(spec), spec.trigger
        endpoint = f'"https://$EVENTS_HOST{event_path(spec)}"'
        common = (f'--endpoint {endpoint} --event-delivery-schema cloudeventschemav1_0 '
                  '--delivery-attribute-mapping Authorization static "Bearer $EVENTS_SECRET" true')
        if kind == "topic":
            topic = n.topic(trig.topic)
            lines += [f'az eventgrid topic create -g "$RESOURCE_GROUP" -n {topic} -l "$REGION" '
                      '--input-schema cloudeventschemav1_0',
                      f'az eventgrid event-subscription create -n {n.subscription(spec.name)} '
                      f'--source-resource-id "$(az eventgrid topic show -g "$RESOURCE_GROUP" -n {topic} --query id '
                      f'-o tsv)" {common} --max-delivery-attempts {min(30, trig.max_attempts)} '
                      f'--deadletter-endpoint "$(az storage account show -g "$RESOURCE_GROUP" -n "$ACCOUNT" --query '
                      f'id -o tsv)/blobServices/default/containers/{n.dead_container(spec.name)}"']
        elif kind == "storage":
            types = " ".join(t for t, k in BLOB_TYPES.items() if k in trig.events)
            subject = f"/blobServices/default/containers/{n.container(trig.bucket)}/blobs/{trig.prefix}"
            lines.append(f'az eventgrid event-subscription create -n {n.subscription(spec.name)} '
                         f'--source-resource-id "$(az storage account show -g "$RESOURCE_GROUP" -n "$ACCOUNT" '
                         f'--query id -o tsv)" {common} --included-event-types {types} '
                         f'--subject-begins-with {shell_quote(subject)}'
                         + (f' --subject-ends-with {shell_quote(trig.suffix)}' if trig.suffix else ""))
        elif kind == "schedule":
            cron = trig.schedule.written(SCHEDULE_DIALECT)
            lines.append(f'az containerapp job create -g "$RESOURCE_GROUP" -n {n.app(spec.name)} '
                         f'--environment "$ENVIRONMENT" --trigger-type Schedule --cron-expression {shell_quote(cron)} '
                         '--replica-timeout 1800 --replica-retry-limit 1 --image "$IMAGE" '
                         f'--command python -m portafunc_container.worker --fire {spec.name} '
                         '--secrets "storage-connection=$STORAGE_CONNECTION" '
                         '--env-vars "PORTAFUNC_AZQUEUE_CONNECTION=secretref:storage-connection" '
                         '"PORTAFUNC_AZBLOB_CONNECTION=secretref:storage-connection" '
                         '"PORTAFUNC_AZTABLE_CONNECTION=secretref:storage-connection" ' + job_env)
    return "\n".join(lines) + "\n"
