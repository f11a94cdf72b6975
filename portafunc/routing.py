"""Route templates: ``/orders/{shop}`` and greedy ``/files/{path+}``, and the table that finds a request's route.

The same template is handed to every cloud (API Gateway, Azure ``route``), so the syntax is the intersection they
share; matching here is used where the cloud does not match for us (GCF, local runner, one Lambda per API). Where the
cloud did match (API Gateway's ``routeKey``/``resource``), :meth:`RouteTable.by_template` finds the route by its
template in one dict lookup.

Where several routes match a path, the most specific one wins, whatever the order they were registered in: the
routes are compared segment by segment from the left, and at the first segment where they differ a literal segment
beats one mixing text and a parameter (``v{n}.json``), which beats a plain ``{param}``, which beats a greedy
``{name+}``; registration order breaks the remaining ties. This is API Gateway's precedence, so a route gets the same
requests wherever API Gateway matches routes for us and wherever the app does. API Gateway selects "the route with
the most-specific match": a full match before a match with a greedy path variable, before ``$default``, and, in its
example, ``GET /pets/dog/1`` before ``GET /pets/dog/{id}``
(https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-routes.html#http-api-develop-routes.evaluation).
The page does not compare parameters at different positions (``/a/{x}/c`` against ``/a/{y}/{z}``); deciding at the
leftmost difference is how a resource tree (API Gateway's REST APIs) and the usual routers resolve it.
"""

from __future__ import annotations

import re

from .errors import RegistrationError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Iterable, Sequence

_PARAM = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)(\+?)\}")

#: the specificity rank of one template segment (lower wins): literal, text with a parameter, parameter, greedy
LITERAL, MIXED, PARAM, GREEDY = 0, 1, 2, 3


def _rank(segment: str) -> int:
    if "{" not in segment:
        return LITERAL
    if "+}" in segment:
        return GREEDY
    return PARAM if segment[0] == "{" and segment[-1] == "}" and segment.count("{") == 1 else MIXED


def specificity(template: str) -> tuple[int, ...]:
    """The key that orders routes matching one path, most specific first: each segment's rank, from the left (see
    the module's docstring). A route that is a prefix of another sorts first: ``/api`` before ``/api/{path+}``,
    which also serves ``/api`` when its greedy parameter may be empty."""
    if "{" not in template:
        return (LITERAL,) * template.count("/")
    return tuple(_rank(segment) for segment in template[1:].split("/"))


def slash_escaped(raw_path: str | None) -> str | None:
    """The path routes match for a request whose raw path holds an escaped "/" (``%2F``) inside a segment: each
    segment decoded, with the "%" and "/" in it escaped again (``/caf%C3%A9/a%2Fb`` → ``/café/a%2Fb``), so that "/"
    stays inside its parameter, as API Gateway and the Azure Functions host match it; None for any other raw path
    (routes match the decoded path). :func:`unescape` gives the parameters matched in it back decoded."""
    if raw_path is None or "%2" not in raw_path or "%2F" not in raw_path.upper():
        return None
    from urllib.parse import unquote

    return "/".join(unquote(part).replace("%", "%25").replace("/", "%2F") for part in raw_path.split("/"))


def unescape(params: dict[str, str]) -> dict[str, str]:
    """Parameters matched in a :func:`slash_escaped` path, decoded (every "%" there starts "%25" or "%2F")."""
    return {name: value.replace("%2F", "/").replace("%25", "%") for name, value in params.items()}


