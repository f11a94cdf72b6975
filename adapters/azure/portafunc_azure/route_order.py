"""Whether the Functions host would hand a request to another function than the app routes it to.

The host orders HTTP routes by function name (ordinal, ignoring case) and takes the first whose template and methods
match, whatever the templates' specificity (https://github.com/Azure/azure-functions-host/issues/9876). The app
takes the first *registered* route that matches. Where two routes of a method overlap (``/products/list`` and
``/products/{id}``), the two orders must agree, or the same request runs another function on Azure than on every
other target and locally. :func:`overtaken_by` finds the route a function would take requests from.
"""

from __future__ import annotations

from portafunc.app import FunctionSpec, HttpTrigger

from .triggers import function_name


def _segments(template: str) -> list[str]:
    return template.strip("/").split("/") if template.strip("/") else []


def _greedy(segment: str) -> bool:
    return segment.startswith("{") and segment.endswith("+}")


def overlap(first: str, second: str) -> bool:
    """Whether some path matches both templates as the host matches them: literal segments equal ignoring case, a
    segment holding a parameter any one segment, a greedy ``{name+}`` the rest of the path (one segment or more)."""
    a, b = _segments(first), _segments(second)
    for i in range(max(len(a), len(b))):
        x = a[i] if i < len(a) else None
        y = b[i] if i < len(b) else None
        if x is None or y is None:
            return False
        if _greedy(x) or _greedy(y):  # the rest of the path, whatever the other side's rest is
            return True
        if "{" not in x and "{" not in y and x.upper() != y.upper():
            return False
    return True


def _methods(spec: FunctionSpec) -> set[str]:
    methods = set(spec.trigger.methods)  # type: ignore[union-attr]
    if "GET" in methods:
        methods.add("HEAD")  # answered for GET routes on every target
    return methods


def overtaken_by(spec: FunctionSpec) -> FunctionSpec | None:
    """The function registered before ``spec`` whose requests the host would hand to ``spec`` instead: a route of
    a shared method that overlaps ``spec``'s, registered earlier (the app serves the shared paths with it) but whose
    name sorts after ``spec``'s (the host tries ``spec`` first). None when the two orders agree."""
    trigger = spec.trigger
    if not isinstance(trigger, HttpTrigger):
        return None
    mine = function_name(spec.name).upper()
    for other in spec.app.http_functions():
        if other is spec:
            return None  # only functions registered before this one
        t = other.trigger
        assert isinstance(t, HttpTrigger)
        if function_name(other.name).upper() > mine and _methods(other) & _methods(spec) \
                and overlap(t.route.template, trigger.route.template):
            return other
    return None
