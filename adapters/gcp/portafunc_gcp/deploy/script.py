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
3. creates topics, dead-letter topics, buckets (named ``<project>-<name>`` by default: bucket names are global) and
   (for idempotency) the Firestore database with its TTL policy; with a stage, every default name of a topic, bucket
   and Firestore collection ends with ``-<stage>``, so two stages in one project share no data; a resource the
   configuration names as existing (``[existing.KIND.NAME] gcp``, :mod:`.existing`) is neither created nor renamed:
   it is bound to its URL and granted on, and a consumer's push subscription or Eventarc trigger is attached to it;
4. deploys the app's one HTTP service and one function per event trigger, then the push subscriptions, dead-letter
   policies, extra Eventarc triggers and Cloud Scheduler jobs.

Every ``create`` is guarded by a ``describe`` (or is an upsert: ``functions deploy``, IAM bindings, ``services
enable``), so a second run changes nothing that is already right and never aborts on "already exists".
"""

from __future__ import annotations

import hashlib
import json
import re
import shlex
from typing import Any, Iterable

from portafunc.app import App, FunctionSpec, HttpTrigger, QueueTrigger, ScheduleTrigger, StorageTrigger, \
    TopicTrigger
from portafunc.config import FunctionSettings
from portafunc.resources import IDEMPOTENCY_STORE, Deployment, FunctionModel, env_name
from portafunc.packaging.build import PackagingError

from ..codecs.storage import KIND_TO_CE
from ..outcome import PUBSUB_MIN_ATTEMPTS  # fewer: the function moves a message on its last attempt itself
from ..triggers import SCHEDULE_DIALECT
from .existing import bucket_name, check as existing_problems, existing_url, topic_path
from .main_py import HTTP_SERVICE

APIS = ("cloudfunctions.googleapis.com", "run.googleapis.com", "cloudbuild.googleapis.com",
        "artifactregistry.googleapis.com", "eventarc.googleapis.com", "pubsub.googleapis.com",
        "cloudscheduler.googleapis.com", "storage.googleapis.com", "iam.googleapis.com", "logging.googleapis.com")
IDEMPOTENCY_COLLECTION = "portafunc-idempotency"
LAYOUTS = ("service", "per-route")
RETRY_DELAYS = "--min-retry-delay=10s --max-retry-delay=600s"
BUCKET_PART = 32  # of a default bucket name: 63 (Cloud Storage's limit) - 30 (a project id's) - 1 for the '-'
SERVICE_NAME = 63  # Cloud Run's limit on a service name
PUBSUB_PART = 186  # of a default staged topic name: 255 (Pub/Sub's limit) - '-<service>-dead' built on it (1 + 63 + 5)


def deploy_name(app: App, spec: FunctionSpec, prefix: str | None = None) -> str:
    """Cloud Run service names: lower-case letters, digits and '-', at most 63, starting with a letter.
    ``prefix`` is the app name, with the stage when there is one (``shop-prod``)."""
    return _service_name(f"{prefix or app.name}-{spec.name}")


def http_service_name(app: App, prefix: str | None = None) -> str:
    """The app's one HTTP service (one base URL for every route)."""
    return _service_name(f"{prefix or app.name}-http")


def _service_name(text: str) -> str:
    return _uncut_service_name(text)[:SERVICE_NAME].rstrip("-")


def _uncut_service_name(text: str) -> str:
    """:func:`_service_name` before it is cut to Cloud Run's 63 characters."""
    name = re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")
    name = re.sub(r"-{2,}", "-", name)
    if not name[:1].isalpha():
        name = "f-" + name
    return name


def account_id(app: App, role: str, prefix: str | None = None) -> str:
    """A service-account id (6-30 characters: lower-case letters, digits, '-', starting with a letter)."""
    base = _service_name(prefix or app.name)
    room = 30 - len(role) - 1
    account = f"{base[:room].rstrip('-')}-{role}"
    return account if len(account) >= 6 else f"pf-{account}"


def staged(name: str, stage: str | None) -> str:
    """The default name of a resource the script creates: ``<name>-<stage>`` with a stage (two stages deployed into
    one project then share no topic, bucket or collection), the name itself without one."""
    return f"{name}-{stage}" if stage else name


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:8]


