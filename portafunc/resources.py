"""The resource model: every topic, queue, dead-letter queue, idempotency store, bucket and key-value table an app
reaches, and which function may do what with each.

A function declares what it reaches on its decorator, ``uses=[publishes("order-events"), sends("work")]``; its
trigger, ``dead_letter=`` and ``idempotency_key=`` imply the rest. :func:`describe` (``app.resources()``) turns the
registry into one plain, cloud-neutral :class:`Deployment` that the local runner, the contract kit,
``portafunc inspect`` and every packager read, so what runs locally is what is deployed. At run time
:func:`check_access` refuses a logical name the running function did not declare, with the declaration to add — the
same in ``portafunc run``, in the contract kit and in the cloud.

This module is imported by the first ``uses=`` declaration (at import of the app, on the cold start of every app
that declares one) and by the first binding's access check, never by ``import portafunc`` alone: plain slotted
classes, no dataclasses, no typing at run time.
"""

from __future__ import annotations

import re

from .context import current_spec
from .errors import BindingError, RegistrationError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Iterable, Protocol, TypeAlias

    from .app import App, FunctionSpec
    from .config import Config, FunctionSettings

    class Declares(Protocol):
        """A handle that declares its own use: ``portafunc.topic()``, ``queue()``, ``bucket()``, ``kv()``."""

        def __portafunc_use__(self) -> Use: ...

    Uses: TypeAlias = "Iterable[Use | Declares] | Use | Declares | None"
    """What ``uses=`` takes."""

# kind -> the accesses a function may be granted. "consume" comes only from a trigger.
KINDS: dict[str, tuple[str, ...]] = {
    "topic": ("publish", "consume"),
    "queue": ("send", "consume"),
    "bucket": ("read", "write", "consume"),
    "kv": ("read", "write"),
    "idempotency": ("read", "write"),
}
IDEMPOTENCY_STORE = "idempotency"
"""The name of the app's one idempotency store resource (its binding is ``PORTAFUNC_IDEMPOTENCY_STORE``)."""

_HELPER = {("topic", "publish"): "publishes({name!r})", ("queue", "send"): "sends({name!r})",
           ("bucket", "read"): "reads(bucket={name!r})", ("bucket", "write"): "writes(bucket={name!r})",
           ("kv", "read"): "reads(kv={name!r})", ("kv", "write"): "writes(kv={name!r})"}


def register_kind(kind: str, accesses: tuple[str, ...]) -> None:
    """Add a resource kind (with the accesses a function can be granted) to the model."""
    KINDS[kind] = tuple(dict.fromkeys(KINDS.get(kind, ()) + tuple(accesses)))


def env_name(kind: str, name: str) -> str:
    """The binding variable of a logical resource: ``PORTAFUNC_<KIND>_<NAME>`` (non-alphanumerics as ``_``);
    the idempotency store's is ``PORTAFUNC_IDEMPOTENCY_STORE``."""
    if kind == "idempotency":
        return "PORTAFUNC_IDEMPOTENCY_STORE"
    return f"PORTAFUNC_{kind.upper()}_{re.sub(r'[^A-Za-z0-9]', '_', name).upper()}"


def check_name(kind: str, name: str) -> None:
    if not isinstance(name, str) or not name or not all(c.isalnum() or c in "-_." for c in name):
        raise RegistrationError(f"{kind} name {name!r} must be letters, digits, '-', '_' or '.'")


# -- what users write ------------------------------------------------------------------------------------------

