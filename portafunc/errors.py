"""The typed errors portafunc raises.

Every error a user or an adapter can meet derives from :class:`PortafuncError`, so callers can catch one type.
The pipeline maps them: decode/validation problems are the caller's fault (4xx, non-retryable), everything else is
treated as transient (5xx, retryable).
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Mapping


def reduce_exception(self: BaseException) -> tuple[Callable[..., BaseException], tuple[Any, ...]]:
    """``__reduce__`` of an exception whose constructor takes other arguments than its message: ``copy``, ``pickle``
    (a worker pool, a test runner, a task queue) rebuild it from its ``args`` and attributes without calling
    ``__init__`` again, which would fail for a missing argument or word the message twice."""
    return _rebuilt, (self.__class__, self.args, self._reduced_state() if isinstance(self, PortafuncError)
                      else vars(self))


def _rebuilt(cls: type[BaseException], args: tuple[Any, ...], state: dict[str, Any]) -> BaseException:
    exc = cls.__new__(cls, *args)
    exc.args = args
    exc.__dict__.update(state)
    return exc


class PortafuncError(Exception):
    """Base class of every error portafunc raises on purpose."""

    __reduce__ = reduce_exception

    def _reduced_state(self) -> dict[str, Any]:
        """The attributes a copy or an unpickled error gets."""
        return vars(self)


class RegistrationError(PortafuncError):
    """A decorator was used in a way that can never work (duplicate name, conflicting route, bad option)."""


class ScheduleError(RegistrationError):
    """A schedule expression is invalid, or cannot be expressed on every cloud."""


class EventDecodeError(PortafuncError):
    """A native event does not have the shape the adapter expects.

    ``expected`` says what the decoder was looking for, so the message is actionable.
    """

    def __init__(self, message: str, *, expected: str | None = None) -> None:
        super().__init__(message if expected is None else f"{message} (expected {expected})")
        self.expected = expected


class NonRetryableError(PortafuncError):
    """Raise from a handler when retrying the same input can never succeed.

    The message goes to the dead letter destination (or is logged loudly) instead of being redelivered.
    """


class PayloadValidationError(NonRetryableError):
    """The payload does not match the handler's declared type; carries the field errors."""

    title = "Request body failed validation"  # the HTTP problem's title

    def __init__(self, message: str, errors: list[dict[str, Any]] | _KnownErrors) -> None:
        super().__init__(message)
        self._errors = errors

    @property
    def errors(self) -> list[dict[str, Any]]:
        """``[{"loc": [...], "msg": ..., "type": ...}, ...]``: a list of its own, made when first read."""
        errors = self._errors
        if errors.__class__ is _KnownErrors:
            errors = self._errors = errors.fresh()
        return errors  # type: ignore[return-value]

    @errors.setter
    def errors(self, value: list[dict[str, Any]]) -> None:
        self._errors = value

    def _reduced_state(self) -> dict[str, Any]:
        return {**vars(self), "_errors": self.errors}  # the list itself: what a copy or another process reads


class _KnownErrors:
    """Validation errors seen before, held by their content (``(loc, msg, type)`` each) with what a rejection's log
    line writes for them (``logged``): a rejection that nobody reads the errors of (a queue message's) builds no
    list of dicts; :attr:`PayloadValidationError.errors` makes one when read."""

    __slots__ = ("items", "logged")

    def __init__(self, items: tuple[tuple[Any, str, str], ...], logged: Any) -> None:
        self.items = items
        self.logged = logged

    def fresh(self) -> list[dict[str, Any]]:
        out = []
        for loc, msg, kind in self.items:
            out.append({"loc": list(loc), "msg": msg, "type": kind})
        return out


class HttpError(PortafuncError):
    """Raise from an HTTP handler (or its middleware, or a typed handler's validation) to answer with an error status.

    The answer is the same ``application/problem+json`` problem a failed validation gets, on every cloud and in
    ``portafunc run``: ``{"type": "about:blank", "title": ..., "status": ..., "detail": ...}`` with ``headers`` on
    the response. A 4xx is the caller's fault: logged at INFO as a rejected request, never as an error. A 5xx is
    the function's failure: logged at ERROR with its traceback (and the OpenTelemetry span marked failed) like any
    exception, but answered with its own status, title, detail and headers instead of the generic 500.

    An [`exception handler`][portafunc.App.exception_handler] registered for ``HttpError`` (or a subclass) answers
    it instead. Raised in a queue, topic, schedule or storage function it is an ordinary failure (retried), except
    a ``BadRequest``, which is non-retryable.

    Args:
        status: The HTTP status, 400-599 (a redirect or another success is returned, not raised: return an
            ``HttpResponse``).
        detail: What went wrong, for the caller (it is sent: no internals).
        title: The problem's title; default: the status's reason phrase (``409`` → ``"Conflict"``).
        headers: Extra response headers, such as ``{"Retry-After": "5"}`` or ``{"Location": "/links/abc"}``;
            ``Content-Type`` and ``Content-Length`` are the problem's own and refused here.

    Raises:
        ValueError: A status outside 400-599, or a header that cannot be sent.
        TypeError: A status that is not an ``int`` (an ``IntEnum`` member such as ``HTTPStatus.NOT_FOUND`` is
            one; a bool is not), or a header name or value that is not a ``str``.

    Example:
        ```python
        @app.http("GET", "/links/{code}")
        def follow(code: str) -> HttpResponse:
            if code not in links:
                raise HttpError(404, f"no link {code!r}")
            ...
        ```
    """

    status: int
    detail: str
    title: str
    headers: dict[str, str]

    def __init__(self, status: int, detail: str, *, title: str | None = None,
                 headers: Mapping[str, str] | None = None) -> None:
        if type(status) is not int:
            if not isinstance(status, int) or isinstance(status, bool):
                raise TypeError(f"HttpError status must be an int, not {type(status).__name__}")
            status = int(status)  # an IntEnum member (HTTPStatus.NOT_FOUND), as HttpResponse takes it
        if not 400 <= status <= 599:
            raise ValueError(f"HttpError status must be an error status, 400-599, not {status}: "
                             "return an HttpResponse for a redirect or another success")
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.title = reason_phrase(status) if title is None else title
        self.headers = _problem_headers(headers)


