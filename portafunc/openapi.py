"""The OpenAPI 3.1 document of an App: every HTTP route, its parameters, bodies, answers and security.

Built from what the app registered, never from the source: route templates, typed parameters, the pydantic models
of request bodies and responses, the problem+json answers the pipeline gives, the ``auth`` of each route and the
tags of the routers it came through. A FastAPI app mounted with ``app.mount`` contributes its own schema under its
prefix. The output is deterministic: paths, components and tags are sorted, so the document can be committed and
diffed. Loaded only by ``app.openapi()``, ``portafunc openapi`` and the docs route (pydantic is imported here).
"""

from __future__ import annotations

import copy
import inspect
import itertools
import json
import typing
from typing import Any

from .app import App, FunctionSpec, HttpTrigger
from .errors import RegistrationError

if typing.TYPE_CHECKING:
    from .auth import JwtAuth
    from .params import BodySpec, ParamSpec

OPENAPI_VERSION = "3.1.0"
_REF = "#/components/schemas/{model}"
_METHOD_ORDER = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def platform_schemes(target: str | None) -> dict[str, dict[str, Any]]:
    """``auth="function"`` as the installed targets check it (``Target.function_auth_schemes``): ``target``'s
    schemes, or every installed target's as alternatives when None. A target not installed here adds none."""
    from .targets import available, get_target

    out: dict[str, dict[str, Any]] = {}
    for name in ([target] if target else sorted(available())):
        try:
            schemes = get_target(name).function_auth_schemes()
        except Exception:  # noqa: BLE001 - e.g. a deployed function, whose artifact carries no target
            continue
        for scheme_name, scheme in schemes.items():
            out[scheme_name] = copy.deepcopy(dict(scheme))
    return out


