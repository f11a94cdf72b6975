"""The Azure runtime imports the queue codec with the first message and the full Event Grid codec with the first event
its entry leaves to it, not at import (cold start).

Each check runs in a fresh interpreter, so the first call really goes through the runtime's stand-in."""

from __future__ import annotations

import subprocess
import sys


def _run(code: str) -> str:
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def test_a_malformed_first_queue_message_still_gets_the_typed_decode_error_and_the_codec_takes_over():
    out = _run(
        "import sys\n"
        "import portafunc_azure.runtime as rt\n"
        "from portafunc.errors import EventDecodeError\n"
        "assert 'portafunc_azure.codecs.queue' not in sys.modules, 'the queue codec loaded with the runtime'\n"
        "try:\n"
        "    rt.decode_body(b'x', message_id='m-1', dequeue_count='Infinity', insertion_time=None)\n"
        "except EventDecodeError as exc:\n"
        "    print('typed:', exc)\n"
        "from portafunc_azure.codecs import queue\n"
        "assert rt.decode_body is queue.decode_body, 'later messages still go through the stand-in'\n"
        "msg = rt.decode_body(b'{\"total\": 3}', message_id='m-2', dequeue_count=1, insertion_time=None)\n"
        "print('decoded:', msg.id, msg.delivery_attempt, msg.data)\n"
    )
    assert "typed: " in out and "Infinity" in out, out
    assert "decoded: m-2 1 b'{\"total\": 3}'" in out, out


def test_the_event_grid_codec_loads_only_with_an_event_the_entry_leaves_to_it():
    """The generated file hands the worker each topic function's entry (the small grid_lane module), the usual event
    runs without the full Event Grid codec, and the first event the entry leaves to the general path (here a
    subscription validation event) loads it."""
    out = _run(
        "import sys\n"
        "import azure.functions as func\n"
        "from portafunc import App\n"
        "import portafunc_azure.runtime as rt\n"
        "assert 'portafunc_azure.codecs.topic' not in sys.modules, 'the Event Grid codec loaded with the runtime'\n"
        "app = App('lazy')\n"
        "seen = []\n"
        "@app.topic('events', name='got')\n"
        "def got(msg):\n"
        "    seen.append((msg.id, msg.json()))\n"
        "from portafunc_azure.deploy.function_app import load_function_app\n"
        "_, functions, runtime = load_function_app(app)\n"
        "assert 'portafunc_azure.codecs.grid_lane' in sys.modules\n"
        "assert 'portafunc_azure.codecs.topic' not in sys.modules, 'the Event Grid codec loaded with the entry'\n"
        "def event(n, etype='order.paid'):\n"
        "    return func.EventGridEvent(id=f'e-{n}', data={'n': n}, topic='/t', subject='s', event_type=etype,\n"
        "                               event_time=None, data_version='1.0')\n"
        "functions['got'].get_user_function()(event(1))\n"
        "assert 'portafunc_azure.codecs.topic' not in sys.modules, 'the usual event loaded the Event Grid codec'\n"
        "lane = runtime.event_grid_lanes['got']\n"
        "assert lane is functions['got'].get_user_function()\n"
        "functions['got'].get_user_function()(event(2))\n"
        "runtime.event_grid('got', event(3))\n"
        "assert runtime.event_grid_lanes['got'] is lane, 'each event builds the entry again'\n"
        "functions['got'].get_user_function()(event(4, 'Microsoft.EventGrid.SubscriptionValidationEvent'))\n"
        "assert 'portafunc_azure.codecs.topic' in sys.modules\n"
        "print('decoded:', seen)\n"
    )
    assert "decoded: [('e-1', {'n': 1}), ('e-2', {'n': 2}), ('e-3', {'n': 3})]" in out, out
