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
APPS = {"shop": REPO / "examples" / "shop"}


def _package(project: Path, out: Path) -> Path:
    proc = subprocess.run([sys.executable, "-m", "portafunc.cli", "package", "--target", "gcp", str(project),
                           "--out", str(out), "--python", PY], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    return out / "gcp" / "deploy.sh"


@pytest.fixture(scope="module", params=sorted(APPS))
def deployed(request, tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp(f"deploy-{request.param}")
    script = _package(APPS[request.param], root / "dist")
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
    assert buckets and buckets[0][3] == "gs://uploads"
    jobs = [c for c in calls if c[:4] == ["scheduler", "jobs", "create", "http"]]
    assert jobs and "--schedule=*/5 * * * *" in jobs[0]


def test_env_file_binds_queues_topics_and_dead_letters(deployed):
    envs = sorted((deployed["root"] / "rec").glob("env-*.yaml"))
    assert envs
    import yaml

    values = yaml.safe_load(envs[0].read_text())
    project = deployed["project"]
    assert values["PORTAFUNC_TOPIC_ORDER_EVENTS"] == f"pubsub://projects/{project}/topics/order-events"
    assert values["PORTAFUNC_DEADLETTER_FULFIL"] == f"pubsub://projects/{project}/topics/orders-shop-fulfil-dead"
    assert values["PORTAFUNC_DEADLETTER_AUDIT"].endswith("/topics/order-events-shop-audit-dead")


def test_every_gcloud_command_parses_in_the_real_cli(deployed, tmp_path):
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


def test_pubsub_part_against_the_emulator(deployed, pubsub_emulator, tmp_path):
    """Topics and the push subscription with its dead-letter policy, created by gcloud in the emulator."""
    from google.cloud import pubsub_v1

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