class Use:
    """One declared access: function → (kind, name) with ``access`` (``publish``, ``send``, ``read``, ``write``)."""

    __slots__ = ("kind", "name", "access")

    def __init__(self, kind: str, name: str, *access: str) -> None:
        if kind not in KINDS:
            raise RegistrationError(f"unknown resource kind {kind!r}; use {', '.join(sorted(KINDS))}")
        check_name(kind, name)
        allowed = tuple(a for a in KINDS[kind] if a != "consume")
        bad = [a for a in access if a not in allowed]
        if not access or bad:
            raise RegistrationError(f"{kind} {name!r}: access {list(bad or access)} is not one of {list(allowed)} "
                                    "(consume access comes from the function's trigger)")
        self.kind = kind
        self.name = name
        self.access = tuple(dict.fromkeys(access))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Use) and (self.kind, self.name, self.access) == (other.kind, other.name,
                                                                                  other.access)

    def __hash__(self) -> int:
        return hash((self.kind, self.name, self.access))

    def __repr__(self) -> str:
        return f"Use({self.kind!r}, {self.name!r}, {', '.join(map(repr, self.access))})"


def publishes(topic: str) -> Use:
    """``uses=[publishes("order-events")]``: the function publishes to this topic."""
    return Use("topic", topic, "publish")


def sends(queue: str) -> Use:
    """``uses=[sends("work")]``: the function sends to this queue."""
    return Use("queue", queue, "send")


def reads(*, bucket: str | None = None, kv: str | None = None) -> Use:
    """``uses=[reads(bucket="uploads")]`` or ``reads(kv="carts")``: the function reads objects or entries."""
    kind, name = _one_of(bucket, kv, "reads")
    return Use(kind, name, "read")


def writes(*, bucket: str | None = None, kv: str | None = None) -> Use:
    """``uses=[writes(bucket="uploads")]`` or ``writes(kv="carts")``: the function writes (and reads) them."""
    kind, name = _one_of(bucket, kv, "writes")
    return Use(kind, name, "read", "write")


def _one_of(bucket: str | None, kv: str | None, helper: str) -> tuple[str, str]:
    if (bucket is None) == (kv is None):
        raise RegistrationError(f"{helper}() takes exactly one of bucket=... or kv=...")
    return ("bucket", bucket) if bucket is not None else ("kv", kv)  # type: ignore[return-value]


def normalise_uses(uses: Uses, function: str) -> tuple[Use, ...]:
    """Check ``uses=`` at decoration time: a list of :class:`Use` (from publishes/sends/reads/writes), or of
    handles, each declaring what its kind is used for (a topic's publishing, a queue's sending, a bucket's or a
    table's reading and writing)."""
    if uses is None:
        return ()
    given: list[Any] = [uses] if isinstance(uses, Use) or hasattr(uses, "__portafunc_use__") else list(uses)
    items: list[Use] = []
    for item in given:
        declare = getattr(item, "__portafunc_use__", None)  # a handle: portafunc.queue("q"), bucket("b"), ...
        if declare is not None and not isinstance(item, type):
            item = declare()
        if not isinstance(item, Use):
            raise RegistrationError(f"function {function!r}: uses= takes publishes('topic'), sends('queue'), "
                                    f"reads(bucket=...|kv=...) or writes(...), or a handle from portafunc.topic(), "
                                    f"queue(), bucket() or kv(), not {item!r}")
        items.append(item)
    return tuple(dict.fromkeys(items))


# -- the model every consumer reads --------------------------------------------------------------------------

class Resource:
    """One logical resource. ``origin`` says why it exists: ``trigger``, ``uses``, ``dead_letter`` or
    ``idempotency``. ``options`` carries what a packager needs to create it:

    * queue: ``fifo``, ``visibility_timeout``, ``max_attempts``, ``dead_letter`` (a queue name, or None: the
      packager then creates its own redrive queue), ``consumer`` (function or None);
    * topic: ``subscribers`` (functions);
    * bucket: ``notifications`` (functions); idempotency: ``ttl_seconds``; kv: nothing yet;
    * any kind: ``existing`` — ``{target: binding URL}`` when the configuration names it as already existing on that
      target: bound to that URL and granted, never created.
    """

    __slots__ = ("kind", "name", "origin", "options")

    def __init__(self, kind: str, name: str, origin: str, options: dict[str, Any] | None = None) -> None:
        self.kind = kind
        self.name = name
        self.origin = origin
        self.options = options or {}

    @property
    def key(self) -> tuple[str, str]:
        return (self.kind, self.name)

    @property
    def binding(self) -> str:
        """The environment variable that binds it at run time."""
        return env_name(self.kind, self.name)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "name": self.name, "origin": self.origin, "binding": self.binding,
                "options": dict(self.options)}

    def __repr__(self) -> str:
        return f"Resource({self.kind} {self.name!r}, {self.origin})"


