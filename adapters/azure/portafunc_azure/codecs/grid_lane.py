"""The Event Grid entry of a topic function: a ``func.EventGridEvent`` read into a Message and run in one frame.

Split from :mod:`.topic` so that the generated ``function_app.py`` can hand the worker each topic function's entry
itself (:meth:`portafunc_azure.runtime.Runtime.event_grid_function`) while the app's functions are indexed, without
loading the full Event Grid codec before the first event: this module needs only the envelope's marker and the
neutral Message; what the lane leaves to the general path (CloudEvents, envelopes, validation events) is decoded
there, by :mod:`.topic`.
"""

from __future__ import annotations

from datetime import datetime
from threading import get_ident as _ident
from typing import TYPE_CHECKING, Any, Callable

from portafunc.events import _UNREAD, Message

from . import envelope
from .envelope import MARKER

PORTAFUNC_TYPE = "io.portafunc.message"
VALIDATION_TYPE = "Microsoft.EventGrid.SubscriptionValidationEvent"


class _ParsedMessage(Message[Any]):
    """A message whose JSON payload the worker already parsed (``func.EventGridEvent.get_json()``): ``json()``
    hands over a copy of that value (its own, as a fresh parse is) and the bytes of ``data`` are written only if
    something reads them (a typed model, the dead-letter copy, a log), so the usual handler never pays for
    serialising and re-parsing its payload. ``_value`` holds the parsed value until ``data`` holds bytes (written
    from it, or set), then ``_PENDING``; ``_copy`` holds the copy :func:`event_lane` made before the function ran,
    which the first ``json()`` hands out (then ``_PENDING``)."""

    __slots__ = ("_value", "_copy")
    _value: Any
    _copy: Any
    # made only by event_lane, which sets every slot itself: the class call then only allocates (object.__new__
    # called by name checks the class's bases first, and costs as much again)
    __init__ = object.__init__

    @property
    def data(self) -> bytes:
        value = self._value
        if value is not _PENDING:
            raw: bytes = envelope.dumps(value)
            _DATA.__set__(self, raw)
            self._value = _PENDING  # after the bytes: a reader in another thread finds one or the other
            return raw
        written: bytes = _DATA.__get__(self)
        return written

    @data.setter
    def data(self, value: bytes) -> None:
        _DATA.__set__(self, value)
        self._value = self._copy = _PENDING

    def json(self) -> Any:
        copied = self._copy
        if copied is not _PENDING:  # the lane's copy, handed out once: a later call makes another
            self._copy = _PENDING
            return copied
        value = self._value
        if value is not _PENDING:  # a copy of its own, as a fresh parse is: the bytes stay what was received
            return _copied(value)
        return super().json()


def _copied(value: Any) -> Any:
    """A parsed JSON value's containers copied, its scalars (immutable) shared: what a handler changes in the copy
    leaves the worker's value, and so the message's bytes and a later ``json()``, as they arrived. RecursionError
    for nesting deeper than can be walked."""
    kind = value.__class__
    if kind is dict:
        out: Any = value.copy()  # in C; nested containers replaced below (a value replaced keeps the dict's size)
        if _CONTAINERS.isdisjoint(map(type, out.values())):  # flat: the usual payload, told apart in C
            return out
        pairs: Any = out.items()
    elif kind is list:
        out = value.copy()
        if _CONTAINERS.isdisjoint(map(type, out)):
            return out
        pairs = enumerate(out)
    else:
        return value
    for key, item in pairs:
        kind = item.__class__
        if kind is dict or kind is list:
            out[key] = _copied(item)
    return out


_CONTAINERS = frozenset((dict, list))  # what a parsed JSON value holds that can change in place


_ParsedMessage.__name__ = "Message"  # what it stands for, to code telling events by type(event).__name__ (a
# middleware's trace, a repr); its __qualname__ stays, which pickle and copy look it up by
_DATA = Message.__dict__["data"]  # the slot under Message.data


class _Pending:
    """The marker in ``_value`` once ``data`` holds the bytes: copied and pickled as itself (a copy of a plain
    ``object()`` would be another object, read as the payload)."""

    __slots__ = ()

    def __reduce__(self) -> str:
        return "_PENDING"


_PENDING: Any = _Pending()
_NOT_MESSAGES = frozenset(("", VALIDATION_TYPE))  # event types the lane leaves to the general path, which refuses them
keep_successes = False
"""Whether a success is kept in the lane's ``last`` (set by :meth:`.runtime.Runtime.forget_last`, the reset of the
driver and the tests that read ``Runtime.last``): in a deployment nobody reads it, and writing it is 80 ns a event."""
_sdk_event: Any = None  # func.EventGridEvent once its instances are seen to keep each field as the accessors give it
_LAYOUT = ("_EventGridEvent__event_type", "_EventGridEvent__id", "_EventGridEvent__data",
           "_EventGridEvent__event_time")


