"""A typed route's request, bound by code built for that route: the usual signature (path, query and header scalars,
no body, no request argument) read, validated and called with its names and sources as constants.

:class:`portafunc.params._Binder` reads any signature by walking its parameters and validates them into a
``TypedDict`` (the handler then takes ``**kwargs``). For the usual request, every parameter sent once as text, the
plan built here does the same work as one function generated per route: the query and header values from the native
event in one call (``HttpFields.first_values``), the path values from the router's map, ONE validation of them all as
a tuple (the validator a hand-written handler would use: the same annotations, so the same values), and the handler
called with keyword arguments written out. A value that fails that validation is refused with the binder's own 400
(its errors mapped from tuple positions back to the parameters, in the binder's order): a request is validated once,
so a validator with side effects runs once and a refusal costs one validation. Anything else — a value missing (a
default to fill), several values, a request whose query or headers were read already — is handed to the binder's
general path, which reads the request again and gives the answer or the 400 it always gives: the plan is a shortcut
for the answers that path gives, never a second definition of them (``tests/aws/test_params_plan.py`` runs both on
the same requests).
"""

from __future__ import annotations

import itertools
import keyword

from .events import _UNREAD, Headers, HttpResponse

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable

    from .params import ParamSpec, _Binder


def plannable(binder: _Binder) -> bool:
    """Whether the binder's signature is the usual one the plan takes (see the module's docstring)."""
    if not binder.plain or binder.validator is None:
        return False
    if (binder.query or binder.headers) and len(binder.first_fields) != len(binder.query) + len(binder.headers):
        return False
    specs = list(binder.fields.values())
    return all(p.arg.isidentifier() and not keyword.iskeyword(p.arg) and not p.multi and _tuple_safe(p.annotation)
               for p in specs)


def _tuple_safe(annotation: Any) -> bool:
    """A field annotation that validates the same in a tuple as in the binder's ``TypedDict``: no pydantic ``Field``
    naming another key (an alias reads another key of the dict) or carrying a default (the dict then fills it)."""
    from pydantic.fields import FieldInfo
    from pydantic_core import PydanticUndefined

    for meta in getattr(annotation, "__metadata__", ()):
        if isinstance(meta, FieldInfo) and (meta.alias is not None or meta.validation_alias is not None
                                            or meta.default is not PydanticUndefined
                                            or meta.default_factory is not None):
            return False
    return True


