"""portafunc — write a serverless function once; run it on AWS Lambda, Azure Functions and Google Cloud Functions.

Importing this package is kept cheap (it runs on every cold start): no cloud SDK, no asyncio, no pydantic, no
threading. Messaging is loaded on first use of :func:`topic` / :func:`queue`, buckets and key-value tables on first use
of :func:`bucket` / :func:`kv`.
"""

from __future__ import annotations

TYPE_CHECKING = False

from .app import App, FunctionSpec
from .context import current as current_invocation
from .errors import (
    BadRequest,
    BindingError,
    DataError,
    DataUnavailable,
    EventDecodeError,
    HttpError,
    KeyNotFound,
    MessagingError,
    NonRetryableError,
    PayloadValidationError,
    PortafuncError,
    RegistrationError,
    ScheduleError,
    UnsupportedTrigger,
    VersionConflict,
)
from .events import Headers, HttpRequest, HttpResponse, Message, ScheduleEvent, StorageEvent

if TYPE_CHECKING:
    import logging
    from typing import Any

    from .auth import JwtAuth
    from .cors import Cors
    from .forms import FormData, UploadedFile
    from .params import Header, Path, Query
    from .resources import Use, publishes, reads, sends, writes
    from .routers import Router

    from .data.bucket import Bucket
    from .data.kv import KV
    from .handles import QueueHandle, TopicHandle

__version__ = "0.1.0"


def topic(name: str) -> TopicHandle:
    """The topic bound to ``name`` (``PORTAFUNC_TOPIC_<NAME>``): ``topic("orders").publish({...})``. Made at module
    level, it is bound on first use when the environment does not bind it yet (see :mod:`portafunc.handles`)."""
    from .handles import topic as _topic

    return _topic(name)


def queue(name: str) -> QueueHandle:
    """The queue bound to ``name`` (``PORTAFUNC_QUEUE_<NAME>``): ``queue("work").send({...})``. Made at module
    level, it is bound on first use when the environment does not bind it yet (see :mod:`portafunc.handles`)."""
    from .handles import queue as _queue

    return _queue(name)


def get_logger(name: str = "app") -> logging.Logger:
    """A stdlib logger whose lines carry the invocation's ids and your ``extra={...}`` fields, in the cloud's
    structured log shape: ``get_logger(__name__).info("paid", extra={"order": 42})`` (see docs/observability.md)."""
    from .logsetup import get_logger as _get_logger

    return _get_logger(name)


def bucket(name: str) -> Bucket:
    """The bucket bound to ``name`` (``PORTAFUNC_BUCKET_<NAME>``): ``bucket("uploads").get("cat.png")``."""
    from .data import bucket as _bucket

    return _bucket(name)


def kv(name: str, model: Any = None) -> KV:
    """The key-value table bound to ``name`` (``PORTAFUNC_KV_<NAME>``): ``kv("orders", model=Order).get(id)``."""
    from .data import kv as _kv

    return _kv(name, model)


_LAZY = {"Cors": "cors", "JwtAuth": "auth", "Router": "routers",  # public names whose modules load on first use
         "Query": "params", "Header": "params", "Path": "params",  # (off the cold-start path)
         "FormData": "forms", "UploadedFile": "forms",
         "Use": "resources", "publishes": "resources", "reads": "resources", "sends": "resources",
         "writes": "resources"}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'portafunc' has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


__all__ = [
    "Cors", "JwtAuth", "Router", "Query", "Header", "Path", "FormData", "UploadedFile",
    "DataError", "DataUnavailable", "KeyNotFound", "VersionConflict", "bucket", "kv",
    "App", "BadRequest", "BindingError", "EventDecodeError", "FunctionSpec", "Headers", "HttpError", "HttpRequest",
    "HttpResponse",
    "Message", "MessagingError", "NonRetryableError", "PayloadValidationError", "PortafuncError", "RegistrationError",
    "ScheduleError", "ScheduleEvent", "StorageEvent", "UnsupportedTrigger", "Use", "current_invocation", "get_logger", "publishes",
    "queue", "reads", "sends", "topic", "writes", "__version__",
]
