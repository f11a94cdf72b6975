"""The API reference (docs/reference, rendered from the docstrings by ``make docs``) covers the whole public API.

Every name ``import portafunc`` exports has a ``::: portafunc.NAME`` entry, and every parameter of ``App`` and of
its decorators is described in the docstring's ``Args:`` section (the reference shows its type and default from the
signature), with what the decorators mean on AWS, Azure and GCP. ``make docs`` then fails on any reference that
does not resolve (``mkdocs build --strict``).
"""

from __future__ import annotations

import importlib
import inspect
import re
from pathlib import Path

import pytest

import portafunc
from portafunc import App

REFERENCE = Path(__file__).resolve().parents[2] / "docs" / "reference"
DECORATORS = ("http", "topic", "queue", "schedule", "storage")
CLOUDS = ("**AWS**", "**Azure**", "**GCP**")


def documented_names() -> set[str]:
    names = set()
    for page in REFERENCE.glob("*.md"):
        names.update(re.findall(r"^::: portafunc\.(\w+)\s*$", page.read_text(encoding="utf-8"), re.MULTILINE))
    return names


def described_parameters(doc: str) -> list[str]:
    """The parameter names of a Google-style ``Args:`` section."""
    match = re.search(r"^Args:\n((?:(?: {4}.*)?\n)+)", doc + "\n", re.MULTILINE)
    return re.findall(r"^ {4}(\w+):", match.group(1), re.MULTILINE) if match else []


def test_every_public_name_has_a_reference_entry() -> None:
    missing = sorted(set(portafunc.__all__) - documented_names())
    assert missing == [], f"add '::: portafunc.NAME' for {missing} to a page in docs/reference/"


@pytest.mark.parametrize("member", ["__init__", *DECORATORS])
def test_every_parameter_is_described(member: str) -> None:
    function = getattr(App, member)
    wanted = [p for p in inspect.signature(function).parameters if p != "self"]
    doc = inspect.getdoc(App if member == "__init__" else function) or ""
    assert described_parameters(doc) == wanted, (
        f"App.{member}: describe each parameter, in signature order, in its docstring's Args: section")


@pytest.mark.parametrize("decorator", DECORATORS)
def test_each_decorator_says_what_it_becomes_on_every_cloud(decorator: str) -> None:
    doc = inspect.getdoc(getattr(App, decorator)) or ""
    assert all(cloud in doc for cloud in CLOUDS), f"App.{decorator}: say what it means on {', '.join(CLOUDS)}"


def _resolves(dotted: str) -> bool:
    """Does ``dotted`` name a module, or an attribute reached from the longest importable module prefix?"""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            target: object = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for name in parts[cut:]:
            if not hasattr(target, name):
                return False
            target = getattr(target, name)
        return True
    return False


def test_every_reference_entry_resolves() -> None:
    """What ``make docs`` would refuse (a ``::: name`` that no longer exists), caught by the unit tests too."""
    entries = [name for page in sorted(REFERENCE.glob("*.md"))
               for name in re.findall(r"^::: ([\w.]+)\s*$", page.read_text(encoding="utf-8"), re.MULTILINE)]
    assert entries and [name for name in entries if not _resolves(name)] == []


def test_every_cross_reference_in_a_docstring_resolves() -> None:
    """``[text][portafunc.Name]`` links in the core's docstrings point at something that exists."""
    package = Path(portafunc.__file__).parent
    refs = {ref for source in package.rglob("*.py")
            for ref in re.findall(r"\]\[(portafunc(?:\.\w+)+)\]", source.read_text(encoding="utf-8"))}
    assert refs and sorted(ref for ref in refs if not _resolves(ref)) == []


def test_the_args_parser_reads_a_google_style_section() -> None:
    doc = "Summary.\n\nArgs:\n    first: one\n        more about it.\n    second: two\n\nReturns:\n    x\n"
    assert described_parameters(doc) == ["first", "second"]
    assert described_parameters("No sections.") == []


def test_a_missing_name_does_not_resolve() -> None:
    assert _resolves("portafunc.App.queue") and _resolves("portafunc.messaging.base.Queue")
    assert not _resolves("portafunc.NoSuchThing") and not _resolves("portafunc.App.no_such_method")
