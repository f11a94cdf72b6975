"""``portafunc package --target gcp``: a source zip Cloud Functions Gen2 builds, plus ``deploy.sh``.

Vendoring vs remote build: Gen2 always runs a Cloud Build (Google's Python buildpack) that ``pip install``s
``requirements.txt`` on the runtime's own Linux image, so third-party dependencies — including compiled ones
(grpcio, pydantic-core) — are left to that remote build: it gets the right platform wheels without us guessing, and
the upload stays small. What that build cannot fetch is portafunc itself (it need not be published anywhere), so the
core and ``portafunc_gcp`` are vendored into the zip with their dist-info (entry points keep working), compiled to
``.pyc`` for the target Python. The user's code goes under ``app/`` so a user module named ``main`` never collides
with the generated ``main.py``.

Layout of ``dist/gcp/``::

    <app>-gcp.zip        main.py, requirements.txt, .gcloudignore, portafunc/, portafunc_gcp/, *.dist-info, app/
    main.py, requirements.txt, deploy.sh     (copies for review; deploy.sh deploys the zip's contents)

``requirements.txt`` is a lock: every package Cloud Build installs, with the exact version resolved at package time
for the runtime's platform (see :mod:`.deploy.lock`). ``deploy.sh`` is described in :mod:`.deploy.script`.

HTTP layout: by default every HTTP route is served by one function, ``<app>-http`` (one base URL, routed inside);
``[targets.gcp] http = "per-route"`` in the configuration file deploys one function per HTTP route instead.
"""

from __future__ import annotations

from typing import Any

from portafunc.packaging.build import PackagingError
from portafunc.packaging.closure import called_kinds, runtime_requirements
from portafunc.packaging.steps import ArtifactBuild, install_requirements
from portafunc.targets import PackageRequest, PackageResult

from .deploy.script import deploy_name, deployed_functions, options, render_deploy
from .deploy.main_py import render_main
from .deploy.lock import lock



RUNTIME_ENTRIES = ["portafunc_gcp.runtime"]  # what the generated main.py imports of portafunc
#: Modules the runtime imports only for some trigger families: the push-token check (and its JWT code) for the
#: event and schedule entries, the storage filter for storage functions. main.py has entries for the app's own
#: functions only, so an app without such a function never reaches them.
FAMILY_MODULES = {"portafunc_gcp.inbound": ("queue", "topic", "storage", "schedule"), "portafunc.kit.storage_filter": ("storage",)}

#: The client library each resource kind is called through at run time.
SDK_BY_KIND = {"queue": "google-cloud-pubsub", "topic": "google-cloud-pubsub", "bucket": "google-cloud-storage",
               "kv": "google-cloud-firestore", "idempotency": "google-cloud-firestore"}


def unused_sdks(deployment: Any) -> set[str]:
    """The adapter's client libraries no function of this deployment calls (publish, send, read, write): left out
    of requirements.txt. Pub/Sub delivers to a consumer by push, so consuming needs no client; but a queue or topic
    function may forward a message to its dead letter itself (a non-retryable failure, the last attempt of a queue
    whose ``max_attempts`` is below Pub/Sub's minimum), through the Pub/Sub client, even when it publishes nothing."""
    used = {SDK_BY_KIND[kind] for kind in called_kinds(deployment) if kind in SDK_BY_KIND}
    if any(fn.kind in ("queue", "topic") for fn in deployment.functions.values()):
        used.add(SDK_BY_KIND["queue"])
    return set(SDK_BY_KIND.values()) - used


def requirements(user: list[str], say: Any = None, needed: list[str] | None = None,
                 leave_out: set[str] | None = None) -> list[str]:
    """The runtime requirements Cloud Build installs: core + adapter dependencies (portafunc itself is vendored),
    what this app needs of portafunc's optional ones (``needed``: pydantic for an app that validates with it) and
    every one of the user's lines; both kept when they name the same package, so the lock resolves them together."""
    return install_requirements(("portafunc", "portafunc-gcp"), user, say, needed=needed or (),
                                leave_out=leave_out or ())


def deployment_of(request: PackageRequest) -> Any:
    """The resource model to deploy: what the frame computed, else the app's with the project's configuration."""
    dep = getattr(request, "deployment", None)
    if dep is None:
        from portafunc.config import load_config

        dep = request.app.resources(load_config(request.project_dir, getattr(request, "stage", None)))
    return dep


def package(target: Any, request: PackageRequest, layout: str | None = None) -> PackageResult:
    if request.arch not in ("x86_64", "amd64"):  # the lock and Cloud Build's image are manylinux x86_64
        raise PackagingError(f"--arch {request.arch}: Cloud Functions runs x86_64 only")
    app, rows = request.checked_app(target)
    deployment = deployment_of(request)
    layout = layout or options(deployment)["http"]
    prefix = f"{app.name}-{deployment.stage}" if deployment.stage else app.name
    deployed_functions(app, layout, prefix)  # name collisions after Cloud Run's mangling stop the build here
    main_py = render_main(app, request.app_ref, root="app")
    with ArtifactBuild(request, "portafunc_gcp", "portafunc-gcp") as build:
        build.copy_project("app")  # under app/: a user module named main never meets the generated main.py
        build.vendor(entries=RUNTIME_ENTRIES, app=app, deployment=deployment, families=FAMILY_MODULES)
        needed = runtime_requirements(app, request.project_dir, request.requirements)
        pins = lock(requirements(request.requirements, build.say, needed, leave_out=unused_sdks(deployment)),
                    request.python, request.progress, request.pip_options)
        generated = {
            "main.py": main_py,
            "requirements.txt": "# Installed by Cloud Functions' remote build (Cloud Build); portafunc itself is "
                                "vendored in this zip.\n"
                                f"# Locked at package time for CPython {request.python} on manylinux x86_64: exact "
                                "versions only.\n" + "\n".join(pins) + "\n",
            ".gcloudignore": "# everything in this folder is the function's source\n",
        }
        build.write(generated)
        artifact = build.zip(f"{app.name}-gcp.zip")
        deploy_sh = render_deploy(app, artifact.path.name, request.python, layout=layout, deployment=deployment)
        return build.result("gcp", artifact, {"main.py": main_py, "requirements.txt": generated["requirements.txt"],
                                              "deploy.sh": deploy_sh}, rows)


__all__ = ["deploy_name", "package", "render_deploy", "requirements"]
