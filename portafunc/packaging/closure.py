"""What of portafunc a deployed function can import: the run-time closure of an adapter's entry, trimmed to the
features the app uses.

A deployment carries only the modules its entry can reach — every ``import`` in them, the ones inside functions
included, followed through portafunc's and the adapter's own packages — so the command line, the local runner, the
packagers and the test kit (which no entry imports) stay on the developer's machine. A few feature packages are
reachable from the pipeline but used only by apps that declare the feature; they go in only then (see
:data:`FEATURES`). The same rule decides whether pydantic is shipped: only for an app that validates payloads,
parameters or responses with it, or imports it itself.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path
from typing import Any, Callable, Collection, Iterable, Mapping

#: Feature packages of the core and the deployments that need them. A module under a prefix is vendored, and its
#: own imports followed, only when its predicate holds for the app's resource model.
FEATURES: dict[str, Callable[[Any, Any, list[str]], bool]] = {
    "portafunc.data": lambda app, deployment, reqs: bool(deployment.of_kind("bucket") or deployment.of_kind("kv")),
    "portafunc.idempotency": lambda app, deployment, reqs: bool(deployment.of_kind("idempotency")),
    # the bucket, table and idempotency backends bind and retry through messaging's binding and retry modules
    "portafunc.messaging": lambda app, deployment, reqs: any(deployment.of_kind(kind) for kind in (
        "topic", "queue", "bucket", "kv", "idempotency")),
    "portafunc.mount": lambda app, deployment, reqs: _mounts(app),
    "portafunc.streaming": lambda app, deployment, reqs: _mounts(app),
    "portafunc.otel": lambda app, deployment, reqs: any(name.startswith("opentelemetry") for name in reqs),
    "portafunc.docs_ui": lambda app, deployment, reqs: getattr(app, "docs_route", None) is not None,
    "portafunc.openapi": lambda app, deployment, reqs: getattr(app, "docs_route", None) is not None,
}

#: What runs on developers' machines only (the command line, local runner, packagers, test kit): never shipped,
#: even where a run-time module reaches it inside a function only build tools call (``Target`` methods).
BUILD_ONLY = ("portafunc.cli", "portafunc.runner", "portafunc.packaging", "portafunc.testing")

#: Core modules that only some apps reach, and whether this app does. Unlike :data:`FEATURES`, a module the user's own
#: code imports (``from portafunc.cors import Cors``) ships whatever its predicate says: see :func:`project_imports`.
OPTIONAL: dict[str, Callable[[Any], bool]] = {
    "portafunc.cors": lambda app: bool(getattr(app, "_cors_used", True)),  # a CORS policy anywhere in the app
    "portafunc.jwks": lambda app: _uses_jwt(app) or bool(_kinds(app) - {"http"}),  # bearer tokens; pushed deliveries
    # JwtAuth and the check of an auth value that is not a string (a string is checked without it); the served
    # OpenAPI document names a JwtAuth's scheme
    "portafunc.auth": lambda app: _uses_jwt(app) or getattr(app, "docs_route", None) is not None,
    "portafunc.schedule": lambda app: "schedule" in _kinds(app) or getattr(app, "docs_route", None) is not None,
    "portafunc.params": lambda app: not all(_plain_http(app, spec) for spec in app if spec.kind == "http"),
    # the form reader: for typed parameters (a Form or file field), else where the project's code reads a form
    # (``req.form()``, ``FormData``: see :func:`project_imports`)
    "portafunc.forms": lambda app: not all(_plain_http(app, spec) for spec in app if spec.kind == "http"),
    # the resource model (and the configuration file's reader it calls): at run time only to read a function's
    # declared ``uses=`` at registration; ``app.resources()`` is asked by build tools
    "portafunc.resources": lambda app: any(spec.uses for spec in app),
    "portafunc.config": lambda app: any(spec.uses for spec in app),
    # the handles of portafunc.topic() / queue(): for an app with a topic or queue anywhere, or whose code calls them
    "portafunc.handles": lambda app: any(_messaging(spec) for spec in app),
}

#: Public functions of ``portafunc`` whose module is imported when they are called, for :func:`project_imports`.
CALLED = {"topic": "handles", "queue": "handles"}

#: Entry-point groups whose modules a deployment loads by URL scheme, and the resource kinds that bind them.
PLUGIN_GROUPS = {"portafunc.backends": ("topic", "queue"), "portafunc.data": ("bucket", "kv"),
                 "portafunc.idempotency": ("idempotency",)}


def _kinds(app: Any) -> set[str]:
    """The trigger families the app registers functions for (``http``, ``queue``, ``topic``, ...)."""
    return {spec.kind for spec in app}


def _messaging(spec: Any) -> bool:
    """Whether ``spec`` reaches a topic or a queue: its trigger, its dead letter or its ``uses=``."""
    return spec.kind in ("topic", "queue") or getattr(spec.trigger, "dead_letter", None) is not None \
        or any(use.kind in ("topic", "queue") for use in spec.uses)


def _uses_jwt(app: Any) -> bool:
    from ..auth import JwtAuth

    return any(isinstance(getattr(spec.trigger, "auth", None), JwtAuth) for spec in app)


def _plain_http(app: Any, spec: Any) -> bool:
    """Whether registering ``spec`` took the plain path of ``portafunc.app._plan``, which never imports
    ``portafunc.params``: one parameter that is the request, no content types, no response model, a plain return
    annotation. Anything else (or a mounted app, or an annotation not resolvable here) counts as not plain."""
    from ..app import _PLAIN_RESULTS, _type_hints
    from ..events import HttpRequest, HttpResponse

    handler, trigger = spec.handler, spec.trigger
    code = getattr(handler, "__code__", None)
    if code is None or _mounts(app) or getattr(app, "content_types", None) is not None \
            or getattr(trigger, "content_types", None) is not None or getattr(trigger, "response_model", None):
        return False
    args = code.co_varnames[: code.co_argcount + code.co_kwonlyargcount]
    try:
        hints = _type_hints(handler)
    except Exception:  # noqa: BLE001 - a name the app defines later: not provably plain
        return False
    returned = (getattr(handler, "__annotations__", None) or {}).get("return")
    return len(args) == 1 and hints.get(args[0], HttpRequest) is HttpRequest and (
        returned is None or returned in _PLAIN_RESULTS or returned in (dict, str, bytes, HttpResponse))


def _mounts(app: Any) -> bool:
    """Whether the app serves a mounted web app (its handlers are made by ``portafunc.mount``)."""
    return any((getattr(spec.handler, "__module__", None) or "").startswith("portafunc.mount") for spec in app)


class Closure:
    """The modules of portafunc and one adapter a deployed app can import, found by reading their source."""

    def __init__(self, roots: dict[str, Path]) -> None:
        self.roots = roots  # top-level package name -> its directory
        self.modules: set[str] = set()

    def path(self, module: str) -> Path | None:
        top, _, rest = module.partition(".")
        base = self.roots.get(top)
        if base is None:
            return None
        candidate = base.joinpath(*rest.split(".")) if rest else base
        if (candidate / "__init__.py").is_file():
            return candidate / "__init__.py"
        as_file = candidate.with_suffix(".py")
        return as_file if rest and as_file.is_file() else None

    def add(self, modules: Iterable[str], allowed: Callable[[str], bool],
            optional: Callable[[str], bool] = lambda module: True) -> None:
        """Add ``modules`` and what they import. ``allowed`` is final; ``optional`` only decides for an import
        made inside a function (or under ``TYPE_CHECKING``): a module imported when another module loads (at its
        top level, or as its package) is needed whenever that one is, so it goes in whatever ``optional`` says."""
        todo = [(m, False) for m in modules if self.path(m) is not None]
        while todo:
            module, eager = todo.pop()
            if module in self.modules or not allowed(module) or not (eager or optional(module)):
                continue
            self.modules.add(module)
            parent = module.rpartition(".")[0]
            if parent:
                todo.append((parent, True))  # a module's package runs first
            path = self.path(module)
            assert path is not None
            todo.extend((m, top) for m, top in _imports(module, path).items() if self.path(m) is not None)

    def files(self) -> list[Path]:
        """The source files of the closure, plus the data files (assets) of its packages."""
        out: set[Path] = set()
        for module in self.modules:
            path = self.path(module)
            assert path is not None
            out.add(path)
            if path.name == "__init__.py":  # package data; py.typed is for type checkers, not the runtime
                out.update(p for p in path.parent.iterdir()
                           if p.is_file() and p.suffix not in (".py", ".pyc", ".pyo") and p.name != "py.typed")
        return sorted(out)


def _imports(module: str, path: Path) -> dict[str, bool]:
    """Every module ``path`` imports, at any depth of its code, as absolute names (``from x import y`` also
    yields ``x.y``, which may be a module), each with whether it is imported when ``module`` loads: at its top
    level (under ``if``/``try`` too), not in a function, not under ``if TYPE_CHECKING``."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: dict[str, bool] = {}

    def visit(node: ast.AST, top: bool) -> None:
        for child in ast.iter_child_nodes(node):
            names: list[str] = []
            if isinstance(child, ast.Import):
                names = [alias.name for alias in child.names]
            elif isinstance(child, ast.ImportFrom):
                if child.level:
                    parts = package.split(".")
                    parts = parts[:len(parts) - child.level + 1]
                    base = ".".join(parts + ([child.module] if child.module else []))
                else:
                    base = child.module or ""
                names = [base] + [f"{base}.{alias.name}" for alias in child.names]
            for name in names:
                parts = name.split(".")
                for i in range(1, len(parts) + 1):
                    prefix = ".".join(parts[:i])
                    found[prefix] = found.get(prefix, False) or top
            deferred = isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)) or (
                isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test))
            visit(child, top and not deferred)

    visit(ast.parse(path.read_text(encoding="utf-8"), str(path)), True)
    return found


