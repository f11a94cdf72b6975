"""Fixtures for the idempotency tests (loaded with ``pytest_plugins`` by test_idempotency*.py only).

Every cloud store runs against its real local stand-in, started here on a free 127.0.0.1 port once per session:
DynamoDB on moto in server mode, Azure Table Storage on Azurite's table service, Firestore on the Firestore emulator
shipped with google-cloud-cli. A stand-in that cannot start FAILS the test with what is missing — never a skip.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Callable, Iterator

import pytest

REPO = Path(__file__).resolve().parents[2]
AZURITE_TABLE = REPO / ".tools" / "node_modules" / ".bin" / "azurite-table"
AZURITE_KEY = ("Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start(name: str, argv: list[str], log: Path, ready: Callable[[], bool], timeout: float = 60.0,
           cwd: Path | None = None) -> subprocess.Popen[bytes]:
    with open(log, "wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, cwd=cwd, start_new_session=True)
    deadline = time.monotonic() + timeout
    while True:
        try:
            if ready():
                return proc
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            _stop(proc)
            pytest.fail(f"{name} did not start ({' '.join(argv)}): {log.read_text(errors='replace')[-2000:]}",
                        pytrace=False)
        time.sleep(0.1)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """Stop a stand-in we started, and its children (the emulators fork a JVM), by its own process group."""
    import signal

    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)


def _http_ok(url: str) -> bool:
    urllib.request.urlopen(url, timeout=1).read()
    return True


# -- figures for docs/reliability-idempotency.md ---------------------------------------------------------------------

@pytest.fixture
def record_figure() -> Callable[..., None]:
    """A function the tests call to record a figure."""
    return _record_figure


def _record_figure(store_url: str, name: str, value: object, add: bool = False) -> None:
    """Merge a measured figure into the JSON file named by ``PORTAFUNC_IDEM_FIGURES`` (when set; else nothing)."""
    import json

    path = os.environ.get("PORTAFUNC_IDEM_FIGURES")
    if not path:
        return
    kind = store_url.split("://", 1)[0]
    target = Path(path)
    data = json.loads(target.read_text()) if target.exists() else {}
    bucket = data.setdefault(kind, {})
    if add and isinstance(value, dict):
        old = bucket.setdefault(name, {})
        for k, v in value.items():
            old[k] = old.get(k, 0) + v
    else:
        bucket[name] = value
    target.write_text(json.dumps(data, indent=2, sort_keys=True))


# -- the pipeline's configuration ----------------------------------------------------------------------------------

@pytest.fixture
def idem_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], None]]:
    """Point the pipeline at a store URL (fresh cache and counters); returns a setter."""
    from portafunc import idempotency

    for key in list(os.environ):
        if key.startswith("PORTAFUNC_IDEMPOTENCY_"):
            monkeypatch.delenv(key)

    def use(url: str) -> None:
        monkeypatch.setenv("PORTAFUNC_IDEMPOTENCY_STORE", url)
        idempotency.reset()

    idempotency.reset()
    idempotency.reset_stats()
    yield use
    idempotency.reset()


# -- DynamoDB on moto ----------------------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def idem_moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    try:
        import moto.server  # noqa: F401
    except ImportError as exc:
        pytest.fail(f"moto[server] is not installed ({exc}); pip install 'moto[server]'", pytrace=False)
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    proc = _start("moto server", [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                  tmp_path_factory.mktemp("idem-moto") / "moto.log", lambda: _http_ok(f"{endpoint}/moto-api/"))
    yield endpoint
    _stop(proc)


@pytest.fixture
def dynamodb_url(idem_moto: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh DynamoDB table on moto, created by the store's own helper; returns its store URL."""
    from portafunc import idempotency
    from portafunc_aws.idempotency import DynamoDBStore, store_factory

    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL": idem_moto,
                       "AWS_CONFIG_FILE": "/nonexistent/portafunc-idem", "AWS_PROFILE": "",
                       "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/portafunc-idem"}.items():
        if value:
            monkeypatch.setenv(key, value)
        else:
            monkeypatch.delenv(key, raising=False)
    idempotency.register_store("dynamodb", store_factory)
    table = f"idem-{uuid.uuid4().hex[:12]}"
    DynamoDBStore(table).create_table()
    return f"dynamodb://{table}"


