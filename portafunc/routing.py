"""Route templates: ``/orders/{shop}`` and greedy ``/files/{path+}``.

The same template is handed to every cloud (API Gateway, Azure ``route``), so the syntax is the intersection they
share; matching here is used where the cloud does not match for us (GCF, local runner, one Lambda per API).
"""

from __future__ import annotations

import re

from .errors import RegistrationError

_PARAM = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)(\+?)\}")


class Route:
    """A compiled route template."""

    __slots__ = ("template", "pattern", "params", "greedy")

    def __init__(self, template: str, pattern: re.Pattern[str], params: tuple[str, ...], greedy: bool) -> None:
        self.template = template
        self.pattern = pattern
        self.params = params
        self.greedy = greedy

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Route) and other.template == self.template

    def __hash__(self) -> int:
        return hash(self.template)

    def __repr__(self) -> str:
        return f"Route({self.template!r})"

    def match(self, path: str) -> dict[str, str] | None:
        found = self.pattern.fullmatch(path)
        return None if found is None else found.groupdict()

    @property
    def shape(self) -> str:
        """The template with parameter names erased, to spot two routes that match the same paths."""
        return _PARAM.sub(lambda m: "{+}" if m.group(2) else "{}", self.template)


def compile_route(template: str) -> Route:
    if not template.startswith("/"):
        raise RegistrationError(f"route {template!r} must start with '/'")
    if "//" in template:
        raise RegistrationError(f"route {template!r} has an empty segment")
    regex = ""
    params: list[str] = []
    greedy = False
    pos = 0
    for m in _PARAM.finditer(template):
        literal = template[pos:m.start()]
        if "{" in literal or "}" in literal:
            raise RegistrationError(f"route {template!r}: malformed parameter near {literal!r}")
        regex += re.escape(literal)
        name, plus = m.group(1), m.group(2)
        if name in params:
            raise RegistrationError(f"route {template!r} names parameter {name!r} twice")
        if greedy:
            raise RegistrationError(f"route {template!r}: a greedy {{name+}} parameter must be the last one")
        params.append(name)
        if plus:
            greedy = True
            regex += f"(?P<{name}>.+)"
        else:
            regex += f"(?P<{name}>[^/]+)"
        pos = m.end()
    tail = template[pos:]
    if "{" in tail or "}" in tail:
        raise RegistrationError(f"route {template!r}: malformed parameter near {tail!r}")
    regex += re.escape(tail)
    if greedy and tail:
        raise RegistrationError(f"route {template!r}: a greedy {{name+}} parameter must end the route")
    return Route(template, re.compile(regex), tuple(params), greedy)
