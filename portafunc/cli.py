"""``portafunc`` — the command line. Exit codes: 0 ok, 1 failure at run time, 2 bad input or usage."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

from . import __version__
from .errors import PortafuncError

if TYPE_CHECKING:
    from .app import App, FunctionSpec
    from .events import HttpRequest


def _read_json(path: str) -> Any:
    """The JSON document in ``path`` (``-``: stdin); anything unreadable or malformed is a one-line CliError."""
    try:
        raw = sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror}") from exc
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CliError(f"{path} is not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start})") from None
    if not text.strip():  # e.g. the command piped into this one failed and printed nothing
        raise CliError(f"{'standard input' if path == '-' else path} is empty: expected a JSON document")
    try:
        return json.loads(text)
    except RecursionError:
        raise CliError(f"{path} is JSON nested too deeply to read") from None
    except ValueError as exc:
        raise CliError(f"{path} is not JSON: {exc}") from None


class CliError(Exception):
    """A usage or input problem: printed as one line, exit code 2."""


def _print_json(value: Any) -> None:
    """Print ``value`` as JSON. Text that is not valid Unicode (a lone surrogate, which JSON input can carry as
    ``"\\udcff"``) cannot be written to a strict UTF-8 stdout: that is a CliError, not a traceback."""
    try:
        text = json.dumps(value, indent=2, ensure_ascii=False) + "\n"
    except RecursionError:
        raise CliError("the result is nested too deeply to print") from None
    except (TypeError, ValueError) as exc:
        raise CliError(f"the result cannot be printed as JSON: {exc}") from None
    encoding = getattr(sys.stdout, "encoding", None) or "utf-8"
    errors = getattr(sys.stdout, "errors", None) or "strict"
    try:
        text.encode(encoding, errors)
    except UnicodeEncodeError as exc:
        raise CliError(f"the result holds {exc.object[exc.start:exc.end]!a}, which {encoding} output cannot "
                       "carry (not valid Unicode text); the input is malformed") from None
    except LookupError:
        pass
    sys.stdout.write(text)


# -- commands ----------------------------------------------------------------------------------------------------

def cmd_targets(args: argparse.Namespace) -> int:
    from .targets import available, distributions

    installed = available()
    dists = distributions()
    if not installed:
        print("no target installed: install a target distribution (portafunc-<target>)", file=sys.stderr)
        return 1
    width = max(len(name) for name in installed)
    dwidth = max(len(dists.get(name, "?")) for name in installed)
    for name in sorted(installed):
        print(f"{name:{width}}  {dists.get(name, '?'):{dwidth}}  {installed[name]}")
    return 0


def _installed_target(name: str) -> str:
    """``--target`` of package, run and inspect: any installed target; anything else is a usage error naming the
    installed ones (a target is found through its entry point, so the parser cannot list them as choices)."""
    from .targets import available

    installed = sorted(available())
    if name not in installed:
        raise argparse.ArgumentTypeError(f"{name!r} is not an installed target; installed: "
                                         f"{', '.join(installed) or 'none'}")
    return name


def cmd_events_decode(args: argparse.Namespace) -> int:
    from .targets import get_target

    target = get_target(args.target)
    native = _read_json(args.file)
    events = _decode(target, native, args.file)
    try:
        neutral = [e.to_dict(context=True) for e in events]
    except PortafuncError:
        raise
    except Exception as exc:  # noqa: BLE001 - malformed input is exit 2 with one line, whatever it broke
        raise _undecodable(target, args.file, exc) from None
    _print_json({"target": target.name, "events": neutral})
    return 0


def _decode(target: Any, native: Any, source: str) -> list[Any]:
    """``native`` as the target's own decoding reads it (``portafunc events decode``): its neutral events. A malformed
    event is a one-line CliError (PortafuncError as raised)."""
    try:
        return list(target.decode(native))
    except PortafuncError:
        raise
    except Exception as exc:  # noqa: BLE001 - malformed input is exit 2 with one line, whatever it broke
        raise _undecodable(target, source, exc) from None


def _undecodable(target: Any, source: str, exc: Exception) -> CliError:
    return CliError(f"cannot decode {source} as a {target.name} event: {type(exc).__name__}: {_first_line(exc)}")


def _first_line(exc: BaseException) -> str:
    try:
        text = str(exc)
    except Exception:  # noqa: BLE001
        return "(no message)"
    return (text.splitlines() or [""])[0][:300]


def cmd_events_new(args: argparse.Namespace) -> int:
    from .targets import get_target

    target = get_target(args.target)
    data = None
    if args.data:
        try:
            data = json.loads(args.data)
        except ValueError as exc:
            raise CliError(f"--data is not JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise CliError("--data must be a JSON object with the neutral event's fields")
    _print_json(target.new_event(args.trigger, data))
    return 0


def cmd_invoke(args: argparse.Namespace) -> int:
    from .loader import load_app
    from .targets import get_target

    from .loader import resolve_ref
    from .runner.settings import apply_app_env

    target = get_target(args.target)
    early = apply_app_env(resolve_ref(args.app)[0], getattr(args, "stage", None))  # before the import, as deployed
    app, project, ref = load_app(args.app)
    spec = app.function(args.function)
    native = _read_json(args.event)
    kind = target.native_kind(native)
    refused_kind = None if kind is None else kind.refusal(spec)
    if refused_kind is not None:  # an event of another kind: the function would never receive it there
        raise refused_kind
    if spec.kind == "http":
        refused = _route_refusal(app, spec, _http_requests(target, native, args.event))
        if refused is not None:
            raise CliError(refused)
    _apply_settings(app, spec, project, getattr(args, "stage", None), early)
    _bind_local(app, project, ref)
    with contextlib.redirect_stdout(sys.stderr):  # the function's print() is a log line: stdout is the answer only
        answer = target.invoke(app, args.function, native)
    _print_json(answer)
    failed = function_failed(answer, http=app.function(args.function).kind == "http")
    if failed:
        print(f"portafunc: the function failed: {failed}", file=sys.stderr)
        return 1
    return 0


def _http_requests(target: Any, native: Any, source: str) -> list[HttpRequest]:
    """The HTTP requests ``native`` holds as the target decodes it; none when it holds anything else, or cannot be
    decoded: the target's invoke then reports that in its own words, as it always has."""
    from .events import HttpRequest

    try:
        events = _decode(target, native, source)
    except (CliError, PortafuncError):
        return []
    return [e for e in events if isinstance(e, HttpRequest)] if len(events) == 1 else []