# -- Azure Table Storage on Azurite --------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def idem_azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if not AZURITE_TABLE.exists():
        pytest.fail(f"Azurite is not installed: {AZURITE_TABLE} is missing (make .tools/node_modules/.bin/azurite)",
                    pytrace=False)
    if shutil.which("node") is None:
        pytest.fail("Azurite needs Node.js: `node` is not on PATH", pytrace=False)
    port = free_port()
    workdir = tmp_path_factory.mktemp("idem-azurite")
    argv = [str(AZURITE_TABLE), "--tableHost", "127.0.0.1", "--tablePort", str(port),
            "--inMemoryPersistence", "--skipApiVersionCheck", "--disableProductStyleUrl"]

    def ready() -> bool:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True

    proc = _start("Azurite table service", argv, workdir / "azurite.log", ready, cwd=workdir)
    yield (f"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={AZURITE_KEY};"
           f"TableEndpoint=http://127.0.0.1:{port}/devstoreaccount1;")
    _stop(proc)


@pytest.fixture
def aztable_url(idem_azurite: str, monkeypatch: pytest.MonkeyPatch) -> str:
    from portafunc import idempotency
    from portafunc_azure.idempotency import AzureTableStore, store_factory

    monkeypatch.setenv("PORTAFUNC_AZTABLE_CONNECTION", idem_azurite)
    idempotency.register_store("aztable", store_factory)
    table = f"idem{uuid.uuid4().hex[:12]}"
    AzureTableStore(table, idem_azurite).create_table()
    return f"aztable://{table}"


# -- Firestore emulator --------------------------------------------------------------------------------------------

def _gcloud_sdk_root() -> Path | None:
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


@pytest.fixture(scope="session")
def idem_firestore(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = _gcloud_sdk_root()
    script = root / "platform" / "cloud-firestore-emulator" / "cloud_firestore_emulator" if root else None
    if script is None or not script.exists():
        pytest.fail("the Firestore emulator is missing: install google-cloud-cli with the cloud-firestore-emulator "
                    "component (gcloud components install cloud-firestore-emulator or apt install "
                    "google-cloud-cli-firestore-emulator)", pytrace=False)
    if shutil.which("java") is None:
        pytest.fail("the Firestore emulator needs Java 11+: `java` is not on PATH", pytrace=False)
    port = free_port()
    proc = _start("Firestore emulator", [str(script), "--host=127.0.0.1", f"--port={port}"],
                  tmp_path_factory.mktemp("idem-firestore") / "firestore.log",
                  lambda: _http_ok(f"http://127.0.0.1:{port}/"), timeout=90)
    yield f"127.0.0.1:{port}"
    _stop(proc)


@pytest.fixture
def firestore_url(idem_firestore: str, monkeypatch: pytest.MonkeyPatch) -> str:
    from portafunc import idempotency
    from portafunc_gcp.idempotency import store_factory

    monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", idem_firestore)
    idempotency.register_store("firestore", store_factory)
    return f"firestore://idem-test/idem{uuid.uuid4().hex[:12]}"


STORE_KINDS = ["memory", "dynamodb", "aztable", "firestore"]


@pytest.fixture(params=STORE_KINDS)
def store_url(request: pytest.FixtureRequest) -> str:
    """The URL of a fresh store of each kind, in turn."""
    if request.param == "memory":
        return f"memory://{uuid.uuid4().hex[:8]}"
    return str(request.getfixturevalue(f"{request.param}_url"))


