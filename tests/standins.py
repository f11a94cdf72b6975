"""The local cloud stand-ins the tests and benchmarks talk to, started on free 127.0.0.1 ports and stopped afterwards.

One place for: moto in server mode (SNS/SQS/S3/DynamoDB), the Google Pub/Sub and Firestore emulators (shipped with
google-cloud-cli, need Java), the Cloud Storage emulator (gcp-storage-emulator, from PyPI) and Azurite (npm, pinned, installed into ``.tools/`` by the Makefile).

A stand-in that cannot start raises :class:`StandInMissing` saying what is missing — under pytest that is
``pytest.fail`` (the test fails, it is never skipped). Each stand-in runs in its own process group so that stopping it
also stops the JVM or node children it forks; :meth:`StandIn.stop` / :meth:`StandIn.restart` let fault tests take a
broker down and bring it back on the same port.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator, NoReturn, Sequence

REPO = Path(__file__).resolve().parents[1]
TOOLS_BIN = REPO / ".tools" / "node_modules" / ".bin"
AZURITE_VERSION = "3.35.0"
# Azurite's well-known development account key (public; the same in every Azurite install).
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


class StandInMissing(RuntimeError):
    """A stand-in is not installed or did not start; the message says what to install or where the log is."""


def _missing(message: str) -> NoReturn:
    """Fail the running test (under pytest) or raise: a missing stand-in is a failure, never a skip."""
    if "pytest" in sys.modules:
        import pytest

        pytest.fail(message, pytrace=False)
    raise StandInMissing(message)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def http_answers(url: str, expect: bytes | None = None) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as resp:
            return expect is None or expect in resp.read()
    except urllib.error.HTTPError:
        return expect is None
    except OSError:
        return False


class StandIn:
    """A stand-in process: its command, port, log; started, stopped and restarted on the same port."""

    def __init__(self, name: str, argv: Sequence[str], *, port: int, log: Path, ready: Callable[[], bool],
                 cwd: Path | None = None, env: dict[str, str] | None = None, timeout: float = 60.0) -> None:
        self.name = name
        self.argv = list(argv)
        self.port = port
        self.log = log
        self.cwd = cwd
        self.env = env
        self.timeout = timeout
        self._ready = ready
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT/`` (for the HTTP stand-ins)."""
        return f"http://127.0.0.1:{self.port}/"

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self) -> StandIn:
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(self.argv, stdout=out, stderr=subprocess.STDOUT, cwd=self.cwd,
                                         env=self.env, start_new_session=True)
        deadline = time.monotonic() + self.timeout
        while not self._ready():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                _missing(f"{self.name} did not start on 127.0.0.1:{self.port} ({' '.join(self.argv)}); log "
                         f"{self.log}: {self.log.read_text(errors='replace')[-2000:]}")
            time.sleep(0.1)
        return self

    def stop(self) -> None:
        """SIGTERM the process group (the emulators fork a JVM), SIGKILL after 10 s; waits until the port is closed."""
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)
        deadline = time.monotonic() + 10
        while port_open(self.port) and time.monotonic() < deadline:
            time.sleep(0.05)

    def restart(self) -> StandIn:
        self.stop()
        return self.start()


@contextmanager
def _running(standin: StandIn) -> Iterator[StandIn]:
    standin.start()
    try:
        yield standin
    finally:
        standin.stop()


# -- moto -----------------------------------------------------------------------------------------------------------

# moto's server answers requests on threads and its DynamoDB tables take no lock, so two conditional writes can both
# pass their condition; this launcher runs its server on one thread (werkzeug then speaks HTTP/1.0, one request per
# connection), making each request atomic as DynamoDB's are.
_MOTO_ONE_THREAD = ("import sys, moto.server as s\n"
                    "run = s.run_simple\n"
                    "s.run_simple = lambda *a, **k: run(*a, **{**k, 'threaded': False})\n"
                    "s.main(sys.argv[1:])\n")


def moto_standin(log_dir: Path, *, serialised: bool = False) -> StandIn:
    """moto in server mode; ``serialised`` answers one request at a time (for tests of conditional writes)."""
    try:
        import moto.server  # noqa: F401 - only checks that moto[server] is installed
    except ImportError as exc:
        _missing(f"moto[server] is not installed ({exc}); pip install 'moto[server]'")
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    launch = ["-c", _MOTO_ONE_THREAD] if serialised else ["-m", "moto.server"]
    return StandIn("moto server", [sys.executable, *launch, "-H", "127.0.0.1", "-p", str(port)],
                   port=port, log=log_dir / "moto.log", ready=lambda: http_answers(f"{endpoint}/moto-api/"),
                   timeout=30)