if TYPE_CHECKING:
    Runner = Callable[[Message[Any], str | None, Any], Any]  # portafunc.invoke.message_runner's run


def event_lane(run: Runner | None, last: dict[int, Any] | None, finish: Callable[[Any], Any], general: Callable[[Any], Any],
               resolve: Callable[[], Runner] | None = None) -> Callable[[Any], Any]:
    """The Event Grid entry of one topic function: ``lane(event)`` reads a ``func.EventGridEvent`` (Event Grid
    schema) into a Message without writing it back to JSON and runs it with ``run(msg, None, event)`` (the function's
    :func:`portafunc.invoke.message_runner`); a success is kept in ``last`` under the thread's id (the message id; see :data:`keep_successes`) and answers None,
    a failure goes to ``finish(failure)``. Anything else (a ``func.CloudEvent``, an envelope, a validation event, a
    field of another type) goes to ``general(event)`` untouched, which decodes it with :func:`.topic.decode_event`.
    With ``run`` None, the first message's ``resolve()`` gives it (the lane is made before the app is loaded).

    The worker's own class keeps each field in an attribute its accessor returns as it is; once that is seen
    (:func:`_learn_layout`), its fields are read there, without an accessor's frame each, and the message is built
    in place: its attributes and source are read from the event when first asked for (``Message.deferred``). One
    function per topic function, called by the generated entry itself: no frame between the worker and the runner
    but this one."""

    def lane(event: Any) -> Any:
        nonlocal run
        if event.__class__ is _sdk_event:
            etype, event_id = event._EventGridEvent__event_type, event._EventGridEvent__id
            data, when = event._EventGridEvent__data, event._EventGridEvent__event_time
        elif _sdk_event is None and _learn_layout(event):
            return lane(event)
        elif hasattr(event, "specversion"):
            return general(event)
        else:
            etype, event_id, data, when = event.event_type, event.id, event.get_json(), event.event_time
        if etype.__class__ is not str or etype in _NOT_MESSAGES or event_id.__class__ is not str or not event_id \
                or data is None or (data.__class__ is dict and MARKER in data) \
                or when is not None and (when.__class__ is not datetime and not isinstance(when, datetime)
                                         or when.tzinfo is None):
            return general(event)  # text as the worker gives it (a str subclass, never seen, goes there too)
        if data.__class__ is dict:  # _copied's first step, here without its frame
            copied = data.copy()
            if not _CONTAINERS.isdisjoint(map(type, copied.values())):
                try:
                    copied = _copied(data)
                except RecursionError:  # nesting deeper than can be walked: the general path refuses it
                    return general(event)
        else:
            try:
                copied = _copied(data)
            except RecursionError:
                return general(event)
        msg: Any = _ParsedMessage()  # Message.deferred's fields, set here: no frame per field group
        msg.id = event_id
        msg._value = data
        msg._copy = copied
        msg.native = event
        msg._attributes = msg._ordering_key = msg._delivery_attempt = msg._source = _UNREAD
        msg._published = when
        msg._body = None
        msg._has_body = False
        msg._rest = _rest_of_event
        if run is None:
            run = resolve()  # type: ignore[misc]  # given whenever run is not
        failure = run(msg, None, event)
        if failure is None:  # a success
            if keep_successes:  # someone reads the thread's last outcome (Runtime.forget_last): nobody in a deployment
                last[_ident()] = event_id  # type: ignore[index]  # None only where run never answers None
            return None
        return finish(failure)

    return lane




def _learn_layout(event: Any) -> bool:
    """Whether ``event`` is the worker's ``func.EventGridEvent``, keeping its fields where its accessors read them
    (then remembered: later events of that class are read there). Anything else is read through its accessors."""
    global _sdk_event
    cls = event.__class__
    if cls.__name__ != "EventGridEvent" or not cls.__module__.startswith("azure.functions") \
            or hasattr(event, "specversion"):
        return False
    fields = getattr(event, "__dict__", None)
    if fields is None or any(name not in fields for name in _LAYOUT):
        return False
    if fields[_LAYOUT[0]] is not event.event_type or fields[_LAYOUT[1]] is not event.id \
            or fields[_LAYOUT[2]] is not event.get_json() or fields[_LAYOUT[3]] is not event.event_time:
        return False
    _sdk_event = cls
    return True


def _rest_of_event(event: Any) -> tuple[Any, ...]:
    """The other fields of a message :func:`event_lane` made, read from the worker's object."""
    etype, topic = event.event_type, event.topic
    if etype == PORTAFUNC_TYPE:
        attributes: dict[str, str] = {}
    else:
        attributes = {"type": etype}
        subject = event.subject
        if isinstance(subject, str) and subject:
            attributes["subject"] = subject
    return attributes, None, 1, event.event_time, topic if isinstance(topic, str) else None
