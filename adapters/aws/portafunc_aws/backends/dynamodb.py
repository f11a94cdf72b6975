"""What the DynamoDB-backed stores share: condition-failure detection and table set-up.

The idempotency store (``dynamodb://`` in ``PORTAFUNC_IDEMPOTENCY_STORE``) and the key-value tables
(``PORTAFUNC_KV_<NAME>=dynamodb://TABLE``) use one table shape: partition key ``id`` (string) and TTL on the
``expiration`` attribute (whole epoch seconds), so one packager rule creates both. boto3 is imported by the callers,
lazily; nothing here imports it.
"""

from __future__ import annotations

from typing import Any

KEY_ATTRIBUTE = "id"
TTL_ATTRIBUTE = "expiration"


def error_code(exc: BaseException) -> str:
    """The AWS error code of a botocore ``ClientError`` (matched by shape: botocore is imported lazily), else ''."""
    response = getattr(exc, "response", None)  # None on connection errors, which carry the attribute too
    return str(response.get("Error", {}).get("Code", "")) if isinstance(response, dict) else ""


def condition_failed(exc: BaseException) -> bool:
    """A conditional write was refused: the item did not match the ``ConditionExpression``."""
    return error_code(exc) == "ConditionalCheckFailedException"


def create_table(client: Any, table: str) -> None:
    """Create ``table`` (on-demand billing, partition key ``id``) with TTL on ``expiration``, if it does not exist;
    for tests and first-time set-up (the packagers declare the same table)."""
    try:
        client.create_table(TableName=table, BillingMode="PAY_PER_REQUEST",
                            AttributeDefinitions=[{"AttributeName": KEY_ATTRIBUTE, "AttributeType": "S"}],
                            KeySchema=[{"AttributeName": KEY_ATTRIBUTE, "KeyType": "HASH"}])
    except Exception as exc:  # noqa: BLE001 - botocore is imported lazily, so match by code
        if error_code(exc) != "ResourceInUseException":
            raise
    client.get_waiter("table_exists").wait(TableName=table, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    client.update_time_to_live(TableName=table,
                               TimeToLiveSpecification={"Enabled": True, "AttributeName": TTL_ATTRIBUTE})
