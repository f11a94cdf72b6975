"""Messages whose fields beyond id and payload are decoded on first read (``Message.deferred``), and the direct read
of the usual RFC 3339 timestamp in ``parse_time``: both must read exactly as the eager, general paths do."""

from __future__ import annotations

import copy
import pickle
from datetime import datetime, timezone
from typing import Any

import pytest

from portafunc.errors import EventDecodeError
from portafunc.events import Message, parse_time

NATIVE = {"attrs": {"a": "1"}, "group": "g", "attempt": 3, "sent": 1545082649183, "source": "arn:q"}


class _Rest:
    """The deferred fields' reader, counting its calls: a field read must call it at most once."""

    calls = 0

    def __call__(self, native: Any) -> tuple[Any, ...]:
        self.calls += 1
        return dict(native["attrs"]), native["group"], native["attempt"], native["sent"], native["source"]


_rest = _Rest()


def _eager() -> Message:
    return Message("m-1", b'{"a": 1}', {"a": "1"}, "g", 3, 1545082649183, "arn:q", NATIVE)


def test_a_deferred_message_reads_as_the_eager_one_and_decodes_the_rest_once():
    before = _rest.calls
    msg = Message.deferred("m-1", b'{"a": 1}', NATIVE, _rest)
    assert msg.id == "m-1" and msg.json() == {"a": 1} and msg.native is NATIVE
    assert _rest.calls == before  # id and payload read nothing else
    assert msg.delivery_attempt == 3
    assert msg.attributes == {"a": "1"} and msg.ordering_key == "g" and msg.source == "arn:q"
    assert msg.published_at == datetime(2018, 12, 17, 21, 37, 29, 183000, tzinfo=timezone.utc)
    assert _rest.calls == before + 1
    assert msg == _eager() and msg.to_dict(context=True) == _eager().to_dict(context=True)
    assert repr(msg) == repr(_eager()) and type(msg) is Message


def test_each_deferred_field_alone_gives_the_eager_value():
    eager = _eager()
    for name in ("attributes", "ordering_key", "delivery_attempt", "published_at", "source"):
        assert getattr(Message.deferred("m-1", b"", NATIVE, _rest), name) == getattr(eager, name), name
    assert Message.deferred("m-1", b"", NATIVE, _rest).to_cloudevent() == \
        Message("m-1", b"", {"a": "1"}, "g", 3, 1545082649183, "arn:q").to_cloudevent()


def test_a_field_set_before_the_first_read_is_kept():
    msg = Message.deferred("m-1", b"", NATIVE, _rest)
    msg.attributes = {"mine": "x"}
    msg.published_at = None
    assert msg.delivery_attempt == 3
    assert msg.attributes == {"mine": "x"} and msg.published_at is None


def test_an_unknown_attribute_is_still_an_attribute_error():
    msg = Message.deferred("m-1", b"", NATIVE, _rest)
    with pytest.raises(AttributeError):
        msg.no_such_field  # noqa: B018
    assert not hasattr(msg, "_private")
    with pytest.raises(AttributeError):
        Message.__new__(Message).attributes  # noqa: B018 - built without a decoder: nothing to read


def test_a_deferred_message_copies_and_pickles_with_its_values():
    msg = Message.deferred("m-1", b"x", NATIVE, _rest)
    assert copy.copy(msg).attributes == {"a": "1"} and copy.deepcopy(msg).delivery_attempt == 3
    assert pickle.loads(pickle.dumps(msg)).to_dict() == msg.to_dict()


def test_a_failing_decoder_raises_on_read_and_does_not_leave_half_a_message():
    def broken(native):
        raise EventDecodeError("bad", expected="good")

    msg = Message.deferred("m-1", b"", NATIVE, broken)
    for _ in range(2):  # the same answer on every read, never a message with some fields missing
        with pytest.raises(EventDecodeError):
            msg.attributes  # noqa: B018


# -- parse_time's direct read of the usual timestamp ----------------------------------------------------------------

STAMPS = ["2019-01-02T12:45:07.000Z", "2019-01-02T12:45:07.123Z", "1970-01-01T00:00:00.000Z",
          "9999-12-31T23:59:59.999Z", "2019-01-02 12:45:07.123Z", "2019-02-30T12:45:07.123Z", "2019-01-02T25:45:07.123Z",
          "2019-01-02T12:45:07.12xZ", "2019-01-02T12:45:07.²²²Z", "2019-01-02T12:45:07.1234", "2019.01.02T12:45:07.123Z",
          "2019-01-02T12:45:07,123Z", "20190102T124507.123Z", "2019-01-02T12:45:07+00:00.123Z"[:24],
          "2019-01-02T12:45:07.123z", " 2019-01-02T12:45:07.12Z", "2019-01-02T12:45:7.1234Z", "2019-W01-2T12:45:07.12Z",
          "2019-01-02T12:45:07.1+0Z", "2019-W01-2T12:45:07.123Z", "2019-01-02T12:45:60.123Z", "2019-01-02T124507Z.123Z",
          "2019-01-02T12:45:07.123Z"]


