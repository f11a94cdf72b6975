"""The container target's deployments of an app reaching every kind of resource (tests/container/apps/ledger: a
bucket trigger, key-value table, a queue with ``dead_letter=``, a topic, an idempotent consumer, a schedule, a route),
packaged for stages ``prod`` and ``dev``.

Cloud Run, checked with Google's own CLI offline (the GCP target's harness, tests/gcp/gcloud_replay.py, fitted in
cloudrun_replay.py): ``deploy.sh`` runs under bash against a recording gcloud on a fresh project, then again; every
gcloud command it ran is replayed through the real gcloud argument parser with the API pointed at a local recorder.
It provisions what every binding of the services points at, grants least privilege, keeps dead letters, honours the
declared dead letter, guards every create, and two stages share no name.

Knative and Container Apps: every name the manifests give carries the stage, consistently with the bindings.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

HERE = Path(__file__).resolve().parent
LEDGER = HERE / "apps" / "ledger"
PROJECT = "pf-replay-project"
STAGES = ("prod", "dev")

def _package(project: Path, out: Path, stage: str | None) -> Path:
    result = subprocess.run([sys.executable, "-m", "portafunc.cli", "package", "--target", "container", str(project),
                             "--out", str(out), *(["--stage", stage] if stage else [])],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    return out / "container"


@pytest.fixture(scope="module")
def packaged(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("ledger")
    return {stage: _package(LEDGER, root / stage, stage) for stage in STAGES}


@pytest.fixture(scope="module")
def runs(packaged: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """prod's deploy.sh run twice on one fresh project, dev's once on the same project."""
    from cloudrun_replay import CloudRunRecorder

    root = tmp_path_factory.mktemp("cloudrun-runs")
    prod = CloudRunRecorder(root / "prod")
    first = prod.run(packaged["prod"] / "cloudrun" / "deploy.sh")
    services = _deployed_services(packaged["prod"])
    second = prod.run(packaged["prod"] / "cloudrun" / "deploy.sh")
    dev = CloudRunRecorder(root / "dev").run(packaged["dev"] / "cloudrun" / "deploy.sh")
    return {"first": first, "second": second, "dev": dev, "service": services,
            "dev_service": _deployed_services(packaged["dev"])}


def _deployed_services(out: Path) -> list[dict[str, Any]]:
    """The Services deploy.sh replaced, as it wrote them (one file each: ``gcloud run services replace`` reads one)."""
    files = [out / "cloudrun" / f"{name}.deploy.yaml" for name in ("http", "events")]
    return [yaml.safe_load(file.read_text()) for file in files if file.exists()]


def _words(call: list[str]) -> list[str]:
    return [w for w in call if not w.startswith("-")]


def _flag(call: list[str], name: str) -> list[str]:
    return [a.split("=", 1)[1] for a in call if a.startswith(f"--{name}=")]


def _resource(call: list[str]) -> tuple[tuple[str, ...], str] | None:
    """(command group, resource name) of a create or describe: ``(("pubsub", "topics"), "ledger-prod-rows")``."""
    words = _words(call)
    verb = next((i for i, w in enumerate(words[:4]) if w in ("create", "describe")), None)
    if verb is None:
        return None
    rest = words[verb + 1:]
    if words[:2] == ["scheduler", "jobs"] and rest[:1] == ["http"]:
        rest = rest[1:]
    name = (_flag(call, "database") or rest[:1] or [""])[0]
    return tuple(words[:verb]), name.split("@")[0]


def _creates(calls: list[list[str]]) -> list[list[str]]:
    return [c for c in calls if "create" in _words(c)[:4]]


def _env(service: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e["value"] for e in service["spec"]["template"]["spec"]["containers"][0]["env"]}


def _grants(calls: list[list[str]]) -> set[tuple[str, str, str]]:
    """(what, member, role) of every IAM binding the script added; what is ``project`` or the resource's name."""
    out = set()
    for call in calls:
        words = _words(call)
        if "add-iam-policy-binding" not in words:
            continue
        what = "project" if words[0] == "projects" else words[words.index("add-iam-policy-binding") + 1]
        for member in _flag(call, "member"):
            out.add((what.removeprefix("gs://"), member.split("@")[0], _flag(call, "role")[0]))
    return out


# -- Cloud Run --------------------------------------------------------------------------------------------------------

