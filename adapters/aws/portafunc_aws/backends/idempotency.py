"""``dynamodb://TABLE`` — the idempotency store on DynamoDB (entry point group ``portafunc.idempotency``).

* Table: partition key ``id`` (string); ``expiration`` (epoch seconds) is the attribute to enable DynamoDB TTL on, so
  old records are swept. TTL deletion is lazy (up to days), so the claim checks ``expires_at`` itself.
* Claim: ``PutItem`` with ``attribute_not_exists(id) OR expires_at <= :now`` — DynamoDB evaluates the condition and
  the write atomically, so of concurrent duplicates exactly one wins. Reads are strongly consistent.
* Owner: the claim stores its token in ``owner``; ``complete`` is a ``PutItem`` conditioned on ``owner = :owner`` and
  ``delete`` a ``DeleteItem`` conditioned on ``attribute_not_exists(id) OR owner = :owner`` — one round trip each, so
  an invocation whose key was taken over after its lease cannot overwrite or release the new claim.
* URL options: ``?region=eu-west-1`` (else ``AWS_REGION`` / ``AWS_DEFAULT_REGION``); ``?timeout=`` seconds (default
  10: a claim is on the path of every guarded invocation): each call is retried on transient failures with the core's
  backoff until then, and no request outlasts it (:mod:`.clients`). The endpoint is boto3's (``AWS_ENDPOINT_URL`` /
  ``AWS_ENDPOINT_URL_DYNAMODB`` point it at moto or DynamoDB Local).
* IAM: ``dynamodb:PutItem``, ``GetItem``, ``DeleteItem`` on the table (conditions need no extra permission).
* boto3 is imported when the store is first used, never by importing this module's package.
"""

from __future__ import annotations

import math
import os
import time
from typing import Any, Callable, TypeVar
from urllib.parse import parse_qs, urlsplit

from portafunc.idempotency import COMPLETED, IN_PROGRESS, IdempotencyStore, IdempotencyStoreError, Record

from . import clients, dynamodb

T = TypeVar("T")
DEFAULT_TIMEOUT = 10.0


