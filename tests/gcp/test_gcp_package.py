"""`portafunc package --target gcp` and the boot proof: the zip alone, unzipped in a fresh directory, installed into a
fresh venv from its own requirements.txt (pip may use the local index/cache), served by `functions-framework` on
127.0.0.1 for every target, answering a real HTTP request and real CloudEvents."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
import time
import urllib.request
import zipfile
from pathlib import Path

import pytest

from .conftest import REPO

SHOP = REPO / "examples" / "shop"
PY = f"{sys.version_info.major}.{sys.version_info.minor}"


def package(out: Path, project: Path = SHOP) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "portafunc.cli", "package", "--target", "gcp", str(project),
                           "--out", str(out), "--python", PY], capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("dist")
    started = time.perf_counter()
    proc = package(out)
    seconds = time.perf_counter() - started
    assert proc.returncode == 0, proc.stderr
    return {"dir": out / "gcp", "zip": out / "gcp" / "shop-gcp.zip", "stdout": proc.stdout, "seconds": seconds}


def test_summary_and_contents(built):
    assert "packaged 10 function(s) for gcp" in built["stdout"] and "sha256" in built["stdout"]
    names = zipfile.ZipFile(built["zip"]).namelist()
    for required in ("main.py", "requirements.txt", "app/main.py", "portafunc/__init__.pyc",
                     "portafunc_gcp/runtime.pyc", "portafunc_gcp/backends/pubsub.pyc"):
        assert required in names, required
    # portafunc as bytecode only; the app keeps its sources beside its .pyc
    assert not any(n.startswith(("portafunc/", "portafunc_gcp/")) and n.endswith(".py") for n in names)
    assert f"app/__pycache__/main.cpython-{PY.replace('.', '')}.pyc" in names
    zf = zipfile.ZipFile(built["zip"])
    eps = [n for n in names if n.startswith("portafunc_gcp-") and n.endswith("entry_points.txt")]
    text = zf.read(eps[0]).decode()
    assert "pubsub = portafunc_gcp.backends.pubsub:backend" in text
    # the shop serves /docs: its document says what auth="function" is here, so the Target goes along (an app
    # without a docs route ships none: tests/aws/test_package.py)
    assert "gcp = portafunc_gcp.target:Target" in text and "portafunc_gcp/target.pyc" in names
    reqs = zf.read("requirements.txt").decode().splitlines()
    assert not any(line.startswith("portafunc") for line in reqs), "portafunc is vendored, never fetched"
    pins = [line for line in reqs if line and not line.startswith("#")]
    # a lock: every package Cloud Build installs, each with one exact version (dependencies of dependencies too)
    assert pins and all(re.fullmatch(r"[a-z0-9][a-z0-9.-]*==[^\s,<>=!~;]+", pin) for pin in pins), pins
    names = {pin.split("==")[0] for pin in pins}
    assert {"functions-framework", "google-cloud-pubsub", "pydantic", "pydantic-core", "flask", "grpcio"} <= names
    main = zf.read("main.py").decode()
    assert "_PortafuncEntry(\n    'main:app'" in main and "'app'" in main
    assert not any("boto3" in n or "azure" in n for n in names), "no other cloud's SDK in a GCP artifact"


def test_two_builds_are_byte_identical(built, tmp_path):
    proc = package(tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "gcp" / "shop-gcp.zip").read_bytes() == built["zip"].read_bytes()


def test_deploy_script(built):
    """One HTTP service for every route (one base URL); one function per event trigger."""
    script = built["dir"] / "deploy.sh"
    assert subprocess.run(["bash", "-n", str(script)], capture_output=True).returncode == 0
    lines = [line for line in script.read_text().splitlines() if line.startswith("gcloud functions deploy ")]
    by_fn = {shlex.split(line)[3]: line for line in lines}
    assert sorted(by_fn) == sorted(f"shop-{n}" for n in ("http", "fulfil", "audit", "nightly", "on-upload"))
    for line in lines:
        assert "--gen2" in line and '--runtime="$RUNTIME"' in line and '--env-vars-file="$ENVS/' in line
        assert '--project="$PROJECT"' in line and '--service-account="$RUN_SA"' in line
    assert "--entry-point=_portafunc_http --trigger-http --allow-unauthenticated" in by_fn["shop-http"]
    assert '--trigger-topic="${TOPIC_ORDER_EVENTS}" --trigger-service-account="$INVOKER_SA" --retry' \
        in by_fn["shop-audit"]
    assert "type=google.cloud.storage.object.v1.finalized" in by_fn["shop-on-upload"]
    assert 'bucket=${BUCKET_UPLOADS}' in by_fn["shop-on-upload"]
    text = script.read_text()
    assert 'gcloud scheduler jobs create http shop-nightly' in text and "--schedule='*/5 * * * *'" in text
    assert "--push-endpoint=\"$URL\"" in text and "--max-delivery-attempts=5" in text
    assert 'PORTAFUNC_QUEUE_ORDERS: "pubsub://projects/${PROJECT}/subscriptions/${QUEUE_ORDERS}-shop-fulfil' in text
    # the queue push subscription (update or create) and the topic's Eventarc subscription
    assert text.count("--max-delivery-attempts=5") == 3


def test_per_route_layout_is_an_explicit_option(tmp_path):
    from portafunc.loader import load_app
    from portafunc_gcp.deploy.script import render_deploy

    app, _, _ = load_app("main:app", SHOP)
    text = render_deploy(app, "shop-gcp.zip", PY, layout="per-route")
    assert "gcloud functions deploy shop-create-order " in text and "--entry-point=create_order" in text
    assert "gcloud functions deploy shop-get-order " in text and "_portafunc_http" not in text


BUCKET_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{1,61}[a-z0-9]")  # Cloud Storage's rule, without dots (domains)


def _bucket_names(script: str, project: str, **env: str) -> dict[str, str]:
    """BUCKET_<NAME> → the bucket name the script's own variable lines give it under bash, for ``project``."""
    lines = [line for line in script.splitlines() if line.startswith(("PROJECT_STEM=", "BUCKET_"))]
    proc = subprocess.run(["bash", "-c", "\n".join([*lines, "set | grep ^BUCKET_"])], capture_output=True, text=True,
                          env={"PATH": "/usr/bin:/bin", "PROJECT": project, **env}, check=True)
    return dict(line.split("=", 1) for line in proc.stdout.split())