def build(binder: _Binder, finish: Callable[[Any], Any], general: Callable[[Any, Any], Any],
          from_spec: bool) -> Callable[[Any, Any], Any] | None:
    """``plan(handler_or_spec, req)``: the binder's ``call`` (``from_spec`` False: ``plan(handler, req)``) or
    ``call_response`` (True: ``plan(spec, req)``, the handler read from ``spec.handler`` per call), generated for
    this signature; ``general`` is that same method of the binder, called for every request the plan does not take;
    ``finish(value)`` makes the answer of a handler result that is not an instance of exactly the response model.
    None when the signature is not one the plan takes (or a tuple of its types cannot be validated)."""
    if not plannable(binder):
        return None
    from pydantic import ConfigDict, TypeAdapter

    firsts: list[ParamSpec] = [binder.fields[f] for f in binder.first_fields]
    paths: list[ParamSpec] = [binder.fields[f] for f, _ in binder.path]
    ordered = [*firsts, *paths]  # the tuple's positions: its fields are these
    ordered_fields = [*binder.first_fields, *(f for f, _ in binder.path)]
    try:
        validate = TypeAdapter(tuple[tuple(p.annotation for p in ordered)],  # type: ignore[misc]
                               config=ConfigDict(arbitrary_types_allowed=True)).validator.validate_python
    except Exception:  # noqa: BLE001 - a type a tuple cannot take: the binder's general path takes it
        return None
    names = [f"a{i}" for i in range(len(ordered))]
    namespace: dict[str, Any] = {
        "UNREAD": _UNREAD, "GENERAL": general, "FINISH": finish, "VALIDATE": validate,
        "FAILED": binder.validation_error, "REFUSAL": refusal(binder, ordered_fields),
        "KEPT": binder.response_kept, "DUMP": binder.response_dump,
        "NEW": object.__new__, "HEADERS_CLASS": Headers, "RESPONSE_CLASS": HttpResponse, "JSON_ITEM": ("Content-Type", "application/json"),
        "QUERY": binder.query_names, "HEADERS": binder.header_names,
        **{f"W{i}": wire for i, (_, wire) in enumerate(binder.path)},
    }
    head = "spec" if from_spec else "handler"
    lines = [f"def plan({head}, req):"]
    indent = "    "
    if firsts:
        lines += [f"{indent}if req._query is UNREAD and req._headers is UNREAD:",
                  f"{indent}    fields = req._fields",  # the codec's reader of these names, kept per codec
                  f"{indent}    read = READERS.get(fields) or READER(fields)",
                  f"{indent}    found = read(req.native)",
                  f"{indent}    if found is not None and None not in found:"]
        indent += "        "
        readers: dict[Any, Callable[[Any], Any]] = {}
        namespace["READERS"] = readers
        query, headers = binder.query_names, binder.header_names

        def reader(fields: Any) -> Callable[[Any], Any]:
            read = fields.first_values_reader(query, headers)
            if len(readers) < 16:
                readers[fields] = read
            return read

        namespace["READER"] = reader
    raw = [f"found[{i}]" for i in range(len(firsts))]
    if paths:
        lines += [f"{indent}params = req._path_params",
                  f"{indent}if params is not UNREAD:"]
        indent += "    "
        for i in range(len(paths)):
            lines.append(f"{indent}p{i} = params.get(W{i})")
        lines.append(f"{indent}if {' and '.join(f'p{i} is not None' for i in range(len(paths)))}:")
        indent += "    "
        raw += [f"p{i}" for i in range(len(paths))]
    handler = "spec.handler" if from_spec else "handler"
    call = ", ".join(f"{p.arg}={n}" for p, n in zip(ordered, names, strict=True))
    lines += [f"{indent}try:",
              f"{indent}    {', '.join(names)}, = VALIDATE(({', '.join(raw)},))",
              f"{indent}except FAILED as exc:",
              f"{indent}    failure = REFUSAL(exc)",  # raised below, outside the except block, as the binder raises it
              f"{indent}else:",
              f"{indent}    value = {handler}({call})",
              f"{indent}    if value.__class__ is KEPT:",
              # events.json_response(200, DUMP(value)) written out: one frame less on the usual answer
              f"{indent}        body = DUMP(value)",
              f"{indent}        headers = NEW(HEADERS_CLASS)",
              f"{indent}        headers._items = [JSON_ITEM]",
              f"{indent}        headers._sendable = True",
              f"{indent}        resp = NEW(RESPONSE_CLASS)",
              f"{indent}        resp.status = 200",
              f"{indent}        resp.headers = headers",
              f"{indent}        resp.body = body",
              f"{indent}        return resp",
              f"{indent}    return FINISH(value)",
              f"{indent}if failure is not None:",  # else an error no parameter's: the general path validates
              f"{indent}    raise failure",
              f"    return GENERAL({head}, req)"]
    source = "\n".join(lines) + "\n"
    name = f"<portafunc request plan {next(_numbers)}: {', '.join(p.arg for p in binder.fields.values())}>"
    exec(compile(source, name, "exec"), namespace)
    import linecache

    # the source of the plan's frame in a logged traceback (the line that called the handler), as for a file's; a
    # modification time of None: linecache.checkcache keeps the entry
    linecache.cache[name] = (len(source), None, source.splitlines(True), name)
    plan: Callable[[Any, Any], Any] = namespace["plan"]
    return plan


_numbers = itertools.count(1)  # each plan's own name: a traceback's place and its source lines are that plan's


def refusal(binder: _Binder, ordered: list[str]) -> Callable[[Any], Exception | None]:
    """``refusal(exc)``: the binder's 400 for the tuple validation's ``ValidationError``, each error's tuple
    position (``ordered``: the field at each) mapped back to its parameter and the errors in the binder's order, so
    the problem and its log line are the general path's. None when an error's location names no position (an error
    dropped would leave a 400 saying less than the general path's, or none): the plan then hands the request to the
    general path, which validates it with its own validator."""
    from .params import _refusal

    fields_at = dict(enumerate(ordered))

    def refuse(exc: Any) -> Exception | None:
        errors = binder._param_errors(exc, fields_at)
        return _refusal(errors) if errors and len(errors) == exc.error_count() else None

    return refuse


def finish_call(binder: _Binder) -> Callable[[Any], Any]:
    """What ``_Binder.call`` does with a handler result that is not an instance of exactly the response model."""
    dump, respond = binder.response_dump, binder.respond

    def finish(value: Any) -> Any:
        if dump is None or isinstance(value, HttpResponse):
            return value
        return respond(value)

    return finish


def finish_response(binder: _Binder) -> Callable[[Any], Any]:
    """What ``_Binder.call_response`` does with a handler result that is not an instance of exactly the response
    model: the response ``to_response`` makes of it."""
    dump, respond = binder.response_dump, binder.respond

    def finish(value: Any) -> Any:
        if dump is not None and not isinstance(value, HttpResponse):
            return respond(value)
        if value.__class__ is HttpResponse:
            return value
        from .invoke import to_response

        return to_response(value)

    return finish
