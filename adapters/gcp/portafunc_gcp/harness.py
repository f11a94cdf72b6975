"""Run an in-memory App through the real entry: generated main.py → functions_framework.create_app → WSGI client.

Used by ``Target.invoke`` (``portafunc invoke --target gcp``) and the contract-test driver. The generated module gets
a unique file name so functions-framework (which registers the source under its file stem in ``sys.modules``) never
shadows the user's own ``main`` module. Its temporary folder is removed when the harness goes away, at the latest when
the process exits; a folder left by a process that was killed (no exit handlers ran) is removed by the next harness.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import threading
import weakref
from pathlib import Path
from typing import Any, Mapping

from portafunc.app import App
from portafunc.errors import EventDecodeError

from .codecs import http, legacy, pubsub, storage
from .deploy.main_py import HTTP_SERVICE, render_main
from .runtime import register

_harnesses: weakref.WeakKeyDictionary[App, Harness] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def harness_for(app: App) -> Harness:
    with _lock:
        harness = _harnesses.get(app)
        if harness is None:
            harness = _harnesses[app] = Harness(app)
        return harness


_PREFIX = "portafunc-gcp-"


def _remove_folders_of_dead_processes() -> None:
    """``portafunc-gcp-<pid>-*`` folders whose process no longer exists (it was killed before its exit handlers)."""
    for folder in Path(tempfile.gettempdir()).glob(f"{_PREFIX}*-*"):
        pid = folder.name[len(_PREFIX):].split("-", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)


def _alive(pid: int) -> bool:
    if os.name == "nt":
        return True  # os.kill(pid, 0) would send CTRL_C_EVENT there, not probe
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True  # another user's process, or a pid the system cannot check: leave its folder alone
    return True


class Harness:
    def __init__(self, app: App) -> None:
        self.app = app
        key = f"h{id(app):x}"
        register(key, app)
        _remove_folders_of_dead_processes()
        self._dir = Path(tempfile.mkdtemp(prefix=f"{_PREFIX}{os.getpid()}-"))
        # functions-framework reads the source on each create_app, so the folder lives as long as the harness; a
        # finalizer (run at exit too) removes it, so runs leave nothing in the temp directory.
        weakref.finalize(self, shutil.rmtree, self._dir, ignore_errors=True)
        self.source = self._dir / f"portafunc_gcp_entry_{key}.py"
        self.source.write_text(render_main(app, f"registered:{key}", root=None), encoding="utf-8")
        self._clients: dict[str, Any] = {}

    def client(self, function: str) -> Any:
        client = self._clients.get(function)
        if client is None:
            import functions_framework

            if function != HTTP_SERVICE:
                self.app.function(function)  # a clear error for an unknown name
            flask_app = functions_framework.create_app(target=function, source=str(self.source))
            client = self._clients[function] = flask_app.test_client(use_cookies=False)
        return client

    @staticmethod
    def binary_cloudevent(ce: Mapping[str, Any]) -> dict[str, Any]:
        """A structured CloudEvent dict → the binary-mode HTTP request Eventarc sends (ce-* headers, JSON body)."""
        headers = [[f"ce-{k}", str(v)] for k, v in ce.items() if k not in ("data", "datacontenttype")]
        headers.append(["Content-Type", ce.get("datacontenttype", "application/json")])
        return {"method": "POST", "path": "/", "query_string": "", "headers": headers,
                "body": json.dumps(ce.get("data"), separators=(",", ":")), "isBase64Encoded": False}

    def send(self, function: str, native: Any) -> dict[str, Any]:
        """Deliver a native event (any shape ``decode`` accepts) as the real HTTP request; the native response."""
        client = self.client(function)
        try:
            request = self._as_http(native)
            from portafunc.kit.http_json import body_of, headers_of

            body = body_of(request, "HTTP request")
            headers = headers_of(request.get("headers"))
            cookies = headers.get_all("cookie")
            if len(cookies) > 1:  # one cookie-string, as Google's front end delivers it (RFC 6265 §5.4, RFC 9113
                headers.set("Cookie", "; ".join(cookies))  # §8.2.3); werkzeug's client would join them with ", "
            options = {"path": request["path"], "method": request["method"],  # sent as is: PATH_INFO is decoded
                       "query_string": request.get("query_string", ""),
                       # a WSGI server's environ holds a header's bytes read as latin-1 (PEP 3333); werkzeug's test
                       # client puts text there as given, so it is given the UTF-8 bytes of the event's text so read
                       # a name with "_" is dropped, as gunicorn (functions-framework's server) drops it by
                       # default: its environ key would be the "-" name's (werkzeug's client would merge the two)
                       "headers": [(k, v.encode("utf-8").decode("latin-1")) for k, v in headers.items()
                                   if k.lower() != "content-length" and "_" not in k],
                       "data": body}
            resp = client.open(**options)
        except EventDecodeError:
            raise
        except (RecursionError, UnicodeError, OverflowError, TypeError, ValueError, KeyError,
                AttributeError) as exc:
            # the event cannot be made into an HTTP request (nested too deep to serialise, a field of the wrong
            # type): errors inside the function are answered by Flask, so these come from building the request
            raise EventDecodeError(f"the event cannot be sent as an HTTP request ({type(exc).__name__})",
                                   expected="a native event as `portafunc events new --target gcp` prints it") \
                from None
        return http.response_json(resp.status_code, list(resp.headers.items()), resp.get_data())

    def _as_http(self, native: Any) -> dict[str, Any]:
        if not isinstance(native, Mapping):
            raise EventDecodeError(f"a GCP event is a JSON object, got {type(native).__name__}",
                                   expected="see `portafunc events decode --target gcp`")
        if http.is_http(native):
            return dict(native)
        if "specversion" in native:  # structured mode, as in a saved event file
            body = json.dumps(native, separators=(",", ":"))
            return {"method": "POST", "path": "/", "headers": [["Content-Type", "application/cloudevents+json"]],
                    "body": body}
        if storage.is_object_data(native):  # a bare binary-mode body: the type defaults to finalized
            return self.binary_cloudevent(storage.encode_cloudevent(storage.decode_object(native))
                                          | {"data": dict(native)})
        if pubsub.is_push_envelope(native) or legacy.is_legacy(native):
            return {"method": "POST", "path": "/", "headers": [["Content-Type", "application/json"]],
                    "body": json.dumps(native, separators=(",", ":"))}
        from .codecs import ACCEPTED

        raise EventDecodeError(f"unrecognised GCP event with keys {sorted(native)[:8]}", expected=ACCEPTED)
