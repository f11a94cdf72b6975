"""The ``gcp`` target: codecs, trigger table, invoke through functions-framework, contract-test driver, packager."""

from __future__ import annotations

from typing import Any

from portafunc.app import App, FunctionSpec, HttpTrigger, QueueTrigger, ScheduleTrigger, StorageTrigger, \
    TopicTrigger
from portafunc.errors import UnsupportedTrigger
from portafunc.events import Event, HttpRequest, Message, ScheduleEvent, StorageEvent
from portafunc.targets import Driver, Exchange, NativeTrigger, PackageRequest, PackageResult, Target as _Target

from . import codec
from .codec_storage import KIND_TO_CE
from .entry import check_name

MIN_ATTEMPTS, MAX_ATTEMPTS = 5, 100  # the range a Pub/Sub dead-letter policy accepts


class Target(_Target):
    name = "gcp"
    distribution = "portafunc-gcp"

    def decode(self, native: Any) -> list[Event]:
        return codec.decode(native)

    def encode(self, event: Event, variant: str | None = None) -> Any:
        return codec.encode(event, variant)

    def variants(self, kind: str) -> list[str]:
        return list(codec.VARIANTS.get(kind, [""]))

    def native_trigger(self, spec: FunctionSpec) -> NativeTrigger:
        check_name(spec)
        trig = spec.trigger
        if isinstance(trig, HttpTrigger):
            methods = list(trig.methods) + (["HEAD"] if "GET" in trig.methods and "HEAD" not in trig.methods else [])
            access = "IAM-authenticated" if trig.auth == "function" else "public"
            if trig.auth not in ("anonymous", "function"):
                access = "public to IAM, bearer JWT verified by the function"
            return NativeTrigger("HTTP route of the app's one HTTP service",
                                 f"{','.join(methods)} {trig.route.template}, {access}")
        if isinstance(trig, (TopicTrigger, QueueTrigger)):
            if not MIN_ATTEMPTS <= trig.max_attempts <= MAX_ATTEMPTS:
                raise UnsupportedTrigger(spec.name, trig.describe(), "gcp",
                                         f"max_attempts={trig.max_attempts}: Pub/Sub moves a message to its "
                                         f"dead-letter topic after {MIN_ATTEMPTS} to {MAX_ATTEMPTS} delivery "
                                         "attempts, never fewer or more, and portafunc cannot count attempts "
                                         "itself on Eventarc deliveries",
                                         f"max_attempts={MIN_ATTEMPTS if trig.max_attempts < MIN_ATTEMPTS else MAX_ATTEMPTS}"
                                         " (a failure that retrying cannot fix raises NonRetryableError: the "
                                         "deployment sets the function's dead-letter topic, so it is moved there "
                                         "at once, without retries)")
            if isinstance(trig, TopicTrigger):
                return NativeTrigger("Pub/Sub topic trigger (Eventarc messagePublished CloudEvent)",
                                     f"--trigger-topic={trig.topic} --retry, dead-letter after "
                                     f"{trig.max_attempts} attempts")
            return NativeTrigger("Pub/Sub push subscription",
                                 f"topic {trig.queue}, ack deadline {min(600, max(10, trig.visibility_timeout))}s, "
                                 f"dead-letter after {trig.max_attempts} attempts"
                                 + (", message ordering" if trig.ordered else "") + ", one message per request")
        if isinstance(trig, ScheduleTrigger):
            return NativeTrigger("Cloud Scheduler HTTP job", f"'{trig.schedule.gcp}' UTC, POST with OIDC token")
        if isinstance(trig, StorageTrigger):
            types = ", ".join(KIND_TO_CE[e].rsplit(".", 1)[1] for e in trig.events)
            filt = f"; prefix {trig.prefix!r} / suffix {trig.suffix!r} filtered in the function" \
                if trig.prefix or trig.suffix else ""
            return NativeTrigger("Cloud Storage trigger (Eventarc)", f"bucket {trig.bucket}: {types}{filt}")
        raise UnsupportedTrigger(spec.name, trig.describe(), "gcp", "unknown trigger", "http, topic, queue, "
                                                                                       "schedule or storage")

    def invoke(self, app: App, function: str, native: Any) -> Any:
        from .harness import harness_for

        return harness_for(app).send(function, native)

    def driver(self) -> Driver:
        return GcpDriver()

    def package(self, request: PackageRequest) -> PackageResult:
        from .packaging import package

        return package(self, request)

    def name_rules(self) -> dict[str, Any]:
        """Cloud Run service names of functions (``portafunc inspect`` and the frame check collisions)."""
        from .deploy_script import _service_name

        return {"function": lambda name: _service_name(f"app-{name}")}

    def check_deployment(self, deployment: Any) -> list[str]:
        """What this target refuses in the configuration: unknown or bad ``[targets.gcp]`` options."""
        from portafunc.packaging.build import PackagingError

        from .deploy_script import options

        try:
            options(deployment)
        except PackagingError as exc:
            return [str(exc)]
        return []


class GcpDriver(Driver):
    """Drives the generated main.py through functions-framework's real Flask app (its WSGI test client)."""

    target = "gcp"

    def http(self, app: App, request: HttpRequest) -> Exchange:
        from .codec_http import decode_response
        from .harness import harness_for

        from .entry import HTTP_SERVICE

        native = codec.encode(request)
        answer = harness_for(app).send(HTTP_SERVICE, native)  # the app's one HTTP service, as deployed
        return Exchange("gcp", native, answer, response=decode_response(answer))

    def messages(self, app: App, function: str, messages: list[Message[Any]]) -> Exchange:
        """Pub/Sub pushes one message per request; an ordered queue stops at the first failure (the rest of that
        ordering key is redelivered by Pub/Sub after the failed one)."""
        from .harness import harness_for

        spec = app.function(function)
        ordered = isinstance(spec.trigger, QueueTrigger) and spec.trigger.ordered
        harness = harness_for(app)
        natives, answers, failed = [], [], []
        stopped = False
        for msg in messages:
            if stopped:
                failed.append(msg.id)
                continue
            native = harness.binary_cloudevent(codec.encode(msg, "cloudevent"))
            answer = harness.send(function, native)
            natives.append(native)
            answers.append(answer)
            if not 200 <= answer["statusCode"] < 300:
                failed.append(msg.id)
                stopped = ordered
        return Exchange("gcp", natives, answers, ids=[m.id for m in messages], failed_ids=failed)

    def event(self, app: App, function: str, event: StorageEvent | ScheduleEvent) -> Exchange:
        from .harness import harness_for

        harness = harness_for(app)
        native: Any = codec.encode(event)
        if isinstance(event, StorageEvent):
            event_id = event.id or native["id"]
            native = harness.binary_cloudevent(native)
        else:
            event_id = event.id or dict(native["headers"])["X-CloudScheduler-ScheduleTime"]
        answer = harness.send(function, native)
        failed = [] if 200 <= answer["statusCode"] < 300 else [event_id]
        return Exchange("gcp", native, answer, ids=[event_id], failed_ids=failed)
