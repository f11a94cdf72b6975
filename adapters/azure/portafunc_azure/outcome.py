"""The one outcome → Functions host mapping: what the host does with what a function returned or raised.

* HTTP → a ``func.HttpResponse`` (the pipeline never raises; a header the library refuses becomes a 500 problem;
  for what a handler usually returns, :func:`direct_encoder` builds the same response without an HttpResponse).
* Storage Queue, Event Grid, Timer → return normally to complete the input (a queue message the runtime moved to
  the function's dead letter or to ``<queue>-poison`` included); raise :class:`MessageFailed` to have the host
  redeliver it (queue: visible again, ``<queue>-poison`` after ``maxDequeueCount``; Event Grid: the subscription's
  retry policy and dead-letter container). :class:`LastOutcome` records what was done, per thread,
  for the contract-test driver.
"""

from __future__ import annotations

from typing import Any, Callable

from portafunc.events import HttpResponse, encode_payload
from portafunc.invoke import Outcome


class MessageFailed(RuntimeError):
    """Raised to the Functions host so it redelivers (queue) or Event Grid retries (event) the input."""


class LastOutcome:
    """What the runtime did with the last message on this thread (read by the contract-test driver): ``poisoned``
    when it moved the message to the poison queue, ``moved_to`` the queue or dead letter it moved it to (the poison
    queue's name, or the function's ``dead_letter=`` for an outcome ``DEAD_LETTERED``). A plain slotted class, not a
    dataclass: building one at import cost about 0.3 ms of every cold start, HTTP apps' included."""

    __slots__ = ("message_id", "outcome", "poisoned", "error", "moved_to")

    def __init__(self, message_id: str, outcome: Outcome, poisoned: bool = False, error: str | None = None,
                 moved_to: str | None = None) -> None:
        self.message_id = message_id
        self.outcome = outcome
        self.poisoned = poisoned
        self.error = error
        self.moved_to = moved_to

    def _fields(self) -> tuple[Any, ...]:
        return (self.message_id, self.outcome, self.poisoned, self.error, self.moved_to)

    def __eq__(self, other: object) -> bool:
        return other.__class__ is LastOutcome and self._fields() == other._fields()

    __hash__ = None  # type: ignore[assignment]  # mutable and compared by value, as the dataclass was

    def __repr__(self) -> str:
        return (f"LastOutcome(message_id={self.message_id!r}, outcome={self.outcome!r}, poisoned={self.poisoned!r}, "
                f"error={self.error!r}, moved_to={self.moved_to!r})")

    @property
    def failed(self) -> bool:
        """True when the cloud would redeliver or dead-letter the message."""
        return self.poisoned or self.outcome in (Outcome.RETRY, Outcome.REJECTED, Outcome.SKIPPED)


#: The mimetype of a ``func.HttpResponse`` whose response sets no Content-Type. The library's default, ``text/plain``,
#: would be sent as one (the worker's ``HttpResponseConverter`` writes the mimetype when no header names a type);
#: an empty one is sent as ``content-type: ""``, which the host writes as ASP.NET Core's
#: ``HttpResponse.ContentType = ""`` (``RawScriptResult``: the worker asks for no content negotiation), and that
#: sends no Content-Type, as the other clouds send none for such a response (a 204, a 304, a redirect).
NO_CONTENT_TYPE = ""


def http_response(resp: HttpResponse) -> Any:
    """A neutral response → ``func.HttpResponse``, built directly: repeated headers other than ``Set-Cookie``
    joined with ``", "`` (the worker sends the host one value per name), each ``Set-Cookie`` added as its own header
    once the worker's cookie parser would carry it (:func:`.codecs.http.carried_cookie`); without a Content-Type,
    with the mimetype that sends none (:data:`NO_CONTENT_TYPE`). A header ``azure.functions`` refuses (a newline) is
    a problem response, never a worker error."""
    try:
        return _func_response(resp)
    except ValueError:
        return problem_response(500, "Internal Server Error", "the function set a header that cannot be sent")


def _func_response(resp: HttpResponse) -> Any:
    func = _func()
    items = resp.headers._items
    if len(items) == 1 and items[0][0].lower() == "content-type":  # the usual answer: its content type alone
        as_mimetype = _as_mimetype(items[0][1])
        if as_mimetype is not None:
            return func.HttpResponse(resp.body, status_code=resp.status, mimetype=as_mimetype[0],
                                     charset=as_mimetype[1])
    headers: dict[str, str] = {}
    cookies: list[str] | None = None
    for name, value in resp.headers.items():
        lname = name.lower()
        if lname == "set-cookie":
            from .codecs.http import carried_cookie

            carried = carried_cookie(value)
            if carried is not None:
                (cookies := cookies if cookies is not None else []).append(carried)
        elif lname in headers:
            headers[lname] += ", " + value
        else:
            headers[lname] = value
    out = func.HttpResponse(body=resp.body, status_code=resp.status, headers=headers,
                            mimetype=None if "content-type" in headers else NO_CONTENT_TYPE)
    if cookies:
        for cookie in cookies:
            out.headers.add_header("Set-Cookie", cookie)
    return out


def _as_mimetype(content_type: str) -> tuple[str, str | None] | None:
    """``(mimetype, charset)`` from which the worker's ``HttpResponseConverter`` writes back exactly
    ``content_type`` (it sends ``"<mimetype>; charset=<charset>"`` for a ``text/`` mimetype, the mimetype alone for
    any other), or None when no such pair exists (``text/html`` without a charset). Passed as ``mimetype=`` the
    content type costs the response no werkzeug header (what a native handler does); the host gets the same header.
    A value werkzeug would refuse (a control character) keeps the header path, whose refusal is a problem answer."""
    if not content_type.isprintable():
        return None
    if not content_type.startswith("text/"):
        return content_type, None
    mimetype, sep, charset = content_type.partition("; charset=")
    if sep and charset and f"{mimetype}; charset={charset}" == content_type:
        return mimetype, charset
    return None


def direct_encoder() -> Callable[[Any], Any]:
    """``encode(value)`` for :func:`portafunc.invoke.handle_http_direct`: what :func:`http_response` gives for
    ``to_response(value)``, built straight from a handler's usual results (a dict or list → JSON 200, a str → text
    200, None → 204 without a content type; the content type as the response's mimetype, as above); None for any
    other value. It raises
    what building that HttpResponse raises (a non-finite number, a lone surrogate in text), so the pipeline answers
    such a result as it always does. Built on the first request (``azure.functions`` is the worker's, loaded by
    then)."""
    response = _func().HttpResponse

    def encode(value: Any) -> Any:
        kind = value.__class__
        if kind is dict or kind is list:
            return response(encode_payload(value)[0], status_code=200, mimetype="application/json")
        if kind is str:
            return response(value.encode("utf-8"), status_code=200, mimetype="text/plain", charset="utf-8")
        if value is None:
            return response(b"", status_code=204, mimetype=NO_CONTENT_TYPE)
        return None

    return encode


_FUNC: list[Any] = []


def _func() -> Any:
    """``azure.functions``, imported on the first response (the worker has it loaded already)."""
    if not _FUNC:
        import azure.functions

        _FUNC.append(azure.functions)
    return _FUNC[0]


def problem_response(status: int, title: str, detail: str | None) -> Any:
    """A problem+json ``func.HttpResponse``."""
    from .codecs.http import response_to_json
    from .codecs.natives import to_func_response

    return to_func_response(response_to_json(HttpResponse.problem(status, title, detail)))
