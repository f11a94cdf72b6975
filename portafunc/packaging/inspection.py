"""``portafunc inspect``: the whole deployment per target, from the resource model — resources, each function's
trigger, bindings, grants, settings and secret names — and every refusal a target would make at package time.

A target adapter may add its own checks with three optional methods: ``name_rules()`` → ``{"function" | kind:
name function}`` (collisions after its name mangling), ``check_deployment(deployment)`` → problem lines (limits,
secret reference formats) and ``check_app(app, deployment)`` → problem lines (what needs the app itself: the names
its manifests give, routes sharing one service); and ``native_permissions(app, deployment)`` → ``{function:
[permission]}`` to show what each function's native identity may do; ``deployment_warnings(app, deployment)`` →
lines naming where the target behaves differently from the others for this app; ``deployed_trigger(spec,
deployment)`` → the native trigger when the configuration changes it (None: ``native_trigger(spec)``). ``portafunc
package`` runs the same checks, so what inspect refuses never builds: a refusal a packager makes while building
belongs in one of them.

Both import the app with the configuration file's app-wide ``env`` (``config.deployed_env``), as the deployed
functions do, and refuse a handler whose annotations do not resolve (:func:`check_call_plans`) before anything else.

Failure handling, HEAD and unmatched requests behave the same on every target (proven per target by the contract
and deploy tests); each function's block says what that behaviour is.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from ..errors import UnsupportedTrigger
from ..resources import Deployment, name_conflicts


def target_problems(target: Any, deployment: Deployment, app: Any = None) -> list[str]:
    """Every refusal ``target`` makes for this deployment beyond unsupported triggers (empty: it would build)."""
    problems: list[str] = []
    rules = getattr(target, "name_rules", None)
    if callable(rules):
        problems += name_conflicts(deployment, target.name, rules())
    check = getattr(target, "check_deployment", None)
    if callable(check):
        problems += list(check(deployment))
    check_app = getattr(target, "check_app", None)
    if app is not None and callable(check_app):
        problems += [p for p in check_app(app, deployment) if p not in problems]
    return problems


def call_plan_problems(app: Any) -> list[str]:
    """One line per function whose handler could never be called: an annotation naming nothing its module defines
    (``Mesage[Row]`` for ``Message[Row]``, a name imported only under ``TYPE_CHECKING``), or a typed parameter its
    trigger cannot fill once the names resolve. At import such a name may still be defined later in the module, so
    registration waits; once the whole app is imported, every name it will ever have is there, and the call plan
    (``FunctionSpec.call_plan()``, what every invocation builds first) either resolves now or fails every call."""
    from ..errors import PortafuncError

    problems = []
    for spec in app:
        try:
            spec.call_plan()
        except NameError as exc:
            problems.append(_unresolved(spec, exc))
        except PortafuncError as exc:
            problems.append(str(exc))
        except Exception as exc:  # noqa: BLE001 - whatever building the plan raises, every call would raise it too
            problems.append(f"function {spec.name!r}: its parameters cannot be read: {type(exc).__name__}: {exc}")
    return problems


def check_call_plans(app: Any) -> None:
    """RegistrationError naming each function whose handler could never be called (:func:`call_plan_problems`)."""
    from ..errors import RegistrationError

    problems = call_plan_problems(app)
    if len(problems) == 1:
        raise RegistrationError(problems[0])
    if problems:
        raise RegistrationError(f"{len(problems)} handlers could never be called:\n  - " + "\n  - ".join(problems))


def _unresolved(spec: Any, exc: NameError) -> str:
    """What :func:`call_plan_problems` says of a NameError: the parameter (or the return annotation) whose
    annotation names ``exc.name``, which the handler's module does not define."""
    handler = spec.handler
    namespace = getattr(handler, "__globals__", {})
    missing = getattr(exc, "name", None)
    where = "an annotation names it, but"
    for key, raw in (getattr(handler, "__annotations__", None) or {}).items():
        if not isinstance(raw, str):
            continue
        try:
            eval(raw, dict(namespace))  # noqa: S307 - the user's own annotation, as the call plan evaluates it
        except NameError as failed:
            if missing is None or getattr(failed, "name", None) == missing:
                where = (f"its return annotation is {raw}, but" if key == "return"
                         else f"parameter {key!r} is annotated {raw}, but")
                break
        except Exception:  # noqa: BLE001, S112 - another annotation's own problem: not this NameError's
            continue
    module = getattr(handler, "__module__", None) or "its module"
    return (f"function {spec.name!r}: {where} module {module} defines no {missing or str(exc)!r}: every call would "
            "fail with NameError (a typo, or a name imported only under TYPE_CHECKING?)")


