"""Contract-test driver (``Target.driver()``): drives the generated main.py through functions-framework's real Flask
app (its WSGI test client), one request per message as Pub/Sub pushes them. The invoke harness is :mod:`.harness`."""

from __future__ import annotations

from typing import Any

from portafunc.app import App, QueueTrigger
from portafunc.events import HttpRequest, Message, ScheduleEvent, StorageEvent
from portafunc.targets import Driver, Exchange

from . import codecs


class GcpDriver(Driver):
    """Drives the generated main.py through functions-framework's real Flask app (its WSGI test client)."""

    target = "gcp"

    def http(self, app: App, request: HttpRequest) -> Exchange:
        from .codecs.http import decode_response
        from .harness import harness_for

        from .deploy.main_py import HTTP_SERVICE

        native = codecs.encode(request)
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
            native = harness.binary_cloudevent(codecs.encode(msg, "cloudevent"))
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
        native: Any = codecs.encode(event)
        if isinstance(event, StorageEvent):
            event_id = event.id or native["id"]
            native = harness.binary_cloudevent(native)
        else:
            event_id = event.id or dict(native["headers"])["X-CloudScheduler-ScheduleTime"]
        answer = harness.send(function, native)
        failed = [] if 200 <= answer["statusCode"] < 300 else [event_id]
        return Exchange("gcp", native, answer, ids=[event_id], failed_ids=failed)
