"""The committed deployment configuration: ``portafunc.toml`` or ``[tool.portafunc]`` in the app's ``pyproject.toml``.

App-level settings apply to every function; ``[functions.NAME]`` overrides them for one function. A stage
(``[stages.NAME]``, selected by ``--stage NAME``) has both levels again: its app-level keys override the file's
app-level keys and ``[stages.NAME.functions.F]`` overrides ``[functions.F]``, so a function's own key beats a stage's
app-level one (see :meth:`Config.function`). Unknown keys and bad values are refused with the
key's path, so a typo never deploys a default silently. Secrets are *references* (a secret's name in the cloud's
secret store), never values: each packager injects them with the cloud's native mechanism.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import PortafuncError, RegistrationError

if TYPE_CHECKING:
    from .resources import Deployment

FILE = "portafunc.toml"
FUNCTION_KEYS = ("memory", "timeout", "env", "secrets", "concurrency", "permissions", "tags")
APP_KEYS = FUNCTION_KEYS + ("python", "exclude", "idempotency_ttl", "targets", "existing", "functions", "stages")
DEFAULT_MEMORY = 512
DEFAULT_TIMEOUT = 30
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_CORE_RESERVED_ENV = (r"^PORTAFUNC_", r"^PORT$")


def _target_api() -> Any:
    """``portafunc.targets``, imported by name: the configuration file is read when building and running locally,
    never in a deployed function, whose artifact carries only the run-time modules (not this build-time one)."""
    import importlib

    return importlib.import_module("portafunc.targets")


def _targets() -> tuple[str, ...]:
    """The installed targets: the names a per-target table may use."""
    return tuple(sorted(_target_api().available()))


def _reserved_patterns() -> list[str]:
    api = _target_api()
    patterns = [*_CORE_RESERVED_ENV]
    for target in sorted(api.available()):
        patterns += api.get_target(target).reserved_env()
    return patterns


def _reserved_env(name: str) -> bool:
    """A variable the core or an installed target's platform owns (``Target.reserved_env()``)."""
    return any(re.match(p, name) for p in _reserved_patterns())


def _reserved_env_text() -> str:
    return ", ".join(p.strip("^") for p in _reserved_patterns())


class ConfigError(PortafuncError):
    """The configuration file is invalid; the message names the key and the file."""


class SecretRef:
    """An environment variable filled from a secret store: ``name`` is the secret's name there (neutral), and
    ``per_target`` overrides it for one target (``{"TARGET": "its own reference"}``)."""

    __slots__ = ("variable", "name", "per_target")

    def __init__(self, variable: str, name: str | None, per_target: dict[str, str] | None = None) -> None:
        self.variable = variable
        self.name = name
        self.per_target = per_target or {}

    def ref(self, target: str) -> str | None:
        """The reference for ``target`` (its override, else the neutral name), or None when it has none."""
        return self.per_target.get(target) or self.name

    def to_dict(self) -> dict[str, Any]:
        return {"variable": self.variable, "name": self.name, "per_target": dict(self.per_target)}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SecretRef) and self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        return f"SecretRef({self.variable}={self.name!r}{', ' + repr(self.per_target) if self.per_target else ''})"


class FunctionSettings:
    """The effective settings of one function: for each key, the first of ``[stages.S.functions.F]``,
    ``[functions.F]``, ``[stages.S]``, the file's top level and the default. A function's own key therefore beats a
    stage's app-level key; ``env``, ``secrets`` and ``tags`` merge by name in the same order."""

    __slots__ = ("memory", "timeout", "env", "secrets", "concurrency", "permissions", "tags", "explicit_timeout")

    def __init__(self, memory: int = DEFAULT_MEMORY, timeout: int = DEFAULT_TIMEOUT,
                 env: dict[str, str] | None = None, secrets: dict[str, SecretRef] | None = None,
                 concurrency: int | None = None, permissions: dict[str, list[Any]] | None = None,
                 tags: dict[str, str] | None = None, explicit_timeout: bool = False) -> None:
        self.memory = memory
        self.timeout = timeout
        self.env = env or {}
        self.secrets = secrets or {}
        self.concurrency = concurrency
        self.permissions = permissions or {}
        self.tags = tags or {}
        self.explicit_timeout = explicit_timeout  # False: a packager may lower it to fit the trigger

    def to_dict(self) -> dict[str, Any]:
        return {"memory": self.memory, "timeout": self.timeout, "env": dict(self.env),
                "secrets": {k: v.to_dict() for k, v in self.secrets.items()}, "concurrency": self.concurrency,
                "permissions": {k: list(v) for k, v in self.permissions.items()}, "tags": dict(self.tags)}


