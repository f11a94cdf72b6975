"""Schedules: each installed target's translation must fire at exactly the instants of the neutral expression.

The dialects come from the targets (``Target.schedule_dialect()``); the evaluator reads each written string back by
the dialect's declared layout, not by its translation code."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from portafunc import ScheduleError
from portafunc.schedule import UNIX_CRON, CronDialect, next_fire_times, parse_schedule
from portafunc.targets import available, get_target

DIALECTS = {name: get_target(name).schedule_dialect() for name in sorted(available())}

EXPRESSIONS = [
    "rate(1 minute)", "rate(5 minutes)", "rate(15 minutes)", "rate(30 minutes)", "rate(1 hour)", "rate(2 hours)",
    "rate(6 hours)", "rate(1 day)", "0 3 * * *", "*/10 8-18 * * MON-FRI", "30 2 1 * *", "0 0 1 JAN,JUL *",
    "15 14 * * SUN", "0 12 * * 0,6", "5 4 * * 7", "0 9-17/2 * * *", "0 0 */5 * *", "45 23 L * *",
]


@pytest.mark.parametrize("expr", [e for e in EXPRESSIONS if " L " not in e])
@pytest.mark.parametrize("start", [datetime(2026, 2, 27, 22, 58, tzinfo=timezone.utc),
                                   datetime(2028, 12, 31, 23, 59, tzinfo=timezone.utc)])
@pytest.mark.parametrize("target", list(DIALECTS))
def test_every_translation_fires_at_the_same_instants(expr, start, target):
    schedule = parse_schedule(expr)
    expected = next_fire_times(expr, None, start, 8)
    assert len(expected) == 8
    assert next_fire_times(schedule.written(DIALECTS[target]), DIALECTS[target], start, 8) == expected


def test_every_installed_target_has_a_dialect_the_evaluator_reads():
    assert len(DIALECTS) >= 3 and all(isinstance(d, CronDialect) for d in DIALECTS.values())


KNOWN = {  # what a target writes, checked where that target is installed
    "aws": [("rate(5 minutes)", "cron(0/5 * * * ? *)"), ("0 3 * * *", "cron(0 3 * * ? *)"),
            ("*/10 8-18 * * MON-FRI", "cron(0/10 8-18 ? * MON-FRI *)"), ("0 12 * * 0,6", "cron(0 12 ? * SUN,SAT *)")],
    "azure": [("rate(5 minutes)", "0 */5 * * * *"), ("0 3 * * *", "0 0 3 * * *")],
    "gcp": [("rate(5 minutes)", "*/5 * * * *"), ("5 4 * * 7", "5 4 * * 0")],
}


@pytest.mark.parametrize("target", [t for t in KNOWN if t in DIALECTS])
def test_known_translations(target):
    for expr, written in KNOWN[target]:
        assert parse_schedule(expr).written(DIALECTS[target]) == written


def test_the_evaluator_catches_a_wrong_translation():
    """A dialect whose translation is off by one hour, or that forgets its seconds field, is told apart."""
    start = datetime(2026, 2, 27, 22, 58, tzinfo=timezone.utc)
    expected = next_fire_times("0 3 * * *", None, start, 4)
    shifted = CronDialect("shifted", lambda cron: cron.replace(" 3 ", " 4 "))
    assert next_fire_times(parse_schedule("0 3 * * *").written(shifted), shifted, start, 4) != expected
    with_seconds = CronDialect("with-seconds", lambda cron: cron, seconds=True)
    with pytest.raises(ScheduleError, match="has 5 fields; with-seconds has 6"):
        next_fire_times(parse_schedule("0 3 * * *").written(with_seconds), with_seconds, start, 4)
    assert next_fire_times("0 3 * * *", UNIX_CRON, start, 4) == expected


def test_neutral_semantics_spot_check():
    start = datetime(2026, 3, 6, 17, 0, tzinfo=timezone.utc)  # a Friday
    times = next_fire_times("*/10 8-18 * * MON-FRI", None, start, 12)
    assert times[0] == datetime(2026, 3, 6, 17, 10, tzinfo=timezone.utc)
    assert times[10] == datetime(2026, 3, 6, 18, 50, tzinfo=timezone.utc)
    assert times[11] == datetime(2026, 3, 9, 8, 0, tzinfo=timezone.utc)  # skips the weekend


@pytest.mark.parametrize("expr, reason", [
    ("rate(7 minutes)", "must divide 60"),
    ("rate(5 hours)", "must divide 24"),
    ("rate(2 days)", "resets every month"),
    ("rate(0 minutes)", "at least 1"),
    ("0 3 * *", "has 4 fields"),
    ("60 * * * *", "outside 0-59"),
    ("0 3 1 * MON", "both day-of-month and day-of-week"),
    ("0 3 * * FRI-MON", "runs backwards"),
    ("0 3 L * *", "not a number"),
    ("cron(0 3 * * ? *)", "bare 5-field cron"),
    ("", "empty"),
])
def test_invalid_expressions_refused_with_reason(expr, reason):
    with pytest.raises(ScheduleError, match=reason):
        parse_schedule(expr)
