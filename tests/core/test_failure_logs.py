"""What a failing message logs, and what it costs to build: type, message and a traceback summary on every failure;
the full traceback the first time a failure happens at a place in a process, and every time at DEBUG; nothing built
when the level drops the line."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import BaseModel, field_validator

from portafunc import App, Message, logs
from portafunc import invoke
from portafunc.invoke import invoke_batch


def _app() -> App:
    app = App("failing")

    @app.queue("work")
    def work(msg: Message) -> None:
        if msg.data == b"other":
            raise ValueError("another place")
        raise KeyError("total")  # the place every other failure happens

    return app


def _failures(err: str) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    return [line for line in lines if line.get("message", "").startswith("handler failed")]


def _rejecting(name: str, model: type[BaseModel], queue: str = "orders") -> App:
    """An app whose one queue handler takes ``Message[model]``: every payload that does not match is rejected before
    the handler runs."""
    app = App(name)

    def handler(msg: Message[Any]) -> None:
        raise AssertionError("never called")

    handler.__annotations__["msg"] = Message[model]  # type: ignore[valid-type]
    app.queue(queue, name=queue)(handler)
    return app


@pytest.fixture(autouse=True)
def fresh_places(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(invoke, "_full_traceback_logged", set())  # as in a new process (a cold start)
    monkeypatch.setattr(invoke, "_summaries", {})


def test_full_traceback_on_first_occurrence_then_a_summary(monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(logs, "_threshold", 20)  # INFO, the default
    spec = _app().function("work")
    batch = invoke_batch(spec, [Message(id=f"m-{i}", data=b"{}") for i in range(3)] + [Message(id="o", data=b"other")])
    assert batch.failed_ids == ["m-0", "m-1", "m-2", "o"]
    first, second, third, other = _failures(capsys.readouterr().err)
    for line in (first, second, third):
        assert line["error_type"] == "KeyError" and line["error"] == "'total'"
    assert first["traceback"].startswith("Traceback (most recent call last)")
    assert 'raise KeyError("total")' in first["traceback"]
    for line in (second, third):
        summary = line["traceback"]
        assert summary.startswith("(repeat;") and "Traceback (most recent" not in summary
        assert "test_failure_logs.py:" in summary and "in work" in summary  # where it failed: file, line, function
    assert other["traceback"].startswith("Traceback (most recent call last)")  # another place: its own first time


def test_every_failure_carries_the_full_traceback_at_debug(monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(logs, "_threshold", 10)
    spec = _app().function("work")
    invoke_batch(spec, [Message(id=f"m-{i}", data=b"{}") for i in range(3)])
    lines = _failures(capsys.readouterr().err)
    assert len(lines) == 3
    assert all(line["traceback"].startswith("Traceback (most recent call last)") for line in lines)


def test_nothing_is_formatted_when_the_level_drops_the_line(monkeypatch: pytest.MonkeyPatch,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(logs, "_threshold", 40)  # PORTAFUNC_LOG_LEVEL=ERROR

    def no_traceback(exc: BaseException) -> str:
        raise AssertionError("the traceback was built for a line that is not written")

    monkeypatch.setattr(invoke, "_traceback", no_traceback)
    batch = invoke_batch(_app().function("work"), [Message(id="m-1", data=b"{}")])
    assert batch.failed_ids == ["m-1"]
    assert _failures(capsys.readouterr().err) == []


class Order(BaseModel):
    id: int
    total: float


def _chain_app() -> App:
    app = App("chained")

    def inner(msg: Message) -> None:
        raise ConnectionError("downstream at postgres://svc:hunter2@db:5432/x refused token=s3cr3t-t0ken")

    def middle(msg: Message) -> None:
        inner(msg)

    @app.queue("work")
    def work(msg: Message) -> None:
        middle(msg)

    return app


def test_the_repeat_summary_names_file_line_and_function_of_the_three_innermost_frames(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(logs, "_threshold", 20)
    monkeypatch.setattr(invoke, "_summaries", {})
    spec = _chain_app().function("work")
    invoke_batch(spec, [Message(id=f"m-{i}", data=b"{}") for i in range(3)])
    first, second, third = _failures(capsys.readouterr().err)
    assert first["traceback"].startswith("Traceback (most recent call last)")
    frames = second["traceback"].removeprefix("(repeat; full traceback at first occurrence or DEBUG) ").split(" > ")
    assert [f.rsplit(" in ", 1)[1] for f in frames] == ["work", "middle", "inner"]  # outermost of the three first
    assert all(f.startswith("test_failure_logs.py:") for f in frames)
    lines = [int(f.split(":")[1].split(" ")[0]) for f in frames]
    assert all(f'File "{__file__}", line {n}, in {name}' in first["traceback"]
               for n, name in zip(lines, ("work", "middle", "inner"), strict=True))  # the same places as the full traceback
    assert third["traceback"] == second["traceback"]
    for line in (first, second, third):
        assert line["error_type"] == "ConnectionError"


def test_a_secret_in_the_exception_message_is_redacted(monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(logs, "_threshold", 20)
    batch = invoke_batch(_chain_app().function("work"), [Message(id=f"m-{i}", data=b"{}") for i in range(2)])
    assert batch.failed_ids == ["m-0", "m-1"]
    err = capsys.readouterr().err
    assert "hunter2" not in err and "s3cr3t-t0ken" not in err  # neither in the message nor in the full traceback
    first, repeat = _failures(err)
    for line in (first, repeat):
        assert line["error"].startswith("downstream at postgres://svc:[REDACTED]@db:5432/x refused token=")
        assert line["error"].endswith("[REDACTED]")


def test_a_rejected_payload_is_never_logged_by_value(monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    """The validation errors keep where and why (loc, msg, type), never the input that failed: a payload's content
    (card numbers, personal data) stays out of the log and out of the rejection's reason."""
    app = _rejecting("typed", Order)

    monkeypatch.setattr(logs, "_threshold", 20)
    monkeypatch.delenv("PORTAFUNC_LOG_PAYLOADS", raising=False)
    monkeypatch.delenv("PORTAFUNC_DEADLETTER_ORDERS", raising=False)
    data = b'{"id": "4111111111111111x", "total": "hunter2-total", "card": "4111111111111111"}'
    batch = invoke_batch(app.function("orders"), [Message(id="m-1", data=data)])
    assert batch.failed_ids == ["m-1"]
    error = batch.results[0].error or ""
    assert error and "4111111111111111" not in error and "hunter2" not in error
    err = capsys.readouterr().err
    assert "4111111111111111" not in err and "hunter2" not in err
    line = next(json.loads(text) for text in err.splitlines() if "NON-RETRYABLE" in text)
    assert line["errors"] == [{"loc": ["id"], "msg": "Input should be a valid integer, unable to parse string as an "
                                                     "integer", "type": "int_parsing"},
                              {"loc": ["total"], "msg": "Input should be a valid number, unable to parse string as a "
                                                        "number", "type": "float_parsing"}]
    assert line["reason"] == "PayloadValidationError: message m-1 does not match Order: 2 error(s)"


