"""Batch records: decode them for the pipeline, and collect per-record failures.

A batch (an SQS event, an Event Grid delivery, a list of queue messages) holds records that succeed or fail one by
one. The rules every target applies are the same: a record that cannot be decoded fails alone (logged, never run),
an ordered batch stops at its first failure and reports every later record too, a record id seen twice in one batch
runs once, and the failures are reported once each, in batch order.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Sequence
    from typing import Any, TypeVar

    R = TypeVar("R")
    E = TypeVar("E")


class FailedIds:
    """The ids of a batch's failed records, each once, in the order they were added."""

    __slots__ = ("_ids",)

    def __init__(self) -> None:
        self._ids: dict[str, None] = {}

    def add(self, record_id: str) -> None:
        self._ids[record_id] = None

    def update(self, record_ids: Iterable[str]) -> None:
        for record_id in record_ids:
            self._ids[record_id] = None

    def __contains__(self, record_id: object) -> bool:
        return record_id in self._ids

    def __bool__(self) -> bool:
        return bool(self._ids)

    def __len__(self) -> int:
        return len(self._ids)

    def ids(self) -> list[str]:
        return list(self._ids)

    def in_batch_order(self, batch_ids: Iterable[Any]) -> list[str]:
        """These ids ordered as ``batch_ids`` (the records' ids as delivered), each once; ids not in the batch are
        left out."""
        if not self._ids:
            return []
        return list(dict.fromkeys(i for i in batch_ids if i in self._ids))

    def answer(self, records: Iterable[Any], id_key: str, item_key: str, more: Iterable[str] = ()
               ) -> list[dict[str, Any]]:
        """``[{item_key: id}, ...]`` for these ids and ``more`` in the order of ``records`` (each record's id read as
        ``record.get(id_key)``), each once; ids not in the batch are left out. One pass builds the ids' order and the
        batch answer's items: the answer is built for a batch that had failures, and this set is not used after it
        (the ids are taken out of it as they are found)."""
        ids = self._ids
        for record_id in more:
            ids[record_id] = None
        items: list[dict[str, Any]] = []
        if ids:
            take = ids.pop
            for record in records:
                record_id = record.get(id_key)
                if take(record_id, ids) is None:  # in the set, and not taken yet: its first copy in the batch
                    items.append({item_key: record_id})
                    if not ids:
                        break
        return items


SMALL_BATCH = 32
"""Up to this many records, a batch is decoded whole before its first message runs: a list is walked faster than a
generator resumed per record (a quarter of a microsecond a record), and so few messages cost little to hold. A
larger batch is decoded one record at a time, so memory stays bounded however many records it holds. Both give the
same events, failures and log lines (``tests/core/test_batch_records.py``); a refused record's line comes before the
lines of the messages that run."""


def decoded(records: Sequence[R], decode: Callable[[R, int], E], *, record_id: Callable[[R], Any],
            failed: FailedIds, ordered: bool, what: str) -> Iterable[E]:
    """The batch's events to run, in order: each record decoded by ``decode(record, index)``.

    A record ``decode`` refuses (any exception) is logged and added to ``failed`` (with every later record of an
    ordered batch) and skipped; a record without a string id to name re-raises, because only failing the whole
    invocation brings it back. An event whose ``id`` was already seen (or already failed) is skipped: the copies are
    one message, the first copy's outcome answers for both. A small batch is decoded at once (a list, see
    :data:`SMALL_BATCH`), a larger one as the consumer asks for the next (one alive at a time).
    """
    if len(records) > SMALL_BATCH:
        return _one_at_a_time(records, decode, record_id, failed, ordered, what)
    events: list[E] = []
    keep = events.append
    seen: set[str] = set()
    see = seen.add
    failed_ids = failed._ids  # the dict itself: a membership test without a method call per record
    for index, rec in enumerate(records):
        try:
            event = decode(rec, index)
        except Exception as exc:  # noqa: BLE001 - one bad record fails alone (EventDecodeError or worse)
            _refused(records, index, exc, record_id, failed, ordered, what)
            if ordered:  # keep order: this one and every later one come back
                break
            continue
        eid = event.id  # type: ignore[attr-defined]  # every event a batch holds has one
        if eid in seen or (failed_ids and eid in failed_ids):
            _duplicate(eid, what)
            continue
        see(eid)
        keep(event)
    return events


def _one_at_a_time(records: Sequence[R], decode: Callable[[R, int], E], record_id: Callable[[R], Any],
                   failed: FailedIds, ordered: bool, what: str) -> Iterator[E]:
    """:func:`decoded` as a generator: each record decoded when the consumer asks for the next."""
    seen: set[str] = set()
    see = seen.add
    failed_ids = failed._ids
    for index, rec in enumerate(records):
        try:
            event = decode(rec, index)
        except Exception as exc:  # noqa: BLE001 - one bad record fails alone (EventDecodeError or worse)
            _refused(records, index, exc, record_id, failed, ordered, what)
            if ordered:  # keep order: this one and every later one come back
                break
            continue
        eid = event.id  # type: ignore[attr-defined]
        if eid in seen or (failed_ids and eid in failed_ids):
            _duplicate(eid, what)
            continue
        see(eid)
        yield event


def _refused(records: Sequence[R], index: int, exc: Exception, record_id: Callable[[R], Any], failed: FailedIds,
             ordered: bool, what: str) -> None:
    """Record ``index`` could not be decoded: logged and reported failed (an ordered batch's later records with
    it). Re-raises ``exc`` when the record has no string id to name (the whole invocation must fail)."""
    bad_id = record_id(records[index])
    if not isinstance(bad_id, str):
        raise exc
    from .. import logs

    logs.error(f"undecodable {what} reported failed; the source's redrive or dead-letter policy takes it",
               message_id=bad_id, error=f"{type(exc).__name__}: {logs.redact(_text_of(exc))}")
    failed.add(bad_id)
    if ordered:
        failed.update(i for i in map(record_id, records[index + 1:]) if isinstance(i, str))


def _duplicate(event_id: str, what: str) -> None:
    from .. import logs

    logs.log("INFO", f"duplicate {what} id in the batch: the copy is not run again", message_id=event_id)


def _text_of(exc: BaseException) -> str:
    try:
        return str(exc)[:2000]
    except Exception:  # noqa: BLE001 - a message that cannot be printed
        return "<unprintable>"