@pytest.mark.deploy
def test_cloud_run_runs_on_a_fresh_project_and_again_guarding_every_create(runs: dict[str, Any]) -> None:
    first, second = runs["first"], runs["second"]
    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr
    made = _creates(first.calls)
    assert {tuple(_words(c)[:2]) for c in made} >= {("iam", "service-accounts"), ("pubsub", "topics"),
                                               ("pubsub", "subscriptions"), ("storage", "buckets"),
                                               ("firestore", "databases"), ("eventarc", "triggers"),
                                               ("scheduler", "jobs")}
    for call in made:  # each create comes after a describe of the same resource
        at = first.calls.index(call)
        assert any(_resource(c) == _resource(call) and "describe" in _words(c)[:4] for c in first.calls[:at]), \
            f"unguarded: {' '.join(call)}"
    assert _creates(second.calls) == [], "the second run created again"
    # what exists is brought up to date rather than skipped: push subscriptions and scheduler jobs
    updated = {tuple(_words(c)[:3]) for c in second.calls if "update" in _words(c)[:3]}
    assert {("pubsub", "subscriptions", "update"), ("scheduler", "jobs", "update")} <= updated
    for call in first.calls:
        named = f"--project={PROJECT}" in call or _words(call)[:3] in (["projects", "describe", PROJECT],
                                                                        ["projects", "add-iam-policy-binding", PROJECT])
        assert named, f"no --project: {call}"


@pytest.mark.deploy
def test_cloud_run_provisions_what_every_binding_points_at(runs: dict[str, Any]) -> None:
    calls = runs["first"].calls
    made = {_resource(c) for c in _creates(calls)}
    subscriptions = {_words(c)[3]: _flag(c, "topic")[0] for c in _creates(calls) if _words(c)[:2] ==
                     ["pubsub", "subscriptions"]}
    ttl = {v for c in calls for v in _flag(c, "collection-group")}
    services = runs["service"]
    assert [s["metadata"]["name"] for s in services] == ["ledger-prod-http", "ledger-prod-events"]
    for service in services:
        env = _env(service)
        bound = {k: v for k, v in env.items() if k.startswith(("PORTAFUNC_TOPIC_", "PORTAFUNC_QUEUE_",
                                                               "PORTAFUNC_BUCKET_", "PORTAFUNC_KV_",
                                                               "PORTAFUNC_IDEMPOTENCY_", "PORTAFUNC_DEADLETTER_"))}
        assert len(bound) == 8, bound
        for variable, url in bound.items():
            assert "${" not in url and "ledger-prod-" in url, (variable, url)
            if m := re.fullmatch(rf"pubsub://projects/{PROJECT}/topics/([a-z0-9-]+)", url):
                assert (("pubsub", "topics"), m[1]) in made, variable
            elif m := re.fullmatch(rf"pubsub://projects/{PROJECT}/subscriptions/([a-z0-9-]+)\?topic=([a-z0-9-]+)",
                                   url):
                assert subscriptions.get(m[1]) == m[2] and (("pubsub", "topics"), m[2]) in made, variable
            elif m := re.fullmatch(r"gs://([a-z0-9-]+)", url):
                assert (("storage", "buckets"), f"gs://{m[1]}") in made, variable
            elif m := re.fullmatch(rf"firestore://{PROJECT}/([a-z0-9-]+)", url):
                assert (("firestore", "databases"), "(default)") in made and m[1] in ttl, variable
            else:
                pytest.fail(f"{variable}={url}: not a binding deploy.sh provisions")
        assert service["spec"]["template"]["spec"]["serviceAccountName"] == \
            f"ledger-prod-runtime@{PROJECT}.iam.gserviceaccount.com"
    assert _env(services[0])["PORTAFUNC_BUCKET_INBOX"] == f"gs://{PROJECT}-ledger-prod-inbox"
    assert _env(services[0])["PORTAFUNC_KV_FILES"] == f"firestore://{PROJECT}/ledger-prod-files"
    # a queue's binding names its consumer's push subscription (sends go to its topic)
    assert _env(services[0])["PORTAFUNC_QUEUE_ROWS"] == \
        f"pubsub://projects/{PROJECT}/subscriptions/ledger-prod-handle-row-push?topic=ledger-prod-rows"


