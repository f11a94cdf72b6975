"""A target wires its codecs by naming its codecs package (``codec_table``): decode, encode and variants call it, the
inherited decode keeps the decode contract (pathological input is an EventDecodeError), and a target that names none
and overrides nothing says so instead of answering."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from portafunc.errors import EventDecodeError
from portafunc.events import HttpRequest
from portafunc.targets import Target, get_target


class _Tabled(Target):
    name = "tabled"

    def native_trigger(self, spec: Any) -> Any:
        raise NotImplementedError

    def invoke(self, app: Any, function: str, native: Any) -> Any:
        raise NotImplementedError

    def driver(self) -> Any:
        raise NotImplementedError


def _deep(native: Any) -> Any:
    raise RecursionError("too deep")


def test_the_codec_methods_call_the_named_package() -> None:
    table = SimpleNamespace(decode=lambda native: [native], encode=lambda event, variant: (event.path, variant),
                            VARIANTS={"http": ["request", "other"]})
    target = type("WithTable", (_Tabled,), {"codec_table": table})()
    assert target.decode("x") == ["x"]
    assert target.encode(HttpRequest("GET", "/a"), "other") == ("/a", "other")
    assert target.variants("http") == ["request", "other"] and target.variants("storage") == [""]


def test_the_inherited_decode_refuses_pathological_input_as_a_decode_error() -> None:
    target = type("Deep", (_Tabled,), {"codec_table": SimpleNamespace(decode=_deep)})()
    with pytest.raises(EventDecodeError):
        target.decode({})


def test_a_target_without_codecs_says_so() -> None:
    with pytest.raises(NotImplementedError, match="codec_table"):
        _Tabled().decode({})
    assert _Tabled().variants("http") == [""]


@pytest.mark.parametrize("name", ["azure", "gcp", "container"])
def test_the_adapters_name_their_codecs_package(name: str) -> None:
    target = get_target(name)
    assert target.codec_table is not None
    assert target.variants("http") == list(target.codec_table.VARIANTS["http"])
