"""The Lambda entry point: ``portafunc_aws.runtime.handler``.

The packager sets every function's handler to this one and tells it what to run with two environment variables:
``PORTAFUNC_APP`` (``module:attr`` of the App, importable from the code root) and ``PORTAFUNC_FUNCTION`` (the
function's name; leave it unset to route HTTP requests across the whole app from one Lambda). The app is imported once
per container, during Lambda's init phase; the native event's shape is detected on each call.

Failure semantics, the native way:

* HTTP: the pipeline always answers (400/404/405/413/500 as problem+json); the response uses the request's variant.
* SQS (queues, and topics delivered SNS → SQS): ``{"batchItemFailures": [...]}`` names only the messages to redeliver;
  a FIFO queue (ARN ending ``.fifo``) or ``ordered=True`` stops at the first failure and reports the rest too. With
  ``PORTAFUNC_MAX_ATTEMPTS_<FUNCTION>`` set (the template sets it for a consumer of an existing queue, whose redrive
  policy the stack cannot set), a message failing on that receive (``ApproximateReceiveCount``) or a later one is
  moved to the function's dead letter and acknowledged, as a redrive policy would; if the move fails it is reported
  failed, so it is retried rather than lost.
* SNS direct, S3 direct, EventBridge: asynchronous invocations; a failure raises :class:`RetryRequested` so Lambda's
  async retry and on-failure destination take over.
* SNS HTTP(S) subscriptions (an HTTP request with ``x-amz-sns-message-type``): verified, then run by the topic
  functions bound to the message's topic (:func:`portafunc_aws.inbound.sns_http.route`); 200, 403 untrusted, 4xx malformed,
  5xx so SNS retries. No bound topic function: routed as ordinary HTTP. ``PORTAFUNC_SNS_HTTP=off`` disables it.

This module imports no AWS SDK: the HTTP path never loads boto3.
"""

from __future__ import annotations

import os
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

from portafunc import logs
from portafunc.app import App, FunctionSpec, QueueTrigger
from portafunc.errors import EventDecodeError
from portafunc.events import Message, ScheduleEvent, StorageEvent
from portafunc.invoke import (MessageResult, Outcome, handle_http_direct, handle_unmatched, invoke_batch,
                              invoke_event, invoke_message, invoke_message_failure, message_runner)

from . import codecs as codec
from .codecs import http
from .codecs.fields import records
from .outcome import DIRECT, batch_answer, encode_response, json_answer, raise_for_retry

api_v2_request, rest_alb_request = http.api_v2_request, http.rest_alb_request

TARGET = "aws"
ROUTER_ENV = "PORTAFUNC_ROUTER"  # "unmatched" on the template's $default router function
SNS_HTTP_ENV = "PORTAFUNC_SNS_HTTP"  # "off": no SNS HTTP(S) routing (sns_http.ROUTING_ENV, kept off the import path)
_UNMATCHED_VARIANTS = frozenset(("alb", "alb-multi", "function-url"))  # no platform router names their route
_SNS_HEADER, _SNS_HEADER_V1 = "x-amz-sns-message-type", "X-Amz-Sns-Message-Type"
_JSON_ONLY = [("Content-Type", "application/json")]  # the headers of events.json_response
NATIVE_EVENTS = {"http": "an HTTP request", "sqs": "an SQS batch", "sns": "an SNS notification",
                 "s3": "an S3 notification", "eventbridge": "an EventBridge event"}  # each shape, as refusals name it

_messages: Any = None


def _load_messages() -> Any:
    """The SQS/SNS codec, imported by the first message event (HTTP-only functions never load it)."""
    global _messages
    from .codecs import queue as messages

    _messages = messages
    return messages


_topic: Any = None


def _load_topic() -> Any:
    """The SNS codec, imported by the first SNS event of a queue or topic function."""
    global _topic
    from .codecs import topic

    _topic = topic
    return topic


