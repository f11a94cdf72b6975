"""Powertools for AWS Lambda: BatchProcessor + process_partial_response over SQS, untyped."""

import json

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

processor = BatchProcessor(event_type=EventType.SQS)
SEEN = [0.0]


def record_handler(record):
    SEEN[0] += json.loads(record.body)["total"]


def handler(event, context):
    return process_partial_response(event=event, record_handler=record_handler, processor=processor,
                                    context=context)
