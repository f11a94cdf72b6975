"""The same hello-world, written as a plain Lambda handler for an API Gateway HTTP API (v2) event."""

import json


def handler(event, context):
    name = event["pathParameters"]["name"]
    return {"statusCode": 200, "headers": {"Content-Type": "application/json"},
            "body": json.dumps({"message": "hello " + name})}