def _route_refusal(app: App, spec: FunctionSpec, requests: list[HttpRequest]) -> str | None:
    """Why the HTTP function ``spec`` would never receive ``requests`` (decoded from the event given to invoke), or
    None. Decided by the app's own routing (``App.route``, HEAD served by every GET route): the request must route
    to ``spec``. A CORS preflight of a path ``spec``'s route matches is taken whatever method it asks for: it is
    answered for the whole path by the policy covering it, on every target, and the function does not run."""
    from . import cors
    from .app import HttpTrigger
    from .invoke import match_request
    from .routing import slash_escaped

    trigger = spec.trigger
    assert isinstance(trigger, HttpTrigger)
    route = trigger.route
    for req in requests:
        path = slash_escaped(req._raw_path) or req.path
        own = route.match(path) is not None
        if own and cors.is_preflight(req) and cors.preflight_target(app, req, spec.name) is not None:
            continue
        found = match_request(app, req)[0]
        if found is spec:
            continue
        takes = ", ".join(trigger.methods)
        routes = " or ".join(f"{takes} {template}" for template in (route.template, route.bare) if template)
        why = f"the event is {req.method} {req.path}; function {spec.name} takes {routes}"
        if found is not None:
            why += f" (the app routes this event to function {found.name})"
        elif own and cors.is_preflight(req):
            why += " (a CORS preflight, and no CORS policy covers this path)"
        return why
    return None


def _apply_settings(app: App, spec: FunctionSpec, project: Path, stage: str | None, early: set[str]) -> None:
    """Apply the configuration file's ``env`` for ``spec`` (the app, function and ``stage`` layers) as ``portafunc
    run`` does, with the runner's own code: a variable already set in the environment wins. The variables applied and
    kept are named on stderr (never a value); stdout stays the answer."""
    from .runner.settings import apply_local_settings

    for line in apply_local_settings(app, project, stage, functions=[spec], name_kept=True, early=early):
        print(f"portafunc invoke: {line}", file=sys.stderr, flush=True)


