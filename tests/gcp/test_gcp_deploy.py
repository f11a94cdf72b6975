"""The generated GCP deployment checked with Google's own tools, offline.

* ``deploy.sh`` runs under bash against a recording gcloud on a "fresh project" (nothing exists), then again (all
  exists): the first run creates every resource, the second creates nothing and does not abort; every command names
  the project (see gcloud_replay.py for how the recorder answers).
* Every gcloud command the script ran is replayed through the real Google Cloud SDK argument parser with a fake
  token and every API endpoint pointed at a local recorder (parse → request → 403): none is refused by the parser,
  and every request is for the project given, never a default one.
* The Pub/Sub part (topics, push subscriptions with their dead-letter policy) runs for real against the Pub/Sub
  emulator through gcloud (``CLOUDSDK_API_ENDPOINT_OVERRIDES_PUBSUB``).

Limit: what only Google's servers decide (a role exists, a region offers python3.X, the build succeeds) is not
checked; docs/gcp.md lists it.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import REPO
from .gcloud_replay import GCLOUD, FakeGoogle, Recorder

pytestmark = [pytest.mark.deploy,
              pytest.mark.skipif(GCLOUD is None, reason="the Google Cloud SDK (gcloud) is not installed")]

PY = f"{sys.version_info.major}.{sys.version_info.minor}"
AWKWARD = REPO / "tests" / "apps" / "awkward"
APPS = {"shop": (REPO / "examples" / "shop", None), "awkward": (AWKWARD, None), "awkward-prod": (AWKWARD, "prod")}


def _package(project: Path, out: Path, stage: str | None) -> Path:
    proc = subprocess.run([sys.executable, "-m", "portafunc.cli", "package", "--target", "gcp", str(project),
                           "--out", str(out), "--python", PY], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    script = out / "gcp" / "deploy.sh"
    if stage:  # the same artifact, deployed as another stage of the configuration file (in a fresh interpreter:
        # the app's module is called main, like the shop's)
        (zip_path,) = (out / "gcp").glob("*.zip")
        script = out / "gcp" / f"deploy-{stage}.sh"
        code = ("import sys; from portafunc.config import load_config; from portafunc.loader import load_app; "
                "from portafunc_gcp.deploy.script import render_deploy; "
                "app, project, _ = load_app('main:app', sys.argv[1]); "
                "print(render_deploy(app, sys.argv[2], sys.argv[3], "
                "deployment=app.resources(load_config(project, sys.argv[4]))), end='')")
        proc = subprocess.run([sys.executable, "-c", code, str(project), zip_path.name, PY, stage],
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr
        script.write_text(proc.stdout)
    return script


@pytest.fixture(scope="module", params=sorted(APPS))
def deployed(request, tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp(f"deploy-{request.param}")
    project, stage = APPS[request.param]
    script = _package(project, root / "dist", stage)
    recorder = Recorder(root / "rec")
    first = recorder.run(script)
    second = recorder.run(script)
    return {"name": request.param, "script": script, "first": first, "second": second, "root": root,
            "project": recorder.project}


def _creates(calls: list[list[str]]) -> list[list[str]]:
    return [c for c in calls if "create" in c[:4] or c[:2] == ["functions", "deploy"]]


def test_runs_on_a_fresh_project_and_again_without_creating_anything(deployed):
    first, second = deployed["first"], deployed["second"]
    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr
    made = {" ".join(c[:3]) for c in _creates(first.calls)}
    assert "iam service-accounts create" in made and "pubsub topics create" in made
    again = [c for c in _creates(second.calls) if c[:2] != ["functions", "deploy"]]
    assert again == [], f"second run created again: {again}"
    # functions deploy is an upsert; every other create of the first run was guarded by a describe
    for call in _creates(first.calls):
        if call[:2] == ["secrets", "create"]:
            continue
        if call[:2] == ["functions", "deploy"]:
            continue
        noun = call[:call.index("create")]
        assert any(c[:len(noun)] == noun and "describe" in c for c in first.calls), f"unguarded: {call}"


def test_every_command_names_the_project(deployed):
    project = deployed["project"]
    for call in deployed["first"].calls:
        named = f"--project={project}" in call or call[:2] in (["projects", "describe"],
                                                              ["projects", "add-iam-policy-binding"])
        assert named, f"no --project: {call}"
        if call[:2] == ["projects", "add-iam-policy-binding"]:
            assert call[2] == project


def test_fresh_project_setup_apis_accounts_and_documented_roles(deployed):
    if deployed["name"] != "shop":
        pytest.skip("the shop's exact resources; the awkward app has its own test")
    calls = deployed["first"].calls
    enable = next(c for c in calls if c[:2] == ["services", "enable"])
    for api in ("cloudfunctions", "run", "cloudbuild", "artifactregistry", "eventarc", "pubsub", "cloudscheduler",
                "storage", "iam"):
        assert f"{api}.googleapis.com" in enable
    assert calls.index(enable) == 0, "APIs are enabled before anything uses them"
    granted = {(m.split("=", 1)[1].split("@")[0], r.split("=", 1)[1]) for c in calls
               for m in c if m.startswith("--member=") for r in c if r.startswith("--role=")}
    project_number = "123456789012"
    assert ("serviceAccount:shop-build", "roles/cloudbuild.builds.builder") in granted
    assert (f"serviceAccount:service-{project_number}", "roles/pubsub.publisher") in granted  # storage agent + DLQ
    assert ("serviceAccount:shop-invoker", "roles/eventarc.eventReceiver") in granted
    assert (f"serviceAccount:service-{project_number}", "roles/iam.serviceAccountTokenCreator") in granted
    assert (f"serviceAccount:service-{project_number}", "roles/pubsub.subscriber") in granted
    invoked = {c[2] for c in calls if c[:2] == ["functions", "add-invoker-policy-binding"]}
    assert invoked == {"shop-audit", "shop-fulfil", "shop-nightly", "shop-on-upload"}
    deploys = {c[2]: c for c in calls if c[:2] == ["functions", "deploy"]}
    assert sorted(deploys) == ["shop-audit", "shop-fulfil", "shop-http", "shop-nightly", "shop-on-upload"]
    assert "--entry-point=_portafunc_http" in deploys["shop-http"] and "--allow-unauthenticated" in deploys["shop-http"]
    for call in deploys.values():
        assert any(a.startswith("--service-account=shop-run@") for a in call)
        assert any(a.startswith("--build-service-account=projects/") for a in call)
    buckets = [c for c in calls if c[:3] == ["storage", "buckets", "create"]]
    assert f"gs://{deployed['project']}-uploads" in {c[3] for c in buckets}
    jobs = [c for c in calls if c[:4] == ["scheduler", "jobs", "create", "http"]]
    assert jobs and "--schedule=*/5 * * * *" in jobs[0]


def test_env_file_binds_queues_topics_and_dead_letters(deployed):
    if deployed["name"] != "shop":
        pytest.skip("the shop's bindings; the awkward app has its own test")
    envs = sorted((deployed["root"] / "rec").glob("env-*.yaml"))
    assert envs
    import yaml

    values: dict = {}
    for env in envs:  # one env file per deployed function
        values.update(yaml.safe_load(env.read_text()))
    project = deployed["project"]
    assert values["PORTAFUNC_TOPIC_ORDER_EVENTS"] == f"pubsub://projects/{project}/topics/order-events"
    assert values["PORTAFUNC_DEADLETTER_FULFIL"] == f"pubsub://projects/{project}/topics/orders-shop-fulfil-dead"
    assert values["PORTAFUNC_DEADLETTER_AUDIT"].endswith("/topics/order-events-shop-audit-dead")
    assert values["PORTAFUNC_KV_ORDERS"] == f"firestore://{project}/portafunc-kv-orders"  # uses=[writes(kv=...)]
    assert values["PORTAFUNC_BUCKET_UPLOADS"] == f"gs://{project}-uploads"


def _bucket_grants(calls: list[list[str]]) -> dict[tuple[str, str], list[str]]:
    """(bucket URL, role) → the command granting it to the runtime account."""
    return {(c[3], r.split("=", 1)[1]): c for c in calls if c[:3] == ["storage", "buckets", "add-iam-policy-binding"]
            and any(m.startswith("--member=serviceAccount:shop-run@") for m in c) for r in c if r.startswith("--role=")}


def test_a_storage_function_may_read_the_bucket_that_triggers_it(deployed, tmp_path):
    """StorageEvent.read()/open() read the object that arrived: the trigger's bucket is readable by the runtime
    account (as S3ReadPolicy on AWS), and the grant parses in the real CLI."""
    if deployed["name"] != "shop":
        pytest.skip("the shop has the storage function")
    project = deployed["project"]
    grants = _bucket_grants(deployed["first"].calls)
    assert sorted(grants) == [(f"gs://{project}-thumbnails", "roles/storage.objectUser"),
                              (f"gs://{project}-uploads", "roles/storage.objectViewer")]
    with FakeGoogle() as google:
        (replay,) = google.replay_all([grants[(f"gs://{project}-uploads", "roles/storage.objectViewer")]],
                                      tmp_path / "gcloud", workers=1)
    assert replay.parsed, replay.stderr
    assert any(f"/b/{project}-uploads/iam" in path for _, path, _ in replay.requests), replay.requests


def test_default_bucket_names_are_the_projects_and_can_be_overridden(deployed, tmp_path):
    """Bucket names are global: the defaults carry the project id, and BUCKET_<NAME> still names a bucket."""
    if deployed["name"] != "shop":
        pytest.skip("the shop has the buckets")
    project = deployed["project"]
    made = {c[3] for c in deployed["first"].calls if c[:3] == ["storage", "buckets", "create"]}
    assert made == {f"gs://{project}-uploads", f"gs://{project}-thumbnails"}
    run = Recorder(tmp_path / "rec").run(deployed["script"], BUCKET_UPLOADS="my-own-uploads")
    assert run.returncode == 0, run.stderr
    made = {c[3] for c in run.calls if c[:3] == ["storage", "buckets", "create"]}
    assert made == {"gs://my-own-uploads", f"gs://{project}-thumbnails"}
    assert ("gs://my-own-uploads", "roles/storage.objectViewer") in _bucket_grants(run.calls)
    upload = _deploys(run.calls)["shop-on-upload"]
    assert "--trigger-event-filters=bucket=my-own-uploads" in upload
    assert _env_of({}, upload)["PORTAFUNC_BUCKET_UPLOADS"] == "gs://my-own-uploads"


def test_every_gcloud_command_parses_in_the_real_cli(deployed, tmp_path):
    if deployed["name"] == "awkward-prod":
        pytest.skip("the same commands as the awkward app with other values (replaying takes ~1 s a command)")
    unique: list[list[str]] = []
    for call in deployed["first"].calls:
        if call not in unique:
            unique.append(call)
    with FakeGoogle() as google:
        replays = google.replay_all(unique, tmp_path / "gcloud", workers=3)
    refused = [(" ".join(r.argv), r.stderr.strip().splitlines()[-3:]) for r in replays if not r.parsed]
    assert refused == []
    silent = [" ".join(r.argv) for r in replays if not r.requests]
    assert silent == [], "each command reached the API (parsed to the end)"
    project = deployed["project"]
    for r in replays:
        for _, path, _body in r.requests:
            if "/projects/" in path and "/projects/-/" not in path:
                assert f"/projects/{project}" in path, (r.argv, path)


def _deploys(calls: list[list[str]]) -> dict[str, list[str]]:
    return {c[2]: c for c in calls if c[:2] == ["functions", "deploy"]}


def _env_of(deployed: dict, call: list[str]) -> dict:
    import yaml

    path = next(a for a in call if a.startswith("--env-vars-file=")).split("=", 1)[1]
    return yaml.safe_load(Path(path).read_text())


def test_awkward_app_from_its_resource_model(deployed):
    """Helper-published topic, a declared dead-letter queue, idempotency, secrets, settings, many routes."""
    if not deployed["name"].startswith("awkward"):
        pytest.skip("the awkward app only")
    calls, project = deployed["first"].calls, deployed["project"]
    stage = "-prod" if deployed["name"] == "awkward-prod" else ""
    deploys = _deploys(calls)  # the stage is in every name: services, topics, queues, the idempotency collection
    http, work = deploys[f"awkward{stage}-http"], deploys[f"awkward{stage}-process-work"]
    assert f"awkward{stage}-create-order" not in deploys, "every route is in the one HTTP service"
    env = _env_of(deployed, http)
    # create_order publishes through a helper module: declared with uses=, bound and granted
    assert env["PORTAFUNC_TOPIC_ORDER_EVENTS"] == f"pubsub://projects/{project}/topics/order-events{stage}"
    assert env["PORTAFUNC_QUEUE_WORK"].startswith(f"pubsub://projects/{project}/subscriptions/work{stage}-awkward")
    assert env["PORTAFUNC_IDEMPOTENCY_STORE"] == f"firestore://{project}/portafunc-idempotency{stage}"
    # secrets: Secret Manager references (a neutral path becomes a valid secret name), never values
    assert "--set-secrets=DB_PASSWORD=db-password:latest,PAYMENT_API_KEY=awkward-payment-api-key:latest" in http
    work_env = _env_of(deployed, work)
    assert "PORTAFUNC_QUEUE_WORK_FAILED" in work_env and "PORTAFUNC_DEADLETTER_PROCESS_WORK" not in work_env
    memory = "--memory=2048Mi" if stage else "--memory=1024Mi"
    assert memory in work and "--timeout=120s" in work
    if stage:
        assert "--max-instances=20" in work and work_env["PORTAFUNC_STAGE"] == "prod"
        assert work_env["LOG_LEVEL"] == "WARNING"
    # the declared dead letter is the Pub/Sub dead-letter topic and keeps its messages (a pull subscription)
    subs = [c for c in calls if c[:3] == ["pubsub", "subscriptions", "create"]]
    push = next(c for c in subs if any(a.startswith("--push-endpoint=") for a in c))
    assert f"--dead-letter-topic=projects/{project}/topics/work-failed{stage}" in push and "--ack-deadline=180" in push
    assert any(c[3] == f"work-failed{stage}" and f"--topic=work-failed{stage}" in c for c in subs)
    granted = [c for c in calls if c[:3] == ["secrets", "add-iam-policy-binding", c[2]] and
               "--role=roles/secretmanager.secretAccessor" in c]
    assert {c[2] for c in granted} == {"db-password", "awkward-payment-api-key"}
    assert any(c[:2] == ["firestore", "databases"] and "create" in c for c in calls)
    assert any(c[:4] == ["firestore", "fields", "ttls", "update"] for c in calls)



def _names(run_dir: Path, calls: list[list[str]]) -> set[str]:
    """Every resource a run created or bound: topics, subscriptions, buckets, Scheduler jobs, Eventarc triggers,
    service accounts, functions, the topics subscriptions and triggers are attached to, and the Firestore collections
    (TTL policies and bindings). The project's one Firestore database is shared by design."""
    import yaml

    names: set[str] = set()
    for call in calls:
        words = [w for w in call if not w.startswith("-")]
        if "create" in words[:4]:
            after = words[words.index("create") + 1:]
            if after[:1] == ["http"]:
                after = after[1:]
            names.update(after[:1])
        elif words[:2] == ["functions", "deploy"]:
            names.add(words[2])
        for arg in call:
            flag, _, value = arg.partition("=")
            if flag in ("--topic", "--trigger-topic", "--collection-group"):
                names.add(value)
            elif flag in ("--dead-letter-topic", "--trigger-event-filters", "--event-filters"):
                names.add(value.rsplit("/", 1)[-1].removeprefix("bucket="))
    for env in run_dir.glob("env-*.yaml"):
        for value in yaml.safe_load(env.read_text()).values():
            if value.startswith(("pubsub://", "firestore://", "gs://")):
                names.add(value.split("?", 1)[0].rsplit("/", 1)[-1])
    return {n.removeprefix("gs://") for n in names if not n.startswith("type=")}


