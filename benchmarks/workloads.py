"""The native events every benchmark feeds in, built from the real samples in tests/fixtures/events.

Each event is a fixture sample with only the fields a hello-world app needs changed (route, path parameters,
bodies), so every contender parses a realistically sized, realistically shaped event.
"""

from __future__ import annotations

import base64
import copy
import json
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures" / "events"
ORDER = {"id": "o-1", "total": 1.5}


def lambda_handler(app: Any, function: str | None = None) -> Any:
    """What Lambda's runtime calls per invocation for ``app``: once the init phase has loaded the app,
    ``portafunc_aws.runtime.handler`` is the loaded handler's bound ``__call__`` (calling the handler object
    instead goes through its type's call slot, about 40 ns more)."""
    from portafunc_aws.runtime import bind

    return bind(app, function).__call__


def _fixture(rel: str) -> Any:
    path = FIXTURES / rel
    if not path.is_file():
        raise SystemExit(f"missing fixture {path}")
    return json.loads(path.read_text(encoding="utf-8"))


def http_v2_event() -> dict[str, Any]:
    """API Gateway HTTP API (v2) GET /hello/world, from the SAM sample."""
    ev = _fixture("aws/http-apigw-v2/sam-HttpApi.json")
    ev.update({"routeKey": "GET /hello/{name}", "rawPath": "/hello/world", "rawQueryString": "",
               "pathParameters": {"name": "world"}, "isBase64Encoded": False})
    ev.pop("body", None)
    ev.pop("queryStringParameters", None)
    ev["requestContext"]["http"].update({"method": "GET", "path": "/hello/world"})
    ev["requestContext"]["routeKey"] = "GET /hello/{name}"
    return ev


def http_v2_typed_event() -> dict[str, Any]:
    """API Gateway HTTP API (v2) GET /orders/42?limit=5 with an X-Tenant header: the typed-parameters workload."""
    ev = http_v2_event()
    ev.update({"routeKey": "GET /orders/{id}", "rawPath": "/orders/42", "rawQueryString": "limit=5",
               "queryStringParameters": {"limit": "5"}, "pathParameters": {"id": "42"}})
    ev["headers"] = dict(ev["headers"], **{"x-tenant": "acme"})
    ev["requestContext"]["http"].update({"method": "GET", "path": "/orders/42"})
    ev["requestContext"]["routeKey"] = "GET /orders/{id}"
    return ev


def http_v1_event() -> dict[str, Any]:
    """API Gateway REST (v1) proxy event for the same request (Chalice only understands v1)."""
    ev = _fixture("aws/http-apigw-v1/sam-AwsProxy.json")
    ev.update({"resource": "/hello/{name}", "path": "/hello/world", "httpMethod": "GET", "body": None,
               "isBase64Encoded": False, "pathParameters": {"name": "world"},
               "queryStringParameters": None, "multiValueQueryStringParameters": None})
    ev["requestContext"].update({"resourcePath": "/hello/{name}", "httpMethod": "GET", "path": "/prod/hello/world"})
    return ev


def sqs_event(n: int = 10) -> dict[str, Any]:
    """An SQS batch of ``n`` records (from the Powertools sample record), JSON order bodies."""
    template = _fixture("aws/sqs/powertools-sqsEvent.json")["Records"][0]
    records = []
    for i in range(n):
        rec = copy.deepcopy(template)
        rec["messageId"] = f"059f36b4-87a3-44ab-83d2-{i:012d}"
        rec["body"] = json.dumps({"id": f"o-{i}", "total": 1.5})
        records.append(rec)
    return {"Records": records}


def sqs_failing_event(n: int, failing: int) -> dict[str, Any]:
    """``sqs_event(n)`` where record ``failing`` has no ``total``: every contender's handler fails on it (a KeyError
    untyped, a validation error typed) and reports only that record for retry."""
    event = sqs_event(n)
    event["Records"][failing]["body"] = json.dumps({"id": f"o-{failing}"})
    return event


def pubsub_cloudevent() -> dict[str, Any]:
    """Pub/Sub messagePublished CloudEvent (structured form, from google-cloudevents), JSON order payload."""
    ev = _fixture("gcp/pubsub-cloudevent/gce-structured-MessagePublishedData.json")
    ev["data"]["message"]["data"] = base64.b64encode(json.dumps(ORDER).encode()).decode()
    return ev


def pubsub_push() -> dict[str, Any]:
    """A push subscription's raw envelope (from google-cloudevents), JSON order payload, as a queue function gets it."""
    envelope = _fixture("gcp/pubsub-push/gce-MessagePublishedData-simple.json")
    envelope["message"]["data"] = base64.b64encode(json.dumps(ORDER).encode()).decode()
    return envelope


def eventgrid_event() -> dict[str, Any]:
    """Event Grid schema custom-topic event (azure-sdk-for-python sample), JSON order payload."""
    ev = _fixture("azure/eventgrid/py-cs4_event_grid_event_custom_event.json")
    ev["data"] = dict(ORDER)
    return ev


class LambdaContext:
    """Just the attributes handlers and the peers read from the Lambda context object."""

    function_name = "bench"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:bench"
    memory_limit_in_mb = 512
    aws_request_id = "c6af9ac6-7b61-11e6-9a41-93e812345678"
    log_group_name = "/aws/lambda/bench"
    log_stream_name = "2024/01/01/[$LATEST]abcdef"

    def get_remaining_time_in_millis(self) -> int:
        return 30000