def _bind_local(app: Any, project: Path, ref: str) -> None:
    """Bind the app's declared resources as ``portafunc run`` does (the runner's own code): every one the environment
    does not bind gets a ``memory://`` stand-in; say which on stderr, in the runner's words. stdout stays the answer."""
    from .runner.bindings import bind_memory

    bindings = bind_memory(app, project)
    if not bindings:
        return
    lines = [f"portafunc invoke: app {app.name!r} ({ref} in {project})"]
    lines += [f"  {b.describe()}" for b in bindings]
    if any(b.ours for b in bindings):
        lines.append("  note: memory:// lives in this process: what the function keeps there is gone when invoke "
                     "exits")
    print("\n".join(lines), file=sys.stderr, flush=True)


def function_failed(answer: Any, *, http: bool) -> str | None:
    """Why the native ``answer`` of ``Target.invoke`` means the function failed, or None: an HTTP 5xx (any 4xx/5xx
    for an event function: its event is refused and the platform redelivers it), a non-empty list of failed batch
    items, an error the runtime would raise, or a message the host would redeliver or poison."""
    if isinstance(answer, list):
        for item in answer:
            why = function_failed(item, http=http)
            if why:
                return why
        return None
    if not isinstance(answer, dict):
        return None
    status = answer.get("statusCode", answer.get("status_code"))
    if isinstance(status, int) and not isinstance(status, bool) and status >= (500 if http else 400):
        return f"HTTP {status}"
    failures = answer.get("batchItemFailures")
    if failures:
        ids = [f.get("itemIdentifier") for f in failures if isinstance(f, dict)]
        return f"{len(failures)} message(s) in batchItemFailures: {', '.join(map(str, ids))[:300]}"
    if answer.get("errorType"):
        return f"{answer['errorType']}: {str(answer.get('errorMessage', ''))[:300]}"
    if answer.get("failed") is True:
        return f"message {answer.get('id')} {answer.get('result', 'failed')}"
    return None


def cmd_inspect(args: argparse.Namespace) -> int:
    from .packaging.inspection import inspect_cli

    return inspect_cli(args)


def cmd_package(args: argparse.Namespace) -> int:
    from .packaging import package_cli

    return package_cli(args)


def cmd_run(args: argparse.Namespace) -> int:
    from .runner import run_cli

    return run_cli(args)