class Route:
    """A compiled route template. Its regex is built on first use: an app with many routes registers them without
    compiling one regex per route, and a request is matched only against the few routes its path can reach."""

    __slots__ = ("template", "params", "greedy", "shape", "key", "bare", "_parts", "_pattern", "_prefix")

    def __init__(self, template: str, parts: list[str], params: tuple[str, ...], greedy: bool, shape: str,
                 bare: str | None = None, key: tuple[int, ...] | None = None) -> None:
        self.template = template
        self.params = params
        self.greedy = greedy
        self.shape = shape  # the template with parameter names erased: two routes of one shape match the same paths
        #: :func:`specificity`: of the routes matching a path, the one with the lowest key serves it
        self.key = specificity(template) if key is None else key
        #: for a route whose greedy parameter may also be empty (a mounted web app's catch-all): the path before it,
        #: ``/api`` for ``/api/{path+}`` (``/`` for ``/{path+}``), which the route serves too, with or without a
        #: trailing slash; the parameter is then ``""``. Packagers declare it as a route of its own where the
        #: platform's catch-all needs a segment (API Gateway's ``{proxy+}``).
        self.bare = bare
        self._parts = parts  # _PARAM.split(template): literal, name, "+" or "", literal, ...
        self._pattern: re.Pattern[str] | None = None
        # ``/orders/`` for ``/orders/{id}`` (one parameter, the last segment, the usual shape): matched without the
        # regex; None for every other template
        self._prefix = parts[0] if len(parts) == 4 and not parts[2] and not parts[3] and parts[0].endswith("/") \
            else None

    @property
    def pattern(self) -> re.Pattern[str]:
        pattern = self._pattern
        if pattern is None:
            parts = self._parts
            source = [re.escape(parts[0])]
            for i in range(1, len(parts), 3):
                name = parts[i]
                if parts[i + 1] and self.bare is not None:  # the last parameter: "/name" optional, may be empty
                    source[-1] = re.escape(parts[i - 1][:-1])
                    source.append(f"(?:/(?P<{name}>.*))?")
                else:
                    source.append(f"(?P<{name}>.+)" if parts[i + 1] else f"(?P<{name}>[^/]+)")
                source.append(re.escape(parts[i + 2]))
            pattern = self._pattern = re.compile("".join(source))
        return pattern

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Route) and other.template == self.template

    def __hash__(self) -> int:
        return hash(self.template)

    def __repr__(self) -> str:
        return f"Route({self.template!r})"

    def match(self, path: str) -> dict[str, str] | None:
        prefix = self._prefix
        if prefix is not None:  # what the regex prefix(?P<name>[^/]+) matches
            if path.startswith(prefix):
                value = path[len(prefix):]
                if value and "/" not in value:
                    return {self.params[0]: value}
            return None
        if not self.params:
            return {} if path == self.template else None
        found = (self._pattern or self.pattern).fullmatch(path)
        if found is None:
            return None
        params = found.groupdict()
        if self.bare is not None and params[self.params[-1]] is None:  # the bare path: no "/" after it
            params[self.params[-1]] = ""
        return params


def with_bare_path(route: Route) -> Route:
    """``route`` (ending in a greedy ``{name+}``) also serving the path before its greedy parameter, with or without
    a trailing slash: ``/api/{path+}`` then serves ``/api`` and ``/api/`` too."""
    if not route.greedy or not route.template.endswith("/{" + route.params[-1] + "+}"):
        raise RegistrationError(f"route {route.template!r} does not end in a /{{name+}} segment to make optional")
    bare = route.template[:route.template.rindex("/{")] or "/"
    return Route(route.template, route._parts, route.params, route.greedy, route.shape, bare, route.key)


def compile_route(template: str) -> Route:
    """Check ``template`` and read its parameters; :class:`RegistrationError` says what is wrong with it."""
    if not template.startswith("/"):
        raise RegistrationError(f"route {template!r} must start with '/'")
    if "//" in template:
        raise RegistrationError(f"route {template!r} has an empty segment")
    if "{" not in template and "}" not in template:
        return Route(template, [template], (), False, template)
    parts = _PARAM.split(template)
    literals = parts[0::3]
    for literal in literals:
        if "{" in literal or "}" in literal:
            raise RegistrationError(f"route {template!r}: malformed parameter near {literal!r}")
    params = tuple(parts[1::3])
    pluses = parts[2::3]
    if len(set(params)) != len(params):
        twice = next(name for name in params if params.count(name) > 1)
        raise RegistrationError(f"route {template!r} names parameter {twice!r} twice")
    greedy = "+" in pluses
    if greedy and (pluses.index("+") != len(pluses) - 1 or parts[-1]):
        if pluses.index("+") != len(pluses) - 1:
            raise RegistrationError(f"route {template!r}: a greedy {{name+}} parameter must be the last one")
        raise RegistrationError(f"route {template!r}: a greedy {{name+}} parameter must end the route")
    shape = [literals[0]]
    for plus, literal in zip(pluses, literals[1:], strict=True):  # parameter names erased: "{}" or "{+}"
        shape += ("{+}" if plus else "{}", literal)
    return Route(template, parts, params, greedy, "".join(shape))


class _Node:
    __slots__ = ("literal", "wild", "ends", "rest", "found")

    def __init__(self) -> None:
        self.literal: dict[str, _Node] = {}  # child per literal path segment
        self.wild: _Node | None = None  # child for a segment holding a parameter: any non-empty segment
        # routes by their place in RouteTable._ranked (most specific first):
        self.ends: tuple[int, ...] = ()  # routes whose last segment is this node's
        self.rest: tuple[int, ...] = ()  # greedy routes whose {name+} segment starts here: any remaining path
        self.found: tuple[tuple[Route, Any], ...] = ()  # the entries of ``ends``, for a walk that ends here