def test_two_stages_deployed_into_one_project_share_no_resource(tmp_path):
    """``--stage prod`` and ``--stage dev`` of the shop, each deployed into the same project: no topic, queue,
    subscription, dead-letter topic, bucket, Firestore collection, job or account of one is the other's (prod's
    orders never reach dev's function), and every command the dev run made still parses in the real gcloud."""
    from portafunc.config import Config
    from portafunc.loader import load_app
    from portafunc_gcp.deploy.script import render_deploy

    app, _, _ = load_app("main:app", REPO / "examples" / "shop")
    runs = {}
    for stage in ("prod", "dev"):
        script = tmp_path / f"deploy-{stage}.sh"
        script.write_text(render_deploy(app, "shop-gcp.zip", PY, deployment=app.resources(Config({}, stage))))
        (tmp_path / "shop-gcp.zip").write_bytes(b"PK\x05\x06" + bytes(18))  # an empty zip stands for the artifact
        run = Recorder(tmp_path / f"rec-{stage}").run(script)
        assert run.returncode == 0, run.stderr
        runs[stage] = (run, _names(tmp_path / f"rec-{stage}", run.calls))
    prod_names, (dev, dev_names) = runs["prod"][1], runs["dev"]
    assert {"orders-prod", "order-events-prod", "orders-prod-shop-prod-fulfil", "orders-prod-shop-prod-fulfil-dead",
            "portafunc-kv-orders-prod", "pf-replay-project-uploads-prod", "shop-prod-nightly"} <= prod_names
    assert prod_names & dev_names == set()
    unique: list[list[str]] = []
    for call in dev.calls:
        if ("create" in call[:4] or "update" in call[:4] or call[:2] == ["functions", "deploy"]) and call not in unique:
            unique.append(call)
    with FakeGoogle() as google:
        replays = google.replay_all(unique, tmp_path / "gcloud", workers=3)
    assert [(" ".join(r.argv), r.stderr.strip().splitlines()[-3:]) for r in replays if not r.parsed] == []