def cmd_openapi(args: argparse.Namespace) -> int:
    from .config import deployed_env, load_config
    from .loader import load_app, resolve_ref

    config = load_config(resolve_ref(args.app)[0], getattr(args, "stage", None))
    with deployed_env(config) as env:  # as package imports it: the issuer the document names is the deployed one
        if env.note():
            print(f"portafunc openapi: {env.note()}", file=sys.stderr)
        app, _, _ = load_app(args.app)
        try:
            doc = app.openapi(title=args.title, version=args.api_version, target=args.target)
        except ModuleNotFoundError as exc:
            if exc.name != "pydantic":
                raise
            raise CliError("the app's models are described with pydantic: pip install 'portafunc[typed]'") from None
    if args.yaml:
        try:
            import yaml  # type: ignore[import-untyped, unused-ignore]
        except ImportError:
            raise CliError("--yaml needs PyYAML: pip install pyyaml") from None
        text = yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=120)
    else:
        text = json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
    if args.output and args.output != "-":
        try:
            Path(args.output).write_text(text, encoding="utf-8")
        except OSError as exc:
            raise CliError(f"cannot write {args.output}: {exc.strerror}") from exc
        print(f"wrote {args.output} ({len(doc['paths'])} paths)", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


# -- parser ------------------------------------------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="portafunc", description="Write a serverless function once; run it on "
                                     "every installed target (portafunc targets lists them).")
    parser.add_argument("--version", action="version", version=f"portafunc {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("targets", help="list the installed target adapters")
    p.set_defaults(func=cmd_targets)

    events = sub.add_parser("events", help="decode native events to the neutral form, or make native events")
    esub = events.add_subparsers(dest="events_command", metavar="ACTION")
    p = esub.add_parser("decode", help="print the neutral JSON form of a native event file")
    p.add_argument("--target", required=True, type=_installed_target, help="an installed target")
    p.add_argument("file", help="native event JSON file, or - for stdin")
    p.set_defaults(func=cmd_events_decode)
    p = esub.add_parser("new", help="print a realistic native event for a trigger")
    p.add_argument("--target", required=True, type=_installed_target, help="an installed target")
    p.add_argument("trigger", help="http, queue, topic, storage, schedule (or KIND:VARIANT)")
    p.add_argument("--data", help="neutral event fields as JSON, e.g. '{\"path\": \"/orders\"}'")
    p.set_defaults(func=cmd_events_new)
    events.set_defaults(func=_usage(events))

    p = sub.add_parser("package", help="build a deployable artifact for a target")
    p.add_argument("path", nargs="?", help="project directory (default: current directory)")
    p.add_argument("--target", required=True, type=_installed_target, help="an installed target")
    p.add_argument("--app", help="MODULE:ATTR of the App, importable from the project directory")
    p.add_argument("--arch", default="x86_64", choices=["x86_64", "arm64"],
                   help="CPU architecture, for targets that build for one")
    p.add_argument("--python", default=None,
                   help="target Python version, 3.10-3.14 (default: python= of the configuration file, else 3.12)")
    p.add_argument("--stage", help="a stage of the configuration file ([stages.NAME])")
    p.add_argument("--out", default="dist", help="output directory (default: dist)")
    p.set_defaults(func=cmd_package)

    p = sub.add_parser("run", help="run the whole app locally: HTTP server, memory:// topics and queues, schedules")
    p.add_argument("app", nargs="?", help="project directory, .py file or MODULE:ATTR")
    p.add_argument("--port", type=int, default=8080)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--trigger", metavar="FUNCTION", help="fire one schedule or event function now and exit")
    p.add_argument("--no-reload", action="store_true", help="do not restart on code change")
    p.add_argument("--target", type=_installed_target,
                   help="apply this target's request body limit (default: the strictest installed target's)")
    p.add_argument("--stage", help="a stage of the configuration file ([stages.NAME]): its env is applied locally")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("invoke", help="run one function through a target's adapter with a native event")
    p.add_argument("function")
    p.add_argument("--target", required=True, type=_installed_target, help="an installed target")
    p.add_argument("--event", required=True, help="native event JSON file, or - for stdin")
    p.add_argument("--app", help="project directory, .py file or MODULE:ATTR")
    p.add_argument("--stage", help="a stage of the configuration file ([stages.NAME]): its env is applied locally")
    p.set_defaults(func=cmd_invoke)

    p = sub.add_parser("inspect", help="show the whole deployment on each target; exit 2 if a target refuses it")
    p.add_argument("app", nargs="?", help="project directory, .py file or MODULE:ATTR")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--stage", help="a stage of the configuration file ([stages.NAME])")
    p.add_argument("--target", type=_installed_target, help="only this target")
    p.set_defaults(func=cmd_inspect)

    p = sub.add_parser("openapi", help="print the app's OpenAPI 3.1 document (JSON, or YAML with --yaml)")
    p.add_argument("app", nargs="?", help="project directory, .py file or MODULE:ATTR")
    p.add_argument("--yaml", action="store_true", help="YAML instead of JSON")
    p.add_argument("-o", "--output", metavar="FILE", help="write it to FILE instead of standard output")
    p.add_argument("--target", type=_installed_target,
                   help="describe auth=\"function\" as this target checks it (default: each target's, as alternatives)")
    p.add_argument("--stage", help="a stage of the configuration file ([stages.NAME]): the app is imported with "
                   "its env, as deployed")
    p.add_argument("--title", help="info.title (default: the app's name)")
    p.add_argument("--api-version", default="0.1.0", help="info.version (default: 0.1.0)")
    p.set_defaults(func=cmd_openapi)
    return parser


def _usage(parser: argparse.ArgumentParser) -> Callable[[argparse.Namespace], int]:
    """A command that prints ``parser``'s help and exits 2: for a command group given no action."""
    def show_usage(args: argparse.Namespace) -> int:
        parser.print_help()
        return 2
    return show_usage


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "func"):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except (CliError, PortafuncError) as exc:
        from .errors import EventDecodeError

        prefix = "not a known event: " if isinstance(exc, EventDecodeError) else ""
        print(f"portafunc: error: {prefix}{exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
