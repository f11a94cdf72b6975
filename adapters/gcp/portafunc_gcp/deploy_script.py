"""``deploy.sh`` for Google Cloud: everything an app needs on a fresh project, safe to run again.

What it does, in order (each step names ``--project`` explicitly, never the caller's default project):

1. enables the APIs (Cloud Functions, Cloud Run, Cloud Build, Artifact Registry, Eventarc, Pub/Sub, Cloud Scheduler,
   Cloud Storage, IAM, Logging; Firestore when a function is idempotent);
2. creates three service accounts — ``<app>-run`` (the functions' identity), ``<app>-invoker`` (what Pub/Sub push,
   Cloud Scheduler and Eventarc call the private functions as) and ``<app>-build`` (Cloud Build) — and grants the roles
   Google documents per trigger kind (see docs/gcp.md for the sources): ``roles/run.invoker`` on each event function
   for the invoker, ``roles/eventarc.eventReceiver`` for Cloud Storage triggers, ``roles/pubsub.publisher`` for the
   Cloud Storage service agent, ``roles/iam.serviceAccountTokenCreator`` on the invoker for the Pub/Sub service
   agent (authenticated push), the Pub/Sub service agent's publisher/subscriber rights for dead letters, and
   ``roles/cloudbuild.builds.builder`` for the build account;
3. creates topics, dead-letter topics, buckets and (for idempotency) the Firestore database with its TTL policy;
4. deploys the app's one HTTP service and one function per event trigger, then the push subscriptions, dead-letter
   policies, extra Eventarc triggers and Cloud Scheduler jobs.

Every ``create`` is guarded by a ``describe`` (or is an upsert: ``functions deploy``, IAM bindings, ``services
enable``), so a second run changes nothing that is already right and never aborts on "already exists".
"""

from __future__ import annotations

import re
import shlex
from typing import Iterable

from portafunc.app import App, FunctionSpec, HttpTrigger, QueueTrigger, ScheduleTrigger, StorageTrigger, \
    TopicTrigger
from portafunc.messaging.binding import env_name
from portafunc.packaging.build import PackagingError

from .codec_storage import KIND_TO_CE
from .entry import HTTP_SERVICE

APIS = ("cloudfunctions.googleapis.com", "run.googleapis.com", "cloudbuild.googleapis.com",
        "artifactregistry.googleapis.com", "eventarc.googleapis.com", "pubsub.googleapis.com",
        "cloudscheduler.googleapis.com", "storage.googleapis.com", "iam.googleapis.com", "logging.googleapis.com")
IDEMPOTENCY_COLLECTION = "portafunc-idempotency"
LAYOUTS = ("service", "per-route")
RETRY_DELAYS = "--min-retry-delay=10s --max-retry-delay=600s"


def deploy_name(app: App, spec: FunctionSpec) -> str:
    """Cloud Run service names: lower-case letters, digits and '-', at most 63, starting with a letter."""
    return _service_name(f"{app.name}-{spec.name}")


def http_service_name(app: App) -> str:
    """The app's one HTTP service (one base URL for every route)."""
    return _service_name(f"{app.name}-http")


def _service_name(text: str) -> str:
    name = re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")
    name = re.sub(r"-{2,}", "-", name)
    if not name[:1].isalpha():
        name = "f-" + name
    return name[:63].rstrip("-")


def account_id(app: App, role: str) -> str:
    """A service-account id (6-30 characters: lower-case letters, digits, '-', starting with a letter)."""
    base = _service_name(app.name)
    room = 30 - len(role) - 1
    account = f"{base[:room].rstrip('-')}-{role}"
    return account if len(account) >= 6 else f"pf-{account}"


def _var(kind: str, name: str) -> str:
    return re.sub(r"[^A-Z0-9]", "_", f"{kind}_{name}".upper())


def _q(text: str) -> str:
    return shlex.quote(text)


def deployed_functions(app: App, layout: str = "service") -> dict[str, str]:
    """deployed name → what it serves; refuses two functions whose names collide after Cloud Run's mangling."""
    if layout not in LAYOUTS:
        raise PackagingError(f"GCP HTTP layout {layout!r}: choose one of {', '.join(LAYOUTS)}")
    names: dict[str, str] = {}

    def add(name: str, what: str) -> None:
        if name in names:
            raise PackagingError(f"{what} and {names[name]} both deploy as the Cloud Run service {name!r}; "
                                 "rename one of them (name=... on the decorator)")
        names[name] = what

    http = app.http_functions()
    if http and layout == "service":
        add(http_service_name(app), "the app's HTTP service")
    for spec in app:
        if layout == "service" and isinstance(spec.trigger, HttpTrigger):
            continue
        add(deploy_name(app, spec), f"function {spec.name!r}")
    return names