def reason_phrase(status: int) -> str:
    """The standard reason phrase of ``status`` (``409`` → ``"Conflict"``); a status without one gets the name of its
    class (``"Client Error"``, ``"Server Error"``)."""
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return {4: "Client Error", 5: "Server Error"}.get(status // 100, f"Status {status}")


def _problem_headers(headers: Mapping[str, str] | None) -> dict[str, str]:
    """``headers`` as a dict, checked now, where the error is raised, rather than when the answer is sent."""
    if not headers:
        return {}
    out: dict[str, str] = {}
    for name, value in headers.items():
        if not isinstance(name, str) or not isinstance(value, str):
            raise TypeError(f"HttpError header {name!r}: names and values are str, not "
                            f"{type(name if not isinstance(name, str) else value).__name__}")
        if not name or any(c in _NOT_TOKEN or not " " < c < "\x7f" for c in name):
            raise ValueError(f"HttpError header name {name!r} is not a token")
        if any(c in "\r\n\x00" for c in value):
            raise ValueError(f"HttpError header {name!r}: a value cannot hold CR, LF or NUL")
        if name.lower() in ("content-type", "content-length"):
            raise ValueError(f"HttpError header {name!r} is the problem's own (application/problem+json)")
        out[name] = value
    return out


_NOT_TOKEN = frozenset('"(),/:;<=>?@[\\]{}')


class BadRequest(HttpError, NonRetryableError):
    """The HTTP request itself is unusable (malformed JSON body, bad encoding); answered with 400.

    An [`HttpError`][portafunc.HttpError] whose status defaults to 400 and title to ``"Bad Request"`` whatever the
    status; prefer ``HttpError(status, detail)`` for other statuses. Also non-retryable when a message function
    raises it.
    """

    status = 400

    def __init__(self, detail: str, *, status: int = 400, title: str = "Bad Request") -> None:
        NonRetryableError.__init__(self, detail)
        self.detail = detail
        self.status = status
        self.title = title
        self.headers = {}


class BindingError(PortafuncError):
    """A logical topic or queue has no usable binding (missing variable, unknown scheme, missing adapter)."""


class MessagingError(PortafuncError):
    """A messaging backend failed (broker unreachable, resource missing, permission denied)."""


class PartialSendError(MessagingError):
    """A batch send failed part-way. ``accepted`` gives, in input order, the id of each message the broker accepted
    and None for each one it did not, so the caller resends exactly the missing ones (never reports unsent as sent)."""

    def __init__(self, message: str, accepted: list[str | None]) -> None:
        super().__init__(message)
        self.accepted = accepted

    @property
    def missing(self) -> list[int]:
        """Input positions of the messages the broker did not accept."""
        return [i for i, msg_id in enumerate(self.accepted) if msg_id is None]


class TargetNotFound(PortafuncError):
    """The requested target adapter (aws, azure, gcp) is not installed."""


class UnsupportedTrigger(PortafuncError):
    """A function's trigger cannot be carried by a target; the message says what to use instead."""

    def __init__(self, function: str, trigger: str, target: str, reason: str, instead: str) -> None:
        super().__init__(
            f"function {function!r}: trigger {trigger} is not supported on {target}: {reason}; use {instead} instead"
        )
        self.function = function
        self.trigger = trigger
        self.target = target
        self.reason = reason
        self.instead = instead


class InvalidHeader(PortafuncError, ValueError):
    """An HTTP header name or value that cannot be sent: a name that is not a token, or a value with CR, LF or NUL
    (response splitting). Raised where the handler sets it; the pipeline answers 500."""


class InvalidStatus(PortafuncError, ValueError):
    """An HTTP response status that cannot be sent: not an ``int`` from 100 to 599 (``True`` is no status; an
    ``IntEnum`` member such as ``HTTPStatus.CREATED`` is its int). Raised where the handler gives it (building an
    ``HttpResponse``, returning ``(result, status)``); the pipeline answers 500."""


# -- buckets and key-value tables (portafunc.bucket / portafunc.kv) ---------------------------------------------

class DataError(PortafuncError):
    """Base class of the bucket and key-value errors."""


class KeyNotFound(DataError, LookupError):
    """``key`` does not exist in ``resource`` (a bucket or key-value table, named by its binding URL)."""

    def __init__(self, resource: str, key: str) -> None:
        super().__init__(f"{resource}: no such key {key!r}")
        self.resource = resource
        self.key = key


class VersionConflict(DataError):
    """A conditional write lost: ``key`` is not at ``expected`` any more (``ABSENT``: it exists already)."""

    def __init__(self, resource: str, key: str, expected: str) -> None:
        what = "exists already" if expected == "absent" else f"is no longer at version {expected!r}"
        super().__init__(f"{resource}: key {key!r} {what}; read it again and retry the change")
        self.resource = resource
        self.key = key
        self.expected = expected


class DataUnavailable(DataError):
    """The backend failed: unreachable past the deadline, throttled throughout, the resource missing, or denied."""


class UnsupportedOperation(DataError):
    """The backend cannot do this at all (e.g. presigning a ``memory://`` bucket); the message says what can."""