def test_validation_errors_are_read_without_input_values() -> None:
    """pydantic is asked for errors without their inputs: the error objects the pipeline keeps never hold the
    payload's content, whoever reads them later."""
    from portafunc.errors import PayloadValidationError

    asked: list[dict[str, Any]] = []

    class Spy(ValueError):
        def errors(self, **options: Any) -> list[dict[str, Any]]:
            asked.append(options)
            return [{"loc": ("id",), "msg": "bad", "type": "int_parsing"}]

    def validate(data: bytes) -> Any:
        raise Spy("x")

    with pytest.raises(PayloadValidationError) as caught:
        invoke._validate(Order, b'{"id": "secret"}', Message(id="m", data=b""), validate)
    assert asked == [{"include_url": False, "include_input": False, "include_context": False}]
    assert caught.value.errors == [{"loc": ["id"], "msg": "bad", "type": "int_parsing"}]


def test_a_repeated_rejections_errors_are_a_list_of_its_own_for_each_reader(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """Errors whose log line is remembered are held by their content and made into a list only when read: each
    rejection's ``errors`` is then a list of its own, a reader changing it changes no other rejection nor any line,
    and an assigned list is kept."""
    from portafunc.errors import PayloadValidationError

    monkeypatch.setattr(logs, "_threshold", 20)
    monkeypatch.delenv("PORTAFUNC_DEADLETTER_ORDERS", raising=False)
    monkeypatch.setattr(invoke, "_redacted_errors", {})
    expected = [{"loc": ["total"], "msg": "Field required", "type": "missing"}]
    spec = _rejecting("held-errors", Order).function("orders")
    invoke_batch(spec, [Message(id="m-1", data=b'{"id": 1}')])  # the first: its line's text is remembered

    caught = []
    for _ in range(2):
        with pytest.raises(PayloadValidationError) as raised:
            invoke._validate(Order, b'{"id": 1}', Message(id="m", data=b""))
        caught.append(raised.value)
    assert all(exc._errors.__class__ is not list for exc in caught)  # held by content: no list built yet
    first, second = caught[0].errors, caught[1].errors
    assert first == second == expected and first is not second and first[0] is not second[0]
    assert caught[0].errors is first  # made once, then kept
    first[0]["msg"] = "changed by a reader"
    first[0]["loc"].append("x")
    assert caught[1].errors == expected
    caught[1].errors = [{"loc": [], "msg": "set", "type": "t"}]
    assert caught[1].errors == [{"loc": [], "msg": "set", "type": "t"}]

    invoke_batch(spec, [Message(id="m-2", data=b'{"id": 1}')])
    lines = [json.loads(t) for t in capsys.readouterr().err.splitlines() if "NON-RETRYABLE" in t]
    assert [line["errors"] for line in lines] == [expected, expected]
    assert [line["reason"] for line in lines] == [f"PayloadValidationError: message m-{i} does not match Order: "
                                                  "1 error(s)" for i in (1, 2)]


class Batch(BaseModel):
    items: list[int]


def test_a_rejection_lists_its_first_ten_validation_errors_and_their_count(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    app = _rejecting("many", Batch)

    monkeypatch.setattr(logs, "_threshold", 20)
    monkeypatch.delenv("PORTAFUNC_DEADLETTER_ORDERS", raising=False)
    data = json.dumps({"items": [f"bad-{i}" for i in range(25)]}).encode()
    few = json.dumps({"items": ["bad-0", 1, "bad-2"]}).encode()
    batch = invoke_batch(app.function("orders"), [Message(id="m-many", data=data), Message(id="m-few", data=few)])
    assert batch.failed_ids == ["m-many", "m-few"]
    many, some = (json.loads(text) for text in capsys.readouterr().err.splitlines() if "NON-RETRYABLE" in text)
    assert [e["loc"] for e in many["errors"]] == [["items", i] for i in range(10)]
    assert many["errors_total"] == 25
    assert many["reason"].endswith("does not match Batch: 25 error(s)")
    assert [e["loc"] for e in some["errors"]] == [["items", 0], ["items", 2]] and "errors_total" not in some


def test_another_exception_type_at_a_known_place_gets_its_own_full_traceback(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """A repeat is remembered per exception type: a new type failing where another one did is a first occurrence."""
    monkeypatch.setattr(logs, "_threshold", 20)
    app = App("two-types")

    @app.queue("work")
    def work(msg: Message) -> None:
        raise (KeyError if msg.data == b"key" else LookupError)("same line")

    spec = app.function("work")
    invoke_batch(spec, [Message(id=f"m-{i}", data=b"key") for i in range(2)] + [Message(id="l", data=b"lookup")])
    first, repeat, other = _failures(capsys.readouterr().err)
    assert first["traceback"].startswith("Traceback (most recent call last)")
    assert repeat["traceback"].startswith("(repeat;")
    assert other["error_type"] == "LookupError" and other["traceback"].startswith("Traceback (most recent call last)")


def test_a_dead_letter_variable_set_after_the_first_rejection_is_used(monkeypatch: pytest.MonkeyPatch,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    """The variables a rejection reads are read on every rejection: one set while the process runs is seen at once."""
    from portafunc.invoke import Outcome

    app = _rejecting("late-variable", Order)

    monkeypatch.setattr(logs, "_threshold", 20)
    monkeypatch.delenv("PORTAFUNC_DEADLETTER_ORDERS", raising=False)
    monkeypatch.delenv("PORTAFUNC_LOG_PAYLOADS", raising=False)
    spec = app.function("orders")
    assert invoke_batch(spec, [Message(id="m-1", data=b"{}")]).results[0].outcome is Outcome.REJECTED
    monkeypatch.setenv("PORTAFUNC_DEADLETTER_ORDERS", "memory://orders-failed")
    monkeypatch.setenv("PORTAFUNC_LOG_PAYLOADS", "1")
    assert invoke_batch(spec, [Message(id="m-2", data=b"{}")]).results[0].outcome is Outcome.DEAD_LETTERED
    monkeypatch.delenv("PORTAFUNC_DEADLETTER_ORDERS")
    invoke_batch(spec, [Message(id="m-3", data=b'{"note": "shown"}')])
    rejected = [json.loads(t) for t in capsys.readouterr().err.splitlines() if "NON-RETRYABLE" in t]
    assert [line["message_id"] for line in rejected] == ["m-1", "m-3"]
    assert "payload" not in rejected[0] and rejected[1]["payload"] == {"note": "shown"}


class Account(BaseModel):
    name: str
    tokens: list[int]

    @field_validator("name")
    @classmethod
    def no_spaces(cls, value: str) -> str:
        if " " in value:
            raise ValueError(f"name must have no spaces (got api_key={value.split()[-1]})")  # an input, in the text
        return value


def test_a_rejections_validation_errors_are_redacted_where_they_nest(monkeypatch: pytest.MonkeyPatch,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """A validator's message may quote what it refused: the errors' texts are scrubbed and a secret-looking
    ``[name, index]`` location loses its index, at whatever depth of the errors list they are."""
    app = _rejecting("nested", Account, "accounts")

    monkeypatch.setattr(logs, "_threshold", 20)
    monkeypatch.delenv("PORTAFUNC_DEADLETTER_ACCOUNTS", raising=False)
    data = json.dumps({"name": "x s3cr3t-v4lue", "tokens": [1, "nope"]}).encode()
    batch = invoke_batch(app.function("accounts"), [Message(id="m-1", data=data)])
    assert batch.failed_ids == ["m-1"]
    err = capsys.readouterr().err
    assert "s3cr3t-v4lue" not in err and "nope" not in err
    line = next(json.loads(text) for text in err.splitlines() if "NON-RETRYABLE" in text)
    name_error, token_error = line["errors"]
    assert name_error["loc"] == ["name"] and name_error["msg"].endswith("api_key=[REDACTED]")
    assert token_error["loc"] == ["tokens", "[REDACTED]"] and token_error["type"] == "int_parsing"


def test_a_repeated_text_is_remembered_clean_after_many_texts_seen_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Failure texts that carry an id are each seen once; they must not fill the memory of clean texts for good, or
    every repeated line would be scanned again. A text holding a credential is never remembered."""
    monkeypatch.setattr(logs, "_clean", set())
    for i in range(logs._CLEAN_MAX + 10):
        logs.scrub_text(f"message m-{i} does not match Order: 1 error(s)")
    assert logs.scrub_text("handler failed; the message will be redelivered") in logs._clean
    assert logs.scrub_text("refused token=s3cr3t") == "refused token=[REDACTED]"
    assert not any("s3cr3t" in text for text in logs._clean)


def test_repeated_validation_errors_are_remembered_only_when_nothing_is_redacted(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """A rejection's errors are redacted and encoded once per content and reused by the lines that repeat them; a
    list with anything to redact (a validator quoting an input) is redacted on every line and never remembered."""
    app = App("remembered")

    @app.queue("orders")
    def orders(msg: Message[Order]) -> None:
        raise AssertionError("never called")

    @app.queue("accounts")
    def accounts(msg: Message[Account]) -> None:
        raise AssertionError("never called")

    monkeypatch.setattr(logs, "_threshold", 20)
    monkeypatch.setattr(invoke, "_redacted_errors", {})
    monkeypatch.delenv("PORTAFUNC_DEADLETTER_ORDERS", raising=False)
    monkeypatch.delenv("PORTAFUNC_DEADLETTER_ACCOUNTS", raising=False)
    invoke_batch(app.function("orders"), [Message(id=f"m-{i}", data=b'{"id": "x"}') for i in range(3)])
    secret = json.dumps({"name": "x s3cr3t-v4lue", "tokens": [1]}).encode()
    invoke_batch(app.function("accounts"), [Message(id=f"a-{i}", data=secret) for i in range(2)])
    lines = [json.loads(t) for t in capsys.readouterr().err.splitlines() if "NON-RETRYABLE" in t]
    assert len(lines) == 5
    expected = [{"loc": ["id"], "msg": "Input should be a valid integer, unable to parse string as an integer",
                 "type": "int_parsing"}, {"loc": ["total"], "msg": "Field required", "type": "missing"}]
    assert [line["errors"] for line in lines[:3]] == [expected] * 3
    for line in lines[3:]:
        assert line["errors"][0]["msg"].endswith("api_key=[REDACTED]")
    assert list(invoke._redacted_errors.values())[0].value == expected
    assert len(invoke._redacted_errors) == 1 and "s3cr3t" not in repr(invoke._redacted_errors)


def test_remembered_errors_are_copied_for_whoever_reads_the_record() -> None:
    """A handler or filter of the logging tree gets its own copy: changing it changes no later line."""
    errors = [{"loc": ["id", 0], "msg": "bad", "type": "int_parsing"}]
    remembered = logs.Redacted(errors)
    seen = logs.redact({"errors": remembered})["errors"]
    assert seen == errors
    seen[0]["loc"].append("changed")
    seen[0]["msg"] = "changed"
    assert remembered.value == [{"loc": ["id", 0], "msg": "bad", "type": "int_parsing"}]
    assert json.loads(remembered.json) == remembered.value


def test_only_errors_shaped_as_validation_makes_them_are_remembered() -> None:
    """The key is the errors' content with its classes: ``1``, ``True`` and ``1.0`` are equal in a dictionary key but
    not in JSON, and fields in another order make another line."""
    def one(loc: list[Any], **other: Any) -> list[dict[str, Any]]:
        return [dict({"loc": loc, "msg": "bad", "type": "t"}, **other)]

    assert invoke._errors_key(one(["a", 1])) == ((("a", 1), "bad", "t"),)
    assert invoke._errors_key(one(["a", True])) is None
    assert invoke._errors_key(one(["a", 1.0])) is None
    assert invoke._errors_key([{"msg": "bad", "loc": ["a"], "type": "t"}]) is None
    assert invoke._errors_key(one(["a"], extra=1)) is None
    assert invoke._errors_key([("a", "bad", "t")]) is None
    details, more = invoke._logged_errors([{"loc": ["a", True], "msg": "bad", "type": "t"}])
    assert details == [{"loc": ["a", True], "msg": "bad", "type": "t"}] and more == {}


def test_a_rejected_payloads_fingerprint_is_its_sha256_whatever_its_size(monkeypatch: pytest.MonkeyPatch) -> None:
    """Small payloads are hashed by Python's own SHA-256 and larger ones by OpenSSL's: the digest is the same."""
    import hashlib

    for size in (0, 13, invoke._SMALL, invoke._SMALL + 1, 300_000):
        data = bytes(range(256)) * (size // 256) + b"x" * (size % 256)
        fields = logs.redact(invoke._payload_for_log(Message(id="m", data=data)))  # as a log record carries them
        assert fields["payload_sha256"] == hashlib.sha256(data).hexdigest(), size
        assert fields["payload_bytes"] == size


def test_a_rejected_payloads_fingerprint_is_written_without_being_scrubbed_or_remembered(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """A SHA-256 in lower-case hex can hold no credential: the line writes it as it is, and it does not take a place
    among the texts remembered clean (each payload has its own: they would push out the lines that repeat)."""
    import hashlib

    monkeypatch.setattr(logs, "_threshold", 20)
    monkeypatch.delenv("PORTAFUNC_DEADLETTER_ORDERS", raising=False)
    monkeypatch.setattr(logs, "_clean", set())
    spec = _rejecting("fingerprints", Order).function("orders")
    payloads = [b'{"id": %d}' % i for i in range(5)]
    invoke_batch(spec, [Message(id=f"m-{i}", data=data) for i, data in enumerate(payloads)])
    lines = [json.loads(t) for t in capsys.readouterr().err.splitlines() if "NON-RETRYABLE" in t]
    assert [line["payload_sha256"] for line in lines] == [hashlib.sha256(data).hexdigest() for data in payloads]
    assert not {line["payload_sha256"] for line in lines} & logs._clean


def test_a_line_timestamp_has_three_digits_of_milliseconds() -> None:
    """The remembered millisecond texts give what formatting them gives, at every millisecond of a second."""
    import time

    from portafunc import logsetup

    assert logsetup._iso(1796065226.0071) == "2026-11-30T19:00:26.007Z"
    for step in range(3000):
        created = 1796065226 + step / 3000 + (step % 7) * 1e-5
        second = int(created)
        expected = f"{time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime(second))}.{int((created - second) * 1000):03d}Z"
        assert logsetup._iso(created) == expected


@pytest.mark.parametrize(("attributes", "data", "content_type"), [
    ({"Content-Type": "application/cbor", "other": "x"}, b'{"id": "x"}', "application/cbor"),
    ({"datacontenttype": "text/csv"}, b"a,b", "text/csv"),
    ({"content_type": "y" * 300}, b"[", "y" * 100),
    ({"other": "x"}, b'  \n{"id": "x"}', "application/json (sniffed)"),
    ({}, b"[1, 2]", "application/json (sniffed)"),
    ({}, "id: ü".encode(), "text/plain (sniffed)"),
    ({}, b"\xff\xfe\x00binary", "application/octet-stream (sniffed)"),
    ({}, b"x" * 4095 + "ü".encode(), "text/plain (sniffed)"),  # a character cut at the 4 KiB mark
])
def test_a_rejection_names_its_payload_by_size_content_type_and_digest(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], attributes: dict[str, str],
        data: bytes, content_type: str) -> None:
    """The content type the publisher set (any spelling of the attribute's name), else what the bytes look like;
    the size and SHA-256 (``sha256sum``'s digest) find the message in a dead-letter queue."""
    import hashlib

    monkeypatch.setattr(logs, "_threshold", 20)
    monkeypatch.delenv("PORTAFUNC_LOG_PAYLOADS", raising=False)
    monkeypatch.delenv("PORTAFUNC_DEADLETTER_ORDERS", raising=False)
    app = _rejecting("typed", Order)
    invoke_batch(app.function("orders"), [Message(id="m-1", data=data, attributes=attributes)])
    line = next(json.loads(text) for text in capsys.readouterr().err.splitlines() if "NON-RETRYABLE" in text)
    assert line["payload_content_type"] == content_type
    assert line["payload_bytes"] == len(data)
    assert line["payload_sha256"] == hashlib.sha256(data).hexdigest()
    assert line["attributes"] == attributes


def test_the_first_line_of_a_process_has_the_shape_of_the_later_ones() -> None:
    """A Lambda entry in a process that has not loaded ``logging`` (no platform variables either, as when the
    handler runs outside the cloud): its first line sets logging up, and must choose the invocation's target's
    shape as the invocation's own set-up does, not the shape guessed from the environment."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from portafunc import App, NonRetryableError\n"
        "from portafunc_aws.runtime import bind\n"
        "app = App('shape')\n"
        "@app.queue('work')\n"
        "def work(msg):\n"
        "    raise NonRetryableError('no')\n"
        "assert 'logging' not in sys.modules\n"
        "event = {'Records': [{'messageId': 'm-1', 'body': '{}', 'eventSource': 'aws:sqs', 'attributes': {},\n"
        "                      'messageAttributes': {}, 'eventSourceARN': 'arn:aws:sqs:eu-west-1:1:work'}]}\n"
        "entry = bind(app, 'work')\n"
        "for _ in range(2):\n"
        "    assert entry(event, None) == {'batchItemFailures': [{'itemIdentifier': 'm-1'}]}\n"
    )
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": ":".join(sys.path)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stderr.splitlines() if line.startswith("{")]
    assert len(lines) == 2 and all("timestamp" in line and "ts" not in line for line in lines), lines


def test_a_failure_on_the_last_allowed_attempt_says_the_message_goes_to_the_dead_letter_queue(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(logs, "_threshold", 20)
    spec = _app().function("work")  # max_attempts 5, the default
    invoke_batch(spec, [Message(id="early", data=b"{}", delivery_attempt=4),
                        Message(id="last", data=b"{}", delivery_attempt=5)])
    early, last = _failures(capsys.readouterr().err)
    assert (early["message_id"], early["message"]) == ("early", "handler failed; the message will be redelivered")
    assert (last["message_id"], last["message"]) == (
        "last", "handler failed on its last attempt; the broker moves the message to the dead-letter queue")
    assert last["delivery_attempt"] == 5
