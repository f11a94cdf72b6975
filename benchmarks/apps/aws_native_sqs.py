"""Plain Lambda SQS handler with partial batch failure (ReportBatchItemFailures), untyped JSON bodies."""

import json

SEEN = [0.0]


def handler(event, context):
    failures = []
    for rec in event["Records"]:
        try:
            SEEN[0] += json.loads(rec["body"])["total"]
        except Exception:  # noqa: BLE001 -- like a plain handler: any failure reports the record for retry
            failures.append({"itemIdentifier": rec["messageId"]})
    return {"batchItemFailures": failures}
