"""Log lines of the GCP entry served by functions-framework (its CLI, in its own process, as Cloud Run functions
start it): every record — the application's ``logging`` lines and portafunc's own — is one JSON line in Cloud
Logging's structured shape, with the request's trace."""

from __future__ import annotations

import importlib.util
import json
import sys
import textwrap
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

APP = """
    import logging

    from portafunc import App, HttpRequest, HttpResponse, get_logger

    app = App("logs")

    @app.http("POST", "/pay")
    def pay(req: HttpRequest) -> HttpResponse:
        logging.getLogger("shop.pay").info("paid %s token=%s", 42, "tok-secret", extra={"order": 42})
        get_logger("shop").error("card declined", extra={"password": "hunter2"})
        return HttpResponse.json({"error": "declined"}, status=402)
"""
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"


def _lines(log: Path, count: int) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 10
    while True:
        rows = [json.loads(line) for line in log.read_text(errors="replace").splitlines() if line.startswith("{")]
        if len(rows) >= count or time.monotonic() > deadline:
            return rows
        time.sleep(0.05)


def test_every_line_is_a_cloud_logging_entry_with_the_trace(tmp_path: Path, serve) -> None:
    from portafunc_gcp.deploy.main_py import render_main

    (tmp_path / "logapp.py").write_text(textwrap.dedent(APP), encoding="utf-8")
    spec = importlib.util.spec_from_file_location("logapp_gcp_logging", tmp_path / "logapp.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    (tmp_path / "main.py").write_text(render_main(module.app, "logapp:app", root=str(tmp_path)), encoding="utf-8")
    server = serve(tmp_path, "pay", "http", {"GOOGLE_CLOUD_PROJECT": "demo-project", "K_SERVICE": "pay",
                                           "PYTHONPATH": str(tmp_path)})
    request = urllib.request.Request(f"{server.url}/pay", data=b"{}", method="POST", headers={
        "Content-Type": "application/json", "X-Cloud-Trace-Context": f"{TRACE_ID}/1;o=1"})
    try:
        urllib.request.urlopen(request, timeout=10)
        raise AssertionError("expected 402")
    except urllib.error.HTTPError as answer:
        assert answer.code == 402
    paid, declined, rejected = _lines(server.log, 3)[-3:]
    trace = f"projects/demo-project/traces/{TRACE_ID}"
    assert (paid["severity"], paid["message"], paid["logger"]) == ("INFO", "paid 42 token=[REDACTED]", "shop.pay")
    assert paid["logging.googleapis.com/trace"] == trace and len(paid["logging.googleapis.com/spanId"]) == 16
    assert paid["order"] == 42 and paid["function"] == "pay" and paid["invocation_id"]
    assert (declined["severity"], declined["password"]) == ("ERROR", "[REDACTED]")
    assert (rejected["logger"], rejected["message"], rejected["severity"]) == ("portafunc", "request rejected", "INFO")
    assert rejected["invocation_id"] == paid["invocation_id"] == declined["invocation_id"]
    assert "hunter2" not in server.log.read_text() and "tok-secret" not in server.log.read_text()
    assert sys.modules.get("logapp") is None  # the app ran in the server's process only