class _Lazy:
    """The modules only non-HTTP events need, imported by the first such event (an HTTP-only cold start skips them)
    and then kept, so a warm invocation pays no import statement."""

    loaded = False
    storage: Any
    topic: Any
    eventbridge: Any
    select: Any
    wanted: Any
    failed_ids: Any
    decoded: Any

    @classmethod
    def load(cls) -> type[_Lazy]:
        if not cls.loaded:
            from portafunc.kit import records, storage_filter

            from .codecs import eventbridge, storage, topic

            cls.storage, cls.topic, cls.eventbridge = storage, topic, eventbridge
            cls.select, cls.wanted = storage_filter.select, storage_filter.wanted
            cls.failed_ids, cls.decoded = records.FailedIds, records.decoded
            cls.loaded = True
        return cls


class LambdaHandler:
    """A Lambda handler bound to one App (and optionally one of its functions)."""

    def __init__(self, app: App, function: str | None = None, *, sns_receiver: Any = None) -> None:
        self.app = app
        self.spec: FunctionSpec | None = app.function(function) if function else None
        # SNS HTTP(S) deliveries go to topic functions (see sns_http.route); only an app-wide handler or one bound
        # to a topic function looks for them. The receiver (certificate cache) is the process-wide one by default.
        # An app without topic functions has none to route to (and its artifact carries no SNS HTTP verifier).
        self.sns_routing = (self.spec.kind == "topic" if self.spec else any(s.kind == "topic" for s in app)) and \
            sns_http_routing()
        self.sns_receiver = sns_receiver
        # The HTTP API's $default route (the template's router function) gets only what API Gateway matched to no
        # route: it answers 404/405/preflights and never runs a function, so a path the two routers read
        # differently cannot reach an IAM-guarded route past API Gateway's check.
        self.unmatched_only = self.spec is None and os.environ.get(ROUTER_ENV, "") == "unmatched"
        # a queue or topic function: its SQS and one-record SNS events skip the general dispatch (see __call__)
        self.message_spec = self.spec if self.spec is not None and self.spec.kind in ("queue", "topic") else None
        # and runs the one message of an SNS event through its function's own invoke_message_failure
        self._run_message: Any = None if self.message_spec is None else message_runner(self.message_spec, TARGET)
        # an HTTP function or the whole app, not the $default router: the usual HTTP API or Function URL event (no
        # SNS HTTP(S) delivery when those are routed) is read in one pass (http.api_v2_request) and goes straight
        # to the direct lane
        self.api_v2_lane = (self.spec is None or self.spec.kind == "http") and not self.unmatched_only
        # and so is the usual REST API (payload 1.0) or ALB event (http.rest_alb_request), for the same handlers
        # (read only where api_v2_lane is on: one test per invocation for both)
        self.rest_alb_lane = self.api_v2_lane
        self._function_name = self.spec.name if self.spec is not None else None

    def __call__(self, event: Any, context: Any = None) -> Any:
        try:
            if self.api_v2_lane and event.__class__ is dict:
                if "rawPath" in event:
                    found = None if self.sns_routing and _sns_delivery(event) else api_v2_request(event)
                elif "httpMethod" in event and self.rest_alb_lane:
                    found = rest_alb_request(event, self.sns_routing)  # an SNS delivery declined there
                else:
                    found = None
                if found is not None:  # what _dispatch does for this event, without detecting its kind again
                    name = self._function_name
                    req, template, variant = found
                    try:  # getattr(context, "aws_request_id", None) without its call
                        request_id = context.aws_request_id
                    except AttributeError:
                        request_id = None
                    answer = handle_http_direct(self.app, req, DIRECT[variant], name, TARGET, request_id, context,
                                                template if name is None else None)
                    if answer.__class__ is dict:
                        return answer
                    body = answer.body
                    if answer.headers._items == _JSON_ONLY and body.__class__ is bytes and body.isascii():
                        # encode_response's answer to the usual JSON response (a response model's, a problem's),
                        # without its frame
                        if variant == "apigw-v2" or variant == "function-url":
                            return {"statusCode": answer.status, "headers": {"content-type": "application/json"},
                                    "body": body.decode(), "isBase64Encoded": False}
                        return json_answer(answer.status, body.decode(), variant)
                    return encode_response(answer, variant)
            # A queue or topic function's usual event, an SQS batch or a one-record SNS event, goes straight to its
            # branch. No "requestContext" and no "rawPath": the HTTP detection would find no request in it.
            spec = self.message_spec
            if spec is not None and event.__class__ is dict and "requestContext" not in event \
                    and "rawPath" not in event:
                recs = event.get("Records")
                if recs.__class__ is list and recs:
                    first = recs[0]
                    if first.__class__ is dict:
                        if first.get("eventSource") == "aws:sqs":
                            return self._sqs(spec, event, context)
                        if len(recs) == 1:
                            msg = (_topic or _load_topic()).notification(first)
                            if msg is not None:  # run as the Lambda request, as an HTTP request is
                                failure = self._run_message(msg, getattr(context, "aws_request_id", None), context)
                                if failure is not None:
                                    _retry_unless_handled(failure)
                                return None
            return self._dispatch(event, context)
        except (RecursionError, UnicodeError) as exc:
            # The pipeline answers every handler failure itself, so these come from reading the event: nesting too
            # deep to walk, text that is not valid Unicode. A malformed event, said as such.
            raise EventDecodeError(f"native event cannot be decoded: {type(exc).__name__}",
                                   expected="JSON of valid Unicode text, nested less than a few hundred levels") \
                from None

    def _dispatch(self, event: Any, context: Any) -> Any:
        variant = http.detect(event)  # requests first, without the general detection's (kind, variant) pair
        if variant is not None:
            kind = "http"
        else:
            kind = _message_kind(event) or codec.detect(event)[0]
        spec = self.spec
        if kind == "http":
            sns = self.sns_routing and _sns_delivery(event)
            if spec is not None and spec.kind != "http" and not sns:
                raise self._mismatch(NATIVE_EVENTS["http"])
            req, variant = http.decode_request(event, variant)
            invocation_id = getattr(context, "aws_request_id", None)
            if sns:
                from .inbound import sns_http

                answer = sns_http.route(self.app, req, function=spec.name if spec else None,
                                        receiver=self.sns_receiver, native_context=context,
                                        invocation_id=invocation_id)
                if answer is not None:
                    return encode_response(answer, variant)
            if self.unmatched_only:
                resp = handle_unmatched(self.app, req, target=TARGET, invocation_id=invocation_id,
                                        native_context=context)
            else:
                answer = handle_http_direct(self.app, req, DIRECT[variant], spec.name if spec else None, TARGET,
                                            invocation_id, context, None if spec or variant in _UNMATCHED_VARIANTS
                                            else http.matched_route(event))
                if answer.__class__ is dict:
                    return answer
                resp = answer
            return encode_response(resp, variant)
        if spec is None:
            raise EventDecodeError(f"a {kind} event needs PORTAFUNC_FUNCTION to say which function handles it; "
                                   "only HTTP requests are routed across the app",
                                   expected="PORTAFUNC_FUNCTION=<function name>")
        function_kind = spec.trigger.kind
        if function_kind == "http":  # said before the lazy codecs load: an HTTP-only artifact does not carry them
            raise self._mismatch(NATIVE_EVENTS[kind])
        if kind == "sqs":
            return self._sqs(spec, event, context)
        lazy = _Lazy if _Lazy.loaded else _Lazy.load()
        if kind == "sns":
            if function_kind == "topic" or function_kind == "queue":  # what _async does for messages, unchecked
                msgs = lazy.topic.decode_sns(event)
                if len(msgs) == 1:  # what Lambda hands a subscribed function: run as the Lambda request
                    failure = invoke_message_failure(spec, msgs[0], TARGET, getattr(context, "aws_request_id", None),
                                                     context)
                    if failure is not None:
                        _retry_unless_handled(failure)
                    return None
                failures: list[MessageResult] = []
                for msg in msgs:  # a loop: a comprehension over a generator costs more than the record's decoding
                    result = invoke_message(spec, msg, target=TARGET, native_context=context)
                    if result.must_redeliver:
                        failures.append(result)
                return raise_for_retry(failures)
            return self._async(spec, lazy.topic.decode_sns(event), context)
        if kind == "s3":
            if spec.kind != "storage":
                raise self._mismatch(NATIVE_EVENTS["s3"])
            return self._async(spec, list(lazy.storage.decode_s3(event)), context)
        return self._async(spec, [lazy.eventbridge.decode_eventbridge(event)], context)

    # -- SQS: partial batch failure -------------------------------------------------------------------------------
    def _sqs(self, spec: FunctionSpec, event: Any, context: Any) -> dict[str, Any]:
        recs = records(event, "SQS event")
        kind = spec.trigger.kind
        if kind == "storage":
            failed = self._sqs_storage(spec, recs, context)
        elif kind == "queue" or kind == "topic":
            ordered = (_messages or _load_messages()).is_fifo_arn(recs[0].get("eventSourceARN")) \
                or (isinstance(spec.trigger, QueueTrigger) and spec.trigger.ordered)
            return self._sqs_messages(spec, recs, ordered, context)
        else:
            raise self._mismatch(NATIVE_EVENTS["sqs"])
        return batch_answer(failed)

    def _sqs_messages(self, spec: FunctionSpec, recs: list[Any], ordered: bool, context: Any) -> dict[str, Any]:
        """Run the batch; the answer naming the failed ids in ``batchItemFailures``, each once, in batch order.

        A record that cannot be decoded (for any reason) fails alone. A ``messageId`` that appears twice in the batch
        (SQS delivers at least once, so a batch can hold two copies) runs once: the copies are one message, and the
        outcome of the first copy answers for both — a success is not run again, a failure is named once.
        """
        lazy = _Lazy if _Lazy.loaded else _Lazy.load()
        codec_ = _messages or _load_messages()
        failed = lazy.failed_ids()
        batch = lazy.decoded(recs, codec_.decode_sqs_record, record_id=_record_id, failed=failed, ordered=ordered,
                             what="SQS record")  # a small batch at once, a large one as it runs (one alive at a time)
        result = invoke_batch(spec, batch, ordered=ordered, target=TARGET, native_context=context,
                              invocation_id=getattr(context, "aws_request_id", None))
        failed_ids = result.failed_ids
        if failed_ids:
            failed_ids = _after_last_attempt(spec, recs, result, failed_ids, codec_)
        if not failed_ids and not failed:
            return {"batchItemFailures": []}
        # batch_answer's items, built as the ids are put in batch order (one pass over the records)
        return {"batchItemFailures": failed.answer(recs, "messageId", "itemIdentifier", failed_ids)}

    def _sqs_storage(self, spec: FunctionSpec, recs: list[Any], context: Any) -> list[str]:
        lazy = _Lazy.load()
        messages, storage, select = _messages or _load_messages(), lazy.storage, lazy.select
        failed = lazy.failed_ids()
        for index, rec in enumerate(recs):
            try:
                msg = messages.decode_sqs_record(rec, index)
                events = storage.s3_from_message(msg)
            except Exception as exc:  # noqa: BLE001 - one bad record fails alone
                bad_id = rec.get("messageId")
                if not isinstance(bad_id, str):
                    raise
                logs.error("undecodable SQS record reported failed; the queue's redrive policy dead-letters it",
                           message_id=bad_id, error=f"{type(exc).__name__}: {logs.redact(_text_of(exc))}")
                failed.add(bad_id)
                continue
            if events is None:
                logs.error("SQS message for a storage function carries no S3 notification; reported failed",
                           message_id=msg.id)
                failed.add(msg.id)
                continue
            results = [invoke_event(spec, e, target=TARGET, native_context=context)
                       for e in select(spec.trigger, events)]
            if any(r.outcome is Outcome.RETRY for r in results):
                failed.add(msg.id)
        ids: list[str] = failed.ids()
        return ids

    # -- asynchronous invocations: raise to retry -----------------------------------------------------------------
    def _async(self, spec: FunctionSpec, events: list[Any], context: Any) -> None:
        lazy = _Lazy if _Lazy.loaded else _Lazy.load()
        storage, select, wanted = lazy.storage, lazy.select, lazy.wanted
        failures: list[MessageResult] = []
        kind = spec.trigger.kind
        for evt in events:
            if evt.__class__ is Message or isinstance(evt, Message):
                s3 = storage.s3_from_message(evt) if kind == "storage" else None
                if s3 is not None:
                    results = [invoke_event(spec, e, target=TARGET, native_context=context)
                               for e in select(spec.trigger, s3)]
                    failures.extend(r for r in results if r.outcome is Outcome.RETRY)
                    continue
                if kind != "topic" and kind != "queue":
                    raise self._mismatch("a message")
                result = invoke_message(spec, evt, target=TARGET, native_context=context)
                if result.must_redeliver:
                    failures.append(result)
            else:
                expected = "storage" if isinstance(evt, StorageEvent) else "schedule"
                if spec.kind != expected:
                    raise self._mismatch(f"a {expected} event")
                assert isinstance(evt, (StorageEvent, ScheduleEvent))
                if isinstance(evt, StorageEvent) and not wanted(spec.trigger, evt):
                    continue  # not a kind, prefix or suffix it registered for: acknowledged
                result = invoke_event(spec, evt, target=TARGET, native_context=context)
                if result.outcome is Outcome.RETRY:
                    failures.append(result)
        raise_for_retry(failures)

    def _mismatch(self, what: str) -> EventDecodeError:
        assert self.spec is not None
        return self.spec.wrong_event(what)


