"""The contract driver (``Target.driver()``): drives the real Lambda handler with native events built by this adapter's
encoders, as ``portafunc invoke``, the contract suite and the benchmarks do."""

from __future__ import annotations

from typing import Any

from portafunc.app import App, HttpTrigger, QueueTrigger
from portafunc.errors import EventDecodeError
from portafunc.events import HttpRequest, Message, ScheduleEvent, StorageEvent
from portafunc.invoke import match_request
from portafunc.targets import Driver, Exchange

from . import codecs as codec
from .codecs import http, queue as messages, schedule, storage
from .lambda_context import LambdaContext
from .outcome import RetryRequested
from .runtime import bind


class AwsDriver(Driver):
    """Drives ``portafunc_aws.runtime`` with native events built by this adapter's encoders.

    HTTP goes through the variant SAM deploys (HTTP API, payload 2.0) unless another is given; queue functions get
    SQS batches (FIFO when ``ordered``); topic functions get SQS batches with SNS envelopes, as deployed.
    """

    target = "aws"

    def __init__(self, http_variant: str = "apigw-v2") -> None:
        self.http_variant = http_variant

    def http(self, app: App, request: HttpRequest) -> Exchange:
        spec, params, _ = match_request(app, request)
        route = None
        if spec is not None and isinstance(spec.trigger, HttpTrigger):  # API Gateway routed it: the event names the
            route = spec.trigger.route.template  # route's template and carries its parameters
            request.path_params = params
        native = http.encode_request(request, self.http_variant, route=route)
        handler = bind(app, spec.name if spec else None)  # no route: the app answers 404/405 as API Gateway would
        answer = handler(native, LambdaContext(function_name=f"{app.name}-{spec.name if spec else 'http'}"))
        return Exchange(self.target, native, answer, response=http.decode_response(answer))

    def messages(self, app: App, function: str, messages_: list[Message[Any]]) -> Exchange:
        spec = app.function(function)
        if spec.kind == "queue":
            ordered = isinstance(spec.trigger, QueueTrigger) and spec.trigger.ordered
            native = messages.encode_messages(messages_, "sqs-fifo" if ordered else "sqs")
        elif spec.kind == "topic":
            native = messages.encode_messages(messages_, "sns-sqs")
        else:
            raise EventDecodeError(f"function {function!r} is a {spec.kind} function, not a queue or topic one",
                                   expected="a queue or topic function")
        answer = bind(app, function)(native, LambdaContext(function_name=f"{app.name}-{function}"))
        failed = [f["itemIdentifier"] for f in answer.get("batchItemFailures", [])]
        return Exchange(self.target, native, answer, ids=[m.id for m in messages_], failed_ids=failed)

    def event(self, app: App, function: str, event: StorageEvent | ScheduleEvent) -> Exchange:
        native = storage.encode_storage(event) if isinstance(event, StorageEvent) else schedule.encode_schedule(event)
        event_id = event.id or (codec.decode(native)[0].id or "")  # type: ignore[union-attr]
        try:
            answer = bind(app, function)(native, LambdaContext(function_name=f"{app.name}-{function}"))
            failed: list[str] = []
        except RetryRequested as exc:
            answer = {"errorType": "RetryRequested", "errorMessage": str(exc)}
            failed = [event_id]
        return Exchange(self.target, native, answer, ids=[event_id], failed_ids=failed)
