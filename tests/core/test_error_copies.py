"""Every exception class of portafunc and its adapters survives ``copy.copy``, ``copy.deepcopy`` and a pickle round
trip with its type, message and attributes: a worker pool, a test runner or a task queue pickles exceptions, and a
pickling failure there hides the real error. The classes are discovered by importing every module of the packages,
so a new error class is checked without being listed here."""

from __future__ import annotations

import copy
import importlib
import inspect
import pickle
import pkgutil
from typing import Any, Callable, Iterator

import pytest

from portafunc.errors import PayloadValidationError, _KnownErrors
from portafunc.invoke import MessageResult, Outcome

PACKAGES = ("portafunc", "portafunc_aws", "portafunc_azure", "portafunc_gcp", "portafunc_container")


def _subclasses(cls: type[BaseException]) -> Iterator[type[BaseException]]:
    subs: list[type[BaseException]] = cls.__subclasses__()
    for sub in subs:
        yield sub
        yield from _subclasses(sub)


def _error_classes() -> list[type[BaseException]]:
    for name in PACKAGES:
        package = importlib.import_module(name)
        for module in pkgutil.walk_packages(package.__path__, name + "."):
            importlib.import_module(module.name)
    found = {cls for cls in _subclasses(BaseException) if cls.__module__.split(".")[0] in PACKAGES}
    return sorted(found, key=lambda cls: (cls.__module__, cls.__qualname__))


ERRORS = _error_classes()

# a value for each constructor parameter, by name (anything else gets a text naming it)
SAMPLES: dict[str, Any] = {
    "errors": [{"loc": ["id"], "msg": "Input should be a valid integer", "type": "int_parsing"}],
    "accepted": ["m-1", None, "m-3"],
    "failures": [MessageResult("m-1", Outcome.RETRY, "RuntimeError: boom")],
    "last": ValueError("broker unreachable"),
    "attempts": 3,
    "waited": 1.5,
    "retry_after": 2.5,
    "status": 403,
    "headers": {"Retry-After": "5"},
}


def _build(cls: type[BaseException]) -> BaseException:
    params = [p for p in inspect.signature(cls.__init__).parameters.values()
              if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    if not params:
        return cls("something failed")
    args = [SAMPLES.get(p.name, f"{p.name}-value") for p in params if p.kind is not p.KEYWORD_ONLY]
    kwargs = {p.name: SAMPLES.get(p.name, f"{p.name}-value") for p in params if p.kind is p.KEYWORD_ONLY}
    return cls(*args, **kwargs)


def _comparable(value: Any) -> Any:
    """A value as the round trip must keep it: plain data as it is, anything else by its type and its own data."""
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, (list, tuple)):
        return [_comparable(v) for v in value]
    if isinstance(value, dict):
        return {k: _comparable(v) for k, v in value.items()}
    if isinstance(value, BaseException):
        return [type(value), str(value)]
    slots = getattr(type(value), "__slots__", ())
    return [type(value), {name: _comparable(getattr(value, name, None)) for name in slots},
            {k: _comparable(v) for k, v in getattr(value, "__dict__", {}).items()}]


def _described(exc: BaseException) -> Any:
    """Type, message, args and every attribute (properties read as the caller reads them)."""
    props = {name: _comparable(getattr(exc, name)) for name, member in inspect.getmembers(type(exc))
             if isinstance(member, property)}
    return [type(exc), str(exc), _comparable(exc.args), _comparable(vars(exc)), props]


ROUND_TRIPS: dict[str, Callable[[BaseException], BaseException]] = {
    "copy": copy.copy,
    "deepcopy": copy.deepcopy,
    "pickle": lambda exc: pickle.loads(pickle.dumps(exc)),
}


@pytest.mark.parametrize("how", list(ROUND_TRIPS))
@pytest.mark.parametrize("cls", ERRORS, ids=lambda cls: f"{cls.__module__}.{cls.__qualname__}")
def test_an_error_survives_copy_and_pickle(cls: type[BaseException], how: str) -> None:
    exc = _build(cls)
    again = ROUND_TRIPS[how](exc)
    assert again is not exc
    assert _described(again) == _described(exc)


def test_the_discovery_finds_the_errors_with_constructor_arguments() -> None:
    names = {cls.__qualname__ for cls in ERRORS}
    assert {"PayloadValidationError", "PartialSendError", "UnsupportedTrigger", "KeyNotFound", "VersionConflict",
            "IdempotencyInProgress", "TokenRefused", "GaveUp", "SnsVerificationError", "RetryRequested"} <= names
    assert len([cls for cls in ERRORS if cls.__qualname__ == "BatchError"]) == 3  # one per cloud


@pytest.mark.parametrize("how", list(ROUND_TRIPS))
def test_validation_errors_held_by_content_come_back_as_the_list(how: str) -> None:
    """A rejection that nobody read the errors of holds them by content (no list built yet): its copy carries the
    list, equal to what the original gives."""
    exc = PayloadValidationError("bad payload", _KnownErrors(((("id",), "Field required", "missing"),), None))
    again = ROUND_TRIPS[how](exc)
    assert isinstance(again, PayloadValidationError) and str(again) == "bad payload"
    assert again.errors == exc.errors == [{"loc": ["id"], "msg": "Field required", "type": "missing"}]
