"""The Functions host's HTTP routing, as its sources and issue tracker describe it, over the function metadata the
real ``azure.functions`` library indexes from a generated ``function_app.py`` (``get_function_json()``, what the
worker sends the host).

The host orders HTTP routes by function name (``FunctionMetadataManager``: ``OrderBy(f => f.Name,
StringComparer.OrdinalIgnoreCase)``), adds them in that order to an ASP.NET ``RouteCollection``
(``WebScriptHostHttpRoutesManager``), and the first route whose template and method constraint match wins, whatever
its specificity (https://github.com/Azure/azure-functions-host/issues/9876)."""

from __future__ import annotations

import json
import re

from portafunc import App, UnsupportedTrigger
from portafunc_azure.deploy.function_app import load_function_app
from portafunc_azure.triggers import check_trigger


def host_routes(app: App) -> list[tuple[str, str, list[str]]]:
    """(function name, route template, methods) of every HTTP function, in the host's order."""
    _, functions, _ = load_function_app(app)
    routes = []
    for name, function in functions.items():
        for binding in json.loads(function.get_function_json())["bindings"]:
            if binding["type"] == "httpTrigger":
                routes.append((name, binding["route"], [m.upper() for m in binding["methods"]]))
    return sorted(routes, key=lambda r: r[0].upper())  # ordinal, ignoring case


def matches(template: str, path: str) -> bool:
    """ASP.NET route template matching: literal segments ignore case, ``{p}`` one segment, ``{*p}`` the rest."""
    segments, parts = template.strip("/").split("/"), [p for p in path.strip("/").split("/") if p]
    for i, segment in enumerate(segments):
        if segment.startswith("{*"):
            return True
        if i >= len(parts):
            return False
        if re.fullmatch(r"\{[^}]+\}", segment) is None and segment.lower() != parts[i].lower():
            return False
    return len(parts) == len(segments)


def host_pick(routes: list[tuple[str, str, list[str]]], method: str, path: str) -> str | None:
    return next((name for name, template, methods in routes if method in methods and matches(template, path)), None)


def refusals(app: App) -> list[UnsupportedTrigger]:
    """What the Azure target refuses of ``app``'s functions (``check_trigger``), one error per refused function."""
    refused = []
    for spec in app:
        try:
            check_trigger(spec)
        except UnsupportedTrigger as exc:
            refused.append(exc)
    return refused
