"""The GCP reader of the werkzeug request functions-framework hands a function: the lazy reader (headers, query, raw
query and client IP read on first access, straight from the WSGI environ) reads every field exactly as the eager
reader does through werkzeug's own header view, on real werkzeug requests."""

from __future__ import annotations

from typing import Any

import pytest
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from portafunc_gcp.codecs.http import from_flask, from_flask_eager


def _fields(req: Any) -> tuple[Any, ...]:
    return (req.method, req.path, req.query, req.raw_query, list(req.headers.items()), req.client_ip, req.body,
            req.cookies, req.path_params)


def _request(**kwargs: Any) -> Any:
    environ = EnvironBuilder(**kwargs).get_environ()
    environ.update(kwargs.pop("extra", None) or {})
    return Request(environ)


CASES: list[dict[str, Any]] = [
    {"path": "/hello/world"},
    {"path": "/a%20b/caf%C3%A9", "query_string": "x=1&x=2&empty=&plus=a+b&e=%C3%A9", "method": "POST",
     "data": b"\xff\x00binary", "content_type": "application/octet-stream",
     "headers": {"X-Forwarded-For": "198.51.100.7, 203.0.113.9", "X-Custom_Under": "u", "Accept": "*/*"}},
    {"path": "/c", "headers": {"Cookie": "a=1; b=\"two words\"", "User-Agent": "t"},
     "environ_base": {"REMOTE_ADDR": "192.0.2.8"}},
    {"path": "/d", "method": "put", "data": "text body", "content_type": "text/plain; charset=utf-8",
     "environ_base": {"HTTP_CONTENT_TYPE": "shadowed", "HTTP_x_forwarded_for": "192.0.2.99"}},
]


@pytest.mark.parametrize("case", CASES)
def test_the_lazy_reader_reads_what_werkzeugs_header_view_reads(case: dict[str, Any]) -> None:
    lazy, eager = from_flask(_request(**case)), from_flask_eager(_request(**case))
    assert _fields(lazy) == _fields(eager)


def test_lazy_fields_assigned_before_they_are_read_keep_the_assigned_value() -> None:
    req = from_flask(_request(path="/x", query_string="a=1"))
    req.query = {"b": ["2"]}
    assert req.query == {"b": ["2"]} and req.raw_query == "a=1"
