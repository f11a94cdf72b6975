"""Run INSIDE a fresh venv from an unzipped Azure artifact: index function_app.py and call every function.

Mirrors what the Azure Functions Python worker does: put the app folder and .python_packages/lib/site-packages on
sys.path, import function_app, index ``app.get_functions()``, then invoke each function with azure.functions objects.
Prints one JSON document for the test to check.
"""

import json
import os
import sys
from datetime import datetime, timezone
from typing import Any

root = os.getcwd()
sys.path[:0] = [root, os.path.join(root, ".python_packages", "lib", "site-packages")]
os.environ.setdefault("PORTAFUNC_QUEUE_ORDERS", "memory://")
os.environ.setdefault("PORTAFUNC_TOPIC_ORDER_EVENTS", "memory://")
os.environ.setdefault("PORTAFUNC_KV_ORDERS", "memory://")
os.environ.setdefault("PORTAFUNC_BUCKET_UPLOADS", "memory://")
os.environ.setdefault("PORTAFUNC_BUCKET_THUMBNAILS", "memory://")
os.environ.pop("AzureWebJobsStorage", None)

import function_app  # noqa: E402

from portafunc.events import HttpRequest, Message, ScheduleEvent, StorageEvent  # noqa: E402
from portafunc_azure import codecs  # noqa: E402  (the artifact's codecs; its Target and driver stay behind)
from portafunc_azure.codecs import natives  # noqa: E402

functions = {f.get_function_name(): f for f in function_app.app.get_functions()}
out: dict[str, Any] = {"bindings": {name: [json.loads(b) for b in f.get_raw_bindings()] for name, f in functions.items()},
       "modules": {}, "calls": {}}
t = codecs


def call(name, arg):
    try:
        result = functions[name].get_user_function()(arg)
    except Exception as exc:  # noqa: BLE001
        return {"raised": f"{type(exc).__name__}: {exc}"}
    if result is None:
        return {"returned": None}
    return {"http": natives.response_datum_to_json(result)}


out["calls"]["create_order"] = call("create_order", natives.to_func_http(t.encode(HttpRequest(
    "POST", "/orders/acme", headers={"content-type": "application/json"}, body=b'{"id":"o-1","total":9.5}',
    path_params={"shop": "acme"}))))
out["calls"]["create_order_invalid"] = call("create_order", natives.to_func_http(t.encode(HttpRequest(
    "POST", "/orders/acme", headers={"content-type": "application/json"}, body=b'{"id":"o-1"}', path_params={"shop": "acme"}))))
out["calls"]["get_order"] = call("get_order", natives.to_func_http(t.encode(HttpRequest(
    "GET", "/orders/acme/o-1", path_params={"shop": "acme", "order_id": "o-1"}))))
out["calls"]["fulfil"] = call("fulfil", natives.to_func_queue(t.encode(Message(
    "q-1", b'{"id":"o-1","total":9.5}', attributes={"shop": "acme"}, delivery_attempt=1), "queue")))
out["calls"]["fulfil_retry"] = call("fulfil", natives.to_func_queue(t.encode(Message(
    "q-2", b'{"id":"o-2","total":-1}', delivery_attempt=1), "queue")))
out["calls"]["audit"] = call("audit", natives.to_func_eventgrid(t.encode(Message(
    "e-1", b'{"id":"o-1"}', attributes={"kind": "created"}), "eventgrid")))
out["calls"]["audit_cloudevent"] = call("audit", natives.to_func_eventgrid(t.encode(Message(
    "e-2", b'{"id":"o-2"}'), "cloudevents")))
out["calls"]["nightly"] = call("nightly", natives.to_func_timer(t.encode(ScheduleEvent(
    datetime(2026, 1, 1, 0, 5, tzinfo=timezone.utc)))))
out["calls"]["unmatched"] = call("zz_portafunc_unmatched", natives.to_func_http(t.encode(HttpRequest(
    "GET", "/nowhere"))))
out["calls"]["on_upload"] = call("on_upload", natives.to_func_eventgrid(t.encode(StorageEvent(
    "uploads", "photos/cat 1.png", size=42))))
out["calls"]["docs_openapi"] = call("portafunc_docs_files", natives.to_func_http(t.encode(HttpRequest(
    "GET", "/docs/openapi.json", path_params={"file": "openapi.json"}))))
out["calls"]["docs_script"] = call("portafunc_docs_files", natives.to_func_http(t.encode(HttpRequest(
    "GET", "/docs/swagger-ui-bundle.js", headers={"accept-encoding": "gzip"},
    path_params={"file": "swagger-ui-bundle.js"}))))
for mod in ("portafunc", "portafunc_azure", "azure.functions", "pydantic", "pydantic_core"):
    out["modules"][mod] = sys.modules[mod].__file__ if mod in sys.modules else None
module_files = [m.__file__ for n, m in list(sys.modules.items()) if n != "__main__" and getattr(m, "__file__", None)]
out["foreign_paths"] = sorted({os.path.dirname(f) for f in module_files
                               if f and not f.startswith(root) and not f.startswith(sys.base_prefix)})
out["queue_depth"] = len(__import__("portafunc").queue("orders").receive(max_messages=10))
sys.stdout.write("\n@@BOOT@@" + json.dumps(out) + "\n")