def _general(value: str):
    """``parse_time`` through its general path (a trailing space, which it strips, keeps the direct read away)."""
    try:
        return "ok", parse_time(value + " ")
    except EventDecodeError:
        return "error", None


@pytest.mark.parametrize("value", STAMPS)
def test_the_direct_timestamp_read_gives_what_the_general_path_gives(value):
    try:
        got = "ok", parse_time(value)
    except EventDecodeError:
        got = "error", None
    assert got == _general(value)
    if got[0] == "ok":
        assert got[1].utcoffset() == _general(value)[1].utcoffset() and got[1].tzinfo is not None


def test_threads_reading_a_deferred_message_at_once_all_see_its_fields():
    import sys

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # threads switch between almost every two bytecodes
    try:
        _read_from_threads()
    finally:
        sys.setswitchinterval(interval)


def _read_from_threads() -> None:
    import threading

    for _ in range(150):
        msg = Message.deferred("m-1", b"", NATIVE, _rest)
        seen: list[object] = []
        start = threading.Barrier(4)

        def read(msg=msg, seen=seen, start=start):
            start.wait()
            seen.append((msg.source, msg.attributes, msg.delivery_attempt))

        threads = [threading.Thread(target=read) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert seen == [("arn:q", {"a": "1"}, 3)] * 4


def test_an_aware_datetime_is_taken_as_is_and_a_naive_one_is_read_as_utc():
    aware = datetime(2024, 1, 1, 12, 0, tzinfo=timezone.utc)
    assert parse_time(aware) is aware
    assert parse_time(datetime(2024, 1, 1, 12, 0)) == aware


TEXTS = ['{"a": 1}', '[1, 2]', '{"a": 1}  ', '{"a": 1} x', '{"a": ', '{', '[', '"s"', '12', '', ' {"a": 1}',
         '\ufeff{"a": 1}', '{\x00"a": 1}', '{\x00}\x00', '[\x001\x00]\x00', '[\x00\x00\x001\x00\x00\x00]\x00\x00\x00', 'NaN', '{"a": NaN}', 'not json', '{"é": "ü"}', '{"a": "\\ud800"}']


def _json_outcome(msg):
    try:
        return "ok", msg.json()
    except Exception as exc:  # noqa: BLE001 - the same error either way
        return "error", type(exc).__name__, str(exc), getattr(exc, "errors", None)


@pytest.mark.parametrize("text", TEXTS)
def test_a_text_message_reads_as_the_message_of_its_utf8_bytes(text):
    """``Message.deferred_text`` (a payload that arrived as text: parsed as it is, encoded when read) gives exactly
    what ``Message.deferred`` of the encoded bytes gives: json() or its error, data, body, repr, equality, copies."""
    data = text.encode("utf-8")
    assert _json_outcome(Message.deferred_text("m-1", text, NATIVE, _rest)) == \
        _json_outcome(Message.deferred("m-1", data, NATIVE, _rest))
    msg = Message.deferred_text("m-1", text, NATIVE, _rest)
    bytes_first = Message.deferred_text("m-1", text, NATIVE, _rest)
    assert bytes_first.data == data and _json_outcome(bytes_first) == _json_outcome(_eager_of(data))
    assert msg == _eager_of(data) and repr(msg) == repr(_eager_of(data)) and isinstance(msg, Message)
    assert type(msg).__name__ == "Message"
    assert msg.to_dict(context=True) == _eager_of(data).to_dict(context=True) and msg.text == text
    for twin in (copy.copy(msg), copy.deepcopy(msg), pickle.loads(pickle.dumps(msg))):
        assert twin.data == data and _json_outcome(twin) == _json_outcome(_eager_of(data))
    msg.data = b'{"b": 2}'
    assert msg.json() == {"b": 2} and msg.data == b'{"b": 2}'


def _eager_of(data: bytes) -> Message:
    return Message("m-1", data, {"a": "1"}, "g", 3, 1545082649183, "arn:q", NATIVE)


def test_a_text_message_keeps_a_typed_body_and_its_deferred_fields():
    msg = Message.deferred_text("m-1", '{"a": 1}', NATIVE, _rest)
    msg.attributes = {"set": "before"}
    assert msg.with_body({"typed": True}).body == {"typed": True} and msg.attributes == {"set": "before"}
    assert msg.ordering_key == "g" and msg.delivery_attempt == 3 and msg.source == "arn:q"
