"""A structural check of an ARM template, standing in for the ARM schema and the deployment engine.

Why not the schema: the ARM deployment template schema (schema.management.azure.com) pulls in one generated schema per
resource provider and apiVersion (megabytes each) from the network, and no PyPI or npm package ships them; the Bicep
compiler (which also type-checks resources) is only on NuGet. So this module checks what a deployment would reject
first, with a small evaluator of ARM template expressions:

* every resource type has the apiVersion this project pins for it (documented types and versions, see API below);
* every ``parameters('x')`` / ``variables('x')`` used anywhere is declared;
* every ``resourceId('Type', names...)`` (in dependsOn, properties, scopes, listKeys, reference, ...) names a resource
  declared in the template (or a built-in such as role definitions), and every dependsOn entry is a resourceId;
* child resource names have one segment per type segment (``account/default/queue`` for ``.../queueServices/queues``);
* the template's top level has exactly the keys ARM accepts.

Limit: property names and values inside a resource are not checked against the provider's schema (a misspelt
property is only caught by Azure at deployment); names are compared symbolically (``variables('storageAccountName')``
stays a symbol), not evaluated to the strings Azure would compute.
"""

from __future__ import annotations

import re
from typing import Any, Iterator

TOP_LEVEL = {"$schema", "contentVersion", "apiProfile", "parameters", "variables", "functions", "resources",
             "outputs", "metadata"}
BUILTIN_TYPES = {"Microsoft.Authorization/roleDefinitions"}
_TOKEN = re.compile(r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<num>-?\d+)|(?P<name>[A-Za-z_][A-Za-z0-9_]*)|(?P<op>[()\[\],.]))")


class ArmError(AssertionError):
    pass


class Call:
    def __init__(self, name: str, args: list[Any]) -> None:
        self.name, self.args = name, args

    def __repr__(self) -> str:
        return f"{self.name}({', '.join(map(repr, self.args))})"


class Index:
    def __init__(self, base: Any, key: Any) -> None:
        self.base, self.key = base, key


class Member:
    def __init__(self, base: Any, name: str) -> None:
        self.base, self.name = base, name


def parse(expression: str) -> Any:
    """``[fn(args)...]`` → a tree of Call / Index / Member / str / int."""
    tokens = [(m.lastgroup or "", m.group(m.lastgroup or 0)) for m in _TOKEN.finditer(expression)]
    if "".join(t[1] for t in tokens).replace(" ", "") != expression.replace(" ", ""):
        raise ArmError(f"cannot tokenise ARM expression {expression!r}")
    pos = 0

    def peek() -> tuple[str, str] | None:
        return tokens[pos] if pos < len(tokens) else None

    def take(kind: str, value: str | None = None) -> str:
        nonlocal pos
        token = peek()
        if token is None or token[0] != kind or (value is not None and token[1] != value):
            raise ArmError(f"ARM expression {expression!r}: expected {value or kind} at token {pos}")
        pos += 1
        return token[1]

    def primary() -> Any:
        token = peek()
        if token is None:
            raise ArmError(f"ARM expression {expression!r} ends early")
        if token[0] == "str":
            take("str")
            node: Any = token[1][1:-1].replace("''", "'")
        elif token[0] == "num":
            take("num")
            node = int(token[1])
        else:
            name = take("name")
            take("op", "(")
            args = []
            while peek() != ("op", ")"):
                args.append(primary())
                if peek() == ("op", ","):
                    take("op", ",")
            take("op", ")")
            node = Call(name, args)
        while peek() in (("op", "["), ("op", ".")):
            if take("op") == "[":
                key = primary()
                take("op", "]")
                node = Index(node, key)
            else:
                node = Member(node, take("name"))
        return node

    tree = primary()
    if pos != len(tokens):
        raise ArmError(f"ARM expression {expression!r}: unexpected text after position {pos}")
    return tree


