"""``portafunc package --target azure``: a Functions zip (Python v2 model) with every dependency vendored.

Layout of ``dist/azure/<app>-functions-py<X.Y>.zip`` (deploy it as is — no build on Azure's side)::

    function_app.py                     generated: one decorated function per portafunc function
    host.json                           extension bundle 4.x, routePrefix "", queues.maxDequeueCount from max_attempts,
                                        queues.visibilityTimeout from visibility_timeout
    requirements.txt                    the exact third-party versions vendored below (for reference / remote build)
    local.settings.json.example         FUNCTIONS_WORKER_RUNTIME, AzureWebJobsStorage (Azurite), every setting the
                                        template sets (storage resources in Azurite's account, created on first
                                        use; the stage's env; a placeholder per secret)
    <the user's project sources>
    .python_packages/lib/site-packages  portafunc + portafunc_azure (with dist-info, so entry points work) and the
                                        dependencies as manylinux2014_x86_64 wheels for the chosen CPython, with .pyc

Vendoring rather than a remote build (SCM_DO_BUILD_DURING_DEPLOYMENT / Oryx): portafunc and the adapter are not on
any index the build service could reach anyway, the artifact is byte-for-byte reproducible and is the very thing the
boot proof imports, compiled dependencies (pydantic-core) are the Linux wheels for the target Python rather than
whatever Oryx resolves on deploy day, and deploys need no outbound access to PyPI. ``.python_packages/lib/site-packages``
is the folder the Python worker puts on ``sys.path`` (what ``func azure functionapp publish --build local`` produces).

Next to the zip: ``azuredeploy.json`` (the ARM template of every resource the app needs, see :mod:`.deploy.infra`) and
``deploy.sh`` (``az deployment group create`` then the zip deploy).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from portafunc.app import App, QueueTrigger
from portafunc.packaging.build import PackagingError
from portafunc.packaging.closure import called_kinds, runtime_requirements
from portafunc.packaging.steps import ArtifactBuild, install_requirements
from portafunc.targets import PackageRequest, PackageResult

from . import triggers
from .deploy import existing, infra
from .deploy.function_app import generate_function_app

SITE = Path(".python_packages") / "lib" / "site-packages"
PLATFORM = ["manylinux2014_x86_64"]
SUPPORTED_PYTHON = infra.PYTHON_ON_FLEX


RUNTIME_ENTRIES = ["portafunc_azure.runtime"]  # what the generated function_app.py imports of portafunc
#: Modules the runtime imports only in one trigger family's entry (function_app.py binds the app's own functions
#: only): the poison-queue client and the move to a dead letter after the last attempt for queue functions, the
#: timer codec, the storage filter.
FAMILY_MODULES = {"portafunc_azure.backends.storage_queue": ("queue",), "portafunc.kit.dead_letter": ("queue",),
                  "portafunc_azure.codecs.schedule": ("schedule",), "portafunc.kit.storage_filter": ("storage",)}

#: The client library each resource kind is called through at run time.
SDK_BY_KIND = {"queue": "azure-storage-queue", "topic": "azure-eventgrid", "bucket": "azure-storage-blob",
               "kv": "azure-data-tables", "idempotency": "azure-data-tables"}
#: The client library of each messaging scheme a dead letter can be bound to by URL.
SDK_BY_SCHEME = {"azqueue": "azure-storage-queue", "eventgrid": "azure-eventgrid"}


def unused_sdks(app: App, deployment: Any) -> set[str]:
    """The adapter's client libraries no function of this deployment calls: left out of the artifact. A function
    calls a kind it publishes to, sends to, reads or writes; a queue trigger moves poison messages itself; a dead
    letter named by URL (``dead_letter=`` or a ``PORTAFUNC_DEADLETTER_*`` of the configuration's ``env``), which the
    resource model does not list, is sent to through its scheme's client."""
    used = {SDK_BY_KIND[kind] for kind in called_kinds(deployment) if kind in SDK_BY_KIND}
    if any(isinstance(spec.trigger, QueueTrigger) for spec in app):
        used.add("azure-storage-queue")
    urls = [str(getattr(spec.trigger, "dead_letter", None) or "") for spec in app]
    urls += [str(value) for fn in getattr(deployment, "functions", {}).values()
             for key, value in fn.settings.env.items() if key.startswith("PORTAFUNC_DEADLETTER_")]
    used |= {SDK_BY_SCHEME[url.partition("://")[0]] for url in urls if url.partition("://")[0] in SDK_BY_SCHEME}
    return set(SDK_BY_KIND.values()) - used


def dependencies(user_requirements: list[str], say: Any = None, needed: list[str] | None = None,
                 leave_out: set[str] | None = None) -> list[str]:
    """Core + adapter runtime dependencies (read from their installed metadata, so a backend's SDK such as
    azure-storage-blob is never forgotten), what this app needs of portafunc's optional ones (``needed``: pydantic
    for an app that validates with it), plus every one of the user's lines — an SDK of another cloud is the user's
    choice — minus portafunc's own distributions, which are vendored."""
    return install_requirements(("portafunc", "portafunc-azure"), user_requirements, say, needed=needed or (),
                                leave_out=leave_out or ())


def host_json(app: App, deployment: Any = None) -> dict[str, Any]:
    """``host.json``: extension bundle 4.x (queue, Event Grid, timer), no ``/api`` prefix, queue retry policy."""
    doc: dict[str, Any] = {
        "version": "2.0",
        "logging": {"logLevel": {"default": "Information"}},
        "extensionBundle": {"id": "Microsoft.Azure.Functions.ExtensionBundle", "version": "[4.*, 5.0.0)"},
        "extensions": {"http": {"routePrefix": ""}},
    }
    if deployment is not None and deployment.functions:
        # one functionTimeout for the app: the longest function timeout
        longest = max(fn.settings.timeout for fn in deployment.functions.values())
        doc["functionTimeout"] = _timespan(longest)
    queues = [s.trigger for s in app if isinstance(s.trigger, QueueTrigger)]
    if queues:
        doc["extensions"]["queues"] = {
            # One value for the whole app: the largest max_attempts; the runtime moves a message on each function's
            # own last attempt (to its dead letter, else the poison queue).
            "maxDequeueCount": max(q.max_attempts for q in queues),
            "batchSize": min(32, max(q.batch_size for q in queues)),
            "messageEncoding": "base64",
            # The delay before a failed message is retried; one value for every queue function of the app.
            "visibilityTimeout": _timespan(min(q.visibility_timeout for q in queues)),
        }
    return doc


def _timespan(seconds: int) -> str:
    hours, rest = divmod(seconds, 3600)
    return f"{hours:02d}:{rest // 60:02d}:{rest % 60:02d}"


def host_json_limits(app: App) -> list[str]:
    """What host.json cannot hold per function, named per function (printed as warnings by ``package``).

    host.json's ``extensions.queues`` is app-wide: ``maxDequeueCount`` (the runtime moves a message itself on the
    function's own last attempt, to its dead letter or else the poison queue, so each ``max_attempts`` holds),
    ``batchSize`` and ``visibilityTimeout`` (the retry delay: the smallest ``visibility_timeout`` of the app's queue
    functions applies to all of them).
    """
    specs = [s for s in app if isinstance(s.trigger, QueueTrigger)]
    if not specs:
        return []
    shortest = min(s.trigger.visibility_timeout for s in specs)  # type: ignore[union-attr]
    return [f"{s.name}: visibility_timeout={s.trigger.visibility_timeout}s, but host.json holds one retry delay "  # type: ignore[union-attr]
            f"for every queue function of the app: failed messages are retried after {shortest}s"
            for s in specs if s.trigger.visibility_timeout != shortest]  # type: ignore[union-attr]


AZURITE_ACCOUNT = "devstoreaccount1"  # the account of UseDevelopmentStorage=true


def local_settings(app: App, deployment: Any = None) -> dict[str, Any]:
    """``local.settings.json.example``: what ``func start`` needs — every setting the template sets
    (:func:`.deploy.infra.bindings`): storage resources in Azurite's account, created on first use (``?create=1``:
    Azurite starts empty, where the template creates them), topics as placeholders, existing resources at their own
    URL, the configuration file's ``env`` of the packaged stage, and a placeholder per ``secrets`` entry (its value
    is in Key Vault, never in a file portafunc writes)."""
    dep = deployment if deployment is not None else app.resources()
    values: dict[str, str] = {
        "FUNCTIONS_WORKER_RUNTIME": "python",
        "AzureWebJobsFeatureFlags": "EnableWorkerIndexing",
        triggers.STORAGE_CONNECTION: "UseDevelopmentStorage=true",
    }
    for binding in infra.bindings(app, dep):
        values[binding.setting] = _local_value(binding)
    return {"IsEncrypted": False, "Values": values}


def _local_value(binding: infra.Binding) -> str:
    if binding.kind in infra.STORAGE_KINDS:
        return f"{binding.kind}://{AZURITE_ACCOUNT}/{binding.name}?create=1"
    if binding.kind == "idempotency":
        return f"aztable://{binding.name}?create=1"
    if binding.kind == "secret":
        return f"<your local value of Key Vault secret {binding.name}>"
    if binding.kind == "topic":  # Azurite has no Event Grid: the user's own topic
        return ("eventgrid://<topic>.<region>-1.eventgrid.azure.net/api/events"
                f"?key_env={infra.key_setting(binding.name)}")
    if binding.kind == "topic-key":
        return "<topic access key>"
    return binding.name


def _vendored_versions(site: Path) -> list[str]:
    pins = []
    for info in sorted(site.glob("*.dist-info")):
        name, _, version = info.name[: -len(".dist-info")].partition("-")
        if name.lower().replace("_", "-") not in ("portafunc", "portafunc-azure"):
            pins.append(f"{name.replace('_', '-')}=={version}")
    return sorted(pins, key=str.lower)


def package(target: Any, request: PackageRequest) -> PackageResult:
    if request.arch not in ("x86_64", "amd64"):
        raise PackagingError(f"--arch {request.arch}: Azure Functions on Linux runs x86_64 only")
    if request.python not in SUPPORTED_PYTHON:
        raise PackagingError(f"--python {request.python}: Azure Functions (Flex Consumption) supports "
                             f"{', '.join(SUPPORTED_PYTHON)}")
    app, functions = request.checked_app(target)
    deployment = getattr(request, "deployment", None)
    if deployment is None:
        from portafunc.config import load_config

        deployment = app.resources(load_config(request.project_dir, getattr(request, "stage", None)))
    infra.app_settings(deployment)  # settings one function app cannot hold stop the build before anything is built
    refused = existing.problems(deployment)
    if refused:
        raise PackagingError("azure refuses this deployment:\n  - " + "\n  - ".join(refused))
    zip_name = f"{app.name}-functions-py{request.python}.zip"
    with ArtifactBuild(request, "portafunc_azure", "portafunc-azure") as build:
        build.copy_project(reserved=("function_app.py", "host.json"))
        site = build.vendor(str(SITE), entries=RUNTIME_ENTRIES, app=app, deployment=deployment,
                            families=FAMILY_MODULES)
        needed = runtime_requirements(app, request.project_dir, request.requirements)
        build.install(dependencies(request.requirements, build.say, needed, leave_out=unused_sdks(app, deployment)),
                      site, platform=PLATFORM)
        build.say("writing function_app.py, host.json, requirements.txt, local.settings.json.example")
        generated = {
            "function_app.py": generate_function_app(app, request.app_ref),
            "host.json": json.dumps(host_json(app, deployment), indent=2) + "\n",
            "requirements.txt": "# Vendored in .python_packages/lib/site-packages: deploy without a remote build.\n"
                                + "\n".join(_vendored_versions(site)) + "\n",
            "local.settings.json.example": json.dumps(local_settings(app, deployment), indent=2) + "\n",
        }
        build.write(generated)
        artifact = build.zip(zip_name)
        manifests = {**generated,
                     "azuredeploy.json": json.dumps(infra.template(app, request.python, deployment), indent=2) + "\n",
                     "deploy.sh": infra.deploy_script(app, zip_name, deployment)}
        return build.result("azure", artifact, manifests, functions)
