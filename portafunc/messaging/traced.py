"""The one place where what a handler sends gets the trace context: every backend ``open_backend`` returns is made
an instance of a subclass of its own class (created once per backend class) whose publish/send methods add
``traceparent`` and the correlation id (:func:`portafunc.tracing.outgoing`) before the backend's own code runs. The
backend keeps its type (``isinstance`` still holds) and every backend — memory, SNS/SQS, Pub/Sub, Storage Queue,
Event Grid — carries the attributes its own way. With OpenTelemetry on (:mod:`portafunc.otel`), each send runs in a
PRODUCER span and the ``traceparent`` it stamps is that span's."""

from __future__ import annotations

from typing import Any, Iterable

from ..tracing import outgoing, with_trace
from .base import OutgoingMessage

_SINGLE = ("publish", "send")
_BATCH = ("publish_batch", "send_batch")
_OPERATIONS = {"publish": "publish", "send": "send", "publish_batch": "publish", "send_batch": "send"}
_classes: dict[type, type] = {}
_otel: Any = None
"""portafunc.otel's Instrumentation while OpenTelemetry is on, else None (one check per send)."""


def traced(backend: Any, scheme: str = "") -> Any:
    """``backend``, its class swapped for the tracing subclass (left as it is if its layout cannot be); ``scheme``
    (its binding's URL scheme) names the messaging system on producer spans."""
    cls = type(backend)
    if cls in _classes.values():
        return backend
    sub = _classes.get(cls)
    if sub is None:
        sub = _classes[cls] = _subclass(cls, scheme)
    try:
        backend.__class__ = sub
    except TypeError:  # e.g. a backend written in C: its messages go out without the trace attributes
        pass
    return backend


def _subclass(cls: type, scheme: str) -> type:
    namespace: dict[str, Any] = {"__module__": cls.__module__, "__doc__": cls.__doc__, "_portafunc_scheme": scheme}
    if "__slots__" in vars(cls) or not hasattr(cls, "__dict__"):
        namespace["__slots__"] = ()
    for name in _SINGLE:
        if callable(getattr(cls, name, None)):
            namespace[name] = _single(getattr(cls, name), name)
    for name in _BATCH:
        if callable(getattr(cls, name, None)):
            namespace[name] = _batch(getattr(cls, name), name)
    return type(cls.__name__, (cls,), namespace)


def _single(method: Any, name: str) -> Any:
    operation = _OPERATIONS[name]

    def call(self: Any, data: Any, *, attributes: dict[str, str] | None = None, **options: Any) -> Any:
        hook = _otel
        if hook is None:
            return method(self, data, attributes=outgoing(attributes), **options)
        return hook.send(self, operation, 1, lambda: method(self, data, attributes=hook.stamp(attributes), **options))

    call.__name__, call.__doc__ = method.__name__, method.__doc__
    return call


def _batch(method: Any, name: str) -> Any:
    operation = _OPERATIONS[name]

    def call(self: Any, messages: Iterable[Any]) -> Any:
        hook = _otel
        if hook is None:
            extra = outgoing(None)
            if extra:
                messages = [_with(extra, m) for m in messages]
            return method(self, messages)
        items = list(messages)

        def run() -> Any:
            stamped = hook.stamp(None)
            return method(self, [_with(stamped, m) for m in items] if stamped else items)

        return hook.send(self, operation, len(items), run)

    call.__name__, call.__doc__ = method.__name__, method.__doc__
    return call


def _with(extra: dict[str, str], item: Any) -> OutgoingMessage:
    """``item`` with the trace attributes of ``extra`` it does not set itself, kept marked as added."""
    if not isinstance(item, OutgoingMessage):
        return OutgoingMessage(item, with_trace(None, extra))
    return OutgoingMessage(item.data, with_trace(item.attributes, extra), item.ordering_key, item.dedup_id,
                           item.delay_seconds)