@pytest.mark.deploy
def test_cloud_run_grants_least_privilege(runs: dict[str, Any]) -> None:
    grants = _grants(runs["first"].calls)
    runtime = {(what, role) for what, member, role in grants if member == "serviceAccount:ledger-prod-runtime"}
    assert runtime == {
        ("ledger-prod-rows", "roles/pubsub.publisher"),  # on_csv sends to rows
        ("ledger-prod-row-events", "roles/pubsub.publisher"),  # handle_row publishes
        ("ledger-prod-rows-failed", "roles/pubsub.publisher"),  # handle_row's dead letter (moved by the service)
        ("ledger-prod-count-stock-dead", "roles/pubsub.publisher"),  # count_stock's own dead letter
        (f"{PROJECT}-ledger-prod-inbox", "roles/storage.objectViewer"),  # the trigger's object is read
        (f"{PROJECT}-ledger-prod-archive", "roles/storage.objectUser"),  # nightly writes
        ("project", "roles/datastore.user"),  # the table and the idempotency records (Firestore's IAM is per project)
    }
    agent = "serviceAccount:service-123456789012"  # the Pub/Sub service agent (and the Cloud Storage one)
    assert {(w, r) for w, m, r in grants if m == agent} >= {
        ("project", "roles/pubsub.publisher"),  # the Cloud Storage agent publishes the bucket's events
        ("ledger-prod-rows-failed", "roles/pubsub.publisher"), ("ledger-prod-count-stock-dead", "roles/pubsub.publisher"),
        ("ledger-prod-handle-row-push", "roles/pubsub.subscriber"),
        ("ledger-prod-count-stock-push", "roles/pubsub.subscriber"),
        ("ledger-prod-push@pf-replay-project.iam.gserviceaccount.com", "roles/iam.serviceAccountTokenCreator")}
    push = {(w, r) for w, m, r in grants if m == "serviceAccount:ledger-prod-push"}
    assert push == {("ledger-prod-events", "roles/run.invoker"), ("project", "roles/eventarc.eventReceiver")}
    assert ("ledger-prod-http", "allUsers", "roles/run.invoker") in grants
    assert not {r for _, _, r in grants} & {"roles/owner", "roles/editor", "roles/pubsub.admin", "roles/storage.admin"}


@pytest.mark.deploy
def test_cloud_run_dead_letters_are_the_declared_queue_and_are_kept(runs: dict[str, Any]) -> None:
    calls = runs["first"].calls
    subs = {_words(c)[3]: c for c in _creates(calls) if _words(c)[:2] == ["pubsub", "subscriptions"]}
    handle_row, count_stock = subs["ledger-prod-handle-row-push"], subs["ledger-prod-count-stock-push"]
    # retried-out messages of a queue with dead_letter="rows-failed" go to rows-failed, as the service's own move does
    assert _flag(handle_row, "topic") == ["ledger-prod-rows"]
    assert _flag(handle_row, "dead-letter-topic") == ["ledger-prod-rows-failed"]
    assert _flag(handle_row, "max-delivery-attempts") == ["5"]  # Pub/Sub's least; the service moves it on the 3rd
    assert _flag(count_stock, "dead-letter-topic") == ["ledger-prod-count-stock-dead"]
    env = _env(runs["service"][1])
    assert "PORTAFUNC_DEADLETTER_HANDLE_ROW" not in env  # the declared queue is the destination
    assert env["PORTAFUNC_DEADLETTER_COUNT_STOCK"] == f"pubsub://projects/{PROJECT}/topics/ledger-prod-count-stock-dead"
    # every dead-letter topic has a pull subscription: what reaches it is kept (7 days), not dropped
    for dead in ("ledger-prod-rows-failed", "ledger-prod-count-stock-dead"):
        kept = [c for c in subs.values() if _flag(c, "topic") == [dead]]
        assert kept and not _flag(kept[0], "push-endpoint") and "--message-retention-duration=7d" in kept[0], dead
    assert not any(_words(c)[3].endswith("-handle-row-dead") for c in _creates(calls) if _words(c)[:2] ==
                   ["pubsub", "topics"]), "no automatic dead-letter topic beside the declared one"


def _names(calls: list[list[str]], services: list[dict[str, Any]]) -> set[str]:
    """Every name a run created, attached to or bound: resources, the topics and buckets commands name, services,
    accounts, collections and every binding's resource."""
    names: set[str] = set()
    for call in calls:
        resource = _resource(call)
        if resource is not None and resource[1] not in ("(default)", PROJECT):  # the project's one database
            names.add(resource[1].removeprefix("gs://"))
        for flag in ("topic", "dead-letter-topic", "collection-group", "destination-run-service", "event-filters"):
            names.update(v.removeprefix("bucket=") for v in _flag(call, flag) if not v.startswith("type="))
        words = _words(call)
        if words[:2] == ["run", "services"] and len(words) > 3 and not words[3].startswith("/"):
            names.add(words[3])
    for service in services:
        names.add(service["metadata"]["name"])
        names.add(service["spec"]["template"]["spec"]["serviceAccountName"].split("@")[0])
        for value in _env(service).values():
            if value.startswith(("pubsub://", "gs://", "firestore://")):
                names.add(value.split("?", 1)[0].rsplit("/", 1)[-1])
                names.update(value.split("?topic=")[1:])
    return names


