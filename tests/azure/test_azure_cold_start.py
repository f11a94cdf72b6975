"""Importing the adapter (target, runtime, backends) must not import an Azure SDK until a path needs it."""

from __future__ import annotations

import subprocess
import sys


def test_adapter_imports_no_sdk():
    code = ("import sys, portafunc_azure.target, portafunc_azure.runtime, portafunc_azure.backends.storage_queue, "
            "portafunc_azure.backends.eventgrid_topic, portafunc_azure.inbound.webhook, portafunc_azure.deploy.function_app;"
            "print(sorted(m for m in sys.modules if m == 'azure' or m.startswith('azure.')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_decoding_json_needs_no_sdk():
    code = ("import sys, json; from portafunc.targets import get_target;"
            "get_target('azure').decode({'id': '1', 'eventType': 'X', 'data': {}});"
            "print([m for m in sys.modules if m.startswith('azure')])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
