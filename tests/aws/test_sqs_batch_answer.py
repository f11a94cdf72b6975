"""The SQS partial-batch answer of a batch with failures: every failed record named once, in batch order, built in one
pass over the records (``FailedIds.answer``). Checked through the real Lambda handler on the Powertools sample record
(the documented ``batchItemFailures`` / ``itemIdentifier`` wire format), and against the two-step reference (ids put
in batch order, then ``batch_answer``) on many generated batches."""

from __future__ import annotations

import copy
import json
import random

from pydantic import BaseModel

from portafunc import App, Message
from portafunc.kit.records import FailedIds
from portafunc_aws.outcome import batch_answer
from portafunc_aws.runtime import bind

from aws_test_support import load_fixture


class Order(BaseModel):
    id: str
    total: float


def _app(ordered: bool = False) -> App:
    app = App("batch-answer")

    @app.queue("work", name="work", ordered=ordered)
    def work(msg: Message[Order]) -> None:
        if msg.body.total < 0:
            raise RuntimeError("negative total")

    return app


def _record(message_id: str, body: str) -> dict:
    rec = copy.deepcopy(load_fixture("sqs/powertools-sqsEvent.json")["Records"][0])
    rec["messageId"] = message_id
    rec["body"] = body
    return rec


GOOD, INVALID, RAISES = '{"id": "a", "total": 1}', '{"id": "a"}', '{"id": "a", "total": -1}'


def _undecodable(message_id: str) -> dict:
    rec = _record(message_id, GOOD)
    rec["attributes"]["ApproximateReceiveCount"] = ["not", "a", "count"]  # refused by the record decoder
    return rec


def test_failed_records_are_named_once_each_in_batch_order_with_undecodable_ones_among_them():
    recs = [_record("m0", GOOD), _undecodable("m1"), _record("m2", INVALID), _record("m3", GOOD),
            _record("m2", GOOD),  # a second copy of a failed id: named once, not run again
            _record("m4", RAISES), _undecodable("m5"), _record("m0", INVALID)]  # a copy of a success: not run
    answer = bind(_app(), "work")({"Records": recs}, None)
    assert answer == {"batchItemFailures": [{"itemIdentifier": i} for i in ("m1", "m2", "m4", "m5")]}


def test_an_ordered_batch_names_its_first_failure_and_every_later_record():
    recs = [_record("m0", GOOD), _record("m1", GOOD), _record("m2", RAISES), _record("m3", GOOD), _record("m4", GOOD)]
    answer = bind(_app(ordered=True), "work")({"Records": recs}, None)
    assert answer == {"batchItemFailures": [{"itemIdentifier": i} for i in ("m2", "m3", "m4")]}


def test_a_batch_without_failures_answers_an_empty_list_each_time():
    entry = bind(_app(), "work")
    first = entry({"Records": [_record("m0", GOOD)]}, None)
    assert first == {"batchItemFailures": []}
    first["batchItemFailures"].append("changed by the caller")
    assert entry({"Records": [_record("m1", GOOD)]}, None) == {"batchItemFailures": []}


def test_one_pass_answer_equals_ids_in_batch_order_then_batch_answer():
    rng = random.Random(7)
    for _ in range(500):
        batch_ids = [rng.choice("abcdefgh") for _ in range(rng.randrange(0, 12))]
        earlier = [rng.choice("abcdefghxy") for _ in range(rng.randrange(0, 4))]  # "x", "y": not in the batch
        later = [rng.choice("abcdefghz") for _ in range(rng.randrange(0, 4))]
        reference, fast = FailedIds(), FailedIds()
        for failed in (reference, fast):
            for i in earlier:
                failed.add(i)
        reference.update(later)
        want = batch_answer(reference.in_batch_order(batch_ids))["batchItemFailures"]
        records = [{"messageId": i, "body": "{}"} for i in batch_ids]
        assert fast.answer(records, "messageId", "itemIdentifier", later) == want, (batch_ids, earlier, later)
    assert json.dumps(FailedIds().answer([{"messageId": "a"}], "messageId", "itemIdentifier")) == "[]"
