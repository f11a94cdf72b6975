"""Typed HTTP parameters: what an HTTP handler's signature asks for, read once, and filled per request.

A handler declares path, query and header parameters by annotation (``limit: int = 10``,
``x_tenant: Annotated[str, Header()]``), its JSON body as a pydantic model parameter and its response by its return
annotation (``-> Order``) or ``response_model=``. :func:`route_signature` reads all of it once, when the function is
registered (or on its first call when an annotation names a class defined later); the OpenAPI document is built from
the same description (:func:`route_parameters`, :func:`route_signature`). Each request then costs a few dict look-ups
and one pydantic validation of the parameters (built on the first request, so pydantic loads only for routes that
declare typed parameters).

Where a parameter comes from:

* ``Annotated[T, Path()]``, or a name of the route template (``/orders/{id}`` → ``id``): the path;
* ``Annotated[T, Header()]``: the header named like the parameter, ``_`` written ``-`` (``x_tenant`` → ``x-tenant``,
  any case), or ``Header(alias=...)``;
* ``Annotated[T, Query()]``, or any other parameter that is not the request and not a pydantic model: the query
  string (``Query(alias=...)`` for a name that is not an identifier);
* a pydantic model parameter: the JSON body, validated into the model (a request body needs a JSON content type);
  on a route whose ``content_types`` admit ``application/x-www-form-urlencoded`` or ``multipart/form-data`` (by name,
  or by a pattern such as ``multipart/*``), a body sent in such a type is read as a form, its fields validated into
  the model by name, a field left blank counting as not sent (see :class:`_FormBody`).

A ``list[T]`` query or header parameter takes every value sent; a single-valued one takes the first.
"""

from __future__ import annotations

from .errors import BadRequest, PayloadValidationError, PortafuncError, RegistrationError
from .events import _UNREAD, HttpRequest, HttpResponse, checked_status, json_response, refuse_non_finite

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Iterable, Literal

    from .app import FunctionSpec
    from .routing import Route

    Location = Literal["path", "query", "header"]

JSON_TYPES = ("application/json", "application/*+json")
"""The request content types a typed (pydantic) body accepts unless the route or app says otherwise."""

_MULTI_ORIGINS = (list, tuple, set, frozenset)
_REQUEST_TYPES = (HttpRequest, object)


class _Marker:
    """Base of the parameter markers used in ``Annotated[T, Marker()]``."""

    __slots__ = ("alias", "description")
    location = ""

    def __init__(self, alias: str | None = None, *, description: str | None = None) -> None:
        self.alias = alias
        self.description = description

    def __repr__(self) -> str:
        args = [repr(self.alias)] if self.alias else []
        if self.description:
            args.append(f"description={self.description!r}")
        return f"{type(self).__name__}({', '.join(args)})"


class Query(_Marker):
    """Marks a handler parameter as a query-string parameter: ``page: Annotated[int, Query(alias="p")] = 1``.

    Parameters without a marker that are not in the route template are query parameters already; the marker gives
    another name on the wire (``alias``) or a ``description`` for the OpenAPI document.

    Args:
        alias: The name in the query string, when it differs from the parameter's.
        description: What the parameter means, shown in the OpenAPI document.
    """

    __slots__ = ()
    location = "query"


class Header(_Marker):
    """Marks a handler parameter as a request header: ``x_tenant: Annotated[str, Header()]`` reads ``X-Tenant``.

    The header's name is the parameter's with ``_`` written ``-``, matched in any case; ``list[str]`` takes every
    value of a repeated header.

    Args:
        alias: The header's name, when it is not the parameter's name with ``-`` for ``_``.
        description: What the header means, shown in the OpenAPI document.
    """

    __slots__ = ()
    location = "header"


class Path(_Marker):
    """Marks a handler parameter as a path parameter of the route template: ``id: Annotated[int, Path()]``.

    A parameter named like a ``{name}`` of the route is a path parameter without the marker; the marker says so
    explicitly (registration fails when the route has no such name) and carries a ``description``.

    Args:
        alias: The ``{name}`` in the route template, when it differs from the parameter's name.
        description: What the parameter means, shown in the OpenAPI document.
    """

    __slots__ = ()
    location = "path"


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED: Any = _Required()
"""The ``default`` of a parameter that has none."""


class ParamSpec:
    """One path, query or header parameter of an HTTP handler, as the OpenAPI document describes it.

    ``name`` is the name on the wire (the header's, the query key, the template's ``{name}``), ``arg`` the handler's
    parameter; ``annotation`` is the type to validate (with any other ``Annotated`` metadata, e.g. pydantic's
    ``Field(ge=1)``, kept); ``default`` is :data:`REQUIRED` when ``required``.
    """

    __slots__ = ("name", "location", "annotation", "default", "required", "description", "arg", "multi")

    def __init__(self, name: str, location: Location, annotation: Any, default: Any, required: bool,
                 description: str | None, arg: str, multi: bool = False) -> None:
        self.name = name
        self.location = location
        self.annotation = annotation
        self.default = default
        self.required = required
        self.description = description
        self.arg = arg
        self.multi = multi  # a list-like type: every value of the query key / header

    def __repr__(self) -> str:
        return (f"ParamSpec({self.name!r}, {self.location}, {_type_name(self.annotation)}, "
                f"{'required' if self.required else f'default={self.default!r}'})")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ParamSpec) and all(getattr(self, n) == getattr(other, n) for n in self.__slots__)

    def __hash__(self) -> int:
        return hash((self.name, self.location, self.arg))

    def json_schema(self) -> dict[str, Any]:
        """The parameter's JSON Schema (pydantic's, of ``annotation``), with its default and description."""
        from pydantic import TypeAdapter

        schema = dict(TypeAdapter(self.annotation).json_schema())
        if not self.required and self.default is not None:
            try:
                schema["default"] = TypeAdapter(self.annotation).dump_python(self.default, mode="json")
            except Exception:  # noqa: BLE001 - a default pydantic cannot write as JSON is left out of the schema
                pass
        if self.description and "description" not in schema:
            schema["description"] = self.description
        return schema