class DynamoDBStore(IdempotencyStore):
    """Records in a DynamoDB table, claimed with a conditional ``PutItem``."""

    owner_checks = True

    def __init__(self, table: str, region: str | None = None, timeout: float = DEFAULT_TIMEOUT) -> None:
        if not table:
            raise IdempotencyStoreError("dynamodb:// needs a table name: dynamodb://TABLE")
        self.table = table
        self.region = region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
        self.timeout = timeout

    def __repr__(self) -> str:
        return f"DynamoDBStore({self.table!r})"

    @property
    def client(self) -> Any:
        return clients.client("dynamodb", self.region)

    def _call(self, fn: Callable[[], T]) -> T:
        """``fn()`` retried on transient failures until the store's deadline; the failure left is raised as is, or
        as :class:`~portafunc.messaging.retry.GaveUp` when retries ran out."""
        from portafunc.messaging.retry import call_until

        from .errors import transient

        deadline = time.monotonic() + self.timeout
        with clients.until(deadline):
            return call_until(deadline, lambda _left: fn(), transient, retries=clients.max_retries())

    def _fail(self, action: str, exc: Exception) -> IdempotencyStoreError:
        from portafunc.messaging.retry import GaveUp

        last = exc.last if isinstance(exc, GaveUp) else exc
        code = dynamodb.error_code(last) or type(last).__name__
        hint = {"ResourceNotFoundException": "; create the table (partition key 'id', string)",
                "AccessDeniedException": f"; the role needs dynamodb:{action} on the table"}.get(code, "")
        return IdempotencyStoreError(f"idempotency store dynamodb://{self.table}: {action} failed: {code}: "
                                     f"{exc}{hint}")

    def put_in_progress(self, key: str, payload_hash: str, expires_at: float, owner: str | None = None) -> bool:
        try:
            self._call(lambda: self.client.put_item(
                TableName=self.table,
                Item=_item(key, IN_PROGRESS, payload_hash, expires_at, None, owner),
                ConditionExpression="attribute_not_exists(#id) OR #exp <= :now",
                ExpressionAttributeNames={"#id": "id", "#exp": "expires_at"},
                ExpressionAttributeValues={":now": {"N": repr(time.time())}},  # per attempt: a retry's own clock
            ))
            return True
        except Exception as exc:  # noqa: BLE001 - botocore is imported lazily, so match by code
            if _refused(exc):
                return False
            raise self._fail("PutItem", exc) from exc

    def complete(self, key: str, payload_hash: str, result: str, expires_at: float,
                 owner: str | None = None) -> bool:
        try:
            self._call(lambda: self.client.put_item(
                TableName=self.table, Item=_item(key, COMPLETED, payload_hash, expires_at, result, owner),
                **_owner_condition(owner, "#owner = :owner")))
            return True
        except Exception as exc:  # noqa: BLE001
            if owner is not None and _refused(exc):
                return False  # taken over (or gone): not ours to write any more
            raise self._fail("PutItem", exc) from exc

    def get(self, key: str) -> Record | None:
        try:
            item = self._call(lambda: self.client.get_item(TableName=self.table, Key={"id": {"S": key}},
                                                           ConsistentRead=True)).get("Item")
        except Exception as exc:  # noqa: BLE001
            raise self._fail("GetItem", exc) from exc
        if not item:
            return None
        return Record(key, item.get("status", {}).get("S", IN_PROGRESS), item.get("payload_hash", {}).get("S", ""),
                      float(item.get("expires_at", {}).get("N", "0")), item.get("result", {}).get("S"),
                      item.get("owner", {}).get("S"))

    def delete(self, key: str, owner: str | None = None) -> bool:
        try:
            self._call(lambda: self.client.delete_item(
                TableName=self.table, Key={"id": {"S": key}},
                **_owner_condition(owner, "attribute_not_exists(#id) OR #owner = :owner")))
            return True
        except Exception as exc:  # noqa: BLE001
            if owner is not None and _refused(exc):
                return False  # another claim holds the key now
            raise self._fail("DeleteItem", exc) from exc

    def create_table(self) -> None:
        """Create the table (on-demand billing) with TTL on ``expiration``; for tests and first-time set-up."""
        try:
            dynamodb.create_table(self.client, self.table)
        except Exception as exc:  # noqa: BLE001
            raise self._fail("CreateTable", exc) from exc


_refused = dynamodb.condition_failed


def _owner_condition(owner: str | None, expression: str) -> dict[str, Any]:
    """The ``ConditionExpression`` keywords for a write that must still hold ``owner`` (none without one)."""
    if owner is None:
        return {}
    names = {"#owner": "owner", "#id": "id"} if "#id" in expression else {"#owner": "owner"}
    return {"ConditionExpression": expression, "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": {":owner": {"S": owner}}}


def _item(key: str, status: str, payload_hash: str, expires_at: float, result: str | None,
          owner: str | None = None) -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": {"S": key},
        "status": {"S": status},
        "payload_hash": {"S": payload_hash},
        "expires_at": {"N": repr(float(expires_at))},
        "expiration": {"N": str(math.ceil(expires_at))},  # DynamoDB TTL wants whole epoch seconds
    }
    if result is not None:
        item["result"] = {"S": result}
    if owner is not None:
        item["owner"] = {"S": owner}
    return item


def store_factory(url: str) -> DynamoDBStore:
    """``dynamodb://TABLE[?region=REGION&timeout=SECONDS]`` → a store."""
    from portafunc.messaging.retry import timeout_option

    parts = urlsplit(url)
    table = (parts.netloc + parts.path).strip("/")
    options = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    return DynamoDBStore(table, options.get("region"), timeout_option(options, url, DEFAULT_TIMEOUT))
