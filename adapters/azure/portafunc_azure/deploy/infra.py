"""``azuredeploy.json``: the ARM template that creates everything an app needs on Azure, and ``deploy.sh``.

ARM JSON rather than Bicep: the Bicep compiler ships as a .NET binary (NuGet / GitHub releases), not on PyPI or npm,
so neither ``portafunc package`` nor CI could compile or check a Bicep file; ``az deployment group create`` takes
ARM JSON as it is, and a template generated as data can be checked structurally in tests.

The template creates, in one resource group:

* a storage account (``AzureWebJobsStorage``: the host's leases, the queues, poison queues, idempotency table, blob
  containers for storage triggers, the Event Grid dead-letter container and the Flex deployment container);
* one Storage queue per queue and its ``<queue>-poison`` queue; per topic subscriber a ``<fn>-deadletter`` queue
  (where the pipeline moves non-retryable messages at once, as the runtime does for queues);
* the Flex Consumption plan (``FC1``) and the function app (Linux, Python of ``--python``) with a system identity;
* one Event Grid custom topic per topic and one subscription **per subscriber** (max delivery attempts =
  ``max_attempts``, dead-lettering to the ``eventgrid-deadletters`` container); blob triggers get an Event Grid
  system topic on the storage account and one filtered subscription each. Subscriptions are created in a second
  pass (``eventSubscriptions=true``), after the code is deployed, because Event Grid checks that the function exists;
* a Key Vault (RBAC) holding the topics' access keys, read by the app through Key Vault references;
* nothing for a resource the configuration names as existing on Azure (``[existing.KIND.NAME] azure = URL``): its
  binding is that URL, and no role is assigned on it (:mod:`.existing` says what the operator grants instead);
* every app setting the app needs (:func:`bindings`: ``PORTAFUNC_QUEUE_*``, ``PORTAFUNC_TOPIC_*``,
  ``PORTAFUNC_DEADLETTER_*``, ``PORTAFUNC_KV_*``, ``PORTAFUNC_BUCKET_*``, ``PORTAFUNC_IDEMPOTENCY_STORE``, keys as
  ``@Microsoft.KeyVault(...)`` references, the configuration file's ``env`` and ``secrets`` of the stage;
  local.settings.json.example lists the same settings for Azurite).
"""

from __future__ import annotations

import re
from typing import Any, NamedTuple

from portafunc.app import App, FunctionSpec, QueueTrigger, StorageTrigger, TopicTrigger
from portafunc.packaging.build import PackagingError
from portafunc.resources import Deployment, env_name

from .. import triggers
from ..codecs import storage as blob_events
from . import existing
from .existing import existing_url

API = {
    "Microsoft.Storage/storageAccounts": "2023-05-01",
    "Microsoft.Storage/storageAccounts/blobServices": "2023-05-01",
    "Microsoft.Storage/storageAccounts/blobServices/containers": "2023-05-01",
    "Microsoft.Storage/storageAccounts/queueServices": "2023-05-01",
    "Microsoft.Storage/storageAccounts/queueServices/queues": "2023-05-01",
    "Microsoft.Storage/storageAccounts/tableServices": "2023-05-01",
    "Microsoft.Storage/storageAccounts/tableServices/tables": "2023-05-01",
    "Microsoft.Web/serverfarms": "2024-04-01",
    "Microsoft.Web/sites": "2024-04-01",
    "Microsoft.EventGrid/topics": "2022-06-15",
    "Microsoft.EventGrid/topics/eventSubscriptions": "2022-06-15",
    "Microsoft.EventGrid/systemTopics": "2022-06-15",
    "Microsoft.EventGrid/systemTopics/eventSubscriptions": "2022-06-15",
    "Microsoft.KeyVault/vaults": "2023-07-01",
    "Microsoft.KeyVault/vaults/secrets": "2023-07-01",
    "Microsoft.Authorization/roleAssignments": "2022-04-01",
}
ROLE = {  # built-in role definition ids (Azure RBAC built-in roles reference)
    "Storage Blob Data Owner": "b7e6dc6d-f1e8-4753-8033-0f276bb0955b",
    "Key Vault Secrets User": "4633458b-17de-408a-b874-0445c86b69e6",
    "Key Vault Secrets Officer": "b86a8fe4-44ce-4948-aee5-eccb2c155cd7",
}
IDEMPOTENCY_TABLE = "portafuncidempotency"
DEPLOY_CONTAINER = "app-package"
DEAD_LETTER_CONTAINER = "eventgrid-deadletters"
PYTHON_ON_FLEX = ("3.10", "3.11", "3.12", "3.13")

