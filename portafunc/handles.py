"""What ``portafunc.topic(name)`` and ``portafunc.queue(name)`` return: a handle on the logical resource, bound on use.

A handle made at module level (``jobs = portafunc.queue("jobs")``, the usual way to keep a client for the life of an
instance) must not make importing the app depend on the environment: ``portafunc package``, ``inspect`` and ``run``
import the app where nothing is bound yet, and each deployed function is given the bindings of what it declared only.
So a handle opens its backend when it can (at module level the SDK then loads during a cold start's init phase, as a
client made there does) and otherwise on first use; and every call goes through the binding, which checks the
resource against the running function's declarations, so a module-level handle is held to ``uses=`` exactly as a
handle made inside the handler. This module imports nothing more than ``os``: the messaging package loads on the
first call (or when the handle is made, if the environment binds it).
"""

from __future__ import annotations

import os

from .context import current_spec

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Iterable, Sequence

    from .messaging.base import ReceivedMessage
    from .resources import Use


def binding_variable(kind: str, name: str) -> str:
    """``PORTAFUNC_<KIND>_<NAME>``: the name upper-cased with every character but an ASCII letter or digit as ``_``
    (``order-events`` → ``PORTAFUNC_TOPIC_ORDER_EVENTS``)."""
    cleaned = "".join(c if c.isascii() and c.isalnum() else "_" for c in name)
    return f"PORTAFUNC_{kind.upper()}_{cleaned.upper()}"


def open_early(kind: str, name: str, open_: Callable[[str, str], Any]) -> None:
    """Open the resource now with ``open_(kind, name)`` when that is what the code asked for: inside a handler
    always (a name the function did not declare, or an unbound one, is refused where it is named, as it always was);
    at module level only when the environment binds it, so an app's import loads no messaging or data module, and
    no SDK, for a resource this function is not given (an error then waits for the first call, which raises it)."""
    if current_spec() is None and not (os.environ.get(binding_variable(kind, name))
                                       or os.environ.get("PORTAFUNC_DEFAULT_BINDING")):
        return
    try:
        open_(kind, name)
    except Exception:
        if current_spec() is not None:
            raise


def _open(kind: str, name: str) -> Any:
    from .messaging.binding import open_backend

    return open_backend(kind, name)  # type: ignore[arg-type]


class _Handle:
    __slots__ = ("name",)
    kind = ""

    def __init__(self, name: str) -> None:
        self.name = name

    @property
    def backend(self) -> Any:
        """The backend this name is bound to now (opened and cached by the binding; checked against the running
        function's declarations)."""
        return _open(self.kind, self.name)

    def __getattr__(self, attribute: str) -> Any:  # a backend's own extras (e.g. its URL): read from the backend
        if attribute.startswith("__"):
            raise AttributeError(attribute)
        return getattr(_open(self.kind, self.name), attribute)

    def __len__(self) -> int:  # a backend that counts what it holds (memory://): its count
        return len(_open(self.kind, self.name))

    def __bool__(self) -> bool:  # a handle is always true, whatever its backend holds
        return True

    def __eq__(self, other: object) -> bool:
        return other.__class__ is self.__class__ and other.name == self.name

    def __hash__(self) -> int:
        return hash((self.kind, self.name))

    def __repr__(self) -> str:
        return f"portafunc.{self.kind}({self.name!r})"


class TopicHandle(_Handle):
    """``portafunc.topic(name)``: publish to every subscriber. In ``uses=`` it declares ``publishes(name)``."""

    __slots__ = ()
    kind = "topic"

    def publish(self, data: Any, *, attributes: dict[str, str] | None = None, ordering_key: str | None = None,
                dedup_id: str | None = None) -> str:
        """Publish one message; the broker's message id once it has accepted it."""
        result: str = _open("topic", self.name).publish(data, attributes=attributes, ordering_key=ordering_key,
                                                        dedup_id=dedup_id)
        return result

    def publish_batch(self, messages: Iterable[Any]) -> list[str]:
        """Publish many messages in the broker's batch size; all-or-error, ids in input order."""
        result: list[str] = _open("topic", self.name).publish_batch(messages)
        return result

    def __portafunc_use__(self) -> Use:
        from .resources import publishes

        return publishes(self.name)


class QueueHandle(_Handle):
    """``portafunc.queue(name)``: send work to one consumer at a time. In ``uses=`` it declares ``sends(name)``."""

    __slots__ = ()
    kind = "queue"

    def send(self, data: Any, *, attributes: dict[str, str] | None = None, ordering_key: str | None = None,
             dedup_id: str | None = None, delay_seconds: int = 0) -> str:
        """Send one message; the broker's message id once it has accepted it."""
        result: str = _open("queue", self.name).send(data, attributes=attributes, ordering_key=ordering_key,
                                                     dedup_id=dedup_id, delay_seconds=delay_seconds)
        return result

    def send_batch(self, messages: Iterable[Any]) -> list[str]:
        """Send many messages in the broker's batch size; all-or-error, ids in input order."""
        result: list[str] = _open("queue", self.name).send_batch(messages)
        return result

    def receive(self, max_messages: int = 10, wait: float = 0.0) -> Sequence[ReceivedMessage]:
        """Up to ``max_messages`` messages, waiting up to ``wait`` seconds for the first (long poll)."""
        result: Sequence[ReceivedMessage] = _open("queue", self.name).receive(max_messages, wait)
        return result

    def ack(self, message: ReceivedMessage) -> None:
        """The message is done: remove it from the queue."""
        _open("queue", self.name).ack(message)

    def nack(self, message: ReceivedMessage, delay: float = 0.0) -> None:
        """The message failed: make it visible again after ``delay`` seconds."""
        _open("queue", self.name).nack(message, delay)

    def __portafunc_use__(self) -> Use:
        from .resources import sends

        return sends(self.name)


def topic(name: str) -> TopicHandle:
    _check_name("topic", name)
    handle = TopicHandle(name)
    open_early("topic", name, _open)
    return handle


def queue(name: str) -> QueueHandle:
    _check_name("queue", name)
    handle = QueueHandle(name)
    open_early("queue", name, _open)
    return handle


def _check_name(kind: str, name: Any) -> None:
    if name.__class__ is not str or not name:
        raise TypeError(f"portafunc.{kind}() takes the {kind}'s logical name, a non-empty string, not {name!r}")
