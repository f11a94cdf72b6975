"""Log records of an Azure function, called through the generated ``function_app`` with ``azure.functions`` types.

Azure's Python worker (not installable outside the Functions host) puts one handler on the root logger that sends
each record to the host, which writes it to Application Insights with the invocation's ``operation_Id``. portafunc
must keep that handler and its formatter and only add its filter: the stand-in here is a plain root handler that
keeps the records it receives, as the worker's does."""

from __future__ import annotations

import logging

from log_support import fresh_logging
from portafunc import App, HttpRequest, HttpResponse, get_logger
from portafunc.targets import get_target
from portafunc_azure.codecs import natives
from portafunc_azure.deploy.function_app import load_function_app

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"


class WorkerHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []
        self.setFormatter(logging.Formatter("%(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def _app() -> App:
    app = App("logs")

    @app.http("POST", "/pay")
    def pay(req: HttpRequest) -> HttpResponse:
        logging.getLogger("shop.pay").info("paid with Bearer abc.def.ghi", extra={"order": 42, "secret": "s"})
        get_logger("shop").warning("slow")
        return HttpResponse.json({"error": "declined"}, status=402)

    return app


def test_records_reach_the_workers_handler_with_ids_and_scrubbed(monkeypatch) -> None:
    monkeypatch.setenv("FUNCTIONS_WORKER_RUNTIME", "python")
    worker = WorkerHandler()
    formatter = worker.formatter
    with fresh_logging() as root:
        root.addHandler(worker)
        root.setLevel(logging.INFO)  # the worker's own level
        _, functions, _ = load_function_app(_app())
        native = get_target("azure").encode(HttpRequest("POST", "/pay", headers=[
            ("traceparent", f"00-{TRACE_ID}-b7ad6b7169203331-01")]))
        resp = functions["pay"].get_user_function()(natives.to_func_http(native))
    assert resp.status_code == 402
    assert worker.formatter is formatter  # the worker's formatting is the worker's
    paid, slow, rejected = worker.records
    fields = vars(paid)  # the record's extra attributes, as the worker's formatter reads them
    assert paid.getMessage() == "paid with Bearer [REDACTED]" and fields["order"] == 42
    assert fields["secret"] == "[REDACTED]"
    assert fields["trace_id"] == TRACE_ID and fields["function"] == "pay" and fields["invocation_id"]
    assert fields["correlation_id"] == f"00-{TRACE_ID}-b7ad6b7169203331-01"
    assert vars(slow)["invocation_id"] == fields["invocation_id"] and slow.name == "shop"
    assert (rejected.name, rejected.getMessage(), vars(rejected)["status"]) == ("portafunc", "request rejected", 402)
    assert not any(isinstance(h, logging.StreamHandler) for h in root.handlers if h is not worker and
                   not type(h).__module__.startswith("_pytest"))  # nothing added beside the worker's