STORAGE = "variables('storageAccountName')"
SITE = "parameters('appName')"


def _expr(text: str) -> str:
    return f"[{text}]"


def _rid(kind: str, *names: str) -> str:
    return f"resourceId('{kind}', {', '.join(names)})"


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def topic_resource_name(logical: str) -> str:
    """An Event Grid topic name (3-50 letters, digits, '-') for a logical topic, before the app prefix."""
    name = re.sub(r"[^A-Za-z0-9-]", "-", logical)
    return re.sub(r"-{2,}", "-", name).strip("-")[:30] or "topic"


def subscription_name(spec: FunctionSpec) -> str:
    """An event subscription name (3-64 letters, digits, '-')."""
    name = re.sub(r"[^A-Za-z0-9-]", "-", spec.name)
    return (re.sub(r"-{2,}", "-", name).strip("-") or "fn")[:64].ljust(3, "x")


def dead_letter_queue(spec: FunctionSpec) -> str:
    """Where the pipeline moves a topic subscriber's non-retryable messages (a Storage queue name)."""
    return triggers.queue_name(f"{spec.name}-deadletter")


def key_setting(topic: str) -> str:
    return env_name("EVENTGRID_KEY", topic)


def _secret_name(topic: str) -> str:
    return re.sub(r"[^A-Za-z0-9-]", "-", f"eventgrid-key-{topic}")[:127]


def kv_table(name: str) -> str:
    """An Azure Table name (3-63 letters and digits, starting with a letter) for a key-value table."""
    return ("kv" + re.sub(r"[^A-Za-z0-9]", "", name))[:63]


def memory_mb(deployment: Deployment) -> int:
    """Flex Consumption's instance size: the smallest of 512/2048/4096 MB that fits every function's memory."""
    wanted = max((fn.settings.memory for fn in deployment.functions.values()), default=512)
    return next((size for size in (512, 2048, 4096) if size >= wanted), 4096)


def app_settings(deployment: Deployment) -> tuple[dict[str, str], dict[str, str]]:
    """(env, secrets) of the one function app: the union over its functions (Azure has one set per app); a
    variable set differently by two functions is refused. secrets: variable → Key Vault secret name."""
    env: dict[str, str] = {}
    secrets: dict[str, str] = {}
    for fn in deployment.functions.values():
        for key, value in fn.settings.env.items():
            if env.setdefault(key, value) != value:
                raise PackagingError(f"Azure runs every function in one function app with one set of app settings, "
                                     f"but env {key} differs between functions; set it app-wide")
        for key, ref in fn.settings.secrets.items():
            name = secret_name(ref.ref("azure") or key)
            if secrets.setdefault(key, name) != name:
                raise PackagingError(f"secret {key} points at different Key Vault secrets in different functions; "
                                     "one function app has one value per setting")
    return env, secrets


class Binding(NamedTuple):
    """One app setting. ``kind`` says what ``name`` is: ``azqueue``, ``aztable`` or ``azblob`` — a queue, table or
    container of the app's storage account; ``idempotency`` — the idempotency store's table; ``topic`` — a logical
    topic (its endpoint); ``topic-key`` — a logical topic (its access key); ``value`` — the setting's value itself;
    ``env`` — a value of the configuration file's ``env``; ``secret`` — the Key Vault secret a ``secrets`` entry
    names; ``existing`` — the binding URL of a resource that already exists (the same in Azure and locally)."""

    setting: str
    kind: str
    name: str


STORAGE_KINDS = ("azqueue", "aztable", "azblob")