def test_pubsub_part_against_the_emulator(deployed, pubsub_emulator, tmp_path):
    """Topics and the push subscription with its dead-letter policy, created by gcloud in the emulator."""
    from google.cloud import pubsub_v1

    if deployed["name"] != "shop":
        pytest.skip("one app is enough for the emulator round")

    calls = [c for c in deployed["first"].calls if c[:2] == ["pubsub", "topics"] and c[2] == "create"
             or c[:3] == ["pubsub", "subscriptions", "create"]]
    assert calls
    with FakeGoogle() as google:
        env = google.env(tmp_path / "gcloud")
    env["CLOUDSDK_API_ENDPOINT_OVERRIDES_PUBSUB"] = f"http://{pubsub_emulator}/"
    for call in calls:
        proc = subprocess.run([GCLOUD, *call], capture_output=True, text=True, env=env, timeout=120)
        assert proc.returncode == 0, (call, proc.stderr)
    import os

    os.environ["PUBSUB_EMULATOR_HOST"] = pubsub_emulator
    try:
        subscriber = pubsub_v1.SubscriberClient()
        project = deployed["project"]
        sub = subscriber.get_subscription(subscription=f"projects/{project}/subscriptions/orders-shop-fulfil")
    finally:
        del os.environ["PUBSUB_EMULATOR_HOST"]
    assert sub.topic == f"projects/{project}/topics/orders"
    assert sub.dead_letter_policy.dead_letter_topic == f"projects/{project}/topics/orders-shop-fulfil-dead"
    assert sub.dead_letter_policy.max_delivery_attempts == 5
    assert sub.push_config.push_endpoint.startswith("https://shop-fulfil-")
    assert sub.ack_deadline_seconds == 30