class BodySpec:
    """The request body a handler takes: the pydantic ``model`` its parameter ``arg`` receives, validated from a
    request whose content type is one of ``content_types``. ``required``: False when the parameter defaults to None
    (an empty body gives None)."""

    __slots__ = ("arg", "model", "required", "content_types")

    def __init__(self, arg: str, model: Any, required: bool, content_types: tuple[str, ...]) -> None:
        self.arg = arg
        self.model = model
        self.required = required
        self.content_types = content_types

    def __repr__(self) -> str:
        return f"BodySpec({self.arg!r}, {_type_name(self.model)}, content_types={self.content_types})"


class RouteSignature:
    """Everything an HTTP function's signature declares, read once: ``request_arg`` (the parameter receiving the
    ``HttpRequest``, or None), ``parameters`` (path, query and header, in signature order), ``body``,
    ``response_model`` (validated and serialised as the 200 answer) and ``content_types`` (the request content types
    the route accepts when a request has a body; None: any, for a route without a typed body)."""

    __slots__ = ("request_arg", "parameters", "body", "response_model", "content_types", "_binder")

    def __init__(self, request_arg: str | None, parameters: list[ParamSpec], body: BodySpec | None,
                 response_model: Any, content_types: tuple[str, ...] | None) -> None:
        self.request_arg = request_arg
        self.parameters = parameters
        self.body = body
        self.response_model = response_model
        self.content_types = content_types
        self._binder: _Binder | None = None

    def __repr__(self) -> str:
        return (f"RouteSignature(request={self.request_arg!r}, parameters={self.parameters}, body={self.body}, "
                f"response_model={_type_name(self.response_model) if self.response_model is not None else None})")

    @property
    def plain(self) -> bool:
        """True when calling the handler is just ``handler(req)``: nothing to read, check or validate."""
        return (not self.parameters and self.body is None and self.response_model is None
                and self.content_types is None and self.request_arg is not None)

    # -- per request ------------------------------------------------------------------------------------------
    def arguments(self, req: HttpRequest) -> dict[str, Any]:
        """The handler's keyword arguments for ``req``.

        Raises:
            BadRequest: 415 when the request's content type is not accepted.
            PayloadValidationError: Parameters or body failed validation (every failing one listed); answered 400.
        """
        binder = self._binder or self._bind()
        return binder.arguments(req)

    def respond(self, value: Any) -> Any:
        """What the handler returned, validated as ``response_model`` and serialised (an ``HttpResponse`` and a
        signature without a response model pass unchanged)."""
        if self.response_model is None or isinstance(value, HttpResponse):
            return value
        binder = self._binder or self._bind()
        return binder.respond(value)

    def steps(self) -> tuple[Callable[[HttpRequest], dict[str, Any]], Callable[[Any], Any] | None]:
        """``(arguments, respond)`` for a caller that keeps them: ``arguments(req)`` is :meth:`arguments`;
        ``respond(value)`` is :meth:`respond` for a value that is no ``HttpResponse``, None without a response model.
        Builds the per-request work now (pydantic loads here)."""
        binder = self._binder or self._bind()
        return binder.arguments, (binder.respond if self.response_model is not None else None)

    def caller(self) -> Callable[[Callable[..., Any], HttpRequest], Any]:
        """``call(handler, req)``: ``handler(**arguments(req))`` and, with a response model, its result made the
        response as :meth:`steps` ``respond`` makes it, in one call. Builds the per-request work now."""
        binder = self._binder or self._bind()
        return binder.planned_call or binder.call

    def responder(self) -> Callable[[Any, HttpRequest], HttpResponse]:
        """``response(spec, req)``: :meth:`caller`'s ``call(spec.handler, req)`` with its result made the response
        ``to_response`` makes of it, the handler read from ``spec`` on each call (what a composed middleware chain
        calls, as a method of the spec: ``types.MethodType``). Builds the per-request work now."""
        binder = self._binder or self._bind()
        return binder.planned_response or binder.call_response

    def _bind(self) -> _Binder:
        binder = self._binder = _Binder(self)
        return binder


class ResponseValidationError(PortafuncError):
    """A handler's result does not match its response model: the function's fault, answered 500 (the log names the
    failing fields and error types, never the values)."""


# -- reading a signature ---------------------------------------------------------------------------------------

def route_parameters(handler: Callable[..., Any], route: Route | str) -> list[ParamSpec]:
    """The path, query and header parameters ``handler`` declares when it serves ``route`` (a template such as
    ``"/orders/{id}"`` or a compiled :class:`~portafunc.routing.Route`), in signature order.

    Raises:
        RegistrationError: A declaration that cannot work (a ``Path()`` the route does not have, two parameters
            with one wire name, a model as a query parameter, ...).
    """
    return read_signature(handler, route).parameters


def route_signature(spec: FunctionSpec) -> RouteSignature:
    """The signature of a registered HTTP function (parameters, body, response model, content types): the one the
    pipeline fills requests with, read once and kept on the function."""
    from .app import HttpTrigger

    if not isinstance(spec.trigger, HttpTrigger):
        raise RegistrationError(f"function {spec.name!r} is a {spec.kind} function, not an HTTP one")
    plan = spec.call_plan()
    if plan and plan[0].source == "http":
        found: RouteSignature = plan[0].model
        return found
    return read_signature(spec.handler, spec.trigger.route, name=spec.name)