def bindings(app: App, dep: Deployment) -> list[Binding]:
    """Every app setting the function app needs but ``AzureWebJobsStorage``, in app-settings order: the
    ``PORTAFUNC_*`` bindings, then the configuration file's ``secrets`` and ``env`` of the deployment's stage
    (:func:`app_settings`). The template points them at the resources it creates and at Key Vault,
    local.settings.json.example at Azurite and at placeholders for the secrets, so the two cannot set different
    sets."""
    def made(kind: str) -> list[Any]:
        return [res for res in dep.of_kind(kind) if existing_url(dep, kind, res.name) is None]

    found = [Binding("PORTAFUNC_TARGET", "value", "azure")]
    found += [Binding(res.binding, "existing", url) for res in dep.resources.values()
              if (url := existing_url(dep, res.kind, res.name)) is not None]
    found += [Binding(res.binding, "azqueue", triggers.queue_name(res.name)) for res in made("queue")]
    for res in made("topic"):
        found += [Binding(env_name("TOPIC", res.name), "topic", res.name),
                  Binding(key_setting(res.name), "topic-key", res.name)]
    found += [Binding(env_name("DEADLETTER", spec.name), "azqueue", dead_letter_queue(spec)) for spec in app
              if isinstance(spec.trigger, TopicTrigger) and not spec.trigger.dead_letter]
    if made("idempotency"):
        found.append(Binding("PORTAFUNC_IDEMPOTENCY_STORE", "idempotency", IDEMPOTENCY_TABLE))
    found += [Binding(res.binding, "aztable", kv_table(res.name)) for res in made("kv")]
    found += [Binding(res.binding, "azblob", triggers.queue_name(res.name)) for res in made("bucket")]
    env, secrets = app_settings(dep)
    found += [Binding(key, "secret", name) for key, name in sorted(secrets.items())]
    found += [Binding(key, "env", value) for key, value in sorted(env.items())]
    return found


def _setting_value(binding: Binding) -> str:
    """A binding's value in the template: an ARM expression over the resources it creates."""
    if binding.kind in STORAGE_KINDS:
        return _expr(f"format('{binding.kind}://{{0}}/{{1}}', {STORAGE}, {_lit(binding.name)})")
    if binding.kind == "topic":
        topic_name = f"variables('topicNames')[{_lit(binding.name)}]"
        endpoint = f"reference({_rid('Microsoft.EventGrid/topics', topic_name)}).endpoint"
        return _expr(f"format('eventgrid://{{0}}/api/events?key_env={{1}}', "
                     f"split(split({endpoint}, '://')[1], '/')[0], {_lit(key_setting(binding.name))})")
    if binding.kind in ("topic-key", "secret"):  # Key Vault references: resolved by the platform, no SDK call
        secret = _secret_name(binding.name) if binding.kind == "topic-key" else binding.name
        return _expr(f"format('@Microsoft.KeyVault(VaultName={{0}};SecretName={{1}})', variables('keyVaultName'), "
                     f"{_lit(secret)})")
    if binding.kind == "idempotency":
        return f"aztable://{binding.name}"
    if binding.kind == "env" and binding.name.startswith("["):  # a literal, not an ARM expression
        return binding.name.replace("[", "[[", 1)
    return binding.name


def secret_name(ref: str) -> str:
    """A Key Vault secret name (1-127 letters, digits, '-'): ``shop/api-key`` → ``shop-api-key``."""
    return re.sub(r"[^A-Za-z0-9-]", "-", ref.rsplit("/secrets/", 1)[-1])[:127]