def test_default_bucket_names_are_unique_to_the_project_and_valid():
    """Bucket names are global across Google Cloud: each default starts with the project id and is a valid bucket
    name (3-63 characters) for any logical name and project id, the same on every render; BUCKET_<NAME> overrides."""
    from portafunc import App, reads
    from portafunc_gcp.deploy.script import render_deploy

    app = App("names")
    logical = ["uploads", "x", "Raw.Photos", "a_very_long_bucket_name_that_goes_on_and_on_for_ever",
               "a_very_long_bucket_name_that_goes_on_and_on_for_ever_2"]

    @app.http("GET", "/", uses=[reads(bucket=name) for name in logical])
    def index(req):
        return {}

    script = render_deploy(app, "names-gcp.zip", PY)
    assert script == render_deploy(app, "names-gcp.zip", PY)
    for project in ("my-shop-project", "p" * 30, "example.com:a-domain-scoped-project"):
        names = _bucket_names(script, project)
        assert len(set(names.values())) == len(logical), names
        stem = project.replace(":", "-").replace(".", "-")[:30]
        for name in names.values():
            assert name.startswith(stem + "-") and BUCKET_NAME.fullmatch(name), name
        assert names["BUCKET_UPLOADS"] == f"{stem}-uploads" and names["BUCKET_X"] == f"{stem}-x"
        # too long for the 32 characters left after the project id: cut, with a hash (sha256, not Python's hash())
        assert names["BUCKET_A_VERY_LONG_BUCKET_NAME_THAT_GOES_ON_AND_ON_FOR_EVER"] == \
            f"{stem}-a_very_long_bucket_name-755bac74"
    assert _bucket_names(script, "my-shop-project", BUCKET_UPLOADS="mine")["BUCKET_UPLOADS"] == "mine"



