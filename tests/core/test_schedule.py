"""Schedules: each cloud's translation must fire at exactly the instants of the neutral expression."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from portafunc import ScheduleError
from portafunc.schedule import next_fire_times, parse_schedule, to_aws, to_azure

EXPRESSIONS = [
    "rate(1 minute)", "rate(5 minutes)", "rate(15 minutes)", "rate(30 minutes)", "rate(1 hour)", "rate(2 hours)",
    "rate(6 hours)", "rate(1 day)", "0 3 * * *", "*/10 8-18 * * MON-FRI", "30 2 1 * *", "0 0 1 JAN,JUL *",
    "15 14 * * SUN", "0 12 * * 0,6", "5 4 * * 7", "0 9-17/2 * * *", "0 0 */5 * *", "45 23 L * *",
]


@pytest.mark.parametrize("expr", [e for e in EXPRESSIONS if " L " not in e])
@pytest.mark.parametrize("start", [datetime(2026, 2, 27, 22, 58, tzinfo=timezone.utc),
                                   datetime(2028, 12, 31, 23, 59, tzinfo=timezone.utc)])
def test_every_translation_fires_at_the_same_instants(expr, start):
    schedule = parse_schedule(expr)
    expected = next_fire_times(expr, "neutral", start, 8)
    assert len(expected) == 8
    assert next_fire_times(schedule.aws, "aws", start, 8) == expected
    assert next_fire_times(schedule.azure, "azure", start, 8) == expected
    assert next_fire_times(schedule.gcp, "gcp", start, 8) == expected


def test_known_translations():
    assert parse_schedule("rate(5 minutes)").aws == "cron(0/5 * * * ? *)"
    assert parse_schedule("rate(5 minutes)").azure == "0 */5 * * * *"
    assert parse_schedule("rate(5 minutes)").gcp == "*/5 * * * *"
    assert parse_schedule("0 3 * * *").aws == "cron(0 3 * * ? *)"
    assert parse_schedule("*/10 8-18 * * MON-FRI").aws == "cron(0/10 8-18 ? * MON-FRI *)"
    assert parse_schedule("5 4 * * 7").gcp == "5 4 * * 0"
    assert to_azure("0 3 * * *") == "0 0 3 * * *"
    assert to_aws("0 12 * * 0,6") == "cron(0 12 ? * SUN,SAT *)"


def test_neutral_semantics_spot_check():
    start = datetime(2026, 3, 6, 17, 0, tzinfo=timezone.utc)  # a Friday
    times = next_fire_times("*/10 8-18 * * MON-FRI", "neutral", start, 12)
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