class Config:
    """The parsed file for one stage. ``raw`` keeps the merged table; ``source`` the file it came from."""

    def __init__(self, raw: dict[str, Any] | None = None, stage: str | None = None,
                 source: Path | None = None) -> None:
        self.raw = raw or {}
        self.stage = stage
        self.source = source
        self.python: str | None = self.raw.get("python")
        self.exclude: list[str] = list(self.raw.get("exclude", []))
        self.idempotency_ttl: int = int(self.raw.get("idempotency_ttl", 86400))
        self.targets: dict[str, dict[str, Any]] = dict(self.raw.get("targets", {}))
        # (kind, name) -> {target: binding URL}: resources that already exist, bound and granted but not created
        self.existing: dict[tuple[str, str], dict[str, str]] = {
            (kind, name): dict(urls) for kind, names in self.raw.get("existing", {}).items()
            for name, urls in names.items()}
        self._functions: dict[str, dict[str, Any]] = dict(self.raw.get("functions", {}))

    def function(self, name: str) -> FunctionSettings:
        """The settings of function ``name``. ``raw`` already holds the stage merged over the file (its app-level keys
        over the file's, ``[stages.S.functions.F]`` over ``[functions.F]``); the function's own table then wins over
        the app-level keys, the stage's included. ``permissions`` is merged by target here, but a stage's table
        replaces its level's whole table (:func:`_merge`)."""
        merged: dict[str, Any] = {}
        for layer in (self.raw, self._functions.get(name, {})):
            for key in FUNCTION_KEYS:
                if key not in layer:
                    continue
                if key in ("env", "secrets", "tags", "permissions"):
                    merged[key] = {**merged.get(key, {}), **layer[key]}
                else:
                    merged[key] = layer[key]
        tags = dict(merged.get("tags", {}))
        if self.stage:
            tags.setdefault("portafunc:stage", self.stage)
        env = dict(merged.get("env", {}))
        if self.stage:
            env.setdefault("PORTAFUNC_STAGE", self.stage)
        return FunctionSettings(
            memory=int(merged.get("memory", DEFAULT_MEMORY)), timeout=int(merged.get("timeout", DEFAULT_TIMEOUT)),
            env=env, secrets={k: _secret(k, v) for k, v in merged.get("secrets", {}).items()},
            concurrency=merged.get("concurrency"), permissions=dict(merged.get("permissions", {})), tags=tags,
            explicit_timeout="timeout" in merged)

    def function_names(self) -> list[str]:
        return list(self._functions)

    def app_env(self) -> dict[str, str]:
        """The ``env`` every deployed function gets from the app-wide layers: the file's top level, then the stage's
        (``[stages.NAME] env``), with ``PORTAFUNC_STAGE``. A function's own ``[functions.NAME]`` layers come on top."""
        env = dict(self.raw.get("env", {}))
        if self.stage:
            env.setdefault("PORTAFUNC_STAGE", self.stage)
        return env

    def app_secrets(self) -> dict[str, SecretRef]:
        """The ``secrets`` every deployed function gets from the app-wide layers (the file's and the stage's)."""
        return {key: _secret(key, value) for key, value in self.raw.get("secrets", {}).items()}

    def to_dict(self) -> dict[str, Any]:
        return {"stage": self.stage, "source": str(self.source) if self.source else None, "python": self.python,
                "exclude": list(self.exclude), "idempotency_ttl": self.idempotency_ttl,
                "targets": {k: dict(v) for k, v in self.targets.items()},
                "existing": {f"{k}:{n}": dict(v) for (k, n), v in self.existing.items()}}


class DeployedEnv:
    """What :func:`deployed_env` set: the variables (``applied``), and those of them the environment had set to
    another value (``replaced``; their values are never shown)."""

    __slots__ = ("applied", "replaced", "source")

    def __init__(self, applied: list[str], replaced: list[str], source: Path | None) -> None:
        self.applied = applied
        self.replaced = replaced
        self.source = source

    def note(self) -> str | None:
        """One line naming the replaced variables, or None."""
        if not self.replaced:
            return None
        where = self.source.name if self.source else "the configuration file"
        return (f"the app is imported with {', '.join(self.replaced)} from {where}, the value the deployed functions "
                "get, not your environment's")