@contextmanager
def moto_server(log_dir: Path, *, serialised: bool = False) -> Iterator[str]:
    """moto in server mode; yields its endpoint URL (``http://127.0.0.1:PORT``)."""
    with _running(moto_standin(log_dir, serialised=serialised)) as standin:
        yield f"http://127.0.0.1:{standin.port}"


# -- Google Cloud emulators -------------------------------------------------------------------------------------------

def gcloud_sdk_root() -> Path | None:
    gcloud = shutil.which("gcloud")
    if gcloud is None:
        return None
    guess = Path(os.path.realpath(gcloud)).parents[1]  # SDK_ROOT/bin/gcloud: skips gcloud's own slow start-up
    if (guess / "platform").is_dir():
        return guess
    try:
        out = subprocess.run([gcloud, "info", "--format=value(installation.sdk_root)"], capture_output=True,
                             text=True, timeout=60).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return None
    return Path(out) if out else None


def _emulator_script(component: str, relative: str, what: str) -> Path:
    root = gcloud_sdk_root()
    script = root / "platform" / relative if root else None
    if script is None or not script.is_file():
        _missing(f"the {what} is missing ({script or 'no gcloud on PATH'}): install google-cloud-cli with the "
                 f"{component} component (`gcloud components install {component}` or apt "
                 f"google-cloud-cli-{component})")
    if shutil.which("java") is None:
        _missing(f"the {what} needs Java (17+) on PATH and none was found")
    return script


def pubsub_standin(log_dir: Path) -> StandIn:
    """The Pub/Sub emulator; its ``host:port`` (what ``PUBSUB_EMULATOR_HOST`` takes) is ``f"127.0.0.1:{port}"``."""
    script = _emulator_script("pubsub-emulator", "pubsub-emulator/bin/cloud-pubsub-emulator", "Pub/Sub emulator")
    port = free_port()
    return StandIn("the Pub/Sub emulator", [str(script), "--host=127.0.0.1", f"--port={port}"], port=port,
                   log=log_dir / "pubsub-emulator.log",
                   ready=lambda: http_answers(f"http://127.0.0.1:{port}/", expect=b"Ok"), timeout=90)


@contextmanager
def pubsub_emulator(log_dir: Path) -> Iterator[str]:
    """The Pub/Sub emulator; yields ``127.0.0.1:PORT``."""
    with _running(pubsub_standin(log_dir)) as standin:
        yield f"127.0.0.1:{standin.port}"


@contextmanager
def firestore_emulator(log_dir: Path) -> Iterator[str]:
    """The Firestore emulator; yields ``127.0.0.1:PORT`` (what ``FIRESTORE_EMULATOR_HOST`` takes)."""
    script = _emulator_script("cloud-firestore-emulator", "cloud-firestore-emulator/cloud_firestore_emulator",
                              "Firestore emulator")
    port = free_port()
    standin = StandIn("the Firestore emulator", [str(script), "--host=127.0.0.1", f"--port={port}"], port=port,
                      log=log_dir / "firestore-emulator.log",
                      ready=lambda: http_answers(f"http://127.0.0.1:{port}/"), timeout=90)
    with _running(standin):
        yield f"127.0.0.1:{port}"


@contextmanager
def gcs_emulator(log_dir: Path) -> Iterator[str]:
    """A Cloud Storage emulator (gcp-storage-emulator from PyPI, in memory); yields ``http://127.0.0.1:PORT`` (what
    ``STORAGE_EMULATOR_HOST`` takes). It serves the JSON API the client library speaks and the ``/BUCKET/OBJECT``
    paths signed URLs use, but checks no signature."""
    try:
        import gcp_storage_emulator  # noqa: F401 - only checks that it is installed
    except ImportError as exc:
        _missing(f"gcp-storage-emulator is not installed ({exc}); pip install gcp-storage-emulator")
    port = free_port()
    standin = StandIn("the Cloud Storage emulator",
                      [sys.executable, "-m", "gcp_storage_emulator", "start", "--host=127.0.0.1", f"--port={port}",
                       "--in-memory", "--quiet"],
                      port=port, log=log_dir / "gcs-emulator.log",
                      ready=lambda: http_answers(f"http://127.0.0.1:{port}/"), timeout=30)
    with _running(standin):
        yield f"http://127.0.0.1:{port}"


# -- functions-framework ------------------------------------------------------------------------------------------------

def functions_framework(source_dir: Path, target: str, signature_type: str, *, env: dict[str, str] | None = None,
                        python_bin: Path | None = None, log_dir: Path | None = None) -> StandIn:
    """``functions-framework --target T`` serving ``source_dir/main.py`` on a free port (started; caller stops it).

    ``env`` is the server's whole environment (default: this process's); ``python_bin`` picks another venv's CLI.
    """
    cli = (python_bin or Path(sys.executable).parent) / "functions-framework"
    if not cli.exists():
        _missing(f"the functions-framework CLI is missing ({cli}); pip install functions-framework")
    port = free_port()
    log = (log_dir or source_dir) / f"functions-framework-{target}-{port}.log"
    return StandIn(f"functions-framework --target={target}",
                   [str(cli), f"--target={target}", f"--signature-type={signature_type}",
                    f"--source={source_dir / 'main.py'}", "--host=127.0.0.1", f"--port={port}"],
                   port=port, log=log, ready=lambda: port_open(port), cwd=source_dir, env=env, timeout=30).start()