def topic_name(name: str, stage: str | None = None) -> str:
    """The default Pub/Sub topic of a logical topic or queue (``TOPIC_<NAME>``/``QUEUE_<NAME>`` override it). A staged
    name longer than ``PUBSUB_PART`` is cut and carries 8 hex digits of its hash before the stage, so the
    subscriptions and dead-letter topics named after it stay within Pub/Sub's 255 characters."""
    full = staged(name, stage)
    if not stage or len(full) <= PUBSUB_PART:
        return full
    return f"{name[:PUBSUB_PART - len(stage) - 10]}-{_digest(full)}-{stage}"


def bucket_part(name: str, stage: str | None = None) -> str:
    """The logical part of a bucket's default name ``<project>-<part>`` (bucket names are global, so the project id
    makes them unique), with the stage when there is one: lower-case letters, digits, '-' and '_' (a '.' would need a
    verified domain), at most 32 characters. A name that does not fit as it is ends with 8 hex digits of its hash, so
    two names never share one."""
    name = staged(name, stage)
    part = re.sub(r"[^a-z0-9_-]", "-", name.lower()).strip("-_")
    if part == name and len(part) <= BUCKET_PART:
        return part
    return f"{part[:BUCKET_PART - 9].rstrip('-_')}-{_digest(name)}".lstrip("-")


def _var(kind: str, name: str) -> str:
    return re.sub(r"[^A-Z0-9]", "_", f"{kind}_{name}".upper())


def _q(text: str) -> str:
    return shlex.quote(text)


def deployed_functions(app: App, layout: str = "service", prefix: str | None = None) -> dict[str, str]:
    """deployed name → what it serves; refuses two functions whose names collide after Cloud Run's mangling
    (:func:`service_name_problems`)."""
    names, problems = _deployed(app, layout, prefix)
    if problems:
        raise PackagingError(problems[0] if len(problems) == 1 else "; ".join(problems))
    return names


def service_name_problems(app: App, layout: str = "service", prefix: str | None = None) -> list[str]:
    """One line per two services that become one Cloud Run service name (lower-cased, cleaned, cut to 63
    characters after ``<app>[-<stage>]-``), with what would separate them: another function name when the names
    differ only in case or punctuation, or within the room the prefix leaves; a shorter app or stage name when the
    prefix leaves none."""
    return _deployed(app, layout, prefix)[1]


def _deployed(app: App, layout: str, prefix: str | None) -> tuple[dict[str, str], list[str]]:
    if layout not in LAYOUTS:
        raise PackagingError(f"GCP HTTP layout {layout!r}: choose one of {', '.join(LAYOUTS)}")
    base = prefix or app.name
    names: dict[str, str] = {}
    parts: dict[str, str] = {}
    problems: list[str] = []

    def add(part: str, what: str) -> None:
        name = _service_name(f"{base}-{part}")
        if name not in names:
            names[name] = what
            parts[name] = part
            return
        problems.append(f"{what} and {names[name]} both deploy as the Cloud Run service {name!r}; "
                        + _collision_hint(base, part, parts[name], app.name))

    http = app.http_functions()
    if http and layout == "service":
        add("http", "the app's HTTP service")
    for spec in app:
        if layout == "service" and isinstance(spec.trigger, HttpTrigger):
            continue
        add(spec.name, f"function {spec.name!r}")
    return names, problems


def _collision_hint(base: str, part: str, other: str, app_name: str) -> str:
    """What separates two services named ``<base>-<part>`` and ``<base>-<other>`` once Cloud Run's rules made them
    one."""
    staged = base != app_name
    shorter = "a shorter app name" + (" or stage name" if staged else "")
    if _uncut_service_name(f"{base}-{part}") == _uncut_service_name(f"{base}-{other}"):
        return ("service names are lower-case letters, digits and '-': rename one of them (name=... on the "
                "decorator)")
    used = len(_uncut_service_name(base))
    room = SERVICE_NAME - used - 1
    if room < 1:
        return (f"a name is cut to Cloud Run's {SERVICE_NAME} characters, and the app name"
                + (" with the stage" if staged else "") + f" fills {used} of them, so no function name can tell the "
                f"two apart: use {shorter}")
    return (f"a name is cut to Cloud Run's {SERVICE_NAME} characters, which leaves {room} after {base + '-'!r}: "
            f"rename one of them (name=... on the decorator) so the two differ within their first {room} "
            f"characters, or use {shorter}")


