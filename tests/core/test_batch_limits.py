"""Each cloud's real batch limits: the queue decorator takes up to 10,000 messages per batch and a batching window;
each target refuses, through its trigger check (what ``portafunc inspect`` and packaging run), a batch its service
cannot deliver, saying why and what to use instead. The AWS side is checked in the SAM template packaging writes."""

from __future__ import annotations

import pytest

from portafunc import App, Message, RegistrationError
from portafunc.errors import UnsupportedTrigger
from portafunc.targets import get_target


def _queue(**options: object) -> App:
    app = App("batches")
    app.queue("work", name="work", **options)(lambda msg: None)  # type: ignore[arg-type]
    return app


def _native(target: str, app: App) -> str:
    return str(get_target(target).native_trigger(app.function("work")))


def test_a_standard_sqs_queue_takes_10000_with_a_batching_window() -> None:
    from portafunc_aws.deploy.sam import build_template

    app = _queue(batch_size=10000, max_batching_window=5)
    assert "batch 10000, batching window 5s" in _native("aws", app)
    template = build_template(app, app_ref="main:app", code_uri="x.zip", python="3.12", arch="x86_64")
    mappings = [r["Properties"] for r in template["Resources"].values()
                if r["Type"] == "AWS::Lambda::EventSourceMapping"]
    assert [(m["BatchSize"], m.get("MaximumBatchingWindowInSeconds")) for m in mappings] == [(10000, 5)]


def test_up_to_10_needs_no_window_and_writes_none() -> None:
    from portafunc_aws.deploy.sam import build_template

    app = _queue(batch_size=10)
    template = build_template(app, app_ref="main:app", code_uri="x.zip", python="3.12", arch="x86_64")
    mapping = next(r["Properties"] for r in template["Resources"].values()
                   if r["Type"] == "AWS::Lambda::EventSourceMapping")
    assert mapping["BatchSize"] == 10 and "MaximumBatchingWindowInSeconds" not in mapping


@pytest.mark.parametrize(("options", "reason"), [
    ({"batch_size": 11}, "only with a batching window"),
    ({"batch_size": 11, "ordered": True, "max_batching_window": 1}, "FIFO queue delivers at most 10"),
])
def test_aws_refuses_what_sqs_cannot_deliver(options: dict[str, object], reason: str) -> None:
    with pytest.raises(UnsupportedTrigger, match=reason) as info:
        _native("aws", _queue(**options))
    assert info.value.target == "aws" and info.value.instead


def test_azure_storage_queues_take_32_and_refuse_more() -> None:
    assert "Storage Queue trigger" in _native("azure", _queue(batch_size=32))
    with pytest.raises(UnsupportedTrigger, match="at most 32 messages") as info:
        _native("azure", _queue(batch_size=33, max_batching_window=1))
    assert info.value.instead == "batch_size=32 or less"


def test_gcp_push_delivers_one_message_per_request_whatever_the_batch_size() -> None:
    assert _native("gcp", _queue(batch_size=10000, max_batching_window=5))


@pytest.mark.parametrize("options", [{"batch_size": 0}, {"batch_size": 10001},
                                     {"batch_size": 100, "max_batching_window": 301},
                                     {"max_batching_window": -1}])
def test_out_of_every_cloud_range_fails_at_decoration(options: dict[str, object]) -> None:
    with pytest.raises(RegistrationError):
        _queue(**options)


def test_a_large_batch_runs_every_message_once() -> None:
    from portafunc.invoke import invoke_batch

    seen: list[str] = []
    app = App("big")

    @app.queue("work", batch_size=10000, max_batching_window=1)
    def work(msg: Message) -> None:
        if msg.id == "m-7":
            raise RuntimeError("this one fails")
        seen.append(msg.id)

    result = invoke_batch(app.function("work"), (Message(id=f"m-{i}", data=b"{}") for i in range(10000)))
    assert result.failed_ids == ["m-7"] and len(seen) == 9999 and len(result.results) == 10000