# -- Azurite ----------------------------------------------------------------------------------------------------------

AZURITE_SERVICES = {"queue": "Queue", "table": "Table", "blob": "Blob"}


def azurite_standin(log_dir: Path, service: str) -> StandIn:
    """One Azurite service (``queue``, ``table`` or ``blob``) from the project-local npm install, in memory."""
    if service not in AZURITE_SERVICES:
        raise ValueError(f"unknown Azurite service {service!r}; one of {sorted(AZURITE_SERVICES)}")
    binary = TOOLS_BIN / f"azurite-{service}"
    if not binary.exists():
        _missing(f"Azurite is missing ({binary}): run `npm install --prefix {REPO / '.tools'} "
                 f"azurite@{AZURITE_VERSION}` (`make test` does this)")
    if shutil.which("node") is None:
        _missing("Azurite needs Node.js: `node` is not on PATH")
    port = free_port()
    work = log_dir / f"azurite-{service}"
    work.mkdir(parents=True, exist_ok=True)
    argv = [str(binary), f"--{service}Host", "127.0.0.1", f"--{service}Port", str(port), "--inMemoryPersistence",
            "--skipApiVersionCheck", "--disableProductStyleUrl", "--loose", "--disableTelemetry"]
    return StandIn(f"Azurite {service} service", argv, port=port, log=work / "azurite.log",
                   ready=lambda: port_open(port), cwd=work, timeout=30)


def azurite_connection_string(service: str, port: int) -> str:
    return (f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};AccountKey={AZURITE_KEY};"
            f"{AZURITE_SERVICES[service]}Endpoint=http://127.0.0.1:{port}/{AZURITE_ACCOUNT};")


@contextmanager
def azurite(log_dir: Path, service: str = "queue") -> Iterator[str]:
    """One Azurite service; yields its connection string."""
    with _running(azurite_standin(log_dir, service)) as standin:
        yield azurite_connection_string(service, standin.port)


# -- outages ----------------------------------------------------------------------------------------------------------

class CutOffProxy:
    """A TCP forwarder in front of a broker. The test switches it off with :meth:`down`, or it switches itself off
    when the client sends bytes containing ``cut_on``; either way live connections are closed too and the broker
    behind it keeps its state. ``refused`` counts the connections tried while it was down, which shows retries."""

    def __init__(self, target_port: int, cut_on: bytes | None = None) -> None:
        self.target_port = target_port
        self.cut_on = cut_on
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.up = True
        self.refused = 0
        self.live: list[socket.socket] = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            if not self.up:
                self.refused += 1
                client.close()
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port))
            except OSError:
                client.close()
                continue
            with self.lock:
                self.live += [client, upstream]
            threading.Thread(target=self._pipe, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client, False), daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket, outbound: bool) -> None:
        tail = b""
        try:
            while self.up:
                data = src.recv(65536)
                if not data:
                    break
                if outbound and self.cut_on is not None:
                    if self.cut_on in tail + data:
                        self.down()  # the chunk carrying the marked message never reaches the broker
                        break
                    tail = (tail + data)[-len(self.cut_on):]
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.close()
                except OSError:
                    pass

    def down(self) -> None:
        self.up = False
        with self.lock:
            for s in self.live:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                    s.close()
                except OSError:
                    pass
            self.live.clear()

    def close(self) -> None:
        self.down()
        self.sock.close()


class SilentServer:
    """Accepts connections on 127.0.0.1 and holds them open without reading or answering."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.1)  # so that the accepting thread sees close() soon
        self.port = self.sock.getsockname()[1]
        self.held: list[socket.socket] = []
        self.closed = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while not self.closed.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.held.append(conn)

    def close(self) -> None:
        self.closed.set()
        self.thread.join(5)
        self.sock.close()
        for conn in self.held:
            conn.close()


def gives_up(call: Callable[[], object], error: type[Exception], within: float) -> Exception:
    """The ``error`` ``call`` raises, asserting it came within ``within`` seconds: a behaviour bound (a call that
    meets a :class:`SilentServer` gives up at its deadline instead of hanging), not a speed test."""
    started = time.monotonic()
    try:
        call()
    except error as raised:
        took = time.monotonic() - started
        assert took < within, f"gave up after {took:.2f} s, later than {within} s"
        return raised
    raise AssertionError(f"expected {error.__name__}, the call returned")