_MAX_ATTEMPTS = "MAX_ATTEMPTS"  # PORTAFUNC_MAX_ATTEMPTS_<FUNCTION>: the receive on which a failure is dead-lettered
_FAILED = (Outcome.RETRY, Outcome.REJECTED)  # run and failed (SKIPPED ones of an ordered batch did not run)


def _after_last_attempt(spec: FunctionSpec, recs: list[Any], batch: Any, failed_ids: list[str], codec_: Any
                        ) -> list[str]:
    """``failed_ids`` less the messages moved to the function's dead letter because they failed on their last allowed
    receive (``PORTAFUNC_MAX_ATTEMPTS_<FUNCTION>``; SQS's ``ApproximateReceiveCount`` counts them), as a redrive
    policy would move them. A message the dead letter does not take stays failed: retried, never lost."""
    from portafunc.messaging.binding import env_name

    variable = env_name(_MAX_ATTEMPTS, spec.name)
    if variable not in os.environ:
        return failed_ids
    from portafunc.invoke import dead_letter_destination

    try:
        max_attempts = int(os.environ[variable])
    except ValueError:
        logs.error(f"{variable} is not a whole number: failing messages are not dead-lettered by the function",
                   value=os.environ[variable][:100])
        return failed_ids
    errors = {r.message_id: r.error or r.outcome.value for r in batch.results if r.outcome in _FAILED}
    destination = dead_letter_destination(spec) if errors else None
    if destination is None:
        if errors:
            logs.error(f"{variable} is set but the function has no dead-letter destination: failing messages are "
                       "retried until the queue's own redrive or retention policy takes them",
                       hint="set dead_letter= on the decorator or " + env_name("DEADLETTER", spec.name))
        return failed_ids
    moved: set[str] = set()
    for index, rec in enumerate(recs):
        message_id = rec.get("messageId")
        if message_id not in errors or message_id in moved:
            continue
        try:
            msg = codec_.decode_sqs_record(rec, index)
            attempt = msg.delivery_attempt
        except Exception:  # noqa: BLE001 - it ran, so it decoded; a record that does not now stays failed
            continue
        if attempt < max_attempts:
            continue
        if _move_to_dead_letter(spec, destination, msg, errors[message_id], max_attempts):
            moved.add(message_id)
    return [i for i in failed_ids if i not in moved] if moved else failed_ids


