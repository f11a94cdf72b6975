"""Cloud Run: two Knative-style services from one image — the public HTTP service (``http.yaml``), and the events
service (``events.yaml``) that only Pub/Sub push subscriptions, Eventarc triggers and Cloud Scheduler jobs reach (IAM:
their service account is its only invoker, so ``PORTAFUNC_EVENTS=platform``) — one file each, as
``gcloud run services replace`` reads one Service per file; plus ``deploy.sh``, which provisions on a fresh project
everything the services' bindings point at and is safe to run again.

What ``deploy.sh`` does, in the order the GCP target's script does it:

1. enables the APIs the app needs (Cloud Run, IAM; Pub/Sub, Cloud Storage, Eventarc, Cloud Scheduler, Firestore
   when a binding or trigger uses them);
2. creates two service accounts: ``<app>-runtime`` (the services' identity, named in their files) and
   ``<app>-push`` (what Pub/Sub push, Eventarc and Cloud Scheduler call the events service as);
3. creates the topics, the queues' topics, the dead-letter topics, a pull subscription on every topic nothing here
   consumes (a queue only sent to, a ``dead_letter=`` queue, an automatic ``-dead`` topic: what reaches them is
   kept, not dropped), the buckets and the Firestore database, and grants the runtime account least privilege:
   ``roles/pubsub.publisher`` on each topic it publishes, sends or dead-letters to, ``roles/storage.objectViewer``
   (reads, and a storage trigger's object) or ``roles/storage.objectUser`` (writes) on each bucket, and
   ``roles/datastore.user`` for key-value tables and idempotency records;
4. replaces the services, then attaches the event sources: push subscriptions (exact attempts, the declared
   ``dead_letter=`` queue as the dead-letter topic, else ``<function>-dead``, with the Pub/Sub service agent's
   publisher and subscriber rights that dead-lettering needs), Eventarc triggers and Cloud Scheduler jobs.

Every ``create`` is guarded by a ``describe`` (push subscriptions and scheduler jobs are updated when they exist), so
a second run changes nothing that is already right and never aborts on "already exists". With a stage, every name
(services, accounts, topics, subscriptions, buckets, collections, triggers, jobs) carries it: two stages share
nothing in one project.

A push subscription delivers one message per request with ``deliveryAttempt``; Pub/Sub's dead-letter policy
needs 5 to 100 attempts, so for a smaller ``max_attempts`` the service itself moves the message to the dead letter
on its last attempt and the policy (set to 5) is only the backstop.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from portafunc.app import App
from portafunc.messaging.binding import env_name
from portafunc.resources import IDEMPOTENCY_STORE, Deployment

from ..codecs.storage import GCS_TYPES
from ..triggers import SCHEDULE_DIALECT, resource_name
from .common import (PORT, app_env, env_list, event_functions, event_path, explain_forwarded, http_functions, kind_of,
                     names, prefix, probe, settings, shell_quote, to_yaml, trust_forwarded)

PLATFORM = "cloudrun"
TITLE = "Cloud Run"
BACKENDS = "portafunc-gcp"  # the distribution whose pubsub://, gs:// and firestore:// backends the bindings use
# Cloud Run runs Linux x86_64 executables only (https://cloud.google.com/run/docs/container-contract)
ARCHITECTURES = ("amd64",)
FORWARDED = "Cloud Run's front end sets X-Forwarded-Proto (replacing a client's own) and is the only way in"
#: The client library of the gcp backends each resource kind is reached through at run time.
SDK_BY_KIND = {"queue": "google-cloud-pubsub", "topic": "google-cloud-pubsub", "bucket": "google-cloud-storage",
               "kv": "google-cloud-firestore", "idempotency": "google-cloud-firestore"}
BUCKET_PART = 32  # of a bucket name: 63 (Cloud Storage's limit) - 30 (a project id's) - 1 for the '-'
RETRY_DELAYS = "--min-retry-delay=10s --max-retry-delay=600s"
RUNTIME_ROLE, PUSH_ROLE = "runtime", "push"


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def account_id(stem: str, role: str) -> str:
    """A service-account id (6-30 characters: lower-case letters, digits, '-', starting with a letter) for the
    app's ``stem`` (its name and stage). A stem cut to fit ends with 6 hex digits of its hash, so two stages of a
    long app name still get two accounts."""
    base = re.sub(r"[^a-z0-9]+", "-", stem.lower()).strip("-")
    if not base[:1].isalpha():
        base = f"pf-{base}".rstrip("-")
    room = 30 - len(role) - 1
    if len(base) > room:
        base = f"{base[:room - 7].rstrip('-')}-{_digest(stem)[:6]}"
    account = f"{base}-{role}"
    return account if len(account) >= 6 else f"pf-{account}"


def bucket_part(stem: str, name: str) -> str:
    """The part of a bucket's name after ``<project>-`` (bucket names are global): the app's stem and the logical
    name, lower-case letters, digits, '-' and '_', 32 characters at most; one cut to fit ends with 8 hex digits of
    its hash, so two names never share a bucket."""
    full = f"{stem}-{name}"
    part = re.sub(r"[^a-z0-9_-]+", "-", full.lower()).strip("-_")
    if len(part) <= BUCKET_PART:
        return part
    return f"{part[:BUCKET_PART - 9].rstrip('-_')}-{_digest(full)[:8]}"


class Names:
    """Every name the Cloud Run manifests and script give, from the app's stem (name and stage)."""

    def __init__(self, app: App, deployment: Deployment) -> None:
        self.app, self.deployment = app, deployment
        self.stem = prefix(app, deployment)
        self.services = names(app, deployment)
        self.runtime = account_id(self.stem, RUNTIME_ROLE)
        self.push = account_id(self.stem, PUSH_ROLE)

    def topic(self, name: str) -> str:
        """The Pub/Sub topic of a logical topic or queue."""
        return resource_name(self.stem, name)

    def push_subscription(self, function: str) -> str:
        return f"{resource_name(self.stem, function)}-push"

    def pull_subscription(self, queue: str) -> str:
        """The pull subscription keeping what reaches a queue no function here consumes."""
        return f"{self.topic(queue)}-pull"

    def dead_letter(self, function: str) -> str:
        """The dead-letter topic of a consumer: its declared ``dead_letter=`` queue's, else its own ``-dead``."""
        declared = self.deployment.functions[function].dead_letter
        return self.topic(declared) if declared is not None else self.auto_dead_letter(function)

    def auto_dead_letter(self, function: str) -> str:
        return f"{resource_name(self.stem, function)}-dead"

    def bucket(self, name: str) -> str:
        """The bucket, with ``${PROJECT_STEM}`` (the project id, ':' and '.' as '-') for deploy.sh to fill in."""
        return f"${{PROJECT_STEM}}-{bucket_part(self.stem, name)}"

    def collection(self, name: str) -> str:
        return resource_name(self.stem, name)

    def queue_subscription(self, queue: str) -> str:
        """The subscription a queue's binding names: its consumer's push subscription, else its pull one."""
        res = self.deployment.resource("queue", queue)
        consumer = res.options.get("consumer") if res is not None else None
        return self.push_subscription(consumer) if consumer else self.pull_subscription(queue)


