"""Retries for the Azure backends: the core's backoff-until-deadline rule
(:mod:`portafunc.messaging.retry`) with Azure's notion of a transient failure, plus :class:`BatchError`.

The SDK's own retry policies are switched off for these calls: the storage policy has a retry count but no overall
deadline, and azure-core never retries a POST that failed to connect.
"""

from __future__ import annotations

from typing import Any, Callable, TypeVar

from portafunc.errors import PartialSendError
from portafunc.messaging.retry import TRANSIENT_HTTP_STATUS, GaveUp, socket_timeouts, timeout_option
from portafunc.messaging.retry import call_until as _call_until

__all__ = ["BatchError", "GaveUp", "call_until", "timeout_option", "transient", "transport_options"]

T = TypeVar("T")


class BatchError(PartialSendError):
    """An Azure batch send failed part-way; ``accepted`` lists, in input order, the ids sent and None for the rest."""


def transient(exc: BaseException) -> bool:
    """A connection that failed or dropped, a timeout, or a 408/429/5xx answer: worth trying again."""
    from azure.core.exceptions import HttpResponseError, ServiceRequestError, ServiceResponseError

    if isinstance(exc, (ServiceRequestError, ServiceResponseError)):
        return True
    return isinstance(exc, HttpResponseError) and exc.status_code in TRANSIENT_HTTP_STATUS


def call_until(deadline: float, fn: Callable[[float], T], *, retries: int | None = None) -> T:
    """``fn(seconds_left)`` retried on Azure's transient failures until ``deadline`` (or ``retries`` retries)."""
    return _call_until(deadline, fn, transient, retries=retries, base=0.2)


PER_ATTEMPT = 10.0  # seconds: a hung request gives way to a retry instead of using up the whole deadline


def transport_options(seconds_left: float) -> dict[str, Any]:
    """Per-request socket timeouts (azure-core takes them per operation) whose sum fits in the attempt's time left,
    so a peer that accepts and never answers ends the attempt by the deadline; at most ``PER_ATTEMPT`` together, so
    that a service that hangs (Azurite does, under load) is retried rather than waited on for the whole ``?timeout=``."""
    connect, read = socket_timeouts(seconds_left, PER_ATTEMPT)
    return {"connection_timeout": connect, "read_timeout": read}
