"""Shared helpers for the AWS adapter tests (a uniquely named module: test folders have no __init__.py)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any, Callable

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


def answer(handler: Callable[[Any, Any], Any], event: Any, context: Any) -> Any:
    """What a Lambda handler answers to (a copy of) ``event``: ``["ok", its JSON]`` (key order included), or the
    exception's type and message, so that two handlers' answers, refusals included, compare as data."""
    try:
        return ["ok", json.dumps(handler(copy.deepcopy(event), context))]
    except Exception as exc:  # noqa: BLE001 - the refusal is part of the answer
        return [type(exc).__name__, str(exc)]


def counted_dispatch(handler: Any, monkeypatch: Any) -> list[Any]:
    """The events ``handler`` (a LambdaHandler) hands its general path (``_dispatch``) from now on, which still runs:
    what a test reads to tell whether an event took a one-pass lane or not."""
    seen: list[Any] = []
    real = handler._dispatch

    def dispatch(event: Any, context: Any) -> Any:
        seen.append(event)
        return real(event, context)

    monkeypatch.setattr(handler, "_dispatch", dispatch)
    return seen