def bindings(app: App, deployment: Deployment) -> dict[str, str]:
    """The binding of every resource (``${PROJECT}`` and ``${PROJECT_STEM}`` filled in by deploy.sh), and the
    dead-letter topic of each consumer that declares none."""
    n = Names(app, deployment)
    env: dict[str, str] = {}
    for (kind, name), res in deployment.resources.items():
        if kind == "topic":
            env[res.binding] = f"pubsub://projects/${{PROJECT}}/topics/{n.topic(name)}"
        elif kind == "queue":
            env[res.binding] = (f"pubsub://projects/${{PROJECT}}/subscriptions/{n.queue_subscription(name)}"
                                f"?topic={n.topic(name)}")
        elif kind == "bucket":
            env[res.binding] = f"gs://{n.bucket(name)}"
        elif kind == "kv":
            env[res.binding] = f"firestore://${{PROJECT}}/{n.collection(name)}"
        elif kind == "idempotency":
            env[res.binding] = f"firestore://${{PROJECT}}/{n.collection(IDEMPOTENCY_STORE)}"
    for spec in event_functions(app):
        if kind_of(spec) in ("queue", "topic") and deployment.functions[spec.name].dead_letter is None:
            env[env_name("DEADLETTER", spec.name)] = \
                f"pubsub://projects/${{PROJECT}}/topics/{n.auto_dead_letter(spec.name)}"
    return env