@contextmanager
def deployed_env(config: Config, environ: MutableMapping[str, str] | None = None) -> Iterator[DeployedEnv]:
    """Set the app-wide ``env`` the deployed functions get (:meth:`Config.app_env`: the file's and the stage's, with
    ``PORTAFUNC_STAGE``) in ``environ`` (``os.environ``) while the block runs, then put back what was there.

    ``portafunc package``, ``inspect`` and ``openapi`` import the app inside it, so what the app computes from its
    environment at import (a ``JwtAuth`` issuer, CORS origins) is what the deployed functions compute, and what the
    manifests are built from. The file's value wins over one already set in the environment, which the deployed
    functions never see (``portafunc run`` keeps yours: it runs here). Variables the file does not set, secrets
    included, are left as they are."""
    env = os.environ if environ is None else environ
    wanted = config.app_env()
    before = {key: env.get(key) for key in wanted}
    replaced = sorted(key for key, value in wanted.items() if before[key] is not None and before[key] != value)
    try:
        env.update(wanted)
        yield DeployedEnv(sorted(wanted), replaced, config.source)
    finally:
        for key, value in before.items():
            if value is None:
                env.pop(key, None)
            else:
                env[key] = value


def _secret(variable: str, value: Any) -> SecretRef:
    if isinstance(value, str):
        return SecretRef(variable, value)
    return SecretRef(variable, value.get("name"), {k: v for k, v in value.items() if k != "name"})


# -- loading -----------------------------------------------------------------------------------------------------

def find(project_dir: Path) -> tuple[Path | None, dict[str, Any]]:
    """(file, table): ``portafunc.toml`` if present, else ``[tool.portafunc]`` of ``pyproject.toml``, else none."""
    own = project_dir / FILE
    if own.is_file():
        return own, _read_toml(own)
    pyproject = project_dir / "pyproject.toml"
    if pyproject.is_file():
        table = _read_toml(pyproject).get("tool", {}).get("portafunc")
        if table is not None:
            return pyproject, table
    return None, {}


def load_config(project_dir: Path | str, stage: str | None = None) -> Config:
    """The validated configuration of the project for ``stage`` (None: the base settings)."""
    source, table = find(Path(project_dir))
    where = str(source) if source else "the configuration"
    _validate(table, where, top=True)
    stages = table.get("stages", {})
    merged = {k: v for k, v in table.items() if k != "stages"}
    if stage is not None:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9-]{0,30}", stage):
            raise ConfigError(f"--stage {stage!r}: a stage is letters, digits and '-' (at most 31 characters)")
        if stage not in stages:
            known = ", ".join(sorted(stages)) or "none"
            raise ConfigError(f"stage {stage!r} is not defined in {where} (stages: {known}); add "
                              f"[stages.{stage}] (or [tool.portafunc.stages.{stage}])")
        merged = _merge(merged, stages[stage])
    return Config(merged, stage, source)


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict) and key != "permissions":
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _read_toml(path: Path) -> dict[str, Any]:
    if sys.version_info >= (3, 11):
        import tomllib as toml
    else:
        try:
            import tomli as toml
        except ModuleNotFoundError:
            raise ConfigError(f"reading {path.name} on Python 3.10 needs tomli: pip install tomli") from None
    try:
        return toml.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: {exc}") from exc


def _validate(table: dict[str, Any], where: str, *, top: bool = False, path: str = "") -> None:
    keys = APP_KEYS if top else FUNCTION_KEYS
    for key, value in table.items():
        here = f"{path}{key}"
        if key not in keys:
            raise ConfigError(f"{where}: unknown key {here!r}; known keys: {', '.join(keys)}")
        if key in ("memory", "concurrency", "idempotency_ttl") and not (isinstance(value, int) and value > 0):
            raise ConfigError(f"{where}: {here} must be a positive integer, got {value!r}")
        if key == "memory" and not 128 <= value <= 32768:
            raise ConfigError(f"{where}: {here} is in MB and must be 128-32768, got {value}")
        if key == "timeout" and not (isinstance(value, int) and 1 <= value <= 3600):
            raise ConfigError(f"{where}: {here} is in seconds and must be 1-3600, got {value!r}")
        if key in ("env", "tags"):
            _string_map(value, where, here, env=key == "env")
        if key == "secrets":
            _secrets(value, where, here)
        if key == "permissions":
            if not isinstance(value, dict) or any(t not in _targets() or not isinstance(v, list)
                                                  for t, v in value.items()):
                raise ConfigError(f"{where}: {here} maps an installed target ({', '.join(_targets())}) to a list of "
                                  "native permission entries")
        if key == "python" and value not in SUPPORTED_PYTHONS:
            raise ConfigError(f"{where}: {here} = {value!r}; supported: {', '.join(SUPPORTED_PYTHONS)}")
        if key == "exclude" and not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
            raise ConfigError(f"{where}: {here} is a list of glob patterns")
        if key == "targets":
            if not isinstance(value, dict) or any(t not in _targets() or not isinstance(v, dict)
                                                  for t, v in value.items()):
                raise ConfigError(f"{where}: {here} maps an installed target ({', '.join(_targets())}) to a table of "
                                  "its options")
        if key == "existing":
            _existing(value, where, here)
        if key == "functions":
            if not isinstance(value, dict):
                raise ConfigError(f"{where}: {here} is a table of [functions.NAME] tables")
            for fname, ftable in value.items():
                if not isinstance(ftable, dict):
                    raise ConfigError(f"{where}: {here}.{fname} must be a table")
                _validate(ftable, where, path=f"{here}.{fname}.")
        if key == "stages":
            if not isinstance(value, dict):
                raise ConfigError(f"{where}: {here} is a table of [stages.NAME] tables")
            for sname, stable in value.items():
                if not isinstance(stable, dict) or "stages" in stable:
                    raise ConfigError(f"{where}: {here}.{sname} must be a table (stages do not nest)")
                _validate(stable, where, top=True, path=f"{here}.{sname}.")


