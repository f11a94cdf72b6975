"""Idempotency around the handler call — what ``invoke_http`` / ``invoke_message`` run when a function declares a key.

1. Work out the key (``keys.py``) and the payload fingerprint.
2. Claim the key with a conditional write. Lost the claim? Read the record: a different fingerprint is a reused key
   (HTTP 422 / non-retryable); a completed record is replayed without calling the handler; an in-progress one is
   polled until it completes or ``PORTAFUNC_IDEMPOTENCY_WAIT`` seconds pass (then HTTP 409 + Retry-After / retryable).
3. Won the claim: run the handler. Success → store the result for ``PORTAFUNC_IDEMPOTENCY_TTL`` seconds. Failure
   → delete the record so the redelivery runs the handler again. For HTTP, 401, 403, 408, 429 and 5xx answers count
   as failures (they say "not now" or "not you", never "done"), and a stored response never keeps ``Set-Cookie``.
   A crash that skips step 3 leaves an in-progress record that expires after the lease
   (``PORTAFUNC_IDEMPOTENCY_LEASE``; default: the queue's visibility timeout, 300 s for topics, 60 s for HTTP).
4. Each claim carries a random owner token; step 3's write and delete are conditional on the record still holding
   it. A *slow* invocation whose lease expired and whose key a redelivery took over is refused both: it logs a
   WARNING, counts ``late_complete_refused`` / ``late_release_refused``, and its caller still gets its result.
   A claim whose write landed but whose answer was lost (a timeout, an SDK retry meeting its own condition) finds
   its own token in the record and goes on as the owner instead of waiting for itself.
5. HTTP keys are scoped to the caller (:func:`~portafunc.idempotency.keys.caller_scope`): the same
   ``Idempotency-Key`` from two clients is two keys, and a 422 for a reused key never concerns another client's key.

A lease or TTL of 0 or less (or not a number) is a configuration error (:class:`IdempotencyConfigError`), never
protection silently turned off.

A store that cannot be reached fails the invocation (500 / retry): never run a handler we cannot guard.
"""

from __future__ import annotations

import json
import os
import threading
import time

from .. import logs
from ..app import FunctionSpec, QueueTrigger
from ..events import HttpRequest, HttpResponse, Message
from .errors import IdempotencyConfigError, IdempotencyInProgress, IdempotencyKeyMismatch, IdempotencyKeyMissing
from .keys import caller_scope, key_value, parse_key, payload_hash, store_key
from .registry import current_store
from .store import IdempotencyStore, Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable

REPLAY_HEADER = "Idempotent-Replayed"
NOT_STORED_STATUSES = frozenset({401, 403, 408, 429})  # and every 5xx: answers a retry must not get replayed
UNREPLAYED_HEADERS = ("set-cookie",)  # a session cookie belongs to the response it was made for

_stats = {"executed": 0, "replayed": 0, "busy": 0, "mismatched": 0, "waited": 0,
          "late_complete_refused": 0, "late_release_refused": 0}
_stats_lock = threading.Lock()


def stats() -> dict[str, int]:
    """Counters since start (or :func:`reset_stats`): handler runs, duplicates replayed, busy refusals, mismatches,
    and late writes refused after a takeover (``late_complete_refused``, ``late_release_refused``)."""
    with _stats_lock:
        return dict(_stats)


def reset_stats() -> None:
    with _stats_lock:
        for name in _stats:
            _stats[name] = 0


def _count(name: str) -> None:
    with _stats_lock:
        _stats[name] += 1


def _seconds(variable: str, default: float) -> float:
    raw = os.environ.get(variable)
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        logs.warning(f"{variable} is not a number of seconds; using the default", value=raw, default=default)
        return default
    return max(0.0, value)


def _positive_seconds(variable: str, default: float) -> float:
    """A duration that must be above zero: 0, a negative number or text would turn the protection off silently."""
    raw = os.environ.get(variable)
    value = default if raw is None or not raw.strip() else None
    if value is None:
        try:
            value = float(raw)  # type: ignore[arg-type]
        except ValueError:
            value = float("nan")
    if not 0 < value < float("inf"):
        shown = raw if raw is not None and raw.strip() else default
        raise IdempotencyConfigError(f"{variable}={shown!r} must be a positive number of seconds; 0 or less would "
                                     "turn duplicate protection off")
    return value


