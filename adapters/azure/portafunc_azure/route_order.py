"""Whether the Functions host would hand a request to another function than the app routes it to.

The host orders HTTP routes by function name (ordinal, ignoring case) and takes the first whose template and methods
match, whatever the templates' specificity (https://github.com/Azure/azure-functions-host/issues/9876). The app
takes the most specific route that matches (a literal segment before a parameter before a greedy one, compared from
the left: :mod:`portafunc.routing`), as API Gateway does. Where two routes of a method overlap (``/products/list``
and ``/products/{id}``), the more specific one's function must sort first by name, or the same request runs another
function on Azure than on every other target and locally. :func:`overtaken_by` finds the route a function would take
requests from. A path spelt in another case than the templates (``/products/LIST``) may still reach the function of a
literal route: its entry routes it with the app's rule (``Runtime._rerouted``).
"""

from __future__ import annotations

from portafunc.app import FunctionSpec, HttpTrigger

from .triggers import function_name


def _segments(template: str) -> list[str]:
    return template.strip("/").split("/") if template.strip("/") else []


def _greedy(segment: str) -> bool:
    return segment.startswith("{") and segment.endswith("+}")


def overlap(first: str, second: str, ignore_case: bool = True) -> bool:
    """Whether some path matches both templates as the host matches them: literal segments equal ignoring case, a
    segment holding a parameter any one segment, a greedy ``{name+}`` the rest of the path (one segment or more).
    With ``ignore_case=False``, as the app matches them: literal segments equal as written."""
    a, b = _segments(first), _segments(second)
    for i in range(max(len(a), len(b))):
        x = a[i] if i < len(a) else None
        y = b[i] if i < len(b) else None
        if x is None or y is None:
            return False
        if _greedy(x) or _greedy(y):  # the rest of the path, whatever the other side's rest is
            return True
        if "{" not in x and "{" not in y and (x.upper() != y.upper() if ignore_case else x != y):
            return False
    return True


def _methods(spec: FunctionSpec) -> set[str]:
    methods = set(spec.trigger.methods)  # type: ignore[union-attr]
    if "GET" in methods:
        methods.add("HEAD")  # answered for GET routes on every target
    return methods


def overtaken_by(spec: FunctionSpec) -> tuple[FunctionSpec, str] | None:
    """The function whose requests the host would hand to ``spec`` instead, and why the app gives them to it: a
    route of a shared method that overlaps ``spec``'s and that the app prefers on the paths they share (``"more
    specific"``, or ``"registered first"`` when both are as specific), while ``spec``'s name sorts first (the host
    tries ``spec`` first); or one whose route overlaps ``spec``'s only when the case of a literal segment is ignored
    (``"case"``): the host hands the paths of both to the one whose name sorts first, the app to the route whose
    literal segments match them as written. None when the host and the app agree."""
    trigger = spec.trigger
    if not isinstance(trigger, HttpTrigger):
        return None
    mine = function_name(spec.name).upper()
    key = trigger.route.key
    earlier = True  # whether ``other`` was registered before ``spec``
    for other in spec.app.http_functions():
        if other is spec:
            earlier = False
            continue
        t = other.trigger
        assert isinstance(t, HttpTrigger)
        if function_name(other.name).upper() <= mine or not _methods(other) & _methods(spec) \
                or not overlap(t.route.template, trigger.route.template):
            continue
        if not overlap(t.route.template, trigger.route.template, ignore_case=False):
            return other, "case"
        if t.route.key < key:
            return other, "more specific"
        if t.route.key == key and earlier:
            return other, "registered first"
    return None
