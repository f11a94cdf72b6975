"""pytest plugin (entry point ``pytest11``): the ``cloud`` fixture, parametrised over installed targets."""

from __future__ import annotations

from typing import Any


def pytest_addoption(parser: Any) -> None:
    group = parser.getgroup("portafunc")
    group.addoption("--portafunc-targets", default=None,
                    help="comma-separated targets to run contract tests on (default: aws,azure,gcp)")