def http_access(app: App) -> str:
    """``public`` or ``private`` for the one HTTP service; mixed routes cannot share one Cloud Run IAM policy."""
    from portafunc.auth import platform_level  # a JwtAuth route is public to IAM: the function checks its tokens

    levels = {platform_level(s.trigger.auth) for s in app.http_functions() if isinstance(s.trigger, HttpTrigger)}
    if len(levels) > 1:
        public = sorted(s.name for s in app.http_functions()
                        if isinstance(s.trigger, HttpTrigger) and platform_level(s.trigger.auth) == "anonymous")
        raise PackagingError("GCP serves every route from one HTTP service whose access is one IAM policy, but "
                             f"routes mix auth='anonymous' ({', '.join(public)}) and auth='function'; give them "
                             "one auth level, or deploy one function per route ([targets.gcp] http = "
                             "\"per-route\")")
    return "public" if levels == {"anonymous"} else "private"


class _Script:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def add(self, *lines: str) -> None:
        self.lines.extend(lines)

    def say(self, text: str) -> None:
        self.lines += ["", f"say {_q(text)}"]


def kv_collection(name: str, stage: str | None = None) -> str:
    """The Firestore collection of a key-value table (a collection id has no '/'), per stage."""
    return "portafunc-kv-" + re.sub(r"[^A-Za-z0-9_.-]", "-", staged(name, stage))


def idempotency_collection(stage: str | None = None) -> str:
    """The Firestore collection of the idempotency records, per stage."""
    return staged(IDEMPOTENCY_COLLECTION, stage)


def _labels(tags: dict[str, str]) -> str:
    """Cloud Run labels: lower-case keys and values of letters, digits, '_' and '-' (at most 63)."""
    def clean(text: str) -> str:
        return re.sub(r"[^a-z0-9_-]", "-", text.lower())[:63]

    return ",".join(f"{clean(k)}={clean(v)}" for k, v in sorted(tags.items()))


def _merge_http(models: list[FunctionModel]) -> FunctionSettings:
    """The one HTTP service's settings: the largest memory/timeout, the union of env, secrets and tags (a variable
    set differently by two routes cannot live in one service: refused)."""
    env: dict[str, str] = {}
    secrets: dict[str, Any] = {}
    tags: dict[str, str] = {}
    for fn in models:
        for key, value in fn.settings.env.items():
            if env.setdefault(key, value) != value:
                raise PackagingError(f"GCP serves every HTTP route from one service, but env {key} differs between "
                                     "its functions; set it app-wide, or use the per-route layout")
        secrets.update(fn.settings.secrets)
        tags.update(fn.settings.tags)
    concurrency = [fn.settings.concurrency for fn in models if fn.settings.concurrency]
    return FunctionSettings(memory=max(fn.settings.memory for fn in models),
                            timeout=max(fn.settings.timeout for fn in models), env=env, secrets=secrets,
                            concurrency=max(concurrency) if concurrency else None, tags=tags)


def _heredoc_safe(value: str) -> str:
    """A user's value inside the unquoted heredoc that writes the env file: no expansion of $, ` or \\."""
    return value.replace("\\", "\\\\").replace("$", "\\$").replace("`", "\\`")


def options(deployment: Deployment) -> dict[str, Any]:
    """``[targets.gcp]`` of the configuration file: ``http = "service" | "per-route"``; anything else refused."""
    table = dict(deployment.config.targets.get("gcp", {}))
    unknown = sorted(set(table) - {"http"})
    if unknown:
        raise PackagingError(f"[targets.gcp]: unknown option(s) {', '.join(unknown)}; known: http")
    layout = table.get("http", "service")
    if layout not in LAYOUTS:
        raise PackagingError(f"[targets.gcp] http = {layout!r}: choose one of {', '.join(LAYOUTS)}")
    return {"http": layout}


def _secret_name(ref: str) -> tuple[str, str]:
    """A secret reference → (Secret Manager name, version): ``name``, ``name:3``, ``projects/P/secrets/name`` as
    they are; a neutral path such as ``shop/api-key`` becomes ``shop-api-key`` (Secret Manager names have no '/')."""
    name, version = (ref.rsplit(":", 1) + ["latest"])[:2] if ":" in ref else (ref, "latest")
    if name.startswith("projects/"):
        return name.rsplit("/", 1)[-1], version
    return re.sub(r"[^A-Za-z0-9_-]", "-", name), version


