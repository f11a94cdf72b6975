"""botocore failures → :class:`portafunc.errors.MessagingError` with a message saying what to fix."""

from __future__ import annotations

import random
import time
from typing import Any, Callable, TypeVar

from portafunc.errors import MessagingError

T = TypeVar("T")

NOT_FOUND = {"NotFound", "NotFoundException", "AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist",
             "ResourceNotFoundException"}
DENIED = {"AuthorizationError", "AccessDenied", "AccessDeniedException", "InvalidClientTokenId",
          "UnrecognizedClientException", "SignatureDoesNotMatch", "ExpiredToken", "KMSAccessDeniedException"}
RETRYABLE_ENTRY = {"InternalError", "InternalFailure", "ServiceUnavailable", "Throttling", "ThrottlingException",
                   "ThrottledException", "RequestThrottled", "KMSThrottlingException"}


def translate(exc: BaseException, action: str, resource: str, permission: str) -> MessagingError:
    from botocore.exceptions import (BotoCoreError, ClientError, EndpointConnectionError, NoCredentialsError,
                                     NoRegionError)

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
    if isinstance(exc, BotoCoreError):
        return MessagingError(f"{action} {resource} failed: {type(exc).__name__}: {exc}")
    return MessagingError(f"{action} {resource} failed: {type(exc).__name__}: {exc}")


def call(fn: Callable[..., T], action: str, resource: str, permission: str, **kwargs: Any) -> T:
    """Run one API call; botocore already retried throttling, so anything left is a MessagingError."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return fn(**kwargs)
    except (ClientError, BotoCoreError) as exc:
        raise translate(exc, action, resource, permission) from exc


def backoff(attempt: int, base: float = 0.05, cap: float = 2.0) -> None:
    """Sleep with exponential backoff and full jitter before retry number ``attempt`` (1-based)."""
    time.sleep(random.uniform(0, min(cap, base * (2 ** attempt))))  # noqa: S311 - jitter, not crypto