@pytest.mark.deploy
def test_two_stages_in_one_cloud_run_project_share_no_name(runs: dict[str, Any]) -> None:
    assert runs["dev"].returncode == 0, runs["dev"].stderr
    prod = _names(runs["first"].calls, runs["service"])
    dev = _names(runs["dev"].calls, runs["dev_service"])
    assert {"ledger-prod-rows", "ledger-prod-handle-row-push", "ledger-prod-rows-failed-pull",
            f"{PROJECT}-ledger-prod-inbox", "ledger-prod-files", "ledger-prod-nightly", "ledger-prod-events",
            "ledger-prod-runtime", "ledger-prod-on-csv-created"} <= prod
    assert prod & dev == set()
    assert all("prod" in name for name in prod) and all("dev" in name for name in dev)


@pytest.mark.deploy
def test_every_cloud_run_command_parses_in_the_real_gcloud(runs: dict[str, Any], tmp_path: Path) -> None:
    from cloudrun_replay import GCLOUD, CloudRunGoogle, body_of

    if GCLOUD is None:
        pytest.skip("the Google Cloud SDK (gcloud) is not installed")
    # one command of each shape (command, flags, and the values of the flags that choose what is sent: role, member,
    # type), and each service's file: a gcloud takes seconds to start, and more of a shape only differ in names
    shapes: dict[tuple[Any, ...], list[str]] = {}
    for call in runs["first"].calls + runs["second"].calls:  # the second run updates what the first created
        words = _words(call)
        chosen = [a for a in call if a.startswith(("--role=", "--member=", "--event-filters=type"))]
        shape = (*words[:3], *sorted(a.split("=", 1)[0] for a in call if a.startswith("--")), *chosen,
                 *(words[3:] if words[:3] == ["run", "services", "replace"] else []))
        shapes.setdefault(shape, call)
    unique = list(shapes.values())
    with CloudRunGoogle() as google:
        replays = google.replay_all(unique, tmp_path / "gcloud", workers=4)
    assert [(" ".join(r.argv), r.stderr.strip().splitlines()[-3:]) for r in replays if not r.parsed] == []
    assert [" ".join(r.argv) for r in replays if not r.requests] == [], "each command reached the API"
    assert {("pubsub", "subscriptions", "update"), ("scheduler", "jobs", "update")} <= \
        {tuple(_words(r.argv)[:3]) for r in replays}
    for r in replays:
        for _, path, _ in r.requests:
            if ("/projects/" in path and "/projects/-/" not in path) or "/namespaces/" in path:
                assert f"/projects/{PROJECT}" in path or f"/namespaces/{PROJECT}/" in path, (r.argv, path)
    # gcloud read each service's file, with the values deploy.sh filled in, as the Service Cloud Run would receive
    replaced = [body_of(r, "POST", f"/namespaces/{PROJECT}/services") for r in replays
                if _words(r.argv)[:3] == ["run", "services", "replace"]]
    assert [sent["metadata"]["name"] for sent in replaced] == ["ledger-prod-http", "ledger-prod-events"]
    for sent in replaced:
        spec = sent["spec"]["template"]["spec"]
        assert spec["serviceAccountName"] == f"ledger-prod-runtime@{PROJECT}.iam.gserviceaccount.com"
        assert spec["containers"][0]["image"] == "europe-west1-docker.pkg.dev/pf-replay-project/apps/ledger:1"
        env = {e["name"]: e["value"] for e in spec["containers"][0]["env"]}
        assert env["PORTAFUNC_BUCKET_INBOX"] == f"gs://{PROJECT}-ledger-prod-inbox"
        assert not any("${" in v for v in env.values())


# -- Knative and Container Apps ---------------------------------------------------------------------------------------

