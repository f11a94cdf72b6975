"""req.json(): the numbers a body repeats are remembered per text (a dict lookup instead of a Python call per
float), with exactly the results and refusals of json.loads refusing non-finite numbers, before and after the process
stops remembering (bodies whose numbers rarely repeat)."""

from __future__ import annotations

import json
import math

import pytest

from portafunc import events
from portafunc.errors import BadRequest
from portafunc.events import HttpRequest, NonFiniteNumber

BODIES = [b'{"a": 1.5, "b": [1.5, 1.5, -0.0, 0.0, 2.25e3, 1E-7]}', b'[12.5, 12.5, 12.50, 1e308]', b' {"x": 0.1} ',
          b'{"x": 0.1}\n', b'{"big": 1e999}', b'{"neg": -1e999}', b'[1.5, 17976931348623159e292]', b'{"n": NaN}',
          b'[Infinity]', b'{"a": 1.5,}', b'', b'[', b'"text"', b'3.5', '{"é": 2.5}'.encode(),
          b'{"a": ' + b"1" * 400 + b'.5}', b'{"a": 1' + b"0" * 400 + b'}']


def reference(body: bytes) -> tuple[str, object]:
    """json.loads, refusing what is not a finite JSON number."""
    try:
        value = json.loads(body, parse_constant=lambda name: (_ for _ in ()).throw(ValueError(name)))
    except ValueError:
        return "refused", None
    def finite(v: object) -> bool:
        if isinstance(v, float):
            return math.isfinite(v)
        if isinstance(v, dict):
            return all(map(finite, v.values()))
        if isinstance(v, list):
            return all(map(finite, v))
        return True
    return ("ok", value) if finite(value) else ("refused", None)


def parsed(body: bytes | str) -> tuple[str, object]:
    try:
        return "ok", HttpRequest("POST", "/", body=body if isinstance(body, bytes) else body.encode()).json()
    except BadRequest:
        return "refused", None


@pytest.mark.parametrize("remembering", [True, False])
@pytest.mark.parametrize("body", BODIES)
def test_request_json_is_json_loads_refusing_non_finite_numbers(body, remembering, monkeypatch):
    if not remembering:
        monkeypatch.setattr(events, "_float_misses", events._FLOAT_MISSES_ALLOWED)
    for _ in range(2):  # the second time from the remembered numbers
        got, want = parsed(body), reference(body)
        assert repr(got) == repr(want)  # repr: -0.0 and 0.0 differ
        if body.isascii():
            kept = HttpRequest("POST", "/")
            kept.keep_ascii_body(body.decode())
            try:
                assert repr(("ok", kept.json())) == repr(want)
            except BadRequest:
                assert want[0] == "refused"


def test_a_non_finite_number_is_never_remembered():
    table = events._remembering_decoder.parse_float.__self__
    with pytest.raises(NonFiniteNumber):
        events._loads_request(b'[1e999]')
    assert "1e999" not in table
    with pytest.raises(NonFiniteNumber):
        events._loads_request(b'[1e999]')


def test_remembering_is_bounded_and_stops_for_numbers_that_do_not_repeat(monkeypatch):
    monkeypatch.setattr(events, "_float_misses", 0)
    table = events._remembering_decoder.parse_float.__self__
    monkeypatch.setattr(events, "_FLOATS_KEPT", len(table) + 10)
    body = json.dumps([i + 0.5 for i in range(events._FLOAT_MISSES_ALLOWED + 100)]).encode()
    assert HttpRequest("POST", "/", body=body).json() == json.loads(body)
    assert len(table) <= events._FLOATS_KEPT
    assert events._float_misses >= events._FLOAT_MISSES_ALLOWED  # the process parses without the table from now on
    with pytest.raises(BadRequest):
        HttpRequest("POST", "/", body=b'[2.5, 1e999]').json()
    assert HttpRequest("POST", "/", body=b'{"a": [0.5, 0.5]}').json() == {"a": [0.5, 0.5]}
