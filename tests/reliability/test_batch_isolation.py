"""One bad message never poisons a batch: only its own id is reported failed, on every cloud.

Each bad message below once made the whole invocation fail (so SQS redelivered the batch and re-ran messages that had
already succeeded): a ~10 KB payload nested 5,000 levels deep sent to a typed handler (the rejected-message log tried
to parse it), an SQS body that looks like an SNS envelope and is nested as deep (the envelope check parsed it), an
exception whose text cannot be printed, an error quoting a lone surrogate written to a log stream that refuses it, and
an exception message of several megabytes. They go through the real entry points: the Lambda handler
(``portafunc_aws.runtime``, directly and under the real ``awslambdaric`` runtime client against a local Runtime API),
the Azure runtime called by the generated ``function_app.py`` with ``azure.functions`` objects, and the generated GCP
``main.py`` served by functions-framework.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from portafunc import App
from portafunc.events import Message
from portafunc.targets import get_target

DEEP = ("[" * 5000 + "]" * 5000).encode()  # ~10 KB, deeper than json.loads can read
DEEP_SNS = ('{"Type": "Notification", "TopicArn": "arn:aws:sns:us-east-1:123456789012:t", "Message": '
            + "[" * 5000 + "]" * 5000 + "}").encode()
AWS_DIR = Path(__file__).resolve().parents[1] / "aws"


class Order(BaseModel):
    id: int


class Unprintable(Exception):
    def __str__(self) -> str:
        raise OverflowError("cannot print this")


RAN: list[str] = []


def _app() -> App:
    app = App("poison")

    @app.queue("orders")
    def orders(msg: Message[Order]) -> None:
        RAN.append(msg.id)

    @app.queue("raw")
    def raw(msg: Message) -> None:
        kind = msg.attributes.get("raise")
        if kind == "unprintable":
            raise Unprintable()
        if kind == "surrogate":
            raise ValueError("cannot handle \udcff")
        if kind == "huge":
            raise ValueError("x" * 5_000_000)
        if kind == "memory":
            raise MemoryError()
        RAN.append(msg.id)

    return app


GOOD = [Message(id="ok-1", data=b'{"id": 1}'), Message(id="ok-2", data=b'{"id": 2}')]
BAD: dict[str, tuple[str, Message]] = {
    "deep-payload-typed": ("orders", Message(id="bad", data=DEEP)),
    "deep-sns-lookalike-typed": ("orders", Message(id="bad", data=DEEP_SNS)),
    "unprintable-exception": ("raw", Message(id="bad", data=b"{}", attributes={"raise": "unprintable"})),
    "lone-surrogate-in-error": ("raw", Message(id="bad", data=b"{}", attributes={"raise": "surrogate"})),
    "megabytes-of-error-text": ("raw", Message(id="bad", data=b"{}", attributes={"raise": "huge"})),
    "memory-error": ("raw", Message(id="bad", data=b"{}", attributes={"raise": "memory"})),
    "megabytes-of-payload-typed": ("orders", Message(id="bad", data=b'{"id": "' + b"9" * 3_000_000 + b'"}')),
}


class StrictStderr:
    """stderr as a strict UTF-8 stream (no fallback for lone surrogates), as some log forwarders install it; set
    inside the test (pytest's capture would replace one set by a fixture)."""

    def __enter__(self) -> StrictStderr:
        self.raw = io.BytesIO()
        self.stream = io.TextIOWrapper(self.raw, encoding="utf-8", errors="strict", write_through=True)
        self.saved, sys.stderr = sys.stderr, self.stream
        return self

    def __exit__(self, *exc: Any) -> None:
        sys.stderr = self.saved

    def text(self) -> str:
        return self.raw.getvalue().decode("utf-8", "replace")

    def clear(self) -> None:
        self.raw.seek(0)
        self.raw.truncate()


@pytest.fixture(autouse=True)
def _clear_ran() -> None:
    RAN.clear()


@pytest.mark.parametrize("case", BAD)
def test_lambda_handler_reports_only_the_bad_message(case: str) -> None:
    from portafunc_aws.codecs import queue as messages
    from portafunc_aws.runtime import bind
    from portafunc_aws.lambda_context import LambdaContext

    function, bad = BAD[case]
    event = messages.encode_messages([GOOD[0], bad, GOOD[1]], "sqs")
    if case == "deep-sns-lookalike-typed":
        event["Records"][1]["body"] = DEEP_SNS.decode()
    with StrictStderr() as err:
        answer = bind(_app(), function)(event, LambdaContext(function_name="poison"))
    assert answer == {"batchItemFailures": [{"itemIdentifier": "bad"}]}
    assert RAN == ["ok-1", "ok-2"]
    lines = err.text().splitlines()
    assert lines and all(len(line) < 64_000 for line in lines), max(map(len, lines))


@pytest.mark.parametrize("case", BAD)
def test_azure_queue_function_fails_only_that_message(case: str) -> None:
    """One message per invocation: the generated function raises MessageFailed (the host retries or poisons the
    message) — never the RecursionError/OverflowError/UnicodeError itself."""
    function, bad = BAD[case]
    with StrictStderr():
        exchange = get_target("azure").driver().messages(_app(), function, [GOOD[0], bad])
    assert exchange.failed_ids == ["bad"]
    answer = exchange.native_response[1]
    assert answer["result"] == "raised" and answer["error"].startswith("MessageFailed: message bad failed"), answer
    assert RAN == ["ok-1"]


@pytest.mark.parametrize("case", BAD)
def test_gcp_function_answers_the_bad_message_as_failed(case: str) -> None:
    """functions-framework serving the generated main.py: the bad message gets the entry's own 500 naming the
    outcome (so Pub/Sub redelivers and dead-letters it), not a crash of the function."""
    function, bad = BAD[case]
    with StrictStderr():
        exchange = get_target("gcp").driver().messages(_app(), function, [GOOD[0], bad])
    assert exchange.failed_ids == ["bad"]
    answer = exchange.native_response[1]
    assert answer["statusCode"] == 500
    assert "message bad failed (" in answer["body"], answer
    assert RAN == ["ok-1"]


# -- the same messageId twice in one batch ---------------------------------------------------------------------

@pytest.mark.parametrize("variant", ["sqs", "sqs-fifo"])
def test_duplicate_message_id_runs_once_and_is_reported_once(variant: str) -> None:
    from portafunc_aws.codecs import queue as messages
    from portafunc_aws.runtime import bind

    fail = Message(id="dup-fail", data=b"{}", attributes={"raise": "memory"})
    ok = Message(id="dup-ok", data=b"{}")
    event = messages.encode_messages([ok, ok, fail, fail], variant)
    answer = bind(_app(), "raw")(event, None)
    assert answer == {"batchItemFailures": [{"itemIdentifier": "dup-fail"}]}
    assert RAN == ["dup-ok"]  # the copy that succeeded is not run again


# -- under the real Lambda runtime client ------------------------------------------------------------------------

APP_MODULE = """
    from pydantic import BaseModel
    from portafunc import App
    from portafunc.events import Message

    app = App("poison")

    class Order(BaseModel):
        id: int

    @app.queue("orders")
    def orders(msg: Message[Order]) -> None:
        print("RAN", msg.id, flush=True)
"""


def test_poison_batch_under_awslambdaric(tmp_path: Path) -> None:
    """awslambdaric (the runtime interface client Lambda's Python images run) calls portafunc_aws.runtime.handler for a
    batch holding both deep payloads and a duplicated messageId; the answer names each bad id once."""
    sys.path.insert(0, str(AWS_DIR))
    try:
        from lambda_runtime_api import RuntimeApi
    finally:
        sys.path.remove(str(AWS_DIR))
    from portafunc_aws.codecs import queue as messages

    (tmp_path / "poison_app.py").write_text(textwrap.dedent(APP_MODULE), encoding="utf-8")
    api = RuntimeApi("poison-orders")
    env = dict(os.environ, AWS_LAMBDA_RUNTIME_API=api.address, LAMBDA_TASK_ROOT=str(tmp_path),
               PYTHONPATH=str(tmp_path), _HANDLER="portafunc_aws.runtime.handler",
               AWS_LAMBDA_FUNCTION_NAME="poison-orders", AWS_REGION="us-east-1", PORTAFUNC_APP="poison_app:app",
               PORTAFUNC_FUNCTION="orders")
    proc = subprocess.Popen([sys.executable, "-m", "awslambdaric", "portafunc_aws.runtime.handler"], cwd=tmp_path,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        batch = [GOOD[0], Message(id="deep", data=DEEP), Message(id="sns-like", data=b"{}"), GOOD[0], GOOD[1]]
        event = messages.encode_messages(batch, "sqs")
        event["Records"][2]["body"] = DEEP_SNS.decode()
        kind, answer = api.invoke(event)
    finally:
        proc.kill()
        output = proc.communicate(timeout=10)[0].decode(errors="replace")
        api.close()
    assert kind == "response", (answer, output[-3000:])
    assert answer == {"batchItemFailures": [{"itemIdentifier": "deep"}, {"itemIdentifier": "sns-like"}]}
    assert [line for line in output.splitlines() if line.startswith("RAN ")] == ["RAN ok-1", "RAN ok-2"]
    assert "Traceback" not in output.replace('"traceback"', ""), output[-3000:]


def test_rejected_payload_is_logged_as_size_type_and_hash(monkeypatch: pytest.MonkeyPatch) -> None:
    """A rejected message's payload (card numbers, personal data) is not logged unless PORTAFUNC_LOG_PAYLOADS=1."""
    import hashlib

    from portafunc.invoke import invoke_message

    app = _app()
    data = b'{"id": "x", "card": "4111111111111111", "password": "hunter2"}'
    monkeypatch.delenv("PORTAFUNC_LOG_PAYLOADS", raising=False)
    with StrictStderr() as err:
        invoke_message(app.function("orders"), Message(id="m-card", data=data))
    text = err.text()
    assert "4111111111111111" not in text and "hunter2" not in text
    record = next(json.loads(line) for line in text.splitlines() if "NON-RETRYABLE" in line)
    assert record["payload_bytes"] == len(data)
    assert record["payload_sha256"] == hashlib.sha256(data).hexdigest()
    assert record["payload_content_type"] == "application/json (sniffed)"
    assert "payload" not in record

    monkeypatch.setenv("PORTAFUNC_LOG_PAYLOADS", "1")
    with StrictStderr() as err:
        invoke_message(app.function("orders"), Message(id="m-card", data=data))
    record = next(json.loads(line) for line in err.text().splitlines()
                  if "NON-RETRYABLE" in line)
    assert record["payload"]["card"] == "4111111111111111"  # opted in
    assert record["payload"]["password"] == "[REDACTED]"  # secrets stay masked even then
