"""Powertools for AWS Lambda: BatchProcessor with a parser model (SqsRecordModel, body Json[Order])."""

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.parser.models import SqsRecordModel
from pydantic import BaseModel, Json

SEEN = [0.0]


class Order(BaseModel):
    id: str
    total: float


class OrderRecord(SqsRecordModel):
    body: Json[Order]


processor = BatchProcessor(event_type=EventType.SQS, model=OrderRecord)


def record_handler(record):
    SEEN[0] += record.body.total


def handler(event, context):
    return process_partial_response(event=event, record_handler=record_handler, processor=processor,
                                    context=context)
