"""Plain Lambda SQS handler with partial batch failure (ReportBatchItemFailures), untyped JSON bodies; beside it the
same handler logging each failure as one JSON line (``handler_logging``), what a production handler does."""

import json
import sys

SEEN = [0.0]


def handler(event, context):
    failures = []
    for rec in event["Records"]:
        try:
            SEEN[0] += json.loads(rec["body"])["total"]
        except Exception:  # noqa: BLE001 -- like a plain handler: any failure reports the record for retry
            failures.append({"itemIdentifier": rec["messageId"]})
    return {"batchItemFailures": failures}


def handler_logging(event, context):
    """``handler``, writing one JSON line per failed record to stderr: the record, the exception's type and text,
    and where it was raised (the innermost frame's file, line and function)."""
    failures = []
    for rec in event["Records"]:
        try:
            SEEN[0] += json.loads(rec["body"])["total"]
        except Exception as exc:  # noqa: BLE001 -- any failure reports the record for retry, logged
            tb = exc.__traceback__
            while tb.tb_next is not None:
                tb = tb.tb_next
            code = tb.tb_frame.f_code
            sys.stderr.write(json.dumps({
                "level": "WARNING", "message": "record failed; it will be redelivered",
                "request_id": getattr(context, "aws_request_id", None), "message_id": rec["messageId"],
                "error_type": type(exc).__name__, "error": str(exc),
                "where": f"{code.co_filename}:{tb.tb_lineno} in {code.co_name}"}) + "\n")
            failures.append({"itemIdentifier": rec["messageId"]})
    return {"batchItemFailures": failures}
