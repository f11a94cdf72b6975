"""``portafunc.kit.records.decoded``: a small batch is decoded whole before it runs, a large one record by record as
it runs, and both give the same events, the same failures and the same log lines for any batch, ordered or not
(undecodable records, records without an id, duplicate ids)."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

import pytest

from portafunc.kit import records
from portafunc.kit.records import FailedIds, decoded


@dataclass
class Event:
    id: str


class Refused(Exception):
    pass


def _decode(rec: dict[str, Any], index: int) -> Event:
    if rec.get("bad"):
        raise Refused(f"record {index} is refused")
    return Event(rec["id"])


def _record_id(rec: dict[str, Any]) -> Any:
    return rec.get("id")


def _run(recs: list[dict[str, Any]], ordered: bool) -> tuple[list[str], list[str]]:
    failed = FailedIds()
    events = [e.id for e in decoded(recs, _decode, record_id=_record_id, failed=failed, ordered=ordered, what="rec")]
    return events, failed.ids()


def _counting(count: list[int]) -> Any:
    def decode(rec: dict[str, Any], index: int) -> Event:
        count[0] += 1
        return _decode(rec, index)
    return decode


@pytest.mark.parametrize("ordered", [False, True])
def test_a_small_batch_is_decoded_before_its_first_event_is_taken(ordered: bool):
    count = [0]
    recs = [{"id": f"m{i}"} for i in range(records.SMALL_BATCH)]
    batch = iter(decoded(recs, _counting(count), record_id=_record_id, failed=FailedIds(), ordered=ordered,
                         what="rec"))
    assert count[0] == records.SMALL_BATCH
    assert next(batch).id == "m0"


@pytest.mark.parametrize(("size", "ordered"), [(records.SMALL_BATCH + 1, False), (records.SMALL_BATCH + 1, True),
                                               (1000, True)])
def test_a_large_batch_is_decoded_one_record_at_a_time(size: int, ordered: bool):
    count = [0]
    recs = [{"id": f"m{i}"} for i in range(size)]
    batch = iter(decoded(recs, _counting(count), record_id=_record_id, failed=FailedIds(), ordered=ordered, what="rec"))
    assert count[0] == 0
    assert next(batch).id == "m0"
    assert count[0] == 1
    assert next(batch).id == "m1"
    assert count[0] == 2


def test_a_record_without_a_string_id_fails_the_whole_batch_in_either_mode():
    for size in (2, records.SMALL_BATCH + 5):
        recs = [{"id": f"m{i}"} for i in range(size)]
        recs[1] = {"bad": True, "id": 7}
        with pytest.raises(Refused):
            _run(recs, ordered=False)


def test_both_modes_give_the_same_events_failures_and_log_lines_for_any_batch(capsys: pytest.CaptureFixture[str],
                                                                              monkeypatch: pytest.MonkeyPatch):
    rng = random.Random(20)
    for _ in range(300):
        recs = [{"id": rng.choice("abcdefgh"), "bad": rng.random() < 0.2} for _ in range(rng.randrange(0, 12))]
        for ordered in (False, True):
            capsys.readouterr()
            monkeypatch.setattr(records, "SMALL_BATCH", 32)
            whole = _run(recs, ordered)
            whole_out = capsys.readouterr()
            monkeypatch.setattr(records, "SMALL_BATCH", 0)
            one_by_one = _run(recs, ordered)
            out = capsys.readouterr()
            assert whole == one_by_one
            assert (whole_out.out + whole_out.err).count("\n") == (out.out + out.err).count("\n")
            assert whole == _reference(recs, ordered)


def _reference(recs: list[dict[str, Any]], ordered: bool) -> tuple[list[str], list[str]]:
    """The rules, written out: a refused record fails (an ordered batch's later records with it), an id seen or
    failed before is not run again."""
    events: list[str] = []
    failed: list[str] = []
    for i, rec in enumerate(recs):
        if rec["bad"]:
            failed += [rec["id"]] + ([r["id"] for r in recs[i + 1:]] if ordered else [])
            if ordered:
                break
        elif rec["id"] not in events and rec["id"] not in failed:
            events.append(rec["id"])
    return events, list(dict.fromkeys(failed))
