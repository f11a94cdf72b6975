"""Paths and fixture readers of the Azure tests, in a module of their own: a test module importing them from
``conftest`` would get whichever directory's conftest pytest imported first when several test directories run in
one command."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures" / "events" / "azure"


def fixture_files() -> list[Path]:
    return sorted(p for p in FIXTURES.rglob("*.json"))


def load_fixture(rel: str) -> Any:
    return json.loads((FIXTURES / rel).read_text(encoding="utf-8"))
