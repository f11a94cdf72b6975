"""Log lines through the Lambda entry under the real runtime client's logging (``awslambdaric.bootstrap``'s own
set-up: its handler, its JSON formatter or text formatter, its request-id filter, its ``AWS_LAMBDA_LOG_LEVEL``),
with a list as the log sink instead of the telemetry pipe."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from awslambdaric import bootstrap
from awslambdaric.lambda_context import LambdaContext
from awslambdaric.lambda_runtime_log_utils import LogFormat

from log_support import fresh_logging
from portafunc import App, HttpRequest, HttpResponse, get_logger
from portafunc.events import Headers
from portafunc_aws import runtime
from portafunc_aws.codecs import http

TRACE_ID = "5759e988bd862e3fe1be46a994272793"


class Sink:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def log(self, msg: str, frame_type: Any = None) -> None:
        self.lines.append(msg)

    def records(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.lines]


def _app() -> App:
    app = App("logs")

    @app.http("POST", "/pay")
    def pay(req: HttpRequest) -> HttpResponse:
        logging.getLogger("shop.pay").info("paid %s with password=%s", 42, "hunter2",
                                           extra={"order": 42, "api_key": "k-1"})
        get_logger("shop").warning("slow", extra={"ms": 12})
        return HttpResponse.json({"error": "declined"}, status=402)

    return app


def _invoke(monkeypatch: pytest.MonkeyPatch, log_format: int, level: str = "") -> Sink:
    sink = Sink()
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "logs-pay")
    bootstrap._setup_logging(log_format, level, sink)
    monkeypatch.setattr(bootstrap, "_GLOBAL_AWS_REQUEST_ID", "req-1")  # what the runtime sets per invocation
    native = http.encode_request(HttpRequest("POST", "/pay", headers=Headers(
        [("x-amzn-trace-id", f"Root=1-{TRACE_ID[:8]}-{TRACE_ID[8:]};Parent=53995c3f42cd8ad8;Sampled=1")])),
        "apigw-v2")
    answer = runtime.bind(_app(), "pay")(native, LambdaContext("req-1", None, None, 0))
    assert answer["statusCode"] == 402
    return sink


@pytest.mark.parametrize("log_format", [LogFormat.JSON, LogFormat.TEXT], ids=["json", "text"])
def test_user_lines_are_cloudwatch_json_with_the_invocation_ids(monkeypatch: pytest.MonkeyPatch,
                                                               log_format: int) -> None:
    with fresh_logging():
        sink = _invoke(monkeypatch, log_format)
    paid, slow, rejected = sink.records()
    assert paid["message"] == "paid 42 with password=[REDACTED]" and paid["logger"] == "shop.pay"
    assert paid["level"] == "INFO" and paid["requestId"] == "req-1" and paid["timestamp"].endswith("Z")
    assert paid["order"] == 42 and paid["api_key"] == "[REDACTED]"
    assert paid["function"] == "pay" and paid["invocation_id"] and paid["trace_id"] == TRACE_ID
    assert len(paid["span_id"]) == 16 and paid["span_id"] != "53995c3f42cd8ad8"
    assert (slow["logger"], slow["level"], slow["ms"]) == ("shop", "WARNING", 12)
    assert (rejected["logger"], rejected["message"], rejected["status"]) == ("portafunc", "request rejected", 402)
    assert rejected["invocation_id"] == paid["invocation_id"] and rejected["requestId"] == "req-1"
    assert all(line.endswith("\n") for line in sink.lines)  # one record per line, like the runtime's own
    assert "hunter2" not in "".join(sink.lines) and "k-1" not in "".join(sink.lines)


def test_lambda_application_log_level_applies_to_portafunc_lines_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_LAMBDA_LOG_LEVEL", "WARN")
    monkeypatch.delenv("PORTAFUNC_LOG_LEVEL", raising=False)
    with fresh_logging():
        sink = _invoke(monkeypatch, LogFormat.JSON, "WARN")
    assert [(r["logger"], r["message"]) for r in sink.records()] == [("shop", "slow")]
