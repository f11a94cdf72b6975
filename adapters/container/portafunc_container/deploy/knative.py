"""Knative: the public HTTP Service, a cluster-local events Service (only the broker reaches it, so
``PORTAFUNC_EVENTS=platform``), a Trigger per topic, queue and storage function (filtered by CloudEvent type,
retries = ``max_attempts - 1`` with exponential backoff, dead letters to a sink) and a PingSource per schedule.

Events enter the broker as CloudEvents: ``io.portafunc.message`` with the ``portafunctopic`` / ``portafuncqueue``
extension naming the logical topic or queue, and ``io.portafunc.storage.<kind>`` with the ``portafuncbucket``
extension. The broker is ``default``, or the stage's (``--stage prod``: ``prod``), so the Triggers of two stages in
one namespace never see each other's events; every object's name carries the stage too. The broker, the dead-letter
sink and the resources behind the bindings are the cluster's (Knative has no messaging or storage service of its
own): ``deploy.sh`` refuses to apply without the broker, and lists at its top the binding variables the
configuration's env must set for the stage.
"""

from __future__ import annotations

import re
from typing import Any

from portafunc.app import App
from portafunc.resources import Deployment

from ..codecs.queue import MESSAGE_TYPE
from ..codecs.storage import NEUTRAL_PREFIX
from ..triggers import SCHEDULE_DIALECT, resource_name
from .common import PORT, app_env, env_list, event_functions, event_path, explain_forwarded, http_functions, kind_of, \
    names, prefix, probe, settings, to_yaml_all, trust_forwarded

PLATFORM = "knative"
TITLE = "Knative"
ARCHITECTURES = ("amd64", "arm64")  # the Services' pods are pinned to the image's: a nodeSelector on kubernetes.io/arch
FORWARDED = "only Knative's ingress (which sets X-Forwarded-Proto) and the queue-proxy reach the container"
BROKER = "default"  # without a stage; with one, the broker is named after it
DEAD_LETTER_SINK = "${DEAD_LETTER_SINK}"  # replaced by deploy.sh


def service(name: str, image: str, env: dict[str, str], memory: int, timeout: int, *, events: bool,
            arch: str = "amd64") -> dict[str, Any]:
    labels = {"app.kubernetes.io/managed-by": "portafunc"}
    if events:
        labels["networking.knative.dev/visibility"] = "cluster-local"
    return {
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Service",
        "metadata": {"name": name, "labels": labels},
        "spec": {"template": {"spec": {
            "containerConcurrency": 16,
            "timeoutSeconds": min(3600, timeout + 30),
            "containers": [{
                "name": "app",
                "image": image,
                "ports": [{"name": "http1", "containerPort": PORT}],
                "env": env_list({**env, "PORTAFUNC_EVENTS": "platform" if events else "off"}),
                "resources": {"requests": {"cpu": "250m", "memory": f"{memory}Mi"},
                              "limits": {"memory": f"{memory}Mi"}},
                "readinessProbe": probe(),
                "securityContext": {"runAsNonRoot": True, "allowPrivilegeEscalation": False,
                                    "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"}},
            }],
            "nodeSelector": {"kubernetes.io/arch": arch},
        }}},
    }


def broker(deployment: Deployment) -> str:
    """The broker the Triggers subscribe to: ``default``, or the stage's name (as a DNS label) with a stage."""
    if not deployment.stage:
        return BROKER
    return re.sub(r"[^a-z0-9-]+", "-", deployment.stage.lower()).strip("-")[:63].rstrip("-") or BROKER


def needed_bindings(app: App, deployment: Deployment) -> dict[str, str]:
    """{binding variable: what it binds} of every resource the app reaches: on Knative the configuration's env
    sets them (per stage), since the cluster has no messaging or storage service portafunc could name."""
    return {res.binding: "the idempotency store" if kind == "idempotency" else f"{kind} {name}"
            for (kind, name), res in deployment.resources.items()}


def trigger(spec: Any, events_service: str, filters: dict[str, str], name: str, broker_name: str) -> dict[str, Any]:
    max_attempts = getattr(spec.trigger, "max_attempts", 3)
    delivery: dict[str, Any] = {"retry": max(0, max_attempts - 1), "backoffPolicy": "exponential",
                                "backoffDelay": "PT1S"}
    if kind_of(spec) in ("queue", "topic"):
        # The broker moves a message here after its last retry: deploy.sh refuses to apply without one, since a
        # Trigger without a sink would drop it.
        delivery["deadLetterSink"] = {"uri": DEAD_LETTER_SINK}
    return {
        "apiVersion": "eventing.knative.dev/v1",
        "kind": "Trigger",
        "metadata": {"name": name, "labels": {"app.kubernetes.io/managed-by": "portafunc"}},
        "spec": {"broker": broker_name, "filter": {"attributes": filters},
                 "subscriber": {"ref": {"apiVersion": "serving.knative.dev/v1", "kind": "Service",
                                        "name": events_service}, "uri": event_path(spec)},
                 "delivery": delivery},
    }


