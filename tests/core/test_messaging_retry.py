"""The shared backoff-until-deadline rule of every messaging backend (portafunc.messaging.retry)."""

from __future__ import annotations

import time

import pytest

from portafunc.errors import BindingError, MessagingError, PartialSendError
from portafunc.messaging.retry import GaveUp, call_until, timeout_option


class Flaky(Exception):
    pass


class Fatal(Exception):
    pass


def _is_flaky(exc: BaseException) -> bool:
    return isinstance(exc, Flaky)


def test_transient_failures_are_retried_until_success() -> None:
    calls: list[float] = []

    def fn(left: float) -> str:
        calls.append(left)
        if len(calls) < 3:
            raise Flaky("connection refused")
        return "ok"

    assert call_until(time.monotonic() + 5, fn, _is_flaky, base=0.001) == "ok"
    assert len(calls) == 3
    assert all(0 < left <= 5 for left in calls)


def test_a_non_transient_failure_passes_through_at_once() -> None:
    calls = 0

    def fn(left: float) -> None:
        nonlocal calls
        calls += 1
        raise Fatal("403")

    with pytest.raises(Fatal):
        call_until(time.monotonic() + 5, fn, _is_flaky)
    assert calls == 1


def test_the_deadline_stops_the_retries_with_the_last_error() -> None:
    started = time.monotonic()
    calls = 0

    def fn(left: float) -> None:
        nonlocal calls
        calls += 1
        raise Flaky(f"refused #{calls}")

    with pytest.raises(GaveUp) as info:
        call_until(started + 0.6, fn, _is_flaky, base=0.05, cap=0.1)
    took = time.monotonic() - started
    assert 0.45 <= took < 1.5
    assert info.value.attempts == calls > 2
    assert str(info.value.last) == f"refused #{calls}"
    assert "?timeout=" in str(info.value)


def test_a_retry_count_stops_before_the_deadline() -> None:
    calls = 0

    def fn(left: float) -> None:
        nonlocal calls
        calls += 1
        raise Flaky("x")

    with pytest.raises(GaveUp):
        call_until(time.monotonic() + 30, fn, _is_flaky, retries=2, base=0.001)
    assert calls == 3


@pytest.mark.parametrize("raw, expected", [(None, 30.0), ("2.5", 2.5), ("1", 1.0)])
def test_timeout_option(raw: str | None, expected: float) -> None:
    options = {} if raw is None else {"timeout": raw}
    assert timeout_option(options, "x://y") == expected


@pytest.mark.parametrize("raw", ["soon", "0", "-1", "inf", "nan"])
def test_a_bad_timeout_option_is_a_binding_error_naming_the_url(raw: str) -> None:
    with pytest.raises(BindingError, match="x://y"):
        timeout_option({"timeout": raw}, "x://y")


def test_a_partial_send_says_which_messages_are_missing() -> None:
    error = PartialSendError("2 of 4 sent", ["a", None, "c", None])
    assert isinstance(error, MessagingError)
    assert error.missing == [1, 3]