def lease_seconds(spec: FunctionSpec) -> float:
    """How long an in-progress record blocks duplicates before a crashed invocation may be retried."""
    trig = spec.trigger
    default = float(trig.visibility_timeout) if isinstance(trig, QueueTrigger) else \
        60.0 if spec.kind == "http" else 300.0
    return _positive_seconds("PORTAFUNC_IDEMPOTENCY_LEASE", default)


def ttl_seconds() -> float:
    """How long a completed result is kept for replay."""
    return _positive_seconds("PORTAFUNC_IDEMPOTENCY_TTL", 86400.0)


def new_owner(store: IdempotencyStore) -> str | None:
    """A random token for one claim (None for a store that predates owner tokens: it is called without them)."""
    return os.urandom(8).hex() if getattr(store, "owner_checks", False) else None


def _owned(owner: str | None) -> dict[str, str]:
    return {"owner": owner} if owner is not None else {}


def claim(store: IdempotencyStore, key: str, fingerprint: str, lease: float, wait: float,
          owner: str | None = None) -> Record | None:
    """None when this invocation now owns ``key`` (its record holds ``owner``); the completed record when it is a
    duplicate to replay."""
    owned = _owned(owner)
    deadline = time.monotonic() + wait
    delay = 0.02
    waited = False
    while True:
        try:
            if store.put_in_progress(key, fingerprint, time.time() + lease, **owned):
                return None
        except Exception:
            # The write may have landed and only its answer been lost: our own token in the record says so.
            if owner is None or not _holds(store, key, owner):
                raise
            logs.info("idempotency: the claim's answer was lost but its write landed; continuing as its owner",
                      key=key)
            return None
        record = store.get(key)
        now = time.time()
        if record is not None and owner is not None and record.owner == owner and not record.completed:
            return None  # our own claim, answered "taken" by a retried conditional write
        if record is not None and record.is_live(now):
            if record.payload_hash != fingerprint:
                _count("mismatched")
                raise IdempotencyKeyMismatch(key)
            if record.completed:
                return record
        # in progress (or vanished/expired between the two calls): wait for it, bounded
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            _count("busy")
            raise IdempotencyInProgress(key, (record.expires_at - now) if record is not None else 1.0)
        if not waited:
            waited = True
            _count("waited")
        time.sleep(min(delay, remaining))
        delay = min(delay * 2, 0.25)


def _holds(store: IdempotencyStore, key: str, owner: str) -> bool:
    try:
        record = store.get(key)
    except Exception:  # noqa: BLE001 - the caller re-raises the claim's own error
        return False
    return record is not None and record.owner == owner and not record.completed


def _late(counter: str, what: str, key: str, function: str) -> None:
    _count(counter)
    logs.warning(f"idempotency: this invocation outlived its lease and no longer holds the key (another invocation "
                 f"took it over, or the record is gone); {what} (raise PORTAFUNC_IDEMPOTENCY_LEASE above the "
                 "function's run time)", key=key, function=function)


def _finish(store: IdempotencyStore, key: str, fingerprint: str, result: str, owner: str | None,
            function: str) -> None:
    try:
        written = store.complete(key, fingerprint, result, time.time() + ttl_seconds(), **_owned(owner))
    except Exception as exc:  # noqa: BLE001 - the handler ran; its result still goes back to this caller
        logs.error("idempotency: could not store the result; duplicates are refused until the lease expires, "
                   "then run again", key=key, error=f"{type(exc).__name__}: {exc}")
        return
    if written is False:  # None: a store without owner tokens, which writes unconditionally
        _late("late_complete_refused", "its result is not stored (its caller still gets it)", key, function)


def _release(store: IdempotencyStore, key: str, owner: str | None, function: str) -> None:
    try:
        released = store.delete(key, **_owned(owner))
    except Exception as exc:  # noqa: BLE001
        logs.error("idempotency: could not release the key after a failure; it is retried once the lease "
                   "expires", key=key, error=f"{type(exc).__name__}: {exc}")
        return
    if released is False:
        _late("late_release_refused", "its failure does not release the key another invocation holds", key,
              function)


def http_store_key(spec: FunctionSpec, req: HttpRequest, value: str) -> str:
    """The store key of an HTTP request's idempotency key ``value``: per function and per caller."""
    return store_key(spec.app.name, spec.name, value, caller=caller_scope(req))


