"""Griffe extension for the API reference (mkdocs.yml): show Sphinx cross-reference roles as code.

The docstrings name other objects the Sphinx way (``:class:`~portafunc.errors.MessagingError```); mkdocstrings reads
them as Markdown, where the role would show verbatim. This rewrites each role to a code span with the name a reader
of the source sees (``MessagingError`` for a ``~`` target), without turning it into a link that could fail the
strict build when the target is not on any page.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_ROLE = re.compile(r":(?:py:)?(?:class|func|meth|mod|attr|data|exc|obj):`(~?)([^`]+)`")


def plain_roles(text: str) -> str:
    """``:class:`~a.b.C``` → ```C```; ``:mod:`.memory``` → ```.memory```."""
    return _ROLE.sub(lambda m: f"`{m.group(2).rsplit('.', 1)[-1] if m.group(1) else m.group(2)}`", text)


class SphinxRolesAsCode(griffe.Extension):
    """Rewrite the roles of every docstring griffe loads."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = plain_roles(obj.docstring.value)