def test_existing_resources_run_and_parse_in_the_real_cli(tmp_path):
    """The shop with its topic, queue, bucket and key-value table already existing (in another project): the script
    runs twice, creates none of them, and every command naming one — the push subscriptions on the existing topics,
    the grants on them, the storage function watching the existing bucket — parses in the real gcloud and sends its
    request to the resource's own project."""
    from portafunc.config import Config
    from portafunc.loader import load_app
    from portafunc_gcp.deploy.script import render_deploy

    existing = {"topic": {"order-events": {"gcp": "pubsub://projects/other-proj/topics/events"}},
                "queue": {"orders": {"gcp": "pubsub://projects/other-proj/topics/orders-in"}},
                "bucket": {"uploads": {"gcp": "gs://their-uploads"}},
                "kv": {"orders": {"gcp": "firestore://other-proj/orders-table"}}}
    app, _, _ = load_app("main:app", REPO / "examples" / "shop")
    script = tmp_path / "deploy.sh"
    script.write_text(render_deploy(app, "shop-gcp.zip", PY, deployment=app.resources(Config({"existing": existing},
                                                                                               "prod"))))
    (tmp_path / "shop-gcp.zip").write_bytes(b"PK\x05\x06" + bytes(18))  # an empty zip stands for the artifact
    recorder = Recorder(tmp_path / "rec")
    first, second = recorder.run(script), recorder.run(script)
    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr
    made = [c for c in _creates(first.calls) if c[:2] != ["functions", "deploy"]]
    named = {w for c in made for w in c if not w.startswith("-")}
    assert not named & {"events", "orders-in", "gs://their-uploads", "order-events-prod", "orders-prod"}, made
    assert not [c for c in made if c[:2] == ["firestore", "databases"]]
    push = {a.split("=", 1)[1]: c for c in made if c[:3] == ["pubsub", "subscriptions", "create"] for a in c
            if a.startswith("--topic=") and any(p.startswith("--push-endpoint=") for p in c)}
    assert sorted(push) == ["projects/other-proj/topics/events", "projects/other-proj/topics/orders-in"]
    upload = _deploys(first.calls)["shop-prod-on-upload"]
    assert "--trigger-event-filters=bucket=their-uploads" in upload
    assert _env_of({}, upload)["PORTAFUNC_BUCKET_UPLOADS"] == "gs://their-uploads"
    grants = [c for c in first.calls if "add-iam-policy-binding" in c and
              any(w in ("projects/other-proj/topics/events", "projects/other-proj/topics/orders-in",
                        "gs://their-uploads") for w in c)]
    assert len(grants) == 3, grants
    with FakeGoogle() as google:
        replays = google.replay_all(list(push.values()) + grants + [upload], tmp_path / "gcloud", workers=3)
    assert [(" ".join(r.argv), r.stderr.strip().splitlines()[-3:]) for r in replays if not r.parsed] == []
    paths = [path for r in replays for _, path, _ in r.requests]
    assert any("/projects/other-proj/topics/events:setIamPolicy" in p or
               "/projects/other-proj/topics/events:getIamPolicy" in p for p in paths), paths
    assert any("/b/their-uploads/iam" in p for p in paths), paths
