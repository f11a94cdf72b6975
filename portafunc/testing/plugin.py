"""pytest plugin (entry point ``pytest11``): the ``cloud`` fixture, one test run per installed target.

The matrix is every target registered under the ``portafunc.targets`` entry point group;
``--portafunc-targets=NAME,NAME`` narrows it. A target that is asked for but not installed fails the test, naming the
installed ones — it is never skipped silently.
"""

from __future__ import annotations

import os
from typing import Any

import pytest


def pytest_addoption(parser: Any) -> None:
    group = parser.getgroup("portafunc")
    group.addoption("--portafunc-targets", default=None,
                    help="comma-separated targets for contract tests (default: every installed target)")


def _targets(config: Any) -> list[str]:
    option = config.getoption("--portafunc-targets")
    if not option:
        from portafunc.targets import available

        return sorted(available())
    return [t.strip() for t in option.split(",") if t.strip()]


def pytest_generate_tests(metafunc: Any) -> None:
    if "cloud" in metafunc.fixturenames:
        targets = _targets(metafunc.config)
        metafunc.parametrize("cloud", targets, indirect=True, ids=targets)


@pytest.fixture
def cloud(request: Any, monkeypatch: Any) -> Any:
    """A :class:`portafunc.testing.Cloud` for one target; unbound topics, queues, buckets and tables go to memory://,
    and so does the idempotency store unless the environment names one (the kit runs every target in this one
    process)."""
    from portafunc.errors import TargetNotFound
    from portafunc.messaging import reset
    from portafunc.messaging.memory import broker
    from portafunc.testing import Cloud

    name = getattr(request, "param", None) or _targets(request.config)[0]
    try:
        instance = Cloud(name)
    except TargetNotFound as exc:
        pytest.fail(f"contract target {name!r} is not available: {exc}", pytrace=False)
    monkeypatch.setenv("PORTAFUNC_DEFAULT_BINDING", "memory://")
    if not os.environ.get("PORTAFUNC_IDEMPOTENCY_STORE"):
        monkeypatch.setenv("PORTAFUNC_IDEMPOTENCY_STORE", "memory://")
    broker().reset()
    reset()
    _reset_idempotency()
    _reset_data()
    request.node._portafunc_cloud = instance
    yield instance
    broker().reset()
    reset()
    _reset_data()


def _reset_data() -> None:
    """Unbound buckets and key-value tables are memory:// too: each test starts with them empty."""
    from portafunc import data
    from portafunc.data import memory

    data.reset()
    memory.reset()


def _reset_idempotency() -> None:
    """A fresh memory:// idempotency store per test, so a key used by one test (or target) is not a replay in the
    next."""
    import sys

    if "portafunc.idempotency" in sys.modules:
        from portafunc.idempotency import reset

        reset()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: Any, call: Any) -> Any:
    outcome = yield
    report = outcome.get_result()
    instance = getattr(item, "_portafunc_cloud", None)
    if instance is not None and report.failed and call.when == "call":
        report.sections.append((f"portafunc: target {instance.name} disagreed — its native exchanges",
                                instance.describe_exchanges()))
