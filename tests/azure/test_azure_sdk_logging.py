"""azure-core logs every request its clients make at INFO; the Azure backends quiet that logger to WARNING when they
load, unless the application chose its level itself. Run in fresh interpreters: the level is set once, on import."""

from __future__ import annotations

import subprocess
import sys

LOGGER = "azure.core.pipeline.policies.http_logging_policy"


def _level_after_import(before: str) -> str:
    code = (f"import logging\n{before}\nimport portafunc_azure.backends.table_kv\n"
            f"print(logging.getLevelName(logging.getLogger({LOGGER!r}).level))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_the_sdks_request_log_is_quieted_when_the_backends_load() -> None:
    assert _level_after_import("") == "WARNING"


def test_a_level_the_application_set_is_kept() -> None:
    assert _level_after_import(f"logging.getLogger({LOGGER!r}).setLevel(logging.INFO)") == "INFO"