def runtime_modules(app: Any, deployment: Any, adapter_module: str, entries: Iterable[str],
                    plugin_modules: dict[str, list[str]] | None = None,
                    requirement_names: Iterable[str] = (), *,
                    families: Mapping[str, Collection[str]] | None = None,
                    project_dir: Path | None = None) -> Closure:
    """The closure of ``entries`` (the adapter's run-time entry modules) over portafunc and ``adapter_module``,
    with each feature package only when the app uses it and each plugin module (by entry-point group) only when the
    deployment has a resource of a kind that binds it.

    ``families`` maps a module (or package) the adapter's runtime imports only for some trigger families to those
    families (``{"portafunc_aws.codecs.queue": ("queue", "topic", "storage")}``): it ships only when the app has a
    function of one of them. The runtime imports such modules lazily, after it has checked that the event's family
    is one the function serves, so an absent module is never reached. The modules the app's own code under
    ``project_dir`` imports of portafunc always ship (:func:`project_imports`)."""
    import importlib

    roots = {}
    for name in ("portafunc", adapter_module):
        spec_file = importlib.import_module(name).__file__
        roots[name] = Path(spec_file or "").resolve().parent
    names = [name.lower() for name in requirement_names]
    gates = {prefix: rule(app, deployment, names) for prefix, rule in FEATURES.items()}
    gates.update(dict.fromkeys(BUILD_ONLY, False))
    wanted = project_imports(project_dir) if project_dir is not None else set()
    kinds = _kinds(app)
    optional = {prefix: rule(app) or prefix in wanted for prefix, rule in OPTIONAL.items()}
    optional.update({prefix: bool(kinds & set(needs)) or prefix in wanted
                     for prefix, needs in (families or {}).items()})

    def gate(table: dict[str, bool]) -> Callable[[str], bool]:
        def on(module: str) -> bool:
            return all(open_ for prefix, open_ in table.items()
                       if module == prefix or module.startswith(prefix + "."))
        return on

    allowed, wanted_here = gate(gates), gate(optional)

    closure = Closure(roots)
    entries = list(entries)
    if getattr(app, "docs_route", None) is not None:  # the served document describes the target's own auth
        entries.append(f"{adapter_module}.target")
    # what the app's code imports of the gated modules, which its own import statements reach at cold start
    seeds = sorted(m for m in wanted if any(m == p or m.startswith(p + ".") for p in optional))
    closure.add(["portafunc", adapter_module, *entries, *seeds], allowed, wanted_here)
    for group, modules in (plugin_modules or {}).items():
        kinds_bound = PLUGIN_GROUPS.get(group, ())
        if any(deployment.of_kind(kind) for kind in kinds_bound):
            closure.add(modules, lambda module: True)
    return closure