_PROBLEM = {
    "type": "object",
    "description": "An RFC 9457 problem: application/problem+json.",
    "properties": {
        "type": {"type": "string", "default": "about:blank"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "errors": {"type": "array", "description": "What failed validation, one entry per error.", "items": {
            "type": "object",
            "properties": {
                "in": {"type": "string", "description": "Where: path, query, header or body."},
                "loc": {"type": "array", "items": {"type": ["string", "integer"]},
                        "description": "The failing field's location within it."},
                "msg": {"type": "string"},
                "type": {"type": "string", "description": "pydantic's error type."},
            },
        }},
    },
    "required": ["type", "title", "status"],
}

# name → (status, description): the pipeline's own answers, described once in components/responses
_PROBLEMS = {
    "BadRequest": ("400", "The request failed validation (a body, path, query or header value), or is malformed."),
    "Unauthorized": ("401", "No valid bearer token: missing, expired, or not from this issuer for this audience "
                            "(where the platform's front door verifies tokens too, it refuses first, with its own body)."),
    "UnsupportedMediaType": ("415", "The body is sent with a content type this operation does not accept."),
}


def document(app: App, *, title: str | None = None, version: str = "0.1.0",
             target: str | None = None) -> dict[str, Any]:
    """The OpenAPI 3.1 document of ``app`` (see ``App.openapi``)."""
    if target is not None:
        from importlib.metadata import entry_points

        installed = sorted({ep.name for ep in entry_points(group="portafunc.targets")})
        if target not in installed:
            raise RegistrationError(f"openapi target must be one of {', '.join(installed)}, not {target!r}")
    return _Builder(app, target).build(title or app.name, version)


class _Operation:
    """One (function, method) pair on its way into the document."""

    __slots__ = ("spec", "method", "declared", "path", "path_names", "params", "body", "content_types", "response",
                 "response_kind", "statuses", "documented")

    def __init__(self, spec: FunctionSpec, method: str, path: str, path_names: dict[str, str],
                 declared: bool = True) -> None:
        self.spec = spec
        self.method = method
        self.declared = declared  # a method the route names (else the HEAD every GET route answers)
        self.path = path
        self.path_names = path_names  # the route's parameter name → the name in the document's path key
        self.params: list[ParamSpec] = []  # typed path, query and header parameters
        self.body: BodySpec | None = None  # the request body's model and content types
        self.content_types: tuple[str, ...] | None = None  # what a body may be sent as (None: anything)
        self.response: Any = None  # the response's type (a model, list[Model], ...) or None
        self.response_kind = "unknown"  # json | object | text | bytes | none | unknown
        #: the success statuses the handler declares (``-> tuple[Order, Literal[201]]``); None: what its result
        #: gets without one (200, 204 for None); (): one it chooses at run time (``-> tuple[Order, int]``)
        self.statuses: tuple[int, ...] | None = None
        #: the route's ``responses=``: (status, description or None, model or None)
        self.documented: tuple[tuple[int, str | None, Any], ...] = ()


class _Builder:
    def __init__(self, app: App, target: str | None) -> None:
        self.app = app
        self.target = target
        self._platform: dict[str, dict[str, Any]] | None = None  # auth="function" schemes, asked once
        self.schemes: dict[str, dict[str, Any]] = {}
        self.problems_used: set[str] = set()
        self.tags: dict[str, dict[str, Any]] = {}  # tag name → tag object
        self.problem = "Problem"
        self.problem_schema_used = False  # a documented error answer refers to the problem schema

    # -- the whole document ----------------------------------------------------------------------------------------
    def build(self, title: str, version: str) -> dict[str, Any]:
        operations, mounts = self._collect()
        schemas = self._schemas(operations)
        defs: dict[str, Any] = dict(schemas["$defs"])
        self.problem = _unused_name("Problem", defs)  # the problem+json schema, named apart from the user's models
        paths: dict[str, dict[str, Any]] = {}
        op_ids: set[str] = set()
        named: list[dict[str, Any]] = []
        implicit: list[dict[str, Any]] = []
        for index, op in enumerate(operations):
            operation = self._operation(op, index, schemas)
            paths.setdefault(op.path, {})[op.method.lower()] = operation
            (named if op.declared else implicit).append(operation)
        for operation in (*named, *implicit):  # an implicit HEAD's name_head yields to a function of that name
            candidates = itertools.chain((operation["operationId"],),
                                         (f"{operation['operationId']}_{n}" for n in itertools.count(2)))
            operation["operationId"] = op_id = next(c for c in candidates if c not in op_ids)
            op_ids.add(op_id)
        components: dict[str, dict[str, Any]] = {"schemas": defs}
        if self.problems_used or self.problem_schema_used:
            defs[self.problem] = copy.deepcopy(_PROBLEM)  # the caller may change its document
        if self.problems_used:
            components["responses"] = {name: _problem_response(name, self.problem) for name in self.problems_used}
        if self.schemes:
            components["securitySchemes"] = dict(self.schemes)
        doc: dict[str, Any] = {"openapi": OPENAPI_VERSION, "info": {"title": title, "version": version},
                               "paths": paths, "components": components}
        for prefix, fname, web_app in mounts:
            _merge_mounted(doc, prefix, fname, web_app, op_ids, self.tags)
        return _finish(doc, self.tags)

    def _collect(self) -> tuple[list[_Operation], list[tuple[str, str, Any]]]:
        operations: list[_Operation] = []
        mounts: list[tuple[str, str, Any]] = []
        keys: dict[str, tuple[str, tuple[str, ...]]] = {}  # route shape → (document path, its parameter names)
        from .docs_ui import DOCS_FUNCTION, FILES_FUNCTION

        docs = {DOCS_FUNCTION, FILES_FUNCTION} if self.app.docs_route else set()
        for spec in self.app.http_functions():
            if spec.name in docs:
                continue
            mounted = vars(spec.handler).get("portafunc_mount") if hasattr(spec.handler, "__dict__") else None
            if mounted is not None:
                mounts.append((mounted[0], spec.name, mounted[1]))
                continue
            trigger = spec.trigger
            assert isinstance(trigger, HttpTrigger)
            route = trigger.route
            # OpenAPI has one path per shape and no greedy parameter: /files/{path+} is /files/{path}
            path, names = keys.setdefault(route.shape, (route.template.replace("+}", "}"), route.params))
            path_names = dict(zip(route.params, names, strict=True))
            for method in _answered(trigger.methods):
                op = _Operation(spec, method, path, path_names, method in trigger.methods)
                self._introspect(op)
                operations.append(op)
        return operations, mounts

    def _introspect(self, op: _Operation) -> None:
        from .params import route_signature

        signature = route_signature(op.spec)  # what the pipeline fills and validates requests with
        op.params = list(signature.parameters)
        op.body = signature.body
        op.content_types = signature.content_types
        returned, op.statuses = _with_status(_return_annotation(op.spec))
        trigger = op.spec.trigger
        assert isinstance(trigger, HttpTrigger)
        op.documented = trigger.responses
        if signature.response_model is not None:
            op.response, op.response_kind = signature.response_model, "json"
        else:
            op.response, op.response_kind = _response_type(returned)

    # -- schemas ---------------------------------------------------------------------------------------------------
    def _schemas(self, operations: list[_Operation]) -> dict[Any, Any]:
        """Every schema the operations need, generated together so models shared between them are one component
        and names are disambiguated the same way every time."""
        if not any(op.body is not None or op.response is not None or op.params
                   or any(model is not None for _, _, model in op.documented) for op in operations):
            return {"$defs": {}}  # nothing to describe: pydantic (an optional dependency) is not needed
        from pydantic import TypeAdapter

        inputs: list[tuple[Any, Any, Any]] = []
        for index, op in enumerate(operations):
            if op.body is not None:
                inputs.append(((index, "body"), "validation", TypeAdapter(op.body.model)))
            if op.response is not None:
                inputs.append(((index, "response"), "serialization", TypeAdapter(op.response)))
            for p_index, param in enumerate(op.params):
                inputs.append(((index, "param", p_index), "validation", TypeAdapter(param.annotation)))
            for status, _, model in op.documented:
                if model is not None:
                    inputs.append(((index, "documented", status), "serialization", TypeAdapter(model)))
        if not inputs:
            return {"$defs": {}}
        generated, defs = TypeAdapter.json_schemas(inputs, ref_template=_REF)
        found: dict[Any, Any] = {key: value for (key, _mode), value in generated.items()}
        found["$defs"] = defs.get("$defs", {})
        return found

    # -- one operation ---------------------------------------------------------------------------------------------
    def _operation(self, op: _Operation, index: int, schemas: dict[Any, Any]) -> dict[str, Any]:
        spec = op.spec
        trigger = spec.trigger
        assert isinstance(trigger, HttpTrigger)
        operation: dict[str, Any] = {}
        tags = _tags(spec)
        if tags:
            operation["tags"] = tags
            for tag in tags:
                self.tags.setdefault(tag, {"name": tag})
        summary, description = _doc(spec.handler)
        if summary:
            operation["summary"] = summary
        if description:
            operation["description"] = description
        operation["operationId"] = spec.name if trigger.methods == (op.method,) else f"{spec.name}_{op.method.lower()}"
        parameters = self._parameters(op, index, schemas)
        if parameters:
            operation["parameters"] = parameters
        validated = op.body is not None or bool(op.params)  # a value missing or of the wrong type is a 400
        if op.body is not None:
            body_schema = schemas[(index, "body")]
            media_types = _media_types(op.body.content_types)
            operation["requestBody"] = {"required": op.body.required, "content": {
                media: {"schema": body_schema} for media in media_types}}
        elif op.content_types is not None and op.method not in _NO_BODY:
            # a body the handler reads itself (req.text, req.form(), req.body), in the content types it declares
            operation["requestBody"] = {"required": False, "content": {
                media: _read_body(media) for media in op.content_types}}
        responses = self._success(op, index, schemas)
        if validated:
            responses["400"] = self._problem("BadRequest")
        security = self._security(trigger.auth if trigger.auth is not None else self.app.auth, responses)
        if op.content_types is not None:
            responses["415"] = self._problem("UnsupportedMediaType")
        self._documented(op, index, schemas, responses)
        operation["responses"] = dict(sorted(responses.items()))
        if security is not None:
            operation["security"] = security
        return operation

    def _parameters(self, op: _Operation, index: int, schemas: dict[Any, Any]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        typed: dict[tuple[str, str], tuple[ParamSpec, dict[str, Any]]] = {}
        for p_index, param in enumerate(op.params):
            name = op.path_names.get(param.name, param.name) if param.location == "path" else param.name
            typed[(param.location, name)] = (param, schemas[(index, "param", p_index)])
        for route_name, doc_name in op.path_names.items():  # every {name} of the path, typed or not
            found = typed.pop(("path", doc_name), None)
            entry: dict[str, Any] = {"name": doc_name, "in": "path", "required": True,
                                     "schema": found[1] if found else {"type": "string"}}
            if found is not None and found[0].description:
                entry["description"] = found[0].description
            elif route_name in _greedy(op.spec):
                entry["description"] = "The rest of the path, slashes included."
            out.append(entry)
        for (where, name), (param, schema) in typed.items():
            entry = {"name": name, "in": where, "required": param.required, "schema": _with_default(param, schema)}
            if param.description:
                entry["description"] = param.description
            out.append(entry)
        return out

    def _success(self, op: _Operation, index: int, schemas: dict[Any, Any]) -> dict[str, Any]:
        """The answers of a handler that succeeds: each status it declares (200, or 204 for nothing, when it declares
        none) with its body; ``default`` when the status is chosen at run time or nothing is known of the result."""
        kind = op.response_kind
        content = self._content(op, index, schemas)
        if op.statuses is not None:
            statuses = op.statuses
        elif kind == "unknown":
            statuses = ()
        else:
            statuses = (204,) if kind == "none" else (200,)
        head = op.method == "HEAD"
        if not statuses:
            answer: dict[str, Any] = {"description": "The function's response."}
            if head:
                answer["description"] = "The headers the GET answer would have, without its body."
            elif content is not None:
                answer["content"] = content
            return {"default": answer}
        out: dict[str, Any] = {}
        for status in statuses:
            answer = {"description": _REASONS.get(status) or _reason(status)}
            if head:
                answer["description"] += ": the headers a GET would answer, without a body."
            elif content is not None and status not in _NO_CONTENT:
                answer["content"] = content
            out[str(status)] = answer
        return out

    def _documented(self, op: _Operation, index: int, schemas: dict[Any, Any], responses: dict[str, Any]) -> None:
        """The route's ``responses=`` into ``responses``, each replacing what the document says of its status: a
        model is the JSON body, a description of an error status a problem+json one; a description of a status
        the document lists already with a body (the success answer) keeps that body. A HEAD gets no bodies."""
        head = op.method == "HEAD"
        for status, description, model in op.documented:
            key = str(status)
            answer: dict[str, Any] = {"description": description or _REASONS.get(status) or _reason(status)}
            if head:
                pass  # the status and headers, no body
            elif model is not None:
                answer["content"] = {"application/json": {"schema": schemas[(index, "documented", status)]}}
            elif "content" in responses.get(key, {}):
                answer["content"] = responses[key]["content"]
            elif status >= 400:
                self.problem_schema_used = True
                answer["content"] = {"application/problem+json": {
                    "schema": {"$ref": _REF.format(model=self.problem)}}}
            responses[key] = answer

    @staticmethod
    def _content(op: _Operation, index: int, schemas: dict[Any, Any]) -> dict[str, Any] | None:
        """The success answer's ``content``: its media type and schema, None for no body or an unknown one."""
        kind = op.response_kind
        if kind == "json":
            return {"application/json": {"schema": schemas.get((index, "response"), {})}}
        if kind == "object":
            return {"application/json": {"schema": {"type": "object"}}}
        if kind == "text":
            return {"text/plain": {"schema": {"type": "string"}}}
        if kind == "bytes":
            return {"application/octet-stream": {"schema": {"type": "string",
                                                            "contentMediaType": "application/octet-stream"}}}
        return None

    def _problem(self, name: str) -> dict[str, Any]:
        self.problems_used.add(name)
        return {"$ref": f"#/components/responses/{name}"}

    def _security(self, auth: Any, responses: dict[str, Any]) -> list[dict[str, list[str]]] | None:
        if auth == "anonymous" or auth is None:
            return None
        if auth == "function":
            requirement: list[dict[str, list[str]]] = []
            if self._platform is None:
                self._platform = platform_schemes(self.target)
            for name, scheme in self._platform.items():
                self.schemes[name] = copy.deepcopy(scheme)
                requirement.append({name: []})
            responses["401"] = {"description": "Refused by the platform before the function runs (no or bad "
                                               "credentials); the body is the platform's, not problem+json."}
            responses["403"] = {"description": "Refused by the platform: the caller may not invoke this API."}
            return requirement
        from .auth import JwtAuth

        if isinstance(auth, JwtAuth):
            name = self._jwt_scheme(auth)
            responses["401"] = self._problem("Unauthorized")
            return [{name: []}]
        return None

    def _jwt_scheme(self, auth: JwtAuth) -> str:
        audience = auth.audience
        audiences = [audience] if isinstance(audience, str) else list(audience)
        scheme = {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                  "description": f"A JWT issued by {auth.issuer} for {' or '.join(audiences)}, verified by the "
                                 "function (signature, issuer, audience, expiry)."}
        for candidate in ["jwt", *(f"jwt_{n}" for n in range(2, 100))]:
            if self.schemes.get(candidate, scheme) == scheme:
                self.schemes[candidate] = scheme
                return candidate
        raise RegistrationError("more than 99 different JwtAuth policies")


def _answered(methods: tuple[str, ...]) -> tuple[str, ...]:
    """The methods a route answers: its own, and HEAD beside GET (the pipeline answers it on every target with the
    GET's status and headers, no body), listed as ``portafunc inspect`` and the packagers list it."""
    return (*methods, "HEAD") if "GET" in methods and "HEAD" not in methods else methods


def _finish(doc: dict[str, Any], tags: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Sort what has no meaningful order (paths, methods, components), so the same app gives the same bytes."""
    doc["paths"] = {path: {m: item[m] for m in _METHOD_ORDER if m in item} | {k: v for k, v in item.items()
                                                                               if k not in _METHOD_ORDER}
                    for path, item in sorted(doc["paths"].items())}
    components = {section: dict(sorted(entries.items())) for section, entries in sorted(doc["components"].items())
                  if entries}
    doc["components"] = components
    if not components:
        del doc["components"]
    if tags:
        doc["tags"] = [tags[name] for name in sorted(tags)]
    ordered: dict[str, Any] = {key: doc[key] for key in ("openapi", "info", "servers", "tags", "paths", "components") if key in doc}
    ordered.update((key, value) for key, value in doc.items() if key not in ordered)
    return ordered


def _problem_response(name: str, problem: str) -> dict[str, Any]:
    return {"description": _PROBLEMS[name][1],
            "content": {"application/problem+json": {"schema": {"$ref": f"#/components/schemas/{problem}"}}}}


def _unused_name(name: str, taken: dict[str, Any]) -> str:
    return name if name not in taken else next(f"Portafunc{name}{n or ''}" for n in range(100)
                                               if f"Portafunc{name}{n or ''}" not in taken)


def _tags(spec: FunctionSpec) -> list[str]:
    tags: list[str] = []
    for tag in getattr(spec, "tags", ()) or ():
        if tag not in tags:
            tags.append(tag)
    return tags


def _doc(handler: Any) -> tuple[str, str]:
    text = inspect.getdoc(handler) or ""
    first, _, rest = text.partition("\n\n")
    return " ".join(first.split()), rest.strip()


def _greedy(spec: FunctionSpec) -> set[str]:
    trigger = spec.trigger
    assert isinstance(trigger, HttpTrigger)
    template = trigger.route.template
    return {name for name in trigger.route.params if f"{{{name}+}}" in template}


def _media_types(accepted: tuple[str, ...]) -> tuple[str, ...]:
    """The content types to list for a typed body: the exact ones (``application/*+json`` is accepted too, but a
    range is no use to a client choosing what to send), and the form types a range admits (``multipart/*``: such a
    body is read as a form into the model, so ``multipart/form-data`` is named); the ranges too when no exact type
    is declared."""
    from .forms import FORM_TYPES
    from .params import media_type_matches

    exact = tuple(media for media in accepted if "*" not in media)
    ranges = tuple(media for media in accepted if "*" in media)
    forms = tuple(media for media in FORM_TYPES if media not in exact and media_type_matches(media, ranges))
    return (*exact, *forms, *(ranges if not exact else ())) or ("application/json",)


_NO_BODY = frozenset(("GET", "HEAD", "DELETE", "OPTIONS"))  # requests sent without a body (RFC 9110: no meaning)
_FORM_FIELD = {"type": "string"}
_UPLOAD = {"type": "string", "contentMediaType": "application/octet-stream"}


def _read_body(media: str) -> dict[str, Any]:
    """The media type object of a body read by the handler itself: a form's fields (``req.form()``: text values,
    and uploaded files in multipart), text as a string, anything else without a schema (any content)."""
    if media == "application/x-www-form-urlencoded":
        return {"schema": {"type": "object", "additionalProperties": dict(_FORM_FIELD),
                           "description": "The form's fields, each a text value, read by the function (req.form())."}}
    if media == "multipart/form-data":
        return {"schema": {"type": "object", "additionalProperties": {"anyOf": [dict(_FORM_FIELD), dict(_UPLOAD)]},
                           "description": "The form's fields, each a text value or an uploaded file, read by the "
                                          "function (req.form())."}}
    if media.startswith("text/"):
        return {"schema": {"type": "string"}}
    return {}


def _with_default(param: ParamSpec, schema: dict[str, Any]) -> dict[str, Any]:
    """The parameter's schema with its default, written as JSON (a default JSON cannot hold is left out)."""
    if param.required or param.default is None:
        return schema
    from pydantic import TypeAdapter

    try:
        default = TypeAdapter(param.annotation).dump_python(param.default, mode="json")
        json.dumps(default)
    except Exception:  # noqa: BLE001 - a default that cannot be written as JSON is left out of the document
        return schema
    if "$ref" in schema:
        return {"allOf": [schema], "default": default}
    return {**schema, "default": default}


_MISSING: Any = object()  # a handler without a return annotation (or one that does not evaluate)
_NO_CONTENT = frozenset((204, 205, 304))  # statuses whose answer never has a body (RFC 9110)
_REASONS = {200: "OK", 204: "No Content"}


def _reason(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return f"Status {status}"


def _return_annotation(spec: FunctionSpec) -> Any:
    """The handler's return annotation, evaluated; ``_MISSING`` when it has none or it does not evaluate."""
    try:
        hints = typing.get_type_hints(spec.handler, include_extras=True)
    except Exception:  # noqa: BLE001 - an annotation that does not evaluate says nothing about the response
        return _MISSING
    return hints.get("return", _MISSING)


def _with_status(annotation: Any) -> tuple[Any, tuple[int, ...] | None]:
    """(the body's annotation, the statuses) of ``-> tuple[Body, Literal[201]]``, the result ``(body, 201)`` the
    pipeline answers with that status; ``Literal[200, 201]`` gives both, a plain ``int`` none known (``()``).
    Any other annotation is the body's itself, with no status declared (None)."""
    if typing.get_origin(annotation) is not tuple:
        return annotation, None
    args = typing.get_args(annotation)
    if len(args) != 2:
        return annotation, None
    body, status = args
    if status is int:
        return body, ()
    if typing.get_origin(status) is typing.Literal:
        values = typing.get_args(status)
        if values and all(type(v) is int and 100 <= v <= 599 for v in values):
            return body, tuple(sorted(set(values)))
    return annotation, None


def _response_type(annotation: Any) -> tuple[Any, str]:
    """(type to describe, kind) of what a handler whose return annotation is ``annotation`` returns."""
    if annotation is _MISSING:
        return None, "unknown"
    if annotation is type(None) or annotation is None:
        return None, "none"
    if annotation is str:
        return None, "text"
    if annotation in (bytes, bytearray):
        return None, "bytes"
    from .events import HttpResponse

    if annotation is HttpResponse or annotation is Any:
        return None, "unknown"
    origin = typing.get_origin(annotation)
    if annotation is dict or origin is dict:
        return None, "object"
    if annotation is list or origin is list or _is_model(annotation) or origin is not None:
        try:
            from pydantic import TypeAdapter

            TypeAdapter(annotation)
        except Exception:  # noqa: BLE001 - a type pydantic cannot describe (or no pydantic) is left undescribed
            return None, "unknown"
        return annotation, "json"
    return None, "unknown"


def _is_model(tp: Any) -> bool:
    return isinstance(tp, type) and hasattr(tp, "model_json_schema")


# -- mounted FastAPI apps ---------------------------------------------------------------------------------------
_SECTIONS = ("schemas", "responses", "parameters", "examples", "requestBodies", "headers", "securitySchemes",
             "links", "callbacks", "pathItems")


def _merge_mounted(doc: dict[str, Any], prefix: str, fname: str, web_app: Any, op_ids: set[str],
                   tags: dict[str, dict[str, Any]]) -> None:
    """Add the schema of an app mounted under ``prefix`` (FastAPI's ``openapi()``): its paths under the prefix, its
    components beside ours. A component whose name is taken by a different one is renamed ``<function>_<name>``
    and every reference to it follows; an equal one is shared."""
    produce = getattr(web_app, "openapi", None)
    if not callable(produce):
        return
    theirs = copy.deepcopy(produce())
    if not isinstance(theirs, dict):
        return
    ours = doc.setdefault("components", {})
    renames: dict[str, str] = {}
    scheme_renames: dict[str, str] = {}
    for section in _SECTIONS:
        for name, value in sorted((theirs.get("components", {}).get(section) or {}).items()):
            taken = ours.setdefault(section, {})
            new = name
            if name in taken and taken[name] != value:
                new = f"{fname}_{name}"
                n = 2
                while new in taken and taken[new] != value:
                    new, n = f"{fname}_{name}_{n}", n + 1
            if new != name:
                renames[f"#/components/{section}/{name}"] = f"#/components/{section}/{new}"
                if section == "securitySchemes":
                    scheme_renames[name] = new
    for section in _SECTIONS:
        for name, value in sorted((theirs.get("components", {}).get(section) or {}).items()):
            new = renames.get(f"#/components/{section}/{name}", f"#/components/{section}/{name}").rsplit("/", 1)[1]
            ours.setdefault(section, {})[new] = _renamed(value, renames)
    default_security = theirs.get("security")
    for path, item in sorted((theirs.get("paths") or {}).items()):
        item = _renamed(item, renames)
        for method, operation in item.items():
            if method not in _METHOD_ORDER or not isinstance(operation, dict):
                continue
            security = operation.get("security", default_security)
            if security is not None:
                operation["security"] = [{scheme_renames.get(k, k): v for k, v in req.items()} for req in security]
            op_id = operation.get("operationId")
            if op_id is not None:
                # taken by ours or by an earlier operation of theirs (FastAPI gives every method of one
                # api_route the same id): the mount's name, then the method, then a number, until it is unique
                candidates = itertools.chain((op_id, f"{fname}_{op_id}", f"{fname}_{op_id}_{method}"),
                                             (f"{fname}_{op_id}_{method}_{n}" for n in itertools.count(2)))
                operation["operationId"] = op_id = next(c for c in candidates if c not in op_ids)
                op_ids.add(op_id)
        # the mounted app's own path under the prefix, as a client calls it: its index "/" is "/api/" (what "/api"
        # redirects to in FastAPI, as under any server with a root path)
        doc["paths"][prefix + path] = item
    for tag in theirs.get("tags") or ():
        if isinstance(tag, dict) and isinstance(tag.get("name"), str):
            tags.setdefault(tag["name"], tag)
    for item in doc["paths"].values():
        for operation in item.values():
            for name in operation.get("tags", ()) if isinstance(operation, dict) else ():
                tags.setdefault(name, {"name": name})
    for section in list(ours):
        if not ours[section]:
            del ours[section]


def _renamed(node: Any, renames: dict[str, str]) -> Any:
    if isinstance(node, dict):
        return {key: (renames.get(value, value) if key == "$ref" and isinstance(value, str) else
                      _renamed(value, renames)) for key, value in node.items()}
    if isinstance(node, list):
        return [_renamed(value, renames) for value in node]
    return node


__all__ = ["OPENAPI_VERSION", "document"]
