"""A typed message whose payload arrived as text (SQS and SNS bodies, ``Message.deferred_text``) is validated from
that text, without encoding it to bytes first: pydantic reads text as its UTF-8 bytes, so every outcome — the typed
body, the rejection with its errors, the rejection's log line — must be exactly the one of the message of the encoded
bytes. Checked on each lane a typed message takes: the batch, one message, and a one-message trigger's runner."""

from __future__ import annotations

import json
from typing import Any, Callable

import pytest
from pydantic import BaseModel

from portafunc import App, Message
from portafunc.events import _TextMessage
from portafunc.invoke import BatchResult, invoke_batch, invoke_message, message_runner

from log_support import without_varying

NATIVE: dict[str, Any] = {}


class Order(BaseModel):
    id: str
    total: float


def _rest(native: Any) -> tuple[Any, ...]:
    return {}, None, 1, None, "arn:q"


def _app(seen: list[Any]) -> App:
    app = App("text-payloads")

    @app.queue("orders", name="orders")
    def orders(msg: Message[Order]) -> None:
        seen.append(msg.body)

    return app


PAYLOADS = [
    '{"id": "o-1", "total": 1.5}',
    '{"id": "caf\u00e9 \u2603", "total": 2}',  # non-ASCII (deferred_text allows any text that encodes to UTF-8)
    '  {"id": "o-2", "total": "3.25"}\n',
    '{"id": 1}',  # two field errors
    '{"id": "o-3", "total": "x"}',
    "not json",
    "",
    "\x00{}",  # bytes json.loads would read as UTF-16: pydantic reads neither as JSON
    '{"id": "o-4", "total": 1}trailing',
    "[1, 2]",
]

Lane = Callable[[App, Message], Any]


def _batch(app: App, msg: Message) -> Any:
    result: BatchResult = invoke_batch(app.function("orders"), [msg], target="aws")
    return [(r.message_id, r.outcome, r.error) for r in result.results]


def _one(app: App, msg: Message) -> Any:
    result = invoke_message(app.function("orders"), msg, target="aws")
    return result.message_id, result.outcome, result.error


def _runner(app: App, msg: Message) -> Any:
    result = message_runner(app.function("orders"), "aws")(msg, "inv-1", None)
    return None if result is None else (result.message_id, result.outcome, result.error)


def _outcome(lane: Lane, msg: Message, capsys: pytest.CaptureFixture[str]) -> tuple[Any, ...]:
    seen: list[Any] = []
    app = _app(seen)
    capsys.readouterr()
    result = lane(app, msg)
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    for line in lines:  # the time and the invocation's random ids differ from run to run, in every cloud's shape
        without_varying(line).pop("invocation_id", None)
    return result, [(type(b), b.model_dump()) for b in seen], lines


@pytest.mark.parametrize("lane", [_batch, _one, _runner], ids=["batch", "one", "runner"])
@pytest.mark.parametrize("text", PAYLOADS)
def test_a_text_payload_validates_as_its_utf8_bytes(lane: Lane, text: str,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    as_text = Message.deferred_text("m-1", text, NATIVE, _rest)
    as_bytes = Message.deferred("m-1", text.encode("utf-8"), NATIVE, _rest)
    assert isinstance(as_text, _TextMessage) and not isinstance(as_bytes, _TextMessage)
    assert _outcome(lane, as_text, capsys) == _outcome(lane, as_bytes, capsys)
    assert as_text.data == as_bytes.data and as_text == as_bytes  # the bytes, when read, are the same


@pytest.mark.parametrize("lane", [_batch, _one, _runner], ids=["batch", "one", "runner"])
def test_validating_a_text_payload_does_not_encode_it(lane: Lane, capsys: pytest.CaptureFixture[str]) -> None:
    """Only a reader of ``data`` makes the bytes (a rejection's log line does: it gives their size and digest)."""
    valid = Message.deferred_text("m-1", '{"id": "o-1", "total": 1.5}', NATIVE, _rest)
    _outcome(lane, valid, capsys)
    assert valid._text is not None  # still the text: no bytes made
    assert valid.body == Order(id="o-1", total=1.5)


def test_a_rejection_log_line_names_the_message_and_never_its_content(capsys: pytest.CaptureFixture[str]) -> None:
    secret = '{"id": "sekrit-4111", "total": "sekrit-x"}'
    result, _, lines = _outcome(_batch, Message.deferred_text("m-9", secret, NATIVE, _rest), capsys)
    assert result[0][1].value != "success" and lines
    assert "m-9" in json.dumps(lines) and "sekrit" not in json.dumps(lines)


def test_a_repeated_rejection_logs_each_payload_s_own_digest(monkeypatch: pytest.MonkeyPatch,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    """Small payloads' digests are remembered by their bytes (bounded): every line still gives its payload's SHA-256,
    through a full cache being emptied, and for a payload held in a bytearray (not a key)."""
    import hashlib

    from portafunc import invoke

    monkeypatch.setattr(invoke, "_fingerprints", {})
    monkeypatch.setattr(invoke, "_FINGERPRINTS_MAX", 2)
    payloads: list[Any] = [b'{"id": 1}', b'{"id": 2}', b'{"id": 1}', b'{"id": 3}', b'{"id": 1}',
                           bytearray(b'{"id": 4}'), b'{"id": 5}' + b" " * 300]
    for data in payloads:
        _, _, lines = _outcome(_batch, Message("m-1", data), capsys)
        assert [line["payload_sha256"] for line in lines] == [hashlib.sha256(data).hexdigest()]
    assert len(invoke._fingerprints) <= 2 and all(key.__class__ is bytes for key in invoke._fingerprints)
