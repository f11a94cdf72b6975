"""The AWS target: wires the codecs, the trigger table, the runtime entry, the driver and the packager together."""

from __future__ import annotations

from typing import Any, Mapping

from portafunc.app import App, FunctionSpec
from portafunc.errors import EventDecodeError
from portafunc.events import Event, HttpRequest, Message, ScheduleEvent, StorageEvent, event_from_dict
from portafunc.targets import NativeKind, NativeTrigger, PackageRequest, PackageResult, receivers
from portafunc.targets import Target as BaseTarget

from . import codecs as codec
from .codecs import http, queue as messages, schedule, storage
from .driver import AwsDriver
from .outcome import RetryRequested
from .runtime import NATIVE_EVENTS, _sns_delivery, bind, sns_http_routing
from .lambda_context import LambdaContext
from . import triggers
from .triggers import native_trigger

_VARIANT_KIND = {**dict.fromkeys(http.VARIANTS, "http"), **dict.fromkeys(messages.VARIANTS, "message"),
                 "s3": "storage", "s3-sqs": "storage", "eventbridge": "storage"}

_SHAPE_KINDS = {"http": frozenset({"http"}), "sqs": frozenset({"storage"}), "sns": frozenset({"storage"}),
                "s3": frozenset({"storage"}), "eventbridge": frozenset({"queue", "topic", "storage", "schedule"})}


class Target(BaseTarget):
    name = "aws"
    trigger_table = triggers
    distribution = "portafunc-aws"

    def decode(self, native: Any) -> list[Event]:
        return codec.decode(native)

    def encode(self, event: Event, variant: str | None = None) -> Any:
        if isinstance(event, HttpRequest):
            return http.encode_request(event, variant)
        if isinstance(event, Message):
            return messages.encode_messages([event], variant)
        if isinstance(event, StorageEvent):
            return storage.encode_storage(event, variant)
        if isinstance(event, ScheduleEvent):
            if variant not in (None, "", "eventbridge"):
                raise EventDecodeError(f"unknown aws schedule variant {variant!r}", expected="eventbridge")
            return schedule.encode_schedule(event)
        raise EventDecodeError(f"cannot encode {type(event).__name__}", expected="a neutral event")

    def variants(self, kind: str) -> list[str]:
        return {"http": list(http.VARIANTS), "message": list(messages.VARIANTS), "queue": ["sqs", "sqs-fifo"],
                "topic": ["sns-sqs", "sns"], "storage": list(storage.VARIANTS),
                "schedule": ["eventbridge"]}.get(kind, [""])

    def uncarried(self, kind: str, variant: str | None = None) -> frozenset[str]:
        """Neutral fields a variant cannot carry exactly — the cloud's limits (see ``LOSSY`` in the codecs)."""
        if kind == "http":
            return frozenset(http.LOSSY.get(variant or "apigw-v2", {}))
        if kind == "message":
            return frozenset(messages.LOSSY.get(variant or "sqs", {}))
        return frozenset()

    def native_kind(self, native: Any) -> NativeKind | None:
        """The event as the Lambda entry takes it: an SQS batch or SNS notification is a queue or topic function's
        messages whatever they carry (and a storage function's when they carry S3 notifications); an HTTP request with
        SNS's ``x-amz-sns-message-type`` header is also a topic function's SNS HTTP(S) delivery, unless
        ``PORTAFUNC_SNS_HTTP`` is off."""
        try:
            shape = codec.shape(native)
        except Exception:  # noqa: BLE001 - unreadable: invoke reports it in the entry's words
            return None
        try:
            kinds = receivers(self.decode(native))
        except Exception:  # noqa: BLE001 - a malformed event of a known shape: every kind that shape may reach
            kinds = _SHAPE_KINDS[shape]
        if shape == "sqs" or shape == "sns":
            kinds |= {"queue", "topic"}
        elif shape == "http" and isinstance(native, dict) and sns_http_routing() and _sns_delivery(native):
            kinds |= {"topic"}
        return NativeKind(NATIVE_EVENTS[shape], kinds)

    def new_event(self, trigger: str, data: Mapping[str, Any] | None = None) -> Any:
        kind, _, variant = trigger.partition(":")
        if kind in _VARIANT_KIND and not variant:  # `events new apigw-v1` == `events new http:apigw-v1`
            kind, variant = _VARIANT_KIND[kind], kind
        if kind in ("queue", "topic") and not variant:
            variant = "sqs" if kind == "queue" else "sns-sqs"
        return super().new_event(f"{kind}:{variant}" if variant else kind, data)

    def native_trigger(self, spec: FunctionSpec) -> NativeTrigger:
        return native_trigger(spec)

    def deployed_trigger(self, spec: FunctionSpec, deployment: Any) -> NativeTrigger | None:
        """A queue function's native trigger when its queue already exists (None: :meth:`native_trigger`'s)."""
        from .deploy.sam import existing_queue_trigger

        return existing_queue_trigger(spec, deployment)

    def invoke(self, app: App, function: str, native: Any) -> Any:
        """The Lambda answer; a failed async invocation is shown as Lambda shows it (errorType/errorMessage)."""
        try:
            return bind(app, function)(native, LambdaContext(function_name=f"{app.name}-{function}"))
        except RetryRequested as exc:
            return {"errorType": "RetryRequested", "errorMessage": str(exc)}

    def driver(self) -> AwsDriver:
        return AwsDriver()

    def package(self, request: PackageRequest) -> PackageResult:
        from .package import package

        return package(request)

    def name_rules(self) -> dict[str, Any]:
        """CloudFormation logical ids of functions and resources (``portafunc inspect`` checks collisions)."""
        from .deploy.sam import name_rules

        return name_rules()

    def native_permissions(self, app: App, deployment: Any) -> dict[str, list[str]]:
        """Each function's IAM permissions in the SAM template (``portafunc inspect`` shows them)."""
        from .deploy.sam import native_permissions

        return native_permissions(app, deployment)

    def deployment_warnings(self, app: App, deployment: Any) -> list[str]:
        """Where AWS does not do what the app declares (``portafunc inspect`` and ``package`` show them): a consumer of
        an existing queue, whose redrive policy the template cannot set."""
        from .deploy.sam import deployment_warnings

        return deployment_warnings(app, deployment)

    def check_deployment(self, deployment: Any) -> list[str]:
        """What CloudFormation or Lambda would refuse: limits, secret references, logical-id collisions."""
        from .deploy.sam import check_deployment

        return check_deployment(deployment)

    def check_app(self, app: App, deployment: Any) -> list[str]:
        """What API Gateway would refuse in the app itself: a ``JwtAuth`` issuer its JWT authorizer cannot use."""
        from .deploy.http_api import jwt_problems

        return jwt_problems(app)


__all__ = ["AwsDriver", "Target", "event_from_dict"]