def _defaults(script: str, project: str, **env: str) -> dict[str, str]:
    """TOPIC_/QUEUE_/BUCKET_<NAME> → the name the script's own variable lines give it under bash."""
    lines = [line for line in script.splitlines() if line.startswith(("PROJECT_STEM=", "BUCKET_", "TOPIC_", "QUEUE_"))]
    proc = subprocess.run(["bash", "-c", "\n".join([*lines, "set | grep -E '^(BUCKET|TOPIC|QUEUE)_'"])],
                          capture_output=True, text=True, env={"PATH": "/usr/bin:/bin", "PROJECT": project, **env},
                          check=True)
    return dict(line.split("=", 1) for line in proc.stdout.split())


def _collections(script: str) -> set[str]:
    """The Firestore collections the script binds or gives a TTL policy."""
    return set(re.findall(r"firestore://\$\{PROJECT\}/([^\"?]+)", script)) | \
        set(re.findall(r"--collection-group=(\S+)", script))


def _everything_app():
    from portafunc import App, publishes, reads, sends, writes

    app = App("stg")
    long_topic = "t" * 240

    @app.http("POST", "/", idempotent=True, uses=[publishes("events"), publishes(long_topic), sends("outbox"),
                                                   writes(kv="orders"), writes(bucket="reports"),
                                                   reads(bucket="a_very_long_bucket_name_that_goes_on_for_ever")])
    def index(req):
        return {}

    @app.queue("work", dead_letter="work-failed", idempotency_key="body.id")
    def work(msg):
        pass

    @app.topic("events")
    def audit(event):
        pass

    @app.storage("uploads")
    def upload(event):
        pass

    return app


def test_two_stages_in_one_project_share_no_topic_bucket_or_collection():
    """Each stage gets its own data, as a stack per stage on AWS and a storage account per stage on Azure: with a
    stage, every default topic, queue, bucket and Firestore collection name ends with the stage (valid, and the same
    on every render); without one the names are the logical ones; TOPIC_/QUEUE_/BUCKET_<NAME> still override."""
    from portafunc.config import Config
    from portafunc_gcp.deploy.script import render_deploy

    app = _everything_app()
    base = render_deploy(app, "stg-gcp.zip", PY)
    prod, dev = (render_deploy(app, "stg-gcp.zip", PY, deployment=app.resources(Config({}, stage)))
                 for stage in ("prod", "dev"))
    assert prod == render_deploy(app, "stg-gcp.zip", PY, deployment=app.resources(Config({}, "prod")))
    project = "my-shop-project"
    names = {which: _defaults(script, project) for which, script in (("base", base), ("prod", prod), ("dev", dev))}
    assert names["base"]["TOPIC_EVENTS"] == "events" and names["base"]["QUEUE_WORK_FAILED"] == "work-failed"
    assert names["base"]["BUCKET_UPLOADS"] == f"{project}-uploads"
    assert names["prod"]["TOPIC_EVENTS"] == "events-prod" and names["dev"]["QUEUE_WORK"] == "work-dev"
    assert names["prod"]["QUEUE_WORK_FAILED"] == "work-failed-prod"
    assert names["prod"]["BUCKET_UPLOADS"] == f"{project}-uploads-prod"
    assert set(names["prod"]) == set(names["dev"]) == set(names["base"])
    for variable in names["base"]:
        assert len({names[which][variable] for which in names}) == 3, variable
    for which in ("prod", "dev"):
        for variable, name in names[which].items():
            if variable.startswith("BUCKET_"):
                assert BUCKET_NAME.fullmatch(name), name
            else:  # room for the subscription and dead-letter topic named after it: <name>-<service>-dead
                assert re.fullmatch(r"[A-Za-z][A-Za-z0-9._-]{2,185}", name) and name.endswith(f"-{which}"), name
    assert _collections(base) == {"portafunc-idempotency", "portafunc-kv-orders"}
    assert _collections(prod) == {"portafunc-idempotency-prod", "portafunc-kv-orders-prod"}
    assert _collections(dev) == {"portafunc-idempotency-dev", "portafunc-kv-orders-dev"}
    # the user's names win, as they are: no stage is added to them
    mine = _defaults(prod, project, TOPIC_EVENTS="events", BUCKET_UPLOADS="my-uploads")
    assert mine["TOPIC_EVENTS"] == "events" and mine["BUCKET_UPLOADS"] == "my-uploads"


