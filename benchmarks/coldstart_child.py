"""One cold start: a fresh interpreter imports one contender's entry module and handles its first event.

Run by benchmarks/coldstart.py, never by hand: ``python coldstart_child.py CONTENDER CODE_ROOT EVENT_FILE``. Prints
one JSON line: import ms, first-event ms (both measured in-process with perf_counter), the CPU time of the two
(process_time: user + system time of this process, which waiting for a core on a loaded machine does not inflate)
and peak RSS after the first event. The event is read with json before timing starts, as the platform's runtime hands it in already decoded.
"""

import json
import os
import sys
import time


class LambdaContext:
    aws_request_id = "c6af9ac6-7b61-11e6-9a41-93e812345678"
    function_name = "bench"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:bench"
    memory_limit_in_mb = 512

    def get_remaining_time_in_millis(self):
        return 30000


def _aws(module):
    def setup(root):
        import importlib

        handler = importlib.import_module(module).handler
        ctx = LambdaContext()
        return lambda event: handler(event, ctx)
    return setup


def _aws_check(out):
    if isinstance(out, dict) and "statusCode" in out:
        assert out["statusCode"] == 200, out
        assert json.loads(out["body"]) == {"message": "hello world"}, out
    else:
        assert out == {"batchItemFailures": []}, out


def _gcp(folder):
    def setup(root):
        import functions_framework

        app = functions_framework.create_app(target="hello", source=os.path.join(root, folder, "main.py"),
                                             signature_type="http")
        client = app.test_client()
        return lambda event: client.get(event["path"])
    return setup


def _gcp_check(resp):
    assert resp.status_code == 200, (resp.status_code, resp.data)
    assert json.loads(resp.data) == {"message": "hello world"}, resp.data


def _azure(folder):
    def setup(root):
        import importlib.util

        import azure.functions as func

        path = os.path.join(root, folder, "function_app.py")
        spec = importlib.util.spec_from_file_location("function_app", path)
        module = importlib.util.module_from_spec(spec)
        sys.modules["function_app"] = module
        spec.loader.exec_module(module)
        fns = {f.get_function_name(): f for f in module.app.get_functions()}  # the worker's indexing step
        fn = fns["hello"].get_user_function()

        def call(event):
            req = func.HttpRequest(method="GET", url="http://localhost:7071/hello/world", headers={},
                                   params={}, route_params={"name": "world"}, body=b"")
            return fn(req)
        return call
    return setup


def _azure_check(resp):
    assert resp.status_code == 200, resp.status_code
    assert json.loads(resp.get_body()) == {"message": "hello world"}, resp.get_body()


CONTENDERS = {
    "bare": (lambda root: (lambda event: None), lambda out: None),
    "aws_native_http": (_aws("aws_native_http"), _aws_check),
    "aws_portafunc_http": (_aws("portafunc_aws.runtime"), _aws_check),
    "aws_powertools_http": (_aws("aws_powertools_http"), _aws_check),
    "aws_mangum_http": (_aws("aws_mangum_http"), _aws_check),
    "aws_chalice_http": (_aws("aws_chalice_http"), _aws_check),
    "aws_native_sqs": (_aws("aws_native_sqs"), _aws_check),
    "aws_portafunc_sqs": (_aws("portafunc_aws.runtime"), _aws_check),
    "aws_powertools_sqs": (_aws("aws_powertools_sqs"), _aws_check),
    "aws_native_sqs_typed": (_aws("aws_native_sqs_typed"), _aws_check),
    "aws_portafunc_sqs_typed": (_aws("portafunc_aws.runtime"), _aws_check),
    "aws_powertools_sqs_typed": (_aws("aws_powertools_sqs_typed"), _aws_check),
    "gcp_native_http": (_gcp("gcp_native"), _gcp_check),
    "gcp_portafunc_http": (_gcp("gcp_portafunc"), _gcp_check),
    "azure_native_http": (_azure("azure_native"), _azure_check),
    "azure_portafunc_http": (_azure("azure_portafunc"), _azure_check),
}


def main():
    name, root, event_file = sys.argv[1:4]
    with open(event_file, encoding="utf-8") as fh:
        event = json.load(fh)
    sys.path.insert(0, root)
    setup, check = CONTENDERS[name]
    c0, t0 = time.process_time(), time.perf_counter()
    handle = setup(root)
    t1 = time.perf_counter()
    out = handle(event)
    t2, c2 = time.perf_counter(), time.process_time()
    import resource

    rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # includes the parent's RSS at fork (see hwm_kb)
    check(out)
    print(json.dumps({"import_ms": (t1 - t0) * 1000, "first_ms": (t2 - t1) * 1000, "total_ms": (t2 - t0) * 1000,
                      "cpu_ms": (c2 - c0) * 1000,
                      "rss_kb": rss_kb, "hwm_kb": _own_peak_kb(), "modules": len(sys.modules)}))


def _own_peak_kb():
    """This process's own peak RSS (VmHWM of its address space, new at exec). ``ru_maxrss`` is not: Linux carries
    the forking parent's peak over into the child's, so a child of a big benchmark process reports the parent's."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


if __name__ == "__main__":
    main()
