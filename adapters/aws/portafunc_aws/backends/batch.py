"""Native batches of 10 (SendMessageBatch, PublishBatch) with per-entry failure handling.

A batch call can succeed while some entries fail. Entries that failed for a transient reason (throttling, internal
error, and not the sender's fault) are resent with backoff and jitter; an entry the broker rejects for good stops
the batch with a :class:`BatchError` naming it. A call that fails as a whole (the broker unreachable until the
deadline) also stops the batch with a :class:`BatchError`. Its ``accepted`` lists the broker ids obtained so far, in
input order, None where not sent, so nothing is reported as sent that was not.
"""

from __future__ import annotations

from typing import Any, Callable

from portafunc.errors import MessagingError, PartialSendError

from .errors import RETRYABLE_ENTRY, backoff

BATCH_SIZE = 10
ENTRY_RETRIES = 5


class BatchError(PartialSendError):
    """An SNS/SQS batch failed part-way; ``accepted`` gives the broker id of each message sent, None for the rest."""


def send_batches(entries: list[dict[str, Any]], send: Callable[[list[dict[str, Any]]], dict[str, Any]],
                 what: str, deadline: float | None = None) -> list[str]:
    """Send ``entries`` (without ``Id``) in chunks of 10; broker ids in input order. Entry retries sleep no further
    than ``deadline``, the one ``send`` stops at."""
    ids: list[str | None] = [None] * len(entries)
    for start in range(0, len(entries), BATCH_SIZE):
        pending = {str(i): entries[i] for i in range(start, min(start + BATCH_SIZE, len(entries)))}
        attempt = 0
        while pending:
            try:
                response = send([{"Id": key, **entry} for key, entry in pending.items()])
            except BatchError:
                raise
            except MessagingError as exc:
                raise BatchError(f"{exc}; {sum(1 for i in ids if i)} of {len(entries)} message(s) were accepted "
                                 "before the failure", ids) from exc
            for ok in response.get("Successful", []):
                ids[int(ok["Id"])] = ok["MessageId"]
            failed = [f for f in response.get("Failed", []) if f.get("Id") in pending]
            fatal = [f for f in failed if f.get("SenderFault") or f.get("Code") not in RETRYABLE_ENTRY]
            if fatal:
                detail = "; ".join(f"message {int(f['Id'])}: {f.get('Code')}: {f.get('Message', '')}" for f in fatal)
                raise BatchError(f"{what}: the broker rejected {len(fatal)} message(s): {detail}; "
                                 f"{sum(1 for i in ids if i)} of {len(entries)} were accepted", ids)
            pending = {f["Id"]: pending[f["Id"]] for f in failed}
            if pending:
                attempt += 1
                if attempt > ENTRY_RETRIES:
                    codes = ", ".join(sorted({str(f.get("Code")) for f in failed}))
                    raise BatchError(f"{what}: {len(pending)} message(s) still failing after {ENTRY_RETRIES} "
                                     f"retries ({codes})", ids)
                backoff(attempt, deadline)
    return [i for i in ids if i is not None]