def template(app: App, python: str, deployment: Deployment | None = None) -> dict[str, Any]:
    """The ARM template (a dict ready for ``json.dumps``) from the app's resource model; PackagingError when it
    cannot bind the resources the configuration names as existing (:func:`.existing.problems`)."""
    dep = deployment if deployment is not None else app.resources()
    refused = existing.problems(dep)
    if refused:
        raise PackagingError("azure refuses this deployment:\n  - " + "\n  - ".join(refused))

    def made(kind: str) -> list[str]:
        return [r.name for r in dep.of_kind(kind) if existing_url(dep, kind, r.name) is None]

    specs = list(app)
    queue_specs = [s for s in specs if isinstance(s.trigger, QueueTrigger)]
    topic_specs = [s for s in specs if isinstance(s.trigger, TopicTrigger)]
    blob_specs = [s for s in specs if isinstance(s.trigger, StorageTrigger)]
    topics = made("topic")
    consumed = sorted({triggers.queue_name(s.trigger.queue) for s in queue_specs})  # type: ignore[union-attr]
    queues = sorted({triggers.queue_name(name) for name in made("queue")})
    idempotent = bool(made("idempotency"))
    _, secrets = app_settings(dep)
    storage_id = _rid("Microsoft.Storage/storageAccounts", STORAGE)
    site_id = _rid("Microsoft.Web/sites", SITE)
    vault_id = _rid("Microsoft.KeyVault/vaults", "variables('keyVaultName')")
    resources: list[dict[str, Any]] = []

    def add(rtype: str, name: str, depends: list[str] | None = None, **body: Any) -> None:
        resource = {"type": rtype, "apiVersion": API[rtype], "name": name, **body}
        if depends:
            resource["dependsOn"] = [_expr(d) for d in depends]
        resources.append(resource)

    add("Microsoft.Storage/storageAccounts", _expr(STORAGE), location="[parameters('location')]",
        sku={"name": "Standard_LRS"}, kind="StorageV2",
        properties={"minimumTlsVersion": "TLS1_2", "allowBlobPublicAccess": False, "supportsHttpsTrafficOnly": True})
    add("Microsoft.Storage/storageAccounts/blobServices", _expr(f"format('{{0}}/default', {STORAGE})"), [storage_id])
    add("Microsoft.Storage/storageAccounts/queueServices", _expr(f"format('{{0}}/default', {STORAGE})"), [storage_id])
    blob_service = _rid("Microsoft.Storage/storageAccounts/blobServices", STORAGE, "'default'")
    queue_service = _rid("Microsoft.Storage/storageAccounts/queueServices", STORAGE, "'default'")
    containers = [DEPLOY_CONTAINER] + ([DEAD_LETTER_CONTAINER] if topic_specs or blob_specs else []) + \
        sorted({triggers.queue_name(name) for name in made("bucket")})
    for container in containers:
        add("Microsoft.Storage/storageAccounts/blobServices/containers",
            _expr(f"format('{{0}}/default/{{1}}', {STORAGE}, {_lit(container)})"), [blob_service],
            properties={"publicAccess": "None"})
    all_queues = sorted(set(queues) | {triggers.poison_queue_name(q) for q in consumed}
                        | {dead_letter_queue(s) for s in topic_specs})
    for queue in all_queues:
        add("Microsoft.Storage/storageAccounts/queueServices/queues",
            _expr(f"format('{{0}}/default/{{1}}', {STORAGE}, {_lit(queue)})"), [queue_service])
    tables = ([IDEMPOTENCY_TABLE] if idempotent else []) + [kv_table(name) for name in made("kv")]
    if tables:
        add("Microsoft.Storage/storageAccounts/tableServices", _expr(f"format('{{0}}/default', {STORAGE})"),
            [storage_id])
    for table in tables:
        add("Microsoft.Storage/storageAccounts/tableServices/tables",
            _expr(f"format('{{0}}/default/{{1}}', {STORAGE}, {_lit(table)})"),
            [_rid("Microsoft.Storage/storageAccounts/tableServices", STORAGE, "'default'")])

    add("Microsoft.KeyVault/vaults", "[variables('keyVaultName')]", location="[parameters('location')]",
        properties={"tenantId": "[subscription().tenantId]", "sku": {"family": "A", "name": "standard"},
                    "enableRbacAuthorization": True, "enableSoftDelete": True, "softDeleteRetentionInDays": 7})
    for topic in topics:
        topic_name = f"variables('topicNames')[{_lit(topic)}]"
        add("Microsoft.EventGrid/topics", _expr(topic_name), location="[parameters('location')]",
            properties={"inputSchema": "EventGridSchema", "publicNetworkAccess": "Enabled"})
        add("Microsoft.KeyVault/vaults/secrets",
            _expr(f"format('{{0}}/{{1}}', variables('keyVaultName'), {_lit(_secret_name(topic))})"),
            [vault_id, _rid("Microsoft.EventGrid/topics", topic_name)],
            properties={"value": _expr(f"listKeys({_rid('Microsoft.EventGrid/topics', topic_name)}, "
                                       f"'{API['Microsoft.EventGrid/topics']}').key1")})

    settings = [
        {"name": "AzureWebJobsStorage", "value": _expr(
            f"format('DefaultEndpointsProtocol=https;AccountName={{0}};AccountKey={{1}};EndpointSuffix={{2}}', "
            f"{STORAGE}, listKeys({storage_id}, '{API['Microsoft.Storage/storageAccounts']}').keys[0].value, "
            "environment().suffixes.storage)")},
    ]
    settings += [{"name": b.setting, "value": _setting_value(b)} for b in bindings(app, dep)]
    tags = {k: v for fn in dep.functions.values() for k, v in fn.settings.tags.items()}

    add("Microsoft.Web/serverfarms", "[variables('planName')]", location="[parameters('location')]",
        kind="functionapp", sku={"tier": "FlexConsumption", "name": "FC1"}, properties={"reserved": True})
    site_depends = [_rid("Microsoft.Web/serverfarms", "variables('planName')"), storage_id, vault_id,
                    _rid("Microsoft.Storage/storageAccounts/blobServices/containers", STORAGE, "'default'",
                         _lit(DEPLOY_CONTAINER))]
    site_depends += [_rid("Microsoft.EventGrid/topics", f"variables('topicNames')[{_lit(t)}]") for t in topics]
    add("Microsoft.Web/sites", _expr(SITE), site_depends, location="[parameters('location')]",
        kind="functionapp,linux", identity={"type": "SystemAssigned"}, tags=tags,
        properties={
            "serverFarmId": _expr(_rid("Microsoft.Web/serverfarms", "variables('planName')")),
            "httpsOnly": True,
            "functionAppConfig": {
                "deployment": {"storage": {
                    "type": "blobContainer",
                    "value": _expr(f"format('{{0}}{{1}}', reference({storage_id}).primaryEndpoints.blob, "
                                   f"{_lit(DEPLOY_CONTAINER)})"),
                    "authentication": {"type": "SystemAssignedIdentity"}}},
                "scaleAndConcurrency": {"maximumInstanceCount": "[parameters('maximumInstanceCount')]",
                                        "instanceMemoryMB": "[parameters('instanceMemoryMB')]"},
                "runtime": {"name": "python", "version": python},
            },
            "siteConfig": {"appSettings": settings, "minTlsVersion": "1.2", **platform_cors(app)},
        })
    principal = f"reference({site_id}, '{API['Microsoft.Web/sites']}', 'Full').identity.principalId"
    if secrets:  # the person deploying writes the secret values into the (RBAC) vault
        add("Microsoft.Authorization/roleAssignments",
            _expr(f"guid({vault_id}, parameters('secretsOfficer'), '{ROLE['Key Vault Secrets Officer']}')"),
            [vault_id], condition="[not(empty(parameters('secretsOfficer')))]",
            scope="[format('Microsoft.KeyVault/vaults/{0}', variables('keyVaultName'))]",
            properties={"roleDefinitionId": _expr(_rid("Microsoft.Authorization/roleDefinitions",
                                                       _lit(ROLE["Key Vault Secrets Officer"]))),
                        "principalId": "[parameters('secretsOfficer')]"})
    for role, scope_type, scope_name, scope_id in (
            ("Storage Blob Data Owner", "Microsoft.Storage/storageAccounts", STORAGE, storage_id),
            ("Key Vault Secrets User", "Microsoft.KeyVault/vaults", "variables('keyVaultName')", vault_id)):
        add("Microsoft.Authorization/roleAssignments",
            _expr(f"guid({scope_id}, {site_id}, '{ROLE[role]}')"), [scope_id, site_id],
            scope=_expr(f"format('{scope_type}/{{0}}', {scope_name})"),
            properties={"roleDefinitionId": _expr(_rid("Microsoft.Authorization/roleDefinitions",
                                                       _lit(ROLE[role]))),
                        "principalId": _expr(principal), "principalType": "ServicePrincipal"})

    dead_letter = {"endpointType": "StorageBlob", "properties": {"resourceId": _expr(storage_id),
                                                                 "blobContainerName": DEAD_LETTER_CONTAINER}}
    for spec in topic_specs:
        trig = spec.trigger
        assert isinstance(trig, TopicTrigger)
        topic_name = f"variables('topicNames')[{_lit(trig.topic)}]"
        add("Microsoft.EventGrid/topics/eventSubscriptions",
            _expr(f"format('{{0}}/{{1}}', {topic_name}, {_lit(subscription_name(spec))})"),
            [_rid("Microsoft.EventGrid/topics", topic_name), site_id],
            condition="[parameters('eventSubscriptions')]",
            properties=_subscription(spec, trig.max_attempts, dead_letter, None))
    if blob_specs:
        add("Microsoft.EventGrid/systemTopics", "[variables('storageEventsName')]", [storage_id],
            location="[parameters('location')]",
            properties={"source": _expr(storage_id), "topicType": "Microsoft.Storage.StorageAccounts"})
        for spec in blob_specs:
            trig = spec.trigger
            assert isinstance(trig, StorageTrigger)
            filt: dict[str, Any] = {
                "includedEventTypes": [blob_events.KIND_TO_TYPE[e] for e in trig.events],
                "subjectBeginsWith": f"/blobServices/default/containers/{triggers.queue_name(trig.bucket)}/blobs/"
                                     f"{trig.prefix}"}
            if trig.suffix:
                filt["subjectEndsWith"] = trig.suffix
            add("Microsoft.EventGrid/systemTopics/eventSubscriptions",
                _expr(f"format('{{0}}/{{1}}', variables('storageEventsName'), {_lit(subscription_name(spec))})"),
                [_rid("Microsoft.EventGrid/systemTopics", "variables('storageEventsName')"), site_id],
                condition="[parameters('eventSubscriptions')]",
                properties=_subscription(spec, 5, dead_letter, filt))

    variables: dict[str, Any] = {
        "token": "[uniqueString(resourceGroup().id, parameters('appName'))]",
        "storageAccountName": "[format('st{0}', take(variables('token'), 20))]",
        "keyVaultName": "[format('kv{0}', take(variables('token'), 20))]",
        "planName": "[format('{0}-plan', parameters('appName'))]",
        "topicNames": {t: _expr(f"format('{{0}}-{topic_resource_name(t)}', parameters('appName'))") for t in topics},
    }
    if blob_specs:
        variables["storageEventsName"] = "[format('{0}-storage-events', parameters('appName'))]"
    return {
        "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
        "contentVersion": "1.0.0.0",
        "metadata": {"generator": "portafunc-azure", "app": app.name, "stage": dep.stage},
        "parameters": {
            "appName": {"type": "string", "minLength": 2, "maxLength": 40,
                        "defaultValue": f"[format('{_app_slug(app, dep.stage)}-{{0}}', "
                                        "take(uniqueString(resourceGroup().id), 6))]",
                        "metadata": {"description": "function app name (globally unique: part of *.azurewebsites.net)"}},
            "location": {"type": "string", "defaultValue": "[resourceGroup().location]"},
            "eventSubscriptions": {"type": "bool", "defaultValue": True,
                                   "metadata": {"description": "false on the first pass, before the code exists"}},
            "maximumInstanceCount": {"type": "int", "defaultValue": 100, "minValue": 40, "maxValue": 1000},
            "secretsOfficer": {"type": "string", "defaultValue": "",
                               "metadata": {"description": "object id allowed to write the app's secrets into "
                                                           "the Key Vault (deploy.sh passes the signed-in user)"}},
            "instanceMemoryMB": {"type": "int", "defaultValue": memory_mb(dep), "allowedValues": [512, 2048, 4096]},
        },
        "variables": variables,
        "resources": resources,
        "outputs": {
            "functionAppName": {"type": "string", "value": "[parameters('appName')]"},
            "url": {"type": "string", "value": _expr(f"format('https://{{0}}', reference({site_id}).defaultHostName)")},
            "storageAccountName": {"type": "string", "value": _expr(STORAGE)},
            "keyVaultName": {"type": "string", "value": "[variables('keyVaultName')]"},
        },
    }