def target_warnings(target: Any, app: Any, deployment: Deployment) -> list[str]:
    """Where ``target`` behaves differently from the others for this app (``inspect`` and ``package`` show them)."""
    warn = getattr(target, "deployment_warnings", None)
    return list(warn(app, deployment)) if callable(warn) else []


def describe(app: Any, deployment: Deployment, ref: str, project: Path) -> dict[str, Any]:
    """The JSON document of ``portafunc inspect --json``."""
    from ..runner.bindings import undeclared
    from ..targets import available, get_target
    from .build import native_trigger

    rows: list[dict[str, Any]] = []
    targets: dict[str, dict[str, Any]] = {}
    loaded = {name: get_target(name) for name in sorted(available())}
    for spec in app:
        fn = deployment.functions[spec.name]
        row: dict[str, Any] = {"function": spec.name, "trigger": spec.trigger.describe(), **fn.to_dict(),
                               "behaviour": behaviour(spec, fn, _existing_on(spec, deployment)), "targets": {}}
        for tname, target in loaded.items():
            try:
                row["targets"][tname] = {"supported": True, "native": str(native_trigger(target, spec, deployment))}
            except UnsupportedTrigger as exc:
                row["targets"][tname] = {"supported": False, "reason": exc.reason, "instead": exc.instead}
        rows.append(row)
    for tname, target in loaded.items():
        refused = [f"{r['function']}: {r['targets'][tname]['reason']}" for r in rows
                   if r["targets"][tname]["supported"] is False]
        problems = refused + target_problems(target, deployment, app)
        targets[tname] = {"problems": problems, "warnings": target_warnings(target, app, deployment)}
        permissions = getattr(target, "native_permissions", None)
        if callable(permissions) and not problems:
            granted = permissions(app, deployment)
            for row in rows:
                row["targets"][tname]["permissions"] = granted.get(row["function"], [])
    return {"app": app.name, "ref": ref, "stage": deployment.stage,
            "config": str(deployment.config.source) if deployment.config.source else None,
            "resources": [r.to_dict() for r in deployment.resources.values()], "functions": rows,
            "targets": targets, "warnings": undeclared(app, project)}


def _existing_on(spec: Any, deployment: Deployment) -> list[str]:
    """The targets on which the queue ``spec`` consumes already exists (the configuration's ``[existing]``)."""
    queue = getattr(spec.trigger, "queue", None)
    return sorted(deployment.existing("queue", queue)) if queue else []


def behaviour(spec: Any, fn: Any, existing: list[str] | None = None) -> str:
    """The failure / HTTP semantics every target gives this function, in one line. Where its queue already exists
    (``existing``: those targets), the queue's own policy may decide the retries: the target's line says."""
    from ..app import HttpTrigger, QueueTrigger, TopicTrigger

    trig = spec.trigger
    if isinstance(trig, (QueueTrigger, TopicTrigger)):
        dead = trig.dead_letter  # a logical queue, or a URL (the model keeps only the former)
        where = (dead if "://" in dead else f"queue {dead}") if dead else "its own dead-letter queue"
        caveat = f" (on {', '.join(existing)}, where the queue already exists: see that target)" if existing else ""
        return (f"a failing message is retried (only that message) up to {trig.max_attempts} attempts, then "
                f"dead-lettered{caveat}; a non-retryable one (validation, NonRetryableError) goes to {where} at once")
    if isinstance(trig, HttpTrigger):
        if "portafunc_mount" in getattr(spec.handler, "__dict__", {}):  # the mounted web app answers its own paths and errors
            return ("the mounted web app answers every path under its prefix, its own 404s, 405s and errors "
                    "included; the request body limit (413) and the platform's failures are portafunc's")
        return "HEAD without a body; unknown route 404, wrong method 405 with Allow; errors as problem+json"
    return "a failure is logged and reported to the platform, whose own retry policy for this trigger applies"