def project_imports(project_dir: Path) -> set[str]:
    """The portafunc modules the Python files under ``project_dir`` name: ``import portafunc.x``, ``from portafunc
    import Cors`` (a lazily loaded public name, or a function of :data:`CALLED`, mapped to its module),
    ``portafunc.Cors`` attribute reads, and ``portafunc.forms`` wherever the code reads an attribute named ``form``
    (``req.form()``)."""
    import portafunc

    lazy: dict[str, str] = {**getattr(portafunc, "_LAZY", {}), **CALLED}
    out: set[str] = set()
    root = Path(project_dir)
    for path in root.rglob("*.py"):
        if any(part.startswith(".") or part in ("tests", "venv", "node_modules", "__pycache__")
               for part in path.relative_to(root).parts[:-1]):
            continue
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        except (SyntaxError, UnicodeDecodeError, ValueError):
            continue
        names: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                names.update(f"{node.module}.{alias.name}" for alias in node.names)
            elif isinstance(node, ast.Attribute):
                if isinstance(node.value, ast.Name) and node.value.id == "portafunc":
                    names.add(f"portafunc.{node.attr}")
                elif node.attr == "form":  # a request's form read, req.form(): the reader ships (any ".form" counts)
                    names.add("portafunc.forms")
        for name in names:
            parts = name.split(".")
            if parts[0] != "portafunc":
                continue
            if len(parts) == 2 and parts[1] in lazy:
                parts[1] = lazy[parts[1]]
            out.update(".".join(parts[:i]) for i in range(2, len(parts) + 1))
    return out


