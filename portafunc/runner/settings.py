"""The configuration file's environment for ``portafunc run`` and ``portafunc invoke``: what the packagers put in each
function's settings, applied to the local process so a handler reads the same variables locally as in the cloud.

Secrets stay references in the file; locally their values come from the developer's own environment, and a
missing one is named at start-up (never its value)."""

from __future__ import annotations

import os
from collections.abc import Iterable, MutableMapping
from pathlib import Path

from ..app import App, FunctionSpec


def apply_app_env(project: Path, stage: str | None, environ: MutableMapping[str, str] | None = None) -> set[str]:
    """Set the file's app-wide ``env`` (its top level and the stage's) before the app is imported, as the deployed
    functions have it when theirs is: what the app computes from its environment at import (a ``JwtAuth`` issuer,
    CORS origins) then matches the deployment ``portafunc package`` builds. A variable already set in the
    environment wins, as in :func:`apply_local_settings`. Returns the variables set, which that function then
    counts as its own."""
    from ..config import load_config

    env = os.environ if environ is None else environ
    config = load_config(project, stage)
    early = {key for key in config.raw.get("env", {}) if key not in env}
    for key in early:
        env[key] = config.raw["env"][key]
    return early


def apply_local_settings(app: App, project: Path, stage: str | None,
                         environ: MutableMapping[str, str] | None = None, *,
                         functions: Iterable[FunctionSpec] | None = None, name_kept: bool = False,
                         early: Iterable[str] = ()) -> list[str]:
    """Set the file's ``env`` (app, function and stage layers) in ``environ``; return the lines to show.

    One process serves every function, so a variable the functions set to different values is left out and named.
    A variable already set in the environment wins: the developer's shell overrides the file, as with Compose.

    ``functions``: the functions this process runs (default: every function of ``app``); ``portafunc invoke`` runs
    one, which gets its own env as in the cloud. ``name_kept``: also name the variables the file sets that the
    environment already set (kept; their values are never shown). ``early``: what :func:`apply_app_env` set before
    the import, applied from the file, not the developer's."""
    from ..config import load_config

    env = os.environ if environ is None else environ
    config = load_config(project, stage)
    values: dict[str, set[str]] = {}
    secrets: dict[str, str] = {}
    for spec in (app if functions is None else functions):
        settings = config.function(spec.name)
        for key, value in settings.env.items():
            values.setdefault(key, set()).add(value)
        for key, ref in settings.secrets.items():
            secrets.setdefault(key, f"reference {ref.name!r}" if ref.name else "a reference per target")
    lines = []
    applied = []
    kept = []
    early = set(early)
    for key in sorted(values):
        if key in env and key not in early:  # the developer's own value wins, whatever the file says
            kept.append(key)
            continue
        if len(values[key]) > 1:
            lines.append(f"env {key}: functions set different values; "
                         + ("the app-wide value is applied locally" if key in early else
                            "not applied locally (set it yourself)"))
        else:
            env[key] = next(iter(values[key]))
            applied.append(key)
    if applied:
        lines.append(f"env from {config.source.name if config.source else 'configuration'}"
                     f"{f' (stage {stage})' if stage else ''}: {', '.join(applied)}")
    if kept and name_kept:
        lines.append(f"env kept from your environment (the file's value not applied): {', '.join(kept)}")
    for key in sorted(secrets):
        if key not in env:
            lines.append(f"secret {key} ({secrets[key]} in the cloud) is not set here: export it to give the "
                         "handlers a local value")
    return lines
