"""``dynamodb://TABLE`` key-value tables (entry point group ``portafunc.data``).

* The table shape is the idempotency store's (:mod:`.dynamodb`): partition key ``id`` (string), TTL on
  ``expiration`` (DynamoDB deletes lazily, so reads also check ``expires_at`` themselves).
* An item: ``id`` (the key), ``value`` (JSON text), ``version`` (a random token written with every put).
  ``if_version`` is a ``ConditionExpression`` on it — evaluated atomically with the write.
* ``keys(prefix)`` is a ``Scan`` with ``begins_with`` (a table with only a partition key has no ordered index):
  fine for admin and small tables, not for a hot path.
* URL options: ``?region=``, ``?timeout=`` seconds (default 30) — the messaging deadline rule, requests included
  (:mod:`.clients`).
* IAM: ``dynamodb:GetItem``, ``PutItem``, ``DeleteItem``, ``Scan`` on the table.
"""

from __future__ import annotations

import math
import os
import time
import uuid
from typing import Any, Iterator

from portafunc.data import ABSENT, DataError, DataUnavailable, KeyNotFound, TableStore, VersionConflict
from portafunc.data.calls import Caller, split_options, timeout_of
from portafunc.errors import BindingError
from portafunc.plugins import binds

from . import dynamodb
from . import clients
from .errors import DENIED, transient


class DynamoDBTable(TableStore):
    def __init__(self, url: str, table: str, region: str, timeout: float) -> None:
        self.url = url
        self.table = table
        self.region = region
        self.call = clients.WithDeadline(Caller(url, timeout, transient, self._translate, clients.max_retries()))

    @property
    def client(self) -> Any:
        return clients.client("dynamodb", self.region)

    def _translate(self, exc: BaseException, key: str) -> DataError:
        code = dynamodb.error_code(exc)
        if code == "ResourceNotFoundException":
            return DataUnavailable(f"{self.url}: the table does not exist (partition key 'id', string; TTL on "
                                   "'expiration'); check the binding and the region")
        if code in DENIED:
            return DataUnavailable(f"{self.url}: permission denied ({code}); the role needs dynamodb:GetItem, "
                                   "PutItem, DeleteItem and Scan on the table")
        from .errors import translate

        return DataUnavailable(str(translate(exc, "DynamoDB call on", self.url, "dynamodb:*")))

    def get(self, key: str) -> tuple[str, str]:
        item = self.call(lambda: self.client.get_item(TableName=self.table, Key={"id": {"S": key}},
                                                      ConsistentRead=True), key).get("Item")
        if not item or _expired(item, time.time()):
            raise KeyNotFound(self.url, key)
        return item["value"]["S"], item["version"]["S"]

    def put(self, key: str, text: str, expires_at: float | None, if_version: str | None) -> str:
        version = uuid.uuid4().hex
        item: dict[str, Any] = {"id": {"S": key}, "value": {"S": text}, "version": {"S": version}}
        if expires_at is not None:
            item["expires_at"] = {"N": repr(float(expires_at))}
            item[dynamodb.TTL_ATTRIBUTE] = {"N": str(math.ceil(expires_at))}
        kwargs: dict[str, Any] = {"TableName": self.table, "Item": item}
        if if_version == ABSENT:
            kwargs.update(ConditionExpression="attribute_not_exists(#id) OR #exp <= :now",
                          ExpressionAttributeNames={"#id": "id", "#exp": "expires_at"})
        elif if_version is not None:
            kwargs.update(ConditionExpression="#v = :v AND (attribute_not_exists(#exp) OR #exp > :now)",
                          ExpressionAttributeNames={"#v": "version", "#exp": "expires_at"})
        self._conditional(key, if_version, lambda: self.client.put_item(**kwargs), kwargs)
        return version

    def delete(self, key: str, if_version: str | None) -> None:
        kwargs: dict[str, Any] = {"TableName": self.table, "Key": {"id": {"S": key}}}
        if if_version is not None:
            kwargs.update(ConditionExpression="#v = :v AND (attribute_not_exists(#exp) OR #exp > :now)",
                          ExpressionAttributeNames={"#v": "version", "#exp": "expires_at"})
        self._conditional(key, if_version, lambda: self.client.delete_item(**kwargs), kwargs)

    def _conditional(self, key: str, if_version: str | None, write: Any, kwargs: dict[str, Any]) -> None:
        def attempt() -> Any:
            if if_version is not None:  # "now" is taken per attempt: a retry must not judge expiry by a stale clock
                values: dict[str, Any] = {":now": {"N": repr(time.time())}}
                if if_version != ABSENT:
                    values[":v"] = {"S": if_version}
                kwargs["ExpressionAttributeValues"] = values
            return write()

        try:
            self.call(attempt, key)
        except DataUnavailable as exc:
            if dynamodb.condition_failed(exc.__cause__ or exc):
                raise VersionConflict(self.url, key, if_version or "") from None
            raise

    def keys(self, prefix: str) -> Iterator[str]:
        kwargs: dict[str, Any] = {"TableName": self.table, "ConsistentRead": True,
                                  "ProjectionExpression": "#id, #exp",
                                  "ExpressionAttributeNames": {"#id": "id", "#exp": "expires_at"}}
        if prefix:
            kwargs.update(FilterExpression="begins_with(#id, :p)", ExpressionAttributeValues={":p": {"S": prefix}})
        while True:
            page = self.call(lambda: self.client.scan(**kwargs))
            now = time.time()
            for item in page.get("Items", ()):
                if not _expired(item, now):
                    yield item["id"]["S"]
            last = page.get("LastEvaluatedKey")
            if not last:
                return
            kwargs["ExclusiveStartKey"] = last


def _expired(item: dict[str, Any], now: float) -> bool:
    exp = item.get("expires_at")
    return exp is not None and float(exp["N"]) <= now


def factory(kind: str, url: str, name: str) -> DynamoDBTable:
    """``dynamodb://TABLE[?region=R&timeout=S]`` → a key-value table."""
    from portafunc.data.binding import env_name

    variable = env_name(kind, name)
    if kind != "kv":
        raise BindingError(f"{variable}={url!r}: dynamodb:// is a key-value table; bind buckets to s3://BUCKET")
    rest, options = split_options(url, {"region"}, variable)
    table = rest.strip("/")
    if not 3 <= len(table) <= 255 or not all(c.isalnum() or c in "_.-" for c in table):
        raise BindingError(f"{variable}={url!r}: expected dynamodb://TABLE (3-255 letters, digits, '_', '.', '-')")
    region = options.get("region") or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    return DynamoDBTable(url, table, region or "us-east-1", timeout_of(options, url))


binds(factory, "kv")