class Grant:
    """What one function may do with one resource, and why (``trigger``, ``uses``, ``dead_letter``,
    ``idempotency``)."""

    __slots__ = ("kind", "name", "access", "reason")

    def __init__(self, kind: str, name: str, access: tuple[str, ...], reason: str) -> None:
        self.kind = kind
        self.name = name
        self.access = access
        self.reason = reason

    @property
    def binding(self) -> str:
        return env_name(self.kind, self.name)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "name": self.name, "access": list(self.access), "reason": self.reason,
                "binding": self.binding}

    def __repr__(self) -> str:
        return f"Grant({self.kind} {self.name!r} {'/'.join(self.access)}, {self.reason})"


class FunctionModel:
    """One function as every packager sees it: its trigger, grants, dead letter and settings."""

    __slots__ = ("name", "kind", "trigger", "grants", "dead_letter", "idempotent", "settings")

    def __init__(self, name: str, kind: str, trigger: str, grants: list[Grant], dead_letter: str | None,
                 idempotent: bool, settings: FunctionSettings) -> None:
        self.name = name
        self.kind = kind
        self.trigger = trigger
        self.grants = grants
        self.dead_letter = dead_letter
        self.idempotent = idempotent
        self.settings = settings

    def bindings(self) -> dict[str, tuple[str, str]]:
        """{environment variable: (kind, name)} that this function needs set at run time."""
        return {g.binding: (g.kind, g.name) for g in self.grants}

    def grant(self, kind: str, name: str) -> Grant | None:
        for g in self.grants:
            if g.kind == kind and g.name == name:
                return g
        return None

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "trigger": self.trigger,
                "grants": [g.to_dict() for g in self.grants], "dead_letter": self.dead_letter,
                "idempotent": self.idempotent, "settings": self.settings.to_dict()}


class Deployment:
    """``app.resources()``: the whole app, cloud-neutral. ``resources`` is keyed by (kind, name), in a stable order;
    ``functions`` by function name; ``stage`` and ``config`` come from the committed configuration file."""

    __slots__ = ("app", "stage", "resources", "functions", "config")

    def __init__(self, app: str, stage: str | None, resources: dict[tuple[str, str], Resource],
                 functions: dict[str, FunctionModel], config: Config) -> None:
        self.app = app
        self.stage = stage
        self.resources = resources
        self.functions = functions
        self.config = config

    def of_kind(self, kind: str) -> list[Resource]:
        return [r for r in self.resources.values() if r.kind == kind]

    def resource(self, kind: str, name: str) -> Resource | None:
        return self.resources.get((kind, name))

    def existing(self, kind: str, name: str) -> dict[str, str]:
        """``{target: binding URL}`` of a resource the configuration names as existing (``[existing.KIND.NAME]``):
        each target binds it there and creates nothing; empty for one the packagers create."""
        res = self.resources.get((kind, name))
        return res.options.get("existing", {}) if res is not None else {}

    def users(self, kind: str, name: str) -> list[tuple[str, Grant]]:
        """(function, grant) for every function granted access to (kind, name)."""
        out = []
        for fn in self.functions.values():
            g = fn.grant(kind, name)
            if g is not None:
                out.append((fn.name, g))
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"app": self.app, "stage": self.stage,
                "resources": [r.to_dict() for r in self.resources.values()],
                "functions": {n: f.to_dict() for n, f in self.functions.items()},
                "settings": self.config.to_dict()}


