"""A short run of the entry-point fuzzer (``tests/reliability/fuzz.py``): mutated real events through every cloud's
``Target.decode`` and ``Target.invoke`` (the Lambda handler, the generated Azure ``function_app.py``, the generated
GCP ``main.py`` under functions-framework) raise nothing but typed portafunc errors and never hang.

The long run is ``python -m tests.reliability.fuzz --events 50000`` (docs/reliability.md has its figures).
``PORTAFUNC_FUZZ_EVENTS`` changes the length of this one. The hang limit here is 5 s, looser than the long run's 2 s,
so a loaded CI machine does not fail it for a pause.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from fuzz import fuzz, summary

EVENTS = int(os.environ.get("PORTAFUNC_FUZZ_EVENTS", "3000"))


def test_short_fuzz_run_finds_no_crash_and_no_hang(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = fuzz(EVENTS, seed=13, hang=5.0, out=tmp_path / "crashes", progress=False)
    text = summary(report, EVENTS, 13, 5.0)
    with capsys.disabled():
        print("\n" + text)
    assert sum(report.counts.values()) == EVENTS
    assert {key.split()[1] for key in report.counts} == {"decode", "invoke"}
    assert not report.crashes, text
    assert not report.hangs, text
