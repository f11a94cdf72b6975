"""Shared helpers for the AWS adapter tests (a uniquely named module: test folders have no __init__.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
FIXTURES = HERE.parent / "fixtures" / "events" / "aws"
SAMPLE_APP = HERE / "sample_app.py"


REFUSED = ("http-authorizer", "http-websocket")
"""Sample folders of Lambda inputs that look like HTTP requests and are refused (EventDecodeError)."""


def fixture_files(*, include_sns_http: bool = False) -> list[Path]:
    """The Lambda events portafunc decodes (SNS HTTP(S) bodies only when asked; never the refused inputs)."""
    files = sorted(p for p in FIXTURES.resolve().glob("*/*.json")
                   if (include_sns_http or p.parent.name != "sns-http") and p.parent.name not in REFUSED)
    if not files:
        raise RuntimeError(f"no AWS fixture samples under {FIXTURES.resolve()}")
    return files


def load_fixture(rel: str) -> Any:
    return json.loads((FIXTURES / rel).read_text(encoding="utf-8"))