class RouteTable:
    """Routes with a value each (e.g. the function serving them), given in registration order, indexed two ways:

    * a trie of path segments: :meth:`candidates` walks the request path once and returns only the routes whose
      segments can match it (a literal segment by dict lookup), so finding a route does not scan every route;
    * a dict by template: :meth:`by_template` answers in one lookup when the platform already matched the route.

    :meth:`candidates` returns ``(route, value)`` pairs most specific first (:attr:`Route.key`, then registration
    order), so the first one whose regex matches is the route a scan of every route in that order would choose.
    """

    __slots__ = ("_entries", "_ranked", "_root", "_templates", "last_segment")

    def __init__(self, entries: Iterable[tuple[Route, Any]]) -> None:
        self._entries: list[tuple[Route, Any]] = list(entries)
        self._ranked: list[tuple[Route, Any]] = []  # the entries most specific first, with the trie
        self._root: _Node | None = None  # the trie, built on the first search (a platform-matched route needs none)
        self._templates: dict[str, list[tuple[Route, Any]]] = {}
        for entry in self._entries:
            self._templates.setdefault(entry[0].template, []).append(entry)
            if entry[0].bare is not None:  # the platform matched its bare path as a route of its own
                self._templates.setdefault(entry[0].bare, []).append(entry)
        #: template → (prefix, its length, parameter, value) for a template of one route whose only parameter is
        #: its last segment (``/orders/{id}``): what :meth:`Route.match` tests, for a caller matching the platform's
        #: template without a call per request (``invoke.handle_http_direct``)
        self.last_segment: dict[str, tuple[str, int, str, Any]] = {
            template: (prefix, len(prefix), found[0][0].params[0], found[0][1])
            for template, found in self._templates.items()
            if len(found) == 1 and (prefix := found[0][0]._prefix) is not None and found[0][0].template == template}

    def _trie(self) -> _Node:
        root = _Node()
        # one sort of the keys, once: a node then lists its routes by their place in this order, and a search sorts
        # the places (ints) of the few routes it found, only when it found more than one
        ranked = self._ranked = sorted(self._entries, key=_key)  # stable: registration order breaks ties
        for index, entry in enumerate(ranked):
            route = entry[0]
            node = root
            for segment in route.template[1:].split("/"):
                if "{" not in segment:
                    child = node.literal.get(segment)
                    if child is None:
                        child = node.literal[segment] = _Node()
                    node = child
                elif "+}" in segment:  # greedy: the last segment (compile_route checks)
                    node.rest += (index,)
                    if route.bare is not None:  # the path before it is served too
                        node.ends += (index,)
                        node.found += (entry,)
                    break
                else:
                    if node.wild is None:
                        node.wild = _Node()
                    node = node.wild
            else:
                node.ends += (index,)
                node.found += (entry,)
        self._root = root
        return root

    def __len__(self) -> int:
        return len(self._entries)

    def by_template(self, template: str) -> list[tuple[Route, Any]]:
        """The routes registered with exactly this template (several when they serve different methods)."""
        return self._templates.get(template, [])

    def candidates(self, path: str) -> Sequence[tuple[Route, Any]]:
        """The routes that can match ``path``, most specific first (a superset: the caller runs each regex)."""
        if not path.startswith("/"):
            return []
        segments = path[1:].split("/")
        node = self._root or self._trie()
        depth = 0
        for segment in segments:  # one node to follow: the usual walk, without the lists of the general one below
            if node.rest:
                break
            child = node.literal.get(segment)
            wild = node.wild if segment else None
            if child is not None and wild is not None:
                break
            if child is None:
                if wild is None:
                    return []
                child = wild
            node = child
            depth += 1
        else:
            return node.found  # most specific first already
        found: list[int] = []
        nodes = [node]
        for segment in segments[depth:]:
            following: list[_Node] = []
            for node in nodes:
                if node.rest:
                    found += node.rest
                child = node.literal.get(segment)
                if child is not None:
                    following.append(child)
                if node.wild is not None and segment:
                    following.append(node.wild)
            nodes = following
            if not nodes:
                break
        for node in nodes:
            found += node.ends
        if len(found) > 1:
            found.sort()
        ranked = self._ranked
        return [ranked[i] for i in found]


def _key(entry: tuple[Route, Any]) -> tuple[int, ...]:
    return entry[0].key