def _move_to_dead_letter(spec: FunctionSpec, destination: str, msg: Message, reason: str, max_attempts: int) -> bool:
    from portafunc.kit.dead_letter import move_after_last_attempt

    try:
        move_after_last_attempt(spec.name, destination, msg, reason)
    except Exception as exc:  # noqa: BLE001 - keep the message rather than lose it
        logs.error("message failed on its last attempt but could not be dead-lettered; reported failed, it will be "
                   "retried", message_id=msg.id, delivery_attempt=msg.delivery_attempt, max_attempts=max_attempts,
                   dead_letter=destination, error=f"{type(exc).__name__}: {logs.redact(_text_of(exc))}")
        return False
    logs.warning("message failed on its last attempt: moved to the dead-letter destination", message_id=msg.id,
                 delivery_attempt=msg.delivery_attempt, max_attempts=max_attempts, dead_letter=destination,
                 reason=reason)
    return True


def _text_of(exc: BaseException) -> str:
    try:
        return str(exc)[:2000]
    except Exception:  # noqa: BLE001 - a message that cannot be printed
        return "<unprintable>"


def _message_kind(event: Any) -> str | None:
    """``sqs`` or ``sns`` for the record batches Lambda hands over, told from the first record as
    :func:`codecs.detect` tells them (None: anything else, which it reads)."""
    recs = event.get("Records") if event.__class__ is dict else None
    if recs.__class__ is list and recs:
        first = recs[0]
        if first.__class__ is dict:
            if first.get("eventSource") == "aws:sqs":
                return "sqs"
            if first.get("EventSource") == "aws:sns":
                return "sns"
    return None