def used_sdks(app: App, deployment: Deployment) -> set[str]:
    """The client libraries the image needs for this app on Cloud Run: those of the kinds its functions call
    (publish, send, read, write), Pub/Sub when a queue or topic function may dead-letter (the service moves a message
    itself), Cloud Storage when a storage function may read the object that arrived."""
    used = {SDK_BY_KIND[g.kind] for fn in deployment.functions.values() for g in fn.grants
            if g.kind in SDK_BY_KIND and (set(g.access) - {"consume"} or g.kind == "bucket")}
    if any(kind_of(spec) in ("queue", "topic") for spec in event_functions(app)):
        used.add(SDK_BY_KIND["topic"])
    return used


def service(name: str, image: str, env: dict[str, str], memory: int, timeout: int, *, events: bool,
            account: str) -> dict[str, Any]:
    return {
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Service",
        "metadata": {"name": name, "labels": {"app.kubernetes.io/managed-by": "portafunc"},
                     "annotations": {"run.googleapis.com/ingress": "all"}},
        "spec": {"template": {
            "metadata": {"annotations": {"autoscaling.knative.dev/maxScale": "100",
                                         "run.googleapis.com/startup-cpu-boost": "true"}},
            "spec": {
                "serviceAccountName": f"{account}@${{PROJECT}}.iam.gserviceaccount.com",
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
    n = Names(app, deployment)
    files = {}
    if http_functions(app):
        files["http.yaml"] = service(n.services["http"], image, env, memory, timeout, events=False, account=n.runtime)
    if event_functions(app):
        files["events.yaml"] = service(n.services["events"], image, env, memory, timeout, events=True,
                                       account=n.runtime)
    out = {name: explain_forwarded(to_yaml(doc), FORWARDED) for name, doc in files.items()}
    out["deploy.sh"] = script(app, deployment, image)
    return out


HELPERS = (
    'say() { printf "\\n== %s\\n" "$*" >&2; }',
    'quietly() { "$@" >/dev/null 2>&1; }',
    'retry() {  # IAM needs a few seconds to see an account created a moment ago',
    '  local n; for n in 1 2 3 4 5; do "$@" && return 0; sleep $((n * 5)); done; "$@"',
    '}',
    'ensure_account() {  # id, description',
    '  quietly gcloud iam service-accounts describe "$1@${PROJECT}.iam.gserviceaccount.com" --project="$PROJECT" '
    '|| gcloud iam service-accounts create "$1" --project="$PROJECT" --display-name="$2"',
    '}',
    'project_role() {  # member, role',
    '  retry gcloud projects add-iam-policy-binding "$PROJECT" --member="$1" --role="$2" --condition=None --quiet '
    '>/dev/null',
    '}',
    'ensure_topic() {',
    '  quietly gcloud pubsub topics describe "$1" --project="$PROJECT" '
    '|| gcloud pubsub topics create "$1" --project="$PROJECT"',
    '}',
    'ensure_pull() {  # subscription, topic: keeps what reaches a topic nothing else consumes (dead letters)',
    '  quietly gcloud pubsub subscriptions describe "$1" --project="$PROJECT" '
    '|| gcloud pubsub subscriptions create "$1" --project="$PROJECT" --topic="$2" --message-retention-duration=7d',
    '}',
    'topic_role() {  # topic, member, role',
    '  retry gcloud pubsub topics add-iam-policy-binding "$1" --project="$PROJECT" --member="$2" --role="$3" '
    '>/dev/null',
    '}',
    'dead_letter_rights() {  # dead-letter topic, subscription: the Pub/Sub service agent moves messages',
    '  topic_role "$1" "$PUBSUB_AGENT" roles/pubsub.publisher',
    '  retry gcloud pubsub subscriptions add-iam-policy-binding "$2" --project="$PROJECT" --member="$PUBSUB_AGENT" '
    '--role=roles/pubsub.subscriber >/dev/null',
    '}',
)


def script(app: App, deployment: Deployment, image: str) -> str:
    dep, n = deployment, Names(app, deployment)
    svc = n.services
    events = event_functions(app)
    consumers = [s for s in events if kind_of(s) in ("queue", "topic")]
    storage = [s for s in events if kind_of(s) == "storage"]
    schedules = [s for s in events if kind_of(s) == "schedule"]
    topics = [r.name for r in dep.of_kind("topic")]
    queues = [r.name for r in dep.of_kind("queue")]
    buckets = [r.name for r in dep.of_kind("bucket")]
    tables = [r.name for r in dep.of_kind("kv")]
    idempotency = dep.resource("idempotency", IDEMPOTENCY_STORE) is not None
    apis = ["run.googleapis.com", "iam.googleapis.com"]
    apis += ["pubsub.googleapis.com"] if topics or queues or consumers else []
    apis += ["storage.googleapis.com"] if buckets else []
    apis += ["eventarc.googleapis.com"] if storage else []
    apis += ["cloudscheduler.googleapis.com"] if schedules else []
    apis += ["firestore.googleapis.com"] if tables or idempotency else []
    stage = f" (stage {dep.stage})" if dep.stage else ""
    lines = [
        "#!/usr/bin/env bash",
        f"# Deploys {app.name}{stage} to Cloud Run. Written by `portafunc package --target container`.",
        "# Runs on a fresh project and is safe to run again: every create is guarded by a describe.",
        "# Needs: PROJECT, REGION, IMAGE (a registry path you can push to); docker, and gcloud logged in with",
        "# roles/owner on the project (or the admin roles listed in docs/container.md).",
        "set -euo pipefail",
        'HERE="$(cd "$(dirname "$0")" && pwd)"',
        ': "${PROJECT:?set PROJECT}" "${REGION:?set REGION}" "${IMAGE:?set IMAGE, e.g. REGION-docker.pkg.dev/PROJECT/repo/'
        f'{app.name}}}"',
        '# the project id as a bucket-name stem: the ":" and "." of a domain-scoped id become "-", 30 at most',
        'PROJECT_STEM="${PROJECT//[:.]/-}"; PROJECT_STEM="${PROJECT_STEM:0:30}"',
        f'RUN_SA="{n.runtime}@${{PROJECT}}.iam.gserviceaccount.com"',
        f'INVOKER="{n.push}@${{PROJECT}}.iam.gserviceaccount.com"',
        *HELPERS,
        "",
        'say "building and pushing $IMAGE"',
        'docker build -t "$IMAGE" "$HERE/../context" && docker push "$IMAGE"',
        "",
        'say "enabling the APIs"',
        f'gcloud services enable {" ".join(apis)} --project="$PROJECT"',
    ]
    if events:
        lines += ['PROJECT_NUMBER="$(gcloud projects describe "$PROJECT" --format=\'value(projectNumber)\')"',
                  'PUBSUB_AGENT="serviceAccount:service-${PROJECT_NUMBER}@gcp-sa-pubsub.iam.gserviceaccount.com"']
    lines += ["", 'say "service accounts"',
              f"ensure_account {n.runtime} {shell_quote(n.stem + ' services (runtime identity)')}"]
    if events:
        lines.append(f"ensure_account {n.push} {shell_quote(n.stem + ' push (Pub/Sub push, Eventarc, Scheduler)')}")

    if topics or queues or consumers:
        consumed = {s.trigger.queue for s in consumers if kind_of(s) == "queue"}
        lines += ["", 'say "topics, queues and dead letters"']
        lines += [f"ensure_topic {n.topic(t)}" for t in topics]
        for q in queues:
            lines.append(f"ensure_topic {n.topic(q)}")
            if q not in consumed:  # sent to, dead-lettered into, but consumed by no function here: keep it
                lines.append(f"ensure_pull {n.pull_subscription(q)} {n.topic(q)}")
        for spec in consumers:
            if dep.functions[spec.name].dead_letter is None:
                dead = n.auto_dead_letter(spec.name)
                lines += [f"ensure_topic {dead}", f"ensure_pull {dead}-pull {dead}"]
        publish = [n.topic(g.name) for fn in dep.functions.values() for g in fn.grants
                   if (g.kind == "topic" and "publish" in g.access) or (g.kind == "queue" and "send" in g.access)]
        publish += [n.dead_letter(s.name) for s in consumers]
        if publish:
            lines.append("# what the services publish, send or dead-letter to")
            lines += [f'topic_role {t} "serviceAccount:${{RUN_SA}}" roles/pubsub.publisher'
                      for t in dict.fromkeys(publish)]
    if buckets:
        lines += ["", 'say "buckets"']
        for b in buckets:
            bucket = n.bucket(b)
            lines.append(f'quietly gcloud storage buckets describe "gs://{bucket}" --project="$PROJECT" '
                         f'|| gcloud storage buckets create "gs://{bucket}" --project="$PROJECT" --location="$REGION" '
                         '--uniform-bucket-level-access')
            access = {a for _, g in dep.users("bucket", b) for a in g.access}
            # a storage trigger's function reads the object that arrived (StorageEvent.read/open): consume reads
            role = "roles/storage.objectUser" if "write" in access else \
                "roles/storage.objectViewer" if access & {"read", "consume"} else None
            if role:
                lines.append(f'retry gcloud storage buckets add-iam-policy-binding "gs://{bucket}" '
                             f'--project="$PROJECT" --member="serviceAccount:${{RUN_SA}}" --role={role} >/dev/null')
    if tables or idempotency:
        lines += ["", 'say "Firestore (key-value tables and idempotency records)"',
                  'quietly gcloud firestore databases describe --database="(default)" --project="$PROJECT" '
                  '|| gcloud firestore databases create --database="(default)" --location="$REGION" '
                  '--type=firestore-native --project="$PROJECT"',
                  'project_role "serviceAccount:${RUN_SA}" roles/datastore.user',
                  "# entries written with a ttl, and idempotency records, are swept by a TTL policy on 'expiration'"]
        lines += [f"gcloud firestore fields ttls update expiration --collection-group={n.collection(name)} "
                  '--enable-ttl --async --project="$PROJECT" --quiet >/dev/null'
                  for name in tables + ([IDEMPOTENCY_STORE] if idempotency else [])]

    served = {"http": http_functions(app), "events": events}
    lines += ["", f'say "services {" and ".join(svc[k] for k, fns in served.items() if fns)}"']
    for file in (k for k, fns in served.items() if fns):
        lines += [f'sed -e "s|image: {image}|image: $IMAGE|" -e "s|\\${{PROJECT_STEM}}|$PROJECT_STEM|g" '
                  f'-e "s|\\${{PROJECT}}|$PROJECT|g" "$HERE/{file}.yaml" > "$HERE/{file}.deploy.yaml"',
                  f'gcloud run services replace "$HERE/{file}.deploy.yaml" --project="$PROJECT" --region="$REGION"']
    if http_functions(app):
        lines.append(f'gcloud run services add-iam-policy-binding {svc["http"]} --project="$PROJECT" '
                     '--region="$REGION" --member=allUsers --role=roles/run.invoker >/dev/null')
    if not events:
        return "\n".join([*lines, "", f'say "{n.stem} is deployed"', ""])

    lines += [f'gcloud run services add-iam-policy-binding {svc["events"]} --project="$PROJECT" '
              '--region="$REGION" --member="serviceAccount:$INVOKER" --role=roles/run.invoker >/dev/null',
              f'EVENTS_URL="$(gcloud run services describe {svc["events"]} --project="$PROJECT" --region="$REGION" '
              "--format='value(status.url)')\""]
    if consumers or storage:
        lines += ["# authenticated push: the Pub/Sub service agent mints the push account's OIDC tokens",
                  'retry gcloud iam service-accounts add-iam-policy-binding "$INVOKER" --project="$PROJECT" '
                  '--member="$PUBSUB_AGENT" --role=roles/iam.serviceAccountTokenCreator >/dev/null']
    for spec in consumers:
        trig = spec.trigger
        kind = kind_of(spec)
        source = n.topic(trig.queue if kind == "queue" else trig.topic)
        timeout = trig.visibility_timeout if kind == "queue" else dep.functions[spec.name].settings.timeout
        dead = n.dead_letter(spec.name)
        flags = (f'--push-endpoint="$EVENTS_URL{event_path(spec)}" --push-auth-service-account="$INVOKER" '
                 f'--push-auth-token-audience="$EVENTS_URL" --ack-deadline={min(600, max(10, timeout))} '
                 f'--dead-letter-topic={dead} --max-delivery-attempts={min(100, max(5, trig.max_attempts))} '
                 f'{RETRY_DELAYS}')
        lines += ["", f"say {shell_quote(f'{spec.name}: {trig.describe()}')}",
                  f"SUB={n.push_subscription(spec.name)}",
                  'if quietly gcloud pubsub subscriptions describe "$SUB" --project="$PROJECT"; then',
                  f'  gcloud pubsub subscriptions update "$SUB" --project="$PROJECT" {flags}',
                  "else",
                  f'  gcloud pubsub subscriptions create "$SUB" --project="$PROJECT" --topic={source} {flags}',
                  "fi",
                  f'dead_letter_rights {dead} "$SUB"']
    if storage:
        lines += ["", "# Cloud Storage triggers: the Cloud Storage service agent publishes the buckets' events, and",
                  "# the push account receives Eventarc events.",
                  'STORAGE_AGENT="$(gcloud storage service-agent --project="$PROJECT")"',
                  'project_role "serviceAccount:${STORAGE_AGENT}" roles/pubsub.publisher',
                  'project_role "serviceAccount:${INVOKER}" roles/eventarc.eventReceiver']
    for spec in storage:
        trig = spec.trigger
        lines += ["", f"say {shell_quote(f'{spec.name}: {trig.describe()}')}"]
        for kind_name in trig.events:
            ce_type = next((t for t, k in GCS_TYPES.items() if k == kind_name), None)
            if ce_type is None:
                continue
            trigger = resource_name(n.stem, f"{spec.name}-{kind_name}")
            lines.append(
                f'quietly gcloud eventarc triggers describe {trigger} --project="$PROJECT" --location="$REGION" '
                f'|| gcloud eventarc triggers create {trigger} --project="$PROJECT" --location="$REGION" '
                f'--destination-run-service={svc["events"]} --destination-run-region="$REGION" '
                f'--destination-run-path={event_path(spec)} --event-filters="type={ce_type}" '
                f'--event-filters="bucket={n.bucket(trig.bucket)}" --service-account="$INVOKER"')
    for spec in schedules:
        trig = spec.trigger
        job = resource_name(n.stem, spec.name)
        flags = (f'--location="$REGION" --schedule={shell_quote(trig.schedule.written(SCHEDULE_DIALECT))} '
                 f'--time-zone=UTC --uri="$EVENTS_URL{event_path(spec)}" --http-method=POST '
                 '--oidc-service-account-email="$INVOKER" --oidc-token-audience="$EVENTS_URL"')
        lines += ["", f"say {shell_quote(f'{spec.name}: {trig.describe()}')}",
                  f'if quietly gcloud scheduler jobs describe {job} --project="$PROJECT" --location="$REGION"; then',
                  f'  gcloud scheduler jobs update http {job} --project="$PROJECT" {flags}',
                  "else",
                  f'  gcloud scheduler jobs create http {job} --project="$PROJECT" {flags}',
                  "fi"]
    return "\n".join([*lines, "", f'say "{n.stem} is deployed"', ""])