def http_access(app: App) -> str:
    """``public`` or ``private`` for the one HTTP service; mixed routes cannot share one Cloud Run IAM policy."""
    levels = {s.trigger.auth for s in app.http_functions() if isinstance(s.trigger, HttpTrigger)}
    if len(levels) > 1:
        public = sorted(s.name for s in app.http_functions()
                        if isinstance(s.trigger, HttpTrigger) and s.trigger.auth == "anonymous")
        raise PackagingError("GCP serves every route from one HTTP service whose access is one IAM policy, but "
                             f"routes mix auth='anonymous' ({', '.join(public)}) and auth='function'; give them "
                             "one auth level, or deploy one function per route (layout per-route)")
    return "public" if levels == {"anonymous"} else "private"


class _Script:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def add(self, *lines: str) -> None:
        self.lines.extend(lines)

    def say(self, text: str) -> None:
        self.lines += ["", f"say {_q(text)}"]


def render_deploy(app: App, zip_name: str, python: str, *, layout: str = "service") -> str:
    """The ``deploy.sh`` for ``app`` deploying ``zip_name`` (a file next to the script) on runtime ``python``."""
    deployed_functions(app, layout)
    runtime = "python" + python.replace(".", "")
    specs = list(app)
    topic_specs = [s for s in specs if isinstance(s.trigger, TopicTrigger)]
    queue_specs = [s for s in specs if isinstance(s.trigger, QueueTrigger)]
    schedule_specs = [s for s in specs if isinstance(s.trigger, ScheduleTrigger)]
    storage_specs = [s for s in specs if isinstance(s.trigger, StorageTrigger)]
    http_specs = [s for s in specs if isinstance(s.trigger, HttpTrigger)]
    topics = sorted({s.trigger.topic for s in topic_specs})  # type: ignore[union-attr]
    queues = sorted({s.trigger.queue for s in queue_specs})  # type: ignore[union-attr]
    buckets = sorted({s.trigger.bucket for s in storage_specs})  # type: ignore[union-attr]
    consumers = topic_specs + queue_specs
    idempotent = any(s.idempotency_key is not None for s in specs)
    apis = APIS + (("firestore.googleapis.com",) if idempotent else ())
    out = _Script()
    out.add(
        "#!/usr/bin/env bash",
        f"# Deploy app {app.name!r} to Google Cloud (Cloud Run functions, Pub/Sub, Eventarc, Cloud Scheduler,",
        "# Cloud Storage). Generated by portafunc-gcp from the app: regenerate with `portafunc package --target gcp`.",
        "# Runs on a fresh project and is safe to run again (every create is guarded by a describe).",
        "# Usage: PROJECT=my-project [REGION=us-central1] ./deploy.sh",
        "# Needs: gcloud, python3, and roles/owner on the project (or the admin roles listed in docs/gcp.md).",
        "# Resource names default to the logical names; override any of the variables below from the environment.",
        "set -euo pipefail",
        'PROJECT="${PROJECT:?set PROJECT to your Google Cloud project id}"',
        'REGION="${REGION:-us-central1}"',
        f"RUNTIME={runtime}",
        f'RUN_SA="{account_id(app, "run")}@${{PROJECT}}.iam.gserviceaccount.com"',
        f'INVOKER_SA="{account_id(app, "invoker")}@${{PROJECT}}.iam.gserviceaccount.com"',
        f'BUILD_SA="{account_id(app, "build")}@${{PROJECT}}.iam.gserviceaccount.com"',
    )
    for kind, names in (("TOPIC", topics), ("QUEUE", queues), ("BUCKET", buckets)):
        for name in names:
            out.add(f'{_var(kind, name)}="${{{_var(kind, name)}:-{name}}}"')
    out.add(
        'HERE="$(cd "$(dirname "$0")" && pwd)"',
        'SRC="$(mktemp -d)"; ENV_FILE="$(mktemp)"; trap \'rm -rf "$SRC" "$ENV_FILE"\' EXIT',
        f'python3 -m zipfile -e "$HERE/{zip_name}" "$SRC"',
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
        'topic_role() {  # topic, member, role',
        '  retry gcloud pubsub topics add-iam-policy-binding "$1" --project="$PROJECT" --member="$2" --role="$3" >/dev/null',
        '}',
        'invoker() {  # function name: the invoker account may call it',
        '  retry gcloud functions add-invoker-policy-binding "$1" --project="$PROJECT" --region="$REGION" '
        '--member="serviceAccount:${INVOKER_SA}" >/dev/null',
        '}',
        'dead_letter_rights() {  # dead-letter topic, subscription: the Pub/Sub service agent moves messages',
        '  topic_role "$1" "$PUBSUB_AGENT" roles/pubsub.publisher',
        '  retry gcloud pubsub subscriptions add-iam-policy-binding "$2" --project="$PROJECT" --member="$PUBSUB_AGENT" '
        '--role=roles/pubsub.subscriber >/dev/null',
        '}',
    )
    out.say("enabling the APIs")
    out.add(f'gcloud services enable {" ".join(apis)} --project="$PROJECT"',
            'PROJECT_NUMBER="$(gcloud projects describe "$PROJECT" --format=\'value(projectNumber)\')"',
            'PUBSUB_AGENT="serviceAccount:service-${PROJECT_NUMBER}@gcp-sa-pubsub.iam.gserviceaccount.com"')

    out.say("service accounts and roles")
    out.add(f'ensure_account {account_id(app, "run")} {_q(app.name + " functions (runtime identity)")}',
            f'ensure_account {account_id(app, "invoker")} '
            f'{_q(app.name + " invoker (Pub/Sub push, Scheduler, Eventarc)")}',
            f'ensure_account {account_id(app, "build")} {_q(app.name + " builds (Cloud Build)")}',
            'project_role "serviceAccount:${BUILD_SA}" roles/cloudbuild.builds.builder')
    if consumers or schedule_specs or storage_specs:
        out.add("# Authenticated push: the Pub/Sub service agent mints the invoker's OIDC tokens.",
                'retry gcloud iam service-accounts add-iam-policy-binding "$INVOKER_SA" --project="$PROJECT" '
                '--member="$PUBSUB_AGENT" --role=roles/iam.serviceAccountTokenCreator >/dev/null')
    if storage_specs:
        out.add("# Cloud Storage triggers: the Cloud Storage service agent publishes the bucket's events to Pub/Sub,",
                "# and the trigger's account receives Eventarc events.",
                'STORAGE_AGENT="$(gcloud storage service-agent --project="$PROJECT")"',
                'project_role "serviceAccount:${STORAGE_AGENT}" roles/pubsub.publisher',
                'project_role "serviceAccount:${INVOKER_SA}" roles/eventarc.eventReceiver')
    if idempotent:
        out.add('project_role "serviceAccount:${RUN_SA}" roles/datastore.user')

    dlq: dict[str, str] = {}  # function → dead-letter topic expression
    if topics or queues:
        out.say("topics and dead-letter topics")
        for name in topics:
            out.add(f'ensure_topic "${{{_var("TOPIC", name)}}}"')
        for name in queues:
            out.add(f'ensure_topic "${{{_var("QUEUE", name)}}}"')
        for spec in consumers:
            trig = spec.trigger
            source = _var("TOPIC", trig.topic) if isinstance(trig, TopicTrigger) else \
                _var("QUEUE", trig.queue)  # type: ignore[union-attr]
            dlq[spec.name] = f'${{{source}}}-{deploy_name(app, spec)}-dead'
            out.add(f'ensure_topic "{dlq[spec.name]}"')
        out.add("# The functions publish to the app's topics and queues, and move non-retryable messages to their "
                "dead-letter topic.")
        for expr in [f'${{{_var("TOPIC", t)}}}' for t in topics] + [f'${{{_var("QUEUE", q)}}}' for q in queues] \
                + list(dlq.values()):
            out.add(f'topic_role "{expr}" "serviceAccount:${{RUN_SA}}" roles/pubsub.publisher')
    if buckets:
        out.say("buckets")
        for name in buckets:
            bv = _var("BUCKET", name)
            out.add(f'quietly gcloud storage buckets describe "gs://${{{bv}}}" --project="$PROJECT" '
                    f'|| gcloud storage buckets create "gs://${{{bv}}}" --project="$PROJECT" --location="$REGION" '
                    '--uniform-bucket-level-access')
    if idempotent:
        out.say("Firestore (idempotency records, swept by a TTL policy)")
        out.add('quietly gcloud firestore databases describe --database="(default)" --project="$PROJECT" '
                '|| gcloud firestore databases create --database="(default)" --location="$REGION" '
                '--type=firestore-native --project="$PROJECT"',
                f'gcloud firestore fields ttls update expiration --collection-group={IDEMPOTENCY_COLLECTION} '
                '--enable-ttl --async --project="$PROJECT" --quiet >/dev/null')

    out.say("bindings every function gets (logical name -> Google Cloud resource)")
    out.add('cat > "$ENV_FILE" <<EOF')
    for name in topics:
        out.add(f'{env_name("TOPIC", name)}: "pubsub://projects/${{PROJECT}}/topics/${{{_var("TOPIC", name)}}}"')
    for spec in queue_specs:
        q = spec.trigger.queue  # type: ignore[union-attr]
        out.add(f'{env_name("QUEUE", q)}: "pubsub://projects/${{PROJECT}}/subscriptions/${{{_var("QUEUE", q)}}}-'
                f'{deploy_name(app, spec)}?topic=${{{_var("QUEUE", q)}}}"')
    for spec in consumers:
        if not getattr(spec.trigger, "dead_letter", None):
            out.add(f'{env_name("DEADLETTER", spec.name)}: "pubsub://projects/${{PROJECT}}/topics/{dlq[spec.name]}"')
    if idempotent:
        out.add(f'PORTAFUNC_IDEMPOTENCY_STORE: "firestore://${{PROJECT}}/{IDEMPOTENCY_COLLECTION}"')
    out.add('PORTAFUNC_TARGET: "gcp"', "EOF")

    common = ('--gen2 --project="$PROJECT" --region="$REGION" --runtime="$RUNTIME" --source="$SRC" '
              '--env-vars-file="$ENV_FILE" --service-account="$RUN_SA" '
              '--build-service-account="projects/${PROJECT}/serviceAccounts/${BUILD_SA}" --quiet')

    def url(name: str) -> str:
        return (f'URL="$(gcloud functions describe {name} --gen2 --project="$PROJECT" --region="$REGION" '
                "--format='value(serviceConfig.uri)')\"")

    if http_specs:
        if layout == "service":
            name = http_service_name(app)
            auth = "--allow-unauthenticated" if http_access(app) == "public" else "--no-allow-unauthenticated"
            routes = ", ".join(f"{'|'.join(t.methods)} {t.route.template}"
                               for t in (s.trigger for s in http_specs) if isinstance(t, HttpTrigger))
            out.say(f"HTTP service {name}: {routes}")
            out.add(f"gcloud functions deploy {name} {common} --entry-point={HTTP_SERVICE} --trigger-http {auth}",
                    url(name), f'echo "{app.name} HTTP API: $URL"')
        else:
            for spec in http_specs:
                name = deploy_name(app, spec)
                trig = spec.trigger
                public = isinstance(trig, HttpTrigger) and trig.auth == "anonymous"
                auth = "--allow-unauthenticated" if public else "--no-allow-unauthenticated"
                out.say(f"{spec.name}: {trig.describe()}")
                out.add(f"gcloud functions deploy {name} {common} --entry-point={spec.name} --trigger-http {auth}",
                        url(name), f'echo "{spec.name}: $URL"')
    for spec in topic_specs:
        trig = spec.trigger
        name = deploy_name(app, spec)
        tv = _var("TOPIC", trig.topic)  # type: ignore[union-attr]
        out.say(f"{spec.name}: {trig.describe()}")
        out.add(f'gcloud functions deploy {name} {common} --entry-point={spec.name} --trigger-topic="${{{tv}}}" '
                '--trigger-service-account="$INVOKER_SA" --retry --no-allow-unauthenticated',
                f"invoker {name}",
                f'TRIGGER="$(gcloud functions describe {name} --gen2 --project="$PROJECT" --region="$REGION" '
                "--format='value(eventTrigger.trigger)')\"",
                'SUB="$(gcloud eventarc triggers describe "$TRIGGER" --project="$PROJECT" --location="$REGION" '
                "--format='value(transport.pubsub.subscription)')\"",
                f'gcloud pubsub subscriptions update "$SUB" --project="$PROJECT" '
                f'--dead-letter-topic="projects/${{PROJECT}}/topics/{dlq[spec.name]}" '
                f'--max-delivery-attempts={trig.max_attempts} {RETRY_DELAYS}',  # type: ignore[union-attr]
                f'dead_letter_rights "{dlq[spec.name]}" "$SUB"')
    for spec in queue_specs:
        trig = spec.trigger
        assert isinstance(trig, QueueTrigger)
        name = deploy_name(app, spec)
        qv = _var("QUEUE", trig.queue)
        ack = min(600, max(10, trig.visibility_timeout))
        flags = (f'--push-endpoint="$URL" --push-auth-service-account="$INVOKER_SA" --ack-deadline={ack} '
                 f'--dead-letter-topic="projects/${{PROJECT}}/topics/{dlq[spec.name]}" '
                 f'--max-delivery-attempts={trig.max_attempts} {RETRY_DELAYS}')
        out.say(f"{spec.name}: {trig.describe()}")
        out.add(f"gcloud functions deploy {name} {common} --entry-point={spec.name} --trigger-http "
                "--no-allow-unauthenticated", url(name), f"invoker {name}",
                f'SUB="${{{qv}}}-{name}"',
                'if quietly gcloud pubsub subscriptions describe "$SUB" --project="$PROJECT"; then',
                f'  gcloud pubsub subscriptions update "$SUB" --project="$PROJECT" {flags}',
                "else",
                f'  gcloud pubsub subscriptions create "$SUB" --project="$PROJECT" --topic="${{{qv}}}" {flags}'
                + (" --enable-message-ordering" if trig.ordered else ""),
                "fi",
                f'dead_letter_rights "{dlq[spec.name]}" "$SUB"')
    for spec in schedule_specs:
        trig = spec.trigger
        assert isinstance(trig, ScheduleTrigger)
        name = deploy_name(app, spec)
        job = (f'--location="$REGION" --schedule={_q(trig.schedule.gcp)} --time-zone=UTC --uri="$URL" '
               '--http-method=POST --oidc-service-account-email="$INVOKER_SA" --oidc-token-audience="$URL"')
        out.say(f"{spec.name}: {trig.describe()}")
        out.add(f"gcloud functions deploy {name} {common} --entry-point={spec.name} --trigger-http "
                "--no-allow-unauthenticated", url(name), f"invoker {name}",
                f'if quietly gcloud scheduler jobs describe {name} --project="$PROJECT" --location="$REGION"; then',
                f'  gcloud scheduler jobs update http {name} --project="$PROJECT" {job}',
                "else",
                f'  gcloud scheduler jobs create http {name} --project="$PROJECT" {job}',
                "fi")
    for spec in storage_specs:
        trig = spec.trigger
        assert isinstance(trig, StorageTrigger)
        name = deploy_name(app, spec)
        bv = _var("BUCKET", trig.bucket)
        first, *rest = trig.events
        out.say(f"{spec.name}: {trig.describe()}")
        out.add(f'gcloud functions deploy {name} {common} --entry-point={spec.name} '
                f'--trigger-event-filters="type={KIND_TO_CE[first]}" --trigger-event-filters="bucket=${{{bv}}}" '
                '--trigger-location="$REGION" --trigger-service-account="$INVOKER_SA" --retry '
                "--no-allow-unauthenticated", f"invoker {name}")
        for kind in rest:  # one more Eventarc trigger per extra event type, to the same Cloud Run service
            trigger = f"{name}-{kind.replace('_', '-')}"
            out.add(f'quietly gcloud eventarc triggers describe {trigger} --project="$PROJECT" --location="$REGION" '
                    f'|| gcloud eventarc triggers create {trigger} --project="$PROJECT" --location="$REGION" '
                    f'--destination-run-service={name} --destination-run-region="$REGION" '
                    f'--event-filters="type={KIND_TO_CE[kind]}" --event-filters="bucket=${{{bv}}}" '
                    '--service-account="$INVOKER_SA"')
    out.say(f"{app.name} is deployed")
    out.add("")
    return "\n".join(out.lines)


def gcloud_lines(script: str) -> Iterable[str]:
    """The lines of ``script`` that run gcloud (for reviews and tests)."""
    for line in script.splitlines():
        text = line.strip()
        if "gcloud " in text and not text.startswith("#"):
            yield text


__all__ = ["APIS", "LAYOUTS", "account_id", "deploy_name", "deployed_functions", "gcloud_lines", "http_access",
           "http_service_name", "render_deploy"]