_SUCCESS, _DEAD_LETTERED = Outcome.SUCCESS, Outcome.DEAD_LETTERED


def _retry_unless_handled(failure: MessageResult) -> None:
    """An asynchronous invocation's failed message: RetryRequested unless it was dead-lettered."""
    outcome = failure.outcome
    if outcome is not _SUCCESS and outcome is not _DEAD_LETTERED:
        raise_for_retry([failure])


def _record_id(rec: Any) -> Any:
    return rec.get("messageId")


def sns_http_routing() -> bool:
    """Whether SNS HTTP(S) deliveries are routed to topic functions (``PORTAFUNC_SNS_HTTP`` is not off)."""
    return os.environ.get(SNS_HTTP_ENV, "on").strip().lower() not in ("off", "0", "false", "no")


def _sns_delivery(event: dict[str, Any]) -> bool:
    """Does this HTTP event carry SNS's ``x-amz-sns-message-type`` header? Two dict lookups per header map, so the
    HTTP hot path does not scan the headers (SNS sends the name in lower case; API Gateway v1 keeps the case)."""
    headers = event.get("headers")
    if headers and headers.__class__ is dict and (_SNS_HEADER in headers or _SNS_HEADER_V1 in headers):
        return True
    headers = event.get("multiValueHeaders")
    return bool(headers) and headers.__class__ is dict and (_SNS_HEADER in headers or _SNS_HEADER_V1 in headers)