def _string_map(value: Any, where: str, here: str, *, env: bool) -> None:
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise ConfigError(f"{where}: {here} must map names to strings")
    if env:
        for name in value:
            if not _ENV_NAME.match(name) or _reserved_env(name):
                raise ConfigError(f"{where}: {here}.{name} is not a usable variable name (letters, digits, '_'; "
                                  f"reserved: {_reserved_env_text()})")


def _existing(value: Any, where: str, here: str) -> None:
    from .resources import KINDS

    if not isinstance(value, dict):
        raise ConfigError(f"{where}: {here} is a table of [existing.KIND.NAME] tables")
    for kind, names in value.items():
        if kind not in KINDS or not isinstance(names, dict):
            raise ConfigError(f"{where}: {here}.{kind}: the kind is one of {', '.join(sorted(KINDS))}, holding "
                              "[existing.KIND.NAME] tables")
        for name, urls in names.items():
            if not isinstance(urls, dict) or not urls or any(
                    t not in _targets() or not isinstance(u, str) or "://" not in u for t, u in urls.items()):
                raise ConfigError(f"{where}: {here}.{kind}.{name} maps an installed target ({', '.join(_targets())}) "
                                  "to the existing resource's binding URL, e.g. TARGET = \"scheme://…\"")


def _secrets(value: Any, where: str, here: str) -> None:
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: {here} maps a variable name to a secret reference")
    for name, ref in value.items():
        if not _ENV_NAME.match(name) or _reserved_env(name):
            raise ConfigError(f"{where}: {here}.{name} is not a usable variable name")
        ok = isinstance(ref, str) and ref or isinstance(ref, dict) and ref and all(
            k in (*_targets(), "name") and isinstance(v, str) and v for k, v in ref.items())
        if not ok:
            raise ConfigError(f"{where}: {here}.{name} must be a secret name, or a table with name= and/or per "
                              f"target references ({', '.join(t + '=' for t in _targets())}); never the secret's "
                              "value")


# -- Python versions ---------------------------------------------------------------------------------------------

SUPPORTED_PYTHONS = ("3.10", "3.11", "3.12", "3.13", "3.14")
# When a target's runtime for each version ends support is the target's answer: Target.python_support().


# -- consistency checks ------------------------------------------------------------------------------------------

def check_timeouts(deployment: Deployment) -> None:
    """A queue must hide a message longer than its consumer may run, or a second copy is delivered while the first
    still runs (some platforms refuse such a consumer outright). Refused with both numbers; an unset timeout is lowered
    to fit.
    """
    for fn in deployment.functions.values():
        if fn.kind != "queue":
            continue
        for g in fn.grants:
            if g.reason != "trigger":
                continue
            res = deployment.resource("queue", g.name)
            vt = int(res.options.get("visibility_timeout", 30)) if res else 30
            if fn.settings.timeout > vt:
                if not fn.settings.explicit_timeout:
                    fn.settings.timeout = vt
                    continue
                raise RegistrationError(
                    f"function {fn.name!r}: timeout {fn.settings.timeout} s exceeds the visibility_timeout {vt} s of "
                    f"queue {g.name!r}; a message would be delivered again while the first run is still going. "
                    f"Raise @app.queue(..., visibility_timeout=) to at least {fn.settings.timeout} (several times "
                    "the function timeout leaves room for retries) or lower the timeout")
    for kind, name in deployment.config.existing:
        if deployment.resource(kind, name) is None:
            where = deployment.config.source or "the configuration"
            raise ConfigError(f"{where}: [existing.{kind}.{name}] names no {kind} the app declares; declare it on "
                              "the functions that reach it (uses=) or drop the entry")
    for name in deployment.config.function_names():
        if name not in deployment.functions:
            where = deployment.config.source or "the configuration"
            raise ConfigError(f"{where}: [functions.{name}] names no function of app {deployment.app!r} "
                              f"(functions: {', '.join(sorted(deployment.functions)) or 'none'})")