def needs_pydantic(app: Any, project_modules: Iterable[Any] = ()) -> bool:
    """Whether the deployed app needs pydantic: a handler takes a model (``Message[Order]``, a model parameter),
    declares typed parameters or a response model, the app serves a docs route, or one of the app's own modules
    imports pydantic."""
    if getattr(app, "docs_route", None) is not None:
        return True  # the docs route builds the OpenAPI document with pydantic
    for spec in app:
        if getattr(spec, "message_model", None) is not None:
            return True
        for param in getattr(spec, "params", None) or ():
            if getattr(param, "model", None) is not None:
                return True
        if getattr(spec, "needs_validation", False):
            return True
    for module in project_modules:
        for value in list(vars(module).values()):
            owner = getattr(value, "__module__", None) or getattr(value, "__name__", "")
            if isinstance(owner, str) and (owner == "pydantic" or owner.startswith(("pydantic.", "pydantic_core"))):
                return True
    return False


PYDANTIC = "pydantic>=2,<3"


def project_modules(project_dir: Path) -> list[Any]:
    """The modules imported from the user's project folder (the app and what it imported of its own)."""
    root = Path(project_dir).resolve()
    out = []
    for module in list(sys.modules.values()):
        file = getattr(module, "__file__", None)
        if file:
            try:
                if Path(file).resolve().is_relative_to(root):
                    out.append(module)
            except (OSError, ValueError):
                continue
    return out


def runtime_requirements(app: Any, project_dir: Path, user_requirements: Iterable[str]) -> list[str]:
    """What portafunc itself needs installed beside the user's requirements in this app's artifact: pydantic when
    the app validates with it (see :func:`needs_pydantic`), PyJWT when it verifies bearer tokens — each unless the
    user's requirements name it already."""
    from .build import requirement_name, with_app_extras

    users = list(user_requirements)
    named = {requirement_name(r) for r in users}
    out = [PYDANTIC] if "pydantic" not in named and needs_pydantic(app, project_modules(project_dir)) else []
    return out + with_app_extras(app, users)[len(users):]  # PyJWT for an app that verifies bearer tokens


def called_kinds(deployment: Any) -> set[str]:
    """The resource kinds some function calls at run time through a client library (publish, send, read, write —
    not consume, which the platform delivers, except a bucket's: a storage function reads the object that arrived,
    ``evt.read()``, through the bucket's client): a target ships a service's SDK only when its kind is in this set."""
    return {grant.kind for fn in deployment.functions.values() for grant in fn.grants
            if grant.kind == "bucket" or any(access != "consume" for access in grant.access)}
