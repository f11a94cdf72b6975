"""The typed-parameters route as a plain Lambda handler that validates with pydantic by hand: the floor of what the
same validation costs without portafunc (one TypeAdapter over the three values, the response model written by its
own serializer). What portafunc adds beyond this is its own overhead; what this adds beyond the native handler is
pydantic's."""

from typing import Annotated

from pydantic import BaseModel, Field, TypeAdapter


class OrderView(BaseModel):
    id: int
    limit: int
    tenant: str


PARAMETERS = TypeAdapter(tuple[int, Annotated[int, Field(ge=1, le=100)], str])


def handler(event, context):
    query = event.get("queryStringParameters") or {}
    id_, limit, tenant = PARAMETERS.validate_python(
        (event["pathParameters"]["id"], query.get("limit", 10), event["headers"].get("x-tenant", "public")))
    body = OrderView(id=id_, limit=limit, tenant=tenant).model_dump_json()
    return {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": body}
