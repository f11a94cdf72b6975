"""``portafunc`` — the command line. Exit codes: 0 ok, 1 failure at run time, 2 bad input or usage."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Callable, Sequence

from . import __version__
from .errors import PortafuncError


def _read_json(path: str) -> Any:
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror}") from exc
    try:
        return json.loads(text)
    except ValueError as exc:
        raise CliError(f"{path} is not JSON: {exc}") from exc


class CliError(Exception):
    """A usage or input problem: printed as one line, exit code 2."""


def _print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, ensure_ascii=False) + "\n")


# -- commands ----------------------------------------------------------------------------------------------------

def cmd_targets(args: argparse.Namespace) -> int:
    from .targets import KNOWN_TARGETS, available

    installed = available()
    for name in sorted(set(installed) | set(KNOWN_TARGETS)):
        where = installed.get(name)
        print(f"{name:6} {'installed  ' + where if where else 'missing    pip install ' + KNOWN_TARGETS[name]}")
    return 0


def cmd_events_decode(args: argparse.Namespace) -> int:
    from .targets import get_target

    target = get_target(args.target)
    native = _read_json(args.file)
    events = target.decode(native)
    _print_json({"target": target.name, "events": [e.to_dict() for e in events]})
    return 0


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

    target = get_target(args.target)
    app, _, _ = load_app(args.app)
    app.function(args.function)
    native = _read_json(args.event)
    _print_json(target.invoke(app, args.function, native))
    return 0


def cmd_inspect(args: argparse.Namespace) -> int:
    from .packaging.inspection import inspect_cli

    return inspect_cli(args)


def cmd_package(args: argparse.Namespace) -> int:
    from .packaging import package_cli

    return package_cli(args)


def cmd_run(args: argparse.Namespace) -> int:
    from .runner import run_cli

    return run_cli(args)


# -- parser ------------------------------------------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="portafunc", description="Write a serverless function once; run it on "
                                     "AWS Lambda, Azure Functions and Google Cloud Functions.")
    parser.add_argument("--version", action="version", version=f"portafunc {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("targets", help="list the installed target adapters")
    p.set_defaults(func=cmd_targets)

    events = sub.add_parser("events", help="decode native events to the neutral form, or make native events")
    esub = events.add_subparsers(dest="events_command", metavar="ACTION")
    p = esub.add_parser("decode", help="print the neutral JSON form of a native event file")
    p.add_argument("--target", required=True, help="aws, azure or gcp")
    p.add_argument("file", help="native event JSON file, or - for stdin")
    p.set_defaults(func=cmd_events_decode)
    p = esub.add_parser("new", help="print a realistic native event for a trigger")
    p.add_argument("--target", required=True, help="aws, azure or gcp")
    p.add_argument("trigger", help="http, queue, topic, storage, schedule (or KIND:VARIANT, e.g. http:apigw-v1)")
    p.add_argument("--data", help="neutral event fields as JSON, e.g. '{\"path\": \"/orders\"}'")
    p.set_defaults(func=cmd_events_new)
    events.set_defaults(func=_usage(events))

    p = sub.add_parser("package", help="build a deployable artifact for a target")
    p.add_argument("path", nargs="?", help="project directory (default: current directory)")
    p.add_argument("--target", required=True, choices=["aws", "azure", "gcp"])
    p.add_argument("--app", help="MODULE:ATTR of the App, importable from the project directory")
    p.add_argument("--arch", default="x86_64", choices=["x86_64", "arm64"], help="AWS Lambda architecture")
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
    p.add_argument("--target", choices=["aws", "azure", "gcp"],
                   help="apply this cloud's request body limit (default: the strictest, AWS Lambda's 6 MiB)")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("invoke", help="run one function through a target's adapter with a native event")
    p.add_argument("function")
    p.add_argument("--target", required=True, help="aws, azure or gcp")
    p.add_argument("--event", required=True, help="native event JSON file, or - for stdin")
    p.add_argument("--app", help="project directory, .py file or MODULE:ATTR")
    p.set_defaults(func=cmd_invoke)

    p = sub.add_parser("inspect", help="show the whole deployment on each cloud; exit 2 if a target refuses it")
    p.add_argument("app", nargs="?", help="project directory, .py file or MODULE:ATTR")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--stage", help="a stage of the configuration file ([stages.NAME])")
    p.add_argument("--target", choices=["aws", "azure", "gcp"], help="only this target")
    p.set_defaults(func=cmd_inspect)
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