def render_deploy(app: App, zip_name: str, python: str, *, layout: str = "service",
                  deployment: Deployment | None = None) -> str:
    """The ``deploy.sh`` for ``app`` deploying ``zip_name`` (a file next to the script) on runtime ``python``, from
    the app's resource model (``deployment``; ``app.resources()`` without one)."""
    dep = deployment if deployment is not None else app.resources()
    problems = existing_problems(dep)
    if problems:
        raise PackagingError("; ".join(problems))
    stage = dep.stage  # in every default name (never in an existing resource's): two stages share nothing
    ex = {key: found for key in dep.resources if (found := existing_url(dep, *key)) is not None}
    prefix = f"{app.name}-{stage}" if stage else app.name
    deployed_functions(app, layout, prefix)
    runtime = "python" + python.replace(".", "")
    specs = list(app)
    topic_specs = [s for s in specs if isinstance(s.trigger, TopicTrigger)]
    queue_specs = [s for s in specs if isinstance(s.trigger, QueueTrigger)]
    schedule_specs = [s for s in specs if isinstance(s.trigger, ScheduleTrigger)]
    storage_specs = [s for s in specs if isinstance(s.trigger, StorageTrigger)]
    http_specs = [s for s in specs if isinstance(s.trigger, HttpTrigger)]
    topics = [r.name for r in dep.of_kind("topic")]
    queues = [r.name for r in dep.of_kind("queue")]
    buckets = [r.name for r in dep.of_kind("bucket")]
    consumers = topic_specs + queue_specs
    idempotency = dep.resource("idempotency", IDEMPOTENCY_STORE)
    kv_tables = dep.of_kind("kv")
    own_firestore = [r for r in kv_tables + ([idempotency] if idempotency else []) if r.key not in ex]
    secrets = sorted({_secret_name(ref.ref("gcp") or ref.variable)[0] for fn in dep.functions.values()
                      for ref in fn.settings.secrets.values()})
    apis = APIS + (("firestore.googleapis.com",) if idempotency or kv_tables else ()) + \
        (("secretmanager.googleapis.com",) if secrets else ())

    def svc(spec: FunctionSpec) -> str:
        return deploy_name(app, spec, prefix)

    def account(role: str) -> str:
        return account_id(app, role, prefix)

    out = _Script()
    out.add(
        "#!/usr/bin/env bash",
        f"# Deploy app {app.name!r}{f' (stage {dep.stage})' if dep.stage else ''} to Google Cloud (Cloud Run "
        "functions, Pub/Sub, Eventarc,",
        "# Cloud Scheduler, Cloud Storage). Generated by portafunc-gcp from the app's resource model: regenerate with",
        "# `portafunc package --target gcp`. Runs on a fresh project and is safe to run again (every create is guarded",
        "# by a describe). Usage: PROJECT=my-project [REGION=us-central1] ./deploy.sh",
        "# Needs: gcloud, python3, and roles/owner on the project (or the admin roles listed in docs/gcp.md).",
        "# Topic and queue names default to the logical names, bucket names (global across Google Cloud) to",
        "# PROJECT-name" + (f", each with -{stage}" if stage else "") +
        "; override any of the variables below from the environment.",
        "set -euo pipefail",
        'PROJECT="${PROJECT:?set PROJECT to your Google Cloud project id}"',
        'REGION="${REGION:-us-central1}"',
        f"RUNTIME={runtime}",
        f'RUN_SA="{account("run")}@${{PROJECT}}.iam.gserviceaccount.com"',
        f'INVOKER_SA="{account("invoker")}@${{PROJECT}}.iam.gserviceaccount.com"',
        f'BUILD_SA="{account("build")}@${{PROJECT}}.iam.gserviceaccount.com"',
    )
    for kind, names in (("TOPIC", topics), ("QUEUE", queues)):
        for name in names:
            if (kind.lower(), name) not in ex:  # an existing one is named by its URL, not by a variable
                out.add(f'{_var(kind, name)}="${{{_var(kind, name)}:-{topic_name(name, stage)}}}"')
    own_buckets = [b for b in buckets if ("bucket", b) not in ex]
    if own_buckets:  # the project id as a bucket-name stem: ':' and '.' of a domain-scoped id become '-', 30 at most
        out.add('PROJECT_STEM="${PROJECT//[:.]/-}"; PROJECT_STEM="${PROJECT_STEM:0:30}"')
    for name in own_buckets:
        out.add(f'{_var("BUCKET", name)}="${{{_var("BUCKET", name)}:-${{PROJECT_STEM}}-{bucket_part(name, stage)}}}"')
    out.add(
        'HERE="$(cd "$(dirname "$0")" && pwd)"',
        'SRC="$(mktemp -d)"; ENVS="$(mktemp -d)"; trap \'rm -rf "$SRC" "$ENVS"\' EXIT',
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
        'ensure_pull() {  # subscription, topic: keeps what reaches a topic nothing else consumes (dead letters)',
        '  quietly gcloud pubsub subscriptions describe "$1" --project="$PROJECT" '
        '|| gcloud pubsub subscriptions create "$1" --project="$PROJECT" --topic="$2" --message-retention-duration=7d',
        '}',
        'topic_role() {  # topic, member, role',
        '  retry gcloud pubsub topics add-iam-policy-binding "$1" --project="$PROJECT" --member="$2" --role="$3" '
        '>/dev/null',
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
    out.add(f'ensure_account {account("run")} {_q(prefix + " functions (runtime identity)")}',
            f'ensure_account {account("invoker")} {_q(prefix + " invoker (Pub/Sub push, Scheduler, Eventarc)")}',
            f'ensure_account {account("build")} {_q(prefix + " builds (Cloud Build)")}',
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
    if idempotency or kv_tables:
        out.add('project_role "serviceAccount:${RUN_SA}" roles/datastore.user')

    def ref(kind: str, name: str) -> str:
        """A topic's or queue's topic in the script: its variable, or an existing one's full path."""
        url = ex.get((kind, name))
        return topic_path(url) if url is not None else f'${{{_var(kind.upper(), name)}}}'

    def stem(kind: str, name: str) -> str:
        """What this app's own subscriptions and dead-letter topics on a topic or queue are named after."""
        return topic_name(name, stage) if (kind, name) in ex else ref(kind, name)

    def full(topic: str) -> str:
        return topic if topic.startswith("projects/") else f"projects/${{PROJECT}}/topics/{topic}"

    queue_ref = {q: ref("queue", q) for q in queues}
    topic_ref = {t: ref("topic", t) for t in topics}
    bucket_ref = {b: bucket_name(ex[("bucket", b)]) if ("bucket", b) in ex else f'${{{_var("BUCKET", b)}}}'
                  for b in buckets}
    dlq: dict[str, str] = {}  # function -> dead-letter topic expression (Pub/Sub's policy and the pipeline's)
    auto_dlq: list[str] = []
    for spec in consumers:
        trig = spec.trigger
        declared = dep.functions[spec.name].dead_letter
        if declared is not None:
            dlq[spec.name] = queue_ref[declared]
        else:
            source = stem("topic", trig.topic) if isinstance(trig, TopicTrigger) else \
                stem("queue", trig.queue)  # type: ignore[union-attr]
            dlq[spec.name] = f"{source}-{svc(spec)}-dead"
            auto_dlq.append(dlq[spec.name])
    consumed = {s.trigger.queue for s in queue_specs}  # type: ignore[union-attr]
    if topics or queues:
        out.say("topics, queues and dead letters")
        for name in topics:
            if ("topic", name) not in ex:
                out.add(f'ensure_topic "{topic_ref[name]}"')
        for name in queues:
            if ("queue", name) in ex:
                continue
            out.add(f'ensure_topic "{queue_ref[name]}"')
            if name not in consumed:  # sent to, dead-lettered into, but consumed by no function here: keep it
                out.add(f'ensure_pull "{queue_ref[name]}" "{queue_ref[name]}"')
        for expr in auto_dlq:
            out.add(f'ensure_topic "{expr}"', f'ensure_pull "{expr}" "{expr}"')
        out.add("# What each function may publish or send to (its grants), and its dead-letter topic.")
        publish: list[str] = []
        for fn in dep.functions.values():
            for g in fn.grants:
                if g.kind == "topic" and "publish" in g.access:
                    publish.append(topic_ref[g.name])
                elif g.kind == "queue" and "send" in g.access:
                    publish.append(queue_ref[g.name])
        publish += [dlq[s.name] for s in consumers]
        for expr in dict.fromkeys(publish):
            out.add(f'topic_role "{expr}" "serviceAccount:${{RUN_SA}}" roles/pubsub.publisher')
    if buckets:
        out.say("buckets")
        for name in buckets:
            bv = bucket_ref[name]
            if ("bucket", name) not in ex:
                out.add(f'quietly gcloud storage buckets describe "gs://{bv}" --project="$PROJECT" '
                        f'|| gcloud storage buckets create "gs://{bv}" --project="$PROJECT" --location="$REGION" '
                        '--uniform-bucket-level-access')
            access = {a for _, g in dep.users("bucket", name) for a in g.access}
            # a storage trigger's function reads the object that arrived (StorageEvent.read/open): consume reads
            role = "roles/storage.objectUser" if "write" in access else \
                "roles/storage.objectViewer" if access & {"read", "consume"} else None
            if role:
                out.add(f'retry gcloud storage buckets add-iam-policy-binding "gs://{bv}" --project="$PROJECT" '
                        f'--member="serviceAccount:${{RUN_SA}}" --role={role} >/dev/null')
    if own_firestore:
        out.say("Firestore (key-value tables and idempotency records)")
        out.add('quietly gcloud firestore databases describe --database="(default)" --project="$PROJECT" '
                '|| gcloud firestore databases create --database="(default)" --location="$REGION" '
                '--type=firestore-native --project="$PROJECT"')
    if idempotency and idempotency.key not in ex:
        out.add("# idempotency records are swept by a TTL policy on their expiration field",
                f'gcloud firestore fields ttls update expiration --collection-group={idempotency_collection(stage)} '
                '--enable-ttl --async --project="$PROJECT" --quiet >/dev/null')
    if [r for r in kv_tables if r.key not in ex]:  # entries put with ttl= carry 'expiration' too (this sweeps)
        out.add("# key-value entries written with a ttl are swept by a TTL policy on their expiration field",
                *(f'gcloud firestore fields ttls update expiration --collection-group={kv_collection(r.name, stage)} '
                  '--enable-ttl --async --project="$PROJECT" --quiet >/dev/null' for r in kv_tables if r.key not in ex))
    if secrets:
        out.say("secrets (values are yours: create each one in Secret Manager before deploying)")
        for name in secrets:
            out.add(f'quietly gcloud secrets describe {_q(name)} --project="$PROJECT" || {{ echo "missing secret '
                    f'{name}: printf %s VALUE | gcloud secrets create {name} --project=$PROJECT --data-file=-" >&2; '
                    'exit 1; }',
                    f'retry gcloud secrets add-iam-policy-binding {_q(name)} --project="$PROJECT" '
                    '--member="serviceAccount:${RUN_SA}" --role=roles/secretmanager.secretAccessor >/dev/null')

    def binding(kind: str, name: str) -> str | None:
        url = ex.get((kind, name))
        if url is not None and not (kind == "queue" and "/topics/" in url):
            return url  # an existing resource is bound exactly as the configuration names it
        if kind == "topic":
            return f"pubsub://projects/${{PROJECT}}/topics/{topic_ref[name]}"
        if kind == "queue":
            res = dep.resource("queue", name)
            consumer = res.options.get("consumer") if res is not None else None
            sub = f"{stem('queue', name)}-{deploy_name(app, app.function(consumer), prefix)}" if consumer \
                else queue_ref[name]
            timeout = f"&timeout={url.split('timeout=', 1)[1]}" if url and "timeout=" in url else ""
            return f"pubsub://projects/${{PROJECT}}/subscriptions/{sub}?topic={queue_ref[name]}{timeout}"
        if kind == "idempotency":
            return f"firestore://${{PROJECT}}/{idempotency_collection(stage)}"
        if kind == "bucket":
            return f"gs://{bucket_ref[name]}"
        if kind == "kv":
            return f"firestore://${{PROJECT}}/{kv_collection(name, stage)}"
        return None

    def env_file(label: str, models: list[FunctionModel], settings: FunctionSettings) -> str:
        lines: dict[str, str] = {}
        for fn in models:
            for g in fn.grants:
                url = binding(g.kind, g.name)
                if url is not None:
                    lines[g.binding] = url
            if fn.name in dlq and fn.dead_letter is None:
                lines[env_name("DEADLETTER", fn.name)] = f"pubsub://projects/${{PROJECT}}/topics/{dlq[fn.name]}"
        lines.update({k: _heredoc_safe(v) for k, v in settings.env.items()})
        lines["PORTAFUNC_TARGET"] = "gcp"
        out.add(f'cat > "$ENVS/{label}.yaml" <<EOF')
        out.add(*(f"{key}: {json.dumps(value)}" for key, value in lines.items()))
        out.add("EOF")
        return f'--env-vars-file="$ENVS/{label}.yaml"'

    def flags(settings: FunctionSettings) -> str:
        parts = [f"--memory={settings.memory}Mi", f"--timeout={settings.timeout}s"]
        if settings.concurrency:
            parts.append(f"--max-instances={settings.concurrency}")
        if settings.secrets:
            refs = ",".join(f"{var}={':'.join(_secret_name(ref.ref('gcp') or var))}"
                            for var, ref in sorted(settings.secrets.items()))
            parts.append(f"--set-secrets={refs}")
        if settings.tags:
            parts.append(f"--update-labels={_labels(settings.tags)}")
        return " ".join(parts)

    common = ('--gen2 --project="$PROJECT" --region="$REGION" --runtime="$RUNTIME" --source="$SRC" '
              '--service-account="$RUN_SA" --build-service-account="projects/${PROJECT}/serviceAccounts/${BUILD_SA}" '
              '--quiet')

    def deploy(name: str, spec_or_label: str, models: list[FunctionModel], settings: FunctionSettings) -> str:
        env = env_file(spec_or_label, models, settings)
        return f"gcloud functions deploy {name} {common} {env} {flags(settings)}"

    def url(name: str) -> str:
        return (f'URL="$(gcloud functions describe {name} --gen2 --project="$PROJECT" --region="$REGION" '
                "--format='value(serviceConfig.uri)')\"")

    if http_specs:
        if layout == "service":
            name = http_service_name(app, prefix)
            auth = "--allow-unauthenticated" if http_access(app) == "public" else "--no-allow-unauthenticated"
            routes = ", ".join(f"{'|'.join(t.methods)} {t.route.template}"
                               for t in (s.trigger for s in http_specs) if isinstance(t, HttpTrigger))
            models = [dep.functions[s.name] for s in http_specs]
            out.say(f"HTTP service {name}: {routes}")
            out.add(deploy(name, "http", models, _merge_http(models)) + f" --entry-point={HTTP_SERVICE} "
                    f"--trigger-http {auth}", url(name), f'echo "{app.name} HTTP API: $URL"')
        else:
            for spec in http_specs:
                name = svc(spec)
                trig = spec.trigger
                public = isinstance(trig, HttpTrigger) and trig.auth != "function"  # JwtAuth: checked inside
                auth = "--allow-unauthenticated" if public else "--no-allow-unauthenticated"
                fn = dep.functions[spec.name]
                out.say(f"{spec.name}: {trig.describe()}")
                out.add(deploy(name, spec.name, [fn], fn.settings) + f" --entry-point={spec.name} --trigger-http "
                        f"{auth}", url(name), f'echo "{spec.name}: $URL"')

    def event_deploy(spec: FunctionSpec) -> str:
        fn = dep.functions[spec.name]
        return deploy(svc(spec), spec.name, [fn], fn.settings) + f" --entry-point={spec.name}"

    def push(spec: FunctionSpec, topic: str, sub: str, ack: int, max_attempts: int, ordered: bool) -> None:
        """The function behind a push subscription of this project on ``topic`` (which may be another
        project's), with its dead-letter policy."""
        name = svc(spec)
        sub_flags = (f'--push-endpoint="$URL" --push-auth-service-account="$INVOKER_SA" --ack-deadline={ack} '
                     f'--dead-letter-topic="{full(dlq[spec.name])}" '
                     f'--max-delivery-attempts={max(max_attempts, PUBSUB_MIN_ATTEMPTS)} {RETRY_DELAYS}')
        out.say(f"{spec.name}: {spec.trigger.describe()}")
        out.add(event_deploy(spec) + " --trigger-http --no-allow-unauthenticated", url(name), f"invoker {name}",
                f'SUB="{sub}-{name}"',
                'if quietly gcloud pubsub subscriptions describe "$SUB" --project="$PROJECT"; then',
                f'  gcloud pubsub subscriptions update "$SUB" --project="$PROJECT" {sub_flags}',
                "else",
                f'  gcloud pubsub subscriptions create "$SUB" --project="$PROJECT" --topic="{topic}" '
                f'{sub_flags}' + (" --enable-message-ordering" if ordered else ""),
                "fi",
                f'dead_letter_rights "{dlq[spec.name]}" "$SUB"')

    for spec in topic_specs:
        trig = spec.trigger
        assert isinstance(trig, TopicTrigger)
        name = svc(spec)
        if ("topic", trig.topic) in ex:  # Eventarc's Pub/Sub triggers take topics of their own project only
            timeout = dep.functions[spec.name].settings.timeout
            push(spec, topic_ref[trig.topic], stem("topic", trig.topic), min(600, max(10, timeout)),
                 trig.max_attempts, False)
            continue
        out.say(f"{spec.name}: {trig.describe()}")
        out.add(event_deploy(spec) + f' --trigger-topic="{topic_ref[trig.topic]}" '
                '--trigger-service-account="$INVOKER_SA" --retry --no-allow-unauthenticated',
                f"invoker {name}",
                f'TRIGGER="$(gcloud functions describe {name} --gen2 --project="$PROJECT" --region="$REGION" '
                "--format='value(eventTrigger.trigger)')\"",
                'SUB="$(gcloud eventarc triggers describe "$TRIGGER" --project="$PROJECT" --location="$REGION" '
                "--format='value(transport.pubsub.subscription)')\"",
                f'gcloud pubsub subscriptions update "$SUB" --project="$PROJECT" '
                f'--dead-letter-topic="{full(dlq[spec.name])}" '
                f'--max-delivery-attempts={trig.max_attempts} {RETRY_DELAYS}',
                f'dead_letter_rights "{dlq[spec.name]}" "$SUB"')
    for spec in queue_specs:
        trig = spec.trigger
        assert isinstance(trig, QueueTrigger)
        push(spec, queue_ref[trig.queue], stem("queue", trig.queue), min(600, max(10, trig.visibility_timeout)),
             trig.max_attempts, trig.ordered)
    for spec in schedule_specs:
        trig = spec.trigger
        assert isinstance(trig, ScheduleTrigger)
        name = svc(spec)
        job = (f'--location="$REGION" --schedule={_q(trig.schedule.written(SCHEDULE_DIALECT))} --time-zone=UTC --uri="$URL" '
               '--http-method=POST --oidc-service-account-email="$INVOKER_SA" --oidc-token-audience="$URL"')
        out.say(f"{spec.name}: {trig.describe()}")
        out.add(event_deploy(spec) + " --trigger-http --no-allow-unauthenticated", url(name), f"invoker {name}",
                f'if quietly gcloud scheduler jobs describe {name} --project="$PROJECT" --location="$REGION"; then',
                f'  gcloud scheduler jobs update http {name} --project="$PROJECT" {job}',
                "else",
                f'  gcloud scheduler jobs create http {name} --project="$PROJECT" {job}',
                "fi")
    for spec in storage_specs:
        trig = spec.trigger
        assert isinstance(trig, StorageTrigger)
        name = svc(spec)
        bv = bucket_ref[trig.bucket]
        first, *rest = trig.events
        out.say(f"{spec.name}: {trig.describe()}")
        out.add(event_deploy(spec) + f' --trigger-event-filters="type={KIND_TO_CE[first]}" '
                f'--trigger-event-filters="bucket={bv}" --trigger-location="$REGION" '
                '--trigger-service-account="$INVOKER_SA" --retry --no-allow-unauthenticated', f"invoker {name}")
        for kind in rest:  # one more Eventarc trigger per extra event type, to the same Cloud Run service
            trigger = f"{name}-{kind.replace('_', '-')}"
            out.add(f'quietly gcloud eventarc triggers describe {trigger} --project="$PROJECT" --location="$REGION" '
                    f'|| gcloud eventarc triggers create {trigger} --project="$PROJECT" --location="$REGION" '
                    f'--destination-run-service={name} --destination-run-region="$REGION" '
                    f'--event-filters="type={KIND_TO_CE[kind]}" --event-filters="bucket={bv}" '
                    '--service-account="$INVOKER_SA"')
    out.say(f"{prefix} is deployed")
    out.add("")
    return "\n".join(out.lines)


def gcloud_lines(script: str) -> Iterable[str]:
    """The lines of ``script`` that run gcloud (for reviews and tests)."""
    for line in script.splitlines():
        text = line.strip()
        if "gcloud " in text and not text.startswith("#"):
            yield text


__all__ = ["APIS", "BUCKET_PART", "LAYOUTS", "PUBSUB_PART", "account_id", "bucket_part", "deploy_name",
           "deployed_functions", "gcloud_lines", "http_access", "service_name_problems", "http_service_name", "idempotency_collection",
           "kv_collection", "render_deploy", "staged", "topic_name"]