def describe(app: App, config: Config | None = None) -> Deployment:
    """The :class:`Deployment` of ``app`` (with ``config``'s settings; the defaults without one).

    Raises RegistrationError when two names of one kind bind to the same variable (``order-events`` and
    ``order.events``), or when a function's settings are inconsistent with its trigger (see :mod:`.config`).
    """
    from .app import QueueTrigger, StorageTrigger, TopicTrigger
    from .config import Config as _Config

    cfg = config if config is not None else _Config()
    resources: dict[tuple[str, str], Resource] = {}
    functions: dict[str, FunctionModel] = {}

    def add(kind: str, name: str, origin: str, **options: Any) -> Resource:
        res = resources.get((kind, name))
        if res is None:
            res = resources[(kind, name)] = Resource(kind, name, origin, {})
        elif origin == "trigger" and res.origin != "trigger":
            res.origin = origin
        for key, value in options.items():
            if isinstance(value, list):
                res.options.setdefault(key, []).extend(value)
            else:
                res.options[key] = value
        return res

    for spec in app:
        trig = spec.trigger
        grants: dict[tuple[str, str], Grant] = {}

        def grant(kind: str, name: str, access: tuple[str, ...], reason: str,
                  grants: dict[tuple[str, str], Grant] = grants) -> None:
            g = grants.get((kind, name))
            if g is None:
                grants[(kind, name)] = Grant(kind, name, access, reason)
            else:
                g.access = tuple(dict.fromkeys(g.access + access))

        dead_letter = getattr(trig, "dead_letter", None)
        if dead_letter is not None and "://" in dead_letter:
            dead_letter = None  # an explicit URL: an existing destination the operator owns
        if isinstance(trig, QueueTrigger):
            add("queue", trig.queue, "trigger", fifo=trig.ordered, visibility_timeout=trig.visibility_timeout,
                max_attempts=trig.max_attempts, dead_letter=dead_letter, consumer=spec.name)
            grant("queue", trig.queue, ("consume",), "trigger")
        elif isinstance(trig, TopicTrigger):
            add("topic", trig.topic, "trigger", subscribers=[spec.name])
            grant("topic", trig.topic, ("consume",), "trigger")
        elif isinstance(trig, StorageTrigger):
            add("bucket", trig.bucket, "trigger", notifications=[spec.name])
            grant("bucket", trig.bucket, ("consume",), "trigger")
        if dead_letter is not None:
            fifo = isinstance(trig, QueueTrigger) and trig.ordered
            res = add("queue", dead_letter, "dead_letter")
            if fifo:
                res.options["fifo"] = True
            grant("queue", dead_letter, ("send",), "dead_letter")
        if spec.idempotency_key is not None:
            add("idempotency", IDEMPOTENCY_STORE, "idempotency", ttl_seconds=cfg.idempotency_ttl)
            grant("idempotency", IDEMPOTENCY_STORE, ("read", "write"), "idempotency")
        for use in spec.uses:
            add(use.kind, use.name, "uses")
            grant(use.kind, use.name, use.access, "uses")
        settings = cfg.function(spec.name)
        functions[spec.name] = FunctionModel(
            spec.name, trig.kind, trig.describe(), list(grants.values()), dead_letter,
            spec.idempotency_key is not None, settings)
    for key, urls in cfg.existing.items():
        found = resources.get(key)
        if found is not None:
            found.options["existing"] = dict(urls)
    ordered = dict(sorted(resources.items()))
    _check_bindings_distinct(ordered)
    deployment = Deployment(app.name, cfg.stage, ordered, functions, cfg)
    from .config import check_timeouts

    check_timeouts(deployment)
    return deployment