def _subscription(spec: FunctionSpec, attempts: int, dead_letter: dict[str, Any],
                  filt: dict[str, Any] | None) -> dict[str, Any]:
    props: dict[str, Any] = {
        "destination": {"endpointType": "AzureFunction", "properties": {
            "resourceId": _expr(f"format('{{0}}/functions/{{1}}', {_rid('Microsoft.Web/sites', SITE)}, "
                                f"{_lit(triggers.function_name(spec.name))})"),
            "maxEventsPerBatch": 1, "preferredBatchSizeInKilobytes": 64}},
        "eventDeliverySchema": "EventGridSchema",
        "retryPolicy": {"maxDeliveryAttempts": attempts, "eventTimeToLiveInMinutes": 1440},
        "deadLetterDestination": dead_letter,
    }
    if filt:
        props["filter"] = filt
    return props


def platform_cors(app: App) -> dict[str, Any]:
    """``siteConfig.cors`` for an app with a CORS policy: no platform origins, so the function answers CORS itself.

    With any origin in App Service's ``allowedOrigins`` the platform answers preflights and sets the CORS headers of
    every response itself, discarding the app's (one list of origins for the whole app, no per-route methods,
    headers or max age). Writing the empty list on every deployment also removes origins added by hand or by the
    portal, which would silently override the app's policy. An app without a policy leaves the setting alone."""
    if not any(getattr(spec.trigger, "cors", None) is not None for spec in app) and app.cors is None:
        return {}
    return {"cors": {"allowedOrigins": [], "supportCredentials": False}}