def read_signature(handler: Callable[..., Any], route: Route | str, *, name: str | None = None,
                   response_model: Any = None, content_types: Iterable[str] | None = None) -> RouteSignature:
    """Read ``handler``'s signature for ``route``; see :class:`RouteSignature`. ``response_model`` and
    ``content_types`` are the decorator's (or the app's) settings, which win over the annotations and defaults.

    Raises:
        RegistrationError: What cannot work, with the reason. A NameError propagates when an annotation names a
            class not defined yet (the caller retries on the first request).
    """
    from .routing import compile_route

    route = compile_route(route) if isinstance(route, str) else route
    fname = name or getattr(handler, "__name__", "?")
    code = getattr(handler, "__code__", None)
    if code is None:
        raise RegistrationError(f"function {fname!r}: handler must be a plain function, got {type(handler).__name__}")
    positional = code.co_argcount
    args = code.co_varnames[: positional + code.co_kwonlyargcount]
    defaults = _defaults(handler, args, positional)
    annotations = getattr(handler, "__annotations__", None) or {}
    namespace = getattr(handler, "__globals__", {})
    where = f"function {fname!r} ({route.template})"

    request_arg: str | None = None
    parameters: list[ParamSpec] = []
    body: BodySpec | None = None
    seen: dict[tuple[str, str], str] = {}
    for index, arg in enumerate(args):
        raw = annotations.get(arg)
        hint = _evaluate(raw, namespace)
        inner, marker, extra = _unwrap(hint)
        default = defaults.get(arg, REQUIRED)
        if isinstance(default, _Marker):
            raise RegistrationError(f"{where}: parameter {arg!r} has {default!r} as its default; put the marker in "
                                    f"the annotation: '{arg}: Annotated[T, {type(default).__name__}()] = default'")
        if marker is None and (inner is HttpRequest or (index == 0 and (raw is None or inner in _REQUEST_TYPES
                                                                        or _is_any(inner)))):
            if request_arg is not None:
                raise RegistrationError(f"{where}: parameters {request_arg!r} and {arg!r} both ask for the request")
            request_arg = arg
            continue
        model = _body_model(inner)
        if marker is None and model is not None:
            if body is not None:
                raise RegistrationError(f"{where}: parameters {body.arg!r} and {arg!r} both ask for the request "
                                        "body; take one model (nest the other in it)")
            optional = model is not inner
            if default is not REQUIRED and not (optional and default is None):
                raise RegistrationError(f"{where}: the body parameter {arg!r} can default to None only "
                                        f"(annotate it '{_type_name(model)} | None = None')")
            body = BodySpec(arg, model, default is REQUIRED, JSON_TYPES)
            continue
        if model is not None or _holds_model(inner):
            hint_body = "" if _is_model_type(inner) or model is not None else \
                f"; a request body is one model: for a JSON array or object take RootModel[{_type_name(inner)}]"
            raise RegistrationError(f"{where}: parameter {arg!r} is a {marker.location if marker else 'query'} "
                                    f"parameter, which holds text, not a model like {_type_name(inner)}{hint_body}")
        location: Location
        if marker is not None:
            location = marker.location  # type: ignore[assignment]
        elif arg in route.params:
            location = "path"
        else:
            location = "query"
        wire = marker.alias if marker is not None and marker.alias else \
            arg.replace("_", "-") if location == "header" else arg
        if location == "path":
            if wire not in route.params:
                raise RegistrationError(f"{where}: parameter {arg!r} is a path parameter, but the route has no "
                                        f"{{{wire}}}; its parameters: {', '.join(route.params) or 'none'}")
            if default is not REQUIRED:
                raise RegistrationError(f"{where}: path parameter {arg!r} is always in the path; drop its default")
        if location == "header":
            wire = wire.lower()
            if not wire or not all(c.isalnum() or c in "!#$%&'*+-.^_`|~" for c in wire):
                raise RegistrationError(f"{where}: {wire!r} is not a valid header name")
        key = (location, wire)
        if key in seen:
            raise RegistrationError(f"{where}: parameters {seen[key]!r} and {arg!r} both read {location} "
                                    f"{wire!r}")
        seen[key] = arg
        annotation = _rebuild(inner, extra) if raw is not None else str
        parameters.append(ParamSpec(wire, location, annotation, default, default is REQUIRED,
                                    marker.description if marker is not None else None, arg,
                                    location != "path" and _is_multi(inner)))
    if request_arg is None and not parameters and body is None and not args:
        raise RegistrationError(f"{where}: the handler must take the request or declare the parameters it reads")

    response = response_model if response_model is not None else _response_annotation(handler, namespace)
    accepted = tuple(content_types) if content_types is not None else (body.content_types if body else None)
    if body is not None and content_types is not None:
        body.content_types = accepted or ()
    return RouteSignature(request_arg, parameters, body, response, accepted)


def check_content_types(content_types: Iterable[str] | None, where: str) -> tuple[str, ...] | None:
    """``content_types`` as given to ``App``/``app.http``, checked: media types (``type/subtype``, ``*`` allowed
    as ``*/*``, ``type/*`` or ``type/*+suffix``), lower-cased."""
    if content_types is None:
        return None
    if isinstance(content_types, str):
        content_types = (content_types,)
    out = []
    for item in content_types:
        media = item.strip().lower() if isinstance(item, str) else ""
        kind, _, sub = media.partition("/")
        if not kind or not sub or ";" in media or " " in media or (kind == "*" and sub != "*"):
            raise RegistrationError(f"{where}: content type {item!r} must be a media type like "
                                    "'application/json', 'application/*+json', 'text/*' or '*/*'")
        out.append(media)
    if not out:
        raise RegistrationError(f"{where}: content_types is empty; give at least one media type, or '*/*'")
    return tuple(out)


