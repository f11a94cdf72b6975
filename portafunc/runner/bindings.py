"""Bind every topic, queue, bucket, key-value table and idempotency store of the app's resource model to ``memory://``
unless the environment already binds it: for ``portafunc run`` and ``portafunc invoke`` alike.

What is bound is exactly what ``app.resources()`` declares — triggers, dead-letter queues and ``uses=`` — the same
set every packager creates, so code that works under ``portafunc run`` has its bindings in the cloud too. The source
scan (:func:`referenced_names`) is only a lint: a literal ``queue("…")``/``topic("…")`` call whose name no function
declares is reported with the declaration to add, never bound.
"""

from __future__ import annotations

import ast
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator
from urllib.parse import urlsplit

from ..app import App
from ..resources import env_name

SKIP_DIRS = {".venv", "venv", "env", ".git", "__pycache__", "node_modules", "site-packages", "dist", "build",
             ".tox", ".nox", ".mypy_cache", ".pytest_cache", ".ruff_cache"}


def python_files(root: Path) -> Iterator[Path]:
    """Every ``.py`` file of the project, skipping virtualenvs, caches and build output."""
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in SKIP_DIRS and not d.startswith(".")]
        for name in filenames:
            if name.endswith(".py"):
                yield Path(dirpath, name)


def referenced_names(root: Path) -> dict[str, set[str]]:
    """{"queue": {...}, "topic": {...}}: literal names passed to ``queue(...)`` / ``topic(...)`` in the project."""
    found: dict[str, set[str]] = {"queue": set(), "topic": set()}
    for path in python_files(root):
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
            continue  # the import reports a broken module far better than a scan could
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
            first = node.args[0]
            if called in found and isinstance(first, ast.Constant) and isinstance(first.value, str):
                found[called].add(first.value)
    return found


@dataclass
class Binding:
    kind: str  # "queue" | "topic" | "bucket" | "kv" | "idempotency"
    name: str  # logical name
    variable: str
    url: str
    ours: bool  # bound by the runner (memory://), not by the environment

    @property
    def is_memory(self) -> bool:
        return self.url.startswith("memory://")

    @property
    def resource(self) -> str:
        """The memory broker's name for it (``memory://NAME?...``, or the logical name)."""
        parts = urlsplit(self.url)
        return (parts.netloc + parts.path).strip("/") or self.name

    def describe(self) -> str:
        """One line for the user: ``kv orders: memory://orders``, ``… (from PORTAFUNC_KV_ORDERS)`` if they set it."""
        what = "idempotency store" if self.kind == "idempotency" else f"{self.kind} {self.name}"
        return f"{what}: {self.url}" + ("" if self.ours else f"  (from {self.variable})")


def bind_memory(app: App, project: Path) -> list[Binding]:
    """Set ``PORTAFUNC_{QUEUE,TOPIC,BUCKET,KV}_*`` (and ``PORTAFUNC_IDEMPOTENCY_STORE``) to ``memory://`` in this
    process for every declared resource the environment does not bind; list them all."""
    wanted: dict[tuple[str, str], str] = {}  # (kind, name) -> memory URL if we bind it
    for res in app.resources().resources.values():
        if res.kind == "queue":
            opts = res.options
            query = ""
            if opts.get("consumer"):
                query = f"?max_attempts={opts['max_attempts']}&visibility_timeout={opts['visibility_timeout']}"
                if opts.get("dead_letter"):
                    query += f"&dead_letter={opts['dead_letter']}"
            wanted[("queue", res.name)] = f"memory://{res.name}{query}"
        elif res.kind == "topic":
            wanted[("topic", res.name)] = f"memory://{res.name}"
        elif res.kind in ("bucket", "kv"):  # in-memory, with the cloud backends' semantics
            wanted[(res.kind, res.name)] = f"memory://{res.name}"
        elif res.kind == "idempotency":  # what the local target uses unbound; a cloud target's adapter needs it set
            wanted[(res.kind, res.name)] = "memory://"
    out: list[Binding] = []
    for (kind, name), url in sorted(wanted.items()):
        variable = env_name(kind, name)
        existing = os.environ.get(variable)
        if existing:
            out.append(Binding(kind, name, variable, existing, ours=False))
        else:
            os.environ[variable] = url
            out.append(Binding(kind, name, variable, url, ours=True))
    return out


def undeclared(app: App, project: Path) -> list[str]:
    """Lint: one line per literal ``topic("x")``/``queue("x")`` in the project that no function declares."""
    declared = {(r.kind, r.name) for r in app.resources().resources.values()}
    lines = []
    for kind, names in referenced_names(project).items():
        for name in sorted(names):
            if (kind, name) not in declared and name and all(c.isalnum() or c in "-_." for c in name):
                helper = f"publishes({name!r})" if kind == "topic" else f"sends({name!r})"
                lines.append(f"the code names {kind} {name!r} but no function declares it: add uses=[{helper}] to "
                             "the decorator of each function that reaches it")
    return lines