def test_a_queue_below_pubsubs_minimum_gets_a_policy_of_five_and_its_dead_letter_bound():
    """max_attempts=3 on a queue: the subscription's dead-letter policy says 5 (Pub/Sub's least), the backstop; the
    function, which counts the push's deliveryAttempt, is given its dead letter and may publish to it."""
    from portafunc import App
    from portafunc_gcp.deploy.script import gcloud_lines, render_deploy

    app = App("few")
    app.queue("jobs", max_attempts=3, name="job")(lambda msg: None)
    app.queue("more", max_attempts=7, name="more")(lambda msg: None)
    script = render_deploy(app, "few-gcp.zip", PY)
    subscriptions = [line for line in gcloud_lines(script) if "pubsub subscriptions create" in line
                     and "--push-endpoint" in line]
    attempts = {re.search(r'--topic="([^"]+)"', line).group(1): re.search(r"--max-delivery-attempts=(\d+)", line)
                .group(1) for line in subscriptions}
    assert attempts == {"${QUEUE_JOBS}": "5", "${QUEUE_MORE}": "7"}
    assert 'PORTAFUNC_DEADLETTER_JOB: "pubsub://projects/${PROJECT}/topics/${QUEUE_JOBS}-few-job-dead"' in script
    assert 'topic_role "${QUEUE_JOBS}-few-job-dead" "serviceAccount:${RUN_SA}" roles/pubsub.publisher' in script


def test_unsupported_trigger_stops_with_exit_2(tmp_path):
    project = tmp_path / "proj"
    project.mkdir()
    (project / "main.py").write_text("from portafunc import App\napp = App('few')\n"
                                     "@app.topic('jobs', max_attempts=3)\ndef job(msg):\n    pass\n")
    proc = package(tmp_path / "out", project)
    assert proc.returncode == 2
    assert "job" in proc.stderr and "gcp" in proc.stderr and "max_attempts=5" in proc.stderr


