"""What every platform's manifests share: names, the environment of a service, and YAML output."""

from __future__ import annotations

import re
from typing import Any

from portafunc.app import App, HttpTrigger, QueueTrigger, ScheduleTrigger, StorageTrigger, TopicTrigger
from portafunc.resources import Deployment

from ..codecs import EVENT_PATH, HEALTH_PATH
from ..triggers import resource_name

PORT = 8080
# gunicorn trusts X-Forwarded-Proto (and so says https in wsgi.url_scheme) only from the peers this variable names;
# unset, only from localhost. A manifest sets it to "*" where the platform's front end is the only way in and sets
# the header itself, replacing a client's own.
FORWARDED_ALLOW_IPS = "FORWARDED_ALLOW_IPS"


def http_functions(app: App) -> list[Any]:
    return [s for s in app if isinstance(s.trigger, HttpTrigger)]


def event_functions(app: App) -> list[Any]:
    return [s for s in app if not isinstance(s.trigger, HttpTrigger)]


def kind_of(spec: Any) -> str:
    trig = spec.trigger
    for cls, kind in ((QueueTrigger, "queue"), (TopicTrigger, "topic"), (StorageTrigger, "storage"),
                      (ScheduleTrigger, "schedule")):
        if isinstance(trig, cls):
            return kind
    return "http"


def event_path(spec: Any) -> str:
    return f"{EVENT_PATH}{spec.name}"


def prefix(app: App, deployment: Deployment) -> str:
    """What every name the manifests give starts with: the app's name, then ``-<stage>`` when there is a stage, so
    two stages deployed into one project, namespace or resource group share no service, topic, queue, bucket or
    table (the GCP, AWS and Azure targets put the stage in their names the same way)."""
    return f"{app.name}-{deployment.stage}" if deployment.stage else app.name


def names(app: App, deployment: Deployment) -> dict[str, str]:
    """The services: the public HTTP one and the one platforms push events to."""
    stem = prefix(app, deployment)
    return {"http": resource_name(stem, "http"), "events": resource_name(stem, "events")}


def env_list(env: dict[str, str]) -> list[dict[str, str]]:
    return [{"name": k, "value": v} for k, v in sorted(env.items())]


def trust_forwarded(env: dict[str, str]) -> dict[str, str]:
    """``env`` with ``FORWARDED_ALLOW_IPS=*``, unless the configuration's env names the front end's addresses."""
    return {FORWARDED_ALLOW_IPS: "*", **env}


def explain_forwarded(text: str, why: str) -> str:
    """YAML ``text`` with ``# why`` above each ``FORWARDED_ALLOW_IPS: "*"`` entry of a container's env."""
    return re.sub(rf"^( *)- name: {FORWARDED_ALLOW_IPS}\n\1  value: '\*'$", lambda m: f"{m[1]}# {why}\n{m[0]}",
                  text, flags=re.M)


def settings(deployment: Deployment) -> tuple[int, int]:
    """(memory MB, timeout s): the largest any function asks for, since one service runs them all."""
    memory = max((fn.settings.memory for fn in deployment.functions.values()), default=512)
    timeout = max((fn.settings.timeout for fn in deployment.functions.values()), default=30)
    return memory, timeout


def app_env(deployment: Deployment) -> dict[str, str]:
    """The configuration's env of every function (one service runs them all: the same names must agree)."""
    env: dict[str, str] = {}
    for fn in deployment.functions.values():
        env.update(fn.settings.env)
    return env


def probe() -> dict[str, Any]:
    return {"httpGet": {"path": HEALTH_PATH, "port": PORT}, "periodSeconds": 2, "failureThreshold": 30,
            "timeoutSeconds": 2}


def to_yaml(doc: Any) -> str:
    import yaml

    return yaml.safe_dump(doc, sort_keys=False, default_flow_style=False, width=120)


def to_yaml_all(docs: list[Any]) -> str:
    import yaml

    return yaml.safe_dump_all(docs, sort_keys=False, default_flow_style=False, width=120)


def shell_quote(text: str) -> str:
    import shlex

    return shlex.quote(text)
