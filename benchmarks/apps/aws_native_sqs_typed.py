"""Plain Lambda SQS handler with partial batch failure, bodies validated with a pydantic model."""

from pydantic import BaseModel

SEEN = [0.0]


class Order(BaseModel):
    id: str
    total: float


def handler(event, context):
    failures = []
    for rec in event["Records"]:
        try:
            SEEN[0] += Order.model_validate_json(rec["body"]).total
        except Exception:  # noqa: BLE001 -- like a plain handler: any failure reports the record for retry
            failures.append({"itemIdentifier": rec["messageId"]})
    return {"batchItemFailures": failures}
