"""botocore failures → :class:`portafunc.errors.MessagingError` with a message saying what to fix, and the retry rule.

Every call is retried on transient failures (refused or dropped connections, timeouts, throttling, 5xx) with the
core's backoff until the binding's ``?timeout=`` (:mod:`portafunc.messaging.retry`); botocore's own retries are off,
since they have an attempt count but no overall deadline. Each attempt runs on a client whose socket timeouts fit in
the time left (:mod:`.clients`), so a request that hangs does not outlast the deadline either.
"""

from __future__ import annotations

import random
import time
from typing import Any, Callable, TypeVar

from portafunc.errors import MessagingError
from portafunc.messaging.retry import DEFAULT_TIMEOUT, LAST_ATTEMPT, TRANSIENT_HTTP_STATUS, GaveUp, call_until

from .clients import until

T = TypeVar("T")

NOT_FOUND = {"NotFound", "NotFoundException", "AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist",
             "ResourceNotFoundException"}
DENIED = {"AuthorizationError", "AccessDenied", "AccessDeniedException", "InvalidClientTokenId",
          "UnrecognizedClientException", "SignatureDoesNotMatch", "ExpiredToken", "KMSAccessDeniedException"}
RETRYABLE_ENTRY = {"InternalError", "InternalFailure", "ServiceUnavailable", "Throttling", "ThrottlingException",
                   "ThrottledException", "RequestThrottled", "KMSThrottlingException"}
THROTTLED = {"ProvisionedThroughputExceededException", "RequestLimitExceeded"}  # DynamoDB's, answered with 400


def translate(exc: BaseException, action: str, resource: str, permission: str) -> MessagingError:
    from botocore.exceptions import (BotoCoreError, ClientError, ConnectionError, EndpointConnectionError,
                                     HTTPClientError, NoCredentialsError, NoRegionError)

    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code", "Unknown"))
        message = error.get("Message", "")
        if code in NOT_FOUND:
            return MessagingError(f"{action} {resource}: it does not exist ({code}: {message}); check the binding "
                                  "URL, the region and the account")
        if code in DENIED:
            return MessagingError(f"{action} {resource}: permission denied ({code}: {message}); the caller's role "
                                  f"needs {permission} on it")
        return MessagingError(f"{action} {resource} failed: {code}: {message}")
    if isinstance(exc, NoCredentialsError):
        return MessagingError(f"{action} {resource}: no AWS credentials found (role, AWS_PROFILE or "
                              "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)")
    if isinstance(exc, NoRegionError):
        return MessagingError(f"{action} {resource}: no region; put it in the binding URL or set AWS_REGION")
    if isinstance(exc, EndpointConnectionError):
        return MessagingError(f"{action} {resource}: endpoint unreachable ({exc}); check AWS_ENDPOINT_URL* and "
                              "the network")
    if isinstance(exc, (ConnectionError, HTTPClientError)):  # dropped, closed or timed out mid-request
        return MessagingError(f"{action} {resource}: endpoint unreachable ({type(exc).__name__})")
    if isinstance(exc, BotoCoreError):
        return MessagingError(f"{action} {resource} failed: {type(exc).__name__}: {exc}")
    return MessagingError(f"{action} {resource} failed: {type(exc).__name__}: {exc}")


def transient(exc: BaseException) -> bool:
    """Worth another attempt: the connection failed, dropped or timed out, or AWS throttled or failed (5xx)."""
    from botocore.exceptions import ClientError, ConnectionError, HTTPClientError

    if isinstance(exc, (ConnectionError, HTTPClientError)):  # refused, closed, connect/read timeouts
        return True
    if isinstance(exc, ClientError):
        code = str(exc.response.get("Error", {}).get("Code", ""))
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return code in RETRYABLE_ENTRY or code in THROTTLED or status in TRANSIENT_HTTP_STATUS
    return False


def call(fn: Callable[..., T], action: str, resource: str, permission: str, *, deadline: float | None = None,
         retries: int | None = None, **kwargs: Any) -> T:
    """Run one API call, retrying transient failures until ``deadline`` (``time.monotonic()``; default: 30 s from
    now) or ``retries`` retries; any failure left is a MessagingError saying what to fix. A deadline already past
    (a batch's later request) fails at once: the time was the whole call's, not each request's."""
    from botocore.exceptions import BotoCoreError, ClientError

    if deadline is None:
        deadline = time.monotonic() + DEFAULT_TIMEOUT
    elif deadline - time.monotonic() <= LAST_ATTEMPT:
        raise MessagingError(f"{action} {resource}: not sent, the binding's ?timeout= ran out before this request "
                             "(earlier requests of the same call used it up)")
    try:
        with until(deadline):
            return call_until(deadline, lambda _left: fn(**kwargs), transient, retries=retries)
    except GaveUp as exc:
        raise MessagingError(f"{translate(exc.last, action, resource, permission)}; {exc}") from exc.last
    except (ClientError, BotoCoreError) as exc:
        raise translate(exc, action, resource, permission) from exc


def backoff(attempt: int, deadline: float | None = None, base: float = 0.05, cap: float = 2.0) -> None:
    """Sleep with exponential backoff and full jitter before retry number ``attempt`` (1-based), never past
    ``deadline`` (``time.monotonic()``)."""
    delay = random.uniform(0, min(cap, base * (2 ** attempt)))  # noqa: S311 - jitter, not crypto
    if deadline is not None:
        delay = min(delay, max(0.0, deadline - time.monotonic()))
    time.sleep(delay)
