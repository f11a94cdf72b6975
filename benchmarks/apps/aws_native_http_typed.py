"""The typed-parameters route as a plain Lambda handler: path, query and header read by hand, no validation."""

import json


def handler(event, context):
    query = event.get("queryStringParameters") or {}
    body = {"id": int(event["pathParameters"]["id"]), "limit": int(query.get("limit", 10)),
            "tenant": event["headers"].get("x-tenant", "public")}
    return {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": json.dumps(body)}
