"""HttpRequest.lazy: the fields a codec did not read up front are read from the native event on first access, and
the request behaves exactly as an HttpRequest built with the same values (attributes, assignment, to_dict, equality,
cookies, body)."""

from __future__ import annotations

from typing import Any

import pytest

from portafunc.events import Headers, HttpFields, HttpRequest


class CountingFields(HttpFields):
    """Fields read from a plain dict standing in for a native event; counts each read."""

    def __init__(self) -> None:
        self.reads: dict[str, int] = {}

    def _count(self, name: str) -> None:
        self.reads[name] = self.reads.get(name, 0) + 1

    def query(self, native: Any) -> dict[str, list[str]]:
        self._count("query")
        return {k: list(v) for k, v in native["query"].items()}

    def headers(self, native: Any) -> Headers:
        self._count("headers")
        return Headers(native["headers"])

    def path_params(self, native: Any) -> dict[str, str]:
        self._count("path_params")
        return dict(native["path_params"])

    def client_ip(self, native: Any) -> str | None:
        self._count("client_ip")
        return native["client_ip"]

    def raw_query(self, native: Any) -> str | None:
        self._count("raw_query")
        return native["raw_query"]


NATIVE = {"query": {"a": ["1", "2"], "b": [""]}, "headers": {"Cookie": "s=1; t=2", "X-Id": "7"},
          "path_params": {"id": "42"}, "client_ip": "203.0.113.9", "raw_query": "a=1&a=2&b="}


def eager(body: bytes = b"") -> HttpRequest:
    return HttpRequest("get", "/orders/42", {"a": ["1", "2"], "b": [""]}, Headers({"Cookie": "s=1; t=2", "X-Id": "7"}),
                       body, {"id": "42"}, None, "203.0.113.9", NATIVE, "a=1&a=2&b=")


def test_a_lazy_request_equals_the_eager_one_field_by_field():
    fields = CountingFields()
    lazy = HttpRequest.lazy("get", "/orders/42", NATIVE, fields, b'{"x": 1}')
    want = eager(b'{"x": 1}')
    assert fields.reads == {}  # nothing read by building it
    assert lazy == want and want == lazy
    assert lazy.to_dict(context=True) == want.to_dict(context=True)
    assert (lazy.method, lazy.path, lazy.body, lazy.text, lazy.json()) == ("GET", "/orders/42", b'{"x": 1}',
                                                                            '{"x": 1}', {"x": 1})
    assert lazy.cookies == {"s": "1", "t": "2"} and lazy.query_one("a") == "1"
    assert lazy.native is NATIVE and lazy.principal is None and type(lazy) is HttpRequest
    assert repr(lazy) == repr(want)


def test_each_field_is_read_once_and_only_when_asked():
    fields = CountingFields()
    lazy = HttpRequest.lazy("GET", "/", NATIVE, fields)
    assert lazy.path_params == {"id": "42"}
    assert fields.reads == {"path_params": 1}
    assert lazy.headers is lazy.headers and lazy.query is lazy.query
    lazy.client_ip, lazy.raw_query  # noqa: B018
    lazy.client_ip, lazy.raw_query  # noqa: B018
    assert fields.reads == {"path_params": 1, "headers": 1, "query": 1, "client_ip": 1, "raw_query": 1}


def test_assigning_a_field_replaces_it_without_reading_the_event():
    """Middleware and tests assign fields of the request; an assigned field is never read from the event."""
    fields = CountingFields()
    lazy = HttpRequest.lazy("GET", "/", NATIVE, fields)
    lazy.headers = Headers({"a": "b"})
    lazy.query = {"q": ["x"]}
    lazy.path_params = {}
    lazy.client_ip = None
    lazy.raw_query = None
    lazy.body = b"new"
    assert fields.reads == {}
    assert lazy.to_dict(context=True) == HttpRequest("GET", "/", {"q": ["x"]}, {"a": "b"}, b"new").to_dict(
        context=True)
    lazy.headers.add("c", "d")
    assert lazy.headers.get("c") == "d"


def test_an_ascii_body_kept_as_text():
    lazy = HttpRequest.lazy("POST", "/", NATIVE, CountingFields(), b"", '{"a": [1, 2]}')
    assert lazy.body_size == 13 and lazy.json() == {"a": [1, 2]} and lazy.text == '{"a": [1, 2]}'
    assert lazy.body == b'{"a": [1, 2]}'


def test_the_default_fields_are_an_empty_request():
    lazy = HttpRequest.lazy("GET", "/x", {"anything": 1}, HttpFields())
    assert lazy == HttpRequest("GET", "/x")
    assert lazy.to_dict(context=True) == HttpRequest("GET", "/x").to_dict(context=True)


def test_slots_stay_slots():
    lazy = HttpRequest.lazy("GET", "/", NATIVE, HttpFields())
    with pytest.raises(AttributeError):
        lazy.undeclared = 1  # type: ignore[attr-defined]
