"""Bind every logical topic and queue the app uses to ``memory://`` unless the environment already binds it.

Consumed resources come from the decorators. Published-to resources cannot be known from the registry (the code calls
``portafunc.queue("orders")`` at run time), so the project's source is scanned for ``queue("…")`` / ``topic("…")``
calls with a literal name; a name built at run time still needs its ``PORTAFUNC_QUEUE_*`` variable set by hand.
"""

from __future__ import annotations

import ast
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator
from urllib.parse import urlsplit

from ..app import App, QueueTrigger, TopicTrigger
from ..messaging.binding import env_name

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
    kind: str  # "queue" | "topic"
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


def bind_memory(app: App, project: Path) -> list[Binding]:
    """Set ``PORTAFUNC_{QUEUE,TOPIC}_*`` to ``memory://`` in this process for every unbound resource; list them all."""
    wanted: dict[tuple[str, str], str] = {}  # (kind, name) -> memory URL if we bind it
    for spec in app:
        trig = spec.trigger
        if isinstance(trig, QueueTrigger):
            query = f"max_attempts={trig.max_attempts}&visibility_timeout={trig.visibility_timeout}"
            if trig.dead_letter and "://" not in trig.dead_letter:
                query += f"&dead_letter={trig.dead_letter}"
            wanted[("queue", trig.queue)] = f"memory://{trig.queue}?{query}"
        elif isinstance(trig, TopicTrigger):
            wanted.setdefault(("topic", trig.topic), f"memory://{trig.topic}")
        dead_letter = getattr(trig, "dead_letter", None)
        if dead_letter and "://" not in dead_letter and not os.environ.get(env_name("topic", dead_letter)):
            wanted.setdefault(("queue", dead_letter), f"memory://{dead_letter}")
    for kind, names in referenced_names(project).items():
        for name in names:
            if name and all(c.isalnum() or c in "-_." for c in name):
                wanted.setdefault((kind, name), f"memory://{name}")
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
