"""decode(encode(x)) == x for every neutral kind, every native variant, every target (hypothesis)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from portafunc.events import HttpRequest, Message, ScheduleEvent, StorageEvent
from portafunc.targets import available, get_target

TARGETS = sorted(available())  # every installed target, as the pytest plugin's matrix
_token = st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters="%?#/;,=\"\\"),
                 min_size=1, max_size=12)
_header_name = st.text(alphabet="abcdefghijklmnopqrstuvwxyz-", min_size=1, max_size=10).filter(
    lambda n: n.strip("-") == n and n not in ("cookie", "host", "content-length", "x-forwarded-for"))
_header_value = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E, exclude_characters=","),
                        min_size=1, max_size=20).map(str.strip).filter(bool)
_unicode = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=10)
_times = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 1, 1)).map(
    lambda d: d.replace(microsecond=(d.microsecond // 1000) * 1000, tzinfo=timezone.utc))


@st.composite
def http_requests(draw):
    segments = draw(st.lists(st.one_of(_token, _unicode.filter(lambda s: "/" not in s and s not in (".", ".."))),
                             min_size=1, max_size=3))
    return HttpRequest(
        method=draw(st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH"])),
        path="/" + "/".join(segments),
        query=draw(st.dictionaries(_token, st.lists(_unicode, min_size=1, max_size=3), max_size=3)),
        headers=draw(st.lists(st.tuples(_header_name, _header_value), max_size=4)),
        body=draw(st.binary(max_size=64)),
    )


@st.composite
def messages(draw):
    return Message(
        id=draw(st.uuids()).__str__(),
        data=draw(st.binary(min_size=1, max_size=64)),
        attributes=draw(st.dictionaries(st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=10),
                                        _unicode, max_size=4)),
        delivery_attempt=draw(st.integers(min_value=1, max_value=9)),
        published_at=draw(_times),
    )


@st.composite
def storage_events(draw):
    key = "/".join(draw(st.lists(_unicode.filter(lambda s: "/" not in s), min_size=1, max_size=3)))
    return StorageEvent(bucket=draw(st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-", min_size=3,
                                            max_size=20)),
                        key=key, kind=draw(st.sampled_from(["created", "deleted"])),
                        size=draw(st.integers(min_value=0, max_value=2**40)),
                        etag=draw(st.text(alphabet="0123456789abcdef", min_size=32, max_size=32)))


@st.composite
def schedule_events(draw):
    return ScheduleEvent(time=draw(_times).replace(microsecond=0))


STRATEGIES = {"http": http_requests(), "message": messages(), "storage": storage_events(),
              "schedule": schedule_events()}
# Always tried besides the random draws: instants that float milliseconds (timestamp() * 1000) turn 1 ms early; a
# decoded path holding "%" characters (an escape's look-alike among them), which the wire must carry as "%25".
REGRESSIONS = {"http": [HttpRequest("GET", "/items/a%20b/100%/%zz")],
               "message": [Message(id="m-1", data=b"x", published_at=datetime(2038, 1, 29, 8, 36, 33, 923000,
                                                                              tzinfo=timezone.utc))]}


def _cases():
    for target in TARGETS:
        for kind in STRATEGIES:
            try:
                variants = get_target(target).variants(kind)
            except Exception as exc:  # noqa: BLE001 -- a missing adapter must fail, not vanish from the matrix
                yield pytest.param(target, kind, f"<{type(exc).__name__}: {exc}>", id=f"{target}-{kind}-broken")
                continue
            for variant in variants:
                yield pytest.param(target, kind, variant, id=f"{target}-{kind}-{variant or 'default'}")


@pytest.mark.parametrize("target_name, kind, variant", list(_cases()))
def test_decode_encode_round_trip(target_name, kind, variant):
    round_trip_property(target_name, kind, variant)()


def round_trip_property(target_name, kind, variant):
    """The property as a runnable hypothesis test: raises AssertionError on the first (shrunk) counterexample."""
    target = get_target(target_name)

    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(event=STRATEGIES[kind])
    def check(event):
        native = target.encode(event, variant or None)
        decoded = target.decode(native)
        assert len(decoded) == 1, f"{target_name}/{variant}: expected one event, got {len(decoded)}"
        lost = target.uncarried(kind, variant or None)
        got = _comparable(decoded[0].to_dict(), lost)
        want = _comparable(event.to_dict(), lost)
        assert got == want

    for known in REGRESSIONS.get(kind, []):
        check = example(event=known)(check)
    return check


# -- the property can fail: each mutant decoder below must be caught --------------------------------------------------

def _one_ms_early(ev):
    ev.published_at -= timedelta(milliseconds=1)


def _invented_header(ev):
    ev.headers.add("Host", "example.invalid")


def _size_off_by_one(ev):
    ev.size += 1


def _late_by_a_second(ev):
    ev.time += timedelta(seconds=1)


def _drop_last_attribute(ev):
    if ev.attributes:
        ev.attributes.popitem()


MUTANTS = [
    pytest.param("aws", "message", "sqs", _one_ms_early, id="aws-sqs-published-1ms-early"),
    pytest.param("aws", "message", "sns", _drop_last_attribute, id="aws-sns-attribute-lost"),
    pytest.param("gcp", "http", "request", _invented_header, id="gcp-http-invented-host"),
    pytest.param("azure", "storage", "eventgrid", _size_off_by_one, id="azure-storage-size"),
    pytest.param("gcp", "schedule", "scheduler-http", _late_by_a_second, id="gcp-schedule-late"),
]


@pytest.mark.parametrize("target_name, kind, variant, mutate", MUTANTS)
def test_round_trip_catches_a_sabotaged_decoder(target_name, kind, variant, mutate, monkeypatch):
    """Mutation check of the property itself: a decoder that is subtly wrong makes the round-trip test fail."""
    assert variant in get_target(target_name).variants(kind), "the mutant must target a real variant"
    target = get_target(target_name)
    real_decode = target.decode

    def sabotaged(native):
        events = real_decode(native)
        for ev in events:
            mutate(ev)
        return events

    round_trip_property(target_name, kind, variant)()  # green with the real decoder
    monkeypatch.setattr(target, "decode", sabotaged)
    with pytest.raises(AssertionError):
        round_trip_property(target_name, kind, variant)()


def _comparable(form, lost):
    """Drop what the variant cannot carry; where it joins repeated headers with commas, compare them joined."""
    out = {k: v for k, v in form.items() if k not in lost}
    if "headers.repeated" in lost and "headers" in out:
        out["headers"] = {name: [",".join(values)] for name, values in out["headers"].items()}
    return out
