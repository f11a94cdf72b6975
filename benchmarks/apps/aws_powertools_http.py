"""Powertools for AWS Lambda: APIGatewayHttpResolver (HTTP API v2)."""

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver

app = APIGatewayHttpResolver()


@app.get("/hello/<name>")
def hello(name):
    return {"message": "hello " + name}


def handler(event, context):
    return app.resolve(event, context)
