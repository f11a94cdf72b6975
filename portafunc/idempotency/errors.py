"""Idempotency errors, typed so the pipeline maps them: a reused key is the caller's fault, a busy key is transient."""

from __future__ import annotations

from ..errors import BindingError, NonRetryableError, PortafuncError


class IdempotencyKeyMismatch(NonRetryableError):
    """The key was already used for a different payload: retrying the same input can never succeed (HTTP 422)."""

    def __init__(self, key: str) -> None:
        super().__init__(f"idempotency key {key!r} was already used with a different payload")
        self.key = key


class IdempotencyKeyMissing(NonRetryableError):
    """The event has no value where the function's ``idempotency_key`` expression points (HTTP 400)."""

    def __init__(self, expression: str, detail: str) -> None:
        super().__init__(f"idempotency key {expression!r} not found: {detail}")
        self.expression = expression


class IdempotencyInProgress(PortafuncError):
    """Another invocation holds the key and did not finish within the wait: retryable (HTTP 409 + Retry-After)."""

    def __init__(self, key: str, retry_after: float) -> None:
        super().__init__(f"idempotency key {key!r} is being processed by another invocation; retry later")
        self.key = key
        self.retry_after = max(1, int(retry_after + 0.999))


class IdempotencyConfigError(BindingError):
    """An idempotency setting that would silently turn the protection off (a lease or TTL of 0 or less)."""


class IdempotencyStoreError(BindingError):
    """The idempotency store is not configured, unknown, or failed to open."""