def render(app: App, deployment: Deployment, image: str, arch: str = "amd64") -> dict[str, str]:
    memory, timeout = settings(deployment)
    env = trust_forwarded(app_env(deployment))
    svc, stem, on = names(app, deployment), prefix(app, deployment), broker(deployment)
    services, eventing = [], []
    if http_functions(app):
        services.append(service(svc["http"], image, env, memory, timeout, events=False, arch=arch))
    if event_functions(app):
        services.append(service(svc["events"], image, env, memory, timeout, events=True, arch=arch))
    for spec in event_functions(app):
        kind, trig = kind_of(spec), spec.trigger
        name = resource_name(stem, spec.name)
        if kind == "queue":
            eventing.append(trigger(spec, svc["events"], {"type": MESSAGE_TYPE, "portafuncqueue": trig.queue},
                                    name, on))
        elif kind == "topic":
            eventing.append(trigger(spec, svc["events"], {"type": MESSAGE_TYPE, "portafunctopic": trig.topic},
                                    name, on))
        elif kind == "storage":
            for kind_name in trig.events:
                eventing.append(trigger(spec, svc["events"], {"type": f"{NEUTRAL_PREFIX}{kind_name}",
                                                              "portafuncbucket": trig.bucket},
                                        resource_name(stem, f"{spec.name}-{kind_name}"), on))
        elif kind == "schedule":
            eventing.append({
                "apiVersion": "sources.knative.dev/v1",
                "kind": "PingSource",
                "metadata": {"name": name, "labels": {"app.kubernetes.io/managed-by": "portafunc"}},
                "spec": {"schedule": trig.schedule.written(SCHEDULE_DIALECT), "timezone": "UTC",
                         "contentType": "application/json", "data": "{}",
                         "sink": {"ref": {"apiVersion": "serving.knative.dev/v1", "kind": "Service",
                                          "name": svc["events"]}, "uri": event_path(spec)}},
            })
    out = {"service.yaml": explain_forwarded(to_yaml_all(services), FORWARDED)}
    stage = f" (stage {deployment.stage})" if deployment.stage else ""
    brokered = any(doc["kind"] == "Trigger" for doc in eventing)
    lines = ["#!/usr/bin/env bash",
             f"# Deploys {app.name}{stage} to Knative. Written by `portafunc package --target container`.",
             "# Needs: IMAGE (a registry path the cluster pulls from), docker and kubectl for the cluster"
             + (", DEAD_LETTER_SINK (the URI the broker sends a message to after its last retry)" if brokered
                else "") + ".",
             *([f"# The cluster provides: the Broker {on!r} in the namespace (its events: io.portafunc.* CloudEvents)."]
               if brokered else [])]
    wanted = needed_bindings(app, deployment)
    if wanted:
        lines.append("# Bindings the configuration's env must set" + (f" for stage {deployment.stage}" if stage else "")
                     + " (Knative has no messaging or storage of its own):")
        lines += [f"#   {var} ({what}){'' if var in env else '  <- not set'}" for var, what in wanted.items()]
    lines += ["set -euo pipefail", 'cd "$(dirname "$0")"', ': "${IMAGE:?set IMAGE}"']
    if brokered:
        lines += [': "${DEAD_LETTER_SINK:?set DEAD_LETTER_SINK: without it the broker drops a message that failed '
                  'its last retry}"',
                  f'kubectl get brokers.eventing.knative.dev {on} >/dev/null || {{ echo "no Broker {on} in this '
                  f'namespace: create it first (kn broker create {on})" >&2; exit 1; }}']
    lines += ['docker build -t "$IMAGE" ../context && docker push "$IMAGE"',
              f'sed "s|image: {image}|image: $IMAGE|" service.yaml | kubectl apply -f -']
    if eventing:
        out["eventing.yaml"] = to_yaml_all(eventing)
        lines.append('sed "s|\\${DEAD_LETTER_SINK}|$DEAD_LETTER_SINK|" eventing.yaml | kubectl apply -f -')
    out["deploy.sh"] = "\n".join(lines) + "\n"
    return out