def _stored_response(resp: HttpResponse) -> str:
    kept = resp.to_dict()
    kept["headers"] = {name: values for name, values in kept["headers"].items()
                       if name.lower() not in UNREPLAYED_HEADERS}
    return json.dumps({"http": kept}, separators=(",", ":"))


def _replayed(record: Record) -> HttpResponse:
    resp = HttpResponse.from_dict(json.loads(record.result or "{}").get("http") or {"status": 204})
    for name in UNREPLAYED_HEADERS:  # records stored before cookies were dropped
        resp.headers.remove(name)
    resp.headers.set(REPLAY_HEADER, "true")
    return resp


def run_http(spec: FunctionSpec, req: HttpRequest, call: Callable[[], HttpResponse], target: str) -> HttpResponse:
    """Run ``call`` at most once per key and caller; the same caller's duplicates get the first response replayed."""
    expr = parse_key(spec.idempotency_key or "")
    try:
        value = key_value(expr, req)
    except IdempotencyKeyMissing as exc:
        return HttpResponse.problem(400, "Idempotency key missing", str(exc))
    if value is None:  # the client did not send an Idempotency-Key: a plain, non-deduplicated request
        return call()
    store = current_store(target)
    key = http_store_key(spec, req, value)
    fingerprint = payload_hash(req)
    owner = new_owner(store)
    try:
        record = claim(store, key, fingerprint, lease_seconds(spec), _seconds("PORTAFUNC_IDEMPOTENCY_WAIT", 3.0),
                       owner)
    except IdempotencyKeyMismatch:  # the detail names no key: the client knows which one it sent
        return HttpResponse.problem(422, "Idempotency key reused", "this idempotency key was already used for a "
                                    "different request (method, path, query string or body)")
    except IdempotencyInProgress as exc:
        resp = HttpResponse.problem(409, "Request in progress", "a request with this idempotency key is still "
                                    "being processed; retry later")
        resp.headers.add("Retry-After", str(exc.retry_after))
        return resp
    if record is not None:
        _count("replayed")
        logs.log("INFO", "duplicate request: replaying the first response", key=key)
        return _replayed(record)
    _count("executed")
    try:
        resp = call()
    except BaseException:
        _release(store, key, owner, spec.name)
        raise
    if resp.status >= 500 or resp.status in NOT_STORED_STATUSES:
        _release(store, key, owner, spec.name)
    else:
        _finish(store, key, fingerprint, _stored_response(resp), owner, spec.name)
    return resp


def _json_default(value: Any) -> Any:
    from ..events import _json_default as events_default

    return events_default(value)


def run_message(spec: FunctionSpec, msg: Message, call: Callable[[], Any], target: str) -> Any:
    """Run ``call`` at most once per key; a duplicate returns the first value without calling the handler.

    Raises :class:`IdempotencyKeyMismatch` / :class:`IdempotencyKeyMissing` (non-retryable: dead letter) and
    :class:`IdempotencyInProgress` (retryable: the broker redelivers later).
    """
    expr = parse_key(spec.idempotency_key or "")
    value = key_value(expr, msg)
    if value is None:
        raise IdempotencyKeyMissing(expr.text, "the key is empty")
    store = current_store(target)
    key = store_key(spec.app.name, spec.name, value)
    fingerprint = payload_hash(msg)
    owner = new_owner(store)
    record = claim(store, key, fingerprint, lease_seconds(spec), _seconds("PORTAFUNC_IDEMPOTENCY_WAIT", 3.0), owner)
    if record is not None:
        _count("replayed")
        logs.log("INFO", "duplicate message: already processed, not run again", key=key, message_id=msg.id,
                 delivery_attempt=msg.delivery_attempt)
        return json.loads(record.result or "{}").get("value")
    _count("executed")
    try:
        result = call()
    except BaseException:
        _release(store, key, owner, spec.name)
        raise
    try:
        encoded = json.dumps({"value": result}, separators=(",", ":"), default=_json_default)
    except (TypeError, ValueError):
        encoded = json.dumps({"value": None, "unstored": type(result).__name__})
    _finish(store, key, fingerprint, encoded, owner, spec.name)
    return result
