"""The generated Azure deployment checked offline: the ARM template, host.json, function_app.py and deploy.sh.

* ``azuredeploy.json`` passes the structural check of portafunc_azure.deploy.arm_check (apiVersions, declared parameters/variables,
  every resourceId resolves inside the template; see its docstring for what that does not prove);
* it carries every binding the app needs, cross-checked against the real ``azure-functions`` indexing of the
  generated ``function_app.py``: each queue trigger's queue (and poison queue) is created and its connection setting
  exists; each topic subscriber has exactly one Event Grid subscription that targets an indexed function, with
  ``maxDeliveryAttempts`` = ``max_attempts`` and a dead-letter destination; keys come from Key Vault references;
* the function app is Flex Consumption on the Python the package was built for;
* host.json validates against the host.json schema the Functions tooling publishes (SchemaStore, vendored under
  tests/fixtures/schemas) and carries the decorator's retry delay;
* deploy.sh parses under bash, and (when the Azure CLI is installed) every ``az`` command in it parses in the real
  CLI (see test_az_commands_parse).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest
from azure_fixtures import REPO

from portafunc import App
from portafunc.loader import load_app
from portafunc_azure import triggers
from portafunc_azure.deploy import arm_check, infra
from portafunc_azure.deploy.function_app import load_function_app
from portafunc_azure.package import host_json, host_json_limits, local_settings


pytestmark = pytest.mark.deploy

PY = f"{sys.version_info.major}.{sys.version_info.minor}"
SCHEMAS = REPO / "tests" / "fixtures" / "schemas"
APPS = {"shop": REPO / "examples" / "shop", "awkward": REPO / "tests" / "apps" / "awkward"}


@pytest.fixture(scope="module", params=sorted(APPS))
def built(request, tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp(f"azure-{request.param}")
    proc = subprocess.run([sys.executable, "-m", "portafunc.cli", "package", "--target", "azure",
                           str(APPS[request.param]), "--python", PY, "--out", str(out)], capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    code = ("import sys, json; from portafunc.loader import load_app; app, _, _ = load_app('main:app', sys.argv[1]); "
            "print(json.dumps(app.resources().to_dict()))")  # a fresh interpreter: both apps' modules are main
    model = subprocess.run([sys.executable, "-c", code, str(APPS[request.param])], capture_output=True, text=True,
                           timeout=120)
    assert model.returncode == 0, model.stderr
    app = load_app("main:app", APPS[request.param])[0] if request.param == "shop" else None
    dist = out / "azure"
    return {"name": request.param, "app": app, "model": json.loads(model.stdout), "dist": dist,
            "template": json.loads((dist / "azuredeploy.json").read_text()), "stderr": proc.stderr}


def _resources(template: dict, kind: str) -> list[dict]:
    return [r for r in template["resources"] if r["type"] == kind]


def _names(template: dict, kind: str) -> set[str]:
    return {arm_check.resource_key(r)[1][-1] for r in _resources(template, kind)}


def _settings(template: dict) -> dict[str, str]:
    (site,) = _resources(template, "Microsoft.Web/sites")
    return {s["name"]: s["value"] for s in site["properties"]["siteConfig"]["appSettings"]}


def test_template_structure(built):
    assert arm_check.check(built["template"], infra.API) == []


def test_structural_check_catches_a_dangling_reference(built):
    broken = json.loads(json.dumps(built["template"]))
    queue = _resources(broken, "Microsoft.Storage/storageAccounts/queueServices/queues")[0]
    queue["dependsOn"] = ["[resourceId('Microsoft.Storage/storageAccounts/queueServices', "
                          "variables('storageAccountName'), 'elsewhere')]"]
    queue["apiVersion"] = "2019-01-01"
    problems = arm_check.check(broken, infra.API)
    assert any("elsewhere" in p for p in problems) and any("apiVersion 2019-01-01" in p for p in problems)


def test_flex_consumption_on_the_packaged_python(built):
    template = built["template"]
    (plan,) = _resources(template, "Microsoft.Web/serverfarms")
    assert plan["sku"] == {"tier": "FlexConsumption", "name": "FC1"} and plan["properties"]["reserved"] is True
    (site,) = _resources(template, "Microsoft.Web/sites")
    assert site["kind"] == "functionapp,linux"
    assert site["properties"]["functionAppConfig"]["runtime"] == {"name": "python", "version": PY}
    assert PY in (built["dist"] / "deploy.sh").read_text() or "py" + PY in (built["dist"] / "deploy.sh").read_text()


def test_every_resource_of_the_model_is_created_and_bound(built):
    """Each topic, queue (dead letters and send-only queues too), bucket and store of app.resources() exists in
    the template and has its binding among the app settings; secrets are Key Vault references."""
    template, model = built["template"], built["model"]
    settings = _settings(template)
    queues = _names(template, "Microsoft.Storage/storageAccounts/queueServices/queues")
    containers = _names(template, "Microsoft.Storage/storageAccounts/blobServices/containers")
    topics = set(template["variables"].get("topicNames", {}))
    for res in model["resources"]:
        if res["kind"] == "queue":
            assert triggers.queue_name(res["name"]) in queues and res["binding"] in settings
        elif res["kind"] == "topic":
            assert res["name"] in topics and res["binding"] in settings
        elif res["kind"] == "bucket":
            assert triggers.queue_name(res["name"]) in containers
            assert f"'{triggers.queue_name(res['name'])}')]" in settings[res["binding"]] and "azblob://" in \
                settings[res["binding"]]
        elif res["kind"] == "kv":
            table = infra.kv_table(res["name"])
            assert table in _names(template, "Microsoft.Storage/storageAccounts/tableServices/tables")
            assert "aztable://" in settings[res["binding"]] and f"'{table}')]" in settings[res["binding"]]
        elif res["kind"] == "idempotency":
            assert settings["PORTAFUNC_IDEMPOTENCY_STORE"] == f"aztable://{infra.IDEMPOTENCY_TABLE}"
            assert infra.IDEMPOTENCY_TABLE in _names(template, "Microsoft.Storage/storageAccounts/tableServices/tables")
    if built["name"] == "awkward":
        assert settings["DB_PASSWORD"].startswith("[format('@Microsoft.KeyVault(VaultName=")
        assert "'db-password')]" in settings["DB_PASSWORD"]
        assert "'awkward-payment-api-key')]" in settings["PAYMENT_API_KEY"] and settings["LOG_LEVEL"] == "INFO"
        assert template["parameters"]["instanceMemoryMB"]["defaultValue"] == 2048  # process_work: 1024 MB
        assert json.loads((built["dist"] / "host.json").read_text())["functionTimeout"] == "00:02:00"
        officer = [r for r in _resources(template, "Microsoft.Authorization/roleAssignments")
                   if "secretsOfficer" in r["properties"]["principalId"]]
        assert officer and 'secretsOfficer="$OFFICER"' in (built["dist"] / "deploy.sh").read_text()


def test_every_binding_is_provisioned_and_matches_the_indexed_functions(built):
    if built["app"] is None:
        pytest.skip("indexes the shop in this process (the awkward app's module is also called main)")
    app: App = built["app"]
    template = built["template"]
    _, functions, _ = load_function_app(app)  # the real azure-functions indexing of the generated file
    bindings = {name: list(fn.get_bindings_dict()["bindings"]) for name, fn in functions.items()}
    settings = _settings(template)
    queues = _names(template, "Microsoft.Storage/storageAccounts/queueServices/queues")
    for items in bindings.values():
        for binding in items:
            if binding["type"] == "queueTrigger":
                assert binding["queueName"] in queues and triggers.poison_queue_name(binding["queueName"]) in queues
                assert binding["connection"] in settings
    subscriptions = _resources(template, "Microsoft.EventGrid/topics/eventSubscriptions") + \
        _resources(template, "Microsoft.EventGrid/systemTopics/eventSubscriptions")
    targets = {}
    for sub in subscriptions:
        resource_id = sub["properties"]["destination"]["properties"]["resourceId"]
        function = arm_check.parse(resource_id[1:-1]).args[-1]
        targets[function] = sub
        assert sub["properties"]["deadLetterDestination"]["endpointType"] == "StorageBlob"
        assert sub["condition"] == "[parameters('eventSubscriptions')]"
    event_functions = {n for n, items in bindings.items() if any(b["type"] == "eventGridTrigger" for b in items)}
    assert set(targets) == event_functions, "one subscription per Event Grid function, each to an indexed function"
    for spec in app:
        trig = spec.trigger
        kind = type(trig).__name__
        if kind == "TopicTrigger":
            sub = targets[triggers.function_name(spec.name)]
            assert sub["properties"]["retryPolicy"]["maxDeliveryAttempts"] == trig.max_attempts
            assert f"PORTAFUNC_TOPIC_{trig.topic.upper().replace('-', '_')}" in settings
            key = infra.key_setting(trig.topic)
            assert settings[key].startswith("[format('@Microsoft.KeyVault(VaultName=")
            assert "key_env={1}', " in settings[f"PORTAFUNC_TOPIC_{trig.topic.upper().replace('-', '_')}"]
            dead = f"PORTAFUNC_DEADLETTER_{spec.name.upper()}"
            assert dead in settings and infra.dead_letter_queue(spec) in queues
        if kind == "QueueTrigger":
            assert f"PORTAFUNC_QUEUE_{trig.queue.upper()}" in settings
        if kind == "StorageTrigger":
            assert trig.bucket in _names(template, "Microsoft.Storage/storageAccounts/blobServices/containers")
    assert settings["PORTAFUNC_TARGET"] == "azure" and "AzureWebJobsStorage" in settings
    assert "FUNCTIONS_WORKER_RUNTIME" not in settings, "Flex Consumption refuses it: the runtime is in functionAppConfig"


def _bindings(settings: dict[str, str]) -> set[str]:
    return {name for name in settings if name.startswith("PORTAFUNC_")}


def test_local_settings_example_binds_what_the_template_binds(built):
    """``cp local.settings.json.example local.settings.json`` then ``func start``: every app setting of the deployed
    app is there (bindings, the configuration's env and secrets), pointing at Azurite where the resource lives in the
    storage account, created there on first use."""
    example = json.loads((built["dist"] / "local.settings.json.example").read_text())["Values"]
    deployed = _settings(built["template"])
    assert _bindings(example) == _bindings(deployed)
    assert set(example) - {"FUNCTIONS_WORKER_RUNTIME", "AzureWebJobsFeatureFlags"} == set(deployed)
    for res in built["model"]["resources"]:
        if res["kind"] in ("queue", "kv", "bucket"):
            assert example[res["binding"]].startswith(("azqueue://devstoreaccount1/", "aztable://devstoreaccount1/",
                                                       "azblob://devstoreaccount1/"))
            assert example[res["binding"]].endswith("?create=1")
    if built["name"] == "awkward":
        assert example["LOG_LEVEL"] == deployed["LOG_LEVEL"] == "INFO"
        assert example["DB_PASSWORD"] == "<your local value of Key Vault secret db-password>"


def test_local_settings_example_of_tables_buckets_and_dead_letters():
    import portafunc

    app = App("todo")
    app.http("GET", "/t", uses=[portafunc.reads(kv="todos"), portafunc.writes(bucket="files")],
             name="t")(lambda req: None)
    app.queue("work", dead_letter="work-dead", name="work")(lambda msg: None)
    app.topic("done", name="audit")(lambda msg: None)
    example = local_settings(app)["Values"]
    assert example["PORTAFUNC_KV_TODOS"] == "aztable://devstoreaccount1/kvtodos?create=1"
    assert example["PORTAFUNC_BUCKET_FILES"] == "azblob://devstoreaccount1/files?create=1"
    assert example["PORTAFUNC_QUEUE_WORK_DEAD"] == "azqueue://devstoreaccount1/work-dead?create=1"
    assert example["PORTAFUNC_DEADLETTER_AUDIT"] == "azqueue://devstoreaccount1/audit-deadletter?create=1"
    assert example["PORTAFUNC_TOPIC_DONE"].endswith("?key_env=PORTAFUNC_EVENTGRID_KEY_DONE")
    assert example["AzureWebJobsStorage"] == "UseDevelopmentStorage=true"
    assert _bindings(example) == _bindings(_settings(infra.template(app, PY)))


def test_host_json_validates_against_the_published_schema(built):
    import jsonschema

    schema = json.loads((SCHEMAS / "azure-functions-host.schema.json").read_text())
    host = json.loads((built["dist"] / "host.json").read_text())
    jsonschema.validate(host, schema)
    broken = json.loads(json.dumps(host))
    broken["extensions"]["queues"]["visibilityTimeout"] = 30  # a number: the host wants hh:mm:ss
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema)


def test_host_json_honours_visibility_timeout_and_names_what_it_cannot_hold():
    app = App("retry")
    app.queue("slow", visibility_timeout=120, name="slow")(lambda msg: None)
    assert host_json(app)["extensions"]["queues"]["visibilityTimeout"] == "00:02:00"  # was 00:00:00: retried at once
    assert host_json_limits(app) == []
    app.queue("fast", visibility_timeout=15, name="fast")(lambda msg: None)
    assert host_json(app)["extensions"]["queues"]["visibilityTimeout"] == "00:00:15"
    (warning,) = host_json_limits(app)
    assert warning.startswith("slow: visibility_timeout=120s") and "15s" in warning


def test_deploy_script_order_and_bash_syntax(built):
    import re

    script = (built["dist"] / "deploy.sh").read_text()
    assert subprocess.run(["bash", "-n", str(built["dist"] / "deploy.sh")]).returncode == 0
    # every array expansion in the form bash 3.2 (macOS's /bin/bash) accepts when the array is empty under set -u
    arrays = re.findall(r'\$\{?([A-Z_]+)\[@\]', script)
    assert arrays and all(f'${{{name}[@]+"${{{name}[@]}}"}}' in script for name in set(arrays)), arrays
    assert not re.search(r'(?<![+{])"\$\{[A-Z_]+\[@\]\}"(?!\})', script)
    order = [" ".join(m.group(1).split()[:3]) for line in script.splitlines() if not line.startswith("#")
             for m in re.finditer(r"(?<![\w-])az ([a-z][^;)]*)", line)]
    steps = [o for o in order if o.startswith(("group create", "deployment group create", "functionapp deployment"))]
    assert steps == ["group create --name", "deployment group create", "functionapp deployment source",
                     "deployment group create"]
    assert "eventSubscriptions=false" in script.split("config-zip")[0]
    assert "eventSubscriptions=true" in script.split("config-zip")[1]
    if built["name"] == "awkward":  # secret values go to Key Vault between the infrastructure and the code
        assert script.index("az keyvault secret set") < script.index("config-zip")


def test_deploy_script_recovers_a_soft_deleted_key_vault_of_its_name(built):
    """The vault's name is ``kv`` + uniqueString(resource group id, app name): after ``az group delete`` a redeploy
    into a group of the same name wants the same name, which Key Vault keeps reserved for the soft-delete retention
    (the template sets 7 days) — the deployment would fail with "Exist soft deleted vault with the same name".
    deploy.sh asks ARM (what-if, same parameters as the deployment) which vault the template names and, when a
    deleted vault of that name is pending purge, recovers it (with its secrets) before deploying."""
    import re

    script = (built["dist"] / "deploy.sh").read_text()
    assert subprocess.run(["bash", "-n", str(built["dist"] / "deploy.sh")]).returncode == 0
    assert "uniqueString(resourceGroup().id, parameters('appName'))" in built["template"]["variables"]["token"]
    lines = [line for line in script.splitlines() if not line.startswith("#")]
    first_deployment = next(i for i, line in enumerate(lines) if "az deployment group create" in line)
    before = "\n".join(lines[:first_deployment])
    assert "az keyvault list-deleted --resource-type vault" in before
    (what_if,) = [line for line in lines[:first_deployment] if "az deployment group what-if" in line]
    create = lines[first_deployment]
    params = re.search(r"--parameters (.*?) --query", create)
    assert params and f"--parameters {params.group(1)} --result-format ResourceIdOnly --no-pretty-print" in what_if
    assert 'az keyvault recover --name "$VAULT_NAME"' in before
    assert before.index("az keyvault list-deleted") < before.index("what-if") < before.index("az keyvault recover")


def test_deploy_script_finds_the_vault_name_in_what_if_output(built, tmp_path):
    """The name-finding lines of deploy.sh run under bash against a stand-in ``az`` that answers as ARM does (the
    what-if resource ids, the deleted vaults): the template's vault is recovered, nothing else is."""
    script = (built["dist"] / "deploy.sh").read_text()
    start = script.index("DELETED=")
    end = script.index("\nfi\n", script.index("az keyvault recover")) + 4
    fake = tmp_path / "az"
    fake.write_text("""#!/usr/bin/env bash
echo "$*" >> "$CALLS"
case "$*" in
  "keyvault list-deleted"*) printf 'kvother\\nkvabc123\\n';;
  "deployment group what-if"*) printf '%s\\n' \\
    /subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/stabc123 \\
    /subscriptions/s/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kvabc123/secrets/eventgrid-key-x \\
    /subscriptions/s/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kvabc123;;
esac
""")
    fake.chmod(0o755)
    calls = tmp_path / "calls"
    prelude = ('set -euo pipefail\nRESOURCE_GROUP=rg; LOCATION=westeurope; HERE=.; NAME_ARG=(); '
               'OFFICER=o\nsay() { echo "$*" >&2; }\n')
    proc = subprocess.run(["bash", "-c", prelude + script[start:end]], capture_output=True, text=True,
                          env={"PATH": f"{tmp_path}:/usr/bin:/bin", "CALLS": str(calls)})
    assert proc.returncode == 0, proc.stderr
    recovered = [c for c in calls.read_text().splitlines() if c.startswith("keyvault recover")]
    assert recovered == ["keyvault recover --name kvabc123 --output none"], calls.read_text()
    assert "kvabc123" in proc.stderr and "soft-delete" in proc.stderr


AZ = str(REPO / ".tools" / "azcli" / "bin" / "az") if (REPO / ".tools" / "azcli" / "bin" / "az").exists() \
    else shutil.which("az")  # `make test` installs it under .tools/azcli (its own venv)


@pytest.mark.skipif(AZ is None, reason="the Azure CLI (pip install azure-cli) is not installed")
def test_az_commands_parse(built, tmp_path):
    """Every az command of deploy.sh through the real az parser, logged out: az parses the whole command line (an
    unknown or missing argument exits 2) and then refuses with "az login". Limit: nothing reaches Azure, so the
    template's parameters are not bound by az here (arm_check covers the template)."""
    import re

    script = (built["dist"] / "deploy.sh").read_text()
    values = {"RESOURCE_GROUP": "rg-replay", "LOCATION": "westeurope", "APP": "shop-replay", "VAULT": "kvreplay",
              "VAULT_NAME": "kvreplay",
              "OFFICER": "00000000-0000-0000-0000-000000000000", "DB_PASSWORD": "x", "PAYMENT_API_KEY": "x"}
    commands = []
    for line in script.splitlines():
        if line.startswith("#"):
            continue
        for match in re.finditer(r'(?<![\w-])az ((?:[^;)|"]|"[^"]*")+)', line):  # | and || are bash's
            text = match.group(1).replace('${NAME_ARG[@]+"${NAME_ARG[@]}"}', "").replace('"$HERE/', f'"{built["dist"]}/')
            text = re.sub(r"\$\{?([A-Z_]+)(?::-)?\}?", lambda m: values.get(m.group(1), m.group(0)), text)
            commands.append(re.sub(r"\s*[12]?>\s*/dev/null", "", text).strip())  # redirections are bash's
    assert len(commands) >= 4
    import shlex

    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "AZURE_CONFIG_DIR": str(tmp_path / "az"),
           "AZURE_CORE_COLLECT_TELEMETRY": "false", "AZURE_CORE_NO_COLOR": "true"}
    for text in commands:
        proc = subprocess.run([AZ, *shlex.split(text)], capture_output=True, text=True, env=env, timeout=300)
        assert proc.returncode != 2, (text, proc.stderr[-1500:])
        assert "unrecognized arguments" not in proc.stderr and "the following arguments are required" \
            not in proc.stderr, (text, proc.stderr[-1500:])
        assert "az login" in proc.stderr, (text, proc.stderr[-1500:])