def is_expression(value: Any) -> bool:
    return isinstance(value, str) and value.startswith("[") and value.endswith("]") and not value.startswith("[[")


def walk(node: Any) -> Iterator[Any]:
    yield node
    if isinstance(node, Call):
        for arg in node.args:
            yield from walk(arg)
    elif isinstance(node, Index):
        yield from walk(node.base)
        yield from walk(node.key)
    elif isinstance(node, Member):
        yield from walk(node.base)


def symbol(node: Any) -> str:
    """A name as a symbolic string: literals as they are, parameters/variables as ``<name>``, format applied."""
    if isinstance(node, str):
        return node
    if isinstance(node, int):
        return str(node)
    if isinstance(node, Call) and node.name in ("parameters", "variables"):
        return f"<{node.args[0]}>"
    if isinstance(node, Index):
        return f"{symbol(node.base)}[{symbol(node.key)}]"
    if isinstance(node, Call) and node.name == "format":
        template, *args = node.args
        return re.sub(r"\{(\d+)\}", lambda m: symbol(args[int(m.group(1))]), template)
    if isinstance(node, Call) and node.name == "concat":
        return "".join(symbol(a) for a in node.args)
    return f"<{node.name}()>" if isinstance(node, Call) else "<expression>"  # a computed value: one opaque segment


def resource_key(resource: dict[str, Any]) -> tuple[str, tuple[str, ...]]:
    name = resource["name"]
    text = symbol(parse(name[1:-1])) if is_expression(name) else name
    return resource["type"], tuple(text.split("/"))


def resource_id_key(call: Call) -> tuple[str, tuple[str, ...]]:
    kind, *names = call.args
    if not isinstance(kind, str):
        raise ArmError(f"resourceId with a computed type: {call}")
    return kind, tuple(symbol(n) for n in names)


def expressions(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            if is_expression(key):
                yield key
            yield from expressions(item)
    elif isinstance(value, list):
        for item in value:
            yield from expressions(item)
    elif is_expression(value):
        yield value


def check(template: dict[str, Any], api_versions: dict[str, str]) -> list[str]:
    """Every problem found (empty when the template passes)."""
    problems: list[str] = []
    extra = set(template) - TOP_LEVEL
    if extra:
        problems.append(f"unknown top-level keys {sorted(extra)}")
    for required in ("$schema", "contentVersion", "resources"):
        if required not in template:
            problems.append(f"missing {required}")
    declared = {resource_key(r) for r in template.get("resources", [])}
    params, variables = set(template.get("parameters", {})), set(template.get("variables", {}))
    for resource in template.get("resources", []):
        kind = resource.get("type", "")
        where = f"{kind} {resource.get('name')}"
        if api_versions.get(kind) != resource.get("apiVersion"):
            problems.append(f"{where}: apiVersion {resource.get('apiVersion')} is not the pinned "
                            f"{api_versions.get(kind)}")
        segments = len(kind.split("/")) - 1
        if len(resource_key(resource)[1]) != segments:
            problems.append(f"{where}: name has {len(resource_key(resource)[1])} segment(s), type needs {segments}")
        for dep in resource.get("dependsOn", []):
            tree = parse(dep[1:-1]) if is_expression(dep) else None
            if not (isinstance(tree, Call) and tree.name == "resourceId"):
                problems.append(f"{where}: dependsOn {dep!r} is not a resourceId()")
    for text in expressions(template):
        for node in walk(parse(text[1:-1])):
            if not isinstance(node, Call):
                continue
            if node.name == "parameters" and node.args[0] not in params:
                problems.append(f"{text}: parameter {node.args[0]!r} is not declared")
            if node.name == "variables" and node.args[0] not in variables:
                problems.append(f"{text}: variable {node.args[0]!r} is not declared")
            if node.name == "resourceId":
                key = resource_id_key(node)
                if key[0] not in BUILTIN_TYPES and key not in declared:
                    problems.append(f"{text}: {key} is not a resource of this template")
    return problems