def test_arm64_is_refused_rather_than_built_for_x86_64(tmp_path):
    """Cloud Functions runs x86_64 only, and the lock is for manylinux x86_64: --arch arm64 stops the build."""
    project = tmp_path / "proj"
    project.mkdir()
    (project / "main.py").write_text("from portafunc import App\napp = App('few')\n"
                                     "@app.http('GET', '/')\ndef index(req):\n    return 'ok'\n")
    proc = subprocess.run([sys.executable, "-m", "portafunc.cli", "package", "--target", "gcp", str(project),
                           "--out", str(tmp_path / "out"), "--arch", "arm64"], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 2, proc.stderr
    assert "--arch arm64" in proc.stderr and "x86_64 only" in proc.stderr
    assert not (tmp_path / "out" / "gcp").exists()


# -- boot proof --------------------------------------------------------------------------------------------------

def _post(url: str, body: bytes, headers: dict[str, str], method: str = "POST") -> tuple[int, dict, bytes]:
    req = urllib.request.Request(url, data=body if method != "GET" else None, headers=headers, method=method)
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def _binary_ce(ce: dict) -> tuple[bytes, dict[str, str]]:
    headers = {f"ce-{k}": str(v) for k, v in ce.items() if k not in ("data", "datacontenttype")}
    headers["Content-Type"] = "application/json"
    return json.dumps(ce["data"]).encode(), headers


def test_artifact_boots_in_a_fresh_venv(built, tmp_path, serve):
    from portafunc.events import Message, StorageEvent
    from portafunc.targets import get_target

    T = get_target("gcp")
    site = tmp_path / "site"
    with zipfile.ZipFile(built["zip"]) as zf:
        zf.extractall(site)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    pip = subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "--disable-pip-version-check", "-r",
                          str(site / "requirements.txt")], capture_output=True, text=True, timeout=600)
    assert pip.returncode == 0, pip.stderr[-2000:]
    shown = subprocess.run([str(venv / "bin" / "pip"), "show", "portafunc"], capture_output=True, text=True)
    assert shown.returncode != 0, "portafunc must come from the artifact, not from an index"

    env = {"PORTAFUNC_QUEUE_ORDERS": "memory://orders", "PORTAFUNC_TOPIC_ORDER_EVENTS": "memory://order-events",
           "PORTAFUNC_KV_ORDERS": "memory://orders", "PORTAFUNC_BUCKET_UPLOADS": "memory://uploads",
           "PORTAFUNC_BUCKET_THUMBNAILS": "memory://thumbnails",
           "PYTHONPATH": "", "PYTHONNOUSERSITE": "1"}
    kinds = {"_portafunc_http": "http", "nightly": "http", "fulfil": "cloudevent", "audit": "cloudevent",
             "on_upload": "cloudevent"}
    servers = {name: serve(site, name, sig, env, python_bin=venv / "bin") for name, sig in kinds.items()}

    api = servers["_portafunc_http"].url  # one base URL for every route
    status, headers, body = _post(api + "orders/acme", b'{"id": "o-1", "total": 9.5}',
                                  {"Content-Type": "application/json"})
    assert status == 201 and json.loads(body) == {"shop": "acme", "id": "o-1"}
    status, _, body = _post(api + "orders/acme", b'{"id": 1}', {"Content-Type": "application/json"})
    assert status == 400 and json.loads(body)["title"] == "Request body failed validation"
    status, _, body = _post(api + "orders/acme/o-1", b"", {}, method="GET")
    assert status == 200 and json.loads(body) == {"shop": "acme", "id": "o-1"}
    status, headers, body = _post(api + "orders/acme/o-1", b"", {}, method="HEAD")
    assert status == 200 and body == b""
    status, headers, body = _post(api + "orders/acme/o-1", b"", {}, method="DELETE")  # signed-in users only
    assert status == 401 and headers["WWW-Authenticate"] == "Bearer"
    status, headers, body = _post(api + "orders/acme/o-1", b"", {}, method="PUT")
    assert status == 405 and headers["Allow"] == "DELETE, GET, HEAD"
    status, _, body = _post(api + "orders/acme?limit=1", b"", {}, method="GET")
    assert status == 200 and json.loads(body) == [{"id": "o-1", "total": 9.5}]
    # the docs route from the artifact: the document built there, Swagger UI's files packaged with portafunc
    status, _, body = _post(api + "docs/openapi.json", b"", {}, method="GET")
    assert status == 200 and sorted(json.loads(body)["paths"]) == ["/orders/{shop}", "/orders/{shop}/{order_id}"]
    status, headers, body = _post(api + "docs/swagger-ui-bundle.js", b"", {"Accept-Encoding": "gzip"}, method="GET")
    assert status == 200 and headers["Content-Encoding"] == "gzip" and body[:2] == b"\x1f\x8b"
    status, headers, body = _post(api + "nowhere", b"", {}, method="GET")
    problem = json.loads(body)
    assert status == 404 and headers["Content-Type"] == "application/problem+json"
    assert "get_order" not in body.decode() and "create_order" not in body.decode() and problem["status"] == 404

    ok = T.encode(Message("m-ok", b'{"id": "o-1", "total": 9.5}'), "cloudevent")
    assert _post(servers["fulfil"].url, *_binary_ce(ok))[0] == 200
    bad = T.encode(Message("m-bad", b'{"id": "o-2", "total": -1}'), "cloudevent")
    assert _post(servers["fulfil"].url, *_binary_ce(bad))[0] == 500  # non-retryable, no destination → DLQ policy
    push = T.encode(Message("m-push", b'{"id": "o-3", "total": 1}'), "push")
    assert _post(servers["fulfil"].url, json.dumps(push).encode(), {"Content-Type": "application/json"})[0] == 200
    audit = T.encode(Message("a-1", b'{"id": "o-1"}', {"kind": "created"}), "cloudevent")
    assert _post(servers["audit"].url, json.dumps(audit).encode(),
                 {"Content-Type": "application/cloudevents+json"})[0] == 200
    upload = T.encode(StorageEvent("uploads", "in/photo 1.jpg", size=12, etag="e1"))
    assert _post(servers["on_upload"].url, *_binary_ce(upload))[0] == 200
    sched = T.encode(T.decode(T.new_event("schedule"))[0])
    assert _post(servers["nightly"].url, b"", dict(sched["headers"]))[0] == 200

    time.sleep(0.5)
    logs = {name: s.log.read_text(errors="replace") for name, s in servers.items()}
    assert "uploaded uploads/in/photo 1.jpg (12 bytes)" in logs["on_upload"]
    assert "audit: {'id': 'o-1'} {'kind': 'created'}" in logs["audit"]
    assert "report at 2026-01-01T00:00:00+00:00" in logs["nightly"]
    assert str(site) in subprocess.run([str(venv / "bin" / "python"), "-c", "import portafunc; print(portafunc.__file__)"],
                                       cwd=site, capture_output=True, text=True).stdout