def inspect_cli(args: Any) -> int:
    """Print the deployment; exit 2 when any installed target refuses it (the same refusal ``package`` makes)."""
    from ..config import deployed_env, load_config
    from ..loader import load_app, resolve_ref
    from .build import read_pip_options

    config = load_config(resolve_ref(args.app)[0], getattr(args, "stage", None))
    with deployed_env(config) as env:  # as package imports it: what the deployed functions compute at import
        note = env.note()
        if note:
            print(f"portafunc inspect: {note}", file=sys.stderr)
        app, project, ref = load_app(args.app)
        check_call_plans(app)
        read_pip_options(project)  # a requirements.txt line package cannot honour: every target refuses it
        deployment = app.resources(config)
        doc = describe(app, deployment, ref, project)
    wanted = [args.target] if getattr(args, "target", None) else list(doc["targets"])
    refused = any(doc["targets"].get(t, {}).get("problems") for t in wanted)
    if args.json:
        sys.stdout.write(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
        return 2 if refused else 0
    print(_text(doc, wanted))
    return 2 if refused else 0


def _text(doc: dict[str, Any], wanted: list[str]) -> str:
    lines = [f"app {doc['app']} ({doc['ref']})" + (f"  stage {doc['stage']}" if doc["stage"] else "")
             + (f"  config {Path(doc['config']).name}" if doc["config"] else "  (no portafunc.toml / "
                                                                          "[tool.portafunc])")]
    name_width = max([8, *(len(t) for t in wanted)])  # target names in one column
    lines.append("\nresources")
    width = max((len(f"{r['kind']} {r['name']}") for r in doc["resources"]), default=0)
    for res in doc["resources"]:
        label = f"{res['kind']} {res['name']}"
        lines.append(f"  {label:<{width}}  {res['binding']}  ({_why(res)})")
    for row in doc["functions"]:
        s = row["settings"]
        lines.append(f"\n{row['function']}: {row['trigger']}")
        lines.append(f"  settings  memory {s['memory']} MB, timeout {s['timeout']} s"
                     + (f", concurrency {s['concurrency']}" if s["concurrency"] else ""))
        if row["grants"]:
            lines.append("  reaches   " + ", ".join(f"{g['kind']} {g['name']} ({'/'.join(g['access'])})"
                                                    for g in row["grants"]))
        lines.append("  behaves   " + row["behaviour"])
        if s["env"]:
            lines.append("  env       " + ", ".join(sorted(s["env"])))
        if s["secrets"]:
            lines.append("  secrets   " + ", ".join(sorted(s["secrets"])) + "  (references, injected by the cloud)")
        for tname in wanted:
            cell = row["targets"].get(tname)
            if cell is None:
                continue
            if cell["supported"]:
                text = cell["native"]
                if cell.get("permissions"):
                    text += "\n" + " " * (name_width + 4) + "may: " + "; ".join(cell["permissions"])
            elif cell["supported"] is False:
                text = f"NOT SUPPORTED: {cell['reason']}; use {cell['instead']}"
            else:
                text = cell["detail"]
            lines.append(f"  {tname:<{name_width}}  {text}")
    for tname in wanted:
        problems = doc["targets"].get(tname, {}).get("problems", [])
        if problems:
            lines.append(f"\n{tname} REFUSES this deployment:")
            lines.extend(f"  - {p}" for p in problems)
    for tname in wanted:
        for warning in doc["targets"].get(tname, {}).get("warnings", []):
            lines.append(f"\n{tname} differs: {warning}")
    for warning in doc["warnings"]:
        lines.append(f"\nwarning: {warning}")
    return "\n".join(lines)


def _why(res: dict[str, Any]) -> str:
    """Why a resource is in the model, and on which targets it already exists (any kind)."""
    existing = res["options"].get("existing")
    return _origin(res) + (f", existing on {', '.join(sorted(existing))}" if existing else "")


def _origin(res: dict[str, Any]) -> str:
    opts = res["options"]
    if res["kind"] == "queue" and opts.get("consumer"):
        dl = opts.get("dead_letter")
        return (f"consumed by {opts['consumer']}, visibility {opts['visibility_timeout']} s, "
                f"max attempts {opts['max_attempts']}" + (f", dead letter {dl}" if dl else "")
                + (", FIFO" if opts.get("fifo") else ""))
    if res["origin"] == "dead_letter":
        return "dead-letter queue"
    if res["kind"] == "topic" and opts.get("subscribers"):
        return "subscribers " + ", ".join(opts["subscribers"])
    if res["kind"] == "bucket" and opts.get("notifications"):
        return "notifies " + ", ".join(opts["notifications"])
    if res["kind"] == "idempotency":
        return f"idempotency store, records kept {opts.get('ttl_seconds')} s"
    return "declared by uses=" if res["origin"] == "uses" else f"declared by {res['origin']}"
