"""The messagePublished read at once (``pubsub.decode_published``) must give exactly the message the field-by-field
decoder (``decode_envelope``) gives, or step aside (None) for anything that decoder refuses or converts, so a
malformed envelope is still refused with the same typed error. Compared on every Pub/Sub fixture under
tests/fixtures/events/gcp (push envelopes and the CloudEvents' data) and on mutations of each field."""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path

import pytest

from portafunc.errors import EventDecodeError
from portafunc_gcp import codecs
from portafunc_gcp.codecs import pubsub

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "events" / "gcp"
SOURCE = "//pubsub.googleapis.com/projects/p/topics/t"


def _envelopes() -> list[tuple[str, dict]]:
    found = []
    for path in sorted((FIXTURES / "pubsub-push").glob("*.json")):
        found.append((path.name, json.loads(path.read_text(encoding="utf-8"))))
    for path in sorted((FIXTURES / "pubsub-cloudevent").glob("*.json")):
        doc = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(doc.get("data"), dict):
            found.append((path.name, doc["data"]))
    return found


_MESSAGE_MUTATIONS: list[tuple[str, object]] = [
    ("data", ""), ("data", "eyJhIjogMX0="), ("data", "eyJhIjogMX0"), ("data", "eyJh IjogMX0="),
    ("data", "eyJhIjogMX0=="), ("data", "=eyJhIjogMX0="), ("data", "eyJhIjogMX0=eyJh"), ("data", "ä"),
    ("data", "eyJhIjogMX0=\n"), ("data", 12), ("data", None),
    ("messageId", ""), ("messageId", 123), ("messageId", None),
    ("publishTime", "2021-02-05T04:06:14.109Z"), ("publishTime", "2021-02-05T04:06:14Z"),
    ("publishTime", "2021-02-30T04:06:14.109Z"), ("publishTime", "not a time"), ("publishTime", ""),
    ("publishTime", 1612497974109), ("publishTime", None), ("publishTime", "2021-02-05T04:06:14+00:00"),
    ("publishTime", "2021-02-05"), ("publishTime", "2021-02-05 04:06:14Z"), ("publishTime", "Z"),
    ("publishTime", "2021-02-05T04:06:14.1234567Z"), ("publishTime", "2021-02-05t04:06:14z"),
    ("attributes", {}), ("attributes", {"a": "1", "b": ""}), ("attributes", {"a": 1}), ("attributes", []),
    ("attributes", None), ("attributes", {"a": True}),
    ("orderingKey", "k"), ("orderingKey", ""), ("orderingKey", 5), ("orderingKey", None), ("ordering_key", "k2"),
]
_ENVELOPE_MUTATIONS: list[tuple[str, object]] = [
    ("deliveryAttempt", 3), ("delivery_attempt", "2"), ("subscription", None), ("subscription", 7),
    ("subscription", "projects/p/subscriptions/s"),
]
_ABSENT = object()


def _cases() -> list[tuple[str, object]]:
    cases: list[tuple[str, object]] = []
    for name, env in _envelopes():
        cases.append((name, env))
        for field, value in _MESSAGE_MUTATIONS:
            mutated = copy.deepcopy(env)
            if value is None:
                mutated["message"].pop(field, None)
            else:
                mutated["message"][field] = value
            cases.append((f"{name} message.{field}={value!r}", mutated))
        for field, value in _ENVELOPE_MUTATIONS:
            mutated = copy.deepcopy(env)
            if value is None:
                mutated.pop(field, None)
            else:
                mutated[field] = value
            cases.append((f"{name} {field}={value!r}", mutated))
    cases += [("not an object", ["x"]), ("message not an object", {"message": "x"}), ("no message", {})]
    return cases


def _full(env: object, source: str | None) -> object:
    try:
        msg = pubsub.decode_envelope(env, fallback_id="ce-id", fallback_time="2021-02-05T04:06:14.109Z",
                                     source=source, raw="RAW")
    except EventDecodeError as exc:
        return ("refused", str(exc))
    return (msg.to_dict(context=True), msg.native, type(msg))


@pytest.mark.parametrize(("name", "env"), _cases(), ids=lambda v: v if isinstance(v, str) else "")
@pytest.mark.parametrize("source", [SOURCE, None])
def test_the_direct_read_equals_the_field_by_field_decoder_or_steps_aside(name, env, source):
    fast = pubsub.decode_published(copy.deepcopy(env), source, "RAW")
    full = _full(copy.deepcopy(env), source)
    if fast is None:
        return  # read by decode_envelope: whatever it gives is the answer
    assert full == (fast.to_dict(context=True), fast.native, type(fast)), name


def test_the_usual_envelope_takes_the_direct_read_and_malformed_ones_are_still_refused():
    for name, env in _envelopes():
        if sys.version_info >= (3, 11) and "publishTime" in env["message"]:  # the emulator sends none
            assert pubsub.decode_published(env, SOURCE, None) is not None, name
        attrs = {"type": pubsub.PUBLISHED, "id": "ce-1", "source": SOURCE, "specversion": "1.0"}
        bad = copy.deepcopy(env)
        bad["message"]["data"] = "not base64!"
        with pytest.raises(EventDecodeError, match="message.data is not valid base64"):
            codecs.decode_cloudevent(attrs, data=bad)
        bad = copy.deepcopy(env)
        bad["message"]["publishTime"] = "2021-02-30T04:06:14.109Z"
        with pytest.raises(EventDecodeError):
            codecs.decode_cloudevent(attrs, data=bad)
        bad = copy.deepcopy(env)
        bad["message"]["attributes"] = {"a": [1]}
        with pytest.raises(EventDecodeError, match=r"message.attributes\['a'\] is list"):
            codecs.decode_cloudevent(attrs, data=bad)


@pytest.mark.parametrize(("name", "env"), _cases(), ids=lambda v: v if isinstance(v, str) else "")
def test_a_cloudevent_decodes_as_the_field_by_field_decoder_reads_its_data(name, env):
    attrs = {"type": pubsub.PUBLISHED, "id": "ce-id", "source": SOURCE, "specversion": "1.0",
             "time": "2021-02-05T04:06:14.109Z"}
    try:
        msg = codecs.decode_cloudevent(attrs, "RAW", data=copy.deepcopy(env))
        got: object = (msg.to_dict(context=True), msg.native, type(msg))
    except EventDecodeError as exc:
        got = ("refused", str(exc))
    assert got == _full(copy.deepcopy(env), SOURCE), name


def test_the_direct_read_sets_every_slot_a_constructed_message_has():
    """decode_published builds its Message slot by slot: every slot of Message holds what Message(...) puts there
    for the same fields, so a slot added to Message cannot be left unset (an AttributeError on first read)."""
    from portafunc.events import Message

    for name, env in _envelopes():
        fast = pubsub.decode_published(copy.deepcopy(env), SOURCE, "RAW")
        if fast is None:
            continue
        built = Message(fast.id, fast.data, fast.attributes, fast.ordering_key, fast.delivery_attempt,
                        fast.published_at, fast.source, fast.native)
        slots = [slot for cls in type(built).__mro__ for slot in getattr(cls, "__slots__", ())]
        assert "_attributes" in slots and type(fast) is Message
        for slot in slots:
            assert getattr(fast, slot) == getattr(built, slot), (name, slot)
