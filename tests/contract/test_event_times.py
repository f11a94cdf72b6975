"""The kit's event builders set the time each native event carries: ``cloud.storage(time=)``,
``cloud.schedule(time=)`` and ``cloud.enqueue/publish(published_at=)``. The handler reads back the same instant, in UTC,
written the same way, on every target the kit drives; a naive datetime is refused before any target is called."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from portafunc import App, Message, ScheduleEvent, StorageEvent
from portafunc.testing import ContractError

app = App("times")
seen: dict[str, list[str]] = {}

PARIS_SUMMER = timezone(timedelta(hours=2))
WHEN = datetime(2025, 3, 4, 5, 6, 7, 123456, tzinfo=PARIS_SUMMER)  # 03:06:07.123456 UTC


def _keep(what: str, when: datetime | None) -> None:
    assert when is not None
    seen.setdefault(what, []).append(when.isoformat())


@app.storage("files", events=["created", "deleted"])
def on_file(evt: StorageEvent) -> None:
    _keep(f"storage {evt.kind}", evt.time)


@app.queue("jobs")
def job(msg: Message) -> None:
    _keep("queue", msg.published_at)


@app.topic("news")
def news(msg: Message) -> None:
    _keep("topic", msg.published_at)


@app.schedule("rate(5 minutes)")
def tick(evt: ScheduleEvent) -> None:
    _keep("schedule", evt.time)


@pytest.fixture(autouse=True)
def _clear() -> None:
    seen.clear()


def test_storage_time_reads_back(cloud) -> None:
    assert cloud.storage(app, "files", "a.txt", time=WHEN).ok
    assert cloud.storage(app, "files", "a.txt", event="deleted", time=datetime(2026, 1, 1, tzinfo=timezone.utc)).ok
    assert seen == {"storage created": ["2025-03-04T03:06:07.123456+00:00"],
                    "storage deleted": ["2026-01-01T00:00:00+00:00"]}


def test_a_cleanup_sees_old_and_recent_objects_apart(cloud) -> None:
    """What the parameter is for: time-based logic, with instants the test chooses."""
    now = datetime(2026, 6, 1, 12, 0, tzinfo=timezone.utc)
    for days in (30, 1):
        assert cloud.storage(app, "files", f"{days}d.txt", time=now - timedelta(days=days)).ok
    times = [datetime.fromisoformat(t) for t in seen["storage created"]]
    assert [now - t > timedelta(days=7) for t in times] == [True, False]


def test_message_published_at_reads_back(cloud) -> None:
    assert cloud.enqueue(app, "jobs", [{"n": 1}, {"n": 2}], published_at=WHEN).ok
    assert cloud.publish(app, "news", {"n": 3}, published_at=WHEN).ok
    # to the millisecond on every target: an SQS message's time carries no finer
    assert seen == {"queue": ["2025-03-04T03:06:07.123000+00:00"] * 2, "topic": ["2025-03-04T03:06:07.123000+00:00"]}


def test_a_message_given_whole_keeps_its_own_time(cloud) -> None:
    own = Message(id="m-1", data=b"{}", published_at=datetime(2024, 2, 29, 23, 59, 59, tzinfo=timezone.utc))
    assert cloud.enqueue(app, "jobs", [own, {"n": 2}], published_at=WHEN).ok
    assert seen["queue"] == ["2024-02-29T23:59:59+00:00", "2025-03-04T03:06:07.123000+00:00"]


def test_schedule_time_reads_back_in_utc(cloud) -> None:
    assert cloud.schedule(app, "tick", time=WHEN).ok
    assert seen == {"schedule": ["2025-03-04T03:06:07.123456+00:00"]}


def test_default_times_are_now_to_the_second(cloud) -> None:
    before = datetime.now(timezone.utc).replace(microsecond=0)
    assert cloud.storage(app, "files", "a.txt").ok and cloud.enqueue(app, "jobs", [{}]).ok
    after = datetime.now(timezone.utc)
    for what in ("storage created", "queue"):
        [text] = seen[what]
        read = datetime.fromisoformat(text)
        assert before <= read <= after and read.microsecond == 0 and read.tzinfo == timezone.utc


@pytest.mark.parametrize("call", [
    lambda cloud, t: cloud.storage(app, "files", "a.txt", time=t),
    lambda cloud, t: cloud.enqueue(app, "jobs", [{}], published_at=t),
    lambda cloud, t: cloud.publish(app, "news", {}, published_at=t),
    lambda cloud, t: cloud.schedule(app, "tick", time=t),
], ids=["storage", "enqueue", "publish", "schedule"])
def test_a_naive_time_is_refused(cloud, call) -> None:
    with pytest.raises(ContractError, match=r"2026-01-01T03:00:00 is a naive datetime.*tzinfo=timezone\.utc"):
        call(cloud, datetime(2026, 1, 1, 3, 0))
    with pytest.raises(ContractError, match="must be a datetime with a time zone, not str"):
        call(cloud, "2026-01-01T03:00:00Z")
    assert seen == {} and cloud.exchanges == []  # refused before any target was driven