def test_names_that_collide_after_cloud_runs_mangling_are_refused():
    """Service names are cut to 63 characters: two functions must not become one service."""
    from portafunc import App
    from portafunc.packaging.build import PackagingError
    from portafunc_gcp.deploy.script import deployed_functions

    app = App("a" * 40)
    app.queue("q1", name="x" * 30 + "_one")(lambda msg: None)
    app.queue("q2", name="x" * 30 + "_two")(lambda msg: None)
    with pytest.raises(PackagingError, match="both deploy as the Cloud Run service"):
        deployed_functions(app)


def test_unknown_gcp_option_is_refused(tmp_path):
    project = tmp_path / "proj"
    project.mkdir()
    (project / "main.py").write_text("from portafunc import App\napp = App('opt')\n"
                                     "@app.http('GET', '/x')\ndef x(req):\n    return {}\n")
    (project / "portafunc.toml").write_text('[targets.gcp]\nhttp = "per-function"\n')
    proc = package(tmp_path / "out", project)
    assert proc.returncode != 0 and "per-function" in proc.stderr and "per-route" in proc.stderr


@pytest.mark.parametrize(("layout", "said"), [("per-route", "HTTP function of its own (per-route layout)"),
                                              ("service", "HTTP route of the app's one HTTP service")])