def _app_slug(app: App, stage: str | None = None) -> str:
    slug = re.sub(r"[^a-z0-9-]", "-", f"{app.name}-{stage}".lower() if stage else app.name.lower())
    slug = re.sub(r"-{2,}", "-", slug).strip("-")
    return (slug if slug[:1].isalpha() else f"app-{slug}")[:30].rstrip("-")


def deploy_script(app: App, zip_name: str, deployment: Deployment | None = None) -> str:
    """``deploy.sh``: resource group, a soft-deleted Key Vault of the template's vault name recovered, infrastructure
    (first pass), secret values, code, event subscriptions."""
    dep = deployment if deployment is not None else app.resources()
    name = f"{_app_slug(app, dep.stage)}-infra"
    _, secrets = app_settings(dep)
    secret_lines: list[str] = []
    if secrets:
        secret_lines += ["", 'say "secrets in Key Vault $VAULT (values from your environment, never from a file)"',
                         f'VAULT="$(az deployment group show --resource-group "$RESOURCE_GROUP" --name {name} '
                         '--query properties.outputs.keyVaultName.value --output tsv)"']
        for var, secret in sorted(secrets.items()):
            secret_lines.append(
                f'if [ -n "${{{var}:-}}" ]; then az keyvault secret set --vault-name "$VAULT" --name {secret} '
                f'--value "${{{var}}}" --output none; elif ! az keyvault secret show --vault-name "$VAULT" '
                f'--name {secret} --output none 2>/dev/null; then echo "warning: Key Vault secret {secret} is not '
                f'set: export {var}=... and run again (or az keyvault secret set --vault-name $VAULT --name {secret} '
                '--value ...)" >&2; fi')
    officer = ['OFFICER="$(az ad signed-in-user show --query id --output tsv)"  # may write the secrets into Key Vault'] if secrets else []
    officer_arg = 'secretsOfficer="$OFFICER" ' if secrets else ''
    first_pass = ('--template-file "$HERE/azuredeploy.json" --parameters location="$LOCATION" eventSubscriptions=false '
                  + officer_arg + '${NAME_ARG[@]+"${NAME_ARG[@]}"}')
    # The vault's name is kv + uniqueString(resource group id, app name): a group deleted and created again under
    # the same name wants the same vault name, which Key Vault keeps reserved while the deleted vault awaits its
    # purge (softDeleteRetentionInDays). Only when the subscription has deleted vaults: ARM's what-if (the very
    # parameters of the deployment) names the template's vault; a deleted one of that name is recovered, secrets
    # included, and the deployment updates it. The look-ups need rights on the subscription: without them they find
    # nothing and the deployment reports the conflict itself.
    vault_lines = [
        "",
        'DELETED="$(az keyvault list-deleted --resource-type vault --query "[].name" --output tsv 2>/dev/null '
        '|| true)"',
        'if [ -n "$DELETED" ]; then',
        f'  PLANNED="$(az deployment group what-if --resource-group "$RESOURCE_GROUP" --name {name} {first_pass} '
        '--result-format ResourceIdOnly --no-pretty-print --query "changes[].resourceId" --output tsv 2>/dev/null '
        '|| true)"',
        '  VAULT_NAME=""',
        '  for ID in $PLANNED; do',
        '    case "$(printf %s "$ID" | tr "[:upper:]" "[:lower:]")" in',
        '      */providers/microsoft.keyvault/vaults/*/*) ;;',
        '      */providers/microsoft.keyvault/vaults/*) VAULT_NAME="${ID##*/}" ;;',
        '    esac',
        '  done',
        '  if [ -n "$VAULT_NAME" ] && printf "%s\\n" $DELETED | grep -qixF "$VAULT_NAME"; then',
        '    say "Key Vault $VAULT_NAME was deleted (with its resource group?) and its name stays reserved until the '
        'soft-delete retention ends: recovering it, with its secrets"',
        '    if ! az keyvault recover --name "$VAULT_NAME" --output none; then',
        '      echo "error: could not recover Key Vault $VAULT_NAME. Purge it to free the name for a new vault: '
        'az keyvault purge --name $VAULT_NAME" >&2',
        '      echo "       (its secrets are lost), or deploy under another name: APP_NAME=... ./deploy.sh" >&2',
        '      exit 1',
        '    fi',
        '  fi',
        'fi',
    ]
    return "\n".join([
        "#!/usr/bin/env bash",
        f"# Deploy app {app.name!r} to Azure Functions (Flex Consumption). Generated by portafunc-azure from the app:",
        "# regenerate with `portafunc package --target azure`. Safe to run again: ARM deployments are declarative.",
        "# Usage: RESOURCE_GROUP=my-rg [LOCATION=westeurope] [APP_NAME=globally-unique-name] ./deploy.sh",
        "# Secrets: export each secret's variable before running (its value goes to Key Vault, not to a file).",
        "# Needs: az (logged in: `az login`), Owner (or Contributor + User Access Administrator) on the group.",
        "set -euo pipefail",
        'RESOURCE_GROUP="${RESOURCE_GROUP:?set RESOURCE_GROUP to the resource group to deploy into}"',
        'LOCATION="${LOCATION:-westeurope}"',
        'HERE="$(cd "$(dirname "$0")" && pwd)"',
        # expanded as ${NAME_ARG[@]+"${NAME_ARG[@]}"}: bash 3.2 (macOS's /bin/bash) calls an empty array unbound
        # under set -u
        'NAME_ARG=(); if [ -n "${APP_NAME:-}" ]; then NAME_ARG=(appName="$APP_NAME"); fi',
        *officer,
        'say() { printf "\\n== %s\\n" "$*" >&2; }',
        "",
        'say "resource group $RESOURCE_GROUP ($LOCATION)"',
        'az group create --name "$RESOURCE_GROUP" --location "$LOCATION" --output none',
        *vault_lines,
        "",
        'say "infrastructure (storage, queues, Event Grid topics, Key Vault, Flex Consumption app)"',
        f'APP="$(az deployment group create --resource-group "$RESOURCE_GROUP" --name {name} {first_pass} '
        '--query properties.outputs.functionAppName.value --output tsv)"',
        *secret_lines,
        "",
        'say "code ($APP)"',
        f'az functionapp deployment source config-zip --resource-group "$RESOURCE_GROUP" --name "$APP" '
        f'--src "$HERE/{zip_name}" --output none',
        "",
        'say "event subscriptions (Event Grid checks that each function exists)"',
        f'URL="$(az deployment group create --resource-group "$RESOURCE_GROUP" --name {name} '
        '--template-file "$HERE/azuredeploy.json" --parameters location="$LOCATION" eventSubscriptions=true '
        + officer_arg + 'appName="$APP" --query properties.outputs.url.value --output tsv)"',
        f'echo "{app.name} is deployed: $URL"',
        "",
    ])


__all__ = ["API", "PYTHON_ON_FLEX", "Binding", "bindings", "dead_letter_queue", "deploy_script", "key_setting",
           "subscription_name", "template", "topic_resource_name"]
