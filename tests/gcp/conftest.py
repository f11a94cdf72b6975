"""GCP test set-up: the real Pub/Sub emulator and functions-framework servers, started on free 127.0.0.1 ports."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator

import pytest
import standins

REPO = Path(__file__).resolve().parents[2]
GCP_FIXTURES = REPO / "tests" / "fixtures" / "events" / "gcp"
APPS = Path(__file__).resolve().parent / "apps"


def fixture_files() -> list[Path]:
    files = sorted(GCP_FIXTURES.glob("*/*.json"))
    return files


@pytest.fixture(scope="session")
def pubsub_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Pub/Sub emulator on a free port; yields ``host:port`` (what PUBSUB_EMULATOR_HOST takes)."""
    with standins.pubsub_emulator(tmp_path_factory.mktemp("emulator")) as host:
        yield host


@pytest.fixture
def emulator_env(pubsub_emulator: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", pubsub_emulator)
    return pubsub_emulator


@pytest.fixture(scope="session")
def serve(tmp_path_factory: pytest.TempPathFactory):
    """Factory: serve(source_dir, target, signature_type, env) → a running functions-framework stand-in (``.url``);
    all stopped at session end."""
    started: list[standins.StandIn] = []

    def _serve(source_dir: Path, target: str, signature_type: str, env: dict[str, str] | None = None,
               python_bin: Path | None = None) -> standins.StandIn:
        server = standins.functions_framework(source_dir, target, signature_type, env=dict(os.environ) | (env or {}),
                                              python_bin=python_bin, log_dir=tmp_path_factory.mktemp("ff"))
        started.append(server)
        return server

    yield _serve
    for server in started:
        server.stop()
