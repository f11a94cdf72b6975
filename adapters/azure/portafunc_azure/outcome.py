"""The one outcome → Functions host mapping: what the host does with what a function returned or raised.

* HTTP → a ``func.HttpResponse`` (the pipeline never raises; a header the library refuses becomes a 500 problem).
* Storage Queue, Event Grid, Timer → return normally to complete the input; raise :class:`MessageFailed` to have
  the host redeliver it (queue: visible again, ``<queue>-poison`` after ``maxDequeueCount``; Event Grid: the
  subscription's retry policy and dead-letter container). :class:`LastOutcome` records what was done, per thread,
  for the contract-test driver.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from portafunc.events import HttpResponse
from portafunc.invoke import Outcome


class MessageFailed(RuntimeError):
    """Raised to the Functions host so it redelivers (queue) or Event Grid retries (event) the input."""


@dataclass
class LastOutcome:
    """What the runtime did with the last message on this thread (read by the contract-test driver)."""

    message_id: str
    outcome: Outcome
    poisoned: bool = False
    error: str | None = None

    @property
    def failed(self) -> bool:
        """True when the cloud would redeliver or dead-letter the message."""
        return self.poisoned or self.outcome in (Outcome.RETRY, Outcome.REJECTED, Outcome.SKIPPED)


def http_response(resp: HttpResponse) -> Any:
    """A neutral response → ``func.HttpResponse``, built directly: repeated headers other than ``Set-Cookie``
    joined with ``", "`` (the worker sends the host one value per name), each ``Set-Cookie`` added as its own header
    once the worker's cookie parser would carry it (:func:`.codecs.http.carried_cookie`). A header
    ``azure.functions`` refuses (a newline) is a problem response, never a worker error."""
    try:
        return _func_response(resp)
    except ValueError:
        return problem_response(500, "Internal Server Error", "the function set a header that cannot be sent")


def _func_response(resp: HttpResponse) -> Any:
    func = _func()
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
    out = func.HttpResponse(body=resp.body, status_code=resp.status, headers=headers)
    if cookies:
        for cookie in cookies:
            out.headers.add_header("Set-Cookie", cookie)
    return out


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
