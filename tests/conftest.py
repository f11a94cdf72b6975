"""Shared test set-up: where the real native samples live, and a clean memory broker per test."""

from __future__ import annotations

from pathlib import Path

import os

import pytest
from hypothesis import settings

# CI runs each property test on a fixed sequence of examples, so a run is reproducible; elsewhere (and with
# PORTAFUNC_FUZZ_EXAMPLES for long fuzzing runs) examples are random and keep exploring.
settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI"):
    settings.load_profile("ci")

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures" / "events"


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    """The real native event samples, in tests/fixtures/events (sources and licences in its MANIFEST.md)."""
    if not FIXTURES.is_dir():
        pytest.fail(f"the native event samples are missing: expected {FIXTURES}")
    return FIXTURES


@pytest.fixture(autouse=True)
def _fresh_memory_broker():
    """Each test starts with an empty memory:// broker and no cached backends."""
    from portafunc.messaging import reset
    from portafunc.messaging.memory import broker

    broker().reset()
    reset()
    yield
    broker().reset()
    reset()
