"""``portafunc run`` — the whole app on one machine, no cloud account.

HTTP functions are served on 127.0.0.1; topics and queues without a binding are bound to ``memory://`` and delivered
to their functions with the clouds' retry / max-attempts / dead-letter rules; schedules fire on time; the process
restarts when the code changes. Pure core: stdlib and portafunc only.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from pathlib import Path

from ..app import App
from ..errors import PortafuncError
from ..events import StorageEvent
from ..loader import load_app, resolve_ref
from ..messaging import reset as reset_bindings
from .bindings import Binding, bind_memory, undeclared
from .console import InFlight, say, whole_lines
from .consumers import ConsumerWorker, consumers_for, queued_summary
from .http import LocalHttpServer
from .reload import CHILD_ENV, child_argv, supervise
from .schedules import Scheduler, TriggerRefused, manual_event, place_sample, run_event, utc_now

GRACE_SECONDS = float(os.environ.get("PORTAFUNC_RUN_GRACE", "5"))

__all__ = ["run_cli", "LocalRunner"]


def run_cli(args: argparse.Namespace) -> int:
    """Entry point of ``portafunc run``: exit 0 on a clean stop, 1 when ``--trigger`` failed, 2 on bad input."""
    with whole_lines():  # the app's print() lines and the runner's own never share a line
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    try:
        if args.trigger is None and not args.no_reload and not os.environ.get(CHILD_ENV):
            project, _ = resolve_ref(args.app)  # fail fast on a bad reference, before any process is started
            tail = ([args.app] if args.app else []) + ["--port", str(args.port), "--host", args.host]
            if getattr(args, "target", None):
                tail += ["--target", args.target]
            if getattr(args, "stage", None):
                tail += ["--stage", args.stage]
            return supervise(project, child_argv(tail))
        from .settings import apply_app_env, apply_local_settings

        stage = getattr(args, "stage", None)
        early = apply_app_env(resolve_ref(args.app)[0], stage)  # before the import, as the deployed app has it
        app, project, ref = load_app(args.app)
        for line in apply_local_settings(app, project, stage, early=early):
            say(line)
        runner = LocalRunner(app, project, ref)
        if args.trigger is not None:
            return runner.trigger(args.trigger)
        return runner.serve(args.host, args.port, target=getattr(args, "target", None))
    except (PortafuncError, TriggerRefused) as exc:
        say(f"portafunc: error: {exc}")
        return 2


class LocalRunner:
    """The app's functions wired to a local HTTP server, in-memory broker workers and a scheduler."""

    def __init__(self, app: App, project: Path, ref: str) -> None:
        self.app = app
        self.project = project
        self.ref = ref
        reset_bindings()
        self.bindings: list[Binding] = bind_memory(app, project)
        self.in_flight = InFlight()
        self.stop = threading.Event()
        if hasattr(sys.stdout, "reconfigure"):
            sys.stdout.reconfigure(line_buffering=True)  # the app's print() lines appear as they happen
        from ..logsetup import install

        install("text")  # the app's logging lines, readable, with the function and invocation they belong to

    # -- one function, now ----------------------------------------------------------------------------------------
    def trigger(self, name: str) -> int:
        spec = self.app.function(name)
        event, source = manual_event(spec, utc_now())
        if isinstance(event, StorageEvent) and (placed := place_sample(event)):
            say(placed)
        ok = run_event(spec, event, source, self.in_flight)
        for line in queued_summary([], self.bindings):
            say(f"left unconsumed (--trigger runs one function only): {line}")
        return 0 if ok else 1

    # -- the whole app --------------------------------------------------------------------------------------------
    def serve(self, host: str, port: int, target: str | None = None) -> int:
        """Serve until SIGINT/SIGTERM. ``target`` (an installed target) sets the request body limit to its."""
        specs = list(self.app)
        by_key = {(b.kind, b.name): b for b in self.bindings}
        consumers, notes = consumers_for(specs, by_key)
        try:
            server = LocalHttpServer(host, port, self.app, self.in_flight, target) \
                if self.app.http_functions() else None
        except OSError as exc:
            say(f"portafunc: error: cannot listen on {host}:{port}: {exc.strerror or exc}")
            return 2
        self._body_limit = server.max_body if server is not None else 0
        self._banner(host, port if server is None else server.server_address[1], server is not None, notes)

        self._install_signals()
        threads: list[threading.Thread] = [ConsumerWorker(c, self.in_flight, self.stop) for c in consumers]
        threads.append(Scheduler(specs, self.in_flight, self.stop))
        if server is not None:
            threads.append(threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2},
                                            name="portafunc-http", daemon=True))
        for t in threads:
            t.start()
        parent = os.getppid()
        while not self.stop.wait(0.5):
            if os.environ.get(CHILD_ENV) and os.getppid() != parent:
                say("portafunc: the reload supervisor went away; stopping")
                self.stop.set()

        say("\nstopping: no new requests or deliveries")
        if server is not None:
            server.shutdown()
            server.server_close()
        left = self.in_flight.wait_idle(GRACE_SECONDS)
        if left:
            say(f"still in flight after {GRACE_SECONDS:g}s: "
                + ", ".join(f"{name} {n}" for name, n in sorted(left.items())))
        else:
            say("in flight: none")
        queued = queued_summary(consumers, self.bindings)
        for line in queued:
            say(f"still queued (lost: memory:// lives in this process): {line}")
        if not queued:
            say("queued messages: none")
        return 0

    def _install_signals(self) -> None:
        def on_signal(signum: int, _frame: object) -> None:
            self.stop.set()

        signal.signal(signal.SIGINT, on_signal)
        signal.signal(signal.SIGTERM, on_signal)

    def _banner(self, host: str, port: int, serving: bool, notes: list[str]) -> None:
        """The whole banner in one write, so whoever sees its first line sees all of it."""
        url = f"http://{host}:{port}"
        lines: list[str] = []
        add = lines.append
        add(f"portafunc run: app {self.app.name!r} ({self.ref} in {self.project})")
        if serving:
            add(f"  serving on {url}  (Ctrl-C to stop; request bodies up to {self._body_limit:,} bytes)")
        specs = list(self.app)
        width = max((len(s.name) for s in specs), default=0)
        for spec in specs:
            trig = spec.trigger
            extra = ""
            if trig.kind == "http":
                extra = f"  {url}{trig.route.template}"  # type: ignore[union-attr]
            elif trig.kind == "storage":
                extra = f"  (puts here do not fire it; fire now: portafunc run --trigger {spec.name})"
            elif trig.kind == "schedule":
                extra = "  (UTC; fire now: portafunc run --trigger " + spec.name + ")"
            add(f"  {spec.name:<{width}}  {trig.describe()}{extra}")
        for b in self.bindings:
            add(f"  {b.describe()}")
        for note in notes:
            add(f"  note: {note}")
        for warning in undeclared(self.app, self.project):
            add(f"  warning: {warning}")
        say("\n".join(lines))
