"""The core finds every target through the ``Target`` interface and never names one: no cloud, platform, service or
URL scheme of a target appears in the core's code (names and string literals; docstrings and comments may explain
with examples). A new target is a new distribution and nothing else.

Allowed, with the reason, are only modules that speak a vocabulary defined outside portafunc and meet on any target:
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from pathlib import Path

CORE = Path(__file__).resolve().parents[2] / "portafunc"

NAMES = re.compile(
    r"(?i)(?<![a-z])(aws|amzn|amazon|azure|microsoft|gcp|google|googleapis|sqs|sns|pubsub|pub/sub|eventbridge|"
    r"event ?grid|dynamodb|firestore|s3|gs|gcs|azqueue|aztable|azblob|cloud ?run|cloud ?functions|cloudscheduler|"
    r"functions-framework|api ?gateway|x-ray|ncrontab|knative|kubernetes|container ?apps)(?![a-z])")

ALLOWED = {
    # Trace headers the platforms' front ends and SDKs put on requests and messages (W3C, X-Ray, Cloud Trace, the
    # legacy Request-Id): read wherever they arrive, e.g. a container behind a load balancer that sets one.
    "tracing.py": "trace header formats",
    # The log formats of the platforms' log pipelines, chosen from the environment (a container on a platform
    # whose pipeline reads that format gets it too).
    "logsetup.py": "log pipeline formats",
    # OpenTelemetry's semantic-convention values (cloud.provider, messaging.system).
    "otel.py": "OpenTelemetry semantic conventions",
}

PENDING: dict[str, set[str] | None] = {}  # modules still naming a target, by exact token (none left)


def _docstring_lines(tree: ast.AST) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            lines.update(range(node.lineno, (node.end_lineno or node.lineno) + 1))
    return lines


def findings(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8")
    docs = _docstring_lines(ast.parse(text))
    found = []
    for tok in tokenize.generate_tokens(io.StringIO(text).readline):
        if tok.type == tokenize.NAME and tok.string != "lambda" or tok.type == tokenize.STRING \
                and tok.start[0] not in docs:
            for match in NAMES.finditer(tok.string):
                found.append(f"{path.relative_to(CORE.parent)}:{tok.start[0]}: {match.group(0)!r} in "
                             f"{tok.string[:80]}")
    return found


def _pending(path: Path, finding: str) -> bool:
    tokens = PENDING.get(path.name, set())
    return tokens is None or finding.split(" in ", 1)[1] in tokens


def test_the_core_code_names_no_target() -> None:
    found = [f for path in sorted(CORE.rglob("*.py")) if path.name not in ALLOWED for f in findings(path)
             if not _pending(path, f)]
    assert found == [], "the core names a target; ask the Target instead:\n" + "\n".join(found)


def test_the_check_finds_a_name(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text('"""Docstrings may say S3."""\n\nLIMITS = {"aws": 6}  # a comment may say SQS\n'
                      'def f():\n    return "sqs://queue"\n')
    assert [line.split(": ", 1)[1].split(" in ")[0] for line in _findings_at(sample)] == ["'aws'", "'sqs'"]


def _findings_at(path: Path) -> list[str]:
    global CORE
    saved, CORE = CORE, path.parent
    try:
        return findings(path)
    finally:
        CORE = saved


def test_every_allowed_module_exists() -> None:
    assert all((CORE / name).is_file() for name in [*ALLOWED, *PENDING])