def _docs(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def test_knative_names_carry_the_stage_and_its_broker(packaged: dict[str, Path]) -> None:
    names: dict[str, set[str]] = {}
    for stage in STAGES:
        folder = packaged[stage] / "knative"
        docs = _docs(folder / "service.yaml") + _docs(folder / "eventing.yaml")
        assert {d["metadata"]["name"] for d in docs} == {
            f"ledger-{stage}-http", f"ledger-{stage}-events", f"ledger-{stage}-on-csv-created",
            f"ledger-{stage}-on-csv-deleted", f"ledger-{stage}-handle-row", f"ledger-{stage}-count-stock",
            f"ledger-{stage}-nightly"}
        for doc in docs:
            if doc["kind"] == "Trigger":
                assert doc["spec"]["broker"] == stage  # the stage's broker: prod's events never reach dev
            target = doc["spec"].get("subscriber") or doc["spec"].get("sink")
            if target:
                assert target["ref"]["name"] == f"ledger-{stage}-events"
        script = (folder / "deploy.sh").read_text()
        assert f"kubectl get brokers.eventing.knative.dev {stage} >/dev/null ||" in script
        assert "#   PORTAFUNC_KV_FILES (kv files)  <- not set" in script  # what the stage's env must bind
        names[stage] = {d["metadata"]["name"] for d in docs} | {stage}
    assert names["prod"] & names["dev"] == set()


def test_container_apps_names_and_bindings_carry_the_stage(packaged: dict[str, Path]) -> None:
    names: dict[str, set[str]] = {}
    for stage in STAGES:
        folder = packaged[stage] / "containerapps"
        apps = {f.name: yaml.safe_load(f.read_text()) for f in folder.glob("*.yaml") if ".deploy." not in f.name}
        assert {d["name"] for d in apps.values()} == {f"ledger-{stage}-http", f"ledger-{stage}-events",
                                                      f"ledger-{stage}-handle-row-worker"}
        worker = apps["worker-handle_row.yaml"]["properties"]["template"]
        assert worker["scale"]["rules"][0]["custom"]["metadata"]["queueName"] == f"ledger-{stage}-rows"
        bound = {e["name"]: e["value"] for e in worker["containers"][0]["env"] if "value" in e
                 and e["name"].startswith(("PORTAFUNC_QUEUE", "PORTAFUNC_TOPIC", "PORTAFUNC_BUCKET", "PORTAFUNC_KV",
                                           "PORTAFUNC_IDEMPOTENCY", "PORTAFUNC_DEADLETTER"))}
        assert len(bound) == 9 and all(f"ledger-{stage}-" in v or f"ledger{stage}" in v for v in bound.values()), \
            bound
        script = (folder / "deploy.sh").read_text()
        created = set(re.findall(r" (?:-n|--name) ([a-z0-9-]+)", script))
        # the storage account's queues, containers and tables the bindings name are created (a no-op when they exist)
        for _kind, name in re.findall(r"az storage (queue|container|table) create .* --name ([a-z0-9-]+)", script):
            assert f"ledger-{stage}-" in name or name.startswith(f"ledger{stage}"), name
        assert {f"ledger-{stage}-rows", f"ledger-{stage}-inbox", f"ledger{stage}files",
                f"ledger-{stage}-count-stock-dead", f"ledger-{stage}-row-events", f"ledger-{stage}-nightly"} <= created
        assert all(len(d["name"]) <= 32 for d in apps.values())
        names[stage] = created | {d["name"] for d in apps.values()}
    assert names["prod"] & names["dev"] == set()


def test_a_long_app_name_keeps_two_stages_apart_everywhere() -> None:
    """Names cut to a platform's limit end with a hash of the whole name, so the stage is never cut away."""
    from portafunc import App
    from portafunc.config import Config
    from portafunc_container.deploy import cloudrun, containerapps
    from portafunc_container.triggers import resource_name

    app = App("a-really-long-application-name-for-the-customer-portal-backend")
    app.queue("jobs", name="work")(lambda msg: None)

    def named(stage: str) -> set[str]:
        dep = app.resources(Config({}, stage))
        return {cloudrun.Names(app, dep).runtime, cloudrun.Names(app, dep).topic("jobs"),
                containerapps.Names(app, dep).worker("work"), *cloudrun.bindings(app, dep).values()}

    assert named("prod") & named("dev") == set()
    assert len(resource_name("x" * 70, "prod")) == 63 and resource_name("x" * 70, "prod") != resource_name("x" * 70,
                                                                                                            "dev")
    accounts = {cloudrun.account_id("a" * 40 + s, "runtime") for s in ("-prod", "-dev")}
    assert len(accounts) == 2 and all(len(a) <= 30 for a in accounts)
