"""A request's trace through SQS on moto (server mode): the HTTP handler sends to a real SQS queue, the message holds
``traceparent`` as a message attribute, and the consumer — delivered the received message as Lambda's event source
mapping does — runs in the same trace, as does a record that carries only X-Ray's ``AWSTraceHeader``."""

from __future__ import annotations

from typing import Any

import pytest

import portafunc
from portafunc import App, HttpRequest, HttpResponse, Message
from portafunc.events import Headers
from portafunc_aws import runtime
from portafunc_aws.codecs import http
from portafunc_aws.lambda_context import LambdaContext
from test_moto_e2e import event_source_mapping, receive_all

pytestmark = pytest.mark.emulator

CALLER = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def _app(seen: list[Any]) -> App:
    app = App("traced")

    @app.http("POST", "/orders", uses=[portafunc.sends("work")])
    def create(req: HttpRequest) -> HttpResponse:
        portafunc.queue("work").send({"id": "o-1"}, attributes={"shop": "acme"})
        return HttpResponse(status=202)

    @app.queue("work")
    def work(msg: Message) -> None:
        seen.append((portafunc.current_invocation(), dict(msg.attributes)))

    return app


def test_sqs_message_continues_the_request_trace(boto: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    url, arn = boto.queue("traced-work")
    monkeypatch.setenv("PORTAFUNC_QUEUE_WORK", "sqs://" + url.split("://", 1)[1])
    seen: list[Any] = []
    app = _app(seen)
    native = http.encode_request(HttpRequest("POST", "/orders", headers=Headers([("traceparent", CALLER)])),
                                 "apigw-v2")
    assert runtime.bind(app, "create")(native, LambdaContext())["statusCode"] == 202

    [received] = receive_all(boto, url, 1)
    carried = {k: v["StringValue"] for k, v in received["MessageAttributes"].items()}
    assert carried["shop"] == "acme" and carried["correlation_id"] == CALLER
    _, trace_id, request_span, _ = carried["traceparent"].split("-")
    assert trace_id == "4bf92f3577b34da6a3ce929d0e0e4736" and request_span != "00f067aa0ba902b7"

    assert event_source_mapping(boto, runtime.bind(app, "work"), url, arn, [received]) == []
    [(invocation, _)] = seen
    assert (invocation.trace.trace_id, invocation.trace.parent_id) == (trace_id, request_span)
    assert invocation.correlation_id == CALLER


def test_aws_trace_header_of_an_sqs_record_is_the_parent(boto: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A message sent by another producer, traced by X-Ray only: SQS gives the record ``AWSTraceHeader``."""
    url, arn = boto.queue("xray-work")
    header = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
    boto.sqs.send_message(QueueUrl=url, MessageBody='{"id": "o-2"}',
                          MessageSystemAttributes={"AWSTraceHeader": {"DataType": "String", "StringValue": header}})
    seen: list[Any] = []
    [received] = receive_all(boto, url, 1)
    assert received["Attributes"]["AWSTraceHeader"] == header
    assert event_source_mapping(boto, runtime.bind(_app(seen), "work"), url, arn, [received]) == []
    [(invocation, _)] = seen
    assert invocation.trace.trace_id == "5759e988bd862e3fe1be46a994272793"
    assert invocation.trace.parent_id == "53995c3f42cd8ad8"