def bind(app: App, function: str | None = None, *, sns_receiver: Any = None) -> LambdaHandler:
    """A Lambda handler for ``app`` without environment variables (drivers, tests, custom entry modules).
    ``sns_receiver``: the :class:`~portafunc_aws.inbound.sns_http.SnsReceiver` verifying SNS HTTP(S) deliveries."""
    return LambdaHandler(app, function, sns_receiver=sns_receiver)


_handler: LambdaHandler | None = None


def _from_environment() -> LambdaHandler:
    global _handler
    if _handler is None:
        from portafunc.loader import load_deployed_app

        ref = os.environ.get("PORTAFUNC_APP")
        if not ref:
            raise EventDecodeError("PORTAFUNC_APP is not set", expected="PORTAFUNC_APP=module:attr of the App")
        app, _, _ = load_deployed_app(ref)
        _handler = LambdaHandler(app, os.environ.get("PORTAFUNC_FUNCTION") or None)
    return _handler


def handler(event: Any, context: Any) -> Any:
    """The Lambda handler the packager points every function at (``portafunc_aws.runtime.handler``)."""
    return _from_environment()(event, context)


def _load_during_init() -> None:
    """On Lambda (the Runtime API is set), import the app while the runtime imports this module: that is Lambda's
    init phase, which provisioned concurrency and SnapStart run before any request, so the first request does not
    wait for the app's import. A failure is left to the first invocation, which imports again and answers with the
    error, as an app that failed to load always has (the runtime does not stop at init).

    Once loaded, ``handler`` becomes the loaded handler's own call: the runtime looks the entry up after this import,
    so each invocation skips this module's function and the instance call (about 90 ns a request)."""
    global handler
    if "AWS_LAMBDA_RUNTIME_API" in os.environ and os.environ.get("PORTAFUNC_APP"):
        try:
            loaded = _from_environment()
        except Exception:  # noqa: BLE001 - reported by the first invocation's own attempt
            return
        handler = loaded.__call__


_load_during_init()