def _defaults(handler: Callable[..., Any], args: tuple[str, ...], positional: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    values = getattr(handler, "__defaults__", None) or ()
    if values:
        for arg, value in zip(args[positional - len(values):positional], values, strict=True):
            out[arg] = value
    out.update(getattr(handler, "__kwdefaults__", None) or {})
    return out


def _evaluate(raw: Any, namespace: dict[str, Any]) -> Any:
    if isinstance(raw, str):
        return eval(raw, namespace)  # noqa: S307 - the user's own annotation, as typing.get_type_hints does
    return raw


def _unwrap(hint: Any) -> tuple[Any, _Marker | None, tuple[Any, ...]]:
    """(the type, the portafunc marker or None, the other ``Annotated`` metadata) of an annotation."""
    metadata = getattr(hint, "__metadata__", None)
    if metadata is None:
        return hint, None, ()
    markers = [m for m in metadata if isinstance(m, _Marker)]
    if len(markers) > 1:
        raise RegistrationError(f"annotation {hint!r} has {len(markers)} parameter markers; give one")
    return hint.__origin__, (markers[0] if markers else None), tuple(m for m in metadata
                                                                   if not isinstance(m, _Marker))


def _rebuild(inner: Any, extra: tuple[Any, ...]) -> Any:
    if not extra:
        return inner
    from typing import Annotated

    return Annotated.__class_getitem__((inner, *extra))  # type: ignore[attr-defined]


def _union_args(tp: Any) -> tuple[Any, ...] | None:
    """The members of ``X | Y`` / ``Optional[X]``, else None."""
    origin = getattr(tp, "__origin__", None)
    if type(tp).__name__ == "UnionType" or (origin is not None and getattr(origin, "_name", None) == "Union"):
        return tuple(tp.__args__)
    return None


def _is_model_type(tp: Any) -> bool:
    return isinstance(tp, type) and hasattr(tp, "model_validate_json")


def _holds_model(tp: Any) -> bool:
    """Whether a model stands anywhere in the type (``list[Model]``, ``dict[str, Model]``, ``Model | None``...):
    a query or header value is text, which none of these read."""
    return _is_model_type(tp) or any(_holds_model(arg) for arg in getattr(tp, "__args__", ()) or ()
                                     if not isinstance(arg, (str, int, float, bytes, bool)))


def _body_model(tp: Any) -> Any:
    """The model of a body parameter: ``Model`` or ``Model | None``; else None."""
    if _is_model_type(tp) and tp is not HttpRequest:
        return tp
    members = _union_args(tp)
    if members is not None and len(members) == 2 and type(None) in members:
        other = members[0] if members[1] is type(None) else members[1]
        if _is_model_type(other):
            return other
    return None


def _is_multi(tp: Any) -> bool:
    members = _union_args(tp)
    if members is not None:
        return any(_is_multi(m) for m in members if m is not type(None))
    origin = getattr(tp, "__origin__", None)
    if origin is not None and getattr(tp, "__metadata__", None) is not None:  # Annotated inside Optional
        return _is_multi(origin)
    if origin in _MULTI_ORIGINS or tp in _MULTI_ORIGINS:
        return True
    return origin is not None and getattr(origin, "__name__", "") in ("Sequence", "AbstractSet", "Set")


def _is_any(tp: Any) -> bool:
    return getattr(tp, "_name", None) == "Any" or repr(tp) in ("typing.Any", "typing_extensions.Any")


def _response_annotation(handler: Callable[..., Any], namespace: dict[str, Any]) -> Any:
    """The response model the return annotation names: a pydantic model or ``list[Model]``, alone or as the result
    of ``tuple[Model, Literal[201]]`` / ``tuple[Model, int]`` (the ``(result, status)`` a handler returns for another
    success status: the result is validated and serialised as the model all the same). Else None."""
    raw = (getattr(handler, "__annotations__", None) or {}).get("return")
    if raw is None:
        return None
    hint = _evaluate(raw, namespace)
    found = _model_or_list(hint)
    if found is None and getattr(hint, "__origin__", None) is tuple:
        args: tuple[Any, ...] = getattr(hint, "__args__", ())
        if len(args) == 2 and _status_annotation(args[1]):
            return _model_or_list(args[0])
    return found


def _model_or_list(hint: Any) -> Any:
    """``hint`` when it is a pydantic model or ``list[Model]``, else None."""
    if _is_model_type(hint):
        return hint
    args: tuple[Any, ...] = getattr(hint, "__args__", ())
    if getattr(hint, "__origin__", None) is list and len(args) == 1 and _is_model_type(args[0]):
        return hint
    return None


def _status_annotation(hint: Any) -> bool:
    """Whether ``hint`` is the status of a ``(result, status)`` return annotation: ``int``, or ``Literal`` of
    statuses 100-599 (as the OpenAPI document reads it: portafunc.openapi._with_status)."""
    if hint is int:
        return True
    values: tuple[Any, ...] = getattr(hint, "__args__", ())
    return getattr(getattr(hint, "__origin__", None), "_name", None) == "Literal" and bool(values) \
        and all(type(v) is int and 100 <= v <= 599 for v in values)


def returns_model(handler: Callable[..., Any]) -> bool:
    """Whether ``handler``'s return annotation makes a response model (cheap: for the registration fast path)."""
    raw = (getattr(handler, "__annotations__", None) or {}).get("return")
    if raw is None or raw in ("dict", "str", "None", "bytes", "HttpResponse", "Any", "dict[str, Any]"):
        return False
    return _response_annotation(handler, getattr(handler, "__globals__", {})) is not None


def _plain_field(name: str) -> bool:
    """Whether pydantic takes ``name`` as a field name as it is (no leading underscore, nothing of BaseModel's)."""
    return name.isidentifier() and not name.startswith(("_", "model_")) and name not in _MODEL_ATTRIBUTES


_MODEL_ATTRIBUTES = frozenset(("copy", "dict", "json", "parse_obj", "parse_raw", "parse_file", "from_orm",
                               "construct", "schema", "schema_json", "validate", "update_forward_refs", "fields"))


def _type_name(tp: Any) -> str:
    return tp.__name__ if isinstance(tp, type) else repr(tp).replace("typing.", "")


# -- filling a request -----------------------------------------------------------------------------------------

class _NeverRaised(Exception):
    """What a signature that validates nothing catches: no exception is one."""


class _Binder:
    """The per-request work of one signature: built on its first request (this is where pydantic is imported)."""

    __slots__ = ("request_arg", "query", "headers", "path", "validator", "fields", "renamed", "defaults_only",
                 "body", "body_validate", "content_types", "response", "response_validate", "response_dump",
                 "validation_error", "response_kept", "as_dict", "header_names",
                 "header_fields", "plain", "query_names", "first_fields", "planned_call", "planned_response",
                 "body_form")

    def __init__(self, sig: RouteSignature) -> None:
        self.validation_error: Any = _NeverRaised  # pydantic's ValidationError, once something is validated
        if sig.parameters or sig.response_model is not None:
            from pydantic import ValidationError

            self.validation_error = ValidationError
        self.request_arg = sig.request_arg
        # The validator's field per parameter: the handler's argument name itself when pydantic takes it as a field
        # name (its values are then the keyword arguments as they are), else p<i>.
        names = [p.arg if _plain_field(p.arg) else f"p{i}" for i, p in enumerate(sig.parameters)]
        self.renamed = {n: p.arg for n, p in zip(names, sig.parameters, strict=True) if n != p.arg}
        self.fields = dict(zip(names, sig.parameters, strict=True))
        # (field, wire name, multi) per location, read without a branch per parameter
        self.query = [(n, p.name, p.multi) for n, p in self.fields.items() if p.location == "query"]
        self.headers = [(n, p.name, p.multi) for n, p in self.fields.items() if p.location == "header"]
        self.path = [(n, p.name) for n, p in self.fields.items() if p.location == "path"]
        # the header parameters read from the native event (when none takes several values)
        single = not any(multi for _, _, multi in self.headers)
        self.header_names = tuple(wire for _, wire, _ in self.headers) if single else ()
        self.header_fields = tuple(field for field, _, _ in self.headers)
        self.validator: Any = None
        self.defaults_only: dict[str, Any] | None = None
        self.as_dict = False
        if sig.parameters:
            self.validator, self.as_dict = _parameters_validator(self.fields)
            if not any(p.required for p in sig.parameters):
                self.defaults_only = {p.arg: p.default for p in sig.parameters}
        self.body = sig.body
        self.body_validate = None
        if sig.body is not None:
            from .invoke import _validator

            self.body_validate = _validator(sig.body.model)
        # the form types the route declares for its typed body: such a body is read as a form into the model
        self.body_form = _FormBody.declared(sig.body) if sig.body is not None else None
        self.content_types = sig.content_types
        self.response = sig.response_model
        self.response_validate = self.response_dump = None
        if sig.response_model is not None:
            from pydantic import TypeAdapter

            adapter = TypeAdapter(sig.response_model)
            # the compiled validator and serializer themselves: TypeAdapter's wrappers cost as much as a small model
            self.response_validate = adapter.validator.validate_python
            self.response_dump = adapter.serializer.to_json
        self.response_kept = _kept_instances(sig.response_model)
        # the usual signature, read by _plain_arguments: parameters validated into a dict under their own names,
        # single-valued headers; no body, content types or request argument
        self.plain = self.validator is not None and self.as_dict and not self.renamed and self.body is None \
            and self.content_types is None and self.request_arg is None and len(self.header_names) == len(self.headers)
        # the usual signature's single-valued query and header parameters, read from a lazy request's native event
        # in one call (HttpFields.first_values) while the request's own query and headers are unread
        single_query = not any(multi for _, _, multi in self.query)
        self.query_names = tuple(wire for _, wire, _ in self.query)
        self.first_fields: tuple[str, ...] = (*(field for field, _, _ in self.query), *self.header_fields) \
            if self.plain and single_query and (self.query or self.headers) else ()
        # the usual signature's call and call_response as code built for it (params_plan), else None
        self.planned_call: Callable[[Callable[..., Any], HttpRequest], Any] | None = None
        self.planned_response: Callable[[Any, HttpRequest], HttpResponse] | None = None
        if self.plain:
            from . import params_plan

            self.planned_call = params_plan.build(self, params_plan.finish_call(self), self.call, False)
            self.planned_response = params_plan.build(self, params_plan.finish_response(self), self.call_response,
                                                      True)

    def arguments(self, req: HttpRequest) -> dict[str, Any]:
        if self.content_types is not None and (req.body or "content-type" in req.headers):
            _check_content_type(req, self.content_types)
        errors: list[dict[str, Any]] | None = None
        kwargs: dict[str, Any]
        validator = self.validator
        if validator is None:
            kwargs = {}
        else:
            raw: dict[str, Any] = {}
            if self.query:
                self._put_query_params(req, raw)
            found = None
            if self.header_names and req._headers is _UNREAD:
                found = req._fields.header_values(req.native, self.header_names)  # no Headers built
            if found is not None:
                for field, value in zip(self.header_fields, found, strict=True):
                    if value is not None:
                        raw[field] = value
            elif self.headers:
                headers = req.headers
                for field, wire, multi in self.headers:
                    if multi:
                        several = headers.get_all(wire)
                        if several:
                            raw[field] = several
                    else:
                        value = headers.get(wire)
                        if value is not None:
                            raw[field] = value
            if self.path:
                self._put_path_params(req, raw)
            if not raw and self.defaults_only is not None:
                kwargs = dict(self.defaults_only)
            else:
                try:
                    validated = validator.validate_python(raw)
                    # a model instance's own dict (not kept); a dict without the parameters left to their defaults,
                    # which the handler's own defaults fill (the same objects)
                    kwargs = validated if self.as_dict else validated.__dict__
                except self.validation_error as exc:
                    kwargs, errors = {}, self._param_errors(exc)
                else:
                    if self.renamed:
                        kwargs = {self.renamed.get(k, k): v for k, v in kwargs.items()}
        if self.request_arg is not None:
            kwargs[self.request_arg] = req
        body = self.body
        if body is not None:
            if not req.body and not body.required:
                kwargs[body.arg] = None
            else:
                data: Any
                form = self.body_form  # None unless the route declares a form type: JSON pays one test
                if form is None or (fields := form.read(req)) is None:
                    data, validate = req.body, self.body_validate
                    if b"NaN" in data or b"Infinity" in data:
                        refuse_non_finite(data)  # pydantic takes NaN/Infinity as floats; JSON has neither
                else:  # sent as a declared form type: its fields by name, validated into the model
                    data, validate = fields, form.validate
                try:
                    kwargs[body.arg] = validate(data)  # type: ignore[misc]
                except ValueError as exc:
                    errors_fn = getattr(exc, "errors", None)
                    if errors_fn is None:
                        raise
                    body_errors = [{"in": "body", "loc": list(e.get("loc", ())), "msg": e.get("msg", ""),
                                    "type": e.get("type", "")} for e in errors_fn(include_url=False)]
                    if not errors:
                        raise PayloadValidationError(f"request body does not match {_type_name(body.model)}: "
                                                     f"{len(body_errors)} error(s)", body_errors) from None
                    errors.extend(body_errors)
        if errors:
            raise _refusal(errors)
        return kwargs

    def _plain_arguments(self, req: HttpRequest) -> dict[str, Any]:
        """:meth:`arguments` for the usual signature (see ``plain``): the same arguments or the same refusal, without
        the steps such a signature skips."""
        raw: dict[str, Any] = {}
        found: list[str | None] | None = None
        if self.first_fields and req._query is _UNREAD and req._headers is _UNREAD:
            # (mypy narrows the marker to the query's type after the first test, and then finds the second false)
            found = req._fields.first_values(req.native, self.query_names, self.header_names)  # type: ignore[unreachable]
        if found is not None:
            # (zip without strict=: one value per name by first_values' contract, and the keyword costs 0.1 µs)
            if None in found:
                for field, value in zip(self.first_fields, found):  # noqa: B905
                    if value is not None:
                        raw[field] = value
            else:  # every one given: the same dict, built in one call
                raw = dict(zip(self.first_fields, found))  # noqa: B905
        else:
            if self.query:
                self._put_query_params(req, raw)
            if self.header_names:
                found = req._fields.header_values(req.native, self.header_names) if req._headers is _UNREAD else None
                if found is None:
                    found = list(map(req.headers.get, self.header_names))
                for field, value in zip(self.header_fields, found, strict=True):
                    if value is not None:
                        raw[field] = value
        path = self.path
        if path:  # _put_path_params, inline
            params = req._path_params  # what the router set, as a rule
            if params is _UNREAD:
                params = req.path_params
            for field, wire in path:
                value = params.get(wire)
                if value is not None:
                    raw[field] = value
        if not raw and self.defaults_only is not None:
            return dict(self.defaults_only)
        try:
            return self.validator.validate_python(raw)  # type: ignore[no-any-return]
        except self.validation_error as exc:
            errors = self._param_errors(exc)
        if errors:
            raise _refusal(errors)
        return {}

    def _put_query_params(self, req: HttpRequest, raw: dict[str, Any]) -> None:
        """The query parameters this handler takes, into ``raw`` by field name (a list for a list parameter)."""
        query = req._query  # a lazy request's map once read, else the marker: read it as the property does
        if query is _UNREAD:
            query = req._query = req._fields.query(req.native)
        for field, wire, multi in self.query:
            values = query.get(wire)
            if values:
                raw[field] = values if multi else values[0]

    def _put_path_params(self, req: HttpRequest, raw: dict[str, Any]) -> None:
        """The route's path parameters this handler takes, into ``raw`` by field name."""
        path = req._path_params  # what the router set, as a rule
        if path is _UNREAD:
            path = req.path_params
        for field, wire in self.path:
            value = path.get(wire)
            if value is not None:
                raw[field] = value

    def _param_errors(self, exc: Any, fields_at: dict[Any, str] | None = None) -> list[dict[str, Any]]:
        """The 400's errors for the parameters' ``ValidationError``. ``fields_at``: the field of each location's
        first part when the values were validated under other keys (the request plan's tuple positions); the errors
        are then put in the fields' order, the order this binder's own validator gives them."""
        found: list[tuple[str, dict[str, Any]]] = []
        for e in exc.errors(include_url=False):
            loc = list(e.get("loc", ()))
            field = (loc[0] if fields_at is None else fields_at.get(loc[0])) if loc else None
            spec = self.fields.get(field) if field is not None else None
            if field is None or spec is None:
                continue
            found.append((field, {"in": spec.location, "loc": [spec.name, *loc[1:]], "msg": e.get("msg", ""),
                                  "type": e.get("type", "")}))
        if fields_at is not None:
            rank = {field: i for i, field in enumerate(self.fields)}
            found.sort(key=lambda pair: rank[pair[0]])  # stable: one parameter's errors keep pydantic's order
        return [error for _, error in found]

    def call(self, handler: Callable[..., Any], req: HttpRequest) -> Any:
        """``handler(**arguments(req))``, its result made the response by :meth:`respond` when the route has a
        response model and it is no ``HttpResponse``: the typed lane's one call per request."""
        value = handler(**(self._plain_arguments(req) if self.plain else self.arguments(req)))
        if value.__class__ is self.response_kept:  # what validating it gives: this very instance (None: no model)
            return json_response(200, self.response_dump(value))  # type: ignore[misc]
        if self.response_dump is None or isinstance(value, HttpResponse):
            return value
        return self.respond(value)

    def call_response(self, spec: Any, req: HttpRequest) -> HttpResponse:
        """:meth:`call`'s result for ``spec.handler`` as the response ``to_response`` makes of it (what a
        middleware's ``call_next`` gives), in the same one call."""
        value = spec.handler(**(self._plain_arguments(req) if self.plain else self.arguments(req)))
        if value.__class__ is self.response_kept:  # what validating it gives: this very instance (None: no model)
            return json_response(200, self.response_dump(value))  # type: ignore[misc]
        if self.response_dump is not None and not isinstance(value, HttpResponse):
            return self.respond(value)  # type: ignore[no-any-return]
        return value if value.__class__ is HttpResponse else _to_response(value)

    def respond(self, value: Any) -> Any:
        if value.__class__ is self.response_kept:  # what validating it gives: this very instance
            return json_response(200, self.response_dump(value))  # type: ignore[misc]
        status = 200
        if isinstance(value, tuple) and len(value) == 2 and isinstance(value[1], int):
            value, status = value
            if status.__class__ is not int or not 99 < status < 600:
                status = checked_status(status)  # an IntEnum as its int; else InvalidStatus, the function's failure
        if value.__class__ is self.response_kept:
            checked = value
        else:
            checked = self._checked(value)
        return json_response(status, self.response_dump(checked))  # type: ignore[misc]

    def _checked(self, value: Any) -> Any:
        try:
            return self.response_validate(value, from_attributes=True)  # type: ignore[misc]
        except self.validation_error as exc:
            failures = [f"{'.'.join(str(p) for p in e.get('loc', ())) or '(root)'} ({e.get('type', '')})"
                        for e in exc.errors(include_url=False)]
            raise ResponseValidationError(
                f"the handler's result does not match its response model {_type_name(self.response)}: "
                f"{len(failures)} error(s): {', '.join(failures[:10])}") from None


class _FormBody:
    """How a typed body sent as a form (``application/x-www-form-urlencoded`` or ``multipart/form-data``, when the
    route's ``content_types`` admit it, by the rules of the content-type check: ``multipart/*`` or ``*/*`` too)
    becomes the model's input: each field by its name (or alias), a list field taking every value of a repeated
    name, a ``bytes`` field an uploaded file's bytes and an ``UploadedFile`` field the file itself; names the model
    does not declare are passed too (its ``extra`` setting decides). Validated in pydantic's lax mode, as text ("36"
    for an int).

    A single-valued field sent empty (``name=``), and a file input sent without a file (a part with an empty
    filename and no data), count as not sent: the field takes its default, or is reported missing when it has
    none. A browser sends every text input of a form, ``""`` when it is left blank, and a file input even when no
    file is chosen, so an empty value says "not filled in" rather than "the empty string"; FastAPI and Starlette
    read form fields the same way (an ``Optional[str] = None`` field left blank is None, not ``""``; a required
    ``int`` field left blank is "missing", not "not an integer"). A JSON body still sends ``""`` as such. A list
    field keeps its empty text values (as FastAPI does): repeated fields are often read side by side, row by row,
    and dropping a blank one would shift the rows after it; only its file inputs without a file are dropped."""

    __slots__ = ("media", "fields", "names", "validate")

    def __init__(self, model: Any, media: tuple[str, ...]) -> None:
        self.media = media
        self.validate = model.model_validate
        self.fields: list[tuple[str, bool, str]] = []  # (name on the wire, multi, "text" | "bytes" | "file")
        for name, info in (getattr(model, "model_fields", None) or {}).items():
            alias = info.validation_alias if isinstance(info.validation_alias, str) else info.alias
            self.fields.append((alias or name, _is_multi(info.annotation), _form_kind(info.annotation)))
        self.names = frozenset(wire for wire, _, _ in self.fields)

    @classmethod
    def declared(cls, body: BodySpec) -> _FormBody | None:
        from .forms import FORM_TYPES

        # matched as _check_content_type matches a request's type: a form type the route accepts is read as a form
        media = tuple(media for media in FORM_TYPES if media_type_matches(media, body.content_types))
        return cls(body.model, media) if media else None

    def read(self, req: HttpRequest) -> dict[str, Any] | None:
        """The model's input from ``req``'s form body, or None when the request is not sent as a declared form
        type (it is then read as JSON)."""
        header = req.headers.get("content-type") or ""
        if header.split(";", 1)[0].strip().lower() not in self.media:
            return None
        from .forms import parse_form

        form = parse_form(req)
        raw: dict[str, Any] = {}
        for wire, multi, kind in self.fields:
            files = form.files.get(wire) if kind != "text" else None
            if files:  # a file input left without a file: not sent
                files = [f for f in files if f.filename or f.data]
            values: list[Any] | None = ([f.data for f in files] if kind == "bytes" else files) if files \
                else form.fields.get(wire)
            if values:
                if multi:
                    raw[wire] = values
                elif values[0] != "":  # a field left blank: not sent (its default, or "missing")
                    raw[wire] = values[0]
        for name in form:
            if name not in self.names:
                sent: list[Any] = [*form.fields.get(name, ()), *form.files.get(name, ())]
                raw[name] = sent if len(sent) > 1 else sent[0]
        return raw


def _form_kind(tp: Any, depth: int = 0) -> str:
    """What a form field of type ``tp`` takes from an uploaded file: "bytes" (its data), "file" (the
    ``UploadedFile``) or "text" (no file: the text value)."""
    from .forms import UploadedFile

    if tp is bytes:
        return "bytes"
    if isinstance(tp, type) and issubclass(tp, UploadedFile):
        return "file"
    inner = (getattr(tp, "__origin__", None), *getattr(tp, "__args__", ()))
    kinds = {_form_kind(a, depth + 1) for a in inner if a is not None and a is not tp} if depth < 4 else set()
    return "file" if "file" in kinds else "bytes" if "bytes" in kinds else "text"


def _parameters_validator(fields: dict[str, ParamSpec], as_dict: bool = True) -> tuple[Any, bool]:
    """One validator for every parameter of a route, and whether it gives a dict (else a model instance).

    A TypedDict of the parameters (those with a default not required) validates into a plain dict, three times
    faster than a model; the parameters it leaves out take the handler's own defaults, the objects a model would
    give, when every default is a value pydantic hands over as it is (None, numbers, text, bytes, enum members) —
    a model copies a mutable default per instance. Else (or ``as_dict=False``) a model of the parameters."""
    from pydantic import ConfigDict

    config = ConfigDict(arbitrary_types_allowed=True)
    if as_dict and all(_kept_default(p.default) for p in fields.values() if not p.required) \
            and not any(_field_default(p.annotation) for p in fields.values()):
        try:
            from pydantic import TypeAdapter
            from typing_extensions import NotRequired, TypedDict

            members = {n: p.annotation if p.required else NotRequired[p.annotation] for n, p in fields.items()}
            shape: Any = TypedDict("Parameters", members)  # type: ignore[misc]
            setattr(shape, "__pydantic_config__", config)  # noqa: B010 - how pydantic reads a TypedDict's config
            return TypeAdapter(shape).validator, True
        except Exception:  # noqa: BLE001 - a type a TypedDict cannot take: the model takes it as before
            pass
    from pydantic import create_model

    definitions: dict[str, Any] = {n: (p.annotation, ... if p.required else p.default) for n, p in fields.items()}
    model = create_model("Parameters", __config__=config, **definitions)
    return model.__pydantic_validator__, False


def _field_default(annotation: Any, depth: int = 0) -> bool:
    """Whether a pydantic ``Field`` with a default or default factory appears anywhere in ``annotation``."""
    from pydantic.fields import FieldInfo
    from pydantic_core import PydanticUndefined

    for meta in getattr(annotation, "__metadata__", ()):
        if isinstance(meta, FieldInfo) and (meta.default is not PydanticUndefined or meta.default_factory is not None):
            return True
    inner = (getattr(annotation, "__origin__", None), *getattr(annotation, "__args__", ()))
    return depth < 8 and any(_field_default(a, depth + 1) for a in inner if a is not None and a is not annotation)


def _kept_default(value: Any) -> bool:
    from enum import Enum

    return value is None or value.__class__ in (bool, int, float, str, bytes) or isinstance(value, Enum)


def _kept_instances(model: Any) -> Any:
    """``model`` when validating an instance of exactly that class gives the instance itself (a model whose
    instances are not revalidated, pydantic's default: its validators ran when it was built), else None."""
    schema = getattr(model, "__pydantic_core_schema__", None) if isinstance(model, type) else None
    try:
        config = schema.get("config") or {}  # type: ignore[union-attr]
        if schema["type"] == "model" and config.get("revalidate_instances", "never") == "never":  # type: ignore[index]
            return model
    except Exception:  # noqa: BLE001 - a schema not built yet, or of another form: validated as always
        pass
    return None


def _refusal(errors: list[dict[str, Any]]) -> PayloadValidationError:
    """The 400 of a request whose parameters (or body) failed validation, naming where."""
    failed = sorted({f"{e['in']} {e['loc'][0]}" if e["in"] != "body" else "body" for e in errors})
    failure = PayloadValidationError(f"{len(errors)} error(s) in {', '.join(failed)}", errors)
    failure.title = "Request failed validation"
    return failure


def _to_response(value: Any) -> HttpResponse:
    global _to_response
    from .invoke import to_response

    _to_response = to_response  # the import, once
    return to_response(value)


def _check_content_type(req: HttpRequest, accepted: tuple[str, ...]) -> None:
    header = req.headers.get("content-type") or ""
    media = header.split(";", 1)[0].strip().lower()
    if media and media_type_matches(media, accepted):
        return
    what = f"content type {media!r}" if media else "no content type"
    raise BadRequest(f"the request body has {what}; this route accepts {', '.join(accepted)}", status=415,
                     title="Unsupported Media Type")


def media_type_matches(media: str, accepted: tuple[str, ...]) -> bool:
    """Does ``media`` (``type/subtype``, lower case, no parameters) match one of ``accepted`` (``*/*``,
    ``type/*``, ``type/*+suffix`` or exact)?"""
    kind, _, sub = media.partition("/")
    for pattern in accepted:
        if pattern == media or pattern == "*/*":
            return True
        p_kind, _, p_sub = pattern.partition("/")
        if p_kind != kind:
            continue
        if p_sub == "*":
            return True
        if p_sub.startswith("*+") and sub.endswith(p_sub[1:]):
            return True
    return False


__all__ = ["Query", "Header", "Path", "ParamSpec", "BodySpec", "RouteSignature", "ResponseValidationError",
           "JSON_TYPES", "REQUIRED", "route_parameters", "route_signature", "read_signature"]