def test_inspect_describes_the_http_layout_the_configuration_chose(tmp_path, layout, said):
    project = tmp_path / "proj"
    project.mkdir()
    (project / "main.py").write_text("from portafunc import App\napp = App('layout')\n"
                                     "@app.http('GET', '/x')\ndef x(req):\n    return {}\n")
    (project / "portafunc.toml").write_text(f'[targets.gcp]\nhttp = "{layout}"\n')
    proc = subprocess.run([sys.executable, "-m", "portafunc.cli", "inspect", str(project), "--target", "gcp"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert said in proc.stdout, proc.stdout


EXISTING = {"topic": {"order-events": {"gcp": "pubsub://projects/other-proj/topics/events"}},
            "queue": {"orders": {"gcp": "pubsub://projects/other-proj/topics/orders-in",
                                 "aws": "sqs://arn:aws:sqs:us-east-1:123456789012:orders"}},
            "bucket": {"uploads": {"gcp": "gs://their-uploads"}},
            "kv": {"orders": {"gcp": "firestore://other-proj/orders-table"}}}


def _shop_script(existing: dict, stage: str | None = None) -> str:
    from portafunc.config import Config
    from portafunc.loader import load_app
    from portafunc_gcp.deploy.script import render_deploy

    app, _, _ = load_app("main:app", SHOP)
    return render_deploy(app, "shop-gcp.zip", PY, deployment=app.resources(Config({"existing": existing}, stage)))


def _env_values(script: str) -> dict[str, set[str]]:
    """Every PORTAFUNC_ variable the script's env files set → the values it takes."""
    found: dict[str, set[str]] = {}
    for key, value in re.findall(r'^(PORTAFUNC_[A-Z0-9_]+): "(.*)"$', script, re.M):
        found.setdefault(key, set()).add(value)
    return found


@pytest.mark.parametrize("stage", [None, "prod"])
def test_existing_resources_are_bound_to_their_urls_never_created_nor_staged(stage):
    """``[existing.KIND.NAME] gcp = URL``: no create of it, the functions bound to exactly that URL (a stage renames
    nothing of it), the consumers' push subscriptions and the storage trigger attached to it."""
    script = _shop_script(EXISTING, stage)
    env = _env_values(script)
    assert env["PORTAFUNC_TOPIC_ORDER_EVENTS"] == {"pubsub://projects/other-proj/topics/events"}
    assert env["PORTAFUNC_BUCKET_UPLOADS"] == {"gs://their-uploads"}
    assert env["PORTAFUNC_KV_ORDERS"] == {"firestore://other-proj/orders-table"}
    (queue,) = env["PORTAFUNC_QUEUE_ORDERS"]  # a queue binds a subscription: the consumer's own, on that topic
    assert queue.endswith("?topic=projects/other-proj/topics/orders-in") and "/subscriptions/orders" in queue
    for var in ("TOPIC_ORDER_EVENTS=", "QUEUE_ORDERS=", "BUCKET_UPLOADS="):
        assert f"\n{var}" not in script, f"an existing resource has no default name: {var}"
    creates = [line for line in script.splitlines() if " create " in line]
    assert not [line for line in creates if re.search(r"topics create \"(order-events|orders)(-prod)?\"|"
                                                      r"other-proj/topics/\S+\" --project|their-uploads|"
                                                      r"firestore databases create", line)], creates
    assert "ttls update" not in script, "an existing collection keeps its own TTL policy"
    # the push subscriptions (of this project) on the existing topics, with dead letters of this project
    subs = [line for line in creates if "subscriptions create" in line and "--push-endpoint" in line]
    assert {re.search(r'--topic="([^"]+)"', line).group(1) for line in subs} == \
        {"projects/other-proj/topics/events", "projects/other-proj/topics/orders-in"}
    assert "--trigger-topic" not in script, "Eventarc's Pub/Sub trigger takes its own project's topics only"
    assert all('--dead-letter-topic="projects/${PROJECT}/topics/' in line for line in subs)
    # grants on the existing resources; the storage trigger watches the existing bucket
    assert 'topic_role "projects/other-proj/topics/events" "serviceAccount:${RUN_SA}" roles/pubsub.publisher' in script
    assert 'topic_role "projects/other-proj/topics/orders-in" "serviceAccount:${RUN_SA}" roles/pubsub.publisher' \
        in script
    assert re.search(r'buckets add-iam-policy-binding "gs://their-uploads" .*roles/storage.objectViewer', script)
    assert '--trigger-event-filters="bucket=their-uploads"' in script
    assert "sqs://" not in script


def test_an_existing_entry_for_another_target_changes_nothing_on_gcp():
    aws_only = {"queue": {"orders": {"aws": "sqs://arn:aws:sqs:us-east-1:123456789012:orders"}}}
    assert _shop_script(aws_only, "prod") == _shop_script({}, "prod")


@pytest.mark.parametrize(("kind", "name", "url", "said"), [
    ("topic", "order-events", "pubsub://projects/p/subscriptions/s", "pubsub://projects/PROJECT/topics/TOPIC"),
    ("topic", "order-events", "sns://arn:aws:sns:us-east-1:123456789012:t", "not a Pub/Sub topic URL"),
    ("topic", "order-events", "pubsub://projects/p/topics/t?retries=3", "unknown option(s) retries"),
    ("queue", "orders", "pubsub://projects/p/subscriptions/s", "?topic=projects/P/topics/T"),
    ("queue", "orders", "pubsub://orders", "not a Pub/Sub topic URL"),
    ("bucket", "uploads", "gs://their-uploads/folder", "expected gs://BUCKET"),
    ("bucket", "thumbnails", "s3://their-thumbnails", "not a gs:// URL"),
    ("kv", "orders", "firestore://only-a-project", "expected firestore://PROJECT/COLLECTION"),
])
def test_a_malformed_existing_url_is_refused(kind, name, url, said):
    """The URL is read as the runtime's backend reads it, at packaging: the GCP target refuses it with its key."""
    from portafunc.config import Config
    from portafunc.loader import load_app
    from portafunc.packaging.build import PackagingError
    from portafunc_gcp.target import Target

    app, _, _ = load_app("main:app", SHOP)
    deployment = app.resources(Config({"existing": {kind: {name: {"gcp": url}}}}))
    (problem,) = Target().check_deployment(deployment)
    assert problem.startswith(f"[existing.{kind}.{name}] gcp = {url!r}: expected ") and said in problem, problem
    with pytest.raises(PackagingError, match=re.escape(f"[existing.{kind}.{name}]")):
        _shop_script({kind: {name: {"gcp": url}}})


def test_an_existing_queue_nothing_here_consumes_names_its_subscription():
    """A queue's binding is a subscription: its topic alone is refused when no function here has one on it."""
    from portafunc import App, sends
    from portafunc.config import Config
    from portafunc_gcp.target import Target

    app = App("sender")
    app.http("POST", "/x", name="post", uses=[sends("outbox")])(lambda req: {})
    topic_only = app.resources(Config({"existing": {"queue": {"outbox": {"gcp": "pubsub://projects/p/topics/t"}}}}))
    (problem,) = Target().check_deployment(topic_only)
    assert "no function of this app consumes the queue" in problem
    sub = "pubsub://projects/p/subscriptions/s?topic=projects/p/topics/t"
    named = app.resources(Config({"existing": {"queue": {"outbox": {"gcp": sub}}}}))
    assert Target().check_deployment(named) == []


def test_inspect_shows_what_exists_on_gcp_and_warns_about_its_grants(tmp_path):
    project = tmp_path / "shop"
    import shutil

    shutil.copytree(SHOP, project)
    (project / "portafunc.toml").write_text('[existing.topic.order-events]\n'
                                            'gcp = "pubsub://projects/other-proj/topics/events"\n'
                                            '[existing.bucket.uploads]\ngcp = "gs://their-uploads"\n')
    proc = subprocess.run([sys.executable, "-m", "portafunc.cli", "inspect", str(project), "--target", "gcp"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert re.search(r"topic order-events .*existing on gcp", out) and re.search(r"bucket uploads .*existing on gcp",
                                                                                 out), out
    assert "Pub/Sub push subscription (existing topic projects/other-proj/topics/events" in out, out
    assert "Cloud Storage trigger (Eventarc) (existing bucket their-uploads" in out, out
    assert "gcp differs: topic order-events already exists" in out and "right to set its IAM policy" in out, out