def _check_bindings_distinct(resources: dict[tuple[str, str], Resource]) -> None:
    seen: dict[str, Resource] = {}
    for res in resources.values():
        other = seen.get(res.binding)
        if other is not None and other.name != res.name:
            raise RegistrationError(
                f"{res.kind}s {other.name!r} and {res.name!r} would share one binding ({res.binding}) and one "
                "cloud resource after name mangling; rename one of them")
        seen[res.binding] = res


def name_conflicts(deployment: Deployment, target: str,
                   rules: dict[str, Callable[[str], str]]) -> list[str]:
    """Collisions after a target's name mangling: ``rules`` maps ``function`` or a resource kind to the target's
    name function (e.g. AWS logical ids); each returned line names both sides. Packagers refuse the build on any."""
    problems: list[str] = []
    groups: list[tuple[str, list[str]]] = [("function", list(deployment.functions))]
    for kind in sorted({r.kind for r in deployment.resources.values()}):
        groups.append((kind, [r.name for r in deployment.of_kind(kind)]))
    for what, names in groups:
        mangle = rules.get(what)
        if mangle is None:
            continue
        seen: dict[str, str] = {}
        for name in names:
            native = mangle(name)
            if native in seen and seen[native] != name:
                problems.append(f"{target}: {what}s {seen[native]!r} and {name!r} both become {native!r}; "
                                "rename one of them")
            seen.setdefault(native, name)
    return problems


# -- run time ------------------------------------------------------------------------------------------------

def allowed(spec: FunctionSpec) -> frozenset[tuple[str, str]]:
    """(kind, name) pairs ``spec`` may reach, from its trigger, dead letter, idempotency and ``uses=`` (cached)."""
    cached = spec._allowed
    if cached is not None:
        return cached
    pairs: set[tuple[str, str]] = {(u.kind, u.name) for u in spec.uses}
    trig = spec.trigger
    for attr, kind in (("queue", "queue"), ("topic", "topic"), ("bucket", "bucket")):
        value = getattr(trig, attr, None)
        if isinstance(value, str):
            pairs.add((kind, value))
    dead_letter = getattr(trig, "dead_letter", None)
    if dead_letter:
        pairs.add(("queue", dead_letter))
    if spec.idempotency_key is not None:
        pairs.add(("idempotency", IDEMPOTENCY_STORE))
    spec._allowed = result = frozenset(pairs)
    return result


def check_access(kind: str, name: str) -> None:
    """Refuse a logical resource the running function did not declare (nothing to check outside a handler).

    Bindings call this before resolving a name, so the same :class:`BindingError` names the missing declaration
    in ``portafunc run``, in the contract kit and in the cloud.
    """
    spec = current_spec()
    if spec is None or (kind, name) in allowed(spec):
        return
    helper = {"topic": f"publishes({name!r})", "queue": f"sends({name!r})",
              "bucket": f"reads(bucket={name!r}) or writes(bucket={name!r})",
              "kv": f"reads(kv={name!r}) or writes(kv={name!r})"}.get(kind, f"Use({kind!r}, {name!r}, ...)")
    declared = ", ".join(f"{k} {n!r}" for k, n in sorted(allowed(spec))) or "nothing"
    raise BindingError(f"function {spec.name!r} reaches {kind} {name!r} but does not declare it: add "
                       f"uses=[{helper}] to its decorator (@app.{spec.trigger.kind}(...)); it declares {declared}")


def declaration_hint(kind: str, name: str, access: str) -> str:
    """The ``uses=`` entry that grants ``access`` on (kind, name)."""
    pattern = _HELPER.get((kind, access))
    return pattern.format(name=name) if pattern else f"Use({kind!r}, {name!r}, {access!r})"


__all__ = ["Deployment", "FunctionModel", "Grant", "IDEMPOTENCY_STORE", "KINDS", "Resource", "Use", "allowed",
           "check_access", "declaration_hint", "describe", "env_name", "name_conflicts", "publishes", "reads",
           "register_kind", "sends", "writes"]
