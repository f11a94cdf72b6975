"""``portafunc inspect``: the whole deployment per target, from the resource model — resources, each function's
trigger, bindings, grants, settings and secret names — and every refusal a target would make at package time.

A target adapter may add its own checks with two optional methods: ``name_rules()`` → ``{"function" | kind:
name function}`` (collisions after its name mangling) and ``check_deployment(deployment)`` → problem lines
(limits, secret reference formats); and ``native_permissions(app, deployment)`` → ``{function: [permission]}`` to
show what each function's native identity may do; ``deployment_warnings(app, deployment)`` → lines naming where the
target behaves differently from the others for this app; ``deployed_trigger(spec, deployment)`` → the native trigger
when the configuration changes it (None: ``native_trigger(spec)``). ``portafunc package`` runs the same checks, so
what inspect refuses never builds.

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


def target_problems(target: Any, deployment: Deployment) -> list[str]:
    """Every refusal ``target`` makes for this deployment beyond unsupported triggers (empty: it would build)."""
    problems: list[str] = []
    rules = getattr(target, "name_rules", None)
    if callable(rules):
        problems += name_conflicts(deployment, target.name, rules())
    check = getattr(target, "check_deployment", None)
    if callable(check):
        problems += list(check(deployment))
    return problems


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
        problems = refused + target_problems(target, deployment)
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
    from ..config import load_config
    from ..loader import load_app

    app, project, ref = load_app(args.app)
    deployment = app.resources(load_config(project, getattr(args, "stage", None)))
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
